"""The units module: parsing, conversion and the unit names of NGFF, TIFF and NIfTI."""

from __future__ import annotations

import pint
import pytest

from xiso import units
from xiso.errors import OmeZarrError, UnitError
from xiso.io import ngff


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("um", "micrometer"),
        ("µm", "micrometer"),
        ("μm", "micrometer"),
        ("micron", "micrometer"),
        ("nm", "nanometer"),
        ("mm", "millimeter"),
        ("m", "meter"),
        ("Å", "angstrom"),
        ("cm", "centimeter"),
        ("inch", "inch"),
        ("s", "second"),
        ("sec", "second"),
        ("ms", "millisecond"),
        ("min", "minute"),
        ("h", "hour"),
        ("pixel", None),
        ("kelvin", None),
        ("not a unit", None),
    ],
)
def test_ngff_name(text, name):
    assert units.ngff_name(text) == name
    if name is not None:  # the name is one NGFF lists, and pint agrees it is the same unit
        assert name in ngff.NGFF_UNITS
        ureg = pint.get_application_registry()
        assert ureg.Quantity(1, text).to(name).magnitude == pytest.approx(1, rel=1e-12)


def test_ngff_unit_error_names_the_dim():
    assert ngff.ngff_unit("z", "um") == "micrometer"
    with pytest.raises(OmeZarrError, match="unit 'pixel' of dimension 'z' is not one NGFF"):
        ngff.ngff_unit("z", "pixel")


def test_parse_returns_none_instead_of_pints_errors():
    assert units.parse_unit("um") == pint.get_application_registry().micrometer
    for bad in ("2 parsnips", "m/", "(("):
        assert units.parse_quantity(bad) is None
        assert units.parse_unit(bad) is None
    assert units.parse_quantity("250 nm").to("um").magnitude == pytest.approx(0.25)
    with pytest.raises(UnitError, match="unit '2 parsnips' of dimension 'z' cannot be parsed"):
        units.length_unit("z", "2 parsnips")
    with pytest.raises(UnitError, match="dimension 'z' is not a length"):
        units.length_unit("z", "second")


def test_convert_and_symbol():
    assert units.convert(1500.0, "nm", "micrometer") == pytest.approx(1.5)
    assert units.convert(2.0, "um", "um") == 2.0
    assert units.symbol("micrometer") == "µm"
    assert units.symbol("micron") == "µm"
    assert units.symbol("nanometer") == "nm"
    assert units.symbol("no such unit") == "no such unit"


def test_nifti_and_tiff_names():
    # nibabel's names of NIfTI's xyzt_units codes
    assert units.NIFTI_UNITS == {
        "meter": "meter",
        "mm": "millimeter",
        "micron": "micrometer",
        "sec": "second",
        "msec": "millisecond",
        "usec": "microsecond",
    }
    assert units.nifti_name("um") == "micron"
    assert units.nifti_name("millimeter") == "mm"
    assert units.nifti_name("ms") == "msec"
    assert units.nifti_name("nm") is None
    assert units.nifti_name(None) is None
    assert units.TIFF_RESOLUTION_UNITS == {1: None, 2: "inch", 3: "centimeter"}
