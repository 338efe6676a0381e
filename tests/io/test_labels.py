"""NGFF label images: written by xiso (checked against ome-zarr-models, the NGFF
layout and ome-zarr-py's reader), read back as marked label images, label
levels against a numpy mode reference, every bad input, atomic writes, and a
label image written by ome-zarr-py read by xiso."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xiso
from xiso.blocks import looks_like_labels

VERSIONS = ("0.4", "0.5")
COLORS = [
    {"label-value": 1, "rgba": [255, 0, 0, 255]},
    {"label-value": 2, "rgba": [0, 0, 255, 128]},
]


def _image(nz: int = 32, n: int = 32, seed: int = 0) -> xr.DataArray:
    rng = np.random.default_rng(seed)
    da = xr.DataArray(
        rng.integers(0, 4000, (nz, n, n)).astype("uint16"),
        dims=("z", "y", "x"),
        coords={"z": 5.0 + np.arange(nz) * 0.25, "y": np.arange(n) * 1.0, "x": np.arange(n) * 1.0},
        name="img",
    )
    for d in "zyx":
        da[d].attrs["units"] = "micrometer"
    return da


def _labels(image: xr.DataArray, seed: int = 1, dtype: str = "uint8") -> xr.DataArray:
    """Few distinct values, so blocks have ties and clear majorities alike."""
    rng = np.random.default_rng(seed)
    values = rng.choice([0, 0, 1, 2, 7], size=image.shape).astype(dtype)
    return image.copy(data=values).rename("seg")


def _mode_reference(x: np.ndarray, factors: tuple[int, ...]) -> np.ndarray:
    """Block mode by reshape (trim), ties to the smallest value: plain numpy."""
    x = x[tuple(slice(0, n // f * f) for n, f in zip(x.shape, factors))]
    shape = []
    for n, f in zip(x.shape, factors):
        shape += [n // f, f]
    blocks = x.reshape(shape)
    nd = x.ndim
    blocks = blocks.transpose([2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)])
    flat = blocks.reshape((*blocks.shape[:nd], -1))
    out = np.empty(flat.shape[:nd], dtype=x.dtype)
    for index in np.ndindex(*out.shape):
        values, counts = np.unique(flat[index], return_counts=True)
        out[index] = values[np.argmax(counts)]  # unique sorts: first max is the smallest
    return out


def _attrs(store: Path, path: str = "") -> dict:
    """The attributes of a group, read as JSON from the files (no zarr, no xiso)."""
    folder = store / path
    if (folder / "zarr.json").exists():
        return json.loads((folder / "zarr.json").read_text())["attributes"]
    return json.loads((folder / ".zattrs").read_text())


def _ome(store: Path, path: str, version: str) -> dict:
    attrs = _attrs(store, path)
    return attrs["ome"] if version == "0.5" else attrs


# --------------------------------------------------------------------------
# writing: layout and metadata
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_labels_layout_and_metadata_validate(tmp_path, version):
    image = _image()
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    store = tmp_path / "a.ome.zarr"
    image.iso.to_ome_zarr(store, labels={"nuclei": seg}, version=version, min_size=8)

    labels = _ome(store, "labels", version)
    assert labels["labels"] == ["nuclei"]
    label = _ome(store, "labels/nuclei", version)
    block = label["image-label"]
    assert block["source"] == {"image": "../../"}
    assert block["version"] == version
    assert block["colors"] == COLORS
    assert label["multiscales"][0]["type"] == "mode"
    image_ms = _ome(store, "", version)["multiscales"][0]
    # one label level per image level, with the image's transforms (same grid)
    assert [d["path"] for d in label["multiscales"][0]["datasets"]] == [
        d["path"] for d in image_ms["datasets"]
    ]
    assert label["multiscales"][0]["datasets"] == image_ms["datasets"]
    assert label["multiscales"][0]["axes"] == image_ms["axes"]

    # ome-zarr-models validates the whole labels group, dtypes of every level included
    if version == "0.5":
        from ome_zarr_models.v05.labels import Labels

        model = Labels.from_zarr(zarr.open_group(store / "labels", mode="r"))
        assert model.label_paths == ["nuclei"]
        assert model.get_image_labels_group("nuclei").attributes.ome.image_label is not None
    else:
        from ome_zarr_models.v04.image_label import ImageLabel
        from ome_zarr_models.v04.labels import Labels

        Labels.from_zarr(zarr.open_group(store / "labels", mode="r"))
        model = ImageLabel.from_zarr(zarr.open_group(store / "labels/nuclei", mode="r"))
        assert model.attributes.image_label.colors[0].label_value == 1
    # the stored arrays: integer dtype, level shapes as the image's
    group = zarr.open_group(store, mode="r")
    for d in image_ms["datasets"]:
        assert group[f"labels/nuclei/{d['path']}"].dtype == np.uint8
        assert group[f"labels/nuclei/{d['path']}"].shape == group[d["path"]].shape


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("backing", ["numpy", "dask"])
def test_label_levels_are_the_mode_of_blocks_on_the_image_grid(tmp_path, version, backing):
    image = _image()
    seg = _labels(image, dtype="int32")
    if backing == "dask":
        seg = seg.chunk({"z": 5, "y": 7, "x": 32})
    store = tmp_path / "m.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"cells": seg}, version=version, min_size=8)
    tree = xiso.open_ome_zarr_pyramid(store)
    levels = [k for k in tree.children if k != "labels"]
    assert len(levels) > 2
    # each level is the mode of blocks of the previous one (as the image's
    # levels are each made from the previous), by the factor between them
    expected = np.asarray(_labels(image, dtype="int32").values)
    previous = None
    for path in levels:
        img = tree[path]["img"]
        lab = tree[f"labels/cells/{path}"]["cells"]
        if previous is not None:
            factors = tuple(
                round(float(np.diff(img[d].values[:2])[0] / np.diff(previous[d].values[:2])[0]))
                for d in "zyx"
            )
            assert factors != (1, 1, 1)
            expected = _mode_reference(expected, factors)
        np.testing.assert_array_equal(lab.values, expected)
        for d in "zyx":
            np.testing.assert_array_equal(lab[d].values, img[d].values)
        assert lab.dtype == np.int32
        previous = img


def test_labels_on_a_channel_image_take_one_channel(tmp_path):
    base = _image(nz=16, n=16)
    image = xr.concat([base, base + 1], dim="c").assign_coords(c=["DAPI", "GFP"])
    image = image.transpose("c", "z", "y", "x").rename("img")
    seg = _labels(base).expand_dims(c=["all"]).transpose("c", "z", "y", "x")
    store = tmp_path / "c.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, min_size=8)
    back = xiso.open_ome_zarr(store, label="nuclei")
    assert back.sizes == {"c": 1, "z": 16, "y": 16, "x": 16}
    np.testing.assert_array_equal(back.values, seg.values)
    assert list(back.c.values) == ["all"]


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
def _no_compute(dsk, keys, **kwargs):
    raise AssertionError("dask computed something on a path that must stay lazy")


@pytest.mark.parametrize("version", VERSIONS)
def test_open_label_is_lazy_and_marked(tmp_path, version):
    image = _image()
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    seg.attrs["note"] = "by hand"
    store = tmp_path / "r.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, version=version, min_size=8)
    with dask.config.set(scheduler=_no_compute):
        da = xiso.open_ome_zarr(store, label="nuclei", level=1)
        iso = xiso.open_ome_zarr(store, label="nuclei", near_isotropic=True)
        tree = xiso.open_ome_zarr_pyramid(store)
    assert isinstance(da.data, dsa.Array) and isinstance(iso.data, dsa.Array)
    assert isinstance(tree["labels/nuclei/0"]["nuclei"].data, dsa.Array)
    assert da.name == "nuclei"
    assert da.attrs["note"] == "by hand"
    assert da.attrs["image-label"]["colors"] == COLORS
    assert da.attrs["image-label"]["source"] == {"image": "../../"}
    assert da.encoding["ngff_downscaling_type"] == "mode"
    assert looks_like_labels(da)
    assert not looks_like_labels(xiso.open_ome_zarr(store))
    with pytest.warns(xiso.XisoWarning, match="looks like a label image.*image-label"):
        da.iso.near_isotropic(method="mean")


def test_open_label_near_isotropic_values_are_the_mode(tmp_path):
    image = _image()
    seg = _labels(image)
    store = tmp_path / "n.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, pyramid=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mode: no label warning
        iso = xiso.open_ome_zarr(store, label="nuclei", near_isotropic=True)
        values = iso.values
    np.testing.assert_array_equal(values, _mode_reference(seg.values, (4, 1, 1)))


def test_pyramid_round_trip_keeps_labels(tmp_path):
    image = _image()
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    first = tmp_path / "1.ome.zarr"
    xiso.to_ome_zarr(image, first, labels={"nuclei": seg, "cells": seg + 1}, min_size=8)
    tree = xiso.open_ome_zarr_pyramid(first)
    second = tmp_path / "2.ome.zarr"
    tree.iso.to_ome_zarr(second, version="0.4")
    again = xiso.open_ome_zarr_pyramid(second)
    assert sorted(again["labels"].children) == ["cells", "nuclei"]
    for node in tree.subtree:
        if node.has_data:
            path = node.relative_to(tree)
            name = next(iter(node.data_vars))
            np.testing.assert_array_equal(again[path][name].values, node[name].values)
    assert _ome(second, "labels/nuclei", "0.4")["image-label"]["colors"] == COLORS
    assert _ome(second, "labels/nuclei", "0.4")["multiscales"][0]["type"] == "mode"


def test_open_label_only_as_a_tree(tmp_path):
    image = _image()
    store = tmp_path / "t.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": _labels(image)}, min_size=8, levels=3)
    tree = xiso.open_ome_zarr_pyramid(store, label="nuclei")
    assert list(tree.children) == ["0", "1", "2"]
    assert all("nuclei" in tree[k].data_vars for k in tree.children)


# --------------------------------------------------------------------------
# label= : a label image by itself, or added to a stored image
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_label_true_writes_a_standalone_image_label(tmp_path, version):
    image = _image()
    seg = _labels(image).rename("seg")
    store = tmp_path / "s.ome.zarr"
    seg.iso.to_ome_zarr(store, label=True, version=version, min_size=8)
    ome = _ome(store, "", version)
    assert ome["image-label"] == {"version": version}  # no parent image: no source
    assert ome["multiscales"][0]["type"] == "mode"
    back = xiso.open_ome_zarr(store)
    assert looks_like_labels(back)
    # written again without label=: still a label image (the marker says so)
    again = tmp_path / "again.ome.zarr"
    xiso.to_ome_zarr(back, again, version=version, min_size=8)
    assert "image-label" in _ome(again, "", version)
    level1 = xiso.open_ome_zarr(again, level=1)
    np.testing.assert_array_equal(level1.values, _mode_reference(seg.values, (2, 1, 1)))


def test_label_name_adds_to_a_stored_image_atomically(tmp_path):
    image = _image()
    store = tmp_path / "add.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"cells": _labels(image, seed=3)}, min_size=8)
    before = xiso.open_ome_zarr_pyramid(store)
    seg = _labels(image)
    xiso.to_ome_zarr(seg, store, label="nuclei")
    after = xiso.open_ome_zarr_pyramid(store)
    assert sorted(after["labels"].children) == ["cells", "nuclei"]
    for path in ("0", "1", "labels/cells/0", "labels/cells/1"):
        name = next(iter(before[path].data_vars))
        np.testing.assert_array_equal(after[path][name].values, before[path][name].values)
    np.testing.assert_array_equal(after["labels/nuclei/0"]["nuclei"].values, seg.values)
    with pytest.raises(xiso.StoreExistsError, match="already has a label image 'nuclei'"):
        xiso.to_ome_zarr(seg, store, label="nuclei")
    xiso.to_ome_zarr(seg + 1, store, label="nuclei", overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store, label="nuclei").values, seg + 1)
    with pytest.raises(xiso.OmeZarrError, match="write the image first"):
        xiso.to_ome_zarr(seg, tmp_path / "none.ome.zarr", label="nuclei")
    with pytest.raises(xiso.OptionError, match="levels of the image"):
        xiso.to_ome_zarr(seg, store, label="more", levels=2)


def test_a_failing_label_leaves_the_old_image(tmp_path):
    image = _image()
    store = tmp_path / "f.ome.zarr"
    xiso.to_ome_zarr(image, store, min_size=8)
    listing = sorted(p.name for p in tmp_path.iterdir())

    def boom(block):
        raise RuntimeError("the segmentation failed")

    seg = _labels(image).chunk({"z": 8})
    broken = seg.copy(data=seg.data.map_blocks(boom, dtype=seg.dtype))
    with pytest.raises(RuntimeError, match="segmentation failed"):
        xiso.to_ome_zarr(image, store, labels={"nuclei": broken}, overwrite=True, min_size=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == listing  # no temporary left
    assert not (store / "labels").exists()
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, image.values)


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (lambda s: s.astype("float32"), xiso.DtypeError, "dtype float32.*integers"),
        (lambda s: s > 0, xiso.DtypeError, r"dtype bool.*astype\('uint8'\)"),
        (lambda s: s.assign_coords(z=s.z + 0.1), xiso.OmeZarrError, "not on the image's grid"),
        (lambda s: s.isel(y=slice(0, 16)), xiso.OmeZarrError, "not on the image's grid"),
        (lambda s: s.transpose("x", "y", "z"), xiso.OmeZarrError, "has dims"),
        (lambda s: s.isel(z=0), xiso.OmeZarrError, "has dims"),
        (
            lambda s: s.assign_attrs({"image-label": {"colors": [{"label-value": 1}]}}),
            xiso.OmeZarrError,
            "image-label.*not valid NGFF",
        ),
        (
            lambda s: s.assign_attrs({"image-label": "red"}),
            xiso.OmeZarrError,
            "must be a dict",
        ),
    ],
)
def test_bad_labels_are_refused_before_anything_is_written(tmp_path, change, error, match):
    image = _image()
    store = tmp_path / "bad.ome.zarr"
    with pytest.raises(error, match=match):
        xiso.to_ome_zarr(image, store, labels={"nuclei": change(_labels(image))}, min_size=8)
    assert not store.exists()


@pytest.mark.parametrize("name", ["a/b", "", ".hidden", "..", 3])
def test_bad_label_names(tmp_path, name):
    image = _image()
    with pytest.raises(xiso.OmeZarrError, match="cannot name a label image"):
        xiso.to_ome_zarr(image, tmp_path / "n.zarr", labels={name: _labels(image)})


def test_bad_options(tmp_path):
    image = _image()
    seg = _labels(image)
    with pytest.raises(xiso.OptionError, match="would invent labels"):
        xiso.to_ome_zarr(seg, tmp_path / "a.zarr", label=True, method="mean")
    with pytest.raises(xiso.OptionError, match="no label images of its own"):
        xiso.to_ome_zarr(seg, tmp_path / "b.zarr", label=True, labels={"x": seg})
    with pytest.raises(xiso.OmeZarrError, match="pass a DataArray"):
        xiso.to_ome_zarr(image, tmp_path / "c.zarr", labels={"x": seg.values})
    tree = xiso.pyramid(seg, method="mode", min_size=8)  # a label pyramid, as given
    with pytest.raises(xiso.OmeZarrError, match=r"has \d level\(s\) and the image 1"):
        xiso.to_ome_zarr(image, tmp_path / "e.zarr", labels={"x": tree}, pyramid=False)
    xiso.to_ome_zarr(image, tmp_path / "d.zarr", labels={"x": tree}, min_size=8)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(tmp_path / "d.zarr", label="x", level=-1).values,
        tree[list(tree.children)[-1]]["seg"].values,
    )
    assert not any((tmp_path / n).exists() for n in ("a.zarr", "b.zarr", "c.zarr", "e.zarr"))


def test_reading_an_unknown_label(tmp_path):
    image = _image()
    store = tmp_path / "u.ome.zarr"
    xiso.to_ome_zarr(image, store, pyramid=False)
    with pytest.raises(xiso.OmeZarrError, match="no label image 'nuclei'; it has no label images"):
        xiso.open_ome_zarr(store, label="nuclei")
    xiso.to_ome_zarr(image, store, pyramid=False, labels={"cells": _labels(image)}, overwrite=True)
    with pytest.raises(xiso.OmeZarrError, match=r"its label images are \['cells'\]"):
        xiso.open_ome_zarr(store, label="nuclei")
    with pytest.raises(xiso.OmeZarrError, match="level 5 does not exist"):
        xiso.open_ome_zarr(store, label="cells", level=5)


# --------------------------------------------------------------------------
# peers: ome-zarr-py reads our labels as labels, and writes labels we read
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_py_sees_labels(tmp_path, version):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Label, Labels, Reader

    image = _image()
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    store = tmp_path / "oz.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, version=version, min_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "version mismatch" notes of ome-zarr-py
        nodes = list(Reader(parse_url(str(store)))())
    kinds = {type(spec).__name__ for node in nodes for spec in node.specs}
    assert {"Multiscales", "Labels", "Label"} <= kinds
    (label_node,) = [n for n in nodes if n.load(Label) is not None]
    assert any(n.load(Labels) is not None for n in nodes)
    assert label_node.metadata["name"] == "nuclei"
    assert label_node.metadata["color"] == {1: [1.0, 0.0, 0.0, 1.0], 2: [0.0, 0.0, 1.0, 128 / 255]}
    tree = xiso.open_ome_zarr_pyramid(store)
    assert len(label_node.data) == len(tree["labels/nuclei"].children)
    for k, level in enumerate(label_node.data):
        np.testing.assert_array_equal(
            np.asarray(level), tree[f"labels/nuclei/{k}"]["nuclei"].values
        )


@pytest.mark.parametrize("version", VERSIONS)
def test_labels_written_by_ome_zarr_py_open_as_labels(tmp_path, version):
    pytest.importorskip("ome_zarr")
    from ome_zarr.format import FormatV04, FormatV05
    from ome_zarr.writer import write_image, write_labels

    fmt = {"0.4": FormatV04(), "0.5": FormatV05()}[version]
    rng = np.random.default_rng(5)
    data = rng.integers(0, 4000, (8, 32, 32)).astype("uint16")
    seg = rng.choice([0, 3, 9], size=data.shape).astype("uint16")
    store = tmp_path / "peer.ome.zarr"
    scale = {"z": 2.0, "y": 0.5, "x": 0.5}
    units = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        write_image(data, str(store), fmt=fmt, axes="zyx", scale=scale, axes_units=units)
        group = zarr.open_group(str(store), mode="r+")
        write_labels(
            seg,
            group,
            name="nuclei",
            fmt=fmt,
            axes="zyx",
            scale=scale,
            axes_units=units,
            label_metadata={"colors": [{"label-value": 9, "rgba": [0, 255, 0, 255]}]},
        )
    da = xiso.open_ome_zarr(store, label="nuclei")
    np.testing.assert_array_equal(da.values, seg)
    assert da.name == "nuclei"
    assert da.attrs["image-label"]["colors"] == [{"label-value": 9, "rgba": [0, 255, 0, 255]}]
    image = xiso.open_ome_zarr(store)
    for d in "zyx":
        np.testing.assert_allclose(da[d].values, image[d].values)
    assert looks_like_labels(da)
    tree = xiso.open_ome_zarr_pyramid(store)
    assert "nuclei" in tree["labels"].children


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------
def test_cli_convert_carries_labels_and_info_lists_them(tmp_path, capsys):
    from xiso.cli import main

    image = _image(nz=64)
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    src = tmp_path / "in.ome.zarr"
    out = tmp_path / "out.ome.zarr"
    xiso.to_ome_zarr(image, src, labels={"nuclei": seg}, version="0.4", pyramid=False)
    assert main(["convert", str(src), str(out), "--quiet", "--min-size", "8"]) == 0
    tree = xiso.open_ome_zarr_pyramid(out)
    images = [k for k in tree.children if k != "labels"]
    assert len(images) > 1
    assert len(tree["labels/nuclei"].children) == len(images)
    # level 0 of the output label: the mode over z blocks of 4 (z 0.25 -> 1.0)
    np.testing.assert_array_equal(
        tree["labels/nuclei/0"]["nuclei"].values, _mode_reference(seg.values, (4, 1, 1))
    )
    assert _ome(out, "labels/nuclei", "0.5")["image-label"]["colors"] == COLORS
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [lb["name"] for lb in report["labels"]] == ["nuclei"]
    assert report["labels"][0]["levels"] == len(images)
    assert [lv["path"] for lv in report["levels"]] == images  # labels are no image level
    assert main(["info", str(out)]) == 0
    assert f"label:       nuclei (uint8, {len(images)} levels, 2 colors)" in capsys.readouterr().out


@pytest.mark.parametrize("version", VERSIONS)
def test_napari_ome_zarr_sees_labels(tmp_path, version):
    """napari-ome-zarr's reader, headless: it imports napari's utils only (no Qt).
    Not in the test extras (it pulls napari): .ci/run installs it after the
    suite and runs this test again with XISO_REQUIRE_NAPARI=1, where a missing
    reader fails instead of skipping."""
    if not os.environ.get("XISO_REQUIRE_NAPARI"):
        pytest.importorskip("napari_ome_zarr", reason="napari-ome-zarr (and napari) not installed")
    from napari_ome_zarr import napari_get_reader

    image = _image()
    seg = _labels(image)
    seg.attrs["image-label"] = {"colors": COLORS}
    store = str(tmp_path / "nap.ome.zarr")
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, version=version, min_size=8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        layers = napari_get_reader(store)(store)
    kinds = [kind for _, _, kind in layers]
    assert kinds == ["image", "labels"]
    data, meta, _ = layers[kinds.index("labels")]
    assert meta["name"].endswith("nuclei")
    tree = xiso.open_ome_zarr_pyramid(store)
    assert len(data) == len(tree["labels/nuclei"].children)
    for k, level in enumerate(data):
        np.testing.assert_array_equal(
            np.asarray(level), tree[f"labels/nuclei/{k}"]["nuclei"].values
        )


@pytest.mark.parametrize("where", ["store", "url"])
def test_labels_through_store_objects_and_urls(where):
    """The key-value targets copy the labels with the image (hidden prefix, then swap)."""
    import uuid

    image = _image(nz=16, n=16)
    seg = _labels(image)
    if where == "store":
        store: object = zarr.storage.MemoryStore()
    else:
        store = f"memory://labels-{uuid.uuid4().hex}/image.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": seg}, min_size=8)
    xiso.to_ome_zarr(image + 1, store, labels={"cells": seg + 1}, min_size=8, overwrite=True)
    tree = xiso.open_ome_zarr_pyramid(store)
    assert sorted(tree["labels"].children) == ["cells"]  # the old label image is gone
    np.testing.assert_array_equal(xiso.open_ome_zarr(store, label="cells").values, seg + 1)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, image + 1)


def test_label_messages(tmp_path):
    image = _image()
    store = tmp_path / "m.ome.zarr"
    xiso.to_ome_zarr(image, store, labels={"nuclei": _labels(image)}, min_size=8)
    with pytest.raises(xiso.OptionError, match=r"label=True: pass the name of a label image"):
        xiso.open_ome_zarr(store, label=True)
    seg = _labels(image)
    dim = image.dims[-1]
    nm = seg.assign_coords({dim: (dim, seg[dim].values * 1000, {"units": "nanometer"})})
    with pytest.raises(xiso.OmeZarrError, match=r"in nanometer \(the image's are in"):
        xiso.to_ome_zarr(image, tmp_path / "n.ome.zarr", labels={"nuclei": nm})
