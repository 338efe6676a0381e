"""Stored layout: chunk and shard shapes from byte targets (pure arithmetic).

What a level looks like on disk is decided here, once, for every writer and
for :func:`xiso.plan`: no arrays, no xarray, only shapes, item sizes and the
role of each dim.

The rule (docs/ome-zarr.md, "Big volumes: shards and the plan")
---------------------------------------------------------------
- **Chunks** are what a viewer fetches one at a time. Every space dim gets the
  same power-of-two edge, the largest whose chunk (edges clipped to the
  image) holds at most :data:`CHUNK_BYTES` (4 MiB); other dims (channel,
  time) get 1. uint16 3-D: 128 x 128 x 128 (4 MiB); float32: 64^3 (1 MiB); a
  30 x 15000 x 15000 uint16 slab: 30 x 256 x 256 (3.75 MiB). No chunk ever
  passes :data:`CHUNK_LIMIT` (16 MiB) unless the user asks for it.
- **Shards** (zarr v3's sharding codec, NGFF 0.5 only) group chunks into one
  stored object. A shard grows from one chunk by doubling its smallest space
  edge (counted in chunks; the last dim first on ties) while it holds at most
  :data:`SHARD_BYTES` (64 MiB) and still fits in the image. A 2 TiB uint16
  level is then 32,768 objects instead of 524,288 chunk files.
- ``shards="auto"`` shards only an image whose level 0 holds more than
  :data:`AUTO_SHARD_CHUNKS` chunks (4 GiB of uint16 in 128^3 chunks): a small
  image stays one file per chunk.
- Sharded levels share one chunk and one shard shape (a viewer's tiles line
  up from level to level); without shards each level's chunks are clipped to
  its shape, as before.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import OptionError

__all__ = [
    "AUTO_SHARD_CHUNKS",
    "CHUNK_BYTES",
    "CHUNK_LIMIT",
    "SHARD_BYTES",
    "Layout",
    "choose_layout",
    "count_objects",
    "level_chunks",
    "write_unit",
]

CHUNK_BYTES = 4 * 2**20
"""Byte target of an automatic chunk: what a viewer fetches at once."""
CHUNK_LIMIT = 16 * 2**20
"""No automatic chunk passes this (fileglancer warns above 10 MiB)."""
SHARD_BYTES = 64 * 2**20
"""Byte target of an automatic shard: one object, written whole by one task."""
AUTO_SHARD_CHUNKS = 1024
"""``shards="auto"`` shards an image whose level 0 holds more chunks than this."""


@dataclass(frozen=True)
class Layout:
    """Chunk and shard shape (in the dims' order) shared by the levels of an image.

    ``shards`` is None for one object per chunk.
    """

    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None


def _per_dim(
    value: Any, dims: Sequence[Hashable], roles: Sequence[str | None], what: str
) -> dict[Hashable, int]:
    """An int (every space dim), a mapping of dim -> int or a sequence of one
    int per dim, checked."""
    if isinstance(value, tuple | list) and len(value) == len(dims):
        value = dict(zip(dims, value))
    if isinstance(value, bool) or not isinstance(value, int | Mapping):
        raise OptionError(
            f"{what}={value!r}: pass a whole number (the edge of every space dim), a "
            f"mapping of dim to edge, e.g. {{{dims[-1]!r}: 64}}, or one edge per dim "
            f"{tuple(dims)!r}"
        )
    if isinstance(value, int):
        found = {d: value for d, r in zip(dims, roles) if r == "space"}
    else:
        found = dict(value)
        unknown = [d for d in found if d not in dims]
        if unknown:
            raise OptionError(
                f"{what} names {unknown[0]!r}, which is not a dimension of the image "
                f"{tuple(dims)!r}"
            )
    for d, edge in found.items():
        if isinstance(edge, bool) or not isinstance(edge, int) or edge < 1:
            raise OptionError(
                f"the {what[:-1] if what.endswith('s') else what} edge of dimension {d!r} is "
                f"{edge!r}; pass a whole number >= 1"
            )
    return found


def auto_chunks(
    shape: Sequence[int], itemsize: int, roles: Sequence[str | None], target: int = CHUNK_BYTES
) -> tuple[int, ...]:
    """The default chunk shape: one power-of-two edge for every space dim, the
    largest whose chunk (clipped to ``shape``) holds at most ``target`` bytes;
    1 along the other dims.

    >>> auto_chunks((512, 512, 512), 2, ["space"] * 3)
    (128, 128, 128)
    >>> auto_chunks((30, 15000, 15000), 2, ["space"] * 3)
    (30, 256, 256)
    >>> auto_chunks((3, 100, 2048, 2048), 1, ["channel", "space", "space", "space"])
    (1, 100, 128, 128)
    """
    space = [i for i, r in enumerate(roles) if r == "space"] or list(range(len(shape)))

    def size(edge: int) -> int:
        return itemsize * math.prod(min(edge, shape[i]) for i in space)

    edge = 1
    while size(edge * 2) <= target and size(edge * 2) > size(edge):
        edge *= 2
    return tuple(min(edge, n) if i in space else 1 for i, n in enumerate(shape))


def _auto_shards(
    shape: Sequence[int],
    chunks: Sequence[int],
    itemsize: int,
    roles: Sequence[str | None],
    target: int = SHARD_BYTES,
) -> tuple[int, ...]:
    """Shard shape: chunks grouped by doubling the space edge with the fewest
    chunks (the last dim first on ties) while the shard holds at most
    ``target`` bytes and that edge does not yet cover the image."""
    counts = [1] * len(shape)
    space = [i for i, r in enumerate(roles) if r == "space"]
    while True:
        growable = [i for i in space if counts[i] * chunks[i] < shape[i]]
        if not growable:
            break
        i = min(reversed(growable), key=lambda j: counts[j] * chunks[j])
        trial = list(counts)
        trial[i] *= 2
        if itemsize * math.prod(c * n for c, n in zip(chunks, trial)) > target:
            break
        counts = trial
    return tuple(c * n for c, n in zip(chunks, counts))


def choose_layout(
    shape: Sequence[int],
    itemsize: int,
    dims: Sequence[Hashable],
    roles: Sequence[str | None],
    *,
    chunks: Any = None,
    shards: Any = "auto",
    version: str = "0.5",
) -> Layout:
    """The chunk and shard shape of an image whose level 0 has ``shape``.

    Parameters
    ----------
    shape, itemsize, dims, roles
        Level 0's shape, the bytes of one value, the dims and their NGFF axis
        types (``"space"``, ``"channel"``, ``"time"`` or None).
    chunks : int or mapping, optional
        Chunk edge of every space dim, or per dim; the rest from
        :func:`auto_chunks` (other dims: 1). Clipped to ``shape``.
    shards : "auto", None, int or mapping
        Shard edge per space dim (a whole multiple of the chunk edge; 1 shard
        edge = one chunk along dims not named), ``None`` for no shards,
        ``"auto"`` for the rule in the module's docstring.
    version : {"0.5", "0.4"}
        Shards need zarr v3, hence NGFF 0.5.

    Raises
    ------
    OptionError
        A bad chunk or shard edge, a shard edge that is no whole multiple of
        its chunk edge, or shards asked for NGFF 0.4.

    Examples
    --------
    >>> choose_layout((4096, 16384, 16384), 2, "zyx", ["space"] * 3)
    Layout(chunks=(128, 128, 128), shards=(256, 256, 512))
    >>> choose_layout((64, 64, 64), 2, "zyx", ["space"] * 3)
    Layout(chunks=(64, 64, 64), shards=None)
    >>> choose_layout((256, 256, 256), 2, "zyx", ["space"] * 3, chunks=64, shards={"z": 128})
    Layout(chunks=(64, 64, 64), shards=(128, 64, 64))
    """
    dims = list(dims)
    auto = auto_chunks(shape, itemsize, roles)
    asked = {} if chunks is None else _per_dim(chunks, dims, roles, "chunks")
    chunk = tuple(max(1, min(int(asked.get(d, a)), n)) for d, a, n in zip(dims, auto, shape))
    if shards is None:
        return Layout(chunk, None)
    if isinstance(shards, str):
        if shards != "auto":
            raise OptionError(
                f"shards={shards!r}: pass 'auto', None (no shards), a whole number (the "
                "shard edge of every space dim) or a mapping of dim to edge"
            )
        count = math.prod(-(-n // c) for n, c in zip(shape, chunk))
        if version != "0.5" or count <= AUTO_SHARD_CHUNKS:
            return Layout(chunk, None)
        return Layout(chunk, _auto_shards(shape, chunk, itemsize, roles))
    if version != "0.5":
        raise OptionError(
            f"shards={shards!r} needs zarr v3, i.e. NGFF 0.5 (version={version!r} is zarr "
            "v2, which has no shards); pass version='0.5', or shards=None"
        )
    edges = _per_dim(shards, dims, roles, "shards")
    out = []
    for d, c in zip(dims, chunk):
        edge = int(edges.get(d, c))
        if edge % c:
            raise OptionError(
                f"the shard edge of dimension {d!r} is {edge}, not a whole multiple of its "
                f"chunk edge {c}; pass a multiple such as {c * max(1, round(edge / c))}"
            )
        out.append(edge)
    return Layout(chunk, tuple(out))


def level_chunks(layout: Layout, shape: Sequence[int]) -> tuple[int, ...]:
    """The chunk shape of a level of ``shape``: the shared one when sharded
    (chunks must tile the shards), else clipped to the level."""
    if layout.shards is not None:
        return layout.chunks
    return tuple(max(1, min(c, n)) for c, n in zip(layout.chunks, shape))


def write_unit(layout: Layout, shape: Sequence[int]) -> tuple[int, ...]:
    """The region one task writes whole at a level of ``shape``: a shard, or a
    chunk without shards (clipped to the level)."""
    unit = layout.shards if layout.shards is not None else layout.chunks
    return tuple(max(1, min(u, n)) for u, n in zip(unit, shape))


def count_objects(layout: Layout, shape: Sequence[int]) -> int:
    """How many stored objects (shards, or chunks without shards) a level of
    ``shape`` has at most (chunks equal to the fill value may be skipped)."""
    unit = layout.shards if layout.shards is not None else level_chunks(layout, shape)
    return math.prod(-(-n // u) for n, u in zip(shape, unit))
