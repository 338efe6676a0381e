"""Composing: the levels an OME-Zarr image is written with, and what is opened.

:mod:`xiso.io` reads and writes what it is given; the reductions are made
here. :func:`to_ome_zarr` makes the levels of a DataArray with
:func:`xiso.pyramid` and those of its label images with ``mode``
(:func:`label_pyramid`), then :func:`xiso.io.write.write_image` writes them
as they are; :func:`add_label` adds one label image to a stored image;
:func:`open_ome_zarr` opens a level and, when asked, reduces it to a
(near-)isotropic grid. ``xiso.to_ome_zarr``, ``xiso.io.to_ome_zarr`` (and
``open_ome_zarr``) are these functions.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import xarray as xr

from . import blocks, exact
from .encodings import set_downscaling
from .errors import OmeZarrError, OptionError
from .io import labels as lb
from .io import ngff, read
from .methods import default_method
from .plan import layout_of, pyramid_method

__all__ = ["add_label", "label_pyramid", "open_ome_zarr", "to_ome_zarr"]


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
        [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}``; a label image that
        names no ``colors`` gets one for each value found in its level 0 as
        it is written (0 transparent; none listed past
        :data:`xiso.io.labels.LISTED_COLORS` values: viewers such as napari
        draw a value without a listed colour transparent). A DataTree
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
    from .io import write as w  # on first write: a lazy open needs none of it

    obj = w.check_image(obj, version)
    labels = {k: w.positive_axes(v) for k, v in labels.items()} if labels else labels
    if isinstance(label, str):
        _check_add_label(label, labels=labels, levels=levels, pyramid=pyramid, method=method)
        return add_label(
            obj,
            store,
            label,
            chunks=chunks,
            compressor=compressor,
            overwrite=overwrite,
            storage_options=storage_options,
            progress=progress,
        )
    as_label = lb.is_label_image(obj) if label is None else bool(label)
    method = pyramid_method(method, as_label)
    if as_label and labels:
        raise OptionError(
            "a label image has no label images of its own; write the image with "
            "labels={...}, or drop label=True"
        )
    target = w.open_target(store, storage_options, overwrite, resume)
    made: str | None = None  # the reduction of the levels, when made here
    steps: list[dict[Any, int]] | None = None
    if isinstance(obj, xr.DataArray):
        if as_label:
            lb.check_dtype(str(obj.name or "image"), obj)  # before any reduction
        made = method
        if pyramid:
            # on dask, chunked as level 0 is written (see xiso.plan)
            # on dask, in the units level 0 is written in (see xiso.plan), so that
            # each block of a level is made of whole blocks of the one below
            obj = w.as_units(obj, layout_of(obj, chunks=chunks, shards=shards, version=version))
            obj, steps = _pyramid(obj, levels, method, min_size, as_label)
    pairs, given = w.image_and_labels(obj, labels)
    layout = layout_of(pairs[0][1], chunks=chunks, shards=shards, version=version)
    w.write_image(
        target,
        pairs,
        {name: label_pyramid(name, value, pairs, layout) for name, value in given.items()},
        version=version,
        layout=layout,
        compressor=compressor,
        method=made,
        as_label=as_label,
        overwrite=overwrite,
        progress=progress,
        resume=resume,
        rebuild=_rebuild(pairs, steps, method),
    )


def open_ome_zarr(
    store: Any,
    *,
    level: int | str = 0,
    label: str | None = None,
    near_isotropic: bool = False,
    isotropic: bool = False,
    method: str | None = None,
    rounding: str = "pow2",
    chunks: Any = None,
    storage_options: Mapping[str, Any] | None = None,
) -> xr.DataArray:
    """Open one level of an OME-Zarr image as a lazy, labelled DataArray.

    Parameters
    ----------
    store : str, Path, zarr store or fsspec URL
        The image group (NGFF 0.4 on zarr v2, or 0.5 on zarr v3).
    level : int or str, default 0
        Index into the multiscale datasets, or a dataset path.
    label : str, optional
        Open the label image of that name (``labels/<name>`` of the image)
        instead of the image: named ``label``, with its NGFF ``image-label``
        metadata (colors, properties, source) as ``attrs["image-label"]``,
        which marks it as a label image (see :mod:`xiso.io.labels`).
    near_isotropic : bool, default False
        Return ``open_ome_zarr(...).iso.near_isotropic(method=..., rounding=...)``
        (still lazy).
    isotropic : bool, default False
        Return ``open_ome_zarr(...).iso.isotropic(method=...)``: every spatial
        dim exactly at the coarsest spacing (still lazy).
    method : str, optional
        As in :func:`xiso.near_isotropic` (default ``"mode"`` for a label
        image, else ``"mean"``) or :func:`xiso.isotropic` (default ``"nearest"``
        for a label image, else ``"area"``).
    rounding
        As in :func:`xiso.near_isotropic`.
    chunks : optional
        Dask chunks (an int, a tuple, or a mapping keyed by dim name); default
        the stored chunks.
    storage_options : mapping, optional
        Passed to fsspec for a URL (e.g. ``{"anon": True}`` or
        ``{"endpoint_url": ...}`` for ``s3://``).

    Returns
    -------
    DataArray
        Dask-backed; dims are the axis names, coordinates
        ``translation + index * scale`` with attrs ``units`` and ``type``, the
        channel coordinate holds omero labels when present, the name is the
        multiscale name, attrs keep ``ngff_version`` and ``omero`` (see the
        reader contract in :mod:`xiso.io.read`).

    Raises
    ------
    OmeZarrError
        Not an OME-Zarr image group (a plain array, a level path, damaged
        metadata), a missing level or label image, axes that disagree with
        the array rank, or a zero or negative scale.
    OptionError
        Bad ``chunks``, an unknown URL protocol, ``storage_options`` for a
        local path, or both ``near_isotropic`` and ``isotropic``.
    """
    if near_isotropic and isotropic:
        raise OptionError(
            "near_isotropic=True and isotropic=True ask for two different grids; pass one "
            "(isotropic is exact, near_isotropic reduces by power-of-two blocks)"
        )
    if isotropic and rounding != "pow2":
        raise OptionError(
            f"rounding={rounding!r} rounds the blocks of near_isotropic=True; isotropic=True "
            "resamples exactly and takes no rounding: drop it"
        )
    da, array = read.open_level(
        store, level=level, label=label, chunks=chunks, storage_options=storage_options
    )
    if isotropic:
        return exact.isotropic(da, method=method)
    if not near_isotropic:
        return da
    if method is None:
        method = default_method("block", labels=label is not None)
    if chunks is None:
        # read whole blocks per task: stored chunks times the factors
        factors = blocks.near_isotropic_factors(da, rounding=rounding)
        da = read.read_in_blocks(store, da, array, factors)
    return blocks.near_isotropic(da, method=method, rounding=rounding)


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
    from .io import write as w

    name = lb.label_name(name)
    target, pairs, version, layout = w.stored_image(
        store, name, chunks=chunks, overwrite=overwrite, storage_options=storage_options
    )
    levels, made = label_pyramid(name, obj, pairs, layout)
    w.write_label(
        target,
        name,
        levels,
        made,
        pairs,
        version=version,
        layout=layout,
        compressor=compressor,
        overwrite=overwrite,
        progress=progress,
    )


def _pyramid(
    da: xr.DataArray, levels: int | None, method: str, min_size: int, as_label: bool
) -> tuple[xr.DataTree, list[dict[Hashable, int]]]:
    """The pyramid of ``da`` (:func:`xiso.pyramid`) and the factors of each level
    over the previous one (as :func:`xiso.plan` shows them)."""
    from .plan import plan as make_plan
    from .pyramid import pyramid as build_pyramid

    tree = build_pyramid(da, levels=levels, method=method, min_size=min_size)
    base = tree["0"].to_dataset()[next(iter(tree["0"].data_vars))]
    made = make_plan(
        base, levels=levels, min_size=min_size, method=method, label=as_label, shards=None
    )
    return tree, [dict(level.factors) for level in made.levels[1:]]


def _rebuild(
    pairs: Sequence[tuple[str, xr.DataArray]],
    steps: Sequence[Mapping[Hashable, int]] | None,
    method: str,
) -> Any:
    """For a resumed write of a pyramid made here: ``rebuild(index, data)``, the
    levels after level ``index`` made from its stored ``data`` (see
    :func:`xiso.io.write.write_levels`); None when the levels were given."""
    if steps is None or len(steps) != len(pairs) - 1:
        return None
    from .pyramid import next_levels

    def rebuild(index: int, data: Any) -> list[xr.DataArray]:
        stored = pairs[index][1].copy(data=data)
        return next_levels(stored, list(steps[index:]), method)

    return rebuild


def _check_add_label(
    name: str, *, labels: Any, levels: int | None, pyramid: bool, method: str | None
) -> None:
    """The options of ``to_ome_zarr(obj, store, label=name)`` checked (see :func:`add_label`)."""
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


def label_pyramid(
    name: Any,
    value: Any,
    image: Sequence[tuple[str, xr.DataArray]],
    layout: Any,
) -> tuple[list[tuple[str, xr.DataArray]], str | None]:
    """The levels of the label image ``name`` on the grid of the image levels
    ``image``, and the reduction that made them (None when given).

    ``value`` is level 0 (a DataArray), reduced here with ``mode`` by the
    factors between the image's levels (on dask, chunked as ``layout``
    writes it), or a DataTree of its levels, taken as they are. The levels
    are checked by :func:`xiso.io.labels.label_levels` when written.
    """
    from .io import write as w
    from .labelled import check_factors

    name = lb.label_name(name)
    if isinstance(value, xr.DataTree):
        return w.levels_of(value), None
    if not isinstance(value, xr.DataArray):
        raise OmeZarrError(
            f"labels[{name!r}] is a {type(value).__name__}; pass a DataArray (level 0 on the "
            "image's grid) or a DataTree of its levels"
        )
    lb.check_dtype(name, value)
    types = ngff.axis_types(image[0][1])
    current = w.as_dask(value, layout).rename(name).copy(deep=False)
    current.encoding = dict(value.encoding)  # the caller's array is not marked
    lb.check_grid(name, "level 0", current, image[0][1], types)
    set_downscaling(current, "mode")
    levels = [(image[0][0], current)]
    for (path, _), factors in zip(image[1:], lb.level_factors(image, types)):
        checked = check_factors(current, factors, "trim")
        current = blocks.reduce_checked(
            current, checked, method="mode", boundary="trim", dtype=None, skipna=None, group=False
        )
        set_downscaling(current, "mode")
        levels.append((path, current))
    return levels, "mode"
