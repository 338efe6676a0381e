"""The plain check of NGFF image metadata (xiso.io.ngff.plain_image_attrs), which
reading uses instead of ome-zarr-models for the metadata most writers write.

It must accept nothing that ome-zarr-models refuses and read the same values
from what it accepts: checked here against ome-zarr-models itself, on
metadata made by mutating valid metadata at random (hypothesis). That it is
taken at all (for what xiso writes) is checked on written stores, and in
fresh processes by tests/test_import.py (ome-zarr-models is not imported)."""

import copy
import json
import warnings

import numpy as np
import pydantic
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

import xiso
from xiso.io import ngff

KINDS = {"t": "time", "c": "channel"}
LAYOUTS = [("y", "x"), ("z", "y", "x"), ("c", "y", "x"), ("c", "z", "y", "x")]
LAYOUTS += [("t", "z", "y", "x"), ("t", "c", "z", "y", "x")]
ODD = [
    None,
    "",
    "x",
    "z",
    0,
    -1,
    2,
    1.5,
    True,
    False,
    [],
    {},
    [1.0],
    [1.0, 1.0],
    [1.0, 1.0, 1.0],
    float("nan"),
    float("inf"),
    "space",
    "time",
    "channel",
    "micrometer",
    "second",
    "pixel",
    "scale",
    "translation",
    "0.4",
    "0.5",
    {"type": "scale", "scale": [1.0, 1.0, 1.0]},
    {"type": "translation", "translation": [0.0, 0.0, 0.0]},
    {"type": "scale", "path": "s.bin"},
    {"type": "identity"},
]


@st.composite
def _valid(draw):
    """(version, raw) of valid NGFF image metadata of many shapes."""
    version = draw(st.sampled_from(["0.4", "0.5"]))
    layout = draw(st.sampled_from(LAYOUTS))
    axes = []
    for name in layout:
        axis = {"name": name, "type": KINDS.get(name, "space")}
        if name in "zyx" and draw(st.booleans()):
            axis["unit"] = draw(st.sampled_from(["micrometer", "nanometer", "meter", "angstrom"]))
        if name == "t" and draw(st.booleans()):
            axis["unit"] = draw(st.sampled_from(["second", "millisecond", "hour"]))
        axes.append(axis)
    base = [draw(st.sampled_from([0.25, 1.0, 2, 0.5, 3])) for _ in layout]
    datasets = []
    for i in range(draw(st.integers(1, 3))):
        transforms = [{"type": "scale", "scale": [s * 2**i for s in base]}]
        if draw(st.booleans()):
            offset = draw(st.sampled_from([0.0, 0.5, -3, 7]))
            transforms.append({"type": "translation", "translation": [offset] * len(layout)})
        datasets.append(
            {
                "path": draw(st.sampled_from([str(i), f"s{i}", f"a/{i}"])),
                "coordinateTransformations": transforms,
            }
        )
    ms = {"axes": axes, "datasets": datasets}
    for key, values in [
        ("name", ["image", "a/b", 3, None]),
        ("type", ["mean", "mode", None, {"k": [1, 2]}]),
        ("metadata", [{"method": "xiso"}, None, [1, "a"]]),
    ]:
        if draw(st.booleans()):
            ms[key] = draw(st.sampled_from(values))
    if version == "0.4" and draw(st.booleans()):
        ms["version"] = "0.4"
    if draw(st.booleans()):
        ms["coordinateTransformations"] = [{"type": "scale", "scale": [1.0] * len(layout)}]
    raw = {"multiscales": [ms]}
    if version == "0.5":
        raw["version"] = "0.5"
        if draw(st.booleans()):
            raw["image-label"] = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
    return version, raw


def _nodes(value, path=()):
    """Every (path, value) of a JSON tree, the root included."""
    yield path, value
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        yield from _nodes(item, (*path, key))


def _mutate(draw, raw):
    raw = copy.deepcopy(raw)
    nodes = list(_nodes(raw))[1:]
    if not nodes:  # an earlier mutation left an empty root
        return raw
    path, value = draw(st.sampled_from(nodes))
    parent = raw
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    action = draw(st.sampled_from(["replace", "delete", "add", "append", "reverse"]))
    if action == "replace" or (action in ("append", "reverse") and not isinstance(value, list)):
        parent[key] = draw(st.sampled_from(ODD))
    elif action == "delete":
        del parent[key]
    elif action == "add" and isinstance(value, dict):
        value[draw(st.sampled_from(["extra", "unit", "type", "path", "omero", "version"]))] = draw(
            st.sampled_from(ODD)
        )
    elif action == "append":
        value.append(copy.deepcopy(value[-1]) if value else draw(st.sampled_from(ODD)))
    elif action == "reverse":
        value.reverse()
    else:
        parent[key] = draw(st.sampled_from(ODD))
    return raw


@st.composite
def metadata(draw):
    version, raw = draw(_valid())
    for _ in range(draw(st.integers(0, 2))):
        raw = _mutate(draw, raw)
    return version, raw


def _model(version):
    if version == "0.5":
        from ome_zarr_models.v05.image import ImageAttrs
    else:
        from ome_zarr_models.v04.image import ImageAttrs
    return ImageAttrs


def _transforms(transforms):
    if transforms is None:
        return None
    return [(t.type, [float(v) for v in getattr(t, t.type)]) for t in transforms]


def _values(attrs):
    """What xiso reads from parsed image attributes (either kind)."""
    return [
        (
            [(a.name, a.type, a.unit) for a in ms.axes],
            [(d.path, _transforms(d.coordinateTransformations)) for d in ms.datasets],
            _transforms(ms.coordinateTransformations),
            ms.name,
            ms.type,
            ms.metadata,
        )
        for ms in attrs.multiscales
    ]


def _reference(version, raw):
    """ome-zarr-models' ImageAttrs of ``raw``, or None where it refuses it."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return _model(version).model_validate(copy.deepcopy(raw))
        except (pydantic.ValidationError, TypeError, ValueError):
            return None


@settings(deadline=None, max_examples=400)  # ome-zarr-models: imported on the first example
@given(metadata())
def test_plain_accepts_only_what_ome_zarr_models_accepts_and_reads_the_same(case):
    version, raw = case
    plain = ngff.plain_image_attrs(copy.deepcopy(raw), version)
    if plain is None:
        return  # ome-zarr-models decides
    reference = _reference(version, raw)
    assert reference is not None, f"accepted what ome-zarr-models refuses: {json.dumps(raw)}"
    assert _values(plain) == _values(reference)
    assert plain.omero is None and getattr(reference, "omero", None) is None


@settings(deadline=None)
@given(_valid())
def test_plain_takes_the_valid_forms_without_omero(case):
    """The fast path is taken for valid metadata of every layout (else the
    property above would hold trivially)."""
    version, raw = case
    plain = ngff.plain_image_attrs(raw, version)
    assert plain is not None
    assert _values(plain) == _values(_reference(version, raw))


@pytest.mark.parametrize(
    ("version", "change"),
    [
        ("0.5", lambda raw: raw.update(omero={"channels": []})),  # validated by the models
        ("0.4", lambda raw: raw.update(omero={"channels": []})),
        ("0.5", lambda raw: raw.update(version="0.4")),
        ("0.4", lambda raw: raw["multiscales"][0].update(version="0.5")),
        ("0.5", lambda raw: raw["multiscales"][0]["axes"][0].update(unit="pixel")),
        ("0.5", lambda raw: raw["multiscales"][0]["axes"][0].update(type="custom")),
        ("0.5", lambda raw: raw["multiscales"][0]["axes"][2].update(type="channel")),
        ("0.5", lambda raw: raw["multiscales"][0]["axes"][1].update(type="time", unit="second")),
        ("0.5", lambda raw: raw["multiscales"][0]["axes"][1].update(name="z")),  # unique
        ("0.5", lambda raw: raw["multiscales"][0]["datasets"].reverse()),  # finest first
        (
            "0.5",
            lambda raw: raw["multiscales"][0]["datasets"][0].update(
                coordinateTransformations=[{"type": "scale", "path": "s"}]
            ),
        ),
        (
            "0.5",
            lambda raw: raw["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
                scale=[1.0, True, 1.0]
            ),
        ),
        (
            "0.5",
            lambda raw: raw["multiscales"][0]["datasets"][0]["coordinateTransformations"][0].update(
                scale=[1.0, 1.0]
            ),
        ),
        (
            "0.5",
            lambda raw: raw["multiscales"][0]["datasets"][0]["coordinateTransformations"].reverse(),
        ),
        ("0.5", lambda raw: raw["multiscales"].clear()),
    ],
)
def test_plain_leaves_the_rest_to_ome_zarr_models(version, change):
    """A control per rule: valid metadata is taken; changed, it is not (the
    models then accept or refuse it)."""
    ms = {
        "axes": [
            {"name": "z", "type": "space", "unit": "micrometer"},
            {"name": "y", "type": "space", "unit": "micrometer"},
            {"name": "x", "type": "space", "unit": "micrometer"},
        ],
        "datasets": [
            {
                "path": str(i),
                "coordinateTransformations": [
                    {"type": "scale", "scale": [0.25 * 2**i, 1.0, 1.0]},
                    {"type": "translation", "translation": [0.0, 0.0, 0.0]},
                ],
            }
            for i in range(2)
        ],
    }
    raw = {"multiscales": [ms], **({"version": "0.5"} if version == "0.5" else {})}
    assert ngff.plain_image_attrs(raw, version) is not None
    change(raw)
    assert ngff.plain_image_attrs(raw, version) is None


def _image(dims, shape):
    coords = {
        d: np.arange(n) * (0.25 if d == "z" else 1.0) for d, n in zip(dims, shape) if d in "zyx"
    }
    da = xr.DataArray(np.zeros(shape, "uint8"), dims=dims, coords=coords, name="img")
    for d in "zyx":
        if d in coords:
            da[d].attrs["units"] = "micrometer"
    return da


@pytest.mark.parametrize("version", ["0.4", "0.5"])
@pytest.mark.parametrize(
    ("dims", "shape"), [(("z", "y", "x"), (8, 8, 8)), (("t", "c", "z", "y", "x"), (2, 2, 4, 8, 8))]
)
def test_what_xiso_writes_takes_the_plain_path(tmp_path, version, dims, shape):
    """xiso's own metadata (and its label images') is read without
    ome-zarr-models, with the values ome-zarr-models reads."""
    import zarr

    labels = {"cells": xr.zeros_like(_image(dims, shape))} if "t" not in dims else None
    path = tmp_path / "a.ome.zarr"
    xiso.to_ome_zarr(_image(dims, shape), path, version=version, labels=labels)
    groups = [zarr.open_group(path, mode="r")]
    if labels:
        groups.append(zarr.open_group(path / "labels" / "cells", mode="r"))
    for group in groups:
        attrs = group.attrs.asdict()
        raw = dict(attrs["ome"]) if version == "0.5" else {"multiscales": attrs["multiscales"]}
        plain = ngff.plain_image_attrs(raw, version)
        assert plain is not None
        assert _values(plain) == _values(_reference(version, raw))
        parsed_version, parsed = ngff.parse_image_attrs(attrs, str(path))
        assert parsed_version == version and parsed is not None
        assert type(parsed).__module__ == "types"  # the plain object, not a pydantic model


def _reference_image_metadata(levels, version, method):
    """What xiso wrote before it built plain JSON: ome-zarr-models' models of
    the same axes, transforms and multiscale fields, dumped."""
    from ome_zarr_models.common.coordinate_transformations import VectorScale, VectorTranslation

    if version == "0.5":
        from ome_zarr_models.v05.axes import Axis
        from ome_zarr_models.v05.image import ImageAttrs
        from ome_zarr_models.v05.multiscales import Dataset, Multiscale
    else:
        from ome_zarr_models.v04.axes import Axis
        from ome_zarr_models.v04.image import ImageAttrs
        from ome_zarr_models.v04.multiscales import Dataset, Multiscale

    base = levels[0][1]
    types = ngff.axis_types(base)
    axes = []
    for dim, kind in zip(base.dims, types):
        unit = base[dim].attrs.get("units") if kind in ("space", "time") else None
        axes.append(Axis(name=str(dim), type=kind, unit=unit))
    datasets, scales, previous = [], [], None
    for path, da in levels:
        scale, translation = ngff.level_transform(da, types, previous)
        previous = (scale, da.shape)
        scales.append(scale)
        transforms = (VectorScale.build(scale), VectorTranslation.build(translation))
        datasets.append(Dataset(path=path, coordinateTransformations=transforms))
    kind, metadata = ngff.downscaling(method, levels, scales)
    options = {"version": "0.4"} if version == "0.4" else {}
    if kind is not None:
        options["type"] = kind
    name = str(base.name) if base.name is not None else "image"
    ms = Multiscale(axes=axes, datasets=tuple(datasets), name=name, metadata=metadata, **options)
    attrs = ImageAttrs(multiscales=[ms], **({"version": "0.5"} if version == "0.5" else {}))
    return attrs.model_dump(mode="json", exclude_none=True, by_alias=True)


def _levels(dims, shape, count, name):
    da = _image(dims, shape).rename(name)
    for d in ("t", "c"):
        if d in dims:
            da = da.assign_coords({d: np.arange(da.sizes[d])})
    if "t" in dims:
        da["t"].attrs["units"] = "second"
    levels = [("0", da)]
    for k in range(1, count):
        da = da.iso.downsample(x=2)
        levels.append((str(k), da))
    return levels


@pytest.mark.parametrize("version", ["0.4", "0.5"])
@pytest.mark.parametrize("dims", LAYOUTS)
@pytest.mark.parametrize("method", [None, "mean", "mode"])
@pytest.mark.parametrize(("count", "name"), [(1, None), (3, "img")])
def test_written_metadata_is_what_ome_zarr_models_builds(version, dims, method, count, name):
    """image_metadata builds the attributes as plain JSON without
    ome-zarr-models: the same JSON, key order included, as its models dump."""
    shape = tuple(8 if d in "zyx" else 2 for d in dims)
    levels = _levels(dims, shape, count, name)
    got, types = ngff.image_metadata(levels, version, method=method)
    want = _reference_image_metadata(levels, version, method)
    assert json.dumps(got) == json.dumps(want)
    assert types == ngff.axis_types(levels[0][1])


def test_written_metadata_outside_the_plain_form_is_built_by_ome_zarr_models():
    """omero (channel labels) is left to ome-zarr-models: the attributes then
    carry it, and the multiscales are the same as without it."""
    levels = _levels(("c", "y", "x"), (2, 8, 8), 2, "img")
    da = levels[0][1].assign_coords(c=["DAPI", "GFP"])
    levels = [("0", da), ("1", da.iso.downsample(x=2))]
    got, _ = ngff.image_metadata(levels, "0.5", method="mean")
    assert [ch["label"] for ch in got["omero"]["channels"]] == ["DAPI", "GFP"]
    plain = ngff.image_metadata([(p, d.drop_vars("c")) for p, d in levels], "0.5", method="mean")
    assert {k: v for k, v in got.items() if k != "omero"}["multiscales"][0]["datasets"] == (
        plain[0]["multiscales"][0]["datasets"]
    )


def test_dims_ngff_cannot_hold_are_refused_as_before():
    """Dims that no plain form holds go to ome-zarr-models, whose refusal is
    xiso's error (an axis of no type after the space axes; seven axes)."""
    odd = xr.DataArray(np.zeros((4, 4, 2)), dims=("y", "x", "w"), name="img")
    with pytest.raises(
        xiso.OmeZarrError,
        match=r"dims \('y', 'x', 'w'\) cannot be written as NGFF 0.5: .*space axes must be at",
    ):
        ngff.image_metadata([("0", odd)], "0.5")
    many = xr.DataArray(np.zeros((1,) * 7), dims=tuple("abcdzyx"), name="img")
    with pytest.raises(xiso.OmeZarrError, match=r"cannot be written as NGFF 0\.4"):
        ngff.image_metadata([("0", many)], "0.4")
