"""NGFF metadata <-> dims, coordinates, units, scale and translation (pure).

Nothing here touches a store: functions take the attributes of an image group
(a dict) or labelled levels and return models, vectors and coordinates. The
metadata is built with ome-zarr-models (NGFF 0.4 and 0.5), so what is written
validates. Reading checks it first against the plain form that xiso and most
writers write (:func:`plain_image_attrs`, a few microseconds and no imports);
metadata outside it (omero, paths to transforms, unusual axes) is validated by
ome-zarr-models, whose import with pydantic's models costs about 0.3 s: the
plain check accepts only what ome-zarr-models accepts, so what is refused is
the same either way (tests/io/test_ngff_plain.py compares the two).

What NGFF cannot say, xiso keeps in its own block of the group attributes,
``attributes["xiso"]`` (:data:`XISO_KEY`)::

    {"write_id": "<hex>",                  # the write that made the image
     "attrs": {...},                       # the user attrs of the image
     "coords": {                           # coordinates NGFF does not give back
        "c": {"values": [405, 488, 561], "dtype": "int64", "attrs": {...}},
        "t": {"values": ["2024-01-01T00:00:00.000000000", ...],
              "dtype": "datetime64[ns]"},
        "z": {"attrs": {"long_name": "depth"}},          # space axes: attrs only
        "wavelength": {"dims": ["c"], "values": [...], "dtype": "float64"}},
     "colors": "found"}                    # a label image's colours: xiso's, of the
                                           # values found (see labels.with_colors)

A dimension coordinate is recorded only when reading the NGFF metadata alone
would not give it back exactly (values and dtype); its attrs other than the
``type`` and ``units`` that NGFF axes hold are always recorded. Space axes
come from the NGFF transforms only. Values are JSON: numbers (non-finite
floats as ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), strings, datetimes as
ISO 8601 strings at the dtype's unit, timedeltas as integer counts of the
dtype's unit (``null`` for NaT).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Hashable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from .. import encodings
from ..axes import axis_role
from ..encodings import DOWNSCALING, SPACING
from ..errors import NonUniformSpacingError, OmeZarrError, XisoError
from ..labelled import partial_last_block, warn
from ..spacing import coordinate_step, coordinate_unit
from ..units import NGFF_UNITS as NGFF_UNITS  # re-exported: the unit names NGFF allows
from ..units import ngff_name

NGFF_VERSIONS = ("0.4", "0.5")
# keys of DataArray attrs that hold OME metadata rather than user attrs
OME_ATTRS = ("ngff_version", "omero")
# the group attribute that holds what xiso adds to NGFF (write id, user attrs, coordinates)
XISO_KEY = "xiso"
# DataArray encoding: the multiscale ``type`` (downscaling method) of the image it
# was read from, written again when a DataTree of levels is written
DOWNSCALING_TYPE = DOWNSCALING  # see xiso.encodings


# --------------------------------------------------------------------------
# parsing
# --------------------------------------------------------------------------
def parse_image_attrs(attrs: Mapping[str, Any], where: Any) -> tuple[str, Any]:
    """(NGFF version, validated image attributes) of an image group's attributes: those
    of :func:`plain_image_attrs`, else (omero, transforms by path, ...) ome-zarr-models'
    ``ImageAttrs``; both have the fields xiso reads."""
    if "ome" in attrs and isinstance(attrs["ome"], dict):
        raw: dict[str, Any] = dict(attrs["ome"])
        version = str(raw.get("version", "0.5"))
    elif "multiscales" in attrs:
        raw = {k: attrs[k] for k in ("multiscales", "omero") if k in attrs}
        # the model validation below reports multiscales that are no list of objects
        listed = raw["multiscales"]
        first = listed[0] if isinstance(listed, list) and listed else None
        version = str(first.get("version", "0.4")) if isinstance(first, dict) else "0.4"
    else:
        raise OmeZarrError(
            f"{where!r} is a zarr group but not an OME-Zarr image: its attributes have no "
            "'multiscales' (NGFF 0.4) or 'ome' (NGFF 0.5) entry; open the image group itself"
        )
    if version not in NGFF_VERSIONS:
        raise OmeZarrError(
            f"{where!r} declares NGFF version {version!r}; xiso reads {NGFF_VERSIONS!r}"
        )
    plain = plain_image_attrs(raw, version)
    if plain is not None:
        return version, plain
    import pydantic  # with ome-zarr-models: only for metadata outside the plain form

    if version == "0.5":
        from ome_zarr_models.v05.image import ImageAttrs as model
    else:
        from ome_zarr_models.v04.image import ImageAttrs as model  # type: ignore[assignment]
    try:
        return version, model.model_validate(raw)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise OmeZarrError(
            f"the OME-Zarr metadata of {where!r} is invalid: {first.get('msg')} at "
            f"{'/'.join(str(p) for p in first.get('loc', ()))}"
        ) from None


# the unit names NGFF lists for time axes (the others in NGFF_UNITS are lengths)
_TIME_UNITS = frozenset(
    u for u in NGFF_UNITS if u.endswith("second") or u in ("minute", "hour", "day")
)
_AXIS_UNITS = {
    "space": frozenset(NGFF_UNITS) - _TIME_UNITS,
    "time": _TIME_UNITS,
    "channel": frozenset(),
}
_MULTISCALE_KEYS = frozenset(
    ("axes", "datasets", "coordinateTransformations", "metadata", "name", "type", "version")
)


def _json(value: Any) -> bool:
    """Whether ``value`` is plain JSON (finite numbers, str keys)."""
    if value is None or isinstance(value, (str, bool, int)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json(v) for k, v in value.items())
    return False


def _plain_transforms(value: Any, ndim: int) -> list[SimpleNamespace] | None:
    """``[scale]`` or ``[scale, translation]`` with ``ndim`` finite numbers each,
    as objects with ``type`` and ``scale`` / ``translation``; None otherwise."""
    if not isinstance(value, list) or len(value) not in (1, 2):
        return None
    out = []
    for item, kind in zip(value, ("scale", "translation")):
        if not isinstance(item, dict) or item.keys() != {"type", kind} or item["type"] != kind:
            return None
        numbers = item[kind]
        if not isinstance(numbers, list) or len(numbers) != ndim:
            return None
        if not all(type(v) in (int, float) and math.isfinite(v) for v in numbers):
            return None  # bools, strings, NaN: left to ome-zarr-models
        out.append(SimpleNamespace(type=kind, **{kind: [float(v) for v in numbers]}))
    return out


def _plain_axes(value: Any) -> list[SimpleNamespace] | None:
    """NGFF axes of the plain form: 2 to 5, unique str names, types space (2
    or 3, last), time (at most one, first) and channel (at most one), units
    that NGFF lists for the type; None otherwise."""
    if not isinstance(value, list) or not 2 <= len(value) <= 5:
        return None
    axes = []
    for ax in value:
        if not isinstance(ax, dict) or not ax.keys() <= {"name", "type", "unit"}:
            return None
        name, kind, unit = ax.get("name"), ax.get("type"), ax.get("unit")
        if not isinstance(name, str) or not name or not isinstance(kind, str):
            return None
        if kind not in _AXIS_UNITS or ("unit" in ax and not isinstance(unit, str)):
            return None
        if "unit" in ax and unit not in _AXIS_UNITS[kind]:
            return None
        axes.append(SimpleNamespace(name=name, type=kind, unit=unit))
    kinds = [a.type for a in axes]
    spaces = kinds.count("space")
    if (
        len({a.name for a in axes}) != len(axes)
        or spaces not in (2, 3)
        or kinds[-spaces:] != ["space"] * spaces
        or kinds.count("time") > 1
        or kinds.count("channel") > 1
        or ("time" in kinds and kinds[0] != "time")
    ):
        return None
    return axes


def _plain_multiscale(value: Any, version: str) -> SimpleNamespace | None:
    if not isinstance(value, dict) or not value.keys() <= _MULTISCALE_KEYS:
        return None
    if "version" in value and (version != "0.4" or value["version"] != "0.4"):
        return None
    if not all(_json(value.get(k)) for k in ("metadata", "name", "type")):
        return None
    axes = _plain_axes(value.get("axes"))
    datasets = value.get("datasets")
    if axes is None or not isinstance(datasets, list) or not datasets:
        return None
    levels = []
    for dataset in datasets:
        if not isinstance(dataset, dict) or dataset.keys() != {"path", "coordinateTransformations"}:
            return None
        transforms = _plain_transforms(dataset["coordinateTransformations"], len(axes))
        if not isinstance(dataset["path"], str) or transforms is None:
            return None
        levels.append(SimpleNamespace(path=dataset["path"], coordinateTransformations=transforms))
    for finer, coarser in itertools.pairwise(levels):  # NGFF: from the finest level on
        a, b = finer.coordinateTransformations[0].scale, coarser.coordinateTransformations[0].scale
        if any(x > y for x, y in zip(a, b)):
            return None
    top = value.get("coordinateTransformations")
    if top is not None:
        top = _plain_transforms(top, len(axes))
        if top is None:
            return None
    return SimpleNamespace(
        axes=axes,
        datasets=tuple(levels),
        coordinateTransformations=top,
        metadata=value.get("metadata"),
        name=value.get("name"),
        type=value.get("type"),
    )


def plain_image_attrs(raw: Mapping[str, Any], version: str) -> SimpleNamespace | None:
    """The NGFF image attributes ``raw`` (the ``ome`` block of 0.5, the
    ``multiscales`` of 0.4) as an object with the fields of ome-zarr-models'
    ``ImageAttrs`` that xiso reads, when they have the plain form: no
    ``omero``, numbers given inline, axes of the types and units NGFF names.
    None for anything else, which ome-zarr-models then validates: this
    accepts nothing that it refuses, and returns the same values.
    """
    if "omero" in raw:
        return None
    if version == "0.5":
        if raw.get("version") != "0.5" or not _json(dict(raw)):
            return None
    elif raw.keys() != {"multiscales"}:
        return None
    listed = raw.get("multiscales")
    if not isinstance(listed, list) or not listed:
        return None
    multiscales = [_plain_multiscale(ms, version) for ms in listed]
    if any(ms is None for ms in multiscales):
        return None
    return SimpleNamespace(multiscales=multiscales, omero=None)


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
    if hasattr(model, "model_dump"):  # a pydantic model (pydantic is imported on first use)
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
                else pd.Index(np.arange(n))
            )
            coords[dims[i]] = xr.Variable(dims[i], values, cattrs)
            continue
        # a pandas Index: xarray keeps it as the index (given a numpy array, it
        # imports pint, dask and sparse where installed, to check the type)
        values = pd.Index(translation[i] + np.arange(n) * scale[i])
        # the NGFF scale, so that a single-sample axis keeps its spacing
        coords[dims[i]] = xr.Variable(dims[i], values, cattrs, encoding={SPACING: scale[i]})
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
def axis_types(da: xr.DataArray) -> list[str | None]:
    """The NGFF axis type of every dim of ``da`` (see :func:`xiso.axes.axis_role`)."""
    return [axis_role(d, da.coords[d].attrs if d in da.coords else {}) for d in da.dims]


def ngff_unit(dim: Hashable, text: str | None) -> str | None:
    """The NGFF name of a unit: 'um', 'µm' and 'micron' -> 'micrometer'."""
    if text is None:
        return None
    name = ngff_name(text)
    if name is not None:
        return name
    raise OmeZarrError(
        f"the unit {text!r} of dimension {dim!r} is not one NGFF can store; use one of its "
        "unit names such as 'micrometer', 'nanometer' or 'second'"
    )


def _numeric_transform(
    da: xr.DataArray, i: int, previous: tuple[Sequence[float], Sequence[int]] | None
) -> tuple[float, float]:
    """(scale, translation) of dim ``i`` from its numeric coordinate."""
    dim = da.dims[i]
    values = np.asarray(da.coords[dim].values, dtype=np.float64)
    if values.size >= 2 or encodings.spacing(da.coords[dim]) is not None:
        try:
            step = coordinate_step(da, dim)
        except NonUniformSpacingError as err:
            raise _irregular(dim, values, err) from None
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
    return float(step), float(values[0])


def _irregular(dim: Hashable, values: np.ndarray, err: Exception) -> NonUniformSpacingError:
    """The error for a coordinate NGFF cannot scale: the hint of
    :func:`~xiso.spacing.coordinate_step` (``spacing=``) does not apply here."""
    partial = partial_last_block(dim, values)
    if partial is not None:
        return partial
    return NonUniformSpacingError(
        f"{err.args[0].split(';')[0]}; NGFF needs a uniform scale per axis: resample "
        f"{dim!r} onto a regular grid before writing"
    )


def level_transform(
    da: xr.DataArray,
    types: Sequence[str | None],
    previous: tuple[Sequence[float], Sequence[int]] | None,
) -> tuple[list[float], list[float]]:
    """NGFF scale and translation of one level, from its coordinates.

    ``previous`` is the (scale, shape) of the level above, used for a dim that
    a pyramid step reduced to a single sample without a recorded spacing. A
    dim other than space whose coordinate is no uniform ascending number line
    (labels, datetimes, irregular times) gets the identity; its values go to
    the xiso block (see :func:`coordinate_records`).
    """
    scale: list[float] = []
    translation: list[float] = []
    for i, dim in enumerate(da.dims):
        identity = (1.0 if previous is None else previous[0][i], 0.0)
        numeric = dim in da.coords and da.coords[dim].dtype.kind in "iuf"
        if types[i] == "channel" or not numeric:
            step, origin = identity
        elif types[i] == "space":
            step, origin = _numeric_transform(da, i, previous)
        else:
            try:
                step, origin = _numeric_transform(da, i, previous)
            except XisoError:
                step, origin = identity
        scale.append(step)
        translation.append(origin)
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


# --------------------------------------------------------------------------
# JSON: attrs and coordinate values
# --------------------------------------------------------------------------
def _plain(value: Any, path: str, problems: list[str]) -> Any:
    """``value`` as JSON types when it has an exact JSON form; else noted in ``problems``."""
    if isinstance(value, (np.generic, np.ndarray)) and (
        value.dtype.kind in "biuU" or (value.dtype.kind == "f" and value.dtype.itemsize <= 8)
    ):
        value = value.tolist()
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        problems.append(f"{path} ({value!r}, which JSON has no number for)")
        return None
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{path}[{i}]", problems) for i, v in enumerate(value)]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                problems.append(f"{path} (key {k!r} is a {type(k).__name__}, not a str)")
                continue
            out[k] = _plain(v, f"{path}[{k!r}]", problems)
        return out
    kind = type(value)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    if isinstance(value, (np.generic, np.ndarray)):
        name = f"{name} of {value.dtype}"
    problems.append(f"{path} (a {name})")
    return None


def json_attrs(attrs: Mapping[Any, Any], where: str, skip: Sequence[str] = ()) -> dict[str, Any]:
    """The attrs of ``where`` as JSON types; refused when one has no exact JSON form.

    numpy scalars and arrays of numbers, booleans or strings become numbers,
    booleans, strings and lists, tuples become lists; keys in ``skip`` are left
    out. Anything else (a datetime, a set, NaN, an object, a non-str key) is an
    :class:`OmeZarrError` naming every such attr, so nothing is lost unseen.
    """
    problems: list[str] = []
    bad: list[Any] = []
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if key in skip:
            continue
        before = len(problems)
        if not isinstance(key, str):
            problems.append(f"{key!r} (its name is a {type(key).__name__}, not a str)")
        else:
            out[key] = _plain(value, repr(key), problems)
        if len(problems) > before:
            bad.append(key)
    if problems:
        raise OmeZarrError(
            f"the attrs of {where} cannot be stored as JSON: {'; '.join(problems)}. Convert "
            "each to a str, number, bool, list or dict (value.isoformat() for a datetime, "
            f"sorted(value) for a set), or drop it (e.g. .attrs.pop({bad[0]!r})) before writing"
        )
    return out


def _dtype_text(dtype: np.dtype) -> str:
    """A dtype as text that ``np.dtype`` reads back: 'int64', 'datetime64[ns]', '<U5'."""
    return dtype.str if dtype.kind in "US" else dtype.name


def encode_values(name: Hashable, values: np.ndarray) -> dict[str, Any]:
    """``{"values": [...], "dtype": ...}`` of a coordinate: flat JSON values that
    :func:`decode_values` turns back into the same array."""
    values = np.asarray(values)
    flat = values.reshape(-1)
    kind = values.dtype.kind
    items: list[Any] | None = None
    if kind in "biuU" or (kind == "f" and values.dtype.itemsize <= 8):
        items = flat.tolist()
        if kind == "f":
            items = [v if math.isfinite(v) else _NONFINITE[str(v)] for v in items]
    elif kind == "M" and np.datetime_data(values.dtype)[0] != "generic":
        unit: Any = np.datetime_data(values.dtype)[0]
        items = np.datetime_as_string(flat, unit=unit).tolist()
    elif kind == "m" and np.datetime_data(values.dtype)[0] != "generic":
        counts = flat.astype(np.int64).tolist()
        items = [None if nat else n for nat, n in zip(np.isnat(flat).tolist(), counts)]
    elif kind == "O" and all(isinstance(v, str) for v in flat):
        items = [str(v) for v in flat]
    if items is None:
        raise OmeZarrError(
            f"the coordinate {name!r} has dtype {values.dtype}, whose values xiso cannot "
            "store in the OME-Zarr metadata (it stores numbers, booleans, strings, "
            f"datetimes and timedeltas); convert it or drop it (.drop_vars({name!r})) "
            "before writing"
        )
    return {"values": items, "dtype": _dtype_text(values.dtype)}


_NONFINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def decode_values(record: Mapping[str, Any], shape: tuple[int, ...]) -> np.ndarray:
    """The array that :func:`encode_values` stored; ValueError or TypeError if it
    does not parse or does not have ``shape``."""
    dtype = np.dtype(str(record["dtype"]))
    items = record["values"]
    if not isinstance(items, list):
        raise TypeError(f"its values are a {type(items).__name__}, not a list")
    if len(items) != math.prod(shape):
        raise ValueError(f"it has {len(items)} values for shape {shape}")
    if dtype.kind == "O":
        if not all(isinstance(v, str) for v in items):
            raise TypeError("its object values are not all strings")
        values = np.empty(len(items), dtype=object)
        values[:] = items
    elif dtype.kind == "m":
        counts = [np.iinfo(np.int64).min if v is None else int(v) for v in items]
        values = np.array(counts, dtype=np.int64).astype(dtype)
    elif dtype.kind == "f":
        values = np.array([float(v) if isinstance(v, str) else v for v in items], dtype=dtype)
    elif dtype.kind in "biuUM":
        values = np.array(items, dtype=dtype)
    else:
        raise TypeError(f"dtype {dtype} is not one xiso stores")
    return values.reshape(shape)


def _factors(scales: Sequence[Sequence[float]]) -> list[list[float | int]]:
    """Per level, its scale over the previous level's (ones for level 0), whole
    numbers as ints."""
    out: list[list[float | int]] = []
    for k, scale in enumerate(scales):
        row: list[float | int] = []
        for i, s in enumerate(scale):
            ratio = 1.0 if k == 0 else s / scales[k - 1][i]
            whole = round(ratio)
            row.append(whole if math.isclose(ratio, whole, rel_tol=1e-9) else ratio)
        out.append(row)
    return out


def downscaling(
    method: str | None,
    levels: Sequence[tuple[str, xr.DataArray]],
    scales: Sequence[Sequence[float]],
) -> tuple[Any, dict[str, Any]]:
    """The multiscale ``type`` and ``metadata`` fields NGFF defines.

    ``type`` is the reduction (``"mean"``, ``"mode"``...) when the caller
    knows it, else the one recorded in the levels' encoding when they were
    read (:data:`DOWNSCALING_TYPE`), else None (left out). ``metadata``
    follows the NGFF example (``description``, ``method``, ``version``,
    ``kwargs``) and adds ``factors``: per level, its scale over the previous
    level's, in axis order.
    """
    from .. import __version__

    metadata: dict[str, Any] = {
        "description": "block reduction by whole factors per axis (factors: each level "
        "relative to the previous one, in axis order)",
    }
    if method is not None:
        kind: Any = method
        metadata.update(method="xiso.pyramid", version=__version__, kwargs={"method": method})
    else:
        recorded = {json.dumps(da.encoding.get(DOWNSCALING_TYPE)) for _, da in levels}
        kind = json.loads(recorded.pop()) if len(recorded) == 1 else None
        metadata.update(method="xiso.to_ome_zarr", version=__version__)
    metadata["factors"] = _factors(scales)
    return kind, metadata


def image_metadata(
    levels: Sequence[tuple[str, xr.DataArray]], version: str, *, method: str | None = None
) -> tuple[dict[str, Any], list[str | None]]:
    """The OME attributes (validated by ome-zarr-models) and the axis types of ``levels``.

    ``method`` is the reduction that made the levels, when known (it becomes
    the multiscale ``type``, see :func:`downscaling`). An unnamed image is
    named ``"image"``, as :func:`xiso.pyramid` names it (NGFF's strict schema
    asks for a name).

    The attributes are built as plain JSON; when they have the plain form
    that :func:`plain_image_attrs` checks (no ``omero``, axes NGFF names),
    they are returned as they are, which ome-zarr-models would accept and dump
    the same (tests/io/test_ngff_plain.py compares the two), without importing
    it and pydantic (about 0.3 s of a whole conversion). Anything else is
    built and validated by ome-zarr-models.
    """
    base = levels[0][1]
    types = axis_types(base)
    axes: list[dict[str, Any]] = []
    for dim, kind in zip(base.dims, types):
        unit = coordinate_unit(base, dim) if kind in ("space", "time") else None
        axis = {"name": str(dim), "type": kind, "unit": ngff_unit(dim, unit)}
        axes.append({k: v for k, v in axis.items() if v is not None})
    datasets = []
    scales = []
    previous: tuple[Sequence[float], Sequence[int]] | None = None
    for path, da in levels:
        if da.dims != base.dims:
            raise OmeZarrError(
                f"level {path!r} has dims {da.dims!r} but level 0 has {base.dims!r}; "
                "all levels need the same dims in the same order"
            )
        scale, translation = level_transform(da, types, previous)
        previous = (scale, da.shape)
        scales.append(scale)
        transforms = [
            {"type": "scale", "scale": [float(v) for v in scale]},
            {"type": "translation", "translation": [float(v) for v in translation]},
        ]
        datasets.append({"path": path, "coordinateTransformations": transforms})
    name = str(base.name) if base.name is not None else "image"
    kind, metadata = downscaling(method, levels, scales)
    multiscale: dict[str, Any] = {
        "axes": axes,
        "datasets": datasets,
        "metadata": json.loads(json.dumps(metadata)),
        "name": name,
    }
    if kind is not None:
        multiscale["type"] = kind
    if version == "0.5":
        plain: dict[str, Any] = {"version": "0.5", "multiscales": [multiscale]}
    else:
        plain = {"multiscales": [{**multiscale, "version": "0.4"}]}
    omero = omero_for(base, types)
    if omero is None and plain_image_attrs(plain, version) is not None:
        return plain, types
    return _validated_image_metadata(multiscale, kind, omero, version, base.dims), types


def _validated_image_metadata(
    multiscale: Mapping[str, Any],
    kind: Any,
    omero: dict[str, Any] | None,
    version: str,
    dims: tuple[Hashable, ...],
) -> dict[str, Any]:
    """The OME attributes of :func:`image_metadata` built by ome-zarr-models
    (with pydantic): for metadata outside the plain form, and the errors."""
    import pydantic
    from ome_zarr_models.common.coordinate_transformations import VectorScale, VectorTranslation

    if version == "0.5":
        from ome_zarr_models.v05.axes import Axis
        from ome_zarr_models.v05.image import ImageAttrs
        from ome_zarr_models.v05.multiscales import Dataset, Multiscale
    else:
        from ome_zarr_models.v04.axes import Axis  # type: ignore[assignment]
        from ome_zarr_models.v04.image import ImageAttrs  # type: ignore[assignment]
        from ome_zarr_models.v04.multiscales import Dataset, Multiscale  # type: ignore[assignment]

    axes = [
        Axis(name=a["name"], type=a.get("type"), unit=a.get("unit")) for a in multiscale["axes"]
    ]
    datasets = []
    for dataset in multiscale["datasets"]:
        scale, translation = dataset["coordinateTransformations"]
        datasets.append(
            Dataset(
                path=dataset["path"],
                coordinateTransformations=(
                    VectorScale.build(scale["scale"]),
                    VectorTranslation.build(translation["translation"]),
                ),
            )
        )
    try:
        ms_options: dict[str, Any] = {"version": "0.4"} if version == "0.4" else {}
        if kind is not None:
            ms_options["type"] = kind
        model_ms = Multiscale(
            axes=axes,
            datasets=tuple(datasets),
            name=multiscale["name"],
            metadata=multiscale["metadata"],
            **ms_options,
        )
        extra: dict[str, Any] = {"omero": omero} if omero is not None else {}
        if version == "0.5":
            model = ImageAttrs(version="0.5", multiscales=[model_ms], **extra)
        else:
            model = ImageAttrs(multiscales=[model_ms], **extra)
    except pydantic.ValidationError as err:
        first = err.errors()[0]
        raise OmeZarrError(
            f"these dims {tuple(dims)!r} cannot be written as NGFF {version}: "
            f"{first.get('msg')}. NGFF wants 2-5 axes ordered (t, c, z, y, x) with 2 or 3 "
            "space axes last; transpose or rename the dims"
        ) from None
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)


# --------------------------------------------------------------------------
# coordinates NGFF cannot hold
# --------------------------------------------------------------------------
def _same(a: xr.Variable, b: xr.Variable) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a.values, b.values))


def coordinate_records(
    base: xr.DataArray, ome: Mapping[str, Any], version: str, types: Sequence[str | None]
) -> dict[str, dict[str, Any]]:
    """What the xiso block records about the coordinates of ``base`` (level 0).

    A dimension coordinate of an axis other than space is recorded with its
    values and dtype when reading ``ome`` alone would not give it back
    exactly; any dimension coordinate with its attrs other than the ``type``
    and ``units`` NGFF holds. A coordinate that is no dimension is recorded
    with its dims, values and attrs, unless it lies along a space axis (then
    :class:`OmeZarrError`: its values would differ per level).
    """
    group = {"ome": dict(ome)} if version == "0.5" else dict(ome)
    _, model = parse_image_attrs(group, "the image being written")
    _, ngff = level_coords(model, 0, base.shape, "the image being written")
    records: dict[str, dict[str, Any]] = {}
    for name, coord in base.coords.items():
        var = coord.variable
        where = f"the coordinate {name!r}"
        record: dict[str, Any] = {}
        if name in base.dims:
            kind = types[list(base.dims).index(name)]
            known = ngff[str(name)]
            if kind != "space" and not _same(var, known):
                record.update(encode_values(name, var.values))
            extra = json_attrs(var.attrs, where, skip=tuple(known.attrs))
        else:
            along = [d for d in var.dims if types[list(base.dims).index(d)] == "space"]
            if along:
                raise OmeZarrError(
                    f"{where} lies along the space dims {tuple(along)!r}, which NGFF holds "
                    f"as scale and translation only; drop it (.drop_vars({name!r})) or make "
                    "it a dimension coordinate before writing"
                )
            record["dims"] = [str(d) for d in var.dims]
            record.update(encode_values(name, var.values))
            extra = json_attrs(var.attrs, where)
        if extra:
            record["attrs"] = extra
        if record:
            records[str(name)] = record
    return records


def _restored(
    name: str,
    record: Any,
    sizes: Mapping[str, int],
    coords: Mapping[Hashable, xr.Variable],
) -> xr.Variable:
    """The coordinate ``record`` describes; ValueError, TypeError or KeyError if it
    does not fit the image."""
    if not isinstance(record, Mapping):
        raise TypeError(f"it is a {type(record).__name__}, not an object")
    attrs = record.get("attrs", {})
    if not isinstance(attrs, Mapping):
        raise TypeError(f"its attrs are a {type(attrs).__name__}, not an object")
    if "dims" not in record:  # a dimension coordinate
        if name not in coords:
            raise KeyError(f"the image has no dimension {name!r}")
        known = coords[name]
        if "values" not in record:
            # a shallow copy keeps the pandas Index the reader made (``known.data``
            # would be numpy, and xarray imports pint to check it; see level_coords)
            restored = known.copy(deep=False)
            restored.attrs = {**known.attrs, **attrs}
            return restored
        if known.attrs.get("type") == "space":
            raise ValueError("the values of a space axis come from the NGFF transforms")
        values = decode_values(record, known.shape)
        return xr.Variable(known.dims, values, {**known.attrs, **attrs})
    dims = record["dims"]
    if not isinstance(dims, list) or any(d not in sizes for d in dims):
        raise KeyError(f"its dims {dims!r} are not among the image dims {list(sizes)!r}")
    values = decode_values(record, tuple(sizes[d] for d in dims))
    return xr.Variable(tuple(dims), values, dict(attrs))


def restore_coords(
    coords: Mapping[Hashable, xr.Variable],
    group_attrs: Mapping[str, Any],
    dims: Sequence[str],
    shape: Sequence[int],
    where: Any,
) -> dict[Hashable, xr.Variable]:
    """``coords`` (read from NGFF) with what the xiso block records (see
    :func:`coordinate_records`). A record that does not fit the image (edited
    by another tool, a level of another size) is left out with an
    :class:`XisoWarning`, and the NGFF coordinate stays."""
    stored = group_attrs.get(XISO_KEY)
    records = stored.get("coords") if isinstance(stored, Mapping) else None
    out = dict(coords)
    if not isinstance(records, Mapping):
        return out
    sizes = dict(zip(dims, shape))
    for name, record in records.items():
        try:
            out[name] = _restored(str(name), record, sizes, coords)
        except (ValueError, TypeError, KeyError) as err:
            reason = err.args[0] if isinstance(err, KeyError) and err.args else err
            warn(
                f"the coordinate {name!r} that xiso stored in {where!r} does not fit the "
                f"image and is left out ({reason}); the store was changed by another tool"
            )
    return out


def group_attributes(
    ome: Mapping[str, Any],
    user_attrs: Mapping[str, Any],
    version: str,
    write_id: str,
    coords: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The attributes of the image group: OME metadata (under ``ome`` in 0.5, at the
    top in 0.4) and xiso's own block (write id, user attrs, coordinates)."""
    attrs: dict[str, Any] = {"ome": dict(ome)} if version == "0.5" else dict(ome)
    xiso: dict[str, Any] = {"write_id": write_id}
    if user_attrs:
        xiso["attrs"] = dict(user_attrs)
    if coords:
        xiso["coords"] = dict(coords)
    attrs[XISO_KEY] = xiso
    return attrs
