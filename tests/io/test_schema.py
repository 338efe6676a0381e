"""The metadata xiso writes validates against the official strict NGFF JSON schemas.

The schemas are the copies of the NGFF specification's ``schemas/`` folders
that ngff-zarr ships (``ngff_zarr/spec/<version>/schemas``). The strict image
schema is the normal one plus the fields NGFF says SHOULD be there
(``name``, ``type``, ``metadata``, and ``version`` in 0.4). NGFF 0.4 puts the
image metadata at the top of ``.zattrs``; NGFF 0.5 under ``ome`` in the
``attributes`` of ``zarr.json``; the schemas describe exactly those objects,
so they are validated whole, xiso's own ``xiso`` key included.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xiso

jsonschema = pytest.importorskip("jsonschema")
referencing = pytest.importorskip("referencing")
ngff_zarr = pytest.importorskip("ngff_zarr")

VERSIONS = ("0.4", "0.5")


def _schemas(version: str) -> Path:
    return Path(ngff_zarr.__file__).parent / "spec" / version / "schemas"


def _validator(version: str, name: str):
    """A draft 2020-12 validator of ``name`` that resolves the other schemas of ``version``."""
    registry = referencing.Registry()
    for path in _schemas(version).glob("*.schema"):
        contents = json.loads(path.read_text())
        resource = referencing.Resource.from_contents(
            contents, default_specification=referencing.jsonschema.DRAFT202012
        )
        registry = registry.with_resource(contents["$id"], resource)
    schema = json.loads((_schemas(version) / name).read_text())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _strict_json(path: Path) -> dict:
    """The stored attributes, parsed as strict JSON (NaN or Infinity would fail)."""

    def refuse(token):
        raise ValueError(f"{path} holds {token}, which is not JSON")

    if (path / "zarr.json").exists():
        return json.loads((path / "zarr.json").read_text(), parse_constant=refuse)["attributes"]
    return json.loads((path / ".zattrs").read_text(), parse_constant=refuse)


def _volume(shape, dtype="uint16", name="cells", seed=0):
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    return xr.DataArray(
        rng.integers(0, 1000, size=shape).astype(dtype),
        dims=("z", "y", "x"),
        coords={
            "z": ("z", np.arange(nz) * 0.5, {"units": "micrometer"}),
            "y": ("y", np.arange(ny) * 0.25, {"units": "micrometer"}),
            "x": ("x", np.arange(nx) * 0.25, {"units": "micrometer"}),
        },
        name=name,
        attrs={"sample": "s1", "nan_free": [1.5, 2]},
    )


def _three_d():
    return _volume((8, 16, 16)), {"pyramid": False}


def _four_d():
    vol = _volume((8, 16, 16))
    da = xr.concat([vol, vol + 1], dim="c").transpose("c", "z", "y", "x")
    wavelength = ("c", np.array([488, 561]), {"long_name": "wavelength"})
    return da.assign_coords(c=wavelength), {"pyramid": False}


def _five_d():
    da, options = _four_d()
    da = da.expand_dims(t=2).copy()
    t = np.array(["2024-01-01T00:00", "2024-01-01T00:10"], dtype="datetime64[ns]")
    return da.assign_coords(t=t, stage=3), options


def _pyramid():
    return _volume((32, 32, 32), name=None), {"min_size": 4, "levels": 4}


def _labels():
    labels = _volume((32, 32, 32), dtype="uint32", name="labels") // 100
    return labels, {"method": "mode", "min_size": 8}


CASES = {
    "3-D": _three_d,
    "4-D channel": _four_d,
    "5-D time and channel": _five_d,
    "pyramid": _pyramid,
    "uint32 labels, mode": _labels,
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(CASES))
def test_written_metadata_validates_against_the_strict_schema(tmp_path, version, case):
    da, options = CASES[case]()
    store = tmp_path / "img.zarr"
    xiso.to_ome_zarr(da, store, version=version, **options)
    attrs = _strict_json(store)
    strict = _validator(version, "strict_image.schema")
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in strict.iter_errors(attrs)
    ]
    assert errors == []
    multiscale = (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]
    assert multiscale["type"] == options.get("method", "mean")
    if case == "pyramid":
        assert len(multiscale["datasets"]) == 4
        assert multiscale["name"] == "image"
    # read back and written again (a DataTree): still strict
    tree = xiso.open_ome_zarr_pyramid(store)
    xiso.to_ome_zarr(tree, tmp_path / "again.zarr", version=version)
    assert list(strict.iter_errors(_strict_json(tmp_path / "again.zarr"))) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_a_pyramid_built_first_then_written_records_its_method(tmp_path, version):
    """``pyramid(method="mode")`` then ``to_ome_zarr(tree)``: the tree carries its
    method to the multiscale ``type`` (the strict schema asks for one)."""
    labels, _ = _labels()
    tree = xiso.pyramid(labels, method="mode", min_size=8)
    xiso.to_ome_zarr(tree, tmp_path / "t.zarr", version=version)
    attrs = _strict_json(tmp_path / "t.zarr")
    assert list(_validator(version, "strict_image.schema").iter_errors(attrs)) == []
    assert (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]["type"] == "mode"
    assert labels.encoding == {}  # the input is not changed


@pytest.mark.parametrize("version", VERSIONS)
def test_the_strict_schema_can_fail(tmp_path, version):
    """The validation above is not vacuous: without ``type`` the strict schema
    refuses what the normal one accepts, and a bad axis type fails both."""
    xiso.to_ome_zarr(_volume((8, 8, 8)), tmp_path / "a.zarr", version=version, pyramid=False)
    attrs = _strict_json(tmp_path / "a.zarr")
    ome = attrs["ome"] if version == "0.5" else attrs
    del ome["multiscales"][0]["type"]
    strict = _validator(version, "strict_image.schema")
    normal = _validator(version, "image.schema")
    assert list(normal.iter_errors(attrs)) == []
    assert [e.validator for e in strict.iter_errors(attrs)] != []
    with pytest.raises(jsonschema.ValidationError, match="'type' is a required property"):
        strict.validate(attrs)
    ome["multiscales"][0]["axes"][0]["type"] = "space"
    ome["multiscales"][0]["axes"][0]["unit"] = "micrometer"
    ome["multiscales"][0]["axes"].append({"name": "w", "type": "space"})
    with pytest.raises(jsonschema.ValidationError):
        normal.validate(attrs)


# --------------------------------------------------------------------------
# label images: the strict label schema requires ``colors`` (issue 19, item 8)
# --------------------------------------------------------------------------
def _errors(validator, attrs) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(attrs)
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("how", ["labels=", "label=True", "label='cells'"])
def test_label_images_without_colours_validate_against_the_strict_label_schema(
    tmp_path, version, how
):
    """A label image given no colours (no ``attrs["image-label"]``) is written
    with value 0 transparent and a colour for each value found as it is
    written: valid strict NGFF."""
    image = _volume((16, 16, 16))
    seg = (image // 300).astype("uint8").rename("seg")
    store = tmp_path / "img.zarr"
    group = store / "labels" / "cells"
    if how == "labels=":
        xiso.to_ome_zarr(image, store, version=version, labels={"cells": seg}, min_size=8)
    elif how == "label=True":
        xiso.to_ome_zarr(seg, store, version=version, label=True, min_size=8)
        group = store
    else:
        xiso.to_ome_zarr(image, store, version=version, min_size=8)
        xiso.to_ome_zarr(seg, store, label="cells")
    attrs = _strict_json(group)
    assert _errors(_validator(version, "strict_label.schema"), attrs) == []
    assert _errors(_validator(version, "strict_image.schema"), attrs) == []  # an image too
    block = (attrs["ome"] if version == "0.5" else attrs)["image-label"]
    assert block["colors"][0] == {"label-value": 0, "rgba": [0, 0, 0, 0]}
    assert [c["label-value"] for c in block["colors"]] == sorted(
        set(np.unique(seg.values).tolist()) | {0}
    )
    # colours that are given are written as they are
    seg.attrs["image-label"] = {"colors": [{"label-value": 2, "rgba": [9, 8, 7, 255]}]}
    xiso.to_ome_zarr(image, tmp_path / "c.zarr", version=version, labels={"cells": seg})
    attrs = _strict_json(tmp_path / "c.zarr" / "labels" / "cells")
    assert _errors(_validator(version, "strict_label.schema"), attrs) == []
    block = (attrs["ome"] if version == "0.5" else attrs)["image-label"]
    assert block["colors"] == [{"label-value": 2, "rgba": [9, 8, 7, 255]}]


@pytest.mark.parametrize("version", VERSIONS)
def test_the_strict_label_schema_can_fail(tmp_path, version):
    """Without ``colors`` (what xiso wrote before) the strict label schema
    refuses what the normal one accepts; an empty list fails both (minItems 1)."""
    image = _volume((8, 8, 8))
    seg = (image // 300).astype("uint8")
    store = tmp_path / "a.zarr"
    xiso.to_ome_zarr(image, store, version=version, labels={"cells": seg}, pyramid=False)
    attrs = _strict_json(store / "labels" / "cells")
    block = (attrs["ome"] if version == "0.5" else attrs)["image-label"]
    block.pop("colors", None)
    strict = _validator(version, "strict_label.schema")
    normal = _validator(version, "label.schema")
    assert _errors(normal, attrs) == []
    with pytest.raises(jsonschema.ValidationError, match="'colors' is a required property"):
        strict.validate(attrs)
    block["colors"] = []
    with pytest.raises(jsonschema.ValidationError, match=r"should be non-empty|too short"):
        normal.validate(attrs)
