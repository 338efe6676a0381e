"""NGFF label images: checks, levels and metadata (no store access).

An NGFF image group may hold label images (segmentations) below it::

    image.ome.zarr/
        0/, 1/, ...                  the image levels
        labels/                      attributes: "labels": ["nuclei", ...]
            nuclei/                  a multiscale image with "image-label" metadata
                0/, 1/, ...          one level per image level, on the image's grid

In NGFF 0.5 the ``labels`` list and the ``image-label`` block live under the
``ome`` attribute, in 0.4 at the top of the attributes. A label image read by
xiso carries its ``image-label`` block as ``attrs["image-label"]``
(:data:`IMAGE_LABEL`): that is the marker :func:`xiso.labelled.looks_like_labels`
checks, so reducing it with ``mean`` warns, and writing it again writes a
label image (its ``colors`` and ``properties`` kept).

Label levels are checked here against the image's levels (:func:`check_grid`)
and made by :func:`xiso.compose.label_pyramid`: each level of the label is
the previous one reduced with ``mode`` by the factors that took the image
from its previous level to this one (:func:`level_factors`), so the two
pyramids share their grids.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from ..errors import DtypeError, OmeZarrError
from . import ngff

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "BACKGROUND",
    "IMAGE_LABEL",
    "LABELS",
    "LISTED_COLORS",
    "block_values",
    "colors_given",
    "found_colors",
    "label_color",
    "with_colors",
    "check_grid",
    "image_label_metadata",
    "image_label_of",
    "is_label_image",
    "label_levels",
    "label_name",
    "label_names",
    "level_factors",
    "labels_attributes",
    "labels_group_files",
    "with_image_label",
]

# the group below an image that lists its label images
LABELS = "labels"
# the NGFF key of a label image's metadata, and the DataArray attr that marks a label image
IMAGE_LABEL = "image-label"
# value 0, the background by convention (napari, ome-zarr-py), drawn transparent
BACKGROUND: tuple[dict[str, Any], ...] = ({"label-value": 0, "rgba": [0, 0, 0, 0]},)
# a label image that names no colours gets one for each value found in its level
# 0 as it is written (see found_colors), up to this many values; napari draws a
# label without a listed colour transparent, and the strict NGFF schemas
# require ``colors``. A segmentation with more values gets none listed (valid
# NGFF; viewers use their own colours), so that its metadata stays small.
LISTED_COLORS = 4096
# xiso's mark of colours it listed for the values it found (see with_colors)
FOUND = "found"
# the dtypes NGFF allows for label images
LABEL_DTYPES = tuple(np.dtype(f"{k}int{n}") for n in (8, 16, 32, 64) for k in ("u", ""))


def is_label_image(obj: xr.DataArray | xr.DataTree) -> bool:
    """Whether ``obj`` (or the first level of a pyramid) carries the label marker."""
    if isinstance(obj, xr.DataTree):
        for node in obj.subtree:
            if node.has_data and node.data_vars:
                return IMAGE_LABEL in next(iter(node.data_vars.values())).attrs
        return False
    return IMAGE_LABEL in obj.attrs


def label_name(name: Any) -> str:
    """``name`` checked as the name of a label image (a folder below ``labels/``)."""
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or name.startswith(".")
        or "/" in name
        or "\\" in name
    ):
        raise OmeZarrError(
            f"{name!r} cannot name a label image: it becomes the folder labels/<name> of "
            "the image; use a plain name such as 'nuclei' (no '/', not starting with '.')"
        )
    return name


def check_dtype(name: str, da: xr.DataArray) -> None:
    """A :class:`DtypeError` unless ``da`` has a dtype NGFF allows for labels."""
    dtype = np.dtype(da.dtype)
    if dtype.newbyteorder("=") in LABEL_DTYPES:
        return
    fix = (
        "labels.astype('uint8')"
        if dtype.kind == "b"
        else "labels.round().astype('uint32') if it holds whole numbers"
        if dtype.kind == "f"
        else "labels.astype('uint32')"
    )
    raise DtypeError(
        f"the label image {name!r} has dtype {dtype}; NGFF label images hold integers "
        f"({', '.join(d.name for d in LABEL_DTYPES)}): cast it first, e.g. {fix}"
    )


def check_grid(
    name: str, where: str, label: xr.DataArray, image: xr.DataArray, types: Sequence[str | None]
) -> None:
    """An :class:`OmeZarrError` unless ``label`` lies on the grid of ``image``:
    the same dims in the same order, the same space coordinates and units, and
    along other dims the same length or one sample."""
    if label.dims != image.dims:
        raise OmeZarrError(
            f"the label image {name!r} has dims {label.dims!r} but the image has "
            f"{image.dims!r}; a label image has the image's dims in its order (use "
            f"labels.transpose(...) or labels.expand_dims(...), e.g. a channel of length 1)"
        )
    for dim, kind in zip(image.dims, types):
        n_label, n_image = label.sizes[dim], image.sizes[dim]
        if kind != "space":
            if n_label not in (1, n_image):
                raise OmeZarrError(
                    f"{where} of the label image {name!r} has {n_label} samples along "
                    f"{dim!r} and the image {n_image}; give it {n_image} or 1"
                )
            continue
        ours = (
            np.asarray(label.coords[dim].values, dtype=np.float64) if dim in label.coords else None
        )
        theirs = np.asarray(image.coords[dim].values, dtype=np.float64)
        step = abs(float(theirs[1] - theirs[0])) if theirs.size > 1 else 1.0
        if (
            ours is None
            or ours.shape != theirs.shape
            or not np.allclose(ours, theirs, rtol=0, atol=1e-9 * step)
        ):
            shown = "no coordinate" if ours is None else f"{ours.size} samples from {ours[0]:g}"
            named = [
                c.coords[dim].attrs.get("units") if dim in c.coords else None
                for c in (label, image)
            ]
            if ours is not None and named[0] != named[1]:
                shown += f" in {named[0] or 'no unit'} (the image's are in {named[1] or 'no unit'})"
            raise OmeZarrError(
                f"{where} of the label image {name!r} is not on the image's grid along "
                f"{dim!r}: it has {shown}, the image {theirs.size} samples from "
                f"{theirs[0]:g} with step {step:g}; resample or crop the labels to the "
                f"image's grid (e.g. labels.assign_coords({dim}=image.{dim}) if only the "
                "coordinates differ)"
            )
        units = (label.coords[dim].attrs.get("units"), image.coords[dim].attrs.get("units"))
        if units[0] is not None and units[1] is not None and units[0] != units[1]:
            # both named: they must name the same unit (NGFF stores one per axis)
            if ngff.ngff_unit(dim, units[0]) != ngff.ngff_unit(dim, units[1]):
                raise OmeZarrError(
                    f"the label image {name!r} has {dim!r} in {units[0]!r} and the image in "
                    f"{units[1]!r}; convert the label coordinates to the image's unit"
                )


def level_factors(
    levels: Sequence[tuple[str, xr.DataArray]], types: Sequence[str | None]
) -> list[dict[Hashable, int]]:
    """Per image level after the first, the whole factor of each space dim over the
    previous level (from the NGFF scales of the levels)."""
    scales = []
    previous: tuple[Sequence[float], Sequence[int]] | None = None
    for _, da in levels:
        scale, _ = ngff.level_transform(da, types, previous)
        previous = (scale, da.shape)
        scales.append(scale)
    steps = []
    base = levels[0][1]
    for k in range(1, len(scales)):
        step: dict[Hashable, int] = {}
        for i, (dim, kind) in enumerate(zip(base.dims, types)):
            ratio = scales[k][i] / scales[k - 1][i]
            factor = round(ratio)
            if kind != "space":
                continue
            if factor < 1 or not np.isclose(ratio, factor, rtol=1e-6):
                raise OmeZarrError(
                    f"level {levels[k][0]!r} of the image is {ratio:g} times coarser than "
                    f"the previous level along {dim!r}, not a whole factor, so no label "
                    "level can match it; pass the label levels as a DataTree instead"
                )
            if factor > 1:
                step[dim] = factor
        steps.append(step)
    return steps


def label_levels(
    name: str,
    label: Sequence[tuple[str, xr.DataArray]],
    image_levels: Sequence[tuple[str, xr.DataArray]],
    types: Sequence[str | None],
) -> list[tuple[str, xr.DataArray]]:
    """The (path, level) pairs ``label`` of the label image ``name``, named
    ``name`` and checked level by level: each on the grid of the image level
    of the same index (the levels are made elsewhere, see
    :func:`xiso.compose.label_pyramid`). Raises :class:`DtypeError` for a
    dtype NGFF does not allow, :class:`OmeZarrError` for a label off the
    image's grid or with another number of levels.
    """
    levels = [(path, da.rename(name)) for path, da in label]
    if len(levels) != len(image_levels):
        raise OmeZarrError(
            f"the label image {name!r} has {len(levels)} level(s) and the image "
            f"{len(image_levels)}; NGFF label images have one level per image level "
            "(pass level 0 as a DataArray and xiso makes the others)"
        )
    for (path, da), (_, image) in zip(levels, image_levels):
        check_dtype(name, da)
        check_grid(name, f"level {path!r}", da, image, types)
    return levels


# --------------------------------------------------------------------------
# metadata
# --------------------------------------------------------------------------
def _models(version: str) -> tuple[Any, Any, Any]:
    """(Label, ImageLabelAttrs, LabelsAttrs) of ome-zarr-models for ``version``."""
    if version == "0.5":
        from ome_zarr_models.v05.image_label import ImageLabelAttrs
        from ome_zarr_models.v05.image_label_types import Label
        from ome_zarr_models.v05.labels import LabelsAttrs

        return Label, ImageLabelAttrs, LabelsAttrs
    from ome_zarr_models.v04.image_label import ImageLabelAttrs as Attrs04
    from ome_zarr_models.v04.image_label_types import Label as Label04
    from ome_zarr_models.v04.labels import LabelsAttrs as Labels04

    return Label04, Attrs04, Labels04


def _invalid(what: str, err: pydantic.ValidationError, fix: str) -> OmeZarrError:
    first = err.errors()[0]
    where = "/".join(str(p) for p in first.get("loc", ()))
    return OmeZarrError(f"{what} is not valid NGFF: {first.get('msg')} at {where!r}; {fix}")


def image_label_metadata(
    name: str, stored: Any, version: str, *, source: str | None
) -> dict[str, Any]:
    """The ``image-label`` block of the label image ``name``, validated.

    ``stored`` is the label's ``attrs["image-label"]`` (None or a mapping,
    e.g. with ``colors``: ``[{"label-value": 1, "rgba": [255, 0, 0, 255]}]``);
    ``version`` and ``source`` are set here (``source`` is the relative path
    of the image, ``"../../"`` below an image, or None for a label image
    written by itself, which then has no source). Without ``colors``, value 0
    gets a transparent colour (:data:`BACKGROUND`) here; a write replaces
    that with a colour for each value it finds (:func:`with_colors`).
    """
    if stored is None:
        stored = {}
    if not isinstance(stored, Mapping):
        raise OmeZarrError(
            f"attrs[{IMAGE_LABEL!r}] of the label image {name!r} is a "
            f"{type(stored).__name__}; it must be a dict of NGFF image-label fields "
            "(e.g. {'colors': [{'label-value': 1, 'rgba': [255, 0, 0, 255]}]})"
        )
    block = ngff.json_attrs(stored, f"attrs[{IMAGE_LABEL!r}] of the label image {name!r}")
    block.pop("source", None)
    block["version"] = version
    if "colors" not in block:
        block["colors"] = [dict(c) for c in BACKGROUND]
    if source is not None:
        block["source"] = {"image": source}
    import pydantic  # imported with ome-zarr-models by _models

    label_model, _, _ = _models(version)
    try:
        return dict(ngff.to_plain(label_model.model_validate(block)))
    except pydantic.ValidationError as err:
        raise _invalid(
            f"attrs[{IMAGE_LABEL!r}] of the label image {name!r}",
            err,
            "colors are [{'label-value': int, 'rgba': [r, g, b, a]}] with 0-255 values and "
            "distinct label values",
        ) from None


def with_image_label(
    group_attrs: Mapping[str, Any], image_label: Mapping[str, Any], version: str, name: str
) -> dict[str, Any]:
    """The attributes of a label image group: ``group_attrs`` (multiscales and
    the xiso block) with ``image_label``, validated as an NGFF image-label."""
    attrs = dict(group_attrs)
    if version == "0.5":
        attrs["ome"] = {**attrs["ome"], IMAGE_LABEL: dict(image_label)}
        ome = attrs["ome"]
    else:
        attrs[IMAGE_LABEL] = dict(image_label)
        ome = {k: attrs[k] for k in ("multiscales", IMAGE_LABEL)}
    import pydantic  # imported with ome-zarr-models by _models

    _, attrs_model, _ = _models(version)
    try:
        attrs_model.model_validate(ome)
    except pydantic.ValidationError as err:  # pragma: no cover - both parts were validated
        raise _invalid(f"the label image {name!r}", err, "report this as a bug") from None
    return attrs


def labels_attributes(names: Sequence[str], version: str) -> dict[str, Any]:
    """The attributes of the ``labels`` group that lists ``names``, validated."""
    block: dict[str, Any] = {LABELS: list(names)}
    if version == "0.5":
        block["version"] = "0.5"
    _, _, labels_model = _models(version)
    labels_model.model_validate(block)
    return {"ome": block} if version == "0.5" else block


def labels_group_files(
    read: Callable[[str], bytes | None], name: str, version: str
) -> dict[str, bytes]:
    """The metadata files of the ``labels`` group, by key, that list ``name`` too,
    in the order to write them ({} when it is listed already).

    ``read(key)`` gives the stored value of a key of the ``labels`` group
    (``"zarr.json"``; ``".zgroup"``, ``".zattrs"``), None if absent. Only the
    ``labels`` list changes: every other attribute (another tool's too) and
    the listed names are kept; a missing group is made with
    :func:`labels_attributes`.
    """
    key = "zarr.json" if version == "0.5" else ".zattrs"
    raw = read(key)
    files: dict[str, bytes] = {}
    if raw is None:
        attrs: dict[str, Any] = labels_attributes([name], version)
        if version == "0.5":
            document: dict[str, Any] = {"zarr_format": 3, "node_type": "group", "attributes": attrs}
        else:
            document = attrs
            if read(".zgroup") is None:
                files[".zgroup"] = json.dumps({"zarr_format": 2}, indent=2).encode()
        files[key] = json.dumps(document, indent=2).encode()
        return files
    try:
        document = json.loads(raw)
        attrs = document.setdefault("attributes", {}) if version == "0.5" else document
        block = attrs.setdefault("ome", {"version": version}) if version == "0.5" else attrs
        if not isinstance(block, dict):
            raise TypeError(f"a {type(block).__name__} where a JSON object belongs")
    except (ValueError, TypeError, AttributeError) as err:
        raise OmeZarrError(
            f"the metadata labels/{key} of the image cannot be read ({err}); the labels "
            "group is damaged: repair or remove it, then add the label image again"
        ) from None
    names = block.get(LABELS)
    names = list(names) if isinstance(names, list) else []
    if name in names:
        return files
    import pydantic  # imported with ome-zarr-models by _models

    try:
        labels_attributes([*names, name], version)  # validated as NGFF
    except pydantic.ValidationError as err:
        raise _invalid(
            f"the labels list {names!r} in labels/{key}", err, "repair the labels group"
        ) from None
    block[LABELS] = [*names, name]
    files[key] = json.dumps(document, indent=2).encode()
    return files


def label_names(attrs: Mapping[str, Any], where: Any) -> list[str]:
    """The label images that the attributes of a ``labels`` group list."""
    block = attrs.get("ome") if isinstance(attrs.get("ome"), Mapping) else attrs
    names = block.get(LABELS) if isinstance(block, Mapping) else None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise OmeZarrError(
            f"the labels group of {where!r} does not list its label images (its attributes "
            f"need '{LABELS}': [names]); the store was not written as NGFF"
        )
    return list(names)


def image_label_of(attrs: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``image-label`` block of an image group's attributes, None if it has none.

    Colours that a write listed for the values it found (marked ``"colors":
    "found"`` in xiso's block, see :func:`with_colors`) are left out: they
    describe the values as written, and writing the label image again lists
    the values it then holds (a relabelled image would keep stale colours,
    and napari hides a value without one)."""
    ome = attrs.get("ome")
    block = ome.get(IMAGE_LABEL) if isinstance(ome, Mapping) else attrs.get(IMAGE_LABEL)
    if not isinstance(block, Mapping):
        return None
    out = dict(block)
    mine = attrs.get(ngff.XISO_KEY)
    if isinstance(mine, Mapping) and mine.get("colors") == FOUND:
        out.pop("colors", None)
    return out


def colors_given(stored: Any) -> bool:
    """Whether the ``image-label`` block ``stored`` (a label's
    ``attrs["image-label"]``, or None) names its colours."""
    return isinstance(stored, Mapping) and "colors" in stored


def label_color(value: int) -> list[int]:
    """The RGBA colour (0-255) xiso gives label ``value``: the same in every
    write; neighbouring values far apart in hue (golden-ratio steps).

    Examples
    --------
    >>> from xiso.io.labels import label_color
    >>> label_color(1), label_color(2)
    ([61, 114, 242, 255], [167, 242, 61, 255])
    """
    import colorsys

    hue = (int(value) * 0.6180339887498949) % 1.0
    rgb = colorsys.hsv_to_rgb(hue, 0.75, 0.95)
    return [round(255 * c) for c in rgb] + [255]


def found_colors(values: Any) -> list[dict[str, Any]] | None:
    """The ``colors`` of a label image whose level 0 holds ``values`` (None:
    too many to list): 0 transparent (:data:`BACKGROUND`, also when absent),
    every other value its :func:`label_color`; None for more than
    :data:`LISTED_COLORS` values."""
    if values is None:
        return None
    found = sorted({int(v) for v in values} | {0})
    if len(found) > LISTED_COLORS:
        return None
    return [dict(BACKGROUND[0])] + [
        {"label-value": v, "rgba": label_color(v)} for v in found if v != 0
    ]


def with_colors(
    attrs: Mapping[str, Any], version: str, colors: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """The attributes of a label image group (see :func:`with_image_label`)
    with the ``colors`` found for its values in its ``image-label`` block, or
    none (None), marked as found in xiso's block (``"colors": "found"``, so
    that reading it back leaves them out: see :func:`image_label_of`)."""
    out = json.loads(json.dumps(attrs))  # a deep copy, of plain JSON
    block = (out["ome"] if version == "0.5" else out)[IMAGE_LABEL]
    if colors is None:
        block.pop("colors", None)
    else:
        block["colors"] = colors
    out.setdefault(ngff.XISO_KEY, {})["colors"] = FOUND
    return out


def block_values(block: np.ndarray) -> np.ndarray:
    """The distinct values of a block of a label image, sorted.

    Segmentations hold long runs of one value: the run starts are found in
    one pass and only they are sorted (``np.unique`` of a 60 MiB block of
    uint32 labels sorts 15 million values, about a second)."""
    flat = np.ravel(block)
    if flat.size == 0:
        return flat
    starts = np.empty(flat.size, dtype=bool)
    starts[0] = True
    np.not_equal(flat[1:], flat[:-1], out=starts[1:])
    return np.unique(flat[starts])
