"""OME-Zarr (NGFF 0.4 and 0.5) <-> DataArray / DataTree, at the edge.

Reading turns a multiscale image into labelled, lazy DataArrays whose
coordinates come from the NGFF ``coordinateTransformations``
(``coord = translation + index * scale``, composed with the multiscale-level
transforms). Writing derives ``scale`` and ``translation`` exactly from the
coordinates, builds the metadata with ome-zarr-models (so it validates), and is
atomic for local paths and fsspec URLs: everything goes to a temporary sibling
that is moved into place at the end, and the OME metadata is written last.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
import warnings
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pydantic
import xarray as xr
import zarr

from .errors import OptionError, XisoError
from .pyramid import pyramid as build_pyramid
from .resample import near_isotropic as make_near_isotropic
from .resample import near_isotropic_factors as make_factors
from .spacing import coordinate_step, coordinate_unit, spatial_dims, unit_registry

__all__ = [
    "OmeZarrError",
    "StoreExistsError",
    "open_ome_zarr",
    "open_ome_zarr_pyramid",
    "to_ome_zarr",
]

NGFF_VERSIONS = ("0.4", "0.5")
_TIME_NAMES = {"t", "time"}
_CHANNEL_NAMES = {"c", "ch", "channel", "channels"}
# keys of DataArray attrs that hold OME metadata rather than user attrs
_OME_ATTRS = ("ngff_version", "omero")


class OmeZarrError(XisoError):
    """A store is not a readable OME-Zarr image, or metadata cannot be written."""


class StoreExistsError(XisoError):
    """The output store exists and ``overwrite=True`` was not given."""


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
def _open_group(store: Any) -> zarr.Group:
    try:
        return zarr.open_group(store, mode="r")
    except (FileNotFoundError, zarr.errors.GroupNotFoundError) as err:
        raise OmeZarrError(
            f"no zarr group at {store!r} ({err}); check the path, or pass the image group "
            "inside the store (e.g. 'data.zarr/0')"
        ) from None


def _image_attrs(group: zarr.Group, where: Any) -> tuple[str, Any]:
    """(NGFF version, validated ome-zarr-models ImageAttrs) of an image group."""
    attrs = group.attrs.asdict()
    if "ome" in attrs and isinstance(attrs["ome"], dict):
        from ome_zarr_models.v05.image import ImageAttrs as Attrs05

        raw: dict[str, Any] = dict(attrs["ome"])
        version = str(raw.get("version", "0.5"))
        model: Any = Attrs05
    elif "multiscales" in attrs:
        from ome_zarr_models.v04.image import ImageAttrs as Attrs04

        raw = {k: attrs[k] for k in ("multiscales", "omero") if k in attrs}
        version = str(raw["multiscales"][0].get("version", "0.4")) if raw["multiscales"] else "0.4"
        model = Attrs04
    else:
        raise OmeZarrError(
            f"{where!r} is a zarr group but not an OME-Zarr image: its attributes have no "
            "'multiscales' (NGFF 0.4) or 'ome' (NGFF 0.5) entry; open the image group itself"
        )
    if version not in NGFF_VERSIONS:
        raise OmeZarrError(
            f"{where!r} declares NGFF version {version!r}; xiso reads {NGFF_VERSIONS!r}"
        )
    try:
        return version, model.model_validate(raw)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise OmeZarrError(
            f"the OME-Zarr metadata of {where!r} is invalid: {first.get('msg')} at "
            f"{'/'.join(str(p) for p in first.get('loc', ()))}"
        ) from None


def _vectors(transforms: Any, ndim: int, where: str) -> tuple[np.ndarray, np.ndarray]:
    """(scale, translation) of a list of NGFF transforms."""
    scale = np.ones(ndim)
    translation = np.zeros(ndim)
    for t in transforms or ():
        kind = getattr(t, "type", None)
        if kind == "identity":
            continue
        if kind == "scale" and hasattr(t, "scale"):
            scale = scale * np.asarray(t.scale, dtype=np.float64)
            translation = translation * np.asarray(t.scale, dtype=np.float64)
        elif kind == "translation" and hasattr(t, "translation"):
            translation = translation + np.asarray(t.translation, dtype=np.float64)
        else:
            raise OmeZarrError(
                f"{where}: the {kind!r} transform given by path is not supported; "
                "inline its values in the metadata"
            )
    if scale.shape != (ndim,) or translation.shape != (ndim,):
        raise OmeZarrError(f"{where}: transforms have {scale.size} values for {ndim} axes")
    return scale, translation


def _level_index(datasets: Sequence[Any], level: int | str, where: Any) -> int:
    paths = [d.path for d in datasets]
    if isinstance(level, str):
        if level in paths:
            return paths.index(level)
    elif isinstance(level, (int, np.integer)) and -len(paths) <= level < len(paths):
        return int(level) % len(paths)
    raise OmeZarrError(
        f"level {level!r} does not exist in {where!r}; it has {len(paths)} level(s): "
        f"indices 0..{len(paths) - 1}, paths {paths!r}"
    )


def _read_level(
    group: zarr.Group,
    version: str,
    attrs_model: Any,
    index: int,
    chunks: Any,
    where: Any,
) -> xr.DataArray:
    import dask.array as dsa

    ms = attrs_model.multiscales[0]
    axes = list(ms.axes)
    ndim = len(axes)
    dataset = ms.datasets[index]
    try:
        array = group[dataset.path]
    except KeyError:
        raise OmeZarrError(
            f"level {dataset.path!r} is listed in the metadata of {where!r} but has no array"
        ) from None
    if not isinstance(array, zarr.Array):
        raise OmeZarrError(f"{dataset.path!r} in {where!r} is a group, not an array")
    if array.ndim != ndim:
        raise OmeZarrError(
            f"level {dataset.path!r} of {where!r} has {array.ndim} dimensions but the metadata "
            f"names {ndim} axes {[a.name for a in axes]!r}; the store is inconsistent"
        )
    scale, translation = _vectors(
        dataset.coordinateTransformations, ndim, f"level {dataset.path!r}"
    )
    g_scale, g_translation = _vectors(ms.coordinateTransformations, ndim, "multiscale")
    scale, translation = g_scale * scale, g_scale * translation + g_translation
    for ax, s in zip(axes, scale):
        if not np.isfinite(s) or s <= 0:
            raise OmeZarrError(
                f"level {dataset.path!r} of {where!r} has scale {float(s)!r} for axis "
                f"{ax.name!r}; NGFF scales must be positive"
            )
    dims = [str(a.name) for a in axes]
    omero = getattr(attrs_model, "omero", None)
    omero_dict = _to_plain(omero) if omero is not None else None
    labels = _channel_labels(omero_dict)
    coords: dict[Hashable, xr.Variable] = {}
    for i, (ax, n) in enumerate(zip(axes, array.shape)):
        cattrs: dict[str, Any] = {}
        if ax.type is not None:
            cattrs["type"] = str(ax.type)
        if ax.unit is not None:
            cattrs["units"] = str(ax.unit)
        if ax.type == "channel":
            # channel labels from omero when present, else channel indices
            values = (
                np.array(labels, dtype=object)
                if labels is not None and len(labels) == n
                else np.arange(n)
            )
            coords[dims[i]] = xr.Variable(dims[i], values, cattrs)
            continue
        values = translation[i] + np.arange(n) * scale[i]
        # the NGFF scale, so that a single-sample axis keeps its spacing
        coords[dims[i]] = xr.Variable(dims[i], values, cattrs, encoding={"spacing": scale[i]})
    if isinstance(chunks, Mapping):  # keyed by dim name (or axis number)
        unknown = [k for k in chunks if k not in dims and not isinstance(k, int)]
        if unknown:
            raise OptionError(f"chunks names {unknown!r}, which are not among the axes {dims!r}")
        chunks = {dims.index(k) if k in dims else k: v for k, v in chunks.items()}
        chunks = tuple(chunks.get(i, c) for i, c in enumerate(array.chunks))
    chunks = dsa.core.normalize_chunks(
        array.chunks if chunks is None else chunks, array.shape, dtype=array.dtype
    )
    data = dsa.from_array(
        array,
        chunks=chunks,
        # unique per open: two opens of one store (other chunks, or the store
        # rewritten in between) must never share dask keys
        name=f"xiso-open-{uuid.uuid4().hex}",
        lock=False,
        asarray=True,
        inline_array=True,
    )
    stored: Any = group.attrs.asdict().get("xiso", {})
    user_attrs = dict(stored.get("attrs", {})) if isinstance(stored, dict) else {}
    attrs: dict[str, Any] = {**user_attrs, "ngff_version": version}
    if omero_dict is not None:
        attrs["omero"] = omero_dict
    name = ms.name.strip("/") if isinstance(ms.name, str) else None
    name = name.replace("/", "_") if name else None  # xarray names cannot hold "/"
    return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=attrs)


def _to_plain(model: Any) -> Any:
    if isinstance(model, pydantic.BaseModel):
        return model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return json.loads(json.dumps(model))


def _channel_labels(omero: Mapping[str, Any] | None) -> list[str] | None:
    if not omero or not isinstance(omero.get("channels"), list):
        return None
    labels = [c.get("label") if isinstance(c, dict) else None for c in omero["channels"]]
    if not labels or any(not isinstance(lb, str) or not lb for lb in labels):
        return None
    return [str(lb) for lb in labels]


def open_ome_zarr(
    store: Any,
    *,
    level: int | str = 0,
    near_isotropic: bool = False,
    method: str = "mean",
    rounding: str = "pow2",
    chunks: Any = None,
) -> xr.DataArray:
    """Open one level of an OME-Zarr image as a lazy, labelled DataArray.

    Parameters
    ----------
    store : str, Path, zarr store or fsspec URL
        The image group (NGFF 0.4 on zarr v2, or 0.5 on zarr v3).
    level : int or str, default 0
        Index into the multiscale datasets, or a dataset path.
    near_isotropic : bool, default False
        Return ``open_ome_zarr(...).iso.near_isotropic(method=..., rounding=...)``
        (still lazy).
    method, rounding
        As in :func:`xiso.near_isotropic`.
    chunks : optional
        Dask chunks; default the stored chunks.

    Returns
    -------
    DataArray
        Dask-backed; dims are the axis names, coordinates
        ``translation + index * scale`` with attrs ``units`` and ``type``, the
        channel coordinate holds omero labels when present, the name is the
        multiscale name, attrs keep ``ngff_version`` and ``omero``.

    Raises
    ------
    OmeZarrError
        Not an OME-Zarr image group, a missing level, axes that disagree with
        the array rank, or a zero or negative scale.
    """
    group = _open_group(store)
    version, attrs_model = _image_attrs(group, store)
    index = _level_index(attrs_model.multiscales[0].datasets, level, store)
    da = _read_level(group, version, attrs_model, index, chunks, store)
    if not near_isotropic:
        return da
    if chunks is None:
        # read whole blocks per task: stored chunks times the factors, so each
        # output chunk is made by one task from one read, with no re-assembly
        factors = make_factors(da, rounding=rounding)
        grown = tuple(c[0] * factors.get(d, 1) for d, c in zip(da.dims, da.chunks or ()))
        da = _read_level(group, version, attrs_model, index, grown, store)
    return make_near_isotropic(da, method=method, rounding=rounding)


def open_ome_zarr_pyramid(store: Any, *, chunks: Any = None) -> xr.DataTree:
    """Open every stored level of an OME-Zarr image as a DataTree.

    One child node per level, named by its NGFF dataset path, each holding a
    Dataset with the image as its single variable (named like the multiscale,
    ``"image"`` when unnamed).
    """
    group = _open_group(store)
    version, attrs_model = _image_attrs(group, store)
    nodes: dict[str, xr.Dataset] = {}
    for i, dataset in enumerate(attrs_model.multiscales[0].datasets):
        da = _read_level(group, version, attrs_model, i, chunks, store)
        nodes[dataset.path] = da.to_dataset(name=da.name if da.name is not None else "image")
    return xr.DataTree.from_dict(nodes)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def _axis_type(da: xr.DataArray, dim: Hashable, spatial: Sequence[Hashable]) -> str | None:
    attrs = da.coords[dim].attrs if dim in da.coords else {}
    if isinstance(attrs.get("type"), str):
        return str(attrs["type"])
    if dim in spatial:
        return "space"
    name = str(dim).lower()
    if name in _TIME_NAMES or str(attrs.get("axis", "")).upper() == "T":
        return "time"
    if name in _CHANNEL_NAMES:
        return "channel"
    return None


# the unit names the NGFF specification lists for space and time axes
_NGFF_UNITS = (
    "angstrom attometer centimeter decimeter exameter femtometer foot gigameter hectometer "
    "inch kilometer megameter meter micrometer mile millimeter nanometer parsec petameter "
    "picometer terameter yard yoctometer yottameter zeptometer zettameter "
    "attosecond centisecond day decisecond exasecond femtosecond gigasecond hectosecond hour "
    "kilosecond megasecond microsecond millisecond minute nanosecond petasecond picosecond "
    "second terasecond yoctosecond yottasecond zeptosecond zettasecond"
).split()


def _axis_types(da: xr.DataArray) -> list[str | None]:
    """The NGFF axis type of every dim of ``da``."""
    try:
        spatial: Sequence[Hashable] = spatial_dims(da)
    except XisoError:
        spatial = ()
    return [_axis_type(da, d, spatial) for d in da.dims]


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


def _ngff_unit(dim: Hashable, text: str | None) -> str | None:
    """The NGFF name of a unit: 'um', 'µm' and 'micron' -> 'micrometer'."""
    if text is None:
        return None
    ureg = unit_registry()
    try:
        unit = ureg.Unit(text)
    except Exception:
        unit = None
    if unit is not None:
        if f"{unit}" in _NGFF_UNITS:
            return f"{unit}"
        for name in _NGFF_UNITS:
            candidate = ureg.Unit(name)
            if candidate.dimensionality == unit.dimensionality and math.isclose(
                ureg.Quantity(1, unit).to(candidate).magnitude, 1.0, rel_tol=1e-12
            ):
                return name
    raise OmeZarrError(
        f"the unit {text!r} of dimension {dim!r} is not one NGFF can store; use one of its "
        "unit names such as 'micrometer', 'nanometer' or 'second'"
    )


def _level_transform(
    da: xr.DataArray,
    axis_types: Sequence[str | None],
    previous: tuple[Sequence[float], Sequence[int]] | None,
) -> tuple[list[float], list[float]]:
    """NGFF scale and translation of one level, from its coordinates.

    ``previous`` is the (scale, shape) of the level above, used for a dim that
    a pyramid step reduced to a single sample without a recorded spacing.
    """
    scale: list[float] = []
    translation: list[float] = []
    for i, dim in enumerate(da.dims):
        numeric = dim in da.coords and da.coords[dim].dtype.kind in "iuf"
        if axis_types[i] == "channel" or not numeric:
            scale.append(1.0 if previous is None else previous[0][i])
            translation.append(0.0)
            continue
        values = np.asarray(da.coords[dim].values, dtype=np.float64)
        if values.size >= 2 or da.coords[dim].encoding.get("spacing") is not None:
            step = coordinate_step(da, dim)
            if values[-1] < values[0]:
                raise OmeZarrError(
                    f"the coordinate of dimension {dim!r} is descending, which NGFF cannot "
                    f"express (scales are positive); use .sortby({dim!r}) first"
                )
        elif previous is not None:
            prev_scale, prev_shape = previous
            step = prev_scale[i] * max(1, round(prev_shape[i] / values.size))
        else:
            raise OmeZarrError(
                f"dimension {dim!r} has a single sample, so its spacing is unknown and no "
                f"NGFF scale can be written; record it with da[{dim!r}].encoding['spacing'] "
                "= step (opening an OME-Zarr image does this)"
            )
        scale.append(float(step))
        translation.append(float(values[0]))
    return scale, translation


def _default_chunks(da: xr.DataArray, axis_types: Sequence[str | None], chunks: Any) -> tuple:
    n_space = sum(t == "space" for t in axis_types) or 1
    edge = 128 if n_space >= 3 else 512
    out = []
    for dim, kind, n in zip(da.dims, axis_types, da.shape):
        if isinstance(chunks, Mapping) and dim in chunks:
            c = int(chunks[dim])
        elif isinstance(chunks, int) and kind == "space":
            c = chunks
        elif kind == "space":
            c = edge
        else:
            c = 1
        if c < 1:
            raise OptionError(f"the chunk size of dimension {dim!r} is {c}; it must be >= 1")
        out.append(max(1, min(c, n)))
    return tuple(out)


def _omero_for(da: xr.DataArray, axis_types: Sequence[str | None]) -> dict[str, Any] | None:
    omero = da.attrs.get("omero")
    omero = json.loads(json.dumps(omero)) if isinstance(omero, Mapping) else None
    if "channel" not in axis_types:
        return omero
    cdim = da.dims[list(axis_types).index("channel")]
    labels = (
        [str(v) for v in da.coords[cdim].values]
        if cdim in da.coords and da.coords[cdim].dtype.kind in "OUS"
        else None
    )
    if omero is None and labels is None:
        return None
    if omero is None:
        if np.dtype(da.dtype).kind in "iu":
            info = np.iinfo(da.dtype)
            lo, hi = float(info.min), float(info.max)
        else:
            lo, hi = 0.0, 1.0
        window = {"min": lo, "max": hi, "start": lo, "end": hi}
        omero = {"channels": [{"color": "FFFFFF", "window": window} for _ in range(da.sizes[cdim])]}
    if labels is not None and len(omero.get("channels", [])) == len(labels):
        for channel, label in zip(omero["channels"], labels):
            channel["label"] = label
    return omero


def _json_safe_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if k in _OME_ATTRS or not isinstance(k, str):
            continue
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, np.ndarray):
            v = v.tolist()
        try:
            json.dumps(v)
        except (TypeError, ValueError):
            continue
        out[k] = v
    return out


def _levels_of(
    obj: xr.DataArray | xr.DataTree, **pyramid_options: Any
) -> list[tuple[str, xr.DataArray]]:
    if isinstance(obj, xr.DataTree):
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
            levels.append((str(path), node.to_dataset()[variables[0]]))
        if not levels:
            raise OmeZarrError("the DataTree holds no image; one node per level is expected")
        return levels
    if pyramid_options.pop("pyramid"):
        tree = build_pyramid(obj, **pyramid_options)
        return _levels_of(tree)
    return [("0", obj)]


def _ngff_metadata(
    levels: Sequence[tuple[str, xr.DataArray]], version: str
) -> tuple[dict[str, Any], list[str | None]]:
    """The OME attributes (validated by ome-zarr-models) and the axis types."""
    from ome_zarr_models.common.coordinate_transformations import VectorScale, VectorTranslation

    if version == "0.5":
        from ome_zarr_models.v05.axes import Axis
        from ome_zarr_models.v05.image import ImageAttrs
        from ome_zarr_models.v05.multiscales import Dataset, Multiscale
    else:
        from ome_zarr_models.v04.axes import Axis  # type: ignore[assignment]
        from ome_zarr_models.v04.image import ImageAttrs  # type: ignore[assignment]
        from ome_zarr_models.v04.multiscales import Dataset, Multiscale  # type: ignore[assignment]

    base = levels[0][1]
    types = _axis_types(base)
    axes = []
    for dim, kind in zip(base.dims, types):
        unit = coordinate_unit(base, dim) if kind in ("space", "time") else None
        axes.append(Axis(name=str(dim), type=kind, unit=_ngff_unit(dim, unit)))
    datasets = []
    previous: tuple[Sequence[float], Sequence[int]] | None = None
    for path, da in levels:
        if da.dims != base.dims:
            raise OmeZarrError(
                f"level {path!r} has dims {da.dims!r} but level 0 has {base.dims!r}; "
                "all levels need the same dims in the same order"
            )
        scale, translation = _level_transform(da, types, previous)
        previous = (scale, da.shape)
        datasets.append(
            Dataset(
                path=path,
                coordinateTransformations=(
                    VectorScale.build(scale),
                    VectorTranslation.build(translation),
                ),
            )
        )
    name = str(base.name) if base.name is not None else None
    omero = _omero_for(base, types)
    try:
        ms_options: dict[str, Any] = {"version": "0.4"} if version == "0.4" else {}
        multiscale = Multiscale(axes=axes, datasets=tuple(datasets), name=name, **ms_options)
        extra: dict[str, Any] = {"omero": omero} if omero is not None else {}
        if version == "0.5":
            model = ImageAttrs(version="0.5", multiscales=[multiscale], **extra)
        else:
            model = ImageAttrs(multiscales=[multiscale], **extra)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise OmeZarrError(
            f"these dims {tuple(base.dims)!r} cannot be written as NGFF {version}: "
            f"{first.get('msg')}. NGFF wants 2-5 axes ordered (t, c, z, y, x) with 2 or 3 "
            "space axes last; transpose or rename the dims"
        ) from None
    return model.model_dump(mode="json", exclude_none=True, by_alias=True), types


def _is_url(store: Any) -> bool:
    return isinstance(store, str) and "://" in store and not store.startswith("file://")


def _local_path(store: Any) -> Path | None:
    if isinstance(store, Path):
        return store
    if isinstance(store, str) and not _is_url(store):
        return Path(store.removeprefix("file://"))
    return None


def _write_group(
    target: tuple[Any, str],
    levels: Sequence[tuple[str, xr.DataArray]],
    attrs: dict[str, Any],
    user_attrs: dict[str, Any],
    version: str,
    chunk_shape: tuple[int, ...],
    compressor: Any,
) -> None:
    import dask.array as dsa

    zarr_format: Literal[2, 3] = 3 if version == "0.5" else 2
    store, prefix = target
    group = zarr.open_group(store, path=prefix, mode="w", zarr_format=zarr_format)
    sources: list[Any] = []
    targets: list[Any] = []
    for path, da in levels:
        chunks = tuple(min(c, n) for c, n in zip(chunk_shape, da.shape))
        kwargs: dict[str, Any] = {}
        if compressor is not None:
            kwargs["compressors"] = compressor
        if zarr_format == 3:
            kwargs["dimension_names"] = [str(d) for d in da.dims]
        array = group.create_array(
            name=path, shape=da.shape, dtype=da.dtype, chunks=chunks, fill_value=0, **kwargs
        )
        if isinstance(da.data, dsa.Array):
            sources.append(da.data.rechunk(chunks))
            targets.append(array)
        else:
            _store_numpy(np.asarray(da.data), array, chunks)
    if sources:
        dsa.store(sources, targets, lock=False, compute=True)
    # metadata last: a store that failed above never looks like a valid image
    meta: dict[str, Any] = {"ome": attrs} if version == "0.5" else dict(attrs)
    if user_attrs:
        meta["xiso"] = {"attrs": user_attrs}
    group.attrs.update(meta)


def _store_numpy(data: np.ndarray, array: zarr.Array, chunks: tuple[int, ...]) -> None:
    """Write an in-memory array chunk by chunk from views, on a few threads.

    (``dask.array.from_array`` copies a numpy input into its chunks, which
    would double the memory of writing an in-memory image.)
    """
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    regions = [
        tuple(slice(i, min(i + c, n)) for i, c, n in zip(starts, chunks, data.shape))
        for starts in itertools.product(*(range(0, n, c) for n, c in zip(data.shape, chunks)))
    ]

    def write(region: tuple[slice, ...]) -> None:
        array[region] = data[region]

    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        for _ in pool.map(write, regions):
            pass


def _exists(store: Any) -> bool:
    """Whether anything at all is at ``store`` (an image or not)."""
    local = _local_path(store)
    if local is not None:
        return local.exists()
    if _is_url(store):
        import fsspec

        fs, path = fsspec.core.url_to_fs(store)
        return bool(fs.exists(path))
    return _store_keys(store, "") != []


def _store_keys(store: Any, prefix: str) -> list[str]:
    from zarr.core.sync import sync

    async def collect() -> list[str]:
        return [key async for key in store.list_prefix(prefix)]

    return sync(collect())


def to_ome_zarr(
    obj: xr.DataArray | xr.DataTree,
    store: Any,
    *,
    pyramid: bool = True,
    levels: int | None = None,
    version: str = "0.5",
    chunks: Any = None,
    compressor: Any = None,
    overwrite: bool = False,
    method: str = "mean",
    min_size: int = 32,
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
    levels, min_size, method
        Passed to :func:`xiso.pyramid`.
    version : {"0.5", "0.4"}
        NGFF 0.5 on zarr v3, or NGFF 0.4 on zarr v2.
    chunks : int or mapping, optional
        Chunk edge of the spatial dims (default 128 for 3-D, 512 for 2-D; other
        dims 1), the same at every level so chunks align with the pyramid.
    compressor : codec, optional
        A zarr codec (default: zarr's default, zstd).
    overwrite : bool, default False
        Replace an existing store; without it an existing target raises.

    Notes
    -----
    Local paths and fsspec URLs are written to a temporary sibling and moved
    into place at the end; a failure leaves the target as it was. A zarr store
    object is written in place with the OME metadata last, so a failed write
    never looks like a valid image.
    """
    if version not in NGFF_VERSIONS:
        raise OptionError(f"version={version!r} is not supported; use one of {NGFF_VERSIONS!r}")
    if isinstance(store, zarr.storage.LocalStore):
        if store.read_only:
            raise OmeZarrError(f"{store!r} is read-only; open it writable or write elsewhere")
        store = Path(store.root)
    elif _local_path(store) is None and not _is_url(store):
        store = _store_object(store)
    if not overwrite and _exists(store):
        raise _exists_error(store)
    if isinstance(obj, xr.DataArray) and pyramid and not hasattr(obj.data, "dask"):
        view_chunks = _default_chunks(obj, _axis_types(obj), chunks)
        obj = obj.copy(data=_numpy_as_dask(np.asarray(obj.data), view_chunks))
    pairs = _levels_of(obj, pyramid=pyramid, levels=levels, method=method, min_size=min_size)
    attrs, types = _ngff_metadata(pairs, version)
    base = pairs[0][1]
    chunk_shape = _default_chunks(base, types, chunks)
    user_attrs = _json_safe_attrs(base.attrs)
    write = lambda store_and_prefix: _write_group(  # noqa: E731
        store_and_prefix, pairs, attrs, user_attrs, version, chunk_shape, compressor
    )
    local = _local_path(store)
    if local is not None:
        _replace_local(local, write, overwrite)
    elif _is_url(store):
        _replace_fsspec(store, write, overwrite)
    else:
        _replace_in_store(store, write, overwrite)


def _exists_error(where: Any) -> StoreExistsError:
    return StoreExistsError(
        f"{where!r} already exists; pass overwrite=True to replace it, or choose another path"
    )


def _replace_local(target: Path, write: Any, overwrite: bool) -> None:
    """Write to a temporary sibling, then swap it in (rolled back on failure)."""
    target = target.absolute()
    if target.is_symlink():  # replace what the link points to, keep the link
        target = target.resolve()
    tmp = target.with_name(f".{target.name}.xiso-tmp-{uuid.uuid4().hex[:8]}")
    try:
        write((str(tmp), ""))
        if not target.exists():
            # fails on a non-empty directory that appeared meanwhile, never replaces it
            tmp.rename(target)
            return
        if not overwrite:  # created by someone else while we computed
            raise _exists_error(str(target))
        trash = target.with_name(f".{target.name}.xiso-old-{uuid.uuid4().hex[:8]}")
        target.rename(trash)
        try:
            tmp.rename(target)
        except BaseException:
            trash.rename(target)
            raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        if trash.is_dir() and not trash.is_symlink():
            shutil.rmtree(trash)
        else:
            trash.unlink(missing_ok=True)
    except OSError as err:  # the new image is in place; only the old copy is left
        warnings.warn(f"could not remove the replaced image at {trash}: {err}", stacklevel=3)


def _replace_fsspec(url: str, write: Any, overwrite: bool) -> None:
    """As :func:`_replace_local` on an fsspec filesystem (a move may be a copy)."""
    import fsspec

    fs, path = fsspec.core.url_to_fs(url)
    protocol = url.split("://", 1)[0]
    path = path.rstrip("/")
    parent, _, name = path.rpartition("/")
    tmp = f"{parent}/.{name}.xiso-tmp-{uuid.uuid4().hex[:8]}"
    trash = f"{parent}/.{name}.xiso-old-{uuid.uuid4().hex[:8]}"
    try:
        write((f"{protocol}://{tmp}", ""))
        existed = fs.exists(path)
        if existed and not overwrite:
            raise _exists_error(url)
        if existed:
            fs.mv(path, trash, recursive=True)
        try:
            fs.mv(tmp, path, recursive=True)
        except BaseException:
            if existed:
                fs.mv(trash, path, recursive=True)
            raise
    except BaseException:
        if fs.exists(tmp):
            fs.rm(tmp, recursive=True)
        raise
    if existed:
        try:
            fs.rm(trash, recursive=True)
        except OSError as err:  # the new image is in place; only the old copy is left
            warnings.warn(f"could not remove the replaced image at {trash}: {err}", stacklevel=3)


_ROOT_METADATA = ("zarr.json", ".zgroup", ".zattrs", ".zmetadata")


def _store_object(store: Any) -> Any:
    """An open zarr store for a store object (a dict becomes a MemoryStore)."""
    from zarr.core.sync import sync

    if isinstance(store, dict):
        store = zarr.storage.MemoryStore(store)
    if hasattr(store, "_ensure_open"):
        sync(store._ensure_open())
    return store


def _copy_key(store: Any, source: str, destination: str) -> None:
    from zarr.core.sync import sync

    value = sync(store.get(source, prototype=zarr.core.buffer.default_buffer_prototype()))
    sync(store.set(destination, value))


def _delete_keys(store: Any, keys: Any) -> None:
    from zarr.core.sync import sync

    for key in keys:
        sync(store.delete(key))


def _replace_in_store(store: Any, write: Any, overwrite: bool) -> None:
    """Write under a temporary prefix of a zarr store object, then swap the keys.

    The computation (where failures happen) only writes under the prefix (and
    root group metadata, if there was none), so the old image, which the
    computation may be reading, stays intact until it has succeeded. The swap
    backs the old keys up under a second prefix and restores them if it fails;
    it removes the root metadata first and writes it last, so mid-swap the
    store never looks like a valid image.
    """
    if getattr(store, "read_only", False):
        raise OmeZarrError(f"{store!r} is read-only; open it writable or write elsewhere")
    if not (
        getattr(store, "supports_listing", False) and getattr(store, "supports_deletes", False)
    ):
        if _store_keys(store, "") if getattr(store, "supports_listing", False) else True:
            raise OmeZarrError(
                f"{store!r} cannot list or delete keys, so xiso cannot write it safely unless "
                "it is empty; write to a new store (or a local path) instead"
            )
        write((store, ""))
        return
    existing = set(_store_keys(store, ""))
    prefix = f".xiso-tmp-{uuid.uuid4().hex[:8]}"
    try:
        write((store, prefix))
        outside = set(_store_keys(store, "")) - set(_store_keys(store, prefix + "/"))
        if not overwrite and outside - set(_ROOT_METADATA):  # appeared meanwhile
            raise _exists_error(store)
    except BaseException:
        _delete_keys(store, set(_store_keys(store, "")) - existing)
        raise
    backup = f".xiso-old-{uuid.uuid4().hex[:8]}"
    old = sorted(outside, key=lambda k: k not in _ROOT_METADATA)  # root metadata first
    new = sorted(_store_keys(store, prefix + "/"), key=lambda k: k.endswith(_ROOT_METADATA))
    try:
        for key in old:
            _copy_key(store, key, f"{backup}/{key}")
        _delete_keys(store, old)
        for key in sorted(new, key=lambda k: k[len(prefix) + 1 :] in _ROOT_METADATA):
            _copy_key(store, key, key[len(prefix) + 1 :])
    except BaseException:
        marks = (prefix + "/", backup + "/")
        _delete_keys(store, [k for k in _store_keys(store, "") if not k.startswith(marks)])
        for key in _store_keys(store, backup + "/"):
            _copy_key(store, key, key[len(backup) + 1 :])
        _delete_keys(store, _store_keys(store, prefix + "/"))
        _delete_keys(store, _store_keys(store, backup + "/"))
        raise
    _delete_keys(store, _store_keys(store, prefix + "/"))
    _delete_keys(store, _store_keys(store, backup + "/"))
