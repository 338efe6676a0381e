"""Tests of xiso.explain: the report of why each near_isotropic factor was chosen."""

import dataclasses
import itertools
import warnings

import numpy as np
import pytest
import xarray as xr
from helpers import make_volume

import xiso
from xiso.explain import Explanation, explain
from xiso.factors import near_isotropic_factors

UM = ("um", "um", "um")


def test_dict_for_z_quarter_micron():
    e = make_volume(units=UM).iso.explain()  # 16 x 6 x 5, z 0.25 um, y x 1 um
    assert e.to_dict() == {
        "unit": "um",
        "rounding": "pow2",
        "reference": 1.0,
        "coarsest_dim": "y",
        "coarsest": 1.0,
        "target": None,
        "target_status": "none",
        "anisotropy": 4.0,
        "residual_anisotropy": 1.0,
        "dims": {
            "z": {
                "size": 16,
                "spacing": 0.25,
                "unit": "um",
                "common_spacing": 0.25,
                "ratio": 4.0,
                "tie": False,
                "factor": 4,
                "new_spacing": 1.0,
                "new_size": 4,
                "dropped": 0,
            },
            "y": {
                "size": 6,
                "spacing": 1.0,
                "unit": "um",
                "common_spacing": 1.0,
                "ratio": 1.0,
                "tie": False,
                "factor": 1,
                "new_spacing": 1.0,
                "new_size": 6,
                "dropped": 0,
            },
            "x": {
                "size": 5,
                "spacing": 1.0,
                "unit": "um",
                "common_spacing": 1.0,
                "ratio": 1.0,
                "tie": False,
                "factor": 1,
                "new_spacing": 1.0,
                "new_size": 5,
                "dropped": 0,
            },
        },
    }


def test_text_for_z_quarter_micron():
    e = make_volume(units=UM).iso.explain()
    assert str(e) == repr(e)
    assert str(e) == (
        "near_isotropic factors, rounding='pow2' "
        "(nearest power of 2 in log2; ties to the smaller)\n"
        "reference: the coarsest spacing 1 um (of 'y')\n"
        "dim  size  spacing  ratio  rounding  factor  new spacing  new size  trim drops\n"
        "z      16  0.25 um      4  pow2           4  1 um                4           0\n"
        "y       6  1 um         1  pow2           1  1 um                6           0\n"
        "x       5  1 um         1  pow2           1  1 um                5           0\n"
        "anisotropy: 4 -> 1 (coarsest / finest spacing)"
    )


def test_target_rounded_with_trim_drops():
    # z 0.25, y x 1 um; target 3 um: ratios 12, 3, 3 -> pow2 16, 4, 4 (4 um, not 3)
    da = make_volume(nz=40, ny=10, nx=9, units=UM)
    e = da.iso.explain(target="3 um")
    assert e.target == 3.0 and e.reference == 3.0
    assert e.target_status == "rounded"
    with warnings.catch_warnings():  # factors() may warn that 3 um is missed; explain() says so
        warnings.simplefilter("ignore", xiso.XisoWarning)
        assert e.factors == da.iso.factors(target="3 um") == {"z": 16, "y": 4, "x": 4}
    assert e.dropped == {"z": 8, "y": 2, "x": 1}
    assert str(e) == (
        "near_isotropic factors, rounding='pow2' "
        "(nearest power of 2 in log2; ties to the smaller)\n"
        "reference: the target 3 um (coarser than the coarsest spacing 1 um (of 'y')); "
        "rounded factors give z 4 um, y 4 um, x 4 um instead\n"
        "dim  size  spacing  ratio  rounding  factor  new spacing  new size  trim drops\n"
        "z      40  0.25 um     12  pow2          16  4 um                2           8\n"
        "y      10  1 um         3  pow2           4  4 um                2           2\n"
        "x       9  1 um         3  pow2           4  4 um                2           1\n"
        "anisotropy: 4 -> 1 (coarsest / finest spacing)"
    )
    assert e.to_dict()["dims"]["z"]["dropped"] == 8


def test_target_reached_exactly_and_int_tie():
    e = make_volume(nz=10, dz=0.4).iso.explain(rounding="int", target=2.0)
    assert e.target_status == "used"
    assert e.factors == {"z": 5, "y": 2, "x": 2}
    assert "reference: the target 2 (coarser than the coarsest spacing 1 (of 'y')), reached" in str(
        e
    )
    tie = make_volume(nz=10, dz=0.4).iso.explain(rounding="int")  # 2.5 -> 2, the smaller
    assert tie.dims[0].tie and tie.dims[0].factor == 2
    assert "int, tie" in str(tie)
    assert tie.residual_anisotropy == pytest.approx(1.25)


def test_target_finer_than_coarsest_is_ignored():
    e = make_volume(units=UM).iso.explain(target="500 nm")
    assert e.target == 0.5 and e.target_status == "ignored" and e.reference == 1.0
    assert e.factors == {"z": 4, "y": 1, "x": 1}
    assert "target 0.5 um is not coarser, so it is ignored (raised to the coarsest" in str(e)


def test_mixed_units_are_compared_in_the_coarsest_unit():
    da = make_volume(dz=250.0, units=("nm", "um", "um"))
    e = da.iso.explain()
    z = e.dims[0]
    assert (z.spacing, z.unit, z.factor) == (250.0, "nm", 4)
    assert z.common_spacing == pytest.approx(0.25)
    assert e.unit == "um"
    assert "z      16  250 nm" in str(e)


def test_a_dim_shorter_than_its_factor_is_flagged():
    e = make_volume(nz=3).iso.explain()
    assert "'z' has 3 samples, fewer than its factor 4: near_isotropic() raises" in str(e)
    assert "fewer than its factor 4" in e._repr_html_()


def test_html_table():
    html = make_volume(units=UM).iso.explain()._repr_html_()
    assert html.count("<tr>") == 4 and "<th>trim drops</th>" in html
    assert (
        "<td>0.25 um</td>" in html
        and "reference: the coarsest spacing 1 um (of &#x27;y&#x27;)" in html
    )


def test_frozen_and_options_as_factors():
    da = make_volume()
    e = da.iso.explain(dims=["z", "y"], spacing={"z": 0.5})
    assert isinstance(e, Explanation)
    assert e.factors == da.iso.factors(dims=["z", "y"], spacing={"z": 0.5}) == {"z": 2, "y": 1}
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.rounding = "int"  # type: ignore[misc]
    with pytest.raises(xiso.OptionError, match="rounding='nearest'"):
        da.iso.explain(rounding="nearest")
    with pytest.raises(TypeError, match="unexpected keyword argument 'rounding_'"):
        da.iso.explain(rounding_="int")


def test_dataset_explain():
    ds = make_volume(nz=10).to_dataset()
    assert ds.iso.explain().dropped == {"z": 2, "y": 0, "x": 0}


@pytest.mark.parametrize("rounding", ["pow2", "int"])
def test_factors_always_those_of_near_isotropic_factors(rounding):
    steps = [0.1, 0.25, 0.3, 0.35, 0.4, 1 / 3, 0.5, 0.7, 1.0, 1.2, 2.0, 2 * 2**0.5]
    for z, y in itertools.product(steps, repeat=2):
        for target in (None, 0.2, 1.5, 3.0):
            spacing = {"z": z, "y": y, "x": 1.0}
            e = explain(spacing, {"z": 100, "y": 7, "x": 5}, rounding=rounding, target=target)
            assert e.factors == near_isotropic_factors(spacing, rounding=rounding, target=target)
            assert e.dropped == {d: n % e.factors[d] for d, n in (("z", 100), ("y", 7), ("x", 5))}
            new = [s * e.factors[d] for d, s in spacing.items()]
            assert e.residual_anisotropy == pytest.approx(max(new) / min(new))


def test_pure_explain_needs_no_xarray_objects():
    e = explain({"a": 2.0, "b": 8.0}, {"a": 9, "b": 3})
    assert e.factors == {"a": 4, "b": 1} and e.dropped == {"a": 1, "b": 0}
    assert e.unit is None and "trim drops" in str(e)
    assert not any(isinstance(v, (xr.DataArray, np.ndarray)) for v in e.to_dict().values())


def test_float32_coordinates_reach_the_target_without_a_warning():
    """Float32 steps (0.3 stored as 0.30000001) reach target=0.9 with integer
    factors: no warning, and explain() says 'used', as near_isotropic does."""
    n = 30
    da = xr.DataArray(
        np.zeros((n, n, n), "uint16"),
        dims=("z", "y", "x"),
        coords={
            "z": (np.float32(12.7) + np.arange(n, dtype=np.float32) * np.float32(0.3)),
            "y": (np.float32(3.1) + np.arange(n, dtype=np.float32) * np.float32(0.1)),
            "x": (np.float32(3.1) + np.arange(n, dtype=np.float32) * np.float32(0.1)),
        },
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", xiso.XisoWarning)
        assert da.iso.factors(target=0.9, rounding="int") == {"z": 3, "y": 9, "x": 9}
    assert da.iso.explain(target=0.9, rounding="int").target_status == "used"


def test_explain_refuses_what_factors_refuses():
    da = xiso.data.lightsheet(shape=(16, 16, 16), seed=0)
    for target in (1e7, "10 m"):
        with pytest.raises(xiso.FactorError, match="times the coarsest spacing"):
            da.iso.explain(target=target)


def test_points_to_the_exact_resampler_when_blocks_cannot_reach_isotropy():
    da = xr.DataArray(
        np.zeros((40, 8, 8), "uint16"),
        dims=("z", "y", "x"),
        coords={"z": np.arange(40) * 0.3, "y": np.arange(8.0), "x": np.arange(8.0)},
    )
    text = str(da.iso.explain())
    assert (
        "anisotropy: 3.33333 -> 1.2 (coarsest / finest spacing); exactly 1 with .iso.isotropic()"
        in text
    )
    exact = da.iso.isotropic()
    assert max(exact.iso.spacing.values()) / min(exact.iso.spacing.values()) == 1.0
    whole = da.assign_coords(z=np.arange(40) * 0.25)
    assert "isotropic()" not in str(whole.iso.explain())  # blocks reach 1 there
