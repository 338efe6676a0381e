"""Units: parsing, checking, converting and naming, in one place.

pint parses units, but building its registry costs about a second, and
``import pint`` alone more than 0.1 s (it imports dask). Most coordinates carry
one of a few spellings of m, mm, µm or nm, so those are converted from a table
of pint's own conversion factors (the same floats, hence the same results as
pint, bit for bit; tests/test_spacing.py checks each entry against pint). Any
other unit string, and every string or quantity a user passes as a spacing or
target, goes to pint, imported on first use.

Every unit string xiso meets goes through here: coordinate attrs
(:func:`check_length`, :func:`to_metres`), user quantities
(:func:`parse_quantity`), the unit names NGFF allows (:func:`ngff_name`), the
unit names of TIFF (:data:`TIFF_RESOLUTION_UNITS`, ImageJ's ``unit``) and of
NIfTI (:data:`NIFTI_UNITS`), and the short symbols of plot labels
(:func:`symbol`). This is the only place that catches pint's parse errors.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from .errors import UnitError

if TYPE_CHECKING:
    import pint

__all__ = [
    "FAST_UNITS",
    "NGFF_UNITS",
    "NIFTI_UNITS",
    "TIFF_RESOLUTION_UNITS",
    "check_length",
    "convert",
    "from_metres",
    "is_quantity",
    "length_unit",
    "ngff_name",
    "nifti_name",
    "parse_quantity",
    "parse_unit",
    "symbol",
    "to_metres",
    "unit_registry",
]

_METRE = ("m", "meter", "metre", "meters", "metres")
_MILLIMETRE = ("mm", "millimeter", "millimetre", "millimeters", "millimetres")
_MICROMETRE = (
    "um",
    "µm",  # micro sign U+00B5
    "μm",  # Greek small letter mu U+03BC
    "micrometer",
    "micrometre",
    "micrometers",
    "micrometres",
    "micron",
    "microns",
)
_NANOMETRE = ("nm", "nanometer", "nanometre", "nanometers", "nanometres")

# unit string -> (factor to metres, factor from metres), as pint computes them
# (``ureg._get_conversion_factor``): note 1 m is 999999999.9999999 nm to pint.
FAST_UNITS: dict[str, tuple[float, float]] = {
    **dict.fromkeys(_METRE, (1, 1)),
    **dict.fromkeys(_MILLIMETRE, (0.001, 1000.0)),
    **dict.fromkeys(_MICROMETRE, (1e-06, 1000000.0)),
    **dict.fromkeys(_NANOMETRE, (1e-09, 999999999.9999999)),
}
"""The unit strings converted without pint, with their factors to and from metres."""


def unit_registry() -> pint.UnitRegistry:
    """The pint registry xiso parses units with (pint's application registry,
    so quantities interoperate with pint-xarray). Imports pint."""
    import pint

    return pint.get_application_registry()


def is_quantity(value: Any) -> bool:
    """Whether ``value`` is a pint quantity (without importing pint: if pint
    was never imported, nothing can be one)."""
    pint = sys.modules.get("pint")
    return pint is not None and isinstance(value, pint.Quantity)


def _parse(text: Any, make: str) -> Any:
    """pint's ``Unit`` or ``Quantity`` of ``text``, or None when pint cannot parse it."""
    ureg = unit_registry()
    try:
        return getattr(ureg, make)(text.strip() if isinstance(text, str) else text)
    except Exception:  # pint raises several unrelated types on bad strings
        return None


def parse_unit(text: Any) -> pint.Unit | None:
    """``text`` parsed by pint as a unit, or None when it cannot be parsed
    (imports pint).

    Examples
    --------
    >>> from xiso.units import parse_unit
    >>> str(parse_unit("um")), parse_unit("no such unit")
    ('micrometer', None)
    """
    return _parse(str(text), "Unit")


def parse_quantity(text: Any) -> pint.Quantity | None:
    """``text`` (such as ``"250 nm"``) parsed by pint as a quantity, or None
    when it cannot be parsed (imports pint).

    Examples
    --------
    >>> from xiso.units import parse_quantity
    >>> parse_quantity("250 nm").to("um").magnitude, parse_quantity("2 parsnips")
    (0.25, None)
    """
    return _parse(text, "Quantity")


def length_unit(dim: Hashable, text: Any) -> pint.Unit:
    """``text`` parsed by pint as a length unit (imports pint).

    Raises
    ------
    UnitError
        ``text`` cannot be parsed or is not a length.
    """
    ureg = unit_registry()
    unit = parse_unit(text)
    if unit is None:
        raise UnitError(
            f"the unit {text!r} of dimension {dim!r} cannot be parsed; use a length "
            "unit such as 'micrometer', 'um', 'nm' or 'mm'"
        ) from None
    if not unit.is_compatible_with(ureg.meter):
        raise UnitError(
            f"the unit {text!r} of dimension {dim!r} is not a length; spatial "
            "coordinates need a length unit such as 'micrometer' or 'nm'"
        )
    return unit


def check_length(dim: Hashable, text: Any) -> None:
    """Raise :class:`UnitError` unless ``text`` is a length unit; pint is
    imported only for strings outside :data:`FAST_UNITS`."""
    if str(text).strip() not in FAST_UNITS:
        length_unit(dim, text)


def to_metres(dim: Hashable, value: float, unit: str) -> float:
    """``value`` in ``unit`` (a length unit string) expressed in metres."""
    factors = FAST_UNITS.get(str(unit).strip())
    if factors is not None:
        return float(value * factors[0])
    return float(unit_registry().Quantity(value, length_unit(dim, unit)).to("m").magnitude)


def from_metres(dim: Hashable, value: float, unit: str) -> float:
    """``value`` in metres expressed in ``unit`` (a length unit string)."""
    factors = FAST_UNITS.get(str(unit).strip())
    if factors is not None:
        return float(value * factors[1])
    return float(unit_registry().Quantity(value, "m").to(length_unit(dim, unit)).magnitude)


def convert(value: float, unit: str, to: str) -> float:
    """``value`` in ``unit`` expressed in ``to`` (any two compatible unit strings).

    Examples
    --------
    >>> from xiso.units import convert
    >>> convert(1500.0, "nm", "micrometer")
    1.5
    """
    if unit == to:
        return float(value)
    ureg = unit_registry()
    return float(ureg.Quantity(value, unit).to(to).magnitude)


def symbol(text: str) -> str:
    """The short symbol of a unit for labels ("micrometer" -> "µm"); ``text``
    itself when pint cannot parse it (a label never fails).

    Examples
    --------
    >>> from xiso.units import symbol
    >>> symbol("micrometer"), symbol("micron"), symbol("no such unit")
    ('µm', 'µm', 'no such unit')
    """
    unit = parse_unit(text)
    if unit is None:
        return text
    short = f"{unit:~P}"
    return "µm" if short == "µ" else short  # pint's symbol of "micron"


# the unit names the NGFF specification lists for space and time axes
NGFF_UNITS = (
    "angstrom attometer centimeter decimeter exameter femtometer foot gigameter hectometer "
    "inch kilometer megameter meter micrometer mile millimeter nanometer parsec petameter "
    "picometer terameter yard yoctometer yottameter zeptometer zettameter "
    "attosecond centisecond day decisecond exasecond femtosecond gigasecond hectosecond hour "
    "kilosecond megasecond microsecond millisecond minute nanosecond petasecond picosecond "
    "second terasecond yoctosecond yottasecond zeptosecond zettasecond"
).split()
"""The unit names NGFF allows for space and time axes."""

_NGFF_FAST = {
    **dict.fromkeys(_METRE, "meter"),
    **dict.fromkeys(_MILLIMETRE, "millimeter"),
    **dict.fromkeys(_MICROMETRE, "micrometer"),
    **dict.fromkeys(_NANOMETRE, "nanometer"),
}


def ngff_name(text: Any) -> str | None:
    """The NGFF name of a unit ('um', 'µm' and 'micron' -> 'micrometer'), or
    None when NGFF has no name for it (or pint cannot parse it).

    Examples
    --------
    >>> from xiso.units import ngff_name
    >>> ngff_name("µm"), ngff_name("ms"), ngff_name("Å"), ngff_name("pixel")
    ('micrometer', 'millisecond', 'angstrom', None)
    """
    text = str(text).strip()
    if text in _NGFF_FAST:
        return _NGFF_FAST[text]
    unit = parse_unit(text)
    if unit is None:
        return None
    if f"{unit}" in NGFF_UNITS:
        return f"{unit}"
    ureg = unit_registry()
    for name in NGFF_UNITS:
        candidate = ureg.Unit(name)
        if candidate.dimensionality == unit.dimensionality and math.isclose(
            ureg.Quantity(1, unit).to(candidate).magnitude, 1.0, rel_tol=1e-12
        ):
            return name
    return None


TIFF_RESOLUTION_UNITS: dict[int, str | None] = {1: None, 2: "inch", 3: "centimeter"}
"""TIFF's ResolutionUnit tag (NONE, INCH, CENTIMETER) as NGFF unit names."""

NIFTI_UNITS: dict[str, str] = {
    "meter": "meter",
    "mm": "millimeter",
    "micron": "micrometer",
    "sec": "second",
    "msec": "millisecond",
    "usec": "microsecond",
}
"""NIfTI's ``xyzt_units`` (as nibabel names them) as NGFF unit names; NIfTI's
other codes ('unknown', 'hz', 'ppm', 'rads') have no unit name here."""


def nifti_name(text: Any) -> str | None:
    """The NIfTI (nibabel) name of a unit, or None when NIfTI cannot say it.

    Examples
    --------
    >>> from xiso.units import nifti_name
    >>> nifti_name("micrometer"), nifti_name("um"), nifti_name("s"), nifti_name("nm")
    ('micron', 'micron', 'sec', None)
    """
    name = ngff_name(text) if text is not None else None
    return {v: k for k, v in NIFTI_UNITS.items()}.get(name) if name is not None else None
