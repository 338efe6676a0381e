"""Length units: parsing, checking and converting, in one place.

pint parses units, but building its registry costs about a second, and
``import pint`` alone more than 0.1 s (it imports dask). Most coordinates carry
one of a few spellings of m, mm, µm or nm, so those are converted from a table
of pint's own conversion factors (the same floats, hence the same results as
pint, bit for bit; tests/test_spacing.py checks each entry against pint). Any
other unit string, and every string or quantity a user passes as a spacing or
target, goes to pint, imported on first use.
"""

from __future__ import annotations

import sys
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

from .errors import UnitError

if TYPE_CHECKING:
    import pint

__all__ = [
    "FAST_UNITS",
    "check_length",
    "from_metres",
    "is_quantity",
    "length_unit",
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


def length_unit(dim: Hashable, text: Any) -> pint.Unit:
    """``text`` parsed by pint as a length unit (imports pint).

    Raises
    ------
    UnitError
        ``text`` cannot be parsed or is not a length.
    """
    ureg = unit_registry()
    try:
        unit = ureg.Unit(str(text).strip())
    except Exception:  # pint raises several unrelated types on bad strings
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
