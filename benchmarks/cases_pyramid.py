"""Group ``pyramid``: a multiscale pyramid from the OME-Zarr source (case 4),
against its I/O and codec floors and ngff-zarr.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import data as bench_data
import numpy as np
from cases_base import (
    CHUNK,
    THREADS,
    Case,
    Ctx,
    chunk_grid,
    describe_store,
    raw_chunks,
    zarr_level0,
)
from cases_zarr import setup_codec_floor


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

    src = zarr_level0(s["src"])
    group = zarr.open_group(s["dst"], mode="w", zarr_format=src.metadata.zarr_format)
    level0 = group.create_array(
        "0", shape=src.shape, dtype=src.dtype, chunks=src.chunks, compressors=src.compressors
    )

    def copy(region: tuple[slice, ...]) -> None:
        level0[region] = src[region]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(copy, chunk_grid(src.shape, src.chunks)))
        for i, arr in enumerate(s["levels"], start=1):
            chunks = tuple(min(c, n) for c, n in zip(src.chunks, arr.shape))
            target = group.create_array(
                str(i), shape=arr.shape, dtype=arr.dtype, chunks=chunks, compressors=src.compressors
            )

            def write(region: tuple[slice, ...], target: Any = target, arr: Any = arr) -> None:
                target[region] = arr[region]

            list(pool.map(write, chunk_grid(arr.shape, chunks)))


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

    src, decoder, encoder, root, dst = raw_chunks(s)
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
    src = zarr_level0(s["src"])
    levels = _pyramid_levels(src.shape, src.chunks)
    info["note"] += f"; {len(levels)} level(s), last {levels[-1][0]}"
    return info


CASES: list[Case] = [
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
]
