"""Tests of exact resampling: xiso.resample, xiso.isotropic, xiso.resample_like
(labelled layer, xiso/exact.py), xiso.interp (array layer) and xiso.grid.

Expected values come from references independent of xiso (tests/reference.py,
but for the ``nearest`` and ``linear`` / ``cubic`` lookups written here):

- the grid formula of the issue, written out in floats;
- ``area``: the overlap of every output cell with every input cell computed
  with Python fractions, the sum done in exact rational arithmetic, rounded
  half to even (integers) or compared to 1e-12 (floats);
- ``nearest``: the input cell that holds each output centre, by ``searchsorted``
  on the cell edges (ties to the lower cell);
- ``linear`` / ``cubic``: ``scipy.ndimage.map_coordinates`` on the whole array
  at the output centres clamped to the samples (``mode="nearest"``), after
  ``scipy.ndimage.gaussian_filter1d`` along the reduced axes when anti-aliasing.
"""

from __future__ import annotations

import bisect
import warnings
from fractions import Fraction

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import (
    area_reference,
    centred,
    frac,
    is_tie,
    out_positions,
    overlap_matrix,
    ref_grid,
    round_half_even,
    rounded,
)
from scipy import ndimage

import xiso
from xiso import interp
from xiso.errors import (
    DtypeError,
    FactorError,
    NonUniformSpacingError,
    OptionError,
    SpatialDimError,
    UnitError,
    XisoWarning,
)


def volume(shape=(10, 6, 5), spacing=(0.3, 1.0, 1.0), dtype="uint16", seed=0, units=None):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(dtype)
        data = rng.integers(info.min, info.max, shape, endpoint=True).astype(dtype)
    else:
        data = (rng.random(shape) * 100).astype(dtype)
    attrs = {} if units is None else {"units": units}
    coords = {
        d: (d, np.arange(n) * s + 0.5 * i, attrs)
        for i, (d, n, s) in enumerate(zip("zyx", shape, spacing))
    }
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="vol")


# --------------------------------------------------------------------------
# the grid
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "n, s, s_new, n_new",
    [
        (10, 0.3, 1.0, 3),  # L = 3.0
        (16, 0.25, 1.0, 4),
        (10, 1.0, 4.0, 2),  # 2.5 -> ties to the smaller
        (11, 1.0, 4.0, 3),  # 2.75
        (3, 1.0, 10.0, 1),  # at least one sample
        (4, 1.0, 0.5, 8),  # enlarging
        (7, 0.3, 0.2, 10),  # 10.5 -> 10
    ],
)
def test_grid_length_and_coords(n, s, s_new, n_new):
    da = xr.DataArray(np.zeros(n), dims="z", coords={"z": 2.0 + np.arange(n) * s})
    out = xiso.resample(da, s_new)
    expected_n, first = ref_grid(n, s, 2.0, s_new)
    assert expected_n == n_new == out.sizes["z"]
    np.testing.assert_allclose(out.z.values, first + np.arange(n_new) * s_new, rtol=0, atol=1e-12)
    assert out.z.encoding["spacing"] == s_new
    # centred: the two fields of view share their centre
    fov_in = (da.z.values[0] + da.z.values[-1]) / 2
    assert (out.z.values[0] + out.z.values[-1]) / 2 == pytest.approx(fov_in, abs=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize("dtype", ["uint16", "float32", "int8"])
def test_whole_ratio_is_downsample(backend, dtype):
    da = volume((16, 6, 5), (0.25, 1.0, 1.0), dtype=dtype)
    if backend == "dask":
        da = da.chunk({"z": 3, "y": 4})
    out = da.iso.resample(1.0)
    expected = da.iso.downsample(z=4)
    xr.testing.assert_identical(out.compute(), expected.compute())
    np.testing.assert_array_equal(out.z.values, [0.375, 1.375, 2.375, 3.375])
    # the same cells with another method keep the same coordinates
    lin = da.iso.resample(1.0, method="linear")
    np.testing.assert_array_equal(lin.z.values, out.z.values)


def test_isotropic_leaves_coarsest_dims_alone():
    da = volume((10, 6, 5), (0.3, 1.0, 1.0))
    out = da.iso.isotropic()
    assert dict(out.sizes) == {"z": 3, "y": 6, "x": 5}
    xr.testing.assert_identical(out.y, da.y)
    xr.testing.assert_identical(out.x, da.x)
    assert out.iso.spacing == pytest.approx({"z": 1.0, "y": 1.0, "x": 1.0})


# --------------------------------------------------------------------------
# area: exact against fractions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint16", "int16", "uint8"])
@pytest.mark.parametrize(
    "spacing, new",
    [
        ((0.3, 1.0, 1.0), {"z": 1.0}),
        ((0.3, 0.7, 1.0), {"z": 1.0, "y": 1.0}),
        ((1.0, 1.0, 1.0), {"x": 0.75}),
    ],
)
def test_area_integers_exact(dtype, spacing, new):
    da = volume((10, 7, 5), spacing, dtype=dtype)
    out = da.iso.resample(new, method="area")
    axes = {}
    for d, s_new in new.items():
        axis = da.get_axis_num(d)
        axes[axis] = centred(da.sizes[d], spacing[axis], s_new)
    ref = area_reference(da.values, axes)
    expected = np.vectorize(round_half_even)(ref).astype(dtype)
    np.testing.assert_array_equal(out.values, expected)
    assert out.dtype == np.dtype(dtype)


def test_area_floats_and_total():
    da = volume((10, 8, 5), (0.3, 0.7, 1.0), dtype="float64")
    out = da.iso.resample({"z": 1.0, "y": 1.4})
    axes = {0: centred(10, 0.3, 1.0), 1: centred(8, 0.7, 1.4)}
    ref = area_reference(da.values, axes).astype(np.float64)
    np.testing.assert_allclose(out.values, ref, rtol=1e-12)
    # same field of view (10 * 0.3 = 3 * 1.0; 8 * 0.7 = 4 * 1.4): the total is kept
    total_in = float(da.sum()) * 0.3 * 0.7
    total_out = float(out.sum()) * 1.0 * 1.4
    assert total_out == pytest.approx(total_in, rel=1e-12)


def test_area_skips_nan_like_the_block_mean():
    da = volume((16, 4, 4), (0.25, 1.0, 1.0), dtype="float64")
    da[1:3, 0, 0] = np.nan
    da[3:8, 1, 1] = np.nan
    xr.testing.assert_identical(da.iso.resample(1.0), da.iso.downsample(z=4))
    out = da.iso.resample({"z": 0.75})  # 3 cells, not aligned: average of the non-NaN inputs
    x = da.values
    w = overlap_matrix(16, *centred(16, 0.25, 0.75)[:1], frac(3.0), centred(16, 0.25, 0.75)[2])
    for j, row in enumerate(w):
        weights = np.array([float(v) for v in row])
        for yx in [(0, 0), (1, 1), (2, 3)]:
            col = x[(slice(None), *yx)]
            ok = ~np.isnan(col) & (weights > 0)
            expected = (weights[ok] * col[ok]).sum() / weights[ok].sum() if ok.any() else np.nan
            np.testing.assert_allclose(out.values[(j, *yx)], expected, rtol=1e-12)
    assert np.isnan(out.values[1, 1, 1])  # its cell [3.5, 6.5) holds only NaN
    assert np.isnan(da.iso.resample({"z": 0.75}, skipna=False).values[0, 0, 0])


# --------------------------------------------------------------------------
# nearest, linear, cubic against independent references
# --------------------------------------------------------------------------
@pytest.mark.parametrize("ratio", [2.0, 3.0, 10 / 3, 0.5, 0.4, 1.5, 7.0])
def test_nearest_is_the_cell_holding_the_centre(ratio):
    n = 12
    da = xr.DataArray(np.arange(n, dtype="uint16") * 3, dims="z", coords={"z": np.arange(n) * 1.0})
    out = da.iso.resample(ratio, method="nearest")
    centres = out_positions(n, ratio, exact=True)
    edges = [Fraction(2 * i + 1, 2) for i in range(n - 1)]  # between sample i and i + 1
    index = [bisect.bisect_left(edges, c) for c in centres]  # a tie goes to the lower cell
    np.testing.assert_array_equal(out.values, da.values[index])
    assert set(np.unique(out.values)) <= set(np.unique(da.values))


@pytest.mark.parametrize("method, order", [("linear", 1), ("cubic", 3)])
@pytest.mark.parametrize("antialias", [True, False])
def test_interpolation_against_scipy(method, order, antialias):
    da = volume((13, 9, 11), (0.3, 0.7, 1.7), dtype="float64")
    new = {"z": 1.0, "y": 1.0, "x": 1.0}
    out = da.iso.resample(new, method=method, antialias=antialias)
    x = da.values
    coords = []
    for axis, (d, s) in enumerate(zip("zyx", (0.3, 0.7, 1.7))):
        u = out_positions(da.sizes[d], new[d] / s)
        coords.append(np.clip(u, 0, da.sizes[d] - 1))
        r = new[d] / s
        if antialias and r > 1:
            x = ndimage.gaussian_filter1d(x, (r - 1) / 2, axis=axis, mode="nearest")
    mesh = np.meshgrid(*coords, indexing="ij")
    ref = ndimage.map_coordinates(x, mesh, order=order, mode="nearest")
    np.testing.assert_allclose(out.values, ref, rtol=1e-12, atol=1e-11)


def test_integer_interpolation_rounds_and_clips():
    da = xr.DataArray(
        np.array([0, 0, 255, 255, 0, 0], dtype="uint8"), dims="x", coords={"x": np.arange(6.0)}
    )
    out = da.iso.resample(0.5, method="cubic")
    assert out.dtype == np.uint8  # cubic overshoots: clipped to 0..255, not wrapped
    ref = ndimage.map_coordinates(
        da.values.astype(float), [np.clip(out_positions(6, 0.5), 0, 5)], order=3, mode="nearest"
    )
    np.testing.assert_array_equal(out.values, np.clip(np.rint(ref), 0, 255).astype("uint8"))


def test_edges_follow_the_edge_sample_not_nan():
    da = volume((10, 6, 5), (0.3, 1.0, 1.0), dtype="float32")
    iso = da.iso.isotropic(method="linear")
    back = iso.iso.resample_like(da)
    assert not np.isnan(back.values).any()
    np.testing.assert_array_equal(back.values[0], back.values[1] * 0 + back.values[0])


# --------------------------------------------------------------------------
# dask: lazy, and the chunking changes nothing
# --------------------------------------------------------------------------
def test_lazy(raise_if_dask_computes):
    da = volume((20, 6, 5), (0.3, 1.0, 1.0)).chunk({"z": 4})
    for method in ("area", "nearest", "linear", "cubic"):
        out = da.iso.resample({"z": 1.0, "y": 0.75}, method=method)
        assert isinstance(out.data, dsa.Array)
    back = da.iso.isotropic().iso.resample_like(da)
    assert isinstance(back.data, dsa.Array)


@settings(max_examples=40)
@given(
    n=st.integers(2, 23),
    ratio=st.sampled_from([0.25, 0.4, 0.5, 0.75, 1.5, 2.0, 3.0, 10 / 3, 4.0, 7.0]),
    chunk=st.integers(1, 9),
    method=st.sampled_from(["area", "nearest", "linear", "cubic"]),
    dtype=st.sampled_from(["uint16", "float32", "float64", "int8"]),
)
def test_chunking_changes_nothing(n, ratio, chunk, method, dtype):
    da = volume((n, 3, 7), (1.0, 1.0, 1.0), dtype=dtype, seed=n)
    new = {"z": ratio, "x": 1.75}
    expected = da.iso.resample(new, method=method)
    got = da.chunk({"z": chunk, "x": 2}).iso.resample(new, method=method).compute()
    if method == "cubic":  # a recursive prefilter: the last bits of float64 may differ
        np.testing.assert_allclose(got.values, expected.values, rtol=1e-13, atol=1e-10)
    else:
        np.testing.assert_array_equal(got.values, expected.values)
    xr.testing.assert_identical(got.z, expected.z)


# --------------------------------------------------------------------------
# resample_like: back to the original grid
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_round_trip_to_the_original_grid(backend):
    da = volume((12, 8, 8), (0.3, 1.0, 1.0), dtype="float64", units="um")
    if backend == "dask":
        da = da.chunk({"z": 5})
    iso = da.iso.isotropic()
    back = iso.iso.resample_like(da)
    assert back.sizes == da.sizes
    xr.testing.assert_identical(back.z, da.z)
    assert not np.isnan(back.values).any()
    # linear interpolation of the isotropic data at the original centres
    u = (da.z.values - iso.z.values[0]) / 1.0
    ref = ndimage.map_coordinates(
        iso.values,
        np.meshgrid(np.clip(u, 0, iso.sizes["z"] - 1), np.arange(8), np.arange(8), indexing="ij"),
        order=1,
        mode="nearest",
    )
    np.testing.assert_allclose(back.values, ref, rtol=1e-12)


def test_resample_like_converts_units_and_keeps_other_coords():
    da = volume((12, 4, 4), (300.0, 1000.0, 1000.0), dtype="float64", units="nm")
    other = volume((12, 4, 4), (0.3, 1.0, 1.0), dtype="float64", units="um")
    other = other.assign_coords(
        y=("y", da.y.values / 1000, {"units": "um"}), x=("x", da.x.values / 1000, {"units": "um"})
    )
    out = da.iso.resample_like(other, method="nearest")
    xr.testing.assert_identical(out.z, other.z)
    np.testing.assert_array_equal(out.values[:, :, :], da.values[:, :, :])


def test_resample_like_descending_target():
    da = xr.DataArray(np.arange(8.0), dims="x", coords={"x": np.arange(8.0)})
    other = xr.DataArray(np.zeros(8), dims="x", coords={"x": np.arange(8.0)[::-1]})
    out = da.iso.resample_like(other, method="nearest")
    np.testing.assert_array_equal(out.values, da.values[::-1])
    xr.testing.assert_identical(out.x, other.x)


# --------------------------------------------------------------------------
# labelled behaviour
# --------------------------------------------------------------------------
def test_dataset_coords_attrs_and_other_dims():
    da = volume((10, 6, 5), (0.3, 1.0, 1.0), units="um")
    ds = xr.Dataset(
        {"vol": da, "mask": da > 30000, "t0": ("t", np.arange(3))},
        coords={"slice_time": ("z", np.arange(10) * 2.0)},
        attrs={"source": "scope"},
    )
    ds["vol"].attrs["long_name"] = "intensity"
    out = ds.iso.isotropic(method="nearest")
    assert out.attrs == ds.attrs and out["vol"].attrs == ds["vol"].attrs
    assert out.z.attrs == ds.z.attrs
    xr.testing.assert_identical(out["t0"], ds["t0"])
    assert out.slice_time.dims == ("z",) and out.sizes["z"] == 3
    assert out["mask"].dtype == bool


def test_labels_default_to_nearest_and_warn_on_averaging():
    labels = volume((10, 6, 5), (0.3, 1.0, 1.0), dtype="uint16").rename("labels")
    labels.values[:] = labels.values % 5
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = labels.iso.isotropic()  # nearest: no warning, no new label
    assert set(np.unique(out.values)) <= set(np.unique(labels.values))
    with pytest.warns(XisoWarning, match=r"looks like a label image.*method='nearest'"):
        labels.iso.isotropic(method="area")


def test_default_method_enlarging_is_linear():
    da = volume((4, 4, 4), (1.0, 1.0, 1.0), dtype="float64")
    out = da.iso.resample({"z": 0.5})
    np.testing.assert_allclose(out.values, da.iso.resample({"z": 0.5}, method="linear").values)
    assert not np.array_equal(out.values, da.iso.resample({"z": 0.5}, method="area").values)


def test_quantity_and_units():
    da = volume((10, 6, 5), (300.0, 1000.0, 1000.0), units="nm")
    out = da.iso.resample("1 um")
    assert dict(out.sizes) == {"z": 3, "y": 6, "x": 5}
    assert out.z.encoding["spacing"] == 1000.0


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
def test_errors():
    da = volume((10, 6, 5), (0.3, 1.0, 1.0), units="um")
    with pytest.raises(FactorError, match=r"dimension 'z'.*positive"):
        da.iso.resample({"z": -1.0})
    with pytest.raises(FactorError, match="check the units"):
        da.iso.resample("2 parsec")
    with pytest.raises(UnitError, match="not a length"):
        da.iso.resample("1 s")
    with pytest.raises(OptionError, match="method='bicubic' is not supported"):
        da.iso.resample(1.0, method="bicubic")
    with pytest.raises(OptionError, match="not both"):
        da.iso.resample({"z": 1.0}, dims=["z"])
    with pytest.raises(DtypeError, match="variable 'vol'"):
        da.astype("datetime64[ns]").iso.resample(1.0, method="area")
    with pytest.raises(SpatialDimError, match="no coordinate for any spatial dim"):
        da.iso.resample_like(xr.DataArray(np.zeros(3), dims="t", coords={"t": [0, 1, 2]}))
    uneven = da.isel(z=[0, 1, 3, 4]).rename("other")
    with pytest.raises(NonUniformSpacingError, match="'z'"):
        da.iso.resample_like(uneven)
    with pytest.raises(UnitError, match="units"):
        da.iso.resample_like(volume((10, 6, 5), (0.3, 1.0, 1.0)))
    with pytest.raises(TypeError, match="DataTree"):
        xiso.resample(xr.DataTree(), 1.0)


# --------------------------------------------------------------------------
# OME-Zarr: open straight onto the isotropic grid
# --------------------------------------------------------------------------
def test_open_ome_zarr_isotropic(tmp_path, raise_if_dask_computes):
    da = volume((20, 8, 6), (0.3, 1.0, 1.0), units="micrometer")
    path = tmp_path / "in.ome.zarr"
    import dask

    with dask.config.set(scheduler="sync"):
        da.iso.to_ome_zarr(path)
    out = xiso.open_ome_zarr(path, isotropic=True)
    assert isinstance(out.data, dsa.Array)
    expected = da.iso.isotropic()
    with dask.config.set(scheduler="sync"):
        np.testing.assert_array_equal(out.values, expected.values)
    np.testing.assert_allclose(out.z.values, expected.z.values, rtol=0, atol=1e-12)
    with pytest.raises(OptionError, match="two different grids"):
        xiso.open_ome_zarr(path, isotropic=True, near_isotropic=True)


@pytest.mark.parametrize(
    "dtype, out",
    [("uint16", "float64"), ("uint8", "float32"), ("uint16", "uint8"), ("int16", "int8")],
)
def test_area_exact_path_with_another_dtype(dtype, out):
    """A float dtype gets the unrounded quotient; a narrower integer is clipped, not wrapped."""
    da = volume((10, 4, 3), (0.3, 1.0, 1.0), dtype=dtype)
    got = da.iso.resample({"z": 1.0}, dtype=out)
    ref = area_reference(da.values, {0: centred(10, 0.3, 1.0)})
    if np.dtype(out).kind == "f":
        expected = np.array([float(v) for v in ref.ravel()]).reshape(ref.shape).astype(out)
        np.testing.assert_array_equal(got.values, expected)
    else:
        info = np.iinfo(out)
        rounded = np.vectorize(round_half_even)(ref).astype(np.int64)
        np.testing.assert_array_equal(got.values, np.clip(rounded, info.min, info.max).astype(out))
    assert got.dtype == np.dtype(out)


def test_errors_speak_of_the_spacing_asked():
    da = volume((10, 6, 5), (0.3, 1.0, 1.0))
    with pytest.raises(UnitError, match="spacing 'abc' cannot be parsed"):
        da.iso.resample("abc")
    with pytest.raises(xiso.SpacingError, match="spacing is None"):
        da.iso.resample(None)
    with pytest.raises(xiso.MissingCoordinateError, match="assign one") as caught:
        da.drop_vars("z").iso.isotropic()
    assert "pass spacing=" not in str(caught.value)  # there, spacing= is the output's


# --------------------------------------------------------------------------
# found in review
# --------------------------------------------------------------------------
def test_a_target_running_the_other_way_keeps_integer_exactness():
    rng = np.random.default_rng(3)
    for _ in range(30):
        d = xr.DataArray(
            rng.integers(0, 255, 30).astype("uint8"), dims="z", coords={"z": np.arange(30.0)}
        )
        t = xr.DataArray(np.zeros(8), dims="z", coords={"z": 3.0 + 1.5 * np.arange(8)})
        up = d.iso.resample_like(t, method="area")
        down = d.iso.resample_like(t.isel(z=slice(None, None, -1)), method="area")
        np.testing.assert_array_equal(down.values[::-1], up.values)


def test_flipping_the_axis_commutes_with_resampling():
    z = xr.DataArray(np.arange(10.0), dims="z", coords={"z": np.arange(10) * 0.3})
    flipped = z.isel(z=slice(None, None, -1))
    for method in ("nearest", "area", "linear", "cubic"):
        a = z.iso.resample(1.0, method=method)
        b = flipped.iso.resample(1.0, method=method)
        np.testing.assert_allclose(b.values[::-1], a.values, rtol=1e-14)
        np.testing.assert_allclose(b.z.values[::-1], a.z.values, rtol=1e-14)


def test_defaults_are_per_variable_in_a_dataset():
    da = volume((10, 4, 4), (0.3, 1.0, 1.0), dtype="float64")
    ds = xr.Dataset({"img": da, "nuc_labels": da.astype("uint16"), "mask": da > 50})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ds.iso.isotropic()
    xr.testing.assert_identical(out["img"], da.iso.isotropic(method="area").rename("img"))
    expected = ds["nuc_labels"].iso.isotropic(method="nearest")
    np.testing.assert_array_equal(out["nuc_labels"].values, expected.values)
    assert out["mask"].dtype == bool
    np.testing.assert_array_equal(out["mask"].values, ds["mask"].iso.resample(1.0).values)


def test_tiny_ratios_keep_their_grid():
    z = xr.DataArray(np.arange(3.0), dims="z", coords={"z": np.arange(3.0)})
    out = z.iso.resample(1 / 150000)
    assert out.sizes["z"] == 450000
    assert out.z.values[-1] == pytest.approx(2.5 - 0.5 / 150000, abs=1e-9)
    np.testing.assert_array_equal(out.values[:3], [0.0, 0.0, 0.0])  # the edge sample


def test_cubic_with_nan_is_local_and_chunk_independent():
    x = np.random.default_rng(0).random(200)
    x[3], x[150] = np.nan, np.inf
    z = xr.DataArray(x, dims="z", coords={"z": np.arange(200.0)})
    a = z.iso.resample(2.0, method="cubic")
    b = z.chunk(20).iso.resample(2.0, method="cubic").compute()
    np.testing.assert_allclose(b.values, a.values, rtol=1e-13, equal_nan=True)
    nan = np.isnan(a.values)
    assert nan[1] and nan[75] and not nan[40]  # near the bad samples only
    clean = x.copy()
    clean[[3, 150]] = 0.0
    far = ~nan
    ref = xr.DataArray(clean, dims="z", coords={"z": np.arange(200.0)}).iso.resample(
        2.0, method="cubic"
    )
    np.testing.assert_allclose(a.values[far], ref.values[far], rtol=1e-12)


def test_large_reduction_linear_against_scipy():
    x = np.random.default_rng(1).random(400)
    z = xr.DataArray(x, dims="z", coords={"z": np.arange(400.0)})
    out = z.iso.resample(40.0, method="linear")
    u = np.clip(out_positions(400, 40.0), 0, 399)
    smooth = ndimage.gaussian_filter1d(x, 19.5, mode="nearest")
    ref = ndimage.map_coordinates(smooth, [u], order=1, mode="nearest")
    np.testing.assert_allclose(out.values, ref, rtol=1e-12)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("method", ["linear", "nearest", "area", "cubic"])
def test_an_empty_dim_that_is_not_resampled(method, chunked):
    """No samples along another dim: the result is empty too (the float path
    cut it into tiles of 0 elements)."""
    da = xr.DataArray(np.zeros((0, 4)), dims=("c", "z"), coords={"z": np.arange(4.0)})
    if chunked:
        da = da.chunk()
    out = xiso.resample(da, {"z": 0.5}, method=method)
    assert out.shape == (0, 8) and out.values.shape == (0, 8)


def test_more_errors(tmp_path):
    da = volume((10, 6, 5), (0.3, 1.0, 1.0))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(FactorError, match="positive, finite length"):
            da.iso.resample(bad)
    with pytest.raises(FactorError, match=r"times larger than the data.*check the spacing's unit"):
        da.iso.resample(1e-4)
    one = da.isel(z=[0])
    one.z.encoding.pop("spacing", None)
    with pytest.raises(xiso.SpacingError, match=r"single sample.*encoding\['spacing'\] = step"):
        one.iso.isotropic()
    uneven = da.isel(z=[0, 1, 2, 4])
    with pytest.raises(NonUniformSpacingError, match="no grid to resample from") as caught:
        uneven.iso.isotropic()
    assert "boundary" not in str(caught.value)
    with pytest.raises(TypeError, match="map_over_datasets"):
        xiso.resample(xr.DataTree(), 1.0)
    with pytest.raises(DtypeError, match=r"^the DataArray: "):
        da.rename(None).astype("datetime64[ns]").iso.resample(1.0, method="area")
    path = tmp_path / "a.ome.zarr"
    da.iso.to_ome_zarr(path)
    with pytest.raises(OptionError, match="takes no rounding"):
        xiso.open_ome_zarr(path, isotropic=True, rounding="int")


# --------------------------------------------------------------------------
# area on integers: exact whatever the ratio and the dtype (issue 19)
# --------------------------------------------------------------------------
INTEGER_DTYPES = ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]


def spiked(shape, axes, dtype, base, count, seed=0, along=None):
    """Up to ``count`` arrays equal to ``base`` but for one input (or, with
    ``along``, one line or plane: a point along those axes, whole along the
    others), raised by ``e`` so that an output it reaches is an exact tie
    ``k + 1/2``, each with its exact outputs ``base + e * w`` (Fractions; ``w``
    the input's weight in the output, the product of its overlaps along
    ``along``, every output's weights summing to 1). For ``w = a / b`` in
    lowest terms with ``b`` even, ``a`` is odd and ``b / 2 * w = a / 2`` is a tie."""
    along = tuple(axes) if along is None else along
    mats = {a: overlap_matrix(shape[a], *axes[a]) for a in along}
    out_shape = tuple(axes[a][0] if a in axes else n for a, n in enumerate(shape))
    info = np.iinfo(dtype)
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(50 * count):
        if len(cases) == count:
            break
        spike = tuple(int(rng.integers(0, n)) for n in shape)
        spike = tuple(i if a in along else slice(None) for a, i in enumerate(spike))
        cols = {a: [row[spike[a]] for row in m] for a, m in mats.items()}
        w = Fraction(1)
        for col in cols.values():
            w *= max(col)
        e = w.denominator // 2
        if w.denominator % 2 or not e:
            continue
        if base + e > info.max:
            e = -e
        if not info.min <= base + e <= info.max:
            continue
        x = np.full(shape, base, dtype=dtype)
        x[spike] = base + e
        ref = np.empty(out_shape, dtype=object)
        for j in np.ndindex(*out_shape):
            wj = Fraction(1)
            for a, col in cols.items():
                wj *= col[j[a]]
            ref[j] = base + e * wj
        assert any(is_tie(v) for v in ref.ravel())  # the construction made a tie
        cases.append((x, ref))
    return cases


def frame(x, spacing):
    coords = {d: np.arange(n) * s for d, n, s in zip("zyx", x.shape, spacing)}
    return xr.DataArray(x, dims=("z", "y", "x")[: x.ndim], coords=coords)


CHUNKINGS = {"numpy": None, "dask-small": {"z": 5, "y": 7, "x": 4}, "dask-one": -1}

TIE_CASES = {
    # ratio 1000/123 on 32-bit types: the float64 path of old rounded 14 of 130 ties wrong
    "int32-1000/123": ("int32", (20, 20, 20), (0.123,) * 3, 1.0, 123456, None),
    "int32-1000/123-low": ("int32", (20, 20, 20), (0.123,) * 3, 1.0, -(2**31) + 7, None),
    "uint32-1000/123": ("uint32", (20, 20, 20), (0.123,) * 3, 1.0, 10**9 + 7, None),
    # 10000/123 along z on uint16 (with 1000/123 and 2000/1083 along y and x), planes
    "uint16-10000/123": (
        "uint16",
        (170, 20, 12),
        (0.0123, 0.123, 0.1083),
        {"z": 1.0, "y": 1.0, "x": 0.2},
        30000,
        (0,),
    ),
    # a common pair of spacings: 0.1083 -> 0.2 um (ratio 2000/1083)
    "uint32-0.1083-0.2": ("uint32", (12, 12, 12), (0.1083,) * 3, 0.2, 10**9 + 7, None),
    "int64-small": ("int64", (12, 12, 12), (0.1083,) * 3, 0.2, 5, None),
    "int64-near-max": ("int64", (12, 12, 12), (0.1083,) * 3, 0.2, 2**63 - 2**40, None),
    "int64-near-min": ("int64", (12, 12, 12), (0.1083,) * 3, 0.2, -(2**63) + 5, None),
    "uint64-near-max": ("uint64", (12, 12, 12), (0.1083,) * 3, 0.2, 2**64 - 2**40, None),
}


@pytest.mark.parametrize("backend", CHUNKINGS)
@pytest.mark.parametrize("case", TIE_CASES)
def test_area_integer_ties_are_exact(case, backend):
    dtype, shape, spacing, new, base, along = TIE_CASES[case]
    targets = new if isinstance(new, dict) else dict.fromkeys("zyx", new)
    axes = {a: centred(n, spacing[a], targets[d]) for a, (d, n) in enumerate(zip("zyx", shape))}
    cases = spiked(shape, axes, dtype, base, count=6, along=along)
    assert len(cases) >= 3
    for x, ref in cases:
        da = frame(x, spacing)
        if CHUNKINGS[backend] is not None:
            da = da.chunk(CHUNKINGS[backend])
        out = da.iso.resample(new, method="area")
        assert out.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(out.values.astype(object), rounded(ref))


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_area_int64_small_values_round_ties_exactly(backend):
    """Values 0..7 in int64: the old bound took the dtype's range, not the data's,
    and averaged in float64, where 5/6 and 1/6 are not exact."""
    x = np.random.default_rng(0).integers(0, 8, (13, 13, 13)).astype("int64")
    da = frame(x, (1.0, 1.0, 1.0))
    if backend == "dask":
        da = da.chunk({"z": 4, "y": 6})
    out = da.iso.resample(1.2, method="area")
    ref = area_reference(x, {a: centred(13, 1.0, 1.2) for a in range(3)})
    assert sum(map(is_tie, ref.ravel())) >= 2  # a case that has ties
    np.testing.assert_array_equal(out.values.astype(object), rounded(ref))


@pytest.mark.parametrize(
    "dtype, largest, spacing, work",
    [
        ("uint8", 255, (0.3, 0.7, 1.0), "float32"),
        ("uint16", 65535, (0.3, 0.7, 1.0), "float64"),
        ("int32", 2**31 - 1, (0.1083, 0.1083, 0.1083), "pair"),
        ("int64", 2**63 - 1, (0.2, 0.2, 0.2), "pair"),
        ("uint64", 2**64 - 1, (0.1083, 0.1083, 0.1083), "pair"),
        ("int64", 2**62, (0.0112345, 0.0134567, 0.0145678), "object"),
        ("uint16", 65535, (0.0112345, 0.0134567, 0.0145678), "object"),
    ],
)
@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_every_exact_path_is_exact(dtype, largest, spacing, work, backend):
    """Each way of holding the exact numerators (floats below 2**23 or 2**52,
    int64 pairs, Python integers for the largest denominators) against fractions,
    on data that reach the type's limits."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(1)
    x = rng.integers(max(int(info.min), -largest), largest, (9, 8, 7), endpoint=True, dtype=dtype)
    x.flat[:2] = [max(int(info.min), -largest), largest]
    da = frame(x, spacing)
    axes = {
        a: centred(n, spacing[a], 0.25 if work == "object" else 1.0) for a, n in enumerate(x.shape)
    }
    new = 0.25 if work == "object" else 1.0
    if backend == "dask":
        da = da.chunk({"z": 4, "y": 3})
    out = da.iso.resample(new, method="area")
    np.testing.assert_array_equal(out.values.astype(object), rounded(area_reference(x, axes)))
    # the case takes the path it is meant to test
    plans = [
        xiso.grid.plan_axis(n, m, start, ratio, "area")
        for n, (m, ratio, start) in zip(x.shape, axes.values())
    ]
    held = interp._exact_work(np.dtype(dtype), plans, largest)
    assert str(held) == {"pair": str(interp._PAIR), "object": "object"}.get(work, work)


@settings(max_examples=60)
@given(
    dtype=st.sampled_from(INTEGER_DTYPES),
    shape=st.lists(st.integers(2, 9), min_size=1, max_size=3),
    targets=st.lists(st.one_of(st.floats(0.3, 3.0), st.floats(3.0, 40.0)), min_size=3, max_size=3),
    full=st.booleans(),
    chunk=st.one_of(st.none(), st.integers(1, 5)),
    seed=st.integers(0, 2**16),
)
def test_area_integers_equal_the_fraction_reference(dtype, shape, targets, full, chunk, seed):
    """Any ratios (fractions with denominators up to 10**5), any integer dtype,
    small values or the whole range, numpy or dask: the exact average, rounded
    half to even."""
    info = np.iinfo(dtype)
    lo, hi = (int(info.min), int(info.max)) if full else (max(int(info.min), -8), 8)
    x = np.random.default_rng(seed).integers(lo, hi, shape, endpoint=True, dtype=dtype)
    da = frame(x, (1.0,) * x.ndim)
    if chunk is not None:
        da = da.chunk(chunk)
    new = {d: t for d, t in zip(da.dims, targets)}
    out = da.iso.resample(new, method="area")
    axes = {a: centred(n, 1.0, new[d]) for a, (d, n) in enumerate(zip(da.dims, shape))}
    assert out.shape == tuple(v[0] for v in axes.values())
    np.testing.assert_array_equal(out.values.astype(object), rounded(area_reference(x, axes)))


def test_exact_paths_stay_lazy(raise_if_dask_computes):
    x = dsa.from_array(np.arange(8 * 6 * 5, dtype="int64").reshape(8, 6, 5), chunks=3)
    da = frame(x, (0.1083, 0.1083, 0.1083))
    for dtype in ("int64", "uint32", "uint16"):
        out = da.astype(dtype).iso.resample(0.2, method="area")
        assert isinstance(out.data, dsa.Array) and out.dtype == np.dtype(dtype)
    up = xiso.upsample(da, z=6, y=2)
    assert isinstance(up.data, dsa.Array)


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_isotropic_and_resample_like_are_exact_on_64_bit_values(backend):
    """The other exact-grid entry points share the exact path: int64 values near
    the top of the range (float64 lost their last 10 bits)."""
    top = np.iinfo("int64").max
    x = np.random.default_rng(4).integers(top - 2**40, top, (6, 9, 8), endpoint=True)
    da = frame(x, (0.3, 0.1083, 0.1083))
    if backend == "dask":
        da = da.chunk({"y": 4, "x": 3})
    iso = da.iso.isotropic(method="area")  # y and x to the coarsest spacing, 0.3
    ref = area_reference(x, {1: centred(9, 0.1083, 0.3), 2: centred(8, 0.1083, 0.3)})
    np.testing.assert_array_equal(iso.values.astype(object), rounded(ref))

    target = xr.DataArray(
        np.zeros((3, 4)),
        dims=("y", "x"),
        coords={"y": 0.2 + 0.25 * np.arange(3), "x": 0.15 + 0.3 * np.arange(4)},
    )
    axes = {}
    for axis, d in ((1, "y"), (2, "x")):
        t = target[d].values
        ratio = frac((t[1] - t[0]) / 0.1083)
        # the first centre in input samples, then the left edge of its cell
        axes[axis] = (t.size, ratio, frac(t[0] / 0.1083) + Fraction(1, 2) - ratio / 2)
    expected = rounded(area_reference(x, axes))
    like = da.iso.resample_like(target, method="area")
    np.testing.assert_array_equal(like.values.astype(object), expected)
    down = da.iso.resample_like(target.isel(y=slice(None, None, -1)), method="area")
    np.testing.assert_array_equal(down.values.astype(object), expected[:, ::-1])
