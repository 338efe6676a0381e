"""Exact resampling benchmarks: ``isotropic()`` against near-isotropic blocks and scipy.

The job: a uint16 volume with z = 0.3 and y = x = 1.0 um made exactly isotropic
at 1.0 um (z only changes: 512 planes -> 154). Rows, each run in a fresh
process, rounds interleaved so that the noise of a shared machine falls on
every row alike; ratios are to rows of the same run:

==============  ===========================================================
near_isotropic  ``da.iso.near_isotropic()`` (z / 4 blocks, mean): baseline
area            ``da.iso.isotropic()`` (overlap-weighted, exact on integers)
linear          ``isotropic(method="linear")`` (Gaussian anti-aliasing on)
linear_noaa     the same, ``antialias=False``
zoom1           ``scipy.ndimage.zoom(order=1)`` to the same shape
cubic           ``isotropic(method="cubic")``
cubic_noaa      the same, ``antialias=False``
zoom3           ``scipy.ndimage.zoom(order=3)`` to the same shape
dask_area       ``area`` on a dask array (128**3 chunks), 2 threads
dask_linear     ``linear`` on that dask array, 2 threads
dask_planes     ``area`` on a dask array of whole planes (64 per chunk), 2 threads
ooc_area        OME-Zarr in -> ``open_ome_zarr(isotropic=True)`` -> OME-Zarr
                out (one level), 2 threads; peak RSS of the whole process
==============  ===========================================================

Usage::

    python benchmarks/resample.py                       # 512x1024x1024 (1 GiB), 3 rounds
    python benchmarks/resample.py --shape 128x256x256 --repeat 1 --only area,zoom1

Inputs come from ``benchmarks/data.py`` (the cached demo volume, read as
z = 0.3 here); the OME-Zarr source is written once into the same cache.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import cases as bench_cases  # noqa: E402
import data as bench_data  # noqa: E402

MIB = 2**20

SPACING = {"z": 0.3, "y": 1.0, "x": 1.0}
CHUNK = 128
THREADS = 2
ROWS = (
    "near_isotropic",
    "area",
    "linear",
    "linear_noaa",
    "zoom1",
    "cubic",
    "cubic_noaa",
    "zoom3",
    "dask_area",
    "dask_linear",
    "dask_planes",
    "ooc_area",
)
TAG = "@@RESULT "


def _dataarray(x: np.ndarray) -> Any:
    import xarray as xr

    coords = {
        d: (d, np.arange(n) * SPACING[d], {"units": "micrometer"}) for d, n in zip("zyx", x.shape)
    }
    return xr.DataArray(x, dims=("z", "y", "x"), coords=coords, name="lightsheet")


def _store(shape: tuple[int, int, int]) -> Path:
    """The OME-Zarr source at z = 0.3 (written once, atomically by xiso)."""
    path = bench_data.cache_dir() / f"lightsheet_z03_{'x'.join(map(str, shape))}.ome.zarr"
    if not path.exists():
        import xiso

        x = np.load(bench_data.image_npy(shape), mmap_mode="r")
        xiso.to_ome_zarr(_dataarray(np.asarray(x)), str(path), pyramid=False, chunks=CHUNK)
    return path


def _rss_mib() -> float:
    return bench_cases._rss_bytes() / MIB


def _reset_peak() -> None:
    bench_cases._reset_hwm()


def _peak_mib() -> float:
    """VmHWM (the peak since the last reset), else the process's ru_maxrss."""
    hwm = bench_cases._vmhwm_bytes()
    return (hwm if hwm is not None else bench_cases._maxrss_bytes()) / MIB


def child(row: str, shape: tuple[int, int, int]) -> dict:
    import dask
    import scipy.sparse  # noqa: F401  (imported on first use by xiso: not timed)
    from scipy import ndimage

    import xiso

    dask.config.set(scheduler="threads", num_workers=THREADS)
    out_n = round(shape[0] * SPACING["z"] / 1.0)
    zoom = (out_n / shape[0], 1.0, 1.0)
    if row == "ooc_area":
        src = _store(shape)
        tmp = Path(tempfile.mkdtemp(prefix="xiso-bench-"))
        _reset_peak()
        t0 = time.perf_counter()
        iso = xiso.open_ome_zarr(str(src), isotropic=True)
        xiso.to_ome_zarr(iso, str(tmp / "out.ome.zarr"), pyramid=False, chunks=CHUNK)
        seconds = time.perf_counter() - t0
        peak = _peak_mib()
        shutil.rmtree(tmp, ignore_errors=True)
        return {"seconds": seconds, "peak_mib": peak, "extra_mib": None, "shape": list(iso.shape)}
    x = np.load(bench_data.image_npy(shape))
    da = _dataarray(x)
    if row == "dask_planes":
        da = da.chunk({"z": 64})
    elif row.startswith("dask_"):
        da = da.chunk(CHUNK)
    run = {
        "near_isotropic": lambda: da.iso.near_isotropic().values,
        "area": lambda: da.iso.isotropic().values,
        "linear": lambda: da.iso.isotropic(method="linear").values,
        "linear_noaa": lambda: da.iso.isotropic(method="linear", antialias=False).values,
        "zoom1": lambda: ndimage.zoom(x, zoom, order=1, mode="nearest", grid_mode=True),
        "cubic": lambda: da.iso.isotropic(method="cubic").values,
        "cubic_noaa": lambda: da.iso.isotropic(method="cubic", antialias=False).values,
        "zoom3": lambda: ndimage.zoom(x, zoom, order=3, mode="nearest", grid_mode=True),
        "dask_area": lambda: da.iso.isotropic().compute().values,
        "dask_linear": lambda: da.iso.isotropic(method="linear").compute().values,
        "dask_planes": lambda: da.iso.isotropic().compute().values,
    }[row]
    base = _rss_mib()
    _reset_peak()
    t0 = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - t0
    peak = _peak_mib()
    return {
        "seconds": seconds,
        "peak_mib": peak,
        "extra_mib": peak - base,
        "shape": list(result.shape),
        "output_mib": result.nbytes / 2**20,
    }


def _parse_shape(text: str) -> tuple[int, int, int]:
    nz, ny, nx = (int(v) for v in text.lower().split("x"))
    return nz, ny, nx


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="512x1024x1024", help="NZxNYxNX (uint16)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--only", help="comma-separated rows (default: all)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the medians to this JSON file")
    args = parser.parse_args(argv)
    shape = _parse_shape(args.shape)
    if args.child:
        print(TAG + json.dumps(child(args.child, shape)), flush=True)
        return 0
    rows = args.only.split(",") if args.only else list(ROWS)
    # inputs, made once in their own processes (the generator's temporaries are large)
    if not bench_data.image_npy(shape).exists():
        subprocess.run(
            [sys.executable, str(HERE / "data.py"), args.shape, "image"], check=True, cwd=HERE
        )
    if "ooc_area" in rows:
        _store(shape)
    results: dict[str, list[dict]] = {r: [] for r in rows}
    for rnd in range(args.repeat):
        for row in rows:
            proc = subprocess.run(
                [sys.executable, __file__, "--child", row, "--shape", args.shape],
                capture_output=True,
                text=True,
                env={**os.environ, "OMP_NUM_THREADS": "1"},
            )
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(TAG)]
            if proc.returncode or not lines:
                print(f"{row}: failed\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            res = json.loads(lines[-1][len(TAG) :])
            results[row].append(res)
            print(
                f"round {rnd + 1} {row:15s} {res['seconds']:8.3f} s  "
                f"peak {res['peak_mib']:7.0f} MiB"
            )
    med = {r: statistics.median(x["seconds"] for x in v) for r, v in results.items() if v}
    print(f"\nshape {args.shape} uint16, z {SPACING['z']} -> 1.0, {args.repeat} rounds, medians:")
    print(
        f"{'row':15s} {'s':>8s} {'vs near_iso':>11s} {'vs zoom':>8s} {'vs numpy':>8s} "
        f"{'peak MiB':>9s}"
    )
    for r, s in med.items():
        base = med.get("near_isotropic")
        zoom = {"linear": "zoom1", "linear_noaa": "zoom1", "cubic": "zoom3", "cubic_noaa": "zoom3"}
        numpy = {
            "dask_area": "area",
            "dask_linear": "linear",
            "dask_planes": "area",
            "ooc_area": "area",
        }
        vs_base = f"{s / base:.2f}x" if base else "-"
        vs_zoom = f"{s / med[zoom[r]]:.2f}x" if r in zoom and zoom[r] in med else "-"
        vs_np = f"{s / med[numpy[r]]:.2f}x" if r in numpy and numpy[r] in med else "-"
        peak = statistics.median(x["peak_mib"] for x in results[r])
        print(f"{r:15s} {s:8.3f} {vs_base:>11s} {vs_zoom:>8s} {vs_np:>8s} {peak:9.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"shape": args.shape, "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
