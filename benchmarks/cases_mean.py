"""Group ``mean``: the in-memory z/4 mean of the image (cases 1 and 2), against
numpy, xarray, dask, xarray-multiscale and ngff-zarr.
"""

from __future__ import annotations

from typing import Any

import data as bench_data
import numpy as np
from cases_base import CHUNK, FACTOR, Case, Ctx


# --------------------------------------------------------------------------
# baselines
# --------------------------------------------------------------------------
def setup_image(ctx: Ctx) -> dict:
    return {"x": ctx.image(), "shape": ctx.shape}


def setup_image_da(ctx: Ctx) -> dict:
    return {"da": ctx.image_da(), "shape": ctx.shape}


def setup_image_dask(ctx: Ctx) -> dict:
    da = ctx.image_da().chunk({"z": CHUNK, "y": CHUNK, "x": CHUNK})
    return {"da": da, "shape": ctx.shape}


def run_memcpy(s: dict) -> np.ndarray:
    return np.copy(s["x"])


def run_np_f32_mean(s: dict) -> np.ndarray:
    x = s["x"]
    nz, ny, nx = x.shape
    return x.reshape(nz // FACTOR, FACTOR, ny, nx).mean(axis=1, dtype=np.float32)


def run_np_u32_sum(s: dict) -> np.ndarray:
    x = s["x"]
    nz, ny, nx = x.shape
    acc = x.reshape(nz // FACTOR, FACTOR, ny, nx).sum(axis=1, dtype=np.uint32)
    acc += FACTOR // 2  # round half up, then divide by the power-of-two factor
    acc >>= FACTOR.bit_length() - 1
    return acc.astype(np.uint16)


def run_xr_coarsen(s: dict) -> Any:
    return s["da"].coarsen(z=FACTOR).mean()


def run_xr_coarsen_dask(s: dict) -> Any:
    return s["da"].coarsen(z=FACTOR).mean().compute()


def setup_xms(ctx: Ctx) -> dict:
    from xarray_multiscale.multiscale import downscale
    from xarray_multiscale.reducers import windowed_mean

    return {**setup_image_da(ctx), "downscale": downscale, "reducer": windowed_mean}


def run_xms(s: dict) -> Any:
    return s["downscale"](s["da"], s["reducer"], (FACTOR, 1, 1), preserve_dtype=True)


def setup_ngff_mem(ctx: Ctx) -> dict:
    import ngff_zarr

    x = ctx.image()
    img = ngff_zarr.to_ngff_image(x, dims=["z", "y", "x"], scale=dict(bench_data.SPACING))
    return {"img": img, "nz": ngff_zarr, "shape": ctx.shape}


def run_ngff_mem(s: dict) -> np.ndarray:
    nz = s["nz"]
    ms = nz.to_multiscales(
        s["img"],
        scale_factors=[{"z": FACTOR, "y": 1, "x": 1}],
        method=nz.Methods.DASK_BIN_SHRINK,
        chunks=CHUNK,
    )
    return np.asarray(ms.images[1].data.compute())


# --------------------------------------------------------------------------
# xiso
# --------------------------------------------------------------------------
def run_xiso_numpy(s: dict) -> Any:
    return s["da"].iso.near_isotropic()


def run_xiso_dask(s: dict) -> Any:
    return s["da"].iso.near_isotropic().compute()


def run_xiso_dask_store(s: dict) -> Any:
    """The recipe of docs/scale.md: store the lazy result into a preallocated
    numpy array (no ``.compute()`` concatenation), then give it the result's
    coordinates, attributes and name."""
    import dask.array as dsa

    lazy = s["da"].iso.near_isotropic()
    out = np.empty(lazy.shape, dtype=lazy.dtype)
    dsa.store(lazy.data, out, lock=False)
    return lazy.copy(data=out)


def run_dask_floor(s: dict) -> np.ndarray:
    """The dask floor of case 2: on the same 128^3 chunks and threads, one
    ``map_blocks`` that reshapes each chunk, sums in uint32 and rounds to uint16
    (what a hand-written dask reduction costs, without xarray or xiso)."""
    import dask.array as dsa

    x = s["da"].data
    assert all(c % FACTOR == 0 for c in x.chunks[0]), "the dask floor assumes whole blocks"

    def block(b: np.ndarray) -> np.ndarray:
        acc = b.reshape(b.shape[0] // FACTOR, FACTOR, *b.shape[1:]).sum(axis=1, dtype=np.uint32)
        acc += FACTOR // 2
        acc >>= FACTOR.bit_length() - 1
        return acc.astype(np.uint16)

    chunks = (tuple(c // FACTOR for c in x.chunks[0]), *x.chunks[1:])
    return dsa.map_blocks(block, x, chunks=chunks, dtype=np.uint16).compute()


def describe_xiso_mean(s: dict, result: Any) -> dict:
    """Output size, and a check against the float32 mean: |xiso - mean| <= 0.5."""
    out = np.asarray(result.data)
    x = s["da"].data
    if not isinstance(x, np.ndarray):
        x = np.asarray(x)
    nz, ny, nx = x.shape
    worst = 0.0
    step = 16  # output planes at a time, to keep the check's temporaries small
    for z0 in range(0, nz // FACTOR, step):
        ref = x[z0 * FACTOR : (z0 + step) * FACTOR].reshape(-1, FACTOR, ny, nx)
        ref = ref.mean(axis=1, dtype=np.float64)
        worst = max(worst, float(np.abs(out[z0 : z0 + step] - ref).max()))
    ok = worst <= 0.5
    return {
        "output_bytes": int(out.nbytes),
        "note": f"out {out.dtype}; max abs(xiso - exact mean) = {worst:g}"
        + ("" if ok else " (NOT rounded to nearest)"),
        "check_ok": ok,
    }


CASES: list[Case] = [
    # in-memory mean, reference: the numpy float32 reshape-mean
    Case("memcpy", "mean", "np.copy of the input (memory bandwidth)", setup_image, run_memcpy),
    Case(
        "np-f32-mean",
        "mean",
        "numpy reshape + mean(dtype=float32) (floor)",
        setup_image,
        run_np_f32_mean,
    ),
    Case(
        "np-u32-sum",
        "mean",
        "numpy reshape + uint32 sum, rounded to uint16",
        setup_image,
        run_np_u32_sum,
    ),
    Case("xr-coarsen", "mean", "xarray coarsen(z=4).mean(), numpy", setup_image_da, run_xr_coarsen),
    Case(
        "xr-coarsen-dask",
        "mean",
        "xarray coarsen(z=4).mean(), dask 128^3, 2 threads",
        setup_image_dask,
        run_xr_coarsen_dask,
    ),
    Case(
        "xms-mean",
        "mean",
        "xarray-multiscale windowed_mean, numpy",
        setup_xms,
        run_xms,
        requires=("xarray_multiscale",),
    ),
    Case(
        "ngff-mean",
        "mean",
        "ngff-zarr DASK_BIN_SHRINK (in memory, 2 threads)",
        setup_ngff_mem,
        run_ngff_mem,
        requires=("ngff_zarr",),
    ),
    Case(
        "xiso-numpy",
        "mean",
        "xiso near_isotropic, numpy-backed",
        setup_image_da,
        run_xiso_numpy,
        describe_xiso_mean,
        number="1",
    ),
    Case(
        "dask-floor",
        "mean",
        "dask map_blocks reshape + uint32 sum to uint16, 128^3 chunks, 2 threads (dask floor)",
        setup_image_dask,
        run_dask_floor,
    ),
    Case(
        "xiso-dask",
        "mean",
        "xiso near_isotropic, dask 128^3 in memory, 2 threads",
        setup_image_dask,
        run_xiso_dask,
        describe_xiso_mean,
        number="2",
    ),
    Case(
        "xiso-dask-store",
        "mean",
        "the same, dask.array.store into a preallocated numpy array (docs/scale.md recipe)",
        setup_image_dask,
        run_xiso_dask_store,
        describe_xiso_mean,
    ),
]
