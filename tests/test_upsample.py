"""Tests of xiso.upsample: the exact grid of spacing ``s / f`` (xiso/exact.py).

Expected values come from references independent of xiso (tests/reference.py):
``np.repeat`` for ``nearest``, ``scipy.ndimage.map_coordinates(order=1,
mode="nearest")`` on the whole array for ``linear`` on floats, the same
interpolation in Python fractions for ``linear`` on integers (exact, rounded
half to even), and the grid formula written out. Arrays are upsampled as
DataArrays without coordinates (:func:`upsample_array`), so the values are
those of the engine alone.
"""

from __future__ import annotations

import inspect
import warnings

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import exact_linear, fraction_linear, is_tie, repeat, scipy_linear, upsampled_grid

import xiso
from xiso.encodings import set_spacing


def upsample_array(x, factors, *, method="linear", dtype=None):
    """The data of ``xiso.upsample`` of ``x`` as a DataArray without coordinates
    (dims ``a0, a1, ...``), ``factors`` by axis: the array the engine computes."""
    dims = tuple(f"a{i}" for i in range(np.ndim(x)))
    da = xr.DataArray(x, dims=dims)
    by_dim = {dims[axis]: f for axis, f in factors.items()}
    return xiso.upsample(da, by_dim, method=method, dtype=dtype).data


# --------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------
def test_the_docs_example():
    da = xr.DataArray([0.0, 4.0], dims="z", coords={"z": [0.0, 1.0]})
    out = xiso.upsample(da, z=2)
    np.testing.assert_array_equal(out.z.values, [-0.25, 0.25, 0.75, 1.25])
    np.testing.assert_array_equal(out.values, [0.0, 1.0, 3.0, 4.0])
    assert out.z.encoding["spacing"] == 0.5


@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
@pytest.mark.parametrize(("origin", "step"), [(0.0, 1.0), (-2.5, 0.25), (8.0, -2.0), (3.0, 0.5)])
def test_grid_is_the_formula_and_downsample_inverts_it(f, origin, step):
    c = origin + np.arange(7) * step
    da = xr.DataArray(np.zeros(7), dims="z", coords={"z": c})
    out = xiso.upsample(da, z=f)
    if f & (f - 1) == 0:  # a power of two: the formula, bit for bit
        np.testing.assert_array_equal(out.z.values, upsampled_grid(c, f))
    else:  # cells may be nudged by a few ulps so that their mean is the centre
        np.testing.assert_allclose(out.z.values, upsampled_grid(c, f), rtol=1e-14, atol=1e-15)
    if f > 1:
        assert out.z.encoding["spacing"] == abs(step) / f
    xr.testing.assert_identical(
        xiso.downsample(out, z=f).coords.to_dataset(), da.coords.to_dataset()
    )


@pytest.mark.parametrize("f", [1, 2, 4, 8])
@pytest.mark.parametrize(("origin", "step"), [(0.1, 0.3), (-7.3, 0.7), (1234.5678, -0.01)])
def test_downsample_gives_the_coordinates_back_exactly(f, origin, step):
    c = origin + np.arange(50) * step
    da = xr.DataArray(np.zeros(50), dims="z", coords={"z": c})
    up = xiso.upsample(da, z=f)
    # the plain formula up to a few ulps (cells nudged so their mean is exact)
    np.testing.assert_allclose(up.z.values, upsampled_grid(c, f), rtol=1e-13, atol=0)
    back = xiso.downsample(up, z=f)
    xr.testing.assert_identical(back.coords.to_dataset(), da.coords.to_dataset())


@pytest.mark.parametrize("f", [3, 5, 6])
def test_other_factors_give_the_coordinates_back_within_an_ulp(f):
    c = 0.1 + np.arange(200) * 0.3
    da = xr.DataArray(np.zeros(200), dims="z", coords={"z": c})
    back = xiso.downsample(xiso.upsample(da, z=f), z=f)
    assert np.all(np.abs(back.z.values - c) <= 2 * np.spacing(np.abs(c)))


@pytest.mark.parametrize("f", [1, 2, 3, 4, 5])
def test_nearest_then_mean_gives_float_values_back(f):
    rng = np.random.default_rng(f)
    values = rng.integers(-1000, 1000, size=(6, 5)) / 8  # sums of f copies are exact
    da = xr.DataArray(values, dims=("z", "y"), coords={"z": np.arange(6.0), "y": np.arange(5.0)})
    back = xiso.downsample(xiso.upsample(da, z=f, y=2, method="nearest"), z=f, y=2)
    xr.testing.assert_identical(back, da)


@pytest.mark.parametrize("f", [2, 4])
def test_nearest_then_mean_gives_any_float_back_for_factors_2_and_4(f):
    # (downsample sums a block in order: 3 * v may round, and from f = 8 on,
    # or for 3 and 5, the mean of f copies of v can miss v by an ulp)
    x = np.random.default_rng(0).standard_normal(100) * 10.0 ** np.arange(-50, 50)
    da = xr.DataArray(x, dims="z")
    back = xiso.downsample(xiso.upsample(da, z=f, method="nearest"), z=f)
    np.testing.assert_array_equal(back.values, x)


def test_descending_and_integer_coordinates():
    da = xr.DataArray(np.zeros(3), dims="z", coords={"z": [4, 2, 0]})
    out = xiso.upsample(da, z=2)
    np.testing.assert_array_equal(out.z.values, [4.5, 3.5, 2.5, 1.5, 0.5, -0.5])
    assert out.z.encoding["spacing"] == 1.0


def test_single_sample_uses_the_recorded_spacing():
    da = xr.DataArray(np.ones(1), dims="z", coords={"z": [10.0]})
    set_spacing(da.z, 0.5)
    out = xiso.upsample(da, z=2)
    np.testing.assert_array_equal(out.z.values, [9.875, 10.125])
    np.testing.assert_array_equal(out.values, [1.0, 1.0])
    with pytest.raises(xiso.SpacingError, match=r"'z' has 1 sample\(s\) and no recorded spacing"):
        xiso.upsample(da.assign_coords(z=[10.0]), z=2)


@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("chunked", [False, True])
def test_empty_dims_stay_empty(method, chunked):
    data = np.zeros((0, 3), "uint16")
    da = xr.DataArray(
        dsa.from_array(data) if chunked else data,
        dims=("z", "x"),
        coords={"z": np.zeros(0), "x": np.arange(3.0)},
    )
    out = xiso.upsample(da, z=2, x=2, method=method)
    assert dict(out.sizes) == {"z": 0, "x": 6} and out.dtype == np.uint16
    assert out.values.shape == (0, 6)


def test_dims_without_coordinate_get_none():
    da = xr.DataArray(np.arange(3.0), dims="z")
    out = xiso.upsample(da, z=2)
    assert "z" not in out.coords and out.sizes["z"] == 6


# --------------------------------------------------------------------------
# values against scipy and np.repeat
# --------------------------------------------------------------------------
SHAPES_FACTORS = [
    ((7,), {0: 1}),
    ((7,), {0: 2}),
    ((5,), {0: 3}),
    ((1,), {0: 4}),
    ((6,), {0: 5}),
    ((4, 5), {0: 2, 1: 3}),
    ((3, 1, 4), {0: 4, 1: 2, 2: 5}),
    ((5, 3, 2), {0: 3, 2: 2}),
    ((2, 6), {1: 4}),
]


@pytest.mark.parametrize(("shape", "factors"), SHAPES_FACTORS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_linear_floats_match_scipy(shape, factors, dtype):
    x = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    out = upsample_array(x, factors, method="linear")
    assert out.dtype == np.dtype(dtype)
    ref = scipy_linear(x, factors)
    rtol = 1e-12 if dtype == "float64" else 1e-6
    np.testing.assert_allclose(out, ref.astype(dtype), rtol=rtol, atol=1e-12)


INTEGER_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


@pytest.mark.parametrize(("shape", "factors"), SHAPES_FACTORS)
@pytest.mark.parametrize("dtype", INTEGER_DTYPES)
def test_linear_integers_are_exact(shape, factors, dtype):
    """The exact interpolation rounded half to even, over each dtype's whole range
    (float64 used to lose the low bits of 64-bit values)."""
    info = np.iinfo(dtype)
    x = np.random.default_rng(2).integers(
        info.min, info.max, size=shape, endpoint=True, dtype=dtype
    )
    out = upsample_array(x, factors, method="linear")
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.astype(object), exact_linear(x, factors))
    if info.bits < 64:  # and scipy agrees to within float64's rounding (of 32-bit values)
        np.testing.assert_allclose(
            out.astype(np.float64), scipy_linear(x, factors), rtol=1e-14, atol=0.5 + 1e-9
        )


@pytest.mark.parametrize("chunks", [None, 1, 4])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "uint32", "int64"])
def test_linear_integer_ties_are_exact(dtype, chunks):
    """``f = 6``: the weights 1/12, 5/12, 7/12 and 11/12 are no binary fractions,
    so float64 rounded exact ties (``11 a + b = 12 k + 6``) either way."""
    f, n = 6, 40
    a = np.arange(n) % 11
    b = (6 - 11 * a) % 12  # 11 a + b = 6 (mod 12): the first output right of a is a tie
    x = np.stack([a, b], axis=1).reshape(-1)[:n].astype(dtype) + (
        np.iinfo(dtype).max // 2 // 12 * 12 if dtype == "int64" else 0
    )
    ref = fraction_linear(x, {0: f})
    assert sum(1 for v in ref if is_tie(v)) >= 10
    data = x if chunks is None else dsa.from_array(x, chunks=chunks)
    out = np.asarray(upsample_array(data, {0: f}, method="linear"))
    np.testing.assert_array_equal(out.astype(object), exact_linear(x, {0: f}))


@st.composite
def integer_cases(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    factors = {a: draw(st.integers(1, 7)) for a in range(ndim)}
    chunks = draw(st.one_of(st.none(), st.tuples(*(st.integers(1, n) for n in shape))))
    dtype = draw(st.sampled_from(INTEGER_DTYPES))
    full = draw(st.booleans())
    seed = draw(st.integers(0, 2**16))
    return shape, factors, chunks, dtype, full, seed


@settings(max_examples=60)
@given(integer_cases())
def test_linear_integers_equal_the_fraction_reference(case):
    """Any integer dtype, factors and chunking: the exact value, rounded half to even."""
    shape, factors, chunks, dtype, full, seed = case
    info = np.iinfo(dtype)
    lo, hi = (int(info.min), int(info.max)) if full else (max(int(info.min), -8), 8)
    x = np.random.default_rng(seed).integers(lo, hi, size=shape, endpoint=True, dtype=dtype)
    data = x if chunks is None else dsa.from_array(x, chunks=chunks)
    out = np.asarray(upsample_array(data, factors, method="linear"))
    assert out.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(out.astype(object), exact_linear(x, factors))


def test_linear_integer_ties_go_to_even():
    x = np.array([1, 3, 2, 4], dtype="uint16")  # f=2: 0.75 * 1 + 0.25 * 3 = 1.5 -> 2
    out = upsample_array(x, {0: 2}, method="linear")
    # exact values 1, 1.5, 2.5, 2.75, 2.25, 2.5, 3.5, 4
    np.testing.assert_array_equal(out, [1, 2, 2, 3, 2, 2, 4, 4])
    assert upsample_array(x, {0: 2}, dtype="float32").tolist() == [
        1.0, 1.5, 2.5, 2.75, 2.25, 2.5, 3.5, 4.0
    ]  # fmt: skip


def test_linear_keeps_edges_and_input_samples_exactly():
    x = np.array([0.1, np.nan, 0.7, 0.7, 1e300, -1e300])
    out = upsample_array(x, {0: 3}, method="linear")
    np.testing.assert_array_equal(out[1::3], x)  # odd f: the middle output is the sample
    assert out[0] == 0.1 and out[-1] == -1e300  # clamped edges
    assert out[8] == out[9] == 0.7  # between equal neighbours: the value itself
    assert np.isnan(out[2]) and np.isnan(out[3])


@pytest.mark.parametrize(("shape", "factors"), SHAPES_FACTORS)
@pytest.mark.parametrize("dtype", ["uint16", "float32", "<U2", "bool"])
def test_nearest_repeats(shape, factors, dtype):
    x = np.random.default_rng(3).integers(0, 5, size=shape).astype(dtype)
    out = upsample_array(x, factors, method="nearest")
    np.testing.assert_array_equal(out, repeat(x, factors))
    assert out.dtype == x.dtype and out is not x


def test_dtype_policy():
    x = np.array([0, 255, 0], dtype=">u2")
    assert upsample_array(x, {0: 2}).dtype == np.dtype("uint16")  # native order
    assert upsample_array(x, {0: 2}, method="nearest").dtype == np.dtype("uint16")
    assert upsample_array(x, {0: 2}, dtype="float32").tolist() == [
        0,
        63.75,
        191.25,
        191.25,
        63.75,
        0,
    ]
    f = np.array([-3.0, 300.0])
    # -3, 72.75, 224.25, 300 rounded and clipped
    np.testing.assert_array_equal(upsample_array(f, {0: 2}, dtype="uint8"), [0, 73, 224, 255])
    with pytest.raises(xiso.DtypeError, match="method='linear' cannot upsample data of dtype bool"):
        upsample_array(np.zeros(2, bool), {0: 2})
    with pytest.raises(xiso.DtypeError, match="dtype='nope' is not a data type"):
        upsample_array(f, {0: 2}, dtype="nope")


# --------------------------------------------------------------------------
# dask: lazy, and bit-identical to numpy whatever the chunking
# --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["linear", "nearest"])
def test_dask_is_lazy(method, raise_if_dask_computes):
    x = dsa.from_array(np.arange(60, dtype="uint16").reshape(5, 12), chunks=(2, 5))
    da = xr.DataArray(x, dims=("z", "x"), coords={"z": np.arange(5.0), "x": np.arange(12.0)})
    out = xiso.upsample(da, z=3, x=2, method=method)
    assert out.chunks == ((6, 6, 3), (10, 10, 4))
    assert isinstance(out.data, dsa.Array)


@st.composite
def chunked_arrays(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 7)) for _ in range(ndim))
    factors = {a: draw(st.integers(1, 5)) for a in range(ndim)}
    chunks = tuple(draw(st.integers(1, n)) for n in shape)
    dtype = draw(st.sampled_from(["float64", "float32", "uint8", "int16", "uint16"]))
    method = draw(st.sampled_from(["linear", "nearest"]))
    seed = draw(st.integers(0, 2**16))
    return shape, factors, chunks, dtype, method, seed


@settings(max_examples=30)
@given(chunked_arrays())
def test_dask_is_bit_identical_to_numpy(case):
    shape, factors, chunks, dtype, method, seed = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 100).astype(dtype)
    expected = upsample_array(x, factors, method=method)
    lazy = upsample_array(dsa.from_array(x, chunks=chunks), factors, method=method)
    out = lazy.compute(scheduler="sync")
    assert out.dtype == expected.dtype == lazy.dtype
    assert out.tobytes() == expected.tobytes()
    assert lazy.shape == expected.shape


def test_dask_one_sample_chunks_match_numpy():
    x = np.random.default_rng(5).standard_normal((4, 5, 3))
    factors = {0: 3, 1: 2, 2: 5}
    out = upsample_array(dsa.from_array(x, chunks=1), factors).compute()
    assert out.tobytes() == upsample_array(x, factors).tobytes()


# --------------------------------------------------------------------------
# the labelled layer
# --------------------------------------------------------------------------
def make_dataset(chunked=False):
    rng = np.random.default_rng(0)
    vol = rng.integers(0, 1000, size=(4, 3, 2)).astype("uint16")
    data = dsa.from_array(vol, chunks=(2, 3, 1)) if chunked else vol
    ds = xr.Dataset(
        {
            "vol": (("z", "y", "c"), data, {"long_name": "intensity"}),
            "labels": (("z", "y"), rng.integers(0, 3, size=(4, 3)).astype("uint8")),
            "t": ("c", np.array([1.5, 2.5])),
        },
        coords={
            "z": ("z", np.arange(4) * 0.5, {"units": "um"}),
            "y": ("y", np.arange(3.0), {"units": "um"}),
            "c": ["r", "g"],
            "slice_id": ("z", ["a", "b", "c", "d"]),
            "plane": (("z", "y"), np.arange(12).reshape(4, 3)),
        },
        attrs={"title": "t"},
    )
    ds["vol"].encoding["dtype"] = "uint16"
    return ds


@pytest.mark.parametrize("chunked", [False, True])
def test_dataset(chunked):
    ds = make_dataset(chunked)
    before = ds.copy(deep=True)
    out = xiso.upsample(ds, z=2)
    xr.testing.assert_identical(ds, before)  # not mutated
    assert dict(out.sizes) == {"z": 8, "y": 3, "c": 2}
    assert out.attrs == ds.attrs and out["vol"].attrs == ds["vol"].attrs
    assert out.z.attrs == {"units": "um"} and out.z.encoding["spacing"] == 0.25
    np.testing.assert_array_equal(out.z.values, upsampled_grid(ds.z.values, 2))
    xr.testing.assert_identical(out["t"], ds["t"])  # no upsampled dim: untouched
    xr.testing.assert_identical(out["y"], ds["y"])
    xr.testing.assert_identical(out["c"], ds["c"])
    np.testing.assert_array_equal(out["slice_id"].values, np.repeat(ds["slice_id"].values, 2))
    np.testing.assert_array_equal(out["plane"].values, np.repeat(ds["plane"].values, 2, axis=0))
    vol = ds["vol"].values
    np.testing.assert_array_equal(
        out["vol"].values, np.rint(scipy_linear(vol, {0: 2})).astype("uint16")
    )
    assert out["vol"].encoding == {"dtype": "uint16"}
    labels = xiso.upsample(ds, z=2, method="nearest")["labels"]
    np.testing.assert_array_equal(labels.values, np.repeat(ds["labels"].values, 2, axis=0))


def test_dataarray_name_attrs_and_factor_forms():
    da = make_dataset()["vol"].rename("v")
    out = xiso.upsample(da, z=2, y=3)
    assert out.name == "v" and out.attrs == da.attrs and out.dims == da.dims
    assert dict(out.sizes) == {"z": 8, "y": 9, "c": 2}
    xr.testing.assert_identical(out, xiso.upsample(da, {"z": 2, "y": 3}))
    xr.testing.assert_identical(out, da.iso.upsample(z=2, y=3))
    xr.testing.assert_identical(out, da.iso.upsample({"z": 2, "y": 3}))
    ds = make_dataset()
    xr.testing.assert_identical(ds.iso.upsample(z=2), xiso.upsample(ds, z=2))


def test_dtype_argument_applies_to_variables_with_the_dims():
    ds = make_dataset()
    with pytest.warns(xiso.XisoWarning, match="'labels' looks like a label image.*into floats"):
        out = xiso.upsample(ds, {"y": 1}, dtype="float32")
    assert out["vol"].dtype == np.float32 and out["labels"].dtype == np.float32
    assert out["t"].dtype == np.float64  # no y
    assert "dtype" not in out["vol"].encoding


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda o: xiso.upsample(o, q=2), xiso.FactorError, "not a dimension of this object"),
        (lambda o: xiso.upsample(o, z=0), xiso.FactorError, "it must be an integer >= 1"),
        (lambda o: xiso.upsample(o, z=1.5), xiso.FactorError, "it must be an integer >= 1"),
        (lambda o: xiso.upsample(o, z=True), xiso.FactorError, "it must be an integer >= 1"),
        (lambda o: xiso.upsample(o), xiso.FactorError, r"no factors given; pass e\.g\. upsample"),
        (lambda o: xiso.upsample(o, {}), xiso.FactorError, "no factors given"),
        (lambda o: xiso.upsample(o, [2]), xiso.FactorError, "upsample.. takes the factors as"),
        (lambda o: xiso.upsample(o, {"z": 2}, y=2), xiso.OptionError, "not both"),
        (lambda o: xiso.upsample(o, z=2, method="cubic"), xiso.OptionError, "method='cubic'"),
        (lambda o: xiso.upsample(o, z=2, dtype="nope"), xiso.DtypeError, "not a data type"),
    ],
)
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call(make_dataset()["vol"])


def test_unknown_dim_error_is_downsamples():
    da = make_dataset()["vol"]
    with pytest.raises(xiso.FactorError) as down:
        xiso.downsample(da, q=2)
    with pytest.raises(xiso.FactorError) as up:
        xiso.upsample(da, q=2)
    assert str(up.value) == str(down.value)


def test_variable_dtype_and_coordinate_errors():
    ds = make_dataset()
    ds["mask"] = ("z", np.ones(4, bool))
    with (
        pytest.raises(xiso.DtypeError, match="variable 'mask': method='linear' cannot upsample"),
        pytest.warns(xiso.XisoWarning, match="'labels' looks like a label image"),
    ):
        xiso.upsample(ds, z=2, method="linear")
    assert xiso.upsample(ds, z=2, method="nearest")["mask"].dtype == bool
    # by default a mask (boolean) repeats its samples, as resample does
    np.testing.assert_array_equal(xiso.upsample(ds, z=2)["mask"].values, np.ones(8, bool))
    ds = ds.drop_vars("mask")
    with pytest.raises(xiso.SpacingError, match="has dtype <U1, not a number"):
        xiso.upsample(ds, c=2)
    uneven = ds.assign_coords(z=[0.0, 1.0, 3.0, 4.0])
    with pytest.raises(xiso.NonUniformSpacingError, match="'z' is not evenly spaced"):
        xiso.upsample(uneven, z=2)
    tree = xr.DataTree.from_dict({"a": ds})
    with pytest.raises(TypeError, match="got a DataTree; upsample each node"):
        xiso.upsample(tree, z=2)


@pytest.mark.parametrize("chunked", [False, True])
def test_label_images_default_to_nearest(chunked):
    """As in resample: what looks like labels repeats its samples, intensities
    are interpolated, and only an explicit ``linear`` warns."""
    values = np.array([1, 9, 1, 9], dtype="uint16")
    ds = xr.Dataset(
        {"nucleus_labels": ("z", values), "vol": ("z", values)}, coords={"z": np.arange(4.0)}
    )
    if chunked:
        ds = ds.chunk(z=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = xiso.upsample(ds, z=2)
    np.testing.assert_array_equal(out["nucleus_labels"].values, np.repeat(values, 2))
    np.testing.assert_array_equal(out["vol"].values, exact_linear(values, {0: 2}).astype("uint16"))
    with pytest.warns(xiso.XisoWarning, match="'nucleus_labels' looks like a label image"):
        linear = xiso.upsample(ds, z=2, method="linear")
    np.testing.assert_array_equal(linear["nucleus_labels"].values, out["vol"].values)


# --------------------------------------------------------------------------
# upsample is resample onto s / f: the same values, the same grid
# --------------------------------------------------------------------------
STEPS = {"z": 0.3, "y": 1.0, "x": -0.7}


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("method", ["linear", "nearest"])
@pytest.mark.parametrize("dtype", ["uint8", "int16", "int64", "float32", "float64"])
@pytest.mark.parametrize("factors", [{"z": 2}, {"z": 3, "y": 2}, {"z": 4, "y": 3, "x": 2}])
def test_upsample_is_resample_onto_the_spacing_over_f(factors, dtype, method, chunked):
    rng = np.random.default_rng(7)
    shape = (5, 4, 3)
    if np.dtype(dtype).kind == "f":
        x = (rng.standard_normal(shape) * 100).astype(dtype)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)
    coords = {d: 2.0 + np.arange(n) * STEPS[d] for d, n in zip(STEPS, shape)}
    da = xr.DataArray(x, dims=tuple(STEPS), coords=coords, name="vol")
    if chunked:
        da = da.chunk({"z": 2, "y": 3, "x": 2})
    up = xiso.upsample(da, factors, method=method)
    ref = xiso.resample(da, {d: abs(STEPS[d]) / f for d, f in factors.items()}, method=method)
    assert up.dtype == ref.dtype == np.dtype(dtype)
    assert up.values.tobytes() == ref.values.tobytes()
    for d in STEPS:
        np.testing.assert_allclose(up[d].values, ref[d].values, rtol=0, atol=1e-12)
        if d in factors:  # the spacing read from the coordinate over f, and the one asked
            assert up[d].encoding["spacing"] == pytest.approx(ref[d].encoding["spacing"], 1e-12)
    # and both are the independent reference
    axes = {da.get_axis_num(d): f for d, f in factors.items()}
    if method == "nearest":
        np.testing.assert_array_equal(up.values, repeat(x, axes))
    elif np.dtype(dtype).kind == "f":
        rtol = 1e-12 if dtype == "float64" else 1e-6
        np.testing.assert_allclose(up.values, scipy_linear(x, axes).astype(dtype), rtol=rtol)
    else:
        np.testing.assert_array_equal(up.values.astype(object), exact_linear(x, axes))


def test_accessor_docstring_is_the_twins():
    doc = inspect.getdoc(make_dataset().iso.upsample)
    assert doc.startswith(inspect.getdoc(xiso.upsample).splitlines()[0])
    assert "``obj.iso.upsample(...)`` is ``xiso.upsample(obj, ...)``." in doc
    assert ">>> out = da.iso.upsample(z=2)" in doc
    assert "obj : " not in doc
    # the default depends on the variable (labels and masks: nearest), as resample's
    assert inspect.signature(xr.DataArray.iso.upsample).parameters["method"].default is None
    assert inspect.signature(xiso.upsample).parameters["method"].default is None


def test_exported():
    from xiso.exact import upsample

    assert "upsample" in xiso.__all__ and xiso.upsample is upsample
