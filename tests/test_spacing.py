import re

import numpy as np
import pint
import pytest
import xarray as xr
from helpers import make_volume

import xiso
from xiso.encodings import set_spacing


def test_spatial_dims_by_name_any_case():
    da = xr.DataArray(np.zeros((2, 3, 4, 5)), dims=("c", "Z", "y", "X"))
    assert da.iso.spatial_dims == ("Z", "y", "X")


def test_spatial_dims_by_attrs():
    da = xr.DataArray(
        np.zeros((2, 3, 4)),
        dims=("t", "row", "col"),
        coords={
            "row": ("row", np.arange(3.0), {"axis": "Y"}),
            "col": ("col", np.arange(4.0), {"type": "space"}),
            "t": ("t", [0, 1], {"type": "time"}),
        },
    )
    assert da.iso.spatial_dims == ("row", "col")


def test_spatial_dims_override_and_errors():
    da = xr.DataArray(np.zeros((2, 3)), dims=("a", "b"))
    with pytest.raises(xiso.SpatialDimError, match=r"no spatial dimension among \('a', 'b'\)"):
        _ = da.iso.spatial_dims
    assert xiso.spatial_dims(da, dims=["b"]) == ("b",)
    assert xiso.spatial_dims(da, dims="a") == ("a",)
    with pytest.raises(xiso.SpatialDimError, match="'q'"):
        xiso.spatial_dims(da, dims=["q"])


def test_hashable_dim_names():
    # xarray cannot index non-string dim names, so give spacing explicitly
    da = xr.DataArray(np.zeros((8, 2)), dims=(1, "x"))
    spacing = {1: 0.5, "x": 2.0}
    assert da.iso.factors(dims=[1, "x"], spacing=spacing) == {1: 4, "x": 1}
    out = xiso.near_isotropic(da, dims=[1, "x"], spacing=spacing)
    assert out.sizes[1] == 2


def test_spacing_from_coords(volume):
    assert volume.iso.spacing == {"z": 0.25, "y": 1.0, "x": 1.0}


def test_descending_coordinate_keeps_order():
    da = make_volume(nz=8)
    da = da.assign_coords(z=da.z.values[::-1])
    assert da.iso.spacing["z"] == 0.25
    out = da.iso.near_isotropic()
    np.testing.assert_allclose(out.z.values, [1.375, 0.375])


def test_float_noise_is_accepted():
    da = make_volume(nz=8)
    noisy = np.arange(8) * 0.25 + np.random.default_rng(0).normal(0, 1e-6, 8)
    da = da.assign_coords(z=noisy)
    assert da.iso.factors() == {"z": 4, "y": 1, "x": 1}


def test_non_uniform():
    da = make_volume(nz=4).assign_coords(z=[0.0, 0.5, 0.75, 1.0])
    with pytest.raises(xiso.NonUniformSpacingError, match="dimension 'z' is not evenly spaced"):
        da.iso.near_isotropic()


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([0.0, 0.0, 0.0, 0.0], "step of 0.0"),
        ([0.0, np.nan, 1.0, np.nan], r"holds nan at position 1 \(2 of its 4 values"),
        ([0.0, 0.25, np.nan, 0.75], r"'z' holds nan at position 2 \(1 of its 4 values"),
        ([np.nan, 0.25, 0.5, 0.75], "holds nan at position 0"),
        ([0.0, 1.0, 2.0, np.inf], "holds inf at position 3"),
        ([0.0, -np.inf, 2.0, 3.0], r"holds -inf at position 1.*pass spacing=\{'z': step\}"),
    ],
)
def test_bad_steps(values, match):
    da = make_volume(nz=4).assign_coords(z=values)
    with pytest.raises(xiso.SpacingError, match=match):
        da.iso.factors()


def test_missing_coordinate_and_override():
    da = make_volume(nz=8).drop_vars("z")
    with pytest.raises(xiso.MissingCoordinateError, match="dimension 'z' has no coordinate"):
        da.iso.factors()
    assert da.iso.factors(spacing={"z": 0.25}) == {"z": 4, "y": 1, "x": 1}
    out = da.iso.near_isotropic(spacing={"z": 0.25})
    assert out.sizes["z"] == 2 and "z" not in out.coords


def test_single_nan_sample_is_reported():
    da = make_volume(nz=1).assign_coords(z=[np.nan])
    set_spacing(da.z, 0.25)  # even a recorded spacing does not place it
    with pytest.raises(xiso.SpacingError, match="'z' holds nan at position 0"):
        da.iso.factors()
    assert da.iso.factors(spacing={"z": 1.0}) == {"z": 1, "y": 1, "x": 1}


def test_single_sample_needs_spacing():
    da = make_volume(nz=1)
    with pytest.raises(xiso.SpacingError, match="'z' has 1 sample"):
        da.iso.factors()
    assert da.iso.factors(spacing={"z": 1.0}) == {"z": 1, "y": 1, "x": 1}


def test_non_numeric_coordinate():
    da = make_volume(nz=2).assign_coords(z=["a", "b"])
    with pytest.raises(xiso.SpacingError, match="'z' has dtype"):
        da.iso.factors()


def test_spacing_override_unknown_dim(volume):
    with pytest.raises(xiso.SpatialDimError, match="'t'"):
        volume.iso.factors(spacing={"t": 1.0})


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), "abc def", object()])
def test_spacing_override_bad(volume, bad):
    with pytest.raises(xiso.XisoError, match="'z'"):
        volume.iso.factors(spacing={"z": bad})


@pytest.mark.parametrize("um", ["micrometer", "µm", "μm", "um", "micron"])
def test_units_mixed_nm_um(um):
    da = make_volume(nz=8, dz=250.0, units=("nm", um, um))
    assert da.iso.spacing == {"z": 250.0, "y": 1.0, "x": 1.0}
    assert da.iso.factors() == {"z": 4, "y": 1, "x": 1}
    out = da.iso.near_isotropic()
    assert out.sizes["z"] == 2
    assert out.z.attrs["units"] == "nm"
    assert out.iso.spacing == {"z": 1000.0, "y": 1.0, "x": 1.0}


def test_unit_key_alias_and_millimetre():
    da = make_volume(nz=8, dz=0.00025, units=(None, None, None))
    da.z.attrs["unit"] = "millimeter"
    da.y.attrs["unit"] = "micrometer"
    da.x.attrs["unit"] = "micrometer"
    assert da.iso.factors() == {"z": 4, "y": 1, "x": 1}
    assert da.iso.units == {"z": "millimeter", "y": "micrometer", "x": "micrometer"}


def test_unparseable_unit():
    da = make_volume(units=("furlongs-ish", "um", "um"))
    with pytest.raises(xiso.UnitError, match="'furlongs-ish' of dimension 'z' cannot be parsed"):
        da.iso.factors()


def test_non_length_unit():
    da = make_volume(units=("s", "um", "um"))
    with pytest.raises(xiso.UnitError, match="'s' of dimension 'z' is not a length"):
        da.iso.factors()


def test_units_on_some_dims_only():
    da = make_volume(units=("um", None, "um"))
    with pytest.raises(xiso.UnitError, match=r"\['y'\] have none"):
        da.iso.factors()


def test_spacing_override_quantity():
    da = make_volume(nz=8, units=("um", "um", "um")).drop_vars("z")
    assert da.iso.factors(spacing={"z": "250 nm"}) == {"z": 4, "y": 1, "x": 1}
    ureg = pint.get_application_registry()
    assert da.iso.factors(spacing={"z": ureg.Quantity(0.25, "um")}) == {"z": 4, "y": 1, "x": 1}


def test_target_with_units():
    da = make_volume(nz=16, ny=8, nx=8, units=("um", "um", "um"))
    assert da.iso.factors(target="2 um") == {"z": 8, "y": 2, "x": 2}
    assert da.iso.factors(target=2.0) == {"z": 8, "y": 2, "x": 2}
    assert da.iso.factors(target="2000 nm") == {"z": 8, "y": 2, "x": 2}
    with pytest.raises(xiso.UnitError, match="target"):
        make_volume().iso.factors(target="2 um")


@pytest.mark.parametrize("units", [("um", "um", "um"), None])
@pytest.mark.parametrize(
    "target", ["2 s", "3 kg", pint.get_application_registry().Quantity(2, "s")]
)
def test_target_that_is_not_a_length(units, target):
    da = make_volume(nz=16, units=units)
    ureg = pint.get_application_registry()
    dimensionality = str(ureg.Quantity(target).dimensionality)
    fix = "a length such as '2 um', or a plain number in 'um'" if units else "a plain number"
    pattern = f"target {target!r} is a {dimensionality} quantity, not a length; pass {fix}"
    with pytest.raises(xiso.UnitError, match=re.escape(pattern)):
        da.iso.near_isotropic(target=target)
    with pytest.raises(xiso.UnitError, match=re.escape(pattern)):
        da.iso.factors(target=target)


# --- units: the table of common unit strings against pint ---------------------
from xiso import units as xunits  # noqa: E402

ALL_LENGTHS = [*xunits.FAST_UNITS, "km", "pm", "angstrom", "inch", " um ", "micrometer ** 1"]


@pytest.mark.parametrize("text", sorted(xunits.FAST_UNITS))
def test_fast_unit_factors_are_pints(text):
    """Each table entry is a length whose factors to and from metres are the
    floats pint itself multiplies by."""
    ureg = pint.get_application_registry()
    unit = ureg.Unit(text)
    assert unit.is_compatible_with(ureg.meter)
    metre = ureg.Unit("m")._units
    to_m, from_m = xunits.FAST_UNITS[text]
    assert ureg._get_conversion_factor(unit._units, metre) == to_m
    assert ureg._get_conversion_factor(metre, unit._units) == from_m


@pytest.mark.parametrize("text", ALL_LENGTHS)
def test_conversions_equal_pint_bit_for_bit(text):
    """Table (fast) and pint (fallback) paths give exactly pint's numbers."""
    ureg = pint.get_application_registry()
    values = np.random.default_rng(0).lognormal(0, 3, 200)
    for v in [*values, 0.25, 1.0, 0.1, 3e-3, 7.0]:
        v = float(v)
        want_m = ureg.Quantity(v, text.strip()).to("m").magnitude
        assert xunits.to_metres("z", v, text) == want_m
        want_back = ureg.Quantity(v, "m").to(text.strip()).magnitude
        assert xunits.from_metres("z", v, text) == want_back


def _pint_reference(native, units):
    """read_spacing's common spacings as computed with pint alone (the old code)."""
    ureg = pint.get_application_registry()
    metres = {d: ureg.Quantity(native[d], units[d]).to("m").magnitude for d in native}
    coarsest = max(native, key=lambda d: metres[d])
    ref = ureg.Unit(units[coarsest])
    common = {d: float(ureg.Quantity(metres[d], "m").to(ref).magnitude) for d in native}
    return common, units[coarsest]


@pytest.mark.parametrize(
    "units",
    [
        ("um", "um", "um"),
        ("nm", "micrometer", "µm"),
        ("mm", "nm", "micron"),
        ("km", "um", "nm"),  # km goes through pint
        ("angstrom", "pm", "nm"),
        ("metre", "millimeters", "μm"),
    ],
)
def test_read_spacing_equals_pint(units):
    rng = np.random.default_rng(1)
    for _ in range(20):
        steps = rng.lognormal(0, 2, 3)
        da = xr.DataArray(
            np.zeros((2, 2, 2)),
            dims=("z", "y", "x"),
            coords={
                d: (d, [0.0, s], {"units": u}) for d, s, u in zip(("z", "y", "x"), steps, units)
            },
        )
        info = xiso.spacing_info(da)
        common, unit = _pint_reference(info.native, dict(zip(("z", "y", "x"), units)))
        assert info.common == common and info.unit == unit


def test_common_units_do_not_use_pint(monkeypatch):
    """Spacing with the usual unit strings, and a numeric target, never touch
    pint's registry (building it costs about a second); other units do."""

    def no_pint():
        raise AssertionError("pint's registry was used")

    monkeypatch.setattr(xunits, "unit_registry", no_pint)
    monkeypatch.setattr(xiso.spacing, "unit_registry", no_pint)

    def coord(d, step, unit):
        return (d, np.arange(4) * step, {"units": unit})

    da = xr.DataArray(
        np.zeros((4, 4, 4)),
        dims=("z", "y", "x"),
        coords={"z": coord("z", 250.0, "nm"), "y": coord("y", 1.0, "µm"), "x": coord("x", 1, "um")},
    )
    assert da.iso.spacing == {"z": 250.0, "y": 1.0, "x": 1.0}
    assert xiso.spacing_info(da).unit == "µm"
    assert da.iso.factors() == {"z": 4, "y": 1, "x": 1}
    assert da.iso.near_isotropic(target=1.0).sizes == {"z": 1, "y": 4, "x": 4}
    with pytest.raises(AssertionError, match="registry was used"):
        xiso.spacing_info(da.assign_coords(x=coord("x", 1e-6, "km")))
