"""Group ``zarr``: OME-Zarr -> near-isotropic OME-Zarr (case 3), against plain
zarr (with zarrs and zarrista), the codec floor, tensorstore, ngff-zarr and zarrnii.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from cases_base import (
    CHUNK,
    FACTOR,
    THREADS,
    Case,
    Ctx,
    chunk_grid,
    create_like,
    describe_store,
    raw_chunks,
    zarr_level0,
)


# --------------------------------------------------------------------------
# I/O floors
# --------------------------------------------------------------------------
def setup_zarr_floor(ctx: Ctx, large: bool = False) -> dict:
    store = ctx.large_store() if large else ctx.image_store()
    return {"src": store, "dst": ctx.out("floor.zarr")}


def run_zarr_floor(s: dict) -> Any:
    """Plain zarr: read every input chunk, write the output chunks (the input's
    every 4th plane, no arithmetic), same codec and chunks, THREADS threads,
    one output chunk (four input chunks) per task."""
    src = zarr_level0(s["src"])
    nz, ny, nx = src.shape
    dst = create_like(src, s["dst"], (nz // FACTOR, ny, nx))

    def one(region: tuple[slice, ...]) -> None:
        zs = region[0]
        block = src[(slice(zs.start * FACTOR, zs.stop * FACTOR), *region[1:])]
        dst[region] = block[::FACTOR]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, chunk_grid(dst.shape, dst.chunks)))
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

    src = zarr_level0(s["src"])
    nz, ny, nx = src.shape
    create_like(src, s["dst"], (nz // FACTOR, ny, nx))
    fs = zarrista.store.FilesystemStore
    a = zarrista.Array.open(fs(s["src"]), "/0")
    d = zarrista.Array.open(fs(s["dst"]), "/")

    def one(region: tuple[slice, ...]) -> None:
        zs = region[0]
        block = a[(slice(zs.start * FACTOR, zs.stop * FACTOR), *region[1:])].to_numpy()
        d[region] = np.ascontiguousarray(block[::FACTOR])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, chunk_grid((nz // FACTOR, ny, nx), src.chunks)))
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
    create_like(zarr_level0(s["src"]), s["dst"], (nz // FACTOR, ny, nx))  # same metadata
    dst = ts.open({"driver": "zarr3", "kvstore": f"file://{s['dst']}"}, context=context).result()
    pending: list[Any] = []
    for region in chunk_grid(dst.shape, (CHUNK, CHUNK, CHUNK)):
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


def _codec_floor(s: dict, mean: bool) -> Any:
    import threading

    from xiso.reduce import reduce_numpy

    src, decoder, encoder, root, dst = raw_chunks(s)
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


# --------------------------------------------------------------------------
# xiso
# --------------------------------------------------------------------------
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


# --------------------------------------------------------------------------
# peers
# --------------------------------------------------------------------------
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


def setup_zarrnii(ctx: Ctx) -> dict:
    from zarrnii import ZarrNii

    return {"src": ctx.image_store(), "dst": ctx.out("zarrnii.ome.zarr"), "cls": ZarrNii}


def run_zarrnii(s: dict) -> None:
    """zarrnii's own path for the same job: read, z/4 downsample, write one level."""
    image = s["cls"].from_ome_zarr(s["src"])
    image.downsample(along_z=FACTOR).to_ome_zarr(s["dst"], max_layer=1)


CASES: list[Case] = [
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
]
