"""Group ``mode``: the mode of label images (case 5), against scipy.stats.mode
and xarray-multiscale.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import data as bench_data
import numpy as np
from cases_base import FACTOR, Case, Ctx, missing_modules

MODE_SLAB = 16  # output planes per scipy.stats.mode call (keeps its int64 temporaries small)


def mode_reference_path(shape: tuple[int, int, int]) -> Path:
    return bench_data.cache_dir() / f"mode_ref_{'x'.join(map(str, shape))}.npy"


def scipy_mode_blocks(x: np.ndarray) -> np.ndarray:
    """scipy.stats.mode over the same (4, 1, 1) blocks, MODE_SLAB output planes
    per call (slab-wise is faster than one call on the whole volume, whose
    int64 temporaries would need ~8x the input)."""
    import scipy.stats

    nz, ny, nx = x.shape
    out = np.empty((nz // FACTOR, ny, nx), dtype=x.dtype)
    for z0 in range(0, nz // FACTOR, MODE_SLAB):
        z1 = min(z0 + MODE_SLAB, nz // FACTOR)
        blocks = x[z0 * FACTOR : z1 * FACTOR].reshape(z1 - z0, FACTOR, ny, nx)
        out[z0:z1] = scipy.stats.mode(blocks, axis=1, keepdims=False).mode
    return out


def setup_labels(ctx: Ctx) -> dict:
    try:  # imported before loading, so that its memory is not counted as extra
        import scipy.stats  # noqa: F401
    except ImportError:
        pass
    return {"x": ctx.labels(), "shape": ctx.shape, "tiny": ctx.tiny}


def setup_labels_da(ctx: Ctx) -> dict:
    s = setup_labels(ctx)
    s["da"] = bench_data.as_dataarray(s["x"], ctx.shape, name="labels")
    return s


def run_scipy_mode(s: dict) -> np.ndarray:
    return scipy_mode_blocks(s["x"])


def _reference(s: dict, computed: np.ndarray | None = None) -> np.ndarray | None:
    """The scipy result for these labels, cached on disk (it is deterministic);
    None when it is not cached and scipy is not installed."""
    if (
        computed is None
        and missing_modules(("scipy",))
        and not mode_reference_path(s["shape"]).exists()
    ):
        return None
    if s["tiny"]:
        return computed if computed is not None else scipy_mode_blocks(s["x"])
    path = mode_reference_path(s["shape"])
    if path.exists():
        return np.load(path)
    ref = computed if computed is not None else scipy_mode_blocks(s["x"])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, ref)
    tmp.rename(path)
    return ref


def describe_scipy_mode(s: dict, result: np.ndarray) -> dict:
    _reference(s, result)
    return {"output_bytes": int(result.nbytes), "note": f"{MODE_SLAB} output planes per call"}


def run_xiso_mode(s: dict) -> Any:
    import xiso

    return xiso.near_isotropic(s["da"], method="mode")


def setup_xms_mode(ctx: Ctx) -> dict:
    from xarray_multiscale.reducers import windowed_mode

    return {**setup_labels(ctx), "reducer": windowed_mode}


def run_xms_mode(s: dict) -> np.ndarray:
    return s["reducer"](s["x"], (FACTOR, 1, 1))


def describe_mode(s: dict, result: Any) -> dict:
    out = np.asarray(getattr(result, "data", result))
    ref = _reference(s)
    if ref is None:
        return {"output_bytes": int(out.nbytes), "note": "not checked: scipy not installed"}
    differ = int(np.count_nonzero(out != ref)) if out.shape == ref.shape else -1
    exact = differ == 0
    note = (
        "exact: equal to scipy.stats.mode (ties to smallest)"
        if exact
        else f"NOT exact: {differ} of {ref.size} voxels differ from scipy.stats.mode"
    )
    return {"output_bytes": int(out.nbytes), "note": note, "check_ok": exact}


CASES: list[Case] = [
    # mode on labels, reference: scipy.stats.mode
    Case(
        "scipy-mode",
        "mode",
        "scipy.stats.mode over the same blocks",
        setup_labels,
        run_scipy_mode,
        describe_scipy_mode,
        requires=("scipy",),
        inputs=("labels",),
    ),
    Case(
        "xiso-mode",
        "mode",
        'xiso near_isotropic(method="mode"), numpy',
        setup_labels_da,
        run_xiso_mode,
        describe_mode,
        number="5",
        inputs=("labels",),
    ),
    Case(
        "xms-mode",
        "mode",
        "xarray-multiscale windowed_mode (countless)",
        setup_xms_mode,
        run_xms_mode,
        describe_mode,
        requires=("xarray_multiscale",),
        inputs=("labels",),
    ),
]
