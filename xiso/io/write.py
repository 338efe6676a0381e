"""Writing: labelled levels -> zarr arrays in a target, OME metadata last.

Everything here writes what it is given: :func:`xiso.compose.to_ome_zarr`
makes the levels (:func:`xiso.pyramid`, the label levels with ``mode``) and
calls :func:`write_image` (or :func:`write_label` to add one label image to
a stored image); :mod:`.ngff` turns the levels into metadata, :mod:`.targets`
says where and how the image replaces what is there, and
:func:`write_levels` writes the arrays. Nothing here reduces.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import sys
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import xarray as xr
import zarr

from ..errors import OmeZarrError, OptionError, StoreExistsError
from ..layout import Layout, level_chunks, write_unit
from ..plan import layout_of
from ..progress import work
from . import engine, ngff
from . import resume as _resume
from .targets import Location, resolve

__all__ = [
    "as_dask",
    "check_image",
    "image_and_labels",
    "levels_of",
    "open_target",
    "positive_axes",
    "split_labels",
    "stored_image",
    "write_image",
    "write_label",
    "write_levels",
]


class _Sliceable:
    """A numpy array seen through ``__getitem__`` only: ``dask.array.from_array``
    then slices views of it per chunk instead of copying it into its chunks,
    and the graph holds it once (one key), not once per task."""

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self.shape = data.shape
        self.dtype = data.dtype
        self.ndim = data.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        return self.data[key]


def _numpy_as_dask(data: np.ndarray, chunks: tuple[int, ...]) -> Any:
    """A dask array whose chunks are views of ``data`` (no copy), so that a
    pyramid of an in-memory image is computed chunk by chunk, in one pass."""
    import dask.array as dsa

    return dsa.from_array(
        _Sliceable(data),
        chunks=chunks,
        lock=False,
        asarray=True,
        inline_array=False,
        name=f"xiso-view-{uuid.uuid4().hex}",
        meta=np.empty((0,) * data.ndim, dtype=data.dtype),
    )


def _store_numpy(data: np.ndarray, array: Any, chunks: tuple[int, ...]) -> None:
    """Write an in-memory array one write unit (a shard, or a chunk) at a time
    from views, on a few threads: each unit is written whole by one thread.

    (``dask.array.from_array`` copies a numpy input into its chunks, which
    would double the memory of writing an in-memory image.)
    """
    regions = [
        tuple(slice(i, min(i + c, n)) for i, c, n in zip(starts, chunks, data.shape))
        for starts in itertools.product(*(range(0, n, c) for n, c in zip(data.shape, chunks)))
    ]

    def write(region: tuple[slice, ...]) -> None:
        array[region] = data[region]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        try:
            for _ in pool.map(write, regions):
                pass
        except BaseException:
            # the first failure (a full disk) ends the write: regions not yet
            # started are dropped, and leaving the block waits for the others
            pool.shutdown(wait=True, cancel_futures=True)
            raise


class _Writes:
    """The stores of one write, which can be stopped: once :meth:`stop`
    returns, no store into a :meth:`guard`-ed array runs and none starts.

    dask's threaded scheduler raises the first failure of a computation while
    its other threads go on storing chunks; the temporary they write into is
    removed only after :meth:`stop` (else a chunk written after the removal
    leaves the temporary behind). The guard is this process's: a store that
    runs in another process (dask.distributed, the multiprocessing scheduler)
    gets the plain array.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._stopped = False

    def guard(self, array: Any) -> _Guarded:
        return _Guarded(array, self)

    def enter(self) -> bool:
        with self._cond:
            if self._stopped:
                return False
            self._running += 1
            return True

    def leave(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.wait_for(lambda: self._running == 0)


class _Guarded:
    """An array stored into only while its :class:`_Writes` is not stopped."""

    def __init__(self, array: Any, writes: _Writes) -> None:
        self.array = array
        self.writes = writes
        self.shape, self.dtype, self.ndim = array.shape, array.dtype, array.ndim
        self._token = uuid.uuid4().hex

    def __dask_tokenize__(self) -> str:
        return self._token

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unguarded, (self.array,))  # in another process: the plain array

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.writes.enter():
            return  # the write has failed and is being cleaned up: store nothing
        try:
            self.array[key] = value
        finally:
            self.writes.leave()


def _unguarded(array: Any) -> Any:
    return array


class _Values:
    """Stores units into ``target`` and gathers the distinct values of those
    this process stores (a label image's level 0, for its colours: see
    :func:`.labels.found_colors`), until there are more than
    :data:`.labels.LISTED_COLORS`.

    :meth:`found` adds the values of every unit it did not see (stored by a
    killed write that this one resumes, or on a dask.distributed worker,
    where a copy gathers them), read back from ``array``.
    """

    def __init__(self, target: Any, array: Any, unit: tuple[int, ...], done: set) -> None:
        self.target, self.array, self.unit, self.done = target, array, unit, done
        self.shape, self.dtype, self.ndim = target.shape, target.dtype, target.ndim
        self.seen: set[tuple[int, ...]] = set()
        self.values: set[int] | None = set()  # None: more than can be listed
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "_lock"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state)
        self._lock = threading.Lock()

    def __dask_tokenize__(self) -> Any:
        tokenize = getattr(self.target, "__dask_tokenize__", None)
        return ("xiso-values", tokenize() if tokenize else id(self.target))

    def __setitem__(self, key: Any, value: Any) -> None:
        self.target[key] = value
        index = _resume.unit_index(key, self.unit)
        if index not in self.done:  # a done unit's block is a placeholder
            self._add(index, value)

    def _add(self, index: tuple[int, ...], value: Any) -> None:
        from .labels import LISTED_COLORS, block_values

        found = block_values(value) if self.values is not None else ()
        with self._lock:
            self.seen.add(index)
            if self.values is not None:
                self.values.update(int(v) for v in found)
                if len(self.values) > LISTED_COLORS:
                    self.values = None

    def found(self) -> set[int] | None:
        """Every distinct value of the stored level (None: too many to list)."""
        counts = [-(-n // u) for n, u in zip(self.shape, self.unit)]
        for index in np.ndindex(*counts):
            if self.values is None:
                break
            if index not in self.seen:
                region = tuple(slice(i * u, (i + 1) * u) for i, u in zip(index, self.unit))
                self._add(index, self.array[region])
        return self.values


@dataclass
class _Level:
    """A level being written: its image, zarr array, write unit and the units
    a killed write of the same job already wrote (see :mod:`.resume`)."""

    path: str
    da: xr.DataArray
    array: Any
    unit: tuple[int, ...]
    done: set[tuple[int, ...]]
    sample: frozenset[tuple[int, ...]] = frozenset()  # units whose values are hashed
    gather: bool = False  # gather its distinct values as it is stored (see _Values)
    values: _Values | None = None

    @property
    def units(self) -> int:
        return math.prod(-(-n // u) for n, u in zip(self.da.shape, self.unit))

    @property
    def complete(self) -> bool:
        return len(self.done) >= self.units


def _open_levels(
    group: zarr.Group,
    levels: Sequence[tuple[str, xr.DataArray]],
    zarr_format: Literal[2, 3],
    layout: Layout,
    compressor: Any,
    resumed: bool,
) -> list[_Level]:
    """Create the arrays of ``levels`` in ``group`` (on resume: keep those a
    killed write of the same job made, with the units it recorded)."""
    out = []
    for path, da in levels:
        chunks = level_chunks(layout, da.shape)
        unit = write_unit(layout, da.shape)
        kwargs: dict[str, Any] = {}
        if compressor is not None:
            kwargs["compressors"] = compressor
        if layout.shards is not None:
            kwargs["shards"] = layout.shards
        if zarr_format == 3:
            kwargs["dimension_names"] = [str(d) for d in da.dims]
        else:
            kwargs["chunk_key_encoding"] = {"name": "v2", "separator": "/"}
        array = None
        if resumed:
            with contextlib.suppress(Exception), engine.scoped(group.store):
                found = group[path]
                if (
                    isinstance(found, zarr.Array)
                    and found.shape == da.shape
                    and found.dtype == da.dtype
                    and found.chunks == chunks
                ):
                    array = found
        done: set[tuple[int, ...]] = set()
        if array is None:
            with engine.scoped(group.store):  # the array keeps the codec pipeline it is made with
                array = group.create_array(
                    name=path,
                    shape=da.shape,
                    dtype=da.dtype,
                    chunks=chunks,
                    fill_value=0,
                    overwrite=resumed,
                    **kwargs,
                )
        else:
            done = _resume.done_units(array, group.path)
        out.append(_Level(path, da, array, unit, done))
    if out:  # level 0: a sample of its units checks the source on resume
        first = out[0]
        first.sample = _resume.sampled([-(-n // u) for n, u in zip(first.da.shape, first.unit)])
        if first.done:
            recorded = _resume.recorded_digests(first.array, group.path, first.sample & first.done)
            data = first.da.data
            if not hasattr(data, "dask"):
                import dask.array as dsa

                data = dsa.from_array(np.asarray(data), chunks=first.unit)
            _resume.check_source(data, first.unit, recorded, f"the image at {group.store}")
    return out


def _stored(level: _Level) -> Any:
    """The stored (complete) level as a dask array, read a write unit at a time."""
    import dask.array as dsa

    return dsa.from_array(engine.regions(level.array), chunks=level.unit, lock=False)


def _sources(
    opened: list[_Level], group_path: str, writes: _Writes, journal: _resume.Journal
) -> list[tuple[Any, Any]]:
    """Write the in-memory levels; return (dask source, target) of the others,
    to be stored in one computation.

    Every source is cut into the level's write units (its shards, or its
    chunks without shards), so exactly one task writes each stored object:
    no task ever reads a shard back to change part of it (zarr-python #3682).
    Each unit is recorded once written (:class:`.resume.Recorder`, by
    ``journal``); units a killed write recorded are neither computed nor
    written again.
    """
    import dask.array as dsa

    pending: list[tuple[Any, Any]] = []
    for level in opened:
        # the array (or zarrista's view of it), its units recorded once written,
        # no write after a failure (the guard)
        target: Any = writes.guard(
            _resume.Recorder(
                engine.regions(level.array),
                level.array,
                group_path,
                level.unit,
                level.done,
                level.sample,
                journal,
            )
        )
        if level.gather:
            level.values = target = _Values(target, level.array, level.unit, level.done)
        if level.complete:
            continue
        if isinstance(level.da.data, dsa.Array):
            source = _resume.skip_done(level.da.data.rechunk(level.unit), level.done)
            pending.append((source, target))
        else:
            _store_numpy(np.asarray(level.da.data), target, level.unit)
    return pending


# what a store thread holds, in copies of the largest unit it stores: its
# source blocks, the unit and its encoded bytes (the 30 x 15000 x 15000 slab of
# benchmarks/tb.py: 3 threads of 60 MiB shards held about 650 MiB more than
# the imports, 3.6 copies each)
UNIT_COPIES = 4


def _physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the OS does not say."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows), or no such name
        return None


def _store_options(sources: Sequence[Any], unit_bytes: int = 0) -> dict[str, Any]:
    """Keyword arguments for computing ``sources`` into zarr arrays, whose
    largest unit (shard, or chunk without shards) holds ``unit_bytes``.

    Each store task spends part of its time waiting for zarr (its event loop,
    the codec threads, the files) with its core idle, so on dask's default
    threaded scheduler the store runs one thread more than there are cores
    (case 3 of benchmarks/run.py: about 10 % faster on 2 cores), and fewer
    where the units of that many threads (``UNIT_COPIES`` each) would not fit
    in half the machine's memory: large shards on many cores. A scheduler,
    pool or ``num_workers`` the user chose, or a distributed client, is left
    as it is.

    The threaded scheduler is then passed as the function itself: dask's own
    choice of a scheduler imports ``distributed`` where it is installed (to
    look for a client; about 0.3 s of a whole conversion), which is needed
    only when some code imported it already: no client exists otherwise.
    """
    import dask
    import dask.threaded
    from dask.system import CPU_COUNT

    if dask.config.get("scheduler", None) is None and "distributed" not in sys.modules:
        # what dask.base.get_scheduler decides, without its import of distributed
        chosen = {getattr(s, "__dask_scheduler__", None) for s in sources}
        scheduler = chosen.pop() if len(chosen) == 1 else None
    else:
        from dask.base import get_scheduler

        scheduler = get_scheduler(collections=list(sources))
    if scheduler is not dask.threaded.get:
        return {}
    if dask.config.get("pool", None) is not None or dask.config.get("num_workers", None):
        return {}
    threads = CPU_COUNT + 1
    memory = _physical_memory()
    if memory and unit_bytes:
        threads = max(1, min(threads, memory // 2 // (UNIT_COPIES * unit_bytes)))
    return {"scheduler": dask.threaded.get, "num_workers": threads}


@dataclass(frozen=True)
class LabelWrite:
    """A label image to write below the image: its name, levels, group
    attributes (multiscales and ``image-label``) and chunk shape."""

    name: str
    levels: Sequence[tuple[str, xr.DataArray]]
    group_attrs: Mapping[str, Any]
    layout: Layout
    colors: bool = False  # list a colour for each value found (none were given)


def write_levels(
    location: Location,
    levels: Sequence[tuple[str, xr.DataArray]],
    group_attrs: Mapping[str, Any],
    version: str,
    layout: Layout,
    compressor: Any,
    labels: Sequence[LabelWrite] = (),
    labels_attrs: Mapping[str, Any] | None = None,
    job: Mapping[str, Any] | None = None,
    rebuild: Callable[[int, Any], list[xr.DataArray]] | None = None,
    colors: bool = False,
) -> None:
    """Write ``levels`` as arrays of a new group at ``location``, its attributes last.

    NGFF 0.5 goes to zarr v3 with dimension names; NGFF 0.4 to zarr v2 with the
    ``/`` chunk key separator that the 0.4 layout specifies. ``labels`` go to
    ``labels/<name>`` (with ``labels_attrs`` on the ``labels`` group); the
    image and its labels are computed and stored together, and the attributes
    are written after every array: the label groups', the ``labels`` group's,
    the image group's last.

    With ``job`` (a JSON record of what is written, see :mod:`.resume`), the
    job is stored first and every unit is recorded once written, so that a
    killed write can resume; ``location.resumed`` picks up what a killed write
    of the same job left (its recorded units are not written again), and
    ``rebuild(i, data)`` makes the levels after level ``i`` from its stored
    ``data``. The record stays until the image is swapped in (a write killed
    after this resumes straight to the swap); the target leaves it behind.
    ``rebuild`` also lets a large image go level by level (see :func:`_passes`).

    A label image (the image itself with ``colors``, or a :class:`LabelWrite`
    with ``colors``) gets a colour for each value its level 0 holds, gathered
    as it is stored (:class:`_Values`), in the ``image-label`` block of its
    attributes (:func:`.labels.with_colors`).
    """

    zarr_format: Literal[2, 3] = 3 if version == "0.5" else 2
    resumed = bool(location.resumed)
    group = zarr.open_group(
        location.store,
        path=location.path,
        mode="a" if resumed else "w",
        zarr_format=zarr_format,
        storage_options=location.storage_options,
    )
    if job is not None:
        _resume.write_job(group, job)
    writes = _Writes()
    journal = _resume.Journal()  # records the units stored, on threads of its own
    opened = _open_levels(group, levels, zarr_format, layout, compressor, resumed)
    opened[0].gather = colors
    label_groups = []
    label_levels: list[list[_Level]] = []
    if labels:
        from .labels import LABELS

        parent = group.require_group(LABELS) if resumed else group.create_group(LABELS)
        for label in labels:
            sub = parent.require_group(label.name) if resumed else parent.create_group(label.name)
            own = _open_levels(sub, label.levels, zarr_format, label.layout, compressor, resumed)
            own[0].gather = label.colors
            label_levels.append(own)
            label_groups.append((sub, label.group_attrs, own[0]))
    passes = _passes(opened, resumed, rebuild)
    passes[-1] += [level for own in label_levels for level in own]
    every = [level for chosen in passes for level in chosen]
    unit = "shard" if any(getattr(lv.array, "shards", None) for lv in every) else "chunk"
    done = sum(len(level.done) for level in every)  # by a killed write: shown as done
    try:
        with work(sum(level.units for level in every), done, unit) as bar:
            _store_passes(passes, opened, rebuild, group.path, writes, journal, bar)
        journal.close()  # every unit stored is recorded before the metadata is written
    except BaseException:
        writes.stop()  # no chunk lands in the temporary after this raises
        journal.close(failed=True)  # what was stored whole is recorded, for a resume
        raise
    # metadata last: a store that failed above never looks like a valid image
    for sub, attrs, first in label_groups:
        sub.attrs.update(_with_found_colors(attrs, first, version))
    if labels:
        parent.attrs.update(dict(labels_attrs or {}))
    group.attrs.update(_with_found_colors(group_attrs, opened[0], version))


def _with_found_colors(attrs: Mapping[str, Any], first: _Level, version: str) -> dict[str, Any]:
    """``attrs`` of a group, with a colour for each value of its level 0 ``first``
    when that gathered its values (see :class:`_Values`)."""
    if first.values is None:  # made by _sources for a level that gathers (first.gather)
        return dict(attrs)
    from .labels import found_colors, with_colors

    return with_colors(attrs, version, found_colors(first.values.found()))


def _store_passes(
    passes: list[list[_Level]],
    opened: list[_Level],
    rebuild: Callable[[int, Any], list[xr.DataArray]] | None,
    group_path: str,
    writes: _Writes,
    journal: _resume.Journal,
    bar: Any,
) -> None:
    """Store the levels of each pass in one computation, a pass after the first
    made from the level below it as stored; each moves ``bar`` on by the
    units it stores."""
    import dask.array as dsa

    for i, chosen in enumerate(passes):
        if i and rebuild is not None:  # made from the level below, as stored
            ids = [id(level) for level in opened]  # _Level compares by value: by identity
            image = [level for level in chosen if id(level) in ids]  # labels aside
            below = ids.index(id(image[0])) - 1
            for level, da in zip(image, rebuild(below, _stored(opened[below]))):
                level.da = da
        pending = _sources(chosen, group_path, writes, journal)
        todo = sum(level.units - len(level.done) for level in chosen)
        if pending:
            sources = [s for s, _ in pending]
            targets: list[Any] = [t for _, t in pending]
            largest = max(math.prod(lv.unit) * lv.da.dtype.itemsize for lv in chosen)
            with bar.step(todo):
                options = _store_options(sources, largest)
                dsa.store(sources, targets, lock=False, compute=True, **options)


# a pyramid made here whose level 0 holds more than this is written level by level
ONE_PASS_BYTES = 2**30


def _passes(
    opened: list[_Level], resumed: bool, rebuild: Callable[[int, Any], list[xr.DataArray]] | None
) -> list[list[_Level]]:
    """The levels stored by each computation of :func:`write_levels`.

    A small image stores every level in one computation, reading the source
    once. A resumed write goes level by level, each level made from the
    previous one as stored, so that only what is missing is computed. A lazy
    level 0 of more than ``ONE_PASS_BYTES`` (when the levels are made here:
    ``rebuild``) goes two levels at a time, each pair made from the level
    below it as stored: the units of the pair's upper level are made from
    whole units of its lower one, so what is held stays a few units per
    thread. In one computation every unit of a high level waits for blocks
    from a whole band of level 0 (dask does not take the units in the order
    of the pyramid's footprints), so what is held grows with the image's
    width: 14 GiB for the 30 x 15000 x 15000 slab of benchmarks/tb.py. The
    price is reading levels 1, 3, 5, ... back once (a zstd decode of a
    quarter of level 0 or less).
    """
    if rebuild is None or len(opened) < 2:
        return [list(opened)]
    if resumed:
        return [[level] for level in opened]
    first = opened[0].da
    if hasattr(first.data, "dask") and first.nbytes > ONE_PASS_BYTES:
        return [list(opened[i : i + 2]) for i in range(0, len(opened), 2)]
    return [list(opened)]


def split_labels(obj: xr.DataTree) -> tuple[xr.DataTree, dict[str, xr.DataTree]]:
    """The image levels of a pyramid and its label images: the subtrees below
    its ``labels`` node, as :func:`open_ome_zarr_pyramid` lays them out."""
    from .labels import LABELS

    if LABELS not in obj.children:
        return obj, {}
    found = obj[LABELS]
    if not isinstance(found, xr.DataTree) or found.has_data:
        raise OmeZarrError(
            f"the DataTree's node {LABELS!r} holds data; it is where label images go "
            f"('{LABELS}/<name>/0', ...): rename that level"
        )
    return obj.drop_nodes(LABELS), dict(found.children)


def positive_axes(obj: Any) -> Any:
    """A DataArray with its descending spatial coordinates reversed (NGFF cannot
    express them), its NIfTI ``orientation`` and ``affine`` attrs following
    (see :func:`xiso.io.nifti.follow_grid`); anything else as it is."""
    if not isinstance(obj, xr.DataArray):
        return obj
    from .formats import ascending
    from .nifti import follow_grid

    return follow_grid(obj, ascending(obj))


def levels_of(obj: xr.DataArray | xr.DataTree) -> list[tuple[str, xr.DataArray]]:
    """(path, image) of every level of a pyramid, or of a single image."""
    if isinstance(obj, xr.DataArray):
        return [("0", obj)]
    # every node that holds data is a level, named by its path below the root
    # (NGFF paths may contain "/", e.g. "scale0/image", which nests nodes)
    levels = []
    for node in obj.subtree:
        if not node.has_data or not node.data_vars:
            continue
        path = node.relative_to(obj)
        variables = list(node.data_vars)
        if len(variables) != 1:
            raise OmeZarrError(
                f"pyramid level {path!r} holds {len(variables)} variables {variables!r}; "
                "each level must hold exactly one image"
            )
        if path in ("", "."):
            raise OmeZarrError(
                "the root node of the DataTree holds an image; put each level in a child "
                "node (e.g. '0', '1', ...) as xiso.pyramid does"
            )
        levels.append((str(path), positive_axes(node.to_dataset()[variables[0]])))
    if not levels:
        raise OmeZarrError("the DataTree holds no image; one node per level is expected")
    return levels


def check_image(obj: Any, version: str) -> Any:
    """``obj`` as :func:`write_image` takes it: one image (a DataArray, or a
    DataTree of levels) with its descending spatial axes sorted (NGFF scales
    are positive); a Dataset or an unknown ``version`` raise."""
    if isinstance(obj, xr.Dataset):
        names = list(obj.data_vars)
        first = names[0] if names else "name"
        raise OmeZarrError(
            f"to_ome_zarr writes one image, and got a Dataset of {len(names)} "
            f"variable{'' if len(names) == 1 else 's'} {names!r}; pick a variable "
            f"(ds[{first!r}]) or stack the variables as channels (ds.to_dataarray('c'))"
        )
    if version not in ngff.NGFF_VERSIONS:
        raise OptionError(
            f"version={version!r} is not supported; use one of {ngff.NGFF_VERSIONS!r}"
        )
    return positive_axes(obj)


def open_target(
    store: Any, storage_options: Mapping[str, Any] | None, overwrite: bool, resume: bool
) -> Any:
    """The target of ``store``, checked before anything is computed (a killed
    write to resume is kept for the swap; see :mod:`.targets`)."""
    target = resolve(store, storage_options)
    (target.check if resume else target.prepare)(overwrite)
    return target


def image_and_labels(
    obj: xr.DataArray | xr.DataTree, labels: Mapping[str, Any] | None
) -> tuple[list[tuple[str, xr.DataArray]], dict[str, Any]]:
    """The (path, level) pairs of the image ``obj`` and its label images by name:
    those below the ``labels`` node of a DataTree, then ``labels``."""
    found: dict[str, Any] = {}
    if isinstance(obj, xr.DataTree):
        obj, found = split_labels(obj)
    both = sorted(set(found) & set(labels or {}))
    if both:
        raise OptionError(
            f"the label image(s) {both!r} are both in the DataTree and in labels=; pass each once"
        )
    return levels_of(obj), {**found, **(labels or {})}


def write_image(
    target: Any,
    pairs: Sequence[tuple[str, xr.DataArray]],
    labels: Mapping[str, tuple[Sequence[tuple[str, xr.DataArray]], str | None]],
    *,
    version: str,
    layout: Layout,
    compressor: Any,
    method: str | None,
    as_label: bool,
    overwrite: bool,
    progress: bool,
    resume: bool,
    rebuild: Callable[[int, Any], list[xr.DataArray]] | None = None,
) -> None:
    """Write the levels ``pairs`` of an image and its label images ``labels``
    (name -> (levels, the reduction that made them, if known)) to ``target``,
    as they are; nothing is reduced here.

    ``method`` is the reduction that made ``pairs`` when known (the multiscale
    ``type``); ``as_label`` writes the image as a label image; ``rebuild`` as
    in :func:`write_levels`. The image is written to a hidden temporary and
    swapped in (see :mod:`.targets`).
    """
    from . import labels as lb

    base = pairs[0][1]
    ome, types = ngff.image_metadata(pairs, version, method=method)
    write_id = uuid.uuid4().hex
    group_attrs = _group_attrs(pairs, ome, types, version, write_id, "the image")
    colors = False  # list a colour for each value found (a label image naming none)
    if as_label:
        name = str(base.name) if base.name is not None else "image"
        for _, da in pairs:
            lb.check_dtype(name, da)
        stored = base.attrs.get(lb.IMAGE_LABEL)
        block = lb.image_label_metadata(name, stored, version, source=None)
        group_attrs = lb.with_image_label(group_attrs, block, version, name)
        colors = not lb.colors_given(stored)
    label_writes = [
        _label_write(name, levels, made, pairs, types, version, layout, write_id)
        for name, (levels, made) in labels.items()
    ]
    labels_attrs = (
        lb.labels_attributes([w.name for w in label_writes], version) if label_writes else None
    )
    job = _resume.job_record(pairs, layout, version, method, compressor, label_writes)
    from ..progress import progress_bar

    bar = progress_bar() if progress else contextlib.nullcontext()
    with bar:
        target.replace(
            lambda location: write_levels(
                location,
                pairs,
                group_attrs,
                version,
                layout,
                compressor,
                label_writes,
                labels_attrs,
                job=job,
                rebuild=rebuild,
                colors=colors,
            ),
            overwrite,
            job=job,
            resume=resume,
        )


def as_dask(da: xr.DataArray, layout: Layout) -> xr.DataArray:
    """``da`` on dask (views of a numpy array, chunked as it will be written),
    so that its pyramid is computed chunk by chunk."""
    if hasattr(da.data, "dask"):
        return da
    view_chunks = level_chunks(layout, da.shape)
    return da.copy(data=_numpy_as_dask(np.asarray(da.data), view_chunks))


def as_units(da: xr.DataArray, layout: Layout) -> xr.DataArray:
    """``da`` on dask in the units its level is written in (shards, or
    chunks without shards; :func:`as_dask` for a numpy array): a pyramid made
    from it has blocks made of whole blocks of the level below, so that a
    source block is freed once its unit is made (see :func:`_passes`)."""
    if not hasattr(da.data, "dask"):
        return as_dask(da, layout)
    rechunked = da.data.rechunk(write_unit(layout, da.shape))
    return da if rechunked is da.data else da.copy(data=rechunked)  # dask keeps a match


def _group_attrs(
    pairs: Sequence[tuple[str, xr.DataArray]],
    ome: Mapping[str, Any],
    types: Sequence[str | None],
    version: str,
    write_id: str,
    what: str,
) -> dict[str, Any]:
    """The group attributes of an image (or label image) with levels ``pairs``."""
    from .labels import IMAGE_LABEL

    base = pairs[0][1]
    return ngff.group_attributes(
        ome,
        ngff.json_attrs(base.attrs, what, skip=(*ngff.OME_ATTRS, IMAGE_LABEL)),
        version,
        write_id,
        coords=ngff.coordinate_records(base, ome, version, types),
    )


def _label_write(
    name: str,
    given: Sequence[tuple[str, xr.DataArray]],
    method: str | None,
    image_levels: Sequence[tuple[str, xr.DataArray]],
    types: Sequence[str | None],
    version: str,
    layout: Layout,
    write_id: str,
) -> LabelWrite:
    """What :func:`write_levels` writes for the label image ``name``: its levels
    ``given`` (made by ``method``, when known), checked against the image's, and
    its metadata."""
    from . import labels as lb

    levels = lb.label_levels(name, given, image_levels, types)
    base = levels[0][1]
    ome, label_types = ngff.image_metadata(levels, version, method=method)
    attrs = _group_attrs(levels, ome, label_types, version, write_id, f"the label image {name!r}")
    stored = base.attrs.get(lb.IMAGE_LABEL)
    block = lb.image_label_metadata(name, stored, version, source="../../")
    return LabelWrite(
        name,
        levels,
        lb.with_image_label(attrs, block, version, name),
        layout,  # sharded like the image: the same chunk and shard shapes
        colors=not lb.colors_given(stored),
    )


def stored_image(
    store: Any,
    name: str,
    *,
    chunks: Any,
    overwrite: bool,
    storage_options: Mapping[str, Any] | None,
) -> tuple[Any, list[tuple[str, xr.DataArray]], str, Layout]:
    """The target, image levels, NGFF version and layout of the image stored at
    ``store``, that the label image ``name`` is added to (see
    :func:`xiso.compose.add_label`)."""
    from .read import open_ome_zarr_pyramid

    target = resolve(store, storage_options)
    try:
        tree = open_ome_zarr_pyramid(store, storage_options=storage_options)
    except OmeZarrError as err:
        raise OmeZarrError(
            f"label={name!r} adds a label image to the image at {store!r}, which cannot be "
            f"opened ({str(err).split('; ')[0]}); write the image first, or both at once "
            f"with to_ome_zarr(image, store, labels={{{name!r}: labels}})"
        ) from None
    image, existing = split_labels(tree)
    if name in existing and not overwrite:
        raise StoreExistsError(
            f"the image at {store!r} already has a label image {name!r}; pass "
            "overwrite=True to replace it, or choose another name"
        )
    pairs = levels_of(image)
    base = pairs[0][1]
    version = str(base.attrs.get("ngff_version", "0.5"))
    # like the image as stored (its chunk and shard shapes), unless chunks= asks otherwise
    stored = base.encoding.get("chunks")
    layout = (
        Layout(tuple(stored), base.encoding.get("shards"))
        if chunks is None and stored is not None
        else layout_of(base, chunks=chunks, shards=None, version=version)
    )
    return target, pairs, version, layout


def write_label(
    target: Any,
    name: str,
    levels: Sequence[tuple[str, xr.DataArray]],
    method: str | None,
    pairs: Sequence[tuple[str, xr.DataArray]],
    *,
    version: str,
    layout: Layout,
    compressor: Any,
    overwrite: bool,
    progress: bool,
) -> None:
    """Add the label image ``name`` with ``levels`` (made by ``method``, when
    known) to the image at ``target`` whose levels are ``pairs``, as they are:
    the steps :func:`xiso.compose.add_label` describes."""
    from . import labels as lb

    types = ngff.axis_types(pairs[0][1])
    write = _label_write(name, levels, method, pairs, types, version, layout, uuid.uuid4().hex)
    inside = f"{lb.LABELS}/{name}"
    from ..progress import progress_bar

    bar = progress_bar() if progress else contextlib.nullcontext()
    with bar:
        target.inside(inside).replace(
            lambda location: write_levels(
                location,
                write.levels,
                write.group_attrs,
                version,
                write.layout,
                compressor,
                colors=write.colors,
            ),
            overwrite,
        )
    files = lb.labels_group_files(lambda key: target.read_key(f"{lb.LABELS}/{key}"), name, version)
    for key, value in files.items():
        target.put_key(f"{lb.LABELS}/{key}", value)
    _consolidate(target, inside, [path for path, _ in write.levels], version)


def _consolidate(target: Any, inside: str, paths: Sequence[str], version: str) -> None:
    """Add the groups and arrays of the label image at ``inside`` (and the
    ``labels`` group) to the image's consolidated metadata, if it has any;
    nothing else in it changes."""
    import json

    nodes = [inside.split("/")[0], inside]
    for path in paths:  # the levels, and the groups between (e.g. "scale0" of "scale0/image")
        parts = path.split("/")
        nodes += [f"{inside}/{'/'.join(parts[: k + 1])}" for k in range(len(parts))]
    nodes = list(dict.fromkeys(nodes))
    key = "zarr.json" if version == "0.5" else ".zmetadata"
    raw = target.read_key(key)
    if raw is None:
        return
    document = json.loads(raw)
    if version == "0.5":
        block = document.get("consolidated_metadata")
        found = block.get("metadata") if isinstance(block, dict) else None
        if not isinstance(found, dict):
            return
        for old in [k for k in found if k == inside or k.startswith(f"{inside}/")]:
            del found[old]
        for node in nodes:
            meta = json.loads(target.read_key(f"{node}/zarr.json") or b"null")
            if isinstance(meta, dict):
                if meta.get("node_type") == "group":  # as zarr consolidates a group
                    meta.setdefault(
                        "consolidated_metadata",
                        {"kind": "inline", "must_understand": False, "metadata": {}},
                    )
                found[node] = meta
    else:
        found = document.get("metadata")
        if not isinstance(found, dict):
            return
        for old in [k for k in found if k.startswith(f"{inside}/")]:
            del found[old]
        for node in nodes:
            for name in (".zgroup", ".zarray", ".zattrs"):
                value = target.read_key(f"{node}/{name}")
                if value is not None:
                    found[f"{node}/{name}"] = json.loads(value)
    target.put_key(key, json.dumps(document, indent=2).encode())
