"""Reading: an OME-Zarr image group -> lazy, labelled DataArray / DataTree.

The reader contract
-------------------
Every xiso reader (:func:`~xiso.open_ome_zarr`, which :mod:`xiso.compose` makes of
:func:`open_level` here, :func:`~xiso.open_tiff` in
:mod:`.tiff`, :func:`~xiso.open_nifti` in :mod:`.nifti`) returns a DataArray
with what follows. ``tests/io/test_contract.py`` checks each promise for each
reader: one test class, one subclass per format, each reading a file written
by that format's own writer.

dims
    the axis names, in stored order (NIfTI: the voxel axes slowest first, the
    order of the bytes as C-order numpy sees them);
coordinates
    one per dim. Space and time axes: float64 ``translation + index * step``
    with attrs ``type`` and ``units`` (the NGFF unit name; left out when the
    file gives none), the size of the step recorded as
    ``encoding["spacing"]`` so a one-sample axis keeps its spacing. The step
    is negative where the file flips an axis (NIfTI), and TIFF has no
    translation (0). A time axis whose step the file does not say is
    ``0..n-1``, without units or record. Channel axes: the channel labels
    when the file has them, else ``0..n-1``, with attrs ``type = "channel"``.
    What OME-Zarr cannot express but xiso recorded beside it (values and
    dtype of channel, time and other axes; coordinate attrs; coordinates that
    are no dimension) comes back as it was written; a record that no longer
    fits the image is left out with an :class:`~xiso.XisoWarning`;
data
    a dask array that reads nothing until computed (opening reads metadata
    only), with a dask name unique to this open, chunked as stored (a task
    per shard or chunk of OME-Zarr, per page, strip or tile of TIFF; NIfTI,
    which has no chunks: whole (x, y) planes, about 32 MiB, one time point)
    or as ``chunks=`` asks (an int, a tuple, or a mapping keyed by dim
    name). It pickles without its values (for dask.distributed): the file is
    opened again where it is read. A chunk that cannot be read raises the
    reader's error (:class:`OmeZarrError`, :class:`~xiso.TiffError`,
    :class:`~xiso.NiftiError`) naming the array or file and the region,
    ``[start:stop, ...]`` in the order of the dims;
name
    the image name: OME-Zarr's multiscale name, or None; the file (or
    folder) name without its suffixes for TIFF and NIfTI;
attrs
    what the format records. OME-Zarr: the user attrs that xiso wrote,
    ``ngff_version`` and ``omero``; a label image (an NGFF ``labels/<name>``,
    or any image with ``image-label`` metadata) carries that metadata as
    ``attrs["image-label"]``, the marker of label images (see
    :mod:`xiso.io.labels`). TIFF: ``source`` (the path) and
    ``ome_image_name``. NIfTI: ``source``, ``orientation`` (nibabel's axis
    codes) and, for an oblique affine opened with ``oblique="ignore"``,
    ``affine``;
encoding
    OME-Zarr: ``encoding[ngff.DOWNSCALING_TYPE]``, how the levels were made
    (the NGFF multiscale ``type``, e.g. ``"mode"``) when the file says, and
    the stored layout as ``encoding["chunks"]`` (and ``encoding["shards"]``
    when sharded). TIFF and NIfTI: empty.

Opening an OME-Zarr image is consistent: the group metadata is read again
after the level's array is opened, and the open is retried if an image was
swapped in meanwhile, so the coordinates and the array belong to one image.

Why TIFF and NIfTI are no xarray engines
----------------------------------------
OME-Zarr is also an xarray engine (:mod:`.backend`, ``engine="ome-zarr"``),
a thin call of this reader. TIFF and NIfTI stay plain readers (issue 20,
after xarray's ``BackendEntrypoint``, ``BackendArray`` and
``CachingFileManager`` and rioxarray's ``xarray_plugin.py``):

- it would remove no code. Their lazy arrays already are what a
  ``BackendArray`` is (shape, dtype, ``__getitem__`` of basic indexes, all
  dask asks for); TIFF's already keeps its file in xarray's
  ``CachingFileManager`` (reopened after pickling, at most
  ``file_cache_maxsize`` files open); NIfTI keeps no file open (nibabel
  opens the file for each read), so a file manager would manage nothing. An
  engine adds an entrypoint class, xarray's explicit-indexing adapter and an
  entry point per format, and saves one ``dask.array.from_array`` call.
- through ``xr.open_dataset`` the contract would not hold, so the readers
  would stay as wrappers: the data is lazily indexed numpy, not dask, unless
  ``chunks=`` is passed; dask names are tokenised from path, mtime and
  options, so two opens of an unchanged file share keys; bad ``chunks=``
  raise xarray's errors, not :class:`~xiso.OptionError`.
- rioxarray does the same: its reader is the function (``open_rasterio``,
  a ``BackendArray`` over a ``CachingFileManager``) and its engine a thin
  call of it; an xiso engine for ``.tif`` would also compete with
  rioxarray's ``rasterio`` engine for ``xr.open_dataset("x.tif")``.

An engine for either is an entrypoint calling ``open_tiff`` or
``open_nifti`` (as :mod:`.backend` calls ``open_ome_zarr``), to add when
users ask for ``xr.open_dataset(path, engine=...)``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
import xarray as xr
import zarr

from ..errors import OmeZarrError, OptionError, XisoError
from . import engine, labels, ngff

T = TypeVar("T")
_ATTEMPTS = 5


def _text(store: Any) -> Any:
    """A path as text, so that messages say '/data/a.zarr', not PosixPath(...)."""
    return os.fspath(store) if isinstance(store, os.PathLike) else store


def region(key: Any, shape: Sequence[int]) -> list[str]:
    """The region a basic index ``key`` reads, per axis: ``["0:4", "2"]``; what
    every reader's read error names."""
    keys = key if isinstance(key, tuple) else (key,)
    return [
        f"{k.start or 0}:{n if k.stop is None else k.stop}" if isinstance(k, slice) else str(k)
        for k, n in zip(keys, shape)
    ]


def _open_group(store: Any, storage_options: Mapping[str, Any] | None) -> zarr.Group:
    from .targets import FsspecTarget, resolve, storage_errors

    by_name = isinstance(store, (str, os.PathLike)) or storage_options is not None
    # (storage_options on a store object raise OptionError in resolve)
    target = resolve(store, storage_options) if by_name else None
    location = target.location() if target is not None else None
    if isinstance(target, FsspecTarget):
        target.probe()  # one request first: a store out of reach fails with one error
    with storage_errors(store, storage_options):
        return _open_group_at(store, storage_options, location)


def _open_group_at(
    store: Any, storage_options: Mapping[str, Any] | None, location: Any
) -> zarr.Group:
    try:
        if location is not None:
            return zarr.open_group(
                location.store, mode="r", storage_options=location.storage_options
            )
        return zarr.open_group(store, mode="r")
    except zarr.errors.ContainsArrayError:
        raise OmeZarrError(
            f"{store!r} is a zarr array (a level of an image?), not an OME-Zarr image group; "
            "pass the group that holds the levels, e.g. the folder above it"
        ) from None
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:
        aside = _set_aside(store, storage_options)
        hint = (
            f"; an xiso write set the previous image aside at {aside[0].where!r}: "
            f"{aside[0].next_write} (or rename it yourself)"
            if aside
            else "; check the path, or pass the image group inside the store (e.g. 'data.zarr/0')"
        )
        raise OmeZarrError(f"no zarr group at {store!r} ({err}){hint}") from None
    except ValueError as err:  # JSONDecodeError and zarr's metadata errors
        raise OmeZarrError(
            f"the zarr metadata at {store!r} cannot be read ({err.__class__.__name__}: "
            f"{err}); the store is damaged or not zarr"
        ) from None


def _set_aside(store: Any, storage_options: Mapping[str, Any] | None) -> list[Any]:
    """Images that a killed swap left beside ``store`` (local paths and URLs)."""
    from ..errors import StorageError
    from .targets import resolve

    if not isinstance(store, (str, os.PathLike)):
        return []
    try:
        return [lo for lo in resolve(store, storage_options).leftovers() if lo.kind == "old"]
    except StorageError:  # e.g. no such bucket: that is why nothing was found
        raise
    except Exception:  # only a hint for an error message
        return []


def _consistent(
    store: Any, storage_options: Mapping[str, Any] | None, read: Callable[[zarr.Group, str, Any], T]
) -> T:
    """``read(group, version, attrs_model)``, retried while the image changes under it."""
    for _ in range(_ATTEMPTS):
        group = _open_group(store, storage_options)
        before = group.attrs.asdict()
        version, model = ngff.parse_image_attrs(before, store)
        result = read(group, version, model)
        if _open_group(store, storage_options).attrs.asdict() == before:
            return result
    raise OmeZarrError(
        f"{store!r} changed {_ATTEMPTS} times while it was being opened (another process is "
        "rewriting it); try again when that write has finished"
    )


class _Level:
    """A stored level seen through ``__getitem__``: a chunk that cannot be read
    raises OmeZarrError naming the array and the region."""

    def __init__(self, array: zarr.Array, where: str, consumed: bool = False) -> None:
        self.array = array
        # zarrista hands out read-only views of its buffers: only for chunks that
        # xiso's own reduction consumes (never handed to the user as they are)
        self.regions = engine.regions(array) if consumed else array
        self.where = where
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self.regions[key])
        except Exception as err:
            from .targets import is_remote, storage_problem

            problem = storage_problem(
                err,
                f"{self.where} at [{', '.join(region(key, self.shape))}]",
                remote=is_remote(self.array.store),
            )
            if problem is not None:  # the storage failed, not the chunk
                raise problem from err
            key, chunks = self._failing_chunk(key)
            where = ", ".join(region(key, self.shape))
            raise OmeZarrError(
                f"reading {self.where} at [{where}] (chunk {'/'.join(map(str, chunks))}) "
                f"failed: {err.__class__.__name__}: {err}; the stored chunk is damaged or "
                "unreadable"
            ) from err

    def _failing_chunk(self, key: Any) -> tuple[Any, tuple[int, ...]]:
        """The region and index of the first stored chunk of ``key`` that
        cannot be read (a read of whole blocks spans several chunks): on the
        error path only, chunk by chunk; the first chunk if each reads alone."""
        key = key if isinstance(key, tuple) else (key,)
        bounds = [
            (k.start or 0, n if k.stop is None else k.stop) if isinstance(k, slice) else (k, k + 1)
            for k, n in zip(key, self.shape)
        ]
        size = self.array.chunks
        ranges = [range(lo // c, -(-hi // c)) for (lo, hi), c in zip(bounds, size)]
        first: tuple[Any, tuple[int, ...]] | None = None
        for index in itertools.product(*ranges):
            one = tuple(
                slice(max(lo, i * c), min(hi, (i + 1) * c))
                for (lo, hi), i, c in zip(bounds, index, size)
            )
            first = first or (one, index)
            try:
                self.array[one]
            except Exception:
                return one, index
        assert first is not None
        return first


def _level_array(group: zarr.Group, path: str, ndim: int, names: list[str], where: Any) -> Any:
    if path in ("", ".", "..") or any(part in (".", "..") for part in path.split("/")):
        raise OmeZarrError(
            f"the metadata of {where!r} names a level at path {path!r}; NGFF dataset paths "
            "must point inside the image group (e.g. '0')"
        )
    try:
        with engine.scoped(group.store):  # the array keeps the codec pipeline it opens with
            array = group[path]
    except KeyError:
        raise OmeZarrError(
            f"level {path!r} is listed in the metadata of {where!r} but has no array"
        ) from None
    except XisoError:  # e.g. XISO_ZARR_ENGINE names an engine that is not installed
        raise
    except ValueError as err:
        raise OmeZarrError(
            f"the zarr metadata of level {path!r} in {where!r} cannot be read ({err})"
        ) from None
    if not isinstance(array, zarr.Array):
        raise OmeZarrError(f"{path!r} in {where!r} is a group, not an array")
    if array.ndim != ndim:
        raise OmeZarrError(
            f"level {path!r} of {where!r} has {array.ndim} dimensions but the metadata "
            f"names {ndim} axes {names!r}; the store is inconsistent"
        )
    return array


def _dask_chunks(array: zarr.Array, chunks: Any, dims: list[str]) -> Any:
    import dask.array as dsa

    if isinstance(chunks, Mapping):  # keyed by dim name (or axis number)
        unknown = [k for k in chunks if k not in dims and not isinstance(k, int)]
        if unknown:
            raise OptionError(f"chunks names {unknown!r}, which are not among the axes {dims!r}")
        chunks = {dims.index(k) if k in dims else k: v for k, v in chunks.items()}
        chunks = tuple(chunks.get(i, c) for i, c in enumerate(array.chunks))
    if chunks is None:  # a task per stored object: a shard, or a chunk
        chunks = getattr(array, "shards", None) or array.chunks
    each = chunks if isinstance(chunks, tuple) else (chunks,) * array.ndim
    for dim, c in zip(dims, each):
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool) and c < 1 and c != -1:
            raise OptionError(
                f"chunks={chunks!r} gives dimension {dim!r} a chunk length of {c}; pass a "
                "length >= 1, -1 for the whole axis, or None for the stored chunks"
            )
    return dsa.core.normalize_chunks(chunks, array.shape, dtype=array.dtype)


def _as_dask(
    array: zarr.Array, chunks: Any, dims: list[str], where: str, consumed: bool = False
) -> Any:
    import dask.array as dsa

    return dsa.from_array(
        _Level(array, where, consumed),
        chunks=_dask_chunks(array, chunks, dims),
        # unique per open: two opens of one store (other chunks, or the store
        # rewritten in between) must never share dask keys
        name=f"xiso-open-{uuid.uuid4().hex}",
        lock=False,
        asarray=True,
        inline_array=True,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
    )


def _read_level(
    group: zarr.Group,
    version: str,
    model: Any,
    index: int,
    chunks: Any,
    where: Any,
    dask: bool = True,
) -> tuple[xr.DataArray, zarr.Array]:
    """The labelled, lazy level ``index`` (and the zarr array behind it): dask-backed,
    or with ``dask=False`` the stored array seen through xarray's lazy indexing (what
    the xarray backend hands out; neither dask nor a graph is made, for ``xiso info``)."""
    ms = model.multiscales[0]
    path = ms.datasets[index].path
    names = [str(a.name) for a in ms.axes]
    array = _level_array(group, path, len(names), names, where)
    group_attrs = group.attrs.asdict()
    dims, coords = ngff.level_coords(model, index, array.shape, where)
    coords = ngff.restore_coords(coords, group_attrs, dims, array.shape, where)
    if dask:
        data = _as_dask(array, chunks, dims, f"level {path!r} of {where!r}")
    else:
        from xarray.core.indexing import LazilyIndexedArray

        from .backend import _StoredLevel

        data = LazilyIndexedArray(_StoredLevel(array, f"level {path!r} of {where!r}"))
    attrs = ngff.image_attrs_of(group_attrs, version, model)
    image_label = labels.image_label_of(group_attrs)
    if image_label is not None:  # a label image (one written by itself too): marked
        attrs[labels.IMAGE_LABEL] = image_label
    da = xr.DataArray(data, dims=dims, coords=coords, name=ngff.image_name(model), attrs=attrs)
    if index > 0 and "affine" in attrs:  # a NIfTI affine is level 0's: move it to this grid
        from .nifti import follow_grid

        base = _level_array(group, ms.datasets[0].path, len(names), names, where)
        da = follow_grid(xr.Dataset(coords=ngff.level_coords(model, 0, base.shape, where)[1]), da)
    if ms.type is not None:
        da.encoding[ngff.DOWNSCALING_TYPE] = ms.type
    # the stored layout, under xarray's own zarr encoding keys (dropped by any reduction)
    da.encoding["chunks"] = tuple(array.chunks)
    if array.shards is not None:
        da.encoding["shards"] = tuple(array.shards)
    return da, array


def _label_group(group: zarr.Group, name: str, where: Any) -> tuple[zarr.Group, str, Any]:
    """The label image ``name`` of the image ``group``: (group, NGFF version, attrs model)."""

    names = _label_names(group, where)
    if name not in names:
        listed = f"its label images are {names!r}" if names else "it has no label images"
        raise OmeZarrError(
            f"{where!r} has no label image {name!r}; {listed} (NGFF lists them in the "
            f"attributes of its '{labels.LABELS}' group)"
        )
    try:
        sub = group[f"{labels.LABELS}/{name}"]
    except (KeyError, ValueError):
        sub = None
    if not isinstance(sub, zarr.Group):
        raise OmeZarrError(
            f"the label image {name!r} is listed in {where!r} but '{labels.LABELS}/{name}' is "
            "no zarr group; the store is incomplete"
        )
    version, model = ngff.parse_image_attrs(sub.attrs.asdict(), f"{where}/{labels.LABELS}/{name}")
    return sub, version, model


def _label_names(group: zarr.Group, where: Any) -> list[str]:
    """The label images the image ``group`` lists ([] without a ``labels`` group)."""

    try:
        parent = group[labels.LABELS]
    except (KeyError, ValueError):
        return []
    if not isinstance(parent, zarr.Group):
        return []
    return labels.label_names(parent.attrs.asdict(), where)


def _read_label_level(
    group: zarr.Group, name: str, level: int | str, chunks: Any, where: Any, dask: bool = True
) -> tuple[xr.DataArray, zarr.Array]:
    """Level ``level`` of the label image ``name`` of the image ``group``: named
    ``name``, marked with ``attrs["image-label"]``."""

    sub, version, model = _label_group(group, name, where)
    label_where = f"{where}/{labels.LABELS}/{name}"
    index = ngff.level_index(model.multiscales[0].datasets, level, label_where)
    da, array = _read_level(sub, version, model, index, chunks, label_where, dask)
    da = da.rename(name)
    # below labels/ it is a label image, even without image-label metadata
    da.attrs[labels.IMAGE_LABEL] = labels.image_label_of(sub.attrs.asdict()) or {}
    return da, array


def open_level(
    store: Any,
    *,
    level: int | str = 0,
    label: str | None = None,
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[xr.DataArray, zarr.Array]:
    """The level :func:`open_ome_zarr` opens (without ``near_isotropic``) and the
    zarr array behind it (the xarray backend hands that array to xarray)."""

    if label is not None and not isinstance(label, str):
        raise OptionError(
            f"label={label!r}: pass the name of a label image (e.g. label='nuclei'); "
            "xiso info lists an image's label images"
        )
    store = _text(store)

    def read(group: zarr.Group, version: str, model: Any) -> tuple[xr.DataArray, zarr.Array]:
        if label is not None:
            return _read_label_level(group, label, level, chunks, store)
        index = ngff.level_index(model.multiscales[0].datasets, level, store)
        return _read_level(group, version, model, index, chunks, store)

    return _consistent(store, storage_options, read)


def read_in_blocks(
    store: Any, da: xr.DataArray, array: zarr.Array, factors: Mapping[Any, int]
) -> xr.DataArray:
    """``da`` and its zarr ``array`` (as :func:`open_level` opens them) read in
    whole blocks: the stored chunks times ``factors`` per dim, so that each
    chunk of a reduction by ``factors`` is made by one task from one read,
    with no re-assembly (see :func:`xiso.compose.open_ome_zarr`)."""
    grown = tuple(c * factors.get(d, 1) for d, c in zip(da.dims, array.chunks))
    where = f"level {array.basename!r} of {_text(store)!r}"
    reduced = any(f > 1 for f in factors.values())  # else the chunks reach the user
    return da.copy(data=_as_dask(array, grown, [str(d) for d in da.dims], where, consumed=reduced))


def open_ome_zarr_pyramid(
    store: Any,
    *,
    label: str | None = None,
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataTree:
    """Open every stored level of an OME-Zarr image, and its label images, as a DataTree.

    One child node per level, named by its NGFF dataset path, each holding a
    Dataset with the image as its single variable (named like the multiscale,
    ``"image"`` when unnamed). Label images follow the store's layout: node
    ``labels/<name>/<path>`` holds level ``path`` of the label image
    ``name``, as a variable named ``name`` marked with
    ``attrs["image-label"]`` (see :func:`open_ome_zarr`). Writing the tree
    with :func:`xiso.to_ome_zarr` writes the labels again.

    ``label`` opens only that label image (its levels as the children of
    the root). ``chunks`` and ``storage_options`` as in :func:`open_ome_zarr`.
    """

    nodes = pyramid_levels(store, label=label, chunks=chunks, storage_options=storage_options)
    return xr.DataTree.from_dict({path: da.to_dataset() for path, (da, _) in nodes.items()})


def pyramid_levels(
    store: Any,
    *,
    label: str | None = None,
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
    dask: bool = True,
) -> dict[str, tuple[xr.DataArray, zarr.Array]]:
    """The levels :func:`open_ome_zarr_pyramid` opens, by node path, each with the
    zarr array behind it; every image is named (``"image"`` when unnamed).
    ``dask=False``: not dask-backed (see :func:`_read_level`)."""
    store = _text(store)

    def read(
        group: zarr.Group, version: str, model: Any
    ) -> dict[str, tuple[xr.DataArray, zarr.Array]]:

        names = [label] if label is not None else _label_names(group, store)
        nodes: dict[str, tuple[xr.DataArray, zarr.Array]] = {}
        if label is None:
            for i, dataset in enumerate(model.multiscales[0].datasets):
                da, array = _read_level(group, version, model, i, chunks, store, dask)
                named = da.rename(da.name if da.name is not None else "image")
                nodes[dataset.path] = (named, array)
        for name in names:
            _, _, label_model = _label_group(group, name, store)
            for dataset in label_model.multiscales[0].datasets:
                found = _read_label_level(group, name, dataset.path, chunks, store, dask)
                inside = f"{labels.LABELS}/{name}/{dataset.path}"
                nodes[dataset.path if label is not None else inside] = found
        return nodes

    return _consistent(store, storage_options, read)
