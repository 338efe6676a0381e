"""Helpers the tests share: test data and the scheduler that fails on compute.

Import them from here (``from helpers import make_volume``), never from
``conftest``; the fixtures of ``conftest.py`` wrap them.
"""

from __future__ import annotations

import contextlib

import dask
import numpy as np
import xarray as xr


class RaiseOnCompute:
    """A dask scheduler that fails the test if anything is computed."""

    def __call__(self, dsk, keys, **kwargs):
        raise AssertionError("dask computed something on a path that must stay lazy")


def no_compute() -> contextlib.AbstractContextManager:
    """A context in which any dask compute fails the test (the fixture
    ``raise_if_dask_computes`` is the same for a whole test)."""
    return dask.config.set(scheduler=RaiseOnCompute())


def make_volume(nz=16, ny=6, nx=5, dz=0.25, dy=1.0, dx=1.0, dtype="uint16", units=None, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1000, size=(nz, ny, nx)).astype(dtype)
    coords = {
        "z": ("z", np.arange(nz) * dz),
        "y": ("y", np.arange(ny) * dy),
        "x": ("x", np.arange(nx) * dx),
    }
    da = xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="vol", attrs={"a": 1})
    if units is not None:
        for d, u in zip(("z", "y", "x"), units):
            if u is not None:
                da[d].attrs["units"] = u
    return da
