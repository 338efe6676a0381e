"""A killed write resumes: the job record, and progress recorded per unit.

What is recorded (docs/scale.md, "When a conversion is killed")
-------------------------------------------------------------
- **The job**, ``.xiso-job.json`` in the hidden temporary, written before any
  array: what is written (the plan's levels, shapes, spacing, method, chunk
  and shard shapes, NGFF version, codec, label images) and a fingerprint of
  the source (its name, dims, shape, dtype, coordinates and attrs). Its
  values are checked too, without reading anything more than the write does:
  up to :data:`SAMPLE_BLOCKS` units of level 0, spread over the image, are
  recorded with a hash of the values written; a resume computes those units
  from its source again and compares. So a changed source is caught where it
  was sampled, and its metadata always. ``resume=True`` takes a killed write's
  temporary only when its job is this one, field by field; otherwise
  :class:`~xiso.errors.ResumeError` names what differs (and the temporary is
  kept, for a resume with the right source).
- **A unit**, what one task writes whole (a shard, or a chunk without
  shards), is recorded as done only after its bytes are written (and, on a
  local disk, flushed with ``fsync``): an empty key
  ``.xiso-progress/<array path>/<i.j.k>`` in the temporary. A kill at any
  instant leaves each unit recorded (and complete) or not recorded (and then
  written again whole on resume); a key half-made by a kill does not exist.
  The flushing and recording run on threads of the write's own
  (:class:`Journal`), each unit's marker after its flush, so the threads that
  compute and store units never wait for the disk; the write waits for them
  before its metadata, and on a failure records what was stored whole before
  it raises.
- On resume, recorded units are not computed again, and levels whose every
  unit is recorded are the source of the next ones (a level is computed from
  the stored previous level, not from the source).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import math
import os
import threading
import uuid
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import xarray as xr

from .targets import JOB_KEY, PROGRESS

__all__ = [
    "COMMAND",
    "JOB_KEY",
    "Journal",
    "PROGRESS",
    "SAMPLE_BLOCKS",
    "Recorder",
    "check_source",
    "differences",
    "done_units",
    "job_record",
    "progress",
    "recorded_digests",
    "sampled",
    "skip_done",
    "source_fingerprint",
    "value_digest",
    "write_job",
]

SAMPLE_BLOCKS = 8
"""Units of level 0 whose values are recorded (hashed) to check the source on resume."""

COMMAND: contextvars.ContextVar[str | None] = contextvars.ContextVar("xiso_command", default=None)
"""The command line of the running ``xiso convert`` (recorded with the job, not part of it)."""
_NOT_THE_JOB = ("command",)


def _digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _array_digest(values: Any) -> str:
    values = np.ascontiguousarray(np.asarray(values))
    if values.dtype.kind in "OUS":
        return _digest(repr(values.tolist()).encode())
    return _digest(str(values.dtype).encode(), str(values.shape).encode(), values.tobytes())


def sampled(grid: Sequence[int]) -> frozenset[tuple[int, ...]]:
    """The units (indices in a grid of units) whose values are hashed: up to
    :data:`SAMPLE_BLOCKS`, spread over the grid in C order, first and last included."""
    count = math.prod(grid)
    if not count:
        return frozenset()
    spread = max(SAMPLE_BLOCKS - 1, 1)
    chosen = {round(i * (count - 1) / spread) for i in range(SAMPLE_BLOCKS)}
    return frozenset(tuple(int(j) for j in np.unravel_index(i, tuple(grid))) for i in chosen)


def value_digest(values: Any) -> str:
    """The hash recorded for a sampled unit: its dtype, shape and bytes."""
    return _array_digest(values)


def source_fingerprint(da: xr.DataArray) -> dict[str, Any]:
    """What identifies the image ``da`` (see the module docstring)."""
    coords = _coords_digest(da)
    return {
        "name": None if da.name is None else str(da.name),
        "dims": [str(d) for d in da.dims],
        "shape": list(da.shape),
        "dtype": str(da.dtype),
        "coords": coords,
        "attrs": _digest(json.dumps(da.attrs, sort_keys=True, default=repr).encode()),
    }


def differences(found: Any, wanted: Any, path: str = "") -> list[str]:
    """What differs between two job records, as ``key: was X, now Y`` lines."""
    if isinstance(found, Mapping) and isinstance(wanted, Mapping):
        out = []
        keys = set(found) | set(wanted)
        if not path:
            keys -= set(_NOT_THE_JOB)
        for key in sorted(keys, key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in found or key not in wanted:
                out.append(f"{where}: only in the {'new' if key in wanted else 'unfinished'} job")
            else:
                out += differences(found[key], wanted[key], where)
        return out
    if found != wanted:
        name = path or "job"
        if path.endswith("content"):
            return [f"{name}: the source's values differ"]
        return [f"{name}: was {_short(found)}, now {_short(wanted)}"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, default=repr)
    return text if len(text) <= 60 else text[:57] + "..."


def unit_name(index: Sequence[int]) -> str:
    return ".".join(map(str, index))


def _base(group_path: str) -> str:
    return f"{group_path}/" if group_path else ""


def _progress_prefix(array: Any, group_path: str) -> str:
    """Where the units of ``array`` (in the group of the write at ``group_path``) are recorded."""
    inside = array.path[len(_base(group_path)) :]
    return f"{_base(group_path)}{PROGRESS}/{inside}/"


def done_units(array: Any, group_path: str) -> set[tuple[int, ...]]:
    """The units of the zarr ``array`` recorded as written whole."""
    from zarr.core.sync import sync

    store, prefix = array.store, _progress_prefix(array, group_path)

    async def collect() -> list[str]:
        return [key async for key in store.list_prefix(prefix)]

    out = set()
    for key in sync(collect()):
        name = key.rsplit("/", 1)[-1]
        with contextlib.suppress(ValueError):
            out.add(tuple(int(i) for i in name.split(".")))
    return out


def recorded_digests(
    array: Any, group_path: str, units: Iterable[tuple[int, ...]]
) -> dict[tuple[int, ...], str]:
    """The value hashes recorded with the sampled ``units`` of ``array``."""
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    prefix = _progress_prefix(array, group_path)
    out = {}
    for index in units:
        found = sync(array.store.get(prefix + unit_name(index), default_buffer_prototype()))
        if found is not None and found.to_bytes():
            out[index] = found.to_bytes().decode()
    return out


def check_source(
    source: Any, unit: Sequence[int], recorded: Mapping[tuple[int, ...], str], where: str
) -> None:
    """Raise :class:`ResumeError` when the values of ``source`` (level 0, a dask
    array) differ in a sampled unit from those a killed write recorded."""
    if not recorded:
        return
    import dask
    from dask.callbacks import Callback

    from ..errors import ResumeError

    cut = source.rechunk(tuple(unit))
    indices = sorted(recorded)
    shown, Callback.active = Callback.active, set()  # a check, not the write: no bar
    try:
        values = dask.compute(*(cut.blocks[index] for index in indices))
    finally:
        Callback.active = shown
    for index, value in zip(indices, values):
        if value_digest(value) != recorded[index]:
            raise ResumeError(
                f"resume=True, but {where}: source.content: the source's values differ in unit "
                f"{unit_name(index)} of level 0 (written by the killed write) from what it "
                "wrote; resume with the source it was converting, or write again without "
                "resume=True (xiso convert without --resume) to start over"
            )


FLUSH_THREADS = 4
"""Threads of a :class:`Journal`: the ``fsync`` calls of several units run at
once (a file system commits them together), as they did when each writer
thread flushed its own unit."""


class Journal:
    """Records the units of one write on threads of its own: each unit's file
    is flushed (:meth:`Recorder._flush`, ``fsync`` on a local disk), then its
    marker written (:meth:`Recorder._record`), so a marker is never written
    before its unit's bytes are flushed, and the threads that compute and
    store units never wait for the disk.

    :meth:`close` waits until every unit handed over is recorded and raises
    what the recording failed with. After a failure no unit is recorded any
    more, and units handed over later raise it in the thread that stores
    them (the write stops, as when a marker cannot be written).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: BaseException | None = None
        self._pool: ThreadPoolExecutor | None = None

    def add(self, recorder: Recorder, index: tuple[int, ...], digest: str) -> None:
        """Record unit ``index`` of ``recorder`` (its bytes stored) soon."""
        with self._lock:
            if self._error is not None:
                raise self._error
            if self._pool is None:
                self._pool = ThreadPoolExecutor(FLUSH_THREADS, thread_name_prefix="xiso-progress")
            self._pool.submit(self._record, recorder, index, digest)

    def _record(self, recorder: Recorder, index: tuple[int, ...], digest: str) -> None:
        if self._error is not None:
            return
        try:
            recorder._flush(index)
            recorder._record(index, digest)  # only once the bytes are flushed
        except BaseException as err:  # this unit is not recorded: written again on resume
            with self._lock:
                self._error = self._error or err

    def close(self, *, failed: bool = False) -> None:
        """Wait until every unit handed over is recorded; raise what the
        recording failed with, unless the write ``failed`` already (then its
        own error is the one to see)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        if self._error is not None and not failed:
            raise self._error


def unit_index(key: Any, unit: Sequence[int]) -> tuple[int, ...]:
    """The index of the write unit whose region is ``key`` (slices, as
    ``dask.array.store`` gives them)."""
    key = key if isinstance(key, tuple) else (key,)
    return tuple(int(k.start or 0) // u for k, u in zip(key, unit))


class Recorder:
    """Stores regions (whole units) into ``target`` and records each unit
    written; units already recorded are skipped.

    ``target`` is what xiso stores into (the zarr array, zarrista's view of
    it, or a guard around either); ``array`` the zarr array. Units are
    recorded by ``journal`` (see :class:`Journal`), or at once without one.
    It pickles (for dask.distributed) as its parts, without the journal: in
    another process each unit is recorded at once.
    """

    def __init__(
        self,
        target: Any,
        array: Any,
        group_path: str,
        unit: Sequence[int],
        done: Iterable[tuple[int, ...]],
        sample: Iterable[tuple[int, ...]] = (),
        journal: Journal | None = None,
    ) -> None:
        self.target, self.array, self.unit = target, array, tuple(unit)
        self.prefix = _progress_prefix(array, group_path)
        self.sampled = frozenset(sample)
        self.done = frozenset(done)
        self.shape, self.dtype, self.ndim = target.shape, target.dtype, target.ndim
        self.journal = journal

    def __getstate__(self) -> dict[str, Any]:
        return {**vars(self), "journal": None}

    def __dask_tokenize__(self) -> Any:
        tokenize = getattr(self.target, "__dask_tokenize__", None)
        return ("xiso-recorder", tokenize() if tokenize else id(self.target), self.unit)

    def index(self, key: Any) -> tuple[int, ...]:
        return unit_index(key, self.unit)

    def __setitem__(self, key: Any, value: Any) -> None:
        index = self.index(key)
        if index in self.done:
            return
        self.target[key] = value
        digest = value_digest(value) if index in self.sampled else ""
        if self.journal is None:
            self._flush(index)
            self._record(index, digest)
        else:
            self.journal.add(self, index, digest)

    def _flush(self, index: tuple[int, ...]) -> None:
        """On a local disk, the unit's bytes reach the disk before it is recorded."""
        root = getattr(self.array.store, "root", None)
        if root is None:
            return
        try:
            key = self.array.metadata.encode_chunk_key(index)
        except Exception:
            return
        path = os.path.join(str(root), self.array.path, key)
        with contextlib.suppress(FileNotFoundError, IsADirectoryError):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    def _record(self, index: tuple[int, ...], digest: str) -> None:
        """Write the marker of unit ``index``: a plain file on a local disk (no
        round trip through zarr's event loop), else a key of zarr's store."""
        from zarr.storage import LocalStore

        key = self.prefix + unit_name(index)
        if isinstance(self.array.store, LocalStore):
            _write_marker(os.path.join(str(self.array.store.root), key), digest.encode())
            return
        from zarr.core.buffer import default_buffer_prototype
        from zarr.core.sync import sync

        value = default_buffer_prototype().buffer.from_bytes(digest.encode())
        sync(self.array.store.set(key, value))


def _write_marker(path: str, content: bytes) -> None:
    """The file ``path`` holding ``content``, whole or not at all: an empty one
    is made by one call; one with content is written beside it and renamed
    (a name that :func:`done_units` does not read as a unit)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if not content:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666))
        return
    partial = f"{path}.{uuid.uuid4().hex}.partial"
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    os.replace(partial, path)


def _placeholder(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A block that is never stored (its unit is done): no memory behind it."""
    return np.broadcast_to(np.zeros((), dtype=dtype), shape)


def skip_done(source: Any, done: set[tuple[int, ...]]) -> Any:
    """``source`` (a dask array cut into units) whose done units are never
    computed: their blocks are empty placeholders that the :class:`Recorder`
    does not store."""
    if not done:
        return source
    import dask.array as dsa
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    name = "xiso-resume-" + tokenize(source.name, sorted(done))
    graph: dict[Any, Any] = {}
    for index in np.ndindex(*source.numblocks):
        if index in done:
            shape = tuple(c[i] for c, i in zip(source.chunks, index))
            graph[(name, *index)] = (_placeholder, shape, source.dtype)
        else:
            graph[(name, *index)] = (source.name, *index)
    layers = HighLevelGraph.from_collections(name, graph, dependencies=[source])
    return dsa.Array(layers, name, source.chunks, meta=source._meta)


def write_job(group: Any, job: Mapping[str, Any]) -> None:
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    base = _base(group.path)
    value = json.dumps(job, sort_keys=True, indent=1).encode()
    sync(group.store.set(base + JOB_KEY, default_buffer_prototype().buffer.from_bytes(value)))


def _coords_digest(da: xr.DataArray) -> dict[str, str]:
    return {
        str(name): _array_digest(coord.values)
        for name, coord in sorted(da.coords.items(), key=lambda kv: str(kv[0]))
    }


def job_record(
    pairs: Sequence[tuple[str, xr.DataArray]],
    layout: Any,
    version: str,
    method: str | None,
    compressor: Any,
    labels: Sequence[Any] = (),
) -> dict[str, Any]:
    """The job of a write: what is written, and the fingerprint of its source."""

    def levels(items: Sequence[tuple[str, xr.DataArray]]) -> list[dict[str, Any]]:
        return [
            {
                "path": path,
                "shape": list(da.shape),
                "dtype": str(da.dtype),
                "coords": _coords_digest(da),
            }
            for path, da in items
        ]

    return {
        "xiso_job": 1,
        "command": COMMAND.get(),
        "version": version,
        "layout": {
            "chunks": list(layout.chunks),
            "shards": None if layout.shards is None else list(layout.shards),
        },
        "method": method,
        "compressor": repr(compressor),
        "levels": levels(pairs),
        "source": source_fingerprint(pairs[0][1]),
        "labels": {
            str(w.name): {"levels": levels(w.levels), "source": source_fingerprint(w.levels[0][1])}
            for w in labels
        },
    }


def progress(job: Mapping[str, Any], recorded: int) -> tuple[int, int]:
    """(units recorded, units in all) of a killed write of ``job``."""
    from ..layout import Layout, write_unit

    layout = Layout(tuple(job["layout"]["chunks"]), job["layout"].get("shards"))
    shapes = [lv["shape"] for lv in job.get("levels", [])]
    for label in job.get("labels", {}).values():
        shapes += [lv["shape"] for lv in label.get("levels", [])]
    total = sum(
        math.prod(-(-n // u) for n, u in zip(shape, write_unit(layout, shape))) for shape in shapes
    )
    return min(recorded, total), total
