"""Writing: labelled levels -> zarr arrays in a target, OME metadata last.

:func:`to_ome_zarr` composes: a DataArray becomes levels with
:func:`xiso.pyramid` (compute stays out of I/O), :mod:`.ngff` turns the levels
into metadata, :mod:`.targets` says where and how the image replaces what is
there, and :func:`write_levels` writes the arrays.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
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
from ..plan import layout_of, pyramid_method
from . import engine, ngff
from . import resume as _resume
from .targets import Location, resolve

__all__ = ["add_label", "to_ome_zarr", "write_levels"]


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

    @property
    def complete(self) -> bool:
        units = math.prod(-(-n // u) for n, u in zip(self.da.shape, self.unit))
        return len(self.done) >= units


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


def _sources(opened: list[_Level], group_path: str, writes: _Writes) -> list[tuple[Any, Any]]:
    """Write the in-memory levels; return (dask source, target) of the others,
    to be stored in one computation.

    Every source is cut into the level's write units (its shards, or its
    chunks without shards), so exactly one task writes each stored object:
    no task ever reads a shard back to change part of it (zarr-python #3682).
    Each unit is recorded once written (:class:`.resume.Recorder`); units a
    killed write recorded are neither computed nor written again.
    """
    import dask.array as dsa

    pending: list[tuple[Any, Any]] = []
    for level in opened:
        # the array (or zarrista's view of it), its units recorded once written,
        # no write after a failure (the guard)
        target = writes.guard(
            _resume.Recorder(
                engine.regions(level.array),
                level.array,
                group_path,
                level.unit,
                level.done,
                level.sample,
            )
        )
        if level.complete:
            continue
        if isinstance(level.da.data, dsa.Array):
            source = _resume.skip_done(level.da.data.rechunk(level.unit), level.done)
            pending.append((source, target))
        else:
            _store_numpy(np.asarray(level.da.data), target, level.unit)
    return pending


def _store_options(sources: Sequence[Any]) -> dict[str, Any]:
    """Keyword arguments for computing ``sources`` into zarr arrays.

    Each store task spends part of its time waiting for zarr (its event loop,
    the codec threads, the files) with its core idle, so on dask's default
    threaded scheduler the store runs one thread more than there are cores
    (case 3 of benchmarks/run.py: about 10 % faster on 2 cores). A scheduler,
    pool or ``num_workers`` the user chose, or a distributed client, is left
    as it is.
    """
    import dask
    import dask.threaded
    from dask.base import get_scheduler
    from dask.system import CPU_COUNT

    if get_scheduler(collections=list(sources)) is not dask.threaded.get:
        return {}
    if dask.config.get("pool", None) is not None or dask.config.get("num_workers", None):
        return {}
    return {"num_workers": CPU_COUNT + 1}


@dataclass(frozen=True)
class LabelWrite:
    """A label image to write below the image: its name, levels, group
    attributes (multiscales and ``image-label``) and chunk shape."""

    name: str
    levels: Sequence[tuple[str, xr.DataArray]]
    group_attrs: Mapping[str, Any]
    layout: Layout


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
    """
    import dask.array as dsa

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
    opened = _open_levels(group, levels, zarr_format, layout, compressor, resumed)
    label_groups = []
    label_levels: list[list[_Level]] = []
    if labels:
        from .labels import LABELS

        parent = group.require_group(LABELS) if resumed else group.create_group(LABELS)
        for label in labels:
            sub = parent.require_group(label.name) if resumed else parent.create_group(label.name)
            label_levels.append(
                _open_levels(sub, label.levels, zarr_format, label.layout, compressor, resumed)
            )
            label_groups.append((sub, label.group_attrs))
    # a fresh write stores every level in one computation (the source is read
    # once); a resumed one level by level, each made from the previous one as
    # stored, so that only what is missing is computed (and the source read
    # only where level 0 is missing)
    passes = [[level] for level in opened] if resumed and rebuild is not None else [list(opened)]
    passes[-1] += [level for found in label_levels for level in found]
    try:
        for i, chosen in enumerate(passes):
            if i and rebuild is not None:
                chosen[0].da = rebuild(i - 1, _stored(opened[i - 1]))[0]
            pending = _sources(chosen, group.path, writes)
            if pending:
                sources = [s for s, _ in pending]
                targets: list[Any] = [t for _, t in pending]
                dsa.store(sources, targets, lock=False, compute=True, **_store_options(sources))
    except BaseException:
        writes.stop()  # no chunk lands in the temporary after this raises
        raise
    # metadata last: a store that failed above never looks like a valid image
    for sub, attrs in label_groups:
        sub.attrs.update(dict(attrs))
    if labels:
        parent.attrs.update(dict(labels_attrs or {}))
    group.attrs.update(dict(group_attrs))


def _split_labels(obj: xr.DataTree) -> tuple[xr.DataTree, dict[str, xr.DataTree]]:
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


def _ascending(obj: Any) -> Any:
    """A DataArray with its descending spatial coordinates reversed (NGFF cannot
    express them), its NIfTI ``orientation`` and ``affine`` attrs following
    (see :func:`xiso.io.nifti.follow_grid`); anything else as it is."""
    if not isinstance(obj, xr.DataArray):
        return obj
    from .formats import ascending
    from .nifti import follow_grid

    return follow_grid(obj, ascending(obj))


def _levels_of(obj: xr.DataArray | xr.DataTree) -> list[tuple[str, xr.DataArray]]:
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
        levels.append((str(path), _ascending(node.to_dataset()[variables[0]])))
    if not levels:
        raise OmeZarrError("the DataTree holds no image; one node per level is expected")
    return levels


def to_ome_zarr(
    obj: xr.DataArray | xr.DataTree,
    store: Any,
    *,
    pyramid: bool = True,
    levels: int | None = None,
    version: str = "0.5",
    chunks: Any = None,
    shards: Any = "auto",
    compressor: Any = None,
    overwrite: bool = False,
    method: str | None = None,
    min_size: int = 32,
    labels: Mapping[str, xr.DataArray | xr.DataTree] | None = None,
    label: bool | str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = False,
    resume: bool = False,
) -> None:
    """Write a DataArray (optionally as a pyramid) or a DataTree as OME-Zarr.

    Parameters
    ----------
    obj : DataArray or DataTree
        An image, or a pyramid with one child node per level (as returned by
        :func:`xiso.pyramid` or :func:`open_ome_zarr_pyramid`).
    store : str, Path, fsspec URL or zarr store
        Where to write.
    pyramid : bool, default True
        For a DataArray: write a near-isotropic pyramid (see
        :func:`xiso.pyramid`), else only level 0.
    levels, min_size
        Passed to :func:`xiso.pyramid`.
    method : str, optional
        The reduction of the pyramid, passed to :func:`xiso.pyramid`: by
        default ``"mode"`` for a label image, ``"mean"`` otherwise. A label
        image takes only ``"mode"`` or ``"nearest"``.
    version : {"0.5", "0.4"}
        NGFF 0.5 on zarr v3, or NGFF 0.4 on zarr v2.
    chunks : int or mapping, optional
        Chunk edge of every spatial dim, or per dim (a mapping). By default one
        power-of-two edge, the largest whose chunk holds at most 4 MiB (uint16
        3-D: 128^3); other dims 1. The same at every level, so chunks align
        with the pyramid. See :mod:`xiso.layout`.
    shards : "auto", None, int or mapping, default "auto"
        zarr v3 shards (NGFF 0.5): the shard edge of every spatial dim, or
        per dim, each a whole multiple of its chunk edge; ``None`` for one
        file per chunk. ``"auto"`` shards an image whose level 0 holds more
        than 1024 chunks, with shards of at most 64 MiB, and leaves a smaller
        one (or NGFF 0.4) unsharded. Every level has the same chunk and shard
        shape, and exactly one task writes each shard, whatever the dask
        chunks of ``obj``. :func:`xiso.plan` shows the layout before any work.
    compressor : codec, optional
        A zarr codec (default: zarr's default, zstd).
    overwrite : bool, default False
        Replace what is at ``store``, if it is a zarr hierarchy or an empty
        folder; without it anything at ``store`` raises.
    labels : mapping of str to DataArray or DataTree, optional
        Label images (segmentations) to write below the image as NGFF
        ``labels/<name>``, each an integer DataArray on the image's grid (the
        image's dims in its order, the same space coordinates; other dims of
        the same length or of length 1). Their levels are made here to match
        the image's, each reduced with ``mode`` by the factors between the
        image's levels; a DataTree gives its levels as they are. The
        ``image-label`` metadata gets ``source`` (the image) and what the
        label's ``attrs["image-label"]`` holds, e.g. ``{"colors":
        [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}``. A DataTree
        ``obj`` writes the label images below its ``labels`` node too.
    label : bool or str, optional
        ``True``: ``obj`` is a label image written by itself (an image group
        with ``image-label`` metadata and no source; levels reduced with
        ``mode``). A name such as ``"nuclei"``: add ``obj`` as the label
        image ``labels/<name>`` of the image stored at ``store``, with the
        image's levels and NGFF version (see :func:`add_label`: the image's
        levels, attributes and other labels stay as they are, byte for byte;
        ``overwrite=True`` replaces a label image of that name). Default:
        ``True`` when ``obj`` carries ``attrs["image-label"]`` (a label image
        that :func:`open_ome_zarr` read), else ``False``.
    storage_options : mapping, optional
        Passed to fsspec for a URL (e.g. ``{"endpoint_url": ...}`` for ``s3://``).
    progress : bool, default False
        Show a progress bar of the computation and write (a widget in Jupyter,
        text on stderr otherwise; see :func:`xiso.progress.progress_bar`).
    resume : bool, default False
        Pick up the unfinished write of this same job that a killed or
        interrupted write left beside the target (its hidden temporary): what
        it wrote whole (a shard, or a chunk without shards) is kept and only
        the rest is written, then swapped in as usual. The same job means the
        same source (metadata, coordinates and a content sample) and the same
        options (levels, method, dtype, chunks, shards, version, codec); an
        unfinished write of another job is refused with
        :class:`~xiso.errors.ResumeError`. With nothing to resume it writes as
        usual. Without it, a dead writer's temporary is removed. See
        docs/scale.md, "When a conversion is killed".

    Raises
    ------
    StoreExistsError
        Something is at ``store`` and ``overwrite`` is False, or it is not a
        zarr hierarchy or an empty folder (then nothing is touched); with
        ``label="name"``, the image already has a label image of that name.
    OmeZarrError
        ``obj`` is a Dataset (pick one variable, or stack them as channels);
        the image cannot be written as NGFF (dims, units, spacing); an attr
        (of the image or a coordinate) or coordinate values have no exact JSON
        form (a datetime or set attr, NaN, complex values...: the message
        names each and how to fix it); a coordinate that is no dimension lies
        along a space axis; a label image off the image's grid, with another
        number of levels, a bad name or invalid ``image-label`` attrs; no
        image at ``store`` for ``label="name"``. All before anything is
        computed or written.
    DtypeError
        A label image whose dtype NGFF does not allow (it wants int8 ...
        uint64).
    OptionError
        A bad ``version``, ``method`` (``"mean"`` for a label image),
        ``chunks`` or URL.

    Notes
    -----
    Nothing is dropped silently: what :func:`open_ome_zarr` would not give
    back from NGFF alone goes to ``attributes["xiso"]`` of the image group,
    or the write is refused. The image attrs go there as JSON, converting
    only what has an exact JSON form (numpy numbers, booleans and strings and
    arrays of them become numbers, booleans, strings and lists; tuples
    become lists); anything else raises rather than being dropped or turned
    into text that reads back as another type. Coordinates of axes other
    than space (channel wavelengths, datetime64 or irregular times) are
    recorded with values and dtype when the NGFF transforms or omero labels
    do not give them back exactly; coordinate attrs, scalar coordinates and
    coordinates along those axes always; space axes come from the NGFF
    transforms (see :mod:`xiso.io.ngff` and docs/ome-zarr.md).

    NGFF scales are positive, so a descending spatial coordinate (a NIfTI
    ``L``, ``P`` or ``I`` axis) is written reversed, each sample keeping its
    coordinate, before any pyramid level is made (the same from Python and
    ``xiso convert``); ``attrs["orientation"]`` and ``attrs["affine"]`` are
    derived again from what is written.

    The multiscale ``type`` is ``method`` for a DataArray; for a DataTree it
    is the type recorded when its levels were read, else left out.
    ``metadata`` holds the factors of each level over the previous one and
    the xiso version. An unnamed image is named ``"image"``.

    The image (with its label images) is written to a hidden temporary
    location and swapped in at the end; a failure leaves the target as it
    was. What is atomic on which storage is described in
    :mod:`xiso.io.targets` and docs/scale.md.

    Examples
    --------
    Write a tiny image and its pyramid to a temporary folder, and read them back:

    >>> import tempfile
    >>> import numpy as np, xarray as xr
    >>> import xiso
    >>> da = xr.DataArray(np.arange(64, dtype="uint8").reshape(4, 4, 4), dims=("z", "y", "x"),
    ...                   name="img", coords={"z": np.arange(4) * 2.0, "y": np.arange(4.0),
    ...                                       "x": np.arange(4.0)})
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     to_ome_zarr(da, f"{tmp}/img.zarr", min_size=2)
    ...     back = xiso.open_ome_zarr(f"{tmp}/img.zarr").load()
    ...     tree = xiso.open_ome_zarr_pyramid(f"{tmp}/img.zarr").load()
    >>> back.equals(da), back.iso.spacing
    (True, {'z': 2.0, 'y': 1.0, 'x': 1.0})
    >>> [dict(tree[level]["img"].sizes) for level in tree.children]
    [{'z': 4, 'y': 4, 'x': 4}, {'z': 4, 'y': 2, 'x': 2}, {'z': 2, 'y': 2, 'x': 2}]
    """
    from . import labels as lb

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
    obj = _ascending(obj)  # NGFF scales are positive: flipped axes sorted, here for all
    labels = {k: _ascending(v) for k, v in labels.items()} if labels else labels
    if isinstance(label, str):
        _add_label(
            obj,
            store,
            label,
            pyramid=pyramid,
            levels=levels,
            chunks=chunks,
            compressor=compressor,
            overwrite=overwrite,
            method=method,
            labels=labels,
            storage_options=storage_options,
            progress=progress,
        )
        return
    as_label = lb.is_label_image(obj) if label is None else bool(label)
    method = pyramid_method(method, as_label)
    if as_label and labels:
        raise OptionError(
            "a label image has no label images of its own; write the image with "
            "labels={...}, or drop label=True"
        )
    target = resolve(store, storage_options)
    # fail before computing anything (a killed write to resume is kept for replace)
    (target.check if resume else target.prepare)(overwrite)
    if as_label and isinstance(obj, xr.DataArray):
        lb.check_dtype(str(obj.name or "image"), obj)  # before any reduction
    # the reduction of the levels, when this call makes them (a DataTree does not say)
    known_method = method if isinstance(obj, xr.DataArray) else None
    layout = None
    steps: list[dict[Any, int]] | None = None
    if isinstance(obj, xr.DataArray):
        # the layout of every level, as xiso.plan() shows it (level 0 is obj)
        layout = layout_of(obj, chunks=chunks, shards=shards, version=version)
        if pyramid:
            from ..plan import plan as make_plan
            from ..pyramid import pyramid as build_pyramid

            obj = _as_dask(obj, layout)
            obj = build_pyramid(obj, levels=levels, method=method, min_size=min_size)
            made = make_plan(
                obj["0"].to_dataset()[next(iter(obj["0"].data_vars))],
                levels=levels,
                min_size=min_size,
                method=method,
                label=as_label,
                shards=None,
            )
            steps = [level.factors for level in made.levels[1:]]
    found: dict[str, xr.DataTree] = {}
    if isinstance(obj, xr.DataTree):
        obj, found = _split_labels(obj)
    both = sorted(set(found) & set(labels or {}))
    if both:
        raise OptionError(
            f"the label image(s) {both!r} are both in the DataTree and in labels=; pass each once"
        )
    pairs = _levels_of(obj)
    base = pairs[0][1]
    ome, types = ngff.image_metadata(pairs, version, method=known_method)
    if layout is None:
        layout = layout_of(base, chunks=chunks, shards=shards, version=version)
    write_id = uuid.uuid4().hex
    group_attrs = _group_attrs(pairs, ome, types, version, write_id, "the image")
    if as_label:
        name = str(base.name) if base.name is not None else "image"
        for _, da in pairs:
            lb.check_dtype(name, da)
        block = lb.image_label_metadata(name, base.attrs.get(lb.IMAGE_LABEL), version, source=None)
        group_attrs = lb.with_image_label(group_attrs, block, version, name)
    label_writes = [
        _label_write(name, value, pairs, types, version, layout, write_id)
        for name, value in {**found, **(labels or {})}.items()
    ]
    labels_attrs = (
        lb.labels_attributes([w.name for w in label_writes], version) if label_writes else None
    )
    job = _resume.job_record(pairs, layout, version, known_method, compressor, label_writes)
    rebuild = None
    if steps is not None and len(steps) == len(pairs) - 1:
        from ..pyramid import next_levels

        def rebuild(index: int, data: Any) -> list[xr.DataArray]:
            stored = pairs[index][1].copy(data=data)
            return next_levels(stored, steps[index:], str(method))

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
            ),
            overwrite,
            job=job,
            resume=resume,
        )


def _as_dask(da: xr.DataArray, layout: Layout) -> xr.DataArray:
    """``da`` on dask (views of a numpy array, chunked as it will be written),
    so that its pyramid is computed chunk by chunk."""
    if hasattr(da.data, "dask"):
        return da
    view_chunks = level_chunks(layout, da.shape)
    return da.copy(data=_numpy_as_dask(np.asarray(da.data), view_chunks))


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
    name: Any,
    value: Any,
    image_levels: Sequence[tuple[str, xr.DataArray]],
    types: Sequence[str | None],
    version: str,
    layout: Layout,
    write_id: str,
) -> LabelWrite:
    """What :func:`write_levels` writes for the label image ``name``: its levels on
    the image's grid (reduced with ``mode`` from ``value`` when it is a
    DataArray), and its metadata."""
    from . import labels as lb

    name = lb.label_name(name)
    given: Any
    if isinstance(value, xr.DataTree):
        given = _levels_of(value)
    elif isinstance(value, xr.DataArray):
        lb.check_dtype(name, value)
        given = _as_dask(value, layout)
    else:
        raise OmeZarrError(
            f"labels[{name!r}] is a {type(value).__name__}; pass a DataArray (level 0 on the "
            "image's grid) or a DataTree of its levels"
        )
    levels, made = lb.label_levels(name, given, image_levels, types)
    base = levels[0][1]
    ome, label_types = ngff.image_metadata(levels, version, method="mode" if made else None)
    attrs = _group_attrs(levels, ome, label_types, version, write_id, f"the label image {name!r}")
    block = lb.image_label_metadata(name, base.attrs.get(lb.IMAGE_LABEL), version, source="../../")
    return LabelWrite(
        name,
        levels,
        lb.with_image_label(attrs, block, version, name),
        layout,  # sharded like the image: the same chunk and shard shapes
    )


def _add_label(
    obj: xr.DataArray | xr.DataTree,
    store: Any,
    name: str,
    *,
    pyramid: bool,
    levels: int | None,
    chunks: Any,
    compressor: Any,
    overwrite: bool,
    method: str | None,
    labels: Any,
    storage_options: Mapping[str, Any] | None,
    progress: bool,
) -> None:
    """``to_ome_zarr(obj, store, label=name)``: the options checked, then :func:`add_label`."""
    from . import labels as lb

    name = lb.label_name(name)
    if labels:
        raise OptionError(
            f"label={name!r} adds one label image to a stored image; to write an image "
            "with its labels pass labels={...} alone"
        )
    if levels is not None or not pyramid:
        raise OptionError(
            f"label={name!r} gives the label image the levels of the image it is added "
            "to; drop levels= and pyramid=False"
        )
    pyramid_method(method, as_label=True)
    add_label(
        obj,
        store,
        name,
        chunks=chunks,
        compressor=compressor,
        overwrite=overwrite,
        storage_options=storage_options,
        progress=progress,
    )


def add_label(
    obj: xr.DataArray | xr.DataTree,
    store: Any,
    name: str,
    *,
    chunks: Any = None,
    compressor: Any = None,
    overwrite: bool = False,
    storage_options: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> None:
    """Add the label image ``obj`` as ``labels/<name>`` to the image stored at ``store``.

    The image is left as it was, byte for byte: its levels, its group
    attributes (another tool's or the user's too) and the label images it
    already has. Three steps, each atomic where the storage allows:

    1. the label image is written to a hidden temporary beside
       ``labels/<name>`` and swapped in (as :func:`to_ome_zarr` writes an
       image, see :mod:`xiso.io.targets`), with the image's levels, grid and
       NGFF version (its levels each the ``mode`` of the previous one);
    2. ``name`` is added to the ``labels`` list of ``labels/zarr.json``
       (NGFF 0.5) or ``labels/.zattrs`` (0.4), the only metadata that changes
       (a temporary file renamed over it; one PUT on an object store);
    3. if the image has consolidated metadata (ngff-zarr writes it), the new
       groups and arrays are added to it (``.zmetadata``, or the
       ``consolidated_metadata`` of the root ``zarr.json`` whose attributes are
       kept as they are), else zarr readers would not see the label image.

    A label image of that name that another write (or an interrupted add)
    left unlisted, is refused unless ``overwrite=True``. Two processes adding
    labels to one image at the same time may each drop the other's name from
    the list (step 2 reads, then writes it): add labels one at a time.

    Parameters
    ----------
    obj : DataArray or DataTree
        Level 0 of the label image on the image's grid (an integer
        DataArray), or its levels as a DataTree; see ``labels`` in
        :func:`to_ome_zarr`.
    store : str, Path, fsspec URL or zarr store
        The stored image.
    name : str
        The label image's name (its folder below ``labels/``).
    chunks, compressor, storage_options, progress
        As in :func:`to_ome_zarr`.
    overwrite : bool, default False
        Replace a label image of that name.

    Raises
    ------
    StoreExistsError
        The image has a label image ``name`` (or something is at
        ``labels/<name>``) and ``overwrite`` is False.
    OmeZarrError
        No image at ``store``; a bad name; a label image off the image's
        grid or with invalid ``image-label`` attrs; a damaged ``labels``
        group.
    DtypeError
        A dtype NGFF does not allow for labels.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np, xarray as xr, xiso
    >>> coords = {d: np.arange(n) * 1.0 for d, n in zip("zyx", (4, 8, 8))}
    >>> image = xr.DataArray(np.arange(256, dtype="uint16").reshape(4, 8, 8),
    ...                      dims=("z", "y", "x"), coords=coords)
    >>> store = f"{tempfile.mkdtemp()}/image.ome.zarr"
    >>> xiso.to_ome_zarr(image, store, pyramid=False)
    >>> add_label((image > 100).astype("uint8"), store, "bright")
    >>> int(xiso.open_ome_zarr(store, label="bright").sum())
    155
    """
    from . import labels as lb
    from .read import open_ome_zarr_pyramid

    name = lb.label_name(name)
    target = resolve(store, storage_options)
    try:
        tree = open_ome_zarr_pyramid(store, storage_options=storage_options)
    except OmeZarrError as err:
        raise OmeZarrError(
            f"label={name!r} adds a label image to the image at {store!r}, which cannot be "
            f"opened ({str(err).split('; ')[0]}); write the image first, or both at once "
            f"with to_ome_zarr(image, store, labels={{{name!r}: labels}})"
        ) from None
    image, existing = _split_labels(tree)
    if name in existing and not overwrite:
        raise StoreExistsError(
            f"the image at {store!r} already has a label image {name!r}; pass "
            "overwrite=True to replace it, or choose another name"
        )
    pairs = _levels_of(image)
    base = pairs[0][1]
    version = str(base.attrs.get("ngff_version", "0.5"))
    # like the image as stored (its chunk and shard shapes), unless chunks= asks otherwise
    stored = base.encoding.get("chunks")
    layout = (
        Layout(tuple(stored), base.encoding.get("shards"))
        if chunks is None and stored is not None
        else layout_of(base, chunks=chunks, shards=None, version=version)
    )
    write = _label_write(name, obj, pairs, ngff.axis_types(base), version, layout, uuid.uuid4().hex)
    inside = f"{lb.LABELS}/{name}"
    from ..progress import progress_bar

    bar = progress_bar() if progress else contextlib.nullcontext()
    with bar:
        target.inside(inside).replace(
            lambda location: write_levels(
                location, write.levels, write.group_attrs, version, write.layout, compressor
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
