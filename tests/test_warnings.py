"""Where xiso warns (XisoWarning) and the error hints of the notebook path.

A warning points at the caller's line; the ordinary path (z 0.25, y and x 1.0,
sizes divisible by the factor) warns about nothing.
"""

from __future__ import annotations

import re
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xiso
from xiso.labelled import looks_like_labels


def _volume(nz=16, ny=8, nx=8, dtype="uint16", name="vol", attrs=None, units="um", dask=False):
    data = np.arange(nz * ny * nx).reshape(nz, ny, nx).astype(dtype)
    if dask:
        data = dsa.from_array(data, chunks=(4, 4, 4))
    coords = {
        d: (d, np.arange(n) * step, {"units": units})
        for d, n, step in (("z", nz, 0.25), ("y", ny, 1.0), ("x", nx, 1.0))
    }
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name=name, attrs=attrs or {})


# --------------------------------------------------------------------------
# the ordinary path is silent
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dask", [False, True])
@pytest.mark.parametrize("kind", ["DataArray", "Dataset"])
def test_ordinary_path_does_not_warn(dask, kind):
    da = _volume(dask=dask)
    obj = da if kind == "DataArray" else da.to_dataset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert xiso.near_isotropic_factors(obj) == {"z": 4, "y": 1, "x": 1}
        assert xiso.near_isotropic(obj).sizes == {"z": 4, "y": 8, "x": 8}
        assert obj.iso.near_isotropic().sizes == {"z": 4, "y": 8, "x": 8}
        xiso.downsample(obj, z=4)
        obj.iso.downsample({"z": 4, "y": 2})
        # targets that every spacing reaches exactly
        assert xiso.near_isotropic_factors(obj, target=2) == {"z": 8, "y": 2, "x": 2}
        assert xiso.near_isotropic_factors(obj, target="1 um") == {"z": 4, "y": 1, "x": 1}
        assert xiso.near_isotropic_factors(obj, target=3, rounding="int") == {
            "z": 12,
            "y": 3,
            "x": 3,
        }
        # trailing samples kept or refused, not dropped
        xiso.near_isotropic(_volume(nz=10, dask=dask), boundary="pad")
        # a label image reduced as labels
        labels = _volume(dask=dask, name="labels")
        xiso.near_isotropic(labels, method="mode")
        xiso.downsample(labels, z=4, method="nearest")
        xiso.downsample(labels, z=4, method="max")


# --------------------------------------------------------------------------
# 1. boundary="trim" drops samples
# --------------------------------------------------------------------------
TRIM_Z = (
    "near_isotropic drops 2 of the 10 samples of dimension 'z' (10 is not a multiple of the "
    "factor 4; the result has 2 samples covering 8): pass boundary='pad' to keep them, or "
    "crop first"
)


@pytest.mark.parametrize("dask", [False, True])
def test_trim_warns_once_naming_dim_and_count(dask):
    da = _volume(nz=10, dask=dask)
    with pytest.warns(xiso.XisoWarning, match=re.escape(TRIM_Z)) as record:
        out = xiso.near_isotropic(da)
    assert len(record) == 1
    assert record[0].filename == __file__  # points at this line, not into xiso
    assert out.sizes["z"] == 2


def test_trim_warning_through_the_accessor_points_at_the_caller():
    with pytest.warns(xiso.XisoWarning, match=re.escape(TRIM_Z)) as record:
        _volume(nz=10).iso.near_isotropic()
    assert [r.filename for r in record] == [__file__]


def test_trim_warning_names_every_dim_in_one_message():
    da = _volume(nz=10, ny=7)
    message = (
        "downsample drops 2 of the 10 samples of dimension 'z' (10 is not a multiple of the "
        "factor 4; the result has 2 samples covering 8) and 1 of the 7 samples of dimension "
        "'y' (7 is not a multiple of the factor 2; the result has 3 samples covering 6): "
        "pass boundary='pad' to keep them, or crop first"
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)) as record:
        xiso.downsample(da, z=4, y=2, x=1)
    assert len(record) == 1


def test_trim_warning_singular_result():
    with pytest.warns(xiso.XisoWarning, match=r"the result has 1 sample covering 4\)"):
        xiso.downsample(_volume(nz=5), z=4)


def test_exact_boundary_raises_instead_of_warning():
    with pytest.raises(xiso.FactorError, match="not a multiple of its factor 4"):
        xiso.downsample(_volume(nz=10), z=4, boundary="exact")


def test_bad_method_raises_before_any_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(xiso.OptionError, match="method='average' is not supported"):
            xiso.downsample(_volume(nz=10), z=4, method="average")


# --------------------------------------------------------------------------
# 2. a target that cannot be reached as asked
# --------------------------------------------------------------------------
def test_target_rounded_to_power_of_two_warns():
    message = (
        "target=3 (3 um) cannot be reached with power-of-two factors (rounding='pow2'): it "
        "was rounded to factors {'z': 16, 'y': 4, 'x': 4}, which give 4 um along 'z', 'y', "
        "'x'; pass rounding='int' or a target that is a power of two times each spacing to "
        "reach it exactly"
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)) as record:
        factors = xiso.near_isotropic_factors(_volume(), target=3)
    assert factors == {"z": 16, "y": 4, "x": 4}
    assert record[0].filename == __file__


def test_target_not_a_multiple_with_int_rounding_warns():
    message = (
        "target=2.5 (2.5 um) cannot be reached with integer factors (rounding='int'): it was "
        "rounded to factors {'z': 10, 'y': 2, 'x': 2}, which give 2.5 um along 'z', 2 um "
        "along 'y', 2 um along 'x'; pass a target that is a whole multiple of each spacing"
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)):
        xiso.near_isotropic_factors(_volume(), target=2.5, rounding="int")


def test_target_finer_than_coarsest_spacing_warns_that_it_is_ignored():
    message = (
        "target=0.8 (0.8 um) is finer than the coarsest spacing 1 um (of 'y') and xiso only "
        "downsamples: the target is ignored and the result has 1 um along 'z', 'y', 'x' "
        "(factors {'z': 4, 'y': 1, 'x': 1}); pass a target of at least 1 um, or none"
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)):
        out = xiso.near_isotropic(_volume(), target=0.8)
    assert out.sizes == {"z": 4, "y": 8, "x": 8}


def test_target_warns_for_a_mapping_of_spacings_without_unit():
    with pytest.warns(xiso.XisoWarning, match=re.escape("target=3 (3) cannot be reached")):
        xiso.near_isotropic_factors({"z": 0.25, "y": 1.0, "x": 1.0}, target=3)


def test_target_with_units_is_reported_as_given():
    with pytest.warns(xiso.XisoWarning, match=re.escape("target='3000 nm' (3 um) cannot")):
        xiso.near_isotropic_factors(_volume(), target="3000 nm")


# --------------------------------------------------------------------------
# 3. label images reduced as numbers
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "attrs", "dtype", "reason"),
    [
        ("labels", {}, "uint16", "an integer array whose name is 'labels'"),
        ("seg", {"long_name": "nucleus labels"}, "int32", "whose long_name is 'nucleus labels'"),
        ("cells", {"standard_name": "segmentation"}, "uint8", "standard_name is 'segmentation'"),
        ("img", {"image-label": {"version": "0.5"}}, "float32", "NGFF 'image-label' metadata"),
        ("img", {"labels": True}, "uint16", "its attrs['labels'] is True"),
    ],
)
def test_looks_like_labels_and_mean_warns(name, attrs, dtype, reason):
    da = _volume(name=name, attrs=attrs, dtype=dtype)
    assert looks_like_labels(da)
    message = f"the DataArray {name!r} looks like a label image ("
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)) as record:
        xiso.near_isotropic(da, method="mean")
    assert record[0].filename == __file__
    text = str(record[0].message)
    assert reason in text
    assert "method='mean' invents labels that do not exist: use method='mode'" in text


def test_labels_mean_message_in_full():
    message = (
        "the DataArray 'labels' looks like a label image (an integer array whose name is "
        "'labels'); method='mean' invents labels that do not exist: use method='mode' (or "
        "'nearest') and leave dtype unset"
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)):
        xiso.data.lightsheet_labels(shape=(16, 32, 32)).iso.near_isotropic(method="mean")


def test_labels_default_to_mode_without_a_warning():
    labels = xiso.data.lightsheet_labels(shape=(16, 32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = labels.iso.near_isotropic()
        tree = labels.iso.pyramid(min_size=8)
    xr.testing.assert_identical(out, labels.iso.near_isotropic(method="mode"))
    assert set(np.unique(out.values)) <= set(np.unique(labels.values))
    assert tree["1"].ds[labels.name].encoding["ngff_downscaling_type"] == "mode"
    image = _volume(name="img")  # not labels: the mean, as before
    xr.testing.assert_identical(
        xiso.downsample(image, z=4), xiso.downsample(image, z=4, method="mean")
    )


def test_labels_median_and_float_dtype_warn():
    da = _volume(name="labels")
    with pytest.warns(xiso.XisoWarning, match=re.escape("method='median' invents labels")):
        xiso.downsample(da, z=4, method="median")
    message = "dtype='float32' turns its labels into floats: use method='mode'"
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)):
        xiso.downsample(da, z=4, method="mode", dtype="float32")


def test_labels_in_a_dataset_are_named():
    ds = xr.Dataset({"img": _volume(), "labels": _volume(name="labels")})
    message = "the data variable 'labels' looks like a label image"
    with pytest.warns(xiso.XisoWarning, match=re.escape(message)) as record:
        xiso.near_isotropic(ds, method="mean")
    assert len(record) == 1  # not for 'img'


@pytest.mark.parametrize(
    ("name", "attrs", "dtype"),
    [
        ("labels", {}, "float32"),  # intensities named badly: floats are no labels
        ("vol", {}, "uint16"),
        ("labelled", {}, "uint16"),  # a word that only starts with "label"
        ("img", {"labels": "yes"}, "uint16"),  # only True marks labels
        (None, {}, "uint16"),
    ],
)
def test_not_labels(name, attrs, dtype):
    da = _volume(name=name, attrs=attrs, dtype=dtype)
    assert not looks_like_labels(da)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xiso.near_isotropic(da)


def test_looks_like_labels_of_a_variable():
    var = _volume().variable
    assert not looks_like_labels(var)
    assert looks_like_labels(var, name="cell_labels")


# --------------------------------------------------------------------------
# error hints that point to the right fix
# --------------------------------------------------------------------------
def test_near_isotropic_on_a_short_dim_says_what_near_isotropic_takes():
    message = (
        "near_isotropic needs a factor of 4 for dimension 'z', which has only 3 samples; "
        "leave 'z' as it is with dims=['y', 'x'], or merge all its samples with "
        "downsample({'z': 3})"
    )
    with pytest.raises(xiso.FactorError, match=re.escape(message)):
        xiso.near_isotropic(_volume(nz=3))
    with pytest.raises(xiso.FactorError, match="pass a finer target"):
        xiso.near_isotropic(_volume(nz=16, ny=2, nx=2), target=4)


def test_downsample_on_a_short_dim_keeps_the_factor_advice():
    message = "dimension 'z' has length 3, smaller than its factor 4; use a factor of at most 3"
    with pytest.raises(xiso.FactorError, match=re.escape(message)):
        xiso.downsample(_volume(nz=3), z=4)


@pytest.mark.parametrize("pyramid", [False, True])
def test_writing_a_pad_result_says_why_and_not_spacing(tmp_path, pyramid):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        padded = xiso.near_isotropic(_volume(nz=10), boundary="pad")
    message = (
        "the coordinate of dimension 'z' is evenly spaced (1) except for its last step "
        "(0.75), as after boundary='pad': the last block of a pad result is partial, so its "
        "coordinate step is irregular. A spacing (and an NGFF scale) needs a uniform step: "
        "reduce with boundary='trim', or crop 'z' to a multiple of the factor first"
    )
    with pytest.raises(xiso.NonUniformSpacingError, match=re.escape(message)) as info:
        xiso.to_ome_zarr(padded, tmp_path / "a.zarr", pyramid=pyramid)
    assert "spacing=" not in str(info.value)


def test_writing_an_irregular_coordinate_does_not_suggest_spacing(tmp_path):
    da = _volume(nz=8).assign_coords(z=("z", [0, 1, 2, 3, 5, 6, 7, 8.0], {"units": "um"}))
    message = (
        "the coordinate of dimension 'z' is not evenly spaced (steps from 1.0 to 2.0, mean "
        "1.1428571428571428); NGFF needs a uniform scale per axis: resample 'z' onto a "
        "regular grid before writing"
    )
    with pytest.raises(xiso.NonUniformSpacingError, match=re.escape(message)):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)


@pytest.mark.parametrize("target", ["2 parsecs", 2e6])
def test_absurd_target_is_refused_as_a_unit_mistake(target):
    with pytest.raises(xiso.FactorError, match=r"Check the target's units") as info:
        xiso.near_isotropic(_volume(), target=target)
    assert f"target={target!r} is " in str(info.value)
    assert "times the coarsest spacing 1 um (of 'y')" in str(info.value)
    message = (
        "target='2 parsecs' is 6.17136e+22 um, 6.17e+22 times the coarsest spacing 1 um (of "
        "'y'); every dimension would need more than 1e+06 samples to keep even one. Check "
        "the target's units (e.g. 'mm' written for 'um')"
    )
    if target == "2 parsecs":
        assert str(info.value) == message


def test_target_at_the_bound_is_not_refused_as_units():
    # 1e6 times the coarsest spacing is allowed; the dims are then too short
    with pytest.raises(xiso.FactorError, match="near_isotropic needs a factor of"):
        xiso.near_isotropic(_volume(), target=1e6, rounding="int")


@pytest.mark.parametrize(
    "call",
    [
        lambda da: xiso.downsample(da, 4),
        lambda da: da.iso.downsample(4),
        lambda da: da.to_dataset().iso.downsample(4),
    ],
)
def test_positional_factor_names_the_public_function(call):
    message = (
        "downsample() takes the factors as a mapping or as keyword arguments, got 4; pass "
        "e.g. downsample(z=4) or downsample({'z': 4})"
    )
    with pytest.raises(xiso.FactorError, match=re.escape(message)):
        call(_volume())


def test_tree_near_isotropic_warns_and_hints_as_near_isotropic():
    tree = xr.DataTree.from_dict(
        {"a": _volume(nz=10).to_dataset(), "b": _volume(nz=8).to_dataset()}
    )
    with pytest.warns(xiso.XisoWarning, match=re.escape(TRIM_Z)) as record:
        tree.iso.near_isotropic()
    assert [r.filename for r in record] == [__file__]  # node 'b' divides: one warning
    short = xr.DataTree.from_dict({"a": _volume(nz=3).to_dataset()})
    with pytest.raises(xiso.FactorError, match=r"with dims=\['y', 'x'\]"):
        short.iso.near_isotropic()


@pytest.mark.parametrize(
    "name, attrs, expected",
    [
        ("labels", {}, True),
        ("nucleus_labels", {}, True),
        ("cell-segmentation", {}, True),
        ("Labels", {}, True),
        ("label_free", {}, False),
        ("labels_prob", {}, False),
        ("img", {"long_name": "nucleus labels"}, True),
        ("img", {"long_name": "label-free intensity"}, False),
        ("img", {"long_name": "DAPI stain, no label"}, False),
        ("img", {"standard_name": "segmentation mask"}, True),
        ("img", {"labels": np.True_}, True),
        ("img", {"labels": "yes"}, False),
    ],
)
def test_looks_like_labels_names(name, attrs, expected):
    from xiso.labelled import looks_like_labels

    da = xr.DataArray(np.zeros(4, "uint16"), dims="z", name=name, attrs=attrs)
    assert looks_like_labels(da) is expected


def test_warnings_through_xarray_point_at_the_users_line():
    da = xr.DataArray(
        np.zeros((10, 4, 4)),
        dims=("z", "y", "x"),
        coords={"z": np.arange(10) * 0.25, "y": np.arange(4.0), "x": np.arange(4.0)},
    )
    with pytest.warns(xiso.XisoWarning, match="drops 2 of the 10") as record:
        da.pipe(xiso.near_isotropic)
    assert [r.filename for r in record] == [__file__]
    with pytest.warns(xiso.XisoWarning, match="drops 2 of the 10") as record:
        da.to_dataset(name="v").map(lambda v: xiso.downsample(v, z=4))
    assert __file__ in {r.filename for r in record}


def test_a_tree_warns_once_for_a_root_of_shared_coordinates():
    coords = {"z": np.arange(10) * 0.25, "y": np.arange(4.0), "x": np.arange(4.0)}
    child = xr.Dataset({"img": (("z", "y", "x"), np.zeros((10, 4, 4)))})
    tree = xr.DataTree.from_dict({"/": xr.Dataset(coords=coords), "/a": child})
    with pytest.warns(xiso.XisoWarning, match="drops 2 of the 10") as record:
        out = tree.iso.near_isotropic()
    assert len(record) == 1
    assert dict(out["a"].sizes) == {"z": 2, "y": 4, "x": 4}
