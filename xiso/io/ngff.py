"""NGFF metadata <-> dims, coordinates, units, scale and translation (pure).

Nothing here touches a store: functions take the attributes of an image group
(a dict) or labelled levels and return models, vectors and coordinates. The
metadata is parsed and built with ome-zarr-models (NGFF 0.4 and 0.5), so what
is written validates.
"""

from __future__ import annotations

import json
import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import pydantic
import xarray as xr

from ..errors import OmeZarrError, XisoError
from ..spacing import coordinate_step, coordinate_unit, spatial_dims, unit_registry

NGFF_VERSIONS = ("0.4", "0.5")
_TIME_NAMES = {"t", "time"}
_CHANNEL_NAMES = {"c", "ch", "channel", "channels"}
# keys of DataArray attrs that hold OME metadata rather than user attrs
OME_ATTRS = ("ngff_version", "omero")
# the group attribute that holds what xiso adds to NGFF (user attrs, write id)
XISO_KEY = "xiso"

# the unit names the NGFF specification lists for space and time axes
NGFF_UNITS = (
    "angstrom attometer centimeter decimeter exameter femtometer foot gigameter hectometer "
    "inch kilometer megameter meter micrometer mile millimeter nanometer parsec petameter "
    "picometer terameter yard yoctometer yottameter zeptometer zettameter "
    "attosecond centisecond day decisecond exasecond femtosecond gigasecond hectosecond hour "
    "kilosecond megasecond microsecond millisecond minute nanosecond petasecond picosecond "
    "second terasecond yoctosecond yottasecond zeptosecond zettasecond"
).split()


# --------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------
def parse_image_attrs(attrs: Mapping[str, Any], where: Any) -> tuple[str, Any]:
    """(NGFF version, validated ome-zarr-models ImageAttrs) of an image group's attributes."""
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


def vectors(transforms: Any, ndim: int, where: str) -> tuple[np.ndarray, np.ndarray]:
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


def level_index(datasets: Sequence[Any], level: int | str, where: Any) -> int:
    """The position of ``level`` (an index or a dataset path) among ``datasets``."""
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


def to_plain(model: Any) -> Any:
    """A pydantic model (or JSON-able object) as plain JSON types."""
    if isinstance(model, pydantic.BaseModel):
        return model.model_dump(mode="json", exclude_none=True, by_alias=True)
    return json.loads(json.dumps(model))


def channel_labels(omero: Mapping[str, Any] | None) -> list[str] | None:
    """The omero channel labels, when every channel has one."""
    if not omero or not isinstance(omero.get("channels"), list):
        return None
    labels = [c.get("label") if isinstance(c, dict) else None for c in omero["channels"]]
    if not labels or any(not isinstance(lb, str) or not lb for lb in labels):
        return None
    return [str(lb) for lb in labels]


def level_coords(
    attrs_model: Any, index: int, shape: Sequence[int], where: Any
) -> tuple[list[str], dict[Hashable, xr.Variable]]:
    """Dims and coordinates of level ``index`` with ``shape``.

    ``coord = translation + i * scale`` with the dataset and multiscale
    transforms composed; attrs ``units`` and ``type`` from the axes; the NGFF
    scale recorded as the coordinate's spacing encoding (so a one-sample axis
    keeps it); a channel axis holds the omero labels when there are some.
    """
    ms = attrs_model.multiscales[0]
    axes = list(ms.axes)
    ndim = len(axes)
    dataset = ms.datasets[index]
    scale, translation = vectors(dataset.coordinateTransformations, ndim, f"level {dataset.path!r}")
    g_scale, g_translation = vectors(ms.coordinateTransformations, ndim, "multiscale")
    scale, translation = g_scale * scale, g_scale * translation + g_translation
    for ax, s in zip(axes, scale):
        if not np.isfinite(s) or s <= 0:
            raise OmeZarrError(
                f"level {dataset.path!r} of {where!r} has scale {float(s)!r} for axis "
                f"{ax.name!r}; NGFF scales must be positive"
            )
    dims = [str(a.name) for a in axes]
    omero = getattr(attrs_model, "omero", None)
    labels = channel_labels(to_plain(omero) if omero is not None else None)
    coords: dict[Hashable, xr.Variable] = {}
    for i, (ax, n) in enumerate(zip(axes, shape)):
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
    return dims, coords


def image_attrs_of(group_attrs: Mapping[str, Any], version: str, attrs_model: Any) -> dict:
    """The DataArray attrs of an image: user attrs stored by xiso, NGFF version, omero."""
    stored: Any = group_attrs.get(XISO_KEY, {})
    user_attrs = dict(stored.get("attrs", {})) if isinstance(stored, dict) else {}
    attrs: dict[str, Any] = {**user_attrs, "ngff_version": version}
    omero = getattr(attrs_model, "omero", None)
    if omero is not None:
        attrs["omero"] = to_plain(omero)
    return attrs


def image_name(attrs_model: Any) -> str | None:
    """The multiscale name as a DataArray name (xarray names cannot hold '/')."""
    name = attrs_model.multiscales[0].name
    name = name.strip("/") if isinstance(name, str) else None
    return name.replace("/", "_") if name else None


# --------------------------------------------------------------------------
# building
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


def axis_types(da: xr.DataArray) -> list[str | None]:
    """The NGFF axis type of every dim of ``da``."""
    try:
        spatial: Sequence[Hashable] = spatial_dims(da)
    except XisoError:
        spatial = ()
    return [_axis_type(da, d, spatial) for d in da.dims]


def ngff_unit(dim: Hashable, text: str | None) -> str | None:
    """The NGFF name of a unit: 'um', 'µm' and 'micron' -> 'micrometer'."""
    if text is None:
        return None
    ureg = unit_registry()
    try:
        unit = ureg.Unit(text)
    except Exception:
        unit = None
    if unit is not None:
        if f"{unit}" in NGFF_UNITS:
            return f"{unit}"
        for name in NGFF_UNITS:
            candidate = ureg.Unit(name)
            if candidate.dimensionality == unit.dimensionality and math.isclose(
                ureg.Quantity(1, unit).to(candidate).magnitude, 1.0, rel_tol=1e-12
            ):
                return name
    raise OmeZarrError(
        f"the unit {text!r} of dimension {dim!r} is not one NGFF can store; use one of its "
        "unit names such as 'micrometer', 'nanometer' or 'second'"
    )


def level_transform(
    da: xr.DataArray,
    types: Sequence[str | None],
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
        if types[i] == "channel" or not numeric:
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


def omero_for(da: xr.DataArray, types: Sequence[str | None]) -> dict[str, Any] | None:
    """The omero block of an image: the one it carries, with channel labels from its coords."""
    omero = da.attrs.get("omero")
    omero = json.loads(json.dumps(omero)) if isinstance(omero, Mapping) else None
    if "channel" not in types:
        return omero
    cdim = da.dims[list(types).index("channel")]
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


def json_safe_attrs(attrs: Mapping[Any, Any]) -> dict[str, Any]:
    """The user attrs of an image that JSON can hold."""
    out: dict[str, Any] = {}
    for k, v in attrs.items():
        if k in OME_ATTRS or not isinstance(k, str):
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


def image_metadata(
    levels: Sequence[tuple[str, xr.DataArray]], version: str
) -> tuple[dict[str, Any], list[str | None]]:
    """The OME attributes (validated by ome-zarr-models) and the axis types of ``levels``."""
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
    types = axis_types(base)
    axes = []
    for dim, kind in zip(base.dims, types):
        unit = coordinate_unit(base, dim) if kind in ("space", "time") else None
        axes.append(Axis(name=str(dim), type=kind, unit=ngff_unit(dim, unit)))
    datasets = []
    previous: tuple[Sequence[float], Sequence[int]] | None = None
    for path, da in levels:
        if da.dims != base.dims:
            raise OmeZarrError(
                f"level {path!r} has dims {da.dims!r} but level 0 has {base.dims!r}; "
                "all levels need the same dims in the same order"
            )
        scale, translation = level_transform(da, types, previous)
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
    omero = omero_for(base, types)
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


def group_attributes(
    ome: Mapping[str, Any], user_attrs: Mapping[str, Any], version: str, write_id: str
) -> dict[str, Any]:
    """The attributes of the image group: OME metadata (under ``ome`` in 0.5, at the
    top in 0.4) and xiso's own block (user attrs, the id of this write)."""
    attrs: dict[str, Any] = {"ome": dict(ome)} if version == "0.5" else dict(ome)
    xiso: dict[str, Any] = {"write_id": write_id}
    if user_attrs:
        xiso["attrs"] = dict(user_attrs)
    attrs[XISO_KEY] = xiso
    return attrs
