"""Tests of xiso.blocks: xiso.downsample, xiso.near_isotropic and the
``.iso`` accessor on DataArray and Dataset, numpy- and dask-backed.

Expected values come from the independent numpy reference of tests/reference.py
(reshape + per-block reduction in exact arithmetic), never from xiso.
"""

from __future__ import annotations

import contextlib
import copy
import re
import warnings

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import no_compute
from reference import block_reference, nearest_index

import xiso


# --------------------------------------------------------------------------
# independent reference
# --------------------------------------------------------------------------
def ref_var(var: xr.DataArray | xr.Variable, factors, **kw):
    dims = var.dims
    by_axis = {dims.index(d): f for d, f in factors.items() if d in dims}
    return block_reference(np.asarray(var.values), by_axis, **kw)


def ref_coord(values, f, method="mean", boundary="trim"):
    values = np.asarray(values, dtype=np.float64)
    if method == "nearest":
        return values[nearest_index(values.size, f, boundary)]
    out = []
    for j in range(-(-values.size // f) if boundary == "pad" else values.size // f):
        out.append(values[j * f : (j + 1) * f].mean())
    return np.array(out)


def assert_data(got, expected, exact=True):
    got = np.asarray(got)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    if exact or expected.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, strict=True)
    else:
        rtol = 1e-6 if expected.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-6, equal_nan=True)


def sync():
    return dask.config.set(scheduler="synchronous")


def trims(boundary="trim", func="downsample"):
    """The XisoWarning of boundary="trim" on the fixtures, whose NZ=10 is not a
    multiple of 4; nothing for other boundaries (see tests/test_warnings.py)."""
    if boundary != "trim":
        return contextlib.nullcontext()
    message = f"{func} drops 2 of the 10 samples of dimension 'z'"
    return pytest.warns(xiso.XisoWarning, match=re.escape(message))


def averages_labels(method=None, dtype=None):
    """The XisoWarning of a Dataset fixture whose uint8 'labels' variable is
    averaged (mean, median) or cast to a float dtype (the default method,
    None, reduces it with mode)."""
    if method not in ("mean", "median") and (dtype is None or np.dtype(dtype).kind != "f"):
        return contextlib.nullcontext()
    message = "the data variable 'labels' looks like a label image"
    return pytest.warns(xiso.XisoWarning, match=re.escape(message))


# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------
NZ, NY, NX, NC = 10, 6, 5, 2


def make_dataarray(backend="numpy", dtype="uint16", seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 60000, size=(NC, NZ, NY, NX)).astype(dtype)
    if backend == "dask":
        data = dsa.from_array(data, chunks=(1, 3, (1, 5), 2))
    coords = {
        "c": ("c", ["r", "g"], {"long_name": "channel"}),
        "z": ("z", np.arange(NZ) * 0.25, {"units": "micrometer", "long_name": "depth"}),
        "y": ("y", np.arange(NY) * 1.0, {"units": "micrometer"}),
        "x": ("x", 10.0 + np.arange(NX) * 1.0, {"units": "micrometer"}),
        "zi": ("z", np.arange(NZ) * 10, {"note": "int non-dim coord"}),
        "zy": (("z", "y"), rng.random((NZ, NY)), {"note": "2d non-dim coord"}),
        "wavelength": ("c", [488.0, 561.0]),
        "scalar": ((), 3.5, {"k": "v"}),
    }
    arr = xr.DataArray(
        data,
        dims=("c", "z", "y", "x"),
        coords=coords,
        name="vol",
        attrs={"a": 1, "history": "made"},
    )
    arr.encoding = {"dtype": np.dtype(dtype), "chunks": (1, 5, 6, 5), "zlib": True}
    arr["z"].encoding = {"dtype": "float64"}
    return arr


def make_dataset(backend="numpy"):
    base = make_dataarray(backend)
    rng = np.random.default_rng(7)
    f32 = rng.random((NZ, NY, NX)).astype("float32")
    f32[0:4, 0:2, 0:1] = np.nan  # an all-NaN block for z=4, y=2
    f32[5, 3, 2] = np.nan
    i32 = rng.integers(-1000, 1000, size=(NZ, NX)).astype("int32")
    labels = rng.integers(0, 4, size=(NZ, NY, NX)).astype("uint8")
    t_series = np.arange(4, dtype="int64")
    if backend == "dask":
        f32 = dsa.from_array(f32, chunks=(3, 4, 5))
        i32 = dsa.from_array(i32, chunks=(1, 2))
        labels = dsa.from_array(labels, chunks=(7, 6, 1))
        t_series = dsa.from_array(t_series, chunks=2)
    ds = xr.Dataset(
        {
            "vol": base,
            "f32": (("z", "y", "x"), f32, {"units": "a.u."}),
            "i32": (("z", "x"), i32),
            "labels": (("z", "y", "x"), labels),
            "per_channel": (("c",), np.array([1.5, 2.5]), {"k": 1}),
            "series": (("t",), t_series),
            "name_str": ((), "sample-1"),
            "channel_names": (("c",), np.array(["red", "green"])),
        },
        attrs={"title": "test", "n": 3},
    )
    ds = ds.assign_coords(t=("t", np.arange(4) * 2.0))
    return ds


BACKENDS = ["numpy", "dask"]


def _values(obj):
    with sync():
        return obj.compute()


# --------------------------------------------------------------------------
# DataArray
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["mean", "median", "min", "max", "mode"])
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_dataarray_block_methods(backend, method, boundary):
    arr = make_dataarray(backend)
    with trims(boundary):
        out = xiso.downsample(arr, {"z": 4, "y": 2}, method=method, boundary=boundary)
    assert out.dims == arr.dims
    assert out.dtype == arr.dtype
    assert out.name == "vol"
    assert out.attrs == {"a": 1, "history": "made"}
    if backend == "dask":
        assert isinstance(out.data, dsa.Array)
    out = _values(out)
    nz = 3 if boundary == "pad" else 2
    assert out.sizes == {"c": NC, "z": nz, "y": 3, "x": NX}
    assert_data(out.values, ref_var(arr, {"z": 4, "y": 2}, method=method, boundary=boundary))
    # coordinates: block means
    np.testing.assert_allclose(out.z.values, ref_coord(arr.z.values, 4, boundary=boundary))
    np.testing.assert_allclose(out.y.values, [0.5, 2.5, 4.5])
    np.testing.assert_array_equal(out.x.values, arr.x.values)
    np.testing.assert_array_equal(out.c.values, arr.c.values)
    np.testing.assert_allclose(out.zi.values, ref_coord(arr.zi.values, 4, boundary=boundary))
    np.testing.assert_allclose(
        out.zy.values, block_reference(arr.zy.values, {0: 4, 1: 2}, boundary=boundary), rtol=1e-12
    )
    np.testing.assert_array_equal(out.wavelength.values, [488.0, 561.0])
    assert float(out.scalar) == 3.5
    assert out.scalar.attrs == {"k": "v"}
    # coordinate attrs are kept
    assert out.z.attrs == {"units": "micrometer", "long_name": "depth"}
    assert out.c.attrs == {"long_name": "channel"}
    assert out.zi.attrs == {"note": "int non-dim coord"}
    assert out.zy.attrs == {"note": "2d non-dim coord"}
    assert out.zi.dims == ("z",) and out.zy.dims == ("z", "y")


def test_coordinate_is_block_mean():
    arr = make_dataarray()
    with trims():
        out = xiso.downsample(arr, z=4)
    np.testing.assert_allclose(out.z.values, [0.375, 1.375])
    out = xiso.downsample(arr, z=4, boundary="pad")
    # last partial block holds z = 2.0, 2.25
    np.testing.assert_allclose(out.z.values, [0.375, 1.375, 2.125])
    np.testing.assert_allclose(out.zi.values, [15.0, 55.0, 85.0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(("boundary", "z_index"), [("trim", [1, 5]), ("pad", [1, 5, 8])])
def test_nearest_takes_sample_and_its_coordinate(backend, boundary, z_index):
    arr = make_dataarray(backend)
    with trims(boundary):
        out = _values(xiso.downsample(arr, z=4, x=3, method="nearest", boundary=boundary))
    x_index = [1, 3] if boundary == "pad" else [1]  # x: 5 samples, last block [3, 4]
    expected = arr.values[:, z_index][:, :, :, x_index]
    assert_data(out.values, expected)
    np.testing.assert_array_equal(out.z.values, arr.z.values[z_index])
    np.testing.assert_array_equal(out.x.values, arr.x.values[x_index])
    np.testing.assert_array_equal(out.zi.values, arr.zi.values[z_index])
    np.testing.assert_array_equal(out.zy.values, arr.zy.values[z_index])


def test_mapping_and_kwargs_are_the_same():
    arr = make_dataarray()
    with trims():
        a = xiso.downsample(arr, {"z": 4})
    with trims():
        b = xiso.downsample(arr, z=4)
    with trims():
        c = arr.iso.downsample(z=4)
    with trims():
        d = arr.iso.downsample({"z": 4})
    for other in (b, c, d):
        xr.testing.assert_identical(a, other)


@pytest.mark.parametrize("backend", BACKENDS)
def test_mapping_and_kwargs_together_is_an_option_error(backend):
    arr = make_dataarray(backend)
    with pytest.raises(xiso.OptionError):
        xiso.downsample(arr, {"z": 4}, y=2)
    with pytest.raises(xiso.OptionError):
        arr.iso.downsample({"z": 4}, y=2)


def test_spacing_is_multiplied_by_factor():
    arr = make_dataarray()
    assert arr.iso.spacing == pytest.approx({"z": 0.25, "y": 1.0, "x": 1.0})
    with trims():
        out = xiso.downsample(arr, z=4, y=2)
    assert out.iso.spacing == pytest.approx({"z": 1.0, "y": 2.0, "x": 1.0})
    out = xiso.downsample(arr, z=2, method="nearest")
    assert out.iso.spacing == pytest.approx({"z": 0.5, "y": 1.0, "x": 1.0})


@pytest.mark.parametrize("backend", BACKENDS)
def test_integer_rounding_in_labelled_layer(backend):
    data = np.array([1, 2, 2, 3, 0, 1, 1, 1], dtype="uint16")
    arr = xr.DataArray(data, dims="z", coords={"z": np.arange(8) * 0.25})
    if backend == "dask":
        arr = arr.chunk({"z": 1})
    out = _values(xiso.downsample(arr, z=2))
    assert_data(out.values, np.array([2, 2, 0, 1], dtype="uint16"))
    out = _values(xiso.downsample(arr, z=4))
    assert_data(out.values, np.array([2, 1], dtype="uint16"))  # 2.0, 0.75 -> 1
    out = _values(xiso.downsample(arr, z=2, dtype=np.float32))
    assert_data(out.values, np.array([1.5, 2.5, 0.5, 1.0], dtype="float32"))


def test_factor_one_and_nothing_else():
    arr = make_dataarray()
    out = xiso.downsample(arr, z=1)
    xr.testing.assert_identical(out, arr)


# --------------------------------------------------------------------------
# near_isotropic
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_near_isotropic_dataarray(backend):
    arr = make_dataarray(backend)
    assert arr.iso.factors() == {"z": 4, "y": 1, "x": 1}
    with trims(func="near_isotropic"):
        a = xiso.near_isotropic(arr)
    with trims(func="near_isotropic"):
        b = arr.iso.near_isotropic()
    with trims():
        c = xiso.downsample(arr, z=4)
    xr.testing.assert_identical(_values(a), _values(c))
    xr.testing.assert_identical(_values(b), _values(c))
    a = _values(a)
    assert a.sizes == {"c": NC, "z": 2, "y": NY, "x": NX}
    assert_data(a.values, ref_var(arr, {"z": 4}))
    assert a.iso.spacing == pytest.approx({"z": 1.0, "y": 1.0, "x": 1.0})
    np.testing.assert_allclose(a.z.values, [0.375, 1.375])


def test_near_isotropic_with_units():
    arr = make_dataarray()
    arr = arr.assign_coords(z=("z", np.arange(NZ) * 250.0, {"units": "nm"}))
    with trims(func="near_isotropic"):
        out = xiso.near_isotropic(arr, method="mode")
    assert out.sizes["z"] == 2
    assert_data(out.values, ref_var(arr, {"z": 4}, method="mode"))
    np.testing.assert_allclose(out.z.values, [375.0, 1375.0])
    assert out.z.attrs["units"] == "nm"


def test_near_isotropic_pad_and_dtype():
    arr = make_dataarray()
    out = xiso.near_isotropic(arr, boundary="pad", dtype=np.float64)
    assert out.dtype == np.float64
    assert_data(
        out.values,
        ref_var(arr, {"z": 4}, boundary="pad", dtype=np.float64),
        exact=False,
    )
    np.testing.assert_allclose(out.z.values, [0.375, 1.375, 2.125])


# --------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["mean", "median", "max", "mode", "nearest"])
def test_dataset_every_variable(backend, method):
    ds = make_dataset(backend)
    factors = {"z": 4, "y": 2}
    with averages_labels(method):
        out = xiso.downsample(ds, factors, method=method, boundary="pad")
    assert out.attrs == {"title": "test", "n": 3}
    if backend == "dask":
        for name in ("vol", "f32", "i32", "labels", "series"):
            assert isinstance(out[name].data, dsa.Array), name
    out = _values(out)
    for name in ("vol", "f32", "i32", "labels"):
        var = ds[name]
        assert out[name].dtype == var.dtype, name
        assert out[name].dims == var.dims, name
        assert out[name].attrs == var.attrs, name
        exact = method != "mean" and method != "median"
        assert_data(
            out[name].values,
            ref_var(var, factors, method=method, boundary="pad"),
            exact=exact or var.dtype.kind != "f",
        )
    # variables without reduced dims pass through unchanged
    for name in ("per_channel", "series", "name_str", "channel_names"):
        xr.testing.assert_identical(out[name], _values(ds[name]))
    # coordinates
    if method == "nearest":
        np.testing.assert_array_equal(out.z.values, ds.z.values[[1, 5, 8]])
        np.testing.assert_array_equal(out.y.values, ds.y.values[[0, 2, 4]])
    else:
        np.testing.assert_allclose(out.z.values, [0.375, 1.375, 2.125])
        np.testing.assert_allclose(out.y.values, [0.5, 2.5, 4.5])
    np.testing.assert_array_equal(out.t.values, ds.t.values)
    np.testing.assert_array_equal(out.x.values, ds.x.values)


def test_dataset_all_nan_block_and_dtypes():
    ds = make_dataset()
    with trims(), averages_labels():
        out = xiso.downsample(ds, z=4, y=2)
    assert np.isnan(out.f32.values[0, 0, 0])  # the all-NaN block
    assert out.f32.dtype == np.float32
    assert out.vol.dtype == np.uint16
    assert out.i32.dtype == np.int32
    assert out.labels.dtype == np.uint8
    assert out.series.dtype == np.int64


def test_dataset_float_dtype_override():
    ds = make_dataset()
    with trims(), averages_labels(method="mean", dtype=np.float32):
        out = xiso.downsample(ds, z=4, y=2, dtype=np.float32, method="mean")
    for name in ("vol", "i32", "labels", "f32"):
        assert out[name].dtype == np.float32, name
        assert_data(
            out[name].values,
            ref_var(ds[name], {"z": 4, "y": 2}, dtype=np.float32),
            exact=False,
        )
    xr.testing.assert_identical(out.series, ds.series)
    xr.testing.assert_identical(out.per_channel, ds.per_channel)


@pytest.mark.parametrize("backend", BACKENDS)
def test_dataset_near_isotropic_and_accessor(backend):
    ds = make_dataset(backend)
    with trims(func="near_isotropic"), averages_labels():
        a = _values(xiso.near_isotropic(ds))
    with trims(func="near_isotropic"), averages_labels():
        b = _values(ds.iso.near_isotropic())
    with trims(), averages_labels():
        c = _values(ds.iso.downsample(z=4))
    xr.testing.assert_identical(a, c)
    xr.testing.assert_identical(b, c)
    assert a.sizes["z"] == 2
    assert a.iso.spacing == pytest.approx({"z": 1.0, "y": 1.0, "x": 1.0})


def test_dataset_numpy_and_dask_agree():
    with averages_labels():
        a = xiso.downsample(make_dataset("numpy"), z=3, y=4, x=2, boundary="pad")
    with averages_labels():
        b = _values(xiso.downsample(make_dataset("dask"), z=3, y=4, x=2, boundary="pad"))
    xr.testing.assert_identical(a, b)


# --------------------------------------------------------------------------
# laziness
# --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["dataarray", "dataset"])
@pytest.mark.parametrize("method", ["mean", "median", "mode", "nearest"])
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_dask_stays_lazy(kind, method, boundary):
    obj = make_dataarray("dask") if kind == "dataarray" else make_dataset("dask")
    with no_compute(), warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out1 = xiso.downsample(obj, z=4, y=2, method=method, boundary=boundary)
        out2 = obj.iso.downsample({"z": 4, "y": 2}, method=method, boundary=boundary)
        out3 = xiso.near_isotropic(obj, method=method, boundary=boundary)
        out4 = obj.iso.near_isotropic(method=method, boundary=boundary)
        for out in (out1, out2, out3, out4):
            arr = out if kind == "dataarray" else out["vol"]
            assert isinstance(arr.data, dsa.Array)
    # the warnings are decided without computing: trim drops z samples, and
    # the dataset's 'labels' are averaged by mean and median
    per_call = (boundary == "trim") + (kind == "dataset" and method in ("mean", "median"))
    assert len(record) == 4 * per_call
    assert all(issubclass(w.category, xiso.XisoWarning) for w in record)
    # computing outside the context gives the numpy-backed result
    numpy_obj = make_dataarray("numpy") if kind == "dataarray" else make_dataset("numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xiso.XisoWarning)  # counted above
        expected = xiso.downsample(numpy_obj, z=4, y=2, method=method, boundary=boundary)
        expected_iso = xiso.downsample(numpy_obj, z=4, method=method, boundary=boundary)
    xr.testing.assert_identical(_values(out1), expected)
    xr.testing.assert_identical(_values(out2), expected)
    xr.testing.assert_identical(_values(out3), expected_iso)
    xr.testing.assert_identical(_values(out4), expected_iso)


def test_dask_non_dim_coordinate_stays_lazy():
    arr = make_dataarray("dask")
    arr = arr.assign_coords(zd=("z", dsa.arange(NZ, chunks=3) * 1.0))
    with no_compute():
        out = xiso.downsample(arr, z=4, boundary="pad")
    zd = out.zd.variable._data
    assert isinstance(getattr(zd, "array", zd), dsa.Array) or isinstance(out.zd.data, dsa.Array)
    np.testing.assert_allclose(_values(out).zd.values, [1.5, 5.5, 8.5])


# --------------------------------------------------------------------------
# the input is never mutated
# --------------------------------------------------------------------------
def _snapshot(obj):
    snap = {"obj": obj.copy(deep=True), "attrs": copy.deepcopy(obj.attrs)}
    snap["encoding"] = copy.deepcopy(obj.encoding)
    snap["coords"] = {
        k: (copy.deepcopy(c.attrs), copy.deepcopy(c.encoding)) for k, c in obj.coords.items()
    }
    if isinstance(obj, xr.Dataset):
        snap["vars"] = {
            k: (copy.deepcopy(v.attrs), copy.deepcopy(v.encoding)) for k, v in obj.data_vars.items()
        }
    return snap


def _check_snapshot(obj, snap):
    xr.testing.assert_identical(obj, snap["obj"])
    assert obj.attrs == snap["attrs"]
    assert obj.encoding == snap["encoding"]
    for k, c in obj.coords.items():
        assert (c.attrs, c.encoding) == snap["coords"][k], k
    if isinstance(obj, xr.Dataset):
        for k, v in obj.data_vars.items():
            assert (v.attrs, v.encoding) == snap["vars"][k], k


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["dataarray", "dataset"])
def test_input_not_mutated(backend, kind):
    obj = make_dataarray(backend) if kind == "dataarray" else make_dataset(backend)
    snap = _snapshot(obj)
    for method in ("mean", "mode", "nearest"):
        with averages_labels(method) if kind == "dataset" else contextlib.nullcontext():
            out = xiso.downsample(obj, z=4, y=2, method=method, boundary="pad")
        _check_snapshot(obj, snap)
        # mutating the output must not reach the input
        out.attrs["new"] = 1
        out["z"].attrs["new"] = 1
        if kind == "dataarray":
            out.encoding["new"] = 1
        else:
            out["vol"].attrs["new"] = 1
            out["vol"].encoding["new"] = 1
            out["series"].attrs["new"] = 1
        _check_snapshot(obj, snap)
    labels = averages_labels() if kind == "dataset" else contextlib.nullcontext()
    with trims(func="near_isotropic"), labels:
        out = xiso.near_isotropic(obj, dtype=np.float32)
    out.attrs["new"] = 2
    _check_snapshot(obj, snap)
    labels = averages_labels() if kind == "dataset" else contextlib.nullcontext()
    with trims(func="near_isotropic"), labels:
        out = obj.iso.near_isotropic()
    _check_snapshot(obj, snap)


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["dataarray", "dataset"])
def test_factor_larger_than_length(backend, kind):
    obj = make_dataarray(backend) if kind == "dataarray" else make_dataset(backend)
    with pytest.raises(xiso.FactorError) as info:
        xiso.downsample(obj, z=16)
    msg = str(info.value)
    assert "'z'" in msg
    assert re.search(r"\b10\b", msg), msg
    assert re.search(r"\b16\b", msg), msg
    with pytest.raises(xiso.FactorError, match=r"'x'"):
        obj.iso.downsample({"x": 6})
    assert issubclass(xiso.FactorError, xiso.XisoError)
    assert issubclass(xiso.XisoError, ValueError)


@pytest.mark.parametrize("backend", BACKENDS)
def test_unknown_dim(backend):
    arr = make_dataarray(backend)
    with pytest.raises(xiso.FactorError, match=r"'w'"):
        xiso.downsample(arr, w=2)
    with pytest.raises(xiso.FactorError, match=r"'w'"):
        xiso.downsample(make_dataset(backend), {"w": 2})


@pytest.mark.parametrize("factor", [0, -1, 2.5, "2", None])
def test_bad_factor(factor):
    arr = make_dataarray()
    with pytest.raises(xiso.FactorError, match=r"'z'"):
        xiso.downsample(arr, z=factor)
    with pytest.raises(xiso.FactorError):
        xiso.downsample(make_dataset(), {"z": factor})


def test_exact_boundary():
    arr = make_dataarray()
    out = xiso.downsample(arr, z=5, y=3, boundary="exact")
    assert_data(out.values, ref_var(arr, {"z": 5, "y": 3}))
    np.testing.assert_allclose(out.z.values, [0.5, 1.75])
    with pytest.raises(xiso.FactorError, match=r"'z'"):
        xiso.downsample(arr, z=4, boundary="exact")


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_method_and_boundary(backend):
    arr = make_dataarray(backend)
    with pytest.raises(xiso.OptionError, match=re.escape("'average'")):
        xiso.downsample(arr, z=4, method="average")
    with pytest.raises(xiso.OptionError, match=re.escape("'wrap'")):
        xiso.downsample(arr, z=4, boundary="wrap")
    with pytest.raises(xiso.OptionError, match=re.escape("'average'")):
        xiso.near_isotropic(arr, method="average")
    with pytest.raises(xiso.OptionError, match=re.escape("'wrap'")):
        arr.iso.near_isotropic(boundary="wrap")
    with pytest.raises(xiso.OptionError):
        xiso.downsample(make_dataset(backend), z=4, method="average")


@pytest.mark.parametrize("kind", ["dataarray", "dataset"])
def test_unknown_dtype_is_a_dtype_error(kind):
    obj = make_dataarray() if kind == "dataarray" else make_dataset()
    with pytest.raises(xiso.DtypeError, match=r"dtype='foo' is not a data type.*dtype='uint16'"):
        xiso.downsample(obj, z=2, dtype="foo")
    with pytest.raises(xiso.DtypeError, match=r"dtype='foo' is not a data type"):
        obj.iso.near_isotropic(dtype="foo")


def test_mean_on_string_variable_is_a_dtype_error():
    ds = make_dataset()
    ds["notes"] = (("z",), np.array([f"n{i}" for i in range(NZ)]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", xiso.XisoWarning)  # no labels warning before the error
        with pytest.raises(xiso.DtypeError, match=r"notes"):
            xiso.downsample(ds, z=2)
    # nearest takes samples, which works for strings
    out = xiso.downsample(ds, z=2, method="nearest")
    np.testing.assert_array_equal(out.notes.values, ["n0", "n2", "n4", "n6", "n8"])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", xiso.METHODS)
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_big_endian_input_gives_native_byte_order(backend, method, boundary):
    arr = make_dataarray(backend, dtype=">u2")
    with trims(boundary):
        out = xiso.downsample(arr, z=4, y=1, method=method, boundary=boundary)
    assert out.dtype == np.dtype("=u2")
    got = _values(out)
    assert got.dtype == np.dtype("=u2")
    expected = ref_var(arr.astype("=u2"), {"z": 4}, method=method, boundary=boundary)
    assert_data(got.values, expected)
    # a factor of 1 only: still native, like every reduced variable
    assert _values(xiso.downsample(arr, z=1, method=method)).dtype == np.dtype("=u2")


# --------------------------------------------------------------------------
# odd shapes of input
# --------------------------------------------------------------------------
def test_dim_without_coordinate_and_numpy_integer_factor():
    arr = xr.DataArray(np.arange(12, dtype="int16").reshape(4, 3), dims=("z", "x"))
    out = xiso.downsample(arr, z=np.int64(2))
    assert out.name is None
    assert "z" not in out.coords
    # [0, 3] -> 1.5 -> 2; [1, 4] -> 2.5 -> 2; [2, 5] -> 3.5 -> 4 (ties to even)
    assert_data(out.values, np.array([[2, 2, 4], [8, 8, 10]], dtype="int16"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_dataset_variables_with_other_dim_orders(backend):
    data = np.arange(3 * 4, dtype="float64").reshape(3, 4)
    ds = xr.Dataset(
        {"v": (("x", "z"), data), "w": (("z", "x"), data.T.copy())},
        coords={"z": ("z", [3.0, 2.0, 1.0, 0.0])},
    )
    if backend == "dask":
        ds = ds.chunk({"z": 1})
    out = _values(xiso.downsample(ds, z=3, boundary="pad"))
    assert out.v.dims == ("x", "z") and out.w.dims == ("z", "x")
    assert_data(out.v.values, block_reference(data, {1: 3}, boundary="pad"), exact=False)
    assert_data(out.w.values, block_reference(data.T, {0: 3}, boundary="pad"), exact=False)
    np.testing.assert_allclose(out.z.values, [2.0, 0.0])  # mean(3, 2, 1), then 0
    out = _values(xiso.downsample(ds, z=3, boundary="pad", method="nearest"))
    np.testing.assert_array_equal(out.z.values, [2.0, 0.0])
    np.testing.assert_array_equal(out.v.values, data[:, [1, 3]])


@pytest.mark.parametrize("backend", BACKENDS)
def test_skipna_in_labelled_layer(backend):
    data = np.array([1.0, np.nan, 3.0, 5.0, np.nan, np.nan], dtype="float32")
    arr = xr.DataArray(data, dims="z", coords={"z": np.arange(6) * 0.5}, name="f")
    if backend == "dask":
        arr = arr.chunk({"z": 1})
    out = _values(xiso.downsample(arr, z=2))
    assert_data(out.values, np.array([1.0, 4.0, np.nan], dtype="float32"))
    out = _values(xiso.downsample(arr, z=2, skipna=False))
    assert_data(out.values, np.array([np.nan, 4.0, np.nan], dtype="float32"))
    out = _values(xiso.downsample(arr, z=2, method="max"))
    assert_data(out.values, np.array([1.0, 5.0, np.nan], dtype="float32"))


@pytest.mark.parametrize("backend", BACKENDS)
def test_time_and_channel_dims_untouched(backend):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 255, size=(3, 2, 8, 4, 4)).astype("uint8")
    arr = xr.DataArray(
        data,
        dims=("t", "c", "z", "y", "x"),
        coords={
            "t": ("t", [0.0, 1.5, 3.0], {"units": "s"}),
            "c": ["a", "b"],
            "z": np.arange(8) * 0.5,
            "y": np.arange(4) * 2.0,
            "x": np.arange(4) * 2.0,
        },
    )
    if backend == "dask":
        arr = arr.chunk({"t": 1, "z": 3})
    with no_compute():
        out = xiso.near_isotropic(arr)
    out = _values(out)
    assert out.sizes == {"t": 3, "c": 2, "z": 2, "y": 4, "x": 4}
    assert_data(out.values, block_reference(data, {2: 4}))
    np.testing.assert_array_equal(out.t.values, [0.0, 1.5, 3.0])
    assert out.t.attrs == {"units": "s"}
    np.testing.assert_array_equal(out.c.values, ["a", "b"])
    np.testing.assert_allclose(out.z.values, [0.75, 2.75])


def test_already_isotropic_is_left_as_is():
    arr = make_dataarray()
    arr = arr.assign_coords(z=("z", np.arange(NZ) * 1.0, {"units": "micrometer"}))
    out = xiso.near_isotropic(arr)
    xr.testing.assert_identical(out, arr)
    with pytest.raises(xiso.OptionError):
        xiso.near_isotropic(arr, method="average")
    with pytest.raises(xiso.OptionError):
        xiso.near_isotropic(arr, boundary="wrap")


def test_dataset_variables_with_different_dims_keep_consistent_chunks():
    """Grouping of dask chunks is decided once per object, so variables with
    fewer dims (whose own outputs would be smaller) get the same chunks along
    the shared dims; values against an independent numpy reference."""
    rng = np.random.default_rng(5)
    # alone, img (2 MiB outputs per chunk) would group 2 chunks per task and
    # prof (tiny outputs) 4: the object-wide decision follows img
    img = rng.integers(0, 2**16, (64, 512, 512)).astype("uint16")
    prof = rng.integers(0, 2**16, (64, 512)).astype("uint16")
    ds = xr.Dataset(
        {
            "img": (("z", "y", "x"), dask.array.from_array(img, chunks=(16, 512, 512))),
            "prof": (("z", "y"), dask.array.from_array(prof, chunks=(16, 512))),
        },
        coords={
            "z": np.arange(64) * 0.25,
            "w": ("z", dask.array.from_array(np.arange(64.0), chunks=16)),
        },
    )
    out = xiso.downsample(ds, z=4)
    assert out["img"].chunks[0] == out["prof"].chunks[0] == out["w"].chunks[0] == (8, 8)
    assert out.chunks["z"] == out["img"].chunks[0]  # xarray raises if inconsistent

    def ref(a):
        s = a.reshape(16, 4, *a.shape[1:]).astype(np.uint64).sum(axis=1)
        return np.round(s / 4).astype(a.dtype)

    np.testing.assert_array_equal(out["img"].values, ref(img), strict=True)
    np.testing.assert_array_equal(out["prof"].values, ref(prof), strict=True)
    np.testing.assert_array_equal(out["w"].values, np.arange(64.0).reshape(16, 4).mean(axis=1))


def test_factor_one_on_an_empty_dim_is_a_no_op():
    da = xr.DataArray(
        np.zeros((0, 4), "uint16"),
        dims=("z", "x"),
        coords={"z": np.arange(0.0), "x": np.arange(4.0)},
    )
    out = xiso.downsample(da, z=1, x=2)
    assert out.shape == (0, 2)
    np.testing.assert_array_equal(out.x.values, [0.5, 2.5])
    with pytest.raises(xiso.FactorError, match=r"'z' has length 0.*use a factor of 1 \(or none\)"):
        xiso.downsample(da, z=2)
