"""Chunk grouping in xiso.reduce.block_reduce (dask path): keys, limits, consistency.

The dask name of a reduction must depend on everything that changes its
output chunks: ``group`` and the group counts (which follow dask's
``array.chunk-size``); otherwise a grouped and an ungrouped reduction of the
same input share keys with different blocks (regression tests: fixed in
f2951ce). Grouping shared by all variables of an object must still keep each
task within ``array.chunk-size``. References are plain numpy, never xiso.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np
import xarray as xr

import xiso
from xiso.reduce import block_reduce


def _z2_mean(x: np.ndarray) -> np.ndarray:
    """Independent reference: mean over z blocks of 2, rounded half to even."""
    nz = x.shape[0] // 2
    sums = x[: 2 * nz].reshape(nz, 2, *x.shape[1:]).astype(np.uint64).sum(axis=1)
    return np.round(sums / 2).astype(x.dtype)


def _data() -> np.ndarray:
    return np.random.default_rng(3).integers(0, 2**16, (16, 4, 4)).astype("uint16")


def test_grouped_and_ungrouped_of_same_input_computed_together():
    x = _data()
    dx = da.from_array(x, chunks=4)
    grouped = block_reduce(dx, {0: 2})
    ungrouped = block_reduce(dx, {0: 2}, group=False)
    assert grouped.chunks != ungrouped.chunks  # grouping did happen
    expected = _z2_mean(x)
    a, b = dask.compute(grouped, ungrouped, scheduler="synchronous")
    np.testing.assert_array_equal(a, expected, strict=True)
    np.testing.assert_array_equal(b, expected, strict=True)


def test_reductions_under_different_chunk_size_limits_computed_together():
    x = _data()
    dx = da.from_array(x, chunks=4)
    grouped = block_reduce(dx, {0: 2})
    with dask.config.set({"array.chunk-size": "1B"}):  # forbids grouping
        limited = block_reduce(dx, {0: 2})
    assert grouped.chunks != limited.chunks
    expected = _z2_mean(x)
    a, b = dask.compute(grouped, limited, scheduler="synchronous")
    np.testing.assert_array_equal(a, expected, strict=True)
    np.testing.assert_array_equal(b, expected, strict=True)


def test_pyramid_level_and_downsample_of_same_source_computed_together():
    """A pyramid level (ungrouped) and a plain downsample (grouped) of one
    source, e.g. written side by side in one dask computation."""
    x = np.random.default_rng(4).integers(0, 2**16, (64, 64, 64)).astype("uint16")
    src = xr.DataArray(
        da.from_array(x, chunks=16),
        dims=("z", "y", "x"),
        name="img",
        coords={"z": np.arange(64) * 0.25, "y": np.arange(64.0), "x": np.arange(64.0)},
    )
    level1 = xiso.pyramid(src, min_size=4)["1"]["img"]
    down = xiso.downsample(src, z=2)
    expected = _z2_mean(x)
    a, b = dask.compute(level1.data, down.data, scheduler="synchronous")
    np.testing.assert_array_equal(a, expected, strict=True)
    np.testing.assert_array_equal(b, expected, strict=True)


def test_shared_groups_keep_every_variable_within_chunk_size():
    """docs/scale.md: "A task's input stays within dask's array.chunk-size".
    The object-wide counts follow the variable with the most dims; here a 4-D
    uint8 label stack, so the 3-D float64 image (8x the bytes per chunk) gets
    16 chunks of 16 MiB per task: 256 MiB > 128 MiB. Lazy: nothing computed."""
    from dask.utils import parse_bytes

    dims = ("z", "y", "x")
    ds = xr.Dataset(
        {
            "img": (dims, da.zeros((512,) * 3, dtype="float64", chunks=128)),
            "labels": (("c", *dims), da.zeros((1, *(512,) * 3), dtype="uint8", chunks=128)),
        }
    )
    factors = {"z": 4, "y": 4}
    with dask.config.set({"array.chunk-size": "128MiB"}):
        out = xiso.downsample(ds, factors, method="mode")
    limit = parse_bytes("128MiB")
    for name, var in out.data_vars.items():
        f = [factors.get(d, 1) for d in var.dims]
        largest_input = math.prod(max(c) * k for c, k in zip(var.chunks, f))
        assert largest_input * var.dtype.itemsize <= limit, name
