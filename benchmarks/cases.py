"""The benchmark cases and baselines, and the child process that runs one.

``run.py`` starts ``python benchmarks/cases.py CASE --shape NZxNYxNX --workdir DIR``
once per case and repeat. The child

1. imports everything and runs the case once on a tiny input (warm-up: lazy
   imports, dask's thread pool, zarr's event loop), so neither import time nor
   import memory is counted;
2. loads the input (a cached ``.npy`` for in-memory cases; nothing for
   OME-Zarr cases, which read the cached store) and records its RSS;
3. writes and frees 3x the input size of fresh memory (see ``_prefault``),
   then runs the case once, timed with ``time.perf_counter``;
4. reads ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak RSS of the
   process) and reports ``extra = peak - RSS after loading``;
5. checks the result (untimed) and prints one ``@@RESULT {json}`` line.

Each case is a ``setup(ctx) -> state`` and a ``run(state) -> result`` (the
timed part); ``describe(state, result)`` returns the output size and notes.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import os
import resource
import shutil
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import data as bench_data
import numpy as np

FACTOR = 4  # z factor of near_isotropic for spacing (0.25, 1, 1)
THREADS = 2  # dask / I/O worker threads (the machine has 2 cores)
PREFAULT_X_INPUT = 3  # memory written and freed before each timed run, x the base input
CHUNK = bench_data.CHUNK
TINY = (32, 64, 64)  # warm-up shape
MODE_SLAB = 16  # output planes per scipy.stats.mode call (keeps its int64 temporaries small)
RESULT_TAG = "@@RESULT "


# --------------------------------------------------------------------------
# context: where the inputs and outputs of one child live
# --------------------------------------------------------------------------
class Ctx:
    """Inputs of a case at ``shape``; ``tiny=True`` makes them in ``workdir``."""

    def __init__(self, shape: tuple[int, int, int], workdir: Path, tiny: bool = False) -> None:
        self.shape = shape
        self.workdir = workdir
        self.tiny = tiny
        workdir.mkdir(parents=True, exist_ok=True)

    def image(self) -> np.ndarray:
        if self.tiny:
            import xiso

            return xiso.data.lightsheet(shape=self.shape, spacing=bench_data.SPACING).values
        return np.load(bench_data.image_npy(self.shape))

    def labels(self) -> np.ndarray:
        if self.tiny:
            import xiso

            return xiso.data.lightsheet_labels(shape=self.shape, spacing=bench_data.SPACING).values
        return np.load(bench_data.labels_npy(self.shape))

    def image_da(self) -> Any:
        return bench_data.as_dataarray(self.image(), self.shape)

    def _tiny_store(self, shape: tuple[int, int, int], name: str) -> str:
        import xiso

        path = self.workdir / name
        if not path.exists():
            arr = xiso.data.lightsheet(shape=shape, spacing=bench_data.SPACING).values
            xiso.to_ome_zarr(
                bench_data.as_dataarray(arr, shape), str(path), pyramid=False, chunks=CHUNK
            )
        return str(path)

    def image_store(self) -> str:
        if self.tiny:
            return self._tiny_store(self.shape, "tiny-src.ome.zarr")
        return str(bench_data.image_zarr(self.shape))

    def large_store(self) -> str:
        if self.tiny:
            return self._tiny_store(bench_data.large_shape(self.shape), "tiny-large.ome.zarr")
        return str(bench_data.large_zarr(self.shape))

    def out(self, name: str) -> str:
        path = self.workdir / name
        bench_data.remove(path)
        return str(path)


# --------------------------------------------------------------------------
# in-memory mean: baselines
# --------------------------------------------------------------------------
def _out_nbytes(shape: tuple[int, int, int], itemsize: int = 2) -> int:
    return shape[0] // FACTOR * shape[1] * shape[2] * itemsize


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


def setup_zarrnii(ctx: Ctx) -> dict:
    from zarrnii import ZarrNii

    return {"src": ctx.image_store(), "dst": ctx.out("zarrnii.ome.zarr"), "cls": ZarrNii}


def run_zarrnii(s: dict) -> None:
    """zarrnii's own path for the same job: read, z/4 downsample, write one level."""
    image = s["cls"].from_ome_zarr(s["src"])
    image.downsample(along_z=FACTOR).to_ome_zarr(s["dst"], max_layer=1)


# --------------------------------------------------------------------------
# in-memory mean: xiso
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


def describe_array(s: dict, result: Any) -> dict:
    arr = np.asarray(getattr(result, "data", result))
    return {"output_bytes": int(arr.nbytes), "note": f"out {arr.dtype}"}


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


# --------------------------------------------------------------------------
# OME-Zarr: I/O floors and xiso
# --------------------------------------------------------------------------
def _zarr_level0(store: str) -> Any:
    import zarr

    return zarr.open_group(store, mode="r")["0"]


def _create_like(src: Any, path: str, shape: tuple[int, ...]) -> Any:
    import zarr

    return zarr.create_array(
        store=path,
        shape=shape,
        dtype=src.dtype,
        chunks=src.chunks,
        compressors=src.compressors,
        fill_value=0,
        zarr_format=src.metadata.zarr_format,
    )


def _chunk_grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[slice, ...]]:
    import itertools

    ranges = [range(0, n, c) for n, c in zip(shape, chunks)]
    return [
        tuple(slice(o, min(o + c, n)) for o, c, n in zip(origin, chunks, shape))
        for origin in itertools.product(*ranges)
    ]


def setup_zarr_floor(ctx: Ctx, large: bool = False) -> dict:
    store = ctx.large_store() if large else ctx.image_store()
    return {"src": store, "dst": ctx.out("floor.zarr")}


def run_zarr_floor(s: dict) -> Any:
    """Plain zarr: read every input chunk, write the output chunks (the input's
    every 4th plane, no arithmetic), same codec and chunks, THREADS threads,
    one output chunk (four input chunks) per task."""
    src = _zarr_level0(s["src"])
    nz, ny, nx = src.shape
    dst = _create_like(src, s["dst"], (nz // FACTOR, ny, nx))

    def one(region: tuple[slice, ...]) -> None:
        zs = region[0]
        block = src[(slice(zs.start * FACTOR, zs.stop * FACTOR), *region[1:])]
        dst[region] = block[::FACTOR]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, _chunk_grid(dst.shape, dst.chunks)))
    return dst


def setup_codec_floor(ctx: Ctx, large: bool = False) -> dict:
    store = ctx.large_store() if large else ctx.image_store()
    return {"src": store, "dst": ctx.out("codec-floor")}


ZARRS = {"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"}
KNOBS = {"threading.max_workers": THREADS, "async.concurrency": 2 * THREADS}


def run_zarr_floor_zarrs(s: dict) -> Any:
    """The plain-zarr floor with zarrs' codec pipeline (set around the run)."""
    import zarr

    with zarr.config.set(ZARRS):
        return run_zarr_floor(s)


def run_zarr_floor_zarrista(s: dict) -> Any:
    """The plain-zarr floor's job with zarrista moving the chunks: zarr-python
    creates the output (the same metadata), zarrista reads four input chunks
    and writes every 4th plane as one output chunk, THREADS threads."""
    import zarrista

    src = _zarr_level0(s["src"])
    nz, ny, nx = src.shape
    _create_like(src, s["dst"], (nz // FACTOR, ny, nx))
    fs = zarrista.store.FilesystemStore
    a = zarrista.Array.open(fs(s["src"]), "/0")
    d = zarrista.Array.open(fs(s["dst"]), "/")

    def one(region: tuple[slice, ...]) -> None:
        zs = region[0]
        block = a[(slice(zs.start * FACTOR, zs.stop * FACTOR), *region[1:])].to_numpy()
        d[region] = np.ascontiguousarray(block[::FACTOR])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, _chunk_grid((nz // FACTOR, ny, nx), src.chunks)))
    return d


def setup_tensorstore_floor(ctx: Ctx) -> dict:
    import tensorstore

    return {"src": ctx.image_store(), "dst": ctx.out("ts-floor.zarr"), "ts": tensorstore}


def run_tensorstore_floor(s: dict) -> Any:
    """The floor's job with tensorstore as the chunk I/O engine: read four input
    chunks, write every 4th plane as one output chunk, THREADS threads for data
    copies and files (tensorstore's own pool), same codec and chunks."""
    ts = s["ts"]
    context = ts.Context(
        {"data_copy_concurrency": {"limit": THREADS}, "file_io_concurrency": {"limit": THREADS}}
    )
    level = str(Path(s["src"]) / "0")
    src = ts.open({"driver": "zarr3", "kvstore": f"file://{level}"}, context=context).result()
    nz, ny, nx = src.shape
    _create_like(_zarr_level0(s["src"]), s["dst"], (nz // FACTOR, ny, nx))  # same metadata
    dst = ts.open({"driver": "zarr3", "kvstore": f"file://{s['dst']}"}, context=context).result()
    pending: list[Any] = []
    for region in _chunk_grid(dst.shape, (CHUNK, CHUNK, CHUNK)):
        zs = region[0]
        block = src[(slice(zs.start * FACTOR, zs.stop * FACTOR), *region[1:])].read()
        pending.append((region, block))
        if len(pending) > 2 * THREADS:  # a few reads in flight, bounded memory
            r, b = pending.pop(0)
            dst[r].write(b.result()[::FACTOR]).result()
    for r, b in pending:
        dst[r].write(b.result()[::FACTOR]).result()
    return dst


def run_codec_floor(s: dict) -> Any:
    """Below zarr: read the raw chunk files of the input, zstd-decode each into
    a reused buffer, take every 4th plane, zstd-encode each output chunk at the
    input's level and write it to a file; THREADS threads, one output chunk per
    task. No zarr, no dask, no metadata: the cost of the codec and the files
    alone, which no zarr-based tool can go below on this machine."""
    return _codec_floor(s, mean=False)


def run_codec_floor_mean(s: dict) -> Any:
    """The codec floor doing the job's arithmetic: each output chunk is xiso's
    exact block mean of its input chunks (``xiso.reduce.reduce_numpy`` into the
    reused buffer) instead of their every 4th plane. What the whole job costs
    without zarr, dask or xarray (evidence for case 3; not a target)."""
    return _codec_floor(s, mean=True)


def _raw_chunks(s: dict) -> tuple[Any, Any, Any, Path, Path]:
    """What a codec floor works with: the source's level 0 (for its metadata),
    a zstd decoder and an encoder at the source's level, the folder of the raw
    chunk files and the (emptied) output folder."""
    import numcodecs

    src = _zarr_level0(s["src"])
    (codec,) = src.compressors
    assert type(codec).__name__ == "ZstdCodec", "the codec floor assumes zstd"
    decoder, encoder = numcodecs.Zstd(), numcodecs.Zstd(level=codec.level)
    dst = Path(s["dst"])
    shutil.rmtree(dst, ignore_errors=True)
    return src, decoder, encoder, Path(s["src"]) / "0" / "c", dst


def _codec_floor(s: dict, mean: bool) -> Any:
    import threading

    from xiso.reduce import reduce_numpy

    src, decoder, encoder, root, dst = _raw_chunks(s)
    dst.mkdir(parents=True)
    chunk = src.chunks  # output chunks are the same (one from FACTOR input chunks)
    rows = chunk[0] // FACTOR
    assert rows * FACTOR == chunk[0], "the codec floor assumes chunks divisible by the factor"
    local = threading.local()

    def one(index: tuple[int, ...]) -> None:
        if not hasattr(local, "buf"):
            local.buf = np.empty(chunk, dtype=src.dtype)
            local.out = np.empty(chunk, dtype=src.dtype)
        buf, out = local.buf, local.out
        oz, oy, ox = index
        inputs = range(oz * FACTOR, min((oz + 1) * FACTOR, nz))
        for k, iz in enumerate(inputs):
            raw = (root / str(iz) / str(oy) / str(ox)).read_bytes()
            decoder.decode(raw, out=buf)
            rows_k = out[k * rows : (k + 1) * rows]
            if mean:
                reduce_numpy(buf, (FACTOR, 1, 1), "mean", buf.dtype, True, out=rows_k)
            else:
                rows_k[...] = buf[::FACTOR]
        (dst / f"{oz}.{oy}.{ox}").write_bytes(encoder.encode(out[: len(inputs) * rows]))

    nz, ny, nx = (-(-n // c) for n, c in zip(src.shape, chunk))
    assert all(n % c == 0 for n, c in zip(src.shape, chunk)), "whole chunks assumed"
    grid = [(oz, oy, ox) for oz in range(-(-nz // FACTOR)) for oy in range(ny) for ox in range(nx)]
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, grid))
    return dst


def describe_store(s: dict, result: Any) -> dict:
    path = Path(s["dst"])
    disk = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return {"output_bytes": None, "note": f"written {disk / 2**20:.0f} MiB on disk"}


def setup_xiso_zarr(ctx: Ctx, large: bool = False) -> dict:
    store = ctx.large_store() if large else ctx.image_store()
    return {"src": store, "dst": ctx.out("xiso.ome.zarr")}


def run_xiso_zarr(s: dict) -> None:
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True)
    xiso.to_ome_zarr(iso, s["dst"], pyramid=False, chunks=CHUNK, overwrite=True)


def describe_xiso_zarr(s: dict, result: Any) -> dict:
    import xiso

    out = xiso.open_ome_zarr(s["dst"])
    info = describe_store(s, result)
    info["output_bytes"] = int(out.nbytes)
    info["note"] += f"; level 0 {tuple(out.shape)}"
    return info


def run_xiso_zarr_zarrs(s: dict) -> None:
    """Case 3 with zarrs behind zarr-python's array layer (``XISO_ZARR_ENGINE=zarrs``)."""
    with _environ("XISO_ZARR_ENGINE", "zarrs"):
        run_xiso_zarr(s)


def run_xiso_zarr_plain(s: dict) -> None:
    """Case 3 with zarr-python's own codec pipeline (``XISO_ZARR_ENGINE=zarr``)."""
    with _environ("XISO_ZARR_ENGINE", "zarr"):
        run_xiso_zarr(s)


def run_xiso_zarr_knobs(s: dict) -> None:
    """Case 3 with zarr-python's pipeline and its knobs set around the call."""
    import zarr

    with _environ("XISO_ZARR_ENGINE", "zarr"), zarr.config.set(KNOBS):
        run_xiso_zarr(s)


def _environ(key: str, value: str) -> Any:
    import contextlib

    @contextlib.contextmanager
    def scope() -> Any:
        old = os.environ.get(key)
        os.environ[key] = value
        try:
            yield
        finally:
            if old is None:
                del os.environ[key]
            else:
                os.environ[key] = old

    return scope()


def setup_ngff_zarr_single(ctx: Ctx) -> dict:
    import ngff_zarr

    return {"src": ctx.image_store(), "dst": ctx.out("ngff.ome.zarr"), "nz": ngff_zarr}


def run_ngff_zarr_single(s: dict) -> None:
    nz = s["nz"]
    image = nz.from_ngff_zarr(s["src"]).images[0]
    method = nz.Methods.DASK_BIN_SHRINK
    reduced = nz.to_multiscales(
        image, scale_factors=[{"z": FACTOR, "y": 1, "x": 1}], method=method, chunks=CHUNK
    ).images[1]
    single = nz.to_multiscales(reduced, scale_factors=[], method=method, chunks=CHUNK)
    nz.to_ngff_zarr(s["dst"], single, overwrite=True)


# --------------------------------------------------------------------------
# pyramids
# --------------------------------------------------------------------------
def _pyramid_steps(shape: tuple[int, int, int]) -> list[dict]:
    from xiso.pyramid import pyramid_factors

    sizes = dict(zip(("z", "y", "x"), shape))
    return pyramid_factors(bench_data.SPACING, sizes)


def setup_xiso_pyramid(ctx: Ctx) -> dict:
    return {"src": ctx.image_store(), "dst": ctx.out("pyramid.ome.zarr")}


def run_xiso_pyramid(s: dict) -> None:
    import xiso

    xiso.to_ome_zarr(xiso.open_ome_zarr(s["src"]), s["dst"], pyramid=True, chunks=CHUNK)


def run_xiso_pyramid_iso(s: dict) -> None:
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True)
    xiso.to_ome_zarr(iso, s["dst"], pyramid=True, chunks=CHUNK)


def describe_pyramid(s: dict, result: Any) -> dict:
    import zarr

    group = zarr.open_group(s["dst"], mode="r")
    shapes = [tuple(group[k].shape) for k in sorted(group.array_keys(), key=int)]
    info = describe_store(s, result)
    info["note"] += f"; {len(shapes)} level(s), last {shapes[-1]}"
    return info


def setup_ngff_pyramid(ctx: Ctx) -> dict:
    import ngff_zarr

    steps = _pyramid_steps(ctx.shape)
    absolute, total = [], {"z": 1, "y": 1, "x": 1}
    for step in steps:
        total = {d: total[d] * step.get(d, 1) for d in total}
        absolute.append(dict(total))
    return {
        "src": ctx.image_store(),
        "dst": ctx.out("ngff-pyramid.ome.zarr"),
        "nz": ngff_zarr,
        "factors": absolute,
    }


def run_ngff_pyramid(s: dict) -> None:
    nz = s["nz"]
    image = nz.from_ngff_zarr(s["src"]).images[0]
    ms = nz.to_multiscales(
        image, scale_factors=s["factors"], method=nz.Methods.DASK_BIN_SHRINK, chunks=CHUNK
    )
    nz.to_ngff_zarr(s["dst"], ms, overwrite=True)


def describe_ngff_pyramid(s: dict, result: Any) -> dict:
    info = describe_store(s, result)
    info["note"] += f"; {len(s['factors']) + 1} levels"
    return info


def setup_pyramid_floor(ctx: Ctx) -> dict:
    """Precompute (untimed) the levels >= 1 of a pyramid of the right shapes
    by subsampling (no arithmetic), so that the timed part is I/O only."""
    x = ctx.image()
    levels = []
    current = x
    for step in _pyramid_steps(ctx.shape):
        index = tuple(slice(None, None, step.get(d, 1)) for d in ("z", "y", "x"))
        current = np.ascontiguousarray(current[index])
        levels.append(current)
    del x
    return {"src": ctx.image_store(), "dst": ctx.out("pyramid-floor.zarr"), "levels": levels}


def run_pyramid_floor(s: dict) -> None:
    """Plain zarr: copy the input chunk by chunk to level 0, then write the
    other levels from memory; same codec and chunks, THREADS threads."""
    import zarr

    src = _zarr_level0(s["src"])
    group = zarr.open_group(s["dst"], mode="w", zarr_format=src.metadata.zarr_format)
    level0 = group.create_array(
        "0", shape=src.shape, dtype=src.dtype, chunks=src.chunks, compressors=src.compressors
    )

    def copy(region: tuple[slice, ...]) -> None:
        level0[region] = src[region]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(copy, _chunk_grid(src.shape, src.chunks)))
        for i, arr in enumerate(s["levels"], start=1):
            chunks = tuple(min(c, n) for c, n in zip(src.chunks, arr.shape))
            target = group.create_array(
                str(i), shape=arr.shape, dtype=arr.dtype, chunks=chunks, compressors=src.compressors
            )

            def write(region: tuple[slice, ...], target: Any = target, arr: Any = arr) -> None:
                target[region] = arr[region]

            list(pool.map(write, _chunk_grid(arr.shape, chunks)))


def _pyramid_levels(
    shape: tuple[int, ...], chunks: tuple[int, ...]
) -> list[tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]]:
    """(shape, chunks, factor from level 0) of every level xiso-pyramid writes:
    level 0 is the source, each next level follows one step of
    ``_pyramid_steps``; chunks are the source's, clipped to the level."""
    levels = [(shape, chunks, (1,) * len(shape))]
    for step in _pyramid_steps(shape):  # type: ignore[arg-type]
        prev, _, total = levels[-1]
        f = tuple(step.get(d, 1) for d in ("z", "y", "x"))
        assert all(n % k == 0 for n, k in zip(prev, f)), "whole blocks assumed"
        size = tuple(n // k for n, k in zip(prev, f))
        level_chunks = tuple(min(c, n) for c, n in zip(chunks, size))
        assert all(n % c == 0 for n, c in zip(size, level_chunks)), "whole chunks assumed"
        levels.append((size, level_chunks, tuple(a * b for a, b in zip(total, f))))
    return levels


def run_pyramid_codec_floor(s: dict) -> Any:
    """The codec floor of row 4f: read the raw chunk files of the input,
    zstd-decode each once into a reused buffer and zstd-encode it again as the
    full-resolution copy, and write every near-isotropic level as xiso-pyramid
    does (same shapes and chunks), each level's chunk filled by strided copies
    (every f-th sample) of the decoded level-0 chunks beneath it. No zarr, no
    dask, no metadata, no arithmetic.

    One task per level-0 chunk, on THREADS threads (fine tasks balance the
    threads as dask's do); the task that fills the last part of a chunk of a
    higher level encodes and writes it. A chunk of level l covers a footprint
    of level 0 (its chunk times the level's factor); footprints nest, and the
    level-0 chunks are taken depth first through them, so that few chunks of
    the higher levels are in progress at a time (their buffers are reused)."""
    import threading

    src, decoder, encoder, root, dst = _raw_chunks(s)
    levels = _pyramid_levels(src.shape, src.chunks)
    for i in range(len(levels)):
        (dst / str(i)).mkdir(parents=True)
    assert all(n % c == 0 for n, c in zip(src.shape, src.chunks)), "whole chunks assumed"
    assert all(c % f == 0 for _, _, fa in levels for c, f in zip(src.chunks, fa))
    # footprint in level 0 of one chunk of each level, nested level by level
    foot = [tuple(min(c * f, n) for c, f, n in zip(ch, fa, src.shape)) for _, ch, fa in levels]
    for inner, outer in itertools.pairwise(foot):
        assert all(o % i == 0 for i, o in zip(inner, outer)), "footprints must nest"
    parts = [int(np.prod([f // c for f, c in zip(fp, src.chunks)])) for fp in foot]

    order: list[tuple[int, ...]] = []  # level-0 chunk origins, depth first

    def walk(level: int, origin: tuple[int, ...]) -> None:
        if level == 0:
            order.append(origin)
            return
        ranges = [range(o, o + n, i) for o, n, i in zip(origin, foot[level], foot[level - 1])]
        for sub in itertools.product(*ranges):
            walk(level - 1, sub)

    for top in itertools.product(*(range(0, n, f) for n, f in zip(src.shape, foot[-1]))):
        walk(len(levels) - 1, top)

    lock = threading.Lock()
    open_chunks: dict[tuple, list] = {}  # (level, origin) -> [buffer, parts missing]
    spare: list[list[np.ndarray]] = [[] for _ in levels]
    local = threading.local()

    def write(level: int, origin: tuple[int, ...], data: np.ndarray) -> None:
        _, chunk, factor = levels[level]
        name = ".".join(str(o // f // c) for o, f, c in zip(origin, factor, chunk))
        (dst / str(level) / name).write_bytes(encoder.encode(data))

    def one(origin: tuple[int, ...]) -> None:
        if not hasattr(local, "buf"):
            local.buf = np.empty(src.chunks, dtype=src.dtype)
        buf = local.buf
        index = [str(o // c) for o, c in zip(origin, src.chunks)]
        decoder.decode(root.joinpath(*index).read_bytes(), out=buf)
        write(0, origin, buf)
        for lv in range(1, len(levels)):
            _, chunk, factor = levels[lv]
            base = tuple(o // f * f for o, f in zip(origin, foot[lv]))
            with lock:
                entry = open_chunks.get((lv, base))
                if entry is None:
                    fresh = spare[lv].pop() if spare[lv] else np.empty(chunk, src.dtype)
                    entry = open_chunks[(lv, base)] = [fresh, parts[lv]]
            where = tuple(
                slice((o - b) // f, (o - b + c) // f)
                for o, b, f, c in zip(origin, base, factor, src.chunks)
            )
            entry[0][where] = buf[tuple(slice(None, None, f) for f in factor)]
            with lock:
                entry[1] -= 1
                complete = entry[1] == 0
                if complete:
                    del open_chunks[(lv, base)]
            if complete:
                write(lv, base, entry[0])
                with lock:
                    spare[lv].append(entry[0])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, order))
    assert not open_chunks
    return dst


def describe_pyramid_codec_floor(s: dict, result: Any) -> dict:
    info = describe_store(s, result)
    src = _zarr_level0(s["src"])
    levels = _pyramid_levels(src.shape, src.chunks)
    info["note"] += f"; {len(levels)} level(s), last {levels[-1][0]}"
    return info


# --------------------------------------------------------------------------
# numpy-backed DataArray -> OME-Zarr (writing only)
# --------------------------------------------------------------------------
def setup_write_floor(ctx: Ctx) -> dict:
    return {"x": ctx.image(), "src": ctx.image_store(), "dst": ctx.out("write-floor.zarr")}


def run_write_floor(s: dict) -> None:
    """Plain zarr: write the in-memory volume chunk by chunk, same codec and
    chunks as the source store, THREADS threads."""
    x = s["x"]
    dst = _create_like(_zarr_level0(s["src"]), s["dst"], x.shape)

    def write(region: tuple[slice, ...]) -> None:
        dst[region] = x[region]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(write, _chunk_grid(x.shape, dst.chunks)))


def setup_write_numpy(ctx: Ctx) -> dict:
    return {"da": ctx.image_da(), "dst": ctx.out("write.ome.zarr")}


def run_write_numpy(s: dict) -> None:
    import xiso

    xiso.to_ome_zarr(s["da"], s["dst"], pyramid=False, chunks=CHUNK)


def run_write_numpy_pyramid(s: dict) -> None:
    import xiso

    xiso.to_ome_zarr(s["da"], s["dst"], pyramid=True, chunks=CHUNK)


def describe_write(s: dict, result: Any) -> dict:
    info = describe_pyramid(s, result)
    info["input_bytes"] = int(s["da"].nbytes)
    return info


# --------------------------------------------------------------------------
# mode on labels
# --------------------------------------------------------------------------
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
    if computed is None and _missing(("scipy",)) and not mode_reference_path(s["shape"]).exists():
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


# --------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------
class SkipCase(Exception):
    """A case that cannot run here (an optional package is missing)."""


@dataclass
class Case:
    name: str
    group: str
    label: str
    setup: Callable[[Ctx], dict]
    run: Callable[[dict], Any]
    describe: Callable[[dict, Any], dict] = describe_array
    number: str = ""  # the brief's case number, for xiso's own cases
    requires: tuple[str, ...] = ()  # optional modules; skipped when missing
    inputs: tuple[str, ...] = ("image",)  # cache entries (see data.make)
    large: bool = False  # opt-in with --large
    ref: str | None = None  # the row its ratio is against, if not its group's reference


def _large(fn: Callable[..., dict]) -> Callable[[Ctx], dict]:
    return lambda ctx: fn(ctx, large=True)


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
    # OME-Zarr -> near-isotropic OME-Zarr, reference: the plain zarr I/O floor
    Case(
        "zarr-io-floor",
        "zarr",
        "plain zarr read input + write output (I/O floor)",
        setup_zarr_floor,
        run_zarr_floor,
        describe_store,
        inputs=("zarr",),
    ),
    Case(
        "codec-floor",
        "zarr",
        "raw chunk files + zstd decode/encode, no zarr (codec floor)",
        setup_codec_floor,
        run_codec_floor,
        describe_store,
        inputs=("zarr",),
    ),
    Case(
        "codec-floor-mean",
        "zarr",
        "the codec floor computing xiso's exact mean instead of every 4th plane (no zarr, no dask)",
        setup_codec_floor,
        run_codec_floor_mean,
        describe_store,
        inputs=("zarr",),
    ),
    Case(
        "zarr-io-floor-zarrs",
        "zarr",
        "the plain-zarr I/O floor with zarrs' codec pipeline",
        setup_zarr_floor,
        run_zarr_floor_zarrs,
        describe_store,
        requires=("zarrs",),
        inputs=("zarr",),
    ),
    Case(
        "zarrista-io-floor",
        "zarr",
        "the plain-zarr I/O floor's job with zarrista moving the chunks",
        setup_zarr_floor,
        run_zarr_floor_zarrista,
        describe_store,
        requires=("zarrista",),
        inputs=("zarr",),
    ),
    Case(
        "tensorstore-io-floor",
        "zarr",
        "the same job with tensorstore as chunk I/O engine (2 threads)",
        setup_tensorstore_floor,
        run_tensorstore_floor,
        describe_store,
        requires=("tensorstore",),
        inputs=("zarr",),
    ),
    Case(
        "xiso-zarr",
        "zarr",
        "xiso open_ome_zarr(near_isotropic) -> to_ome_zarr(pyramid=False), default (zarrista)",
        setup_xiso_zarr,
        run_xiso_zarr,
        describe_xiso_zarr,
        number="3",
        inputs=("zarr",),
    ),
    Case(
        "xiso-zarr-zarrs",
        "zarr",
        "the same, zarrs behind zarr-python's array layer (XISO_ZARR_ENGINE=zarrs)",
        setup_xiso_zarr,
        run_xiso_zarr_zarrs,
        describe_xiso_zarr,
        requires=("zarrs",),
        inputs=("zarr",),
    ),
    Case(
        "xiso-zarr-plain",
        "zarr",
        "the same, zarr-python's codec pipeline (XISO_ZARR_ENGINE=zarr)",
        setup_xiso_zarr,
        run_xiso_zarr_plain,
        describe_xiso_zarr,
        inputs=("zarr",),
    ),
    Case(
        "xiso-zarr-knobs",
        "zarr",
        "the same, zarr-python's pipeline, threading.max_workers=2, async.concurrency=4",
        setup_xiso_zarr,
        run_xiso_zarr_knobs,
        describe_xiso_zarr,
        inputs=("zarr",),
    ),
    Case(
        "ngff-zarr",
        "zarr",
        "ngff-zarr from_ngff_zarr -> bin shrink -> to_ngff_zarr (one level)",
        setup_ngff_zarr_single,
        run_ngff_zarr_single,
        describe_store,
        requires=("ngff_zarr",),
        inputs=("zarr",),
    ),
    Case(
        "zarrnii",
        "zarr",
        "zarrnii from_ome_zarr -> downsample(along_z=4) -> to_ome_zarr (one level)",
        setup_zarrnii,
        run_zarrnii,
        describe_store,
        requires=("zarrnii",),
        inputs=("zarr",),
    ),
    # pyramids, reference: case 3
    Case(
        "pyramid-io-floor",
        "pyramid",
        "plain zarr: copy level 0 + write all levels (I/O floor)",
        setup_pyramid_floor,
        run_pyramid_floor,
        describe_pyramid,
        inputs=("image", "zarr"),
    ),
    Case(
        "pyramid-codec-floor",
        "pyramid",
        "raw chunk files + zstd: decode level 0 once, re-encode it and write the "
        "near-isotropic levels of 4f by strided copies, no zarr (4f's codec floor)",
        setup_codec_floor,
        run_pyramid_codec_floor,
        describe_pyramid_codec_floor,
        inputs=("zarr",),
    ),
    Case(
        "xiso-pyramid-iso",
        "pyramid",
        "xiso near-isotropic pyramid: open_ome_zarr(near_isotropic) -> to_ome_zarr(pyramid)",
        setup_xiso_pyramid,
        run_xiso_pyramid_iso,
        describe_pyramid,
        number="4",
        inputs=("zarr",),
    ),
    Case(
        "xiso-pyramid",
        "pyramid",
        "xiso to_ome_zarr(open_ome_zarr(src), pyramid=True): full-res copy + near-iso levels",
        setup_xiso_pyramid,
        run_xiso_pyramid,
        describe_pyramid,
        number="4f",
        inputs=("zarr",),
        ref="pyramid-codec-floor",
    ),
    Case(
        "ngff-pyramid",
        "pyramid",
        "ngff-zarr to_multiscales (same factors, bin shrink) -> to_ngff_zarr",
        setup_ngff_pyramid,
        run_ngff_pyramid,
        describe_ngff_pyramid,
        requires=("ngff_zarr",),
        inputs=("zarr",),
    ),
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
    # numpy-backed DataArray -> OME-Zarr (not a case of the brief: evidence)
    Case(
        "zarr-write-floor",
        "write",
        "plain zarr write of the in-memory input (I/O floor)",
        setup_write_floor,
        run_write_floor,
        describe_store,
        inputs=("image", "zarr"),
    ),
    Case(
        "xiso-write-numpy",
        "write",
        "xiso to_ome_zarr(numpy-backed, pyramid=False)",
        setup_write_numpy,
        run_write_numpy,
        describe_write,
        inputs=("image",),
    ),
    Case(
        "xiso-write-numpy-pyramid",
        "write",
        "xiso to_ome_zarr(numpy-backed, pyramid=True)",
        setup_write_numpy,
        run_write_numpy_pyramid,
        describe_write,
        inputs=("image",),
        ref="",
    ),
    # out of core, 4x the input, reference: its own I/O floor
    Case(
        "zarr-io-floor-large",
        "large",
        "plain zarr I/O floor, 4x input",
        _large(setup_zarr_floor),
        run_zarr_floor,
        describe_store,
        inputs=("large",),
        large=True,
    ),
    Case(
        "codec-floor-large",
        "large",
        "codec floor (raw chunk files + zstd), 4x input",
        _large(setup_codec_floor),
        run_codec_floor,
        describe_store,
        inputs=("large",),
        large=True,
    ),
    Case(
        "xiso-zarr-large",
        "large",
        "xiso OME-Zarr -> near-isotropic OME-Zarr, 4x input",
        _large(setup_xiso_zarr),
        run_xiso_zarr,
        describe_xiso_zarr,
        number="6",
        inputs=("large",),
        large=True,
    ),
]
BY_NAME = {c.name: c for c in CASES}


# --------------------------------------------------------------------------
# the child process
# --------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _reset_hwm() -> bool:
    """Reset the kernel's VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vmhwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _prefault(nbytes: int) -> float:
    """Write ``nbytes`` of fresh memory and free it; returns the seconds taken.

    On this VM, memory the guest has not used for a while is backed again by
    the hypervisor on first write, at up to ~2 s/GiB instead of ~0.07 s/GiB;
    which run pays for it is chance (it made one case take 0.25 s or 0.8 s
    from one minute to the next). Writing and freeing a buffer just before a
    timed run hands the run memory the guest already holds, so every case and
    baseline is timed without that cost.
    """
    t0 = time.perf_counter()
    buf = np.empty(nbytes, dtype=np.uint8)
    buf.fill(1)
    del buf
    return time.perf_counter() - t0


def _missing(modules: tuple[str, ...]) -> str | None:
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            return f"{name} not installed"
    return None


def child(
    name: str, shape: tuple[int, int, int], workdir: Path, repeat: int, tiny: bool = False
) -> dict:
    """Run case ``name`` ``repeat`` times (see the module docstring); ``tiny``
    makes its inputs at ``shape`` in ``workdir`` instead of reading the cache."""
    import dask

    import xiso  # noqa: F401  (registers .iso)

    dask.config.set(scheduler="threads", num_workers=THREADS)
    case = BY_NAME[name]
    missing = _missing(case.requires)
    if missing:
        return {"skipped": missing}
    try:
        # warm-up on a tiny input: imports, thread pools, first-call costs
        tiny_ctx = Ctx(TINY, workdir / "warm", tiny=True)
        case.run(case.setup(tiny_ctx))
        shutil.rmtree(workdir / "warm", ignore_errors=True)
        gc.collect()
        state = case.setup(Ctx(shape, workdir, tiny=tiny))
    except SkipCase as err:
        return {"skipped": str(err)}
    gc.collect()
    rss_loaded = _rss_bytes()
    runs: list[dict] = []
    info: dict = {}
    prefault_bytes = max(2**28, PREFAULT_X_INPUT * 2 * shape[0] * shape[1] * shape[2])
    for i in range(repeat):
        if "dst" in state:
            bench_data.remove(Path(state["dst"]))
        gc.collect()
        prefault_s = _prefault(prefault_bytes)
        maxrss_before = _maxrss_bytes()
        hwm_reset = _reset_hwm()
        t0 = time.perf_counter()
        result = case.run(state)
        seconds = time.perf_counter() - t0
        maxrss = _maxrss_bytes()
        vmhwm = _vmhwm_bytes() if hwm_reset else None
        # ru_maxrss is the peak of the whole process: if something before the
        # timed part (warm-up, loading, an earlier repeat) peaked higher, it
        # cannot see this run's peak; then use the kernel's high-water mark,
        # which was reset to the current RSS just before the run.
        masked = maxrss_before >= maxrss
        peak = vmhwm if masked and vmhwm is not None else maxrss
        runs.append(
            {
                "seconds": seconds,
                "peak_rss": peak,
                "rss_loaded": rss_loaded,
                "extra": peak - rss_loaded,
                "ru_maxrss": maxrss,
                "vmhwm": vmhwm,
                "masked": masked and vmhwm is None,
                "from_vmhwm": masked and vmhwm is not None,
                "prefault_s": prefault_s,
            }
        )
        if i == 0:
            info = case.describe(state, result)  # checks once, untimed
        del result
    return {"runs": runs, "info": info}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one benchmark case (used by run.py)")
    parser.add_argument("case", choices=sorted(BY_NAME))
    parser.add_argument("--shape", required=True, help="NZxNYxNX of the base input")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs in this process")
    parser.add_argument(
        "--tiny", action="store_true", help="make the inputs in --workdir (no cache; smoke runs)"
    )
    args = parser.parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split("x"))
    try:
        out = child(args.case, shape, args.workdir, args.repeat, args.tiny)  # type: ignore[arg-type]
    except Exception as err:
        traceback.print_exc()
        out = {"error": f"{type(err).__name__}: {err}"}
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
