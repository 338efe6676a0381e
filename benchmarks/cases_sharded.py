"""Group ``sharded``: case 3 and case 4 written with zarr v3 shards (issue 21),
against the sharded codec floor.

The shard shape is what ``shards="auto"`` picks for a level-0 image of this
shape (:mod:`xiso.layout`: chunks grouped up to 64 MiB), given explicitly:
the 1 GiB source is below the size at which ``"auto"`` starts sharding, and
the point is to time the layout a TB-scale image gets. For case 3's output
(128 x 1024 x 1024 uint16, chunks 128^3) that is 128 x 512 x 512: 4 shards of
16 chunks instead of 64 chunk files. The pyramid (case 4) keeps that shard
and chunk shape at every level, as xiso writes it.

The floor (``sharded-codec-floor``) does case 3's job below zarr: the codec
floor's raw chunk files, zstd decode, every 4th plane and zstd encode, but
the encoded chunks are packed into one object per shard behind a shard index
built by hand as the zarr v3 sharding codec specifies it. That is what any
writer of this sharded array must at least do.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
from cases_base import CHUNK, FACTOR, THREADS, Case, Ctx, describe_store, raw_chunks, zarr_level0
from cases_pyramid import describe_pyramid
from cases_zarr import setup_codec_floor

MISSING = 2**64 - 1  # offset and length of a chunk absent from its shard (the spec's marker)


def out_layout(src_shape: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(chunks, shards) of case 3's output for a source of ``src_shape``: chunks
    of ``CHUNK`` clipped to the output, and the shard ``shards="auto"`` gives."""
    from xiso.layout import _auto_shards

    out = (src_shape[0] // FACTOR, *src_shape[1:])
    chunks = tuple(min(CHUNK, n) for n in out)
    return chunks, _auto_shards(out, chunks, 2, ["space"] * len(out))


def _shards_of(s: dict) -> dict[str, int]:
    return dict(zip(("z", "y", "x"), s["shards"]))


# --------------------------------------------------------------------------
# the floor: a shard object and its index, by hand
# --------------------------------------------------------------------------
def shard_bytes(chunks: dict[tuple[int, ...], bytes], per_shard: tuple[int, ...]) -> bytes:
    """One shard object of the zarr v3 sharding codec with its default index
    codecs: the encoded inner chunks one after another (C order), then the
    index (one little-endian uint64 (offset, length) pair per inner chunk, C
    order; ``2**64 - 1`` twice for a chunk not stored) and the CRC32C of the
    index (4 bytes, little-endian), as the ``index_location="end"`` layout.

    ``chunks`` maps an inner chunk's position in the shard to its encoded bytes.
    """
    import numcodecs

    index = np.full((*per_shard, 2), MISSING, dtype="<u8")
    parts, offset = [], 0
    for pos in np.ndindex(*per_shard):
        data = chunks.get(pos)
        if data is None:
            continue
        index[pos] = (offset, len(data))
        parts.append(data)
        offset += len(data)
    parts.append(bytes(numcodecs.CRC32C().encode(index.tobytes())))
    return b"".join(parts)


def create_sharded(path: str, src: Any, shape: tuple[int, ...], chunks: Any, shards: Any) -> Any:
    """The metadata (zarr.json) of a sharded array like ``src`` (dtype, zstd
    level), written by zarr-python; the floor writes its shards by hand."""
    import zarr

    return zarr.create_array(
        store=path,
        shape=shape,
        dtype=src.dtype,
        chunks=chunks,
        shards=shards,
        compressors=src.compressors,
        fill_value=0,
        zarr_format=3,
    )


def setup_sharded_floor(ctx: Ctx) -> dict:
    s = setup_codec_floor(ctx)
    s["chunks"], s["shards"] = out_layout(zarr_level0(s["src"]).shape)
    return s


def run_sharded_floor(s: dict) -> Any:
    """Case 3's codec floor written sharded: one task per output chunk on
    THREADS threads, in shard order (read the raw input chunk files beneath
    it, zstd-decode into a reused buffer, take every 4th plane, zstd-encode
    at the input's level); the task that encodes the last chunk of a shard
    packs the shard's chunks and its index (:func:`shard_bytes`) and writes
    the shard object. No zarr for the data (zarr-python writes the metadata
    first), no dask."""
    src, decoder, encoder, root, dst = raw_chunks(s)
    chunk, shard = s["chunks"], s["shards"]
    in_chunk = src.chunks
    shape = (src.shape[0] // FACTOR, *src.shape[1:])
    assert src.shape[0] % FACTOR == 0 and all(n % c == 0 for n, c in zip(src.shape, in_chunk))
    assert tuple(chunk[1:]) == tuple(in_chunk[1:]) and in_chunk[0] % FACTOR == 0
    create_sharded(str(dst), src, shape, chunk, shard)
    per_shard = tuple(sh // c for sh, c in zip(shard, chunk))
    grid = [-(-n // c) for n, c in zip(shape, chunk)]
    order = []  # (shard index, chunk index) in shard order
    for sidx in np.ndindex(*(-(-n // sh) for n, sh in zip(shape, shard))):
        for pos in np.ndindex(*per_shard):
            cidx = tuple(si * p + q for si, p, q in zip(sidx, per_shard, pos))
            if all(c < g for c, g in zip(cidx, grid)):
                order.append((sidx, cidx))
    count: dict[tuple, int] = {}
    for sidx, _ in order:
        count[sidx] = count.get(sidx, 0) + 1
    lock = threading.Lock()
    done: dict[tuple, dict] = {}
    local = threading.local()

    def one(item: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
        sidx, cidx = item
        if not hasattr(local, "buf"):
            local.buf = np.empty(in_chunk, dtype=src.dtype)
            local.out = np.empty(chunk, dtype=src.dtype)
        buf, out = local.buf, local.out
        out[...] = 0  # beyond the edge of the array: the fill value
        rows = range(cidx[0] * chunk[0], min((cidx[0] + 1) * chunk[0], shape[0]))
        planes = range(rows.start * FACTOR, rows.stop * FACTOR, FACTOR)
        for iz in range(planes.start // in_chunk[0], (planes[-1] // in_chunk[0]) + 1):
            raw = (root / str(iz) / str(cidx[1]) / str(cidx[2])).read_bytes()
            decoder.decode(raw, out=buf)
            first = max(planes.start, iz * in_chunk[0])  # a multiple of FACTOR
            last = min(planes.stop, (iz + 1) * in_chunk[0])
            r0 = first // FACTOR - rows.start
            taken = buf[first - iz * in_chunk[0] : last - iz * in_chunk[0] : FACTOR]
            out[r0 : r0 + len(taken)] = taken
        data = bytes(encoder.encode(out))
        pos = tuple(c - si * p for c, si, p in zip(cidx, sidx, per_shard))
        with lock:
            parts = done.setdefault(sidx, {})
            parts[pos] = data
            complete = len(parts) == count[sidx]
            if complete:
                del done[sidx]
        if complete:
            path = dst.joinpath("c", *map(str, sidx))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(shard_bytes(parts, per_shard))

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, order))
    assert not done
    return dst


def describe_sharded_floor(s: dict, result: Any) -> dict:
    """Reads the floor's output back through zarr-python: every value must be
    the source's every 4th plane, so the hand-built shards are valid ones."""
    import zarr

    info = describe_store(s, result)
    got = zarr.open_array(s["dst"], mode="r")
    src = zarr_level0(s["src"])
    ok = got.shards == tuple(s["shards"])
    for z in range(0, got.shape[0], got.chunks[0]):  # a slab at a time, bounded memory
        block = src[z * FACTOR : (z + got.chunks[0]) * FACTOR : FACTOR]
        ok = ok and np.array_equal(got[z : z + got.chunks[0]], block)
    info["check_ok"] = bool(ok)
    info["note"] += f"; shards {tuple(s['shards'])}" + ("" if ok else "; READ BACK DIFFERS")
    return info


# --------------------------------------------------------------------------
# xiso
# --------------------------------------------------------------------------
def setup_xiso_sharded(ctx: Ctx, large: bool = False) -> dict:
    """Case 3s's state; ``large``: the 4x longer source of case 6, written
    with case 3s's shard shape (the same write unit on 4x the volume)."""
    _, shards = out_layout(zarr_level0(ctx.image_store()).shape)
    src = ctx.large_store() if large else ctx.image_store()
    if large:  # whole chunks of the longer output (the same shape at full size)
        chunks, _ = out_layout(zarr_level0(src).shape)
        shards = tuple(-(-s // c) * c for s, c in zip(shards, chunks))
    return {"src": src, "dst": ctx.out("sharded.ome.zarr"), "shards": shards}


def setup_xiso_sharded_large(ctx: Ctx) -> dict:
    return setup_xiso_sharded(ctx, large=True)


def run_xiso_sharded(s: dict) -> None:
    """Case 3 with shards: the same call with ``shards=`` the auto rule's shape."""
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True)
    xiso.to_ome_zarr(
        iso, s["dst"], pyramid=False, chunks=CHUNK, shards=_shards_of(s), overwrite=True
    )


def run_pyramid_sharded(s: dict) -> None:
    """Case 4 with shards: the near-isotropic pyramid, one shard shape at every level."""
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True)
    xiso.to_ome_zarr(iso, s["dst"], pyramid=True, chunks=CHUNK, shards=_shards_of(s))


def _check_sharded(s: dict, info: dict) -> dict:
    """Every level is sharded with the asked shard shape, and level 0 equals
    case 3's near-isotropic image (read lazily, compared slab by slab)."""
    import zarr

    import xiso

    group = zarr.open_group(s["dst"], mode="r")
    ok = all(a.shards == tuple(s["shards"]) for _, a in group.arrays())
    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True).data
    ok = ok and bool((xiso.open_ome_zarr(s["dst"]).data == iso).all().compute())
    info["check_ok"] = ok
    info["note"] += f"; shards {tuple(s['shards'])}" + ("" if ok else "; CHECK FAILED")
    return info


def describe_xiso_sharded(s: dict, result: Any) -> dict:
    import xiso

    info = describe_store(s, result)
    info["output_bytes"] = int(xiso.open_ome_zarr(s["dst"]).nbytes)
    return _check_sharded(s, info)


def describe_pyramid_sharded(s: dict, result: Any) -> dict:
    return _check_sharded(s, describe_pyramid(s, result))


CASES: list[Case] = [
    # case 3 and 4 written sharded, reference: the sharded codec floor
    Case(
        "sharded-codec-floor",
        "sharded",
        "case 3's codec floor writing the same chunks packed into shard objects with a "
        "hand-built shard index (numcodecs zstd + crc32c, no zarr for the data)",
        setup_sharded_floor,
        run_sharded_floor,
        describe_sharded_floor,
        inputs=("zarr",),
    ),
    Case(
        "xiso-sharded",
        "sharded",
        "case 3 written sharded: to_ome_zarr(pyramid=False, shards= the auto rule's shape)",
        setup_xiso_sharded,
        run_xiso_sharded,
        describe_xiso_sharded,
        number="3s",
        inputs=("zarr",),
    ),
    Case(
        "pyramid-sharded",
        "sharded",
        "case 4 written sharded: to_ome_zarr(near-isotropic, pyramid=True, the same shards)",
        setup_xiso_sharded,
        run_pyramid_sharded,
        describe_pyramid_sharded,
        number="4s",
        inputs=("zarr",),
        ref="xiso-sharded",
    ),
    Case(
        "xiso-sharded-large",
        "sharded",
        "case 3s on case 6's 4x longer source (out of core), the same shard shape",
        setup_xiso_sharded_large,
        run_xiso_sharded,
        describe_xiso_sharded,
        number="6s",
        inputs=("zarr", "large"),
        large=True,
        ref="xiso-sharded",
    ),
]
