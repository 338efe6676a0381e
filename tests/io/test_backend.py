"""The xarray backend ``engine="ome-zarr"``: registered through the package's
entry points, found by suffix, the same image as :func:`xiso.open_ome_zarr`,
lazy (nothing read when opening), and cheap to import for xarray."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xiso
from xiso.io.backend import OmeZarrBackendEntrypoint


def _image(nz: int = 32, n: int = 32) -> xr.DataArray:
    rng = np.random.default_rng(3)
    da = xr.DataArray(
        rng.integers(0, 4000, (nz, n, n)).astype("uint16"),
        dims=("z", "y", "x"),
        coords={"z": 2.0 + np.arange(nz) * 0.25, "y": np.arange(n) * 1.0, "x": np.arange(n) * 1.0},
        name="img",
        attrs={"sample": "A1"},
    )
    for d in "zyx":
        da[d].attrs["units"] = "micrometer"
    return da


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("backend") / "data.ome.zarr"
    image = _image()
    seg = (image % 3).astype("uint8").rename("seg")
    xiso.to_ome_zarr(image, path, labels={"nuclei": seg}, min_size=8, chunks=16)
    return path


def _same(opened: xr.DataArray, expected: xr.DataArray) -> None:
    """Values, dims, coordinates (with attrs), name and attrs agree."""
    assert opened.dims == expected.dims
    assert opened.name == expected.name
    assert opened.attrs == expected.attrs
    np.testing.assert_array_equal(opened.values, expected.values)
    for d in expected.coords:
        np.testing.assert_array_equal(opened[d].values, expected[d].values)
        assert opened[d].attrs == expected[d].attrs


def test_the_engine_is_registered_by_entry_point():
    assert isinstance(xr.backends.list_engines()["ome-zarr"], OmeZarrBackendEntrypoint)


def test_open_dataarray_is_open_ome_zarr(store):
    for kwargs in ({}, {"level": 1}, {"level": "2"}, {"label": "nuclei"}):
        opened = xr.open_dataarray(store, engine="ome-zarr", **kwargs)
        _same(opened, xiso.open_ome_zarr(store, **kwargs))
    # and against the image that was written (not only xiso's reader)
    image = _image()
    opened = xr.open_dataarray(store, engine="ome-zarr")
    np.testing.assert_array_equal(opened.values, image.values)
    np.testing.assert_allclose(opened.z.values, image.z.values, rtol=0, atol=1e-12)
    assert opened.attrs["sample"] == "A1"
    ds = xr.open_dataset(store, engine="ome-zarr")
    assert list(ds.data_vars) == ["img"]
    assert xr.open_dataset(store, engine="ome-zarr", label="nuclei").data_vars.keys() == {"nuclei"}


def test_near_isotropic_and_label_marker(store):
    opened = xr.open_dataarray(store, engine="ome-zarr", near_isotropic=True)
    expected = xiso.open_ome_zarr(store).iso.near_isotropic()
    np.testing.assert_array_equal(opened.values, expected.values)
    assert opened.sizes == {"z": 8, "y": 32, "x": 32}
    label = xr.open_dataarray(store, engine="ome-zarr", label="nuclei", near_isotropic=True)
    raw = xiso.open_ome_zarr(store, label="nuclei").values
    # mode by default for a label image: every value is one that exists in its block
    blocks = raw.reshape(8, 4, 32, 32)
    assert all(
        label.values[k, j, i] in blocks[k, :, j, i]
        for k in range(8)
        for j in range(0, 32, 7)
        for i in range(0, 32, 5)
    )
    assert "image-label" in label.attrs


def test_guess_can_open_by_suffix(store, tmp_path):
    backend = OmeZarrBackendEntrypoint()
    assert backend.guess_can_open(store)
    assert backend.guess_can_open(str(store) + "/")
    assert backend.guess_can_open("s3://bucket/x.OME.ZARR")
    assert not backend.guess_can_open("image.zarr")
    assert not backend.guess_can_open("image.nc")
    assert not backend.guess_can_open(object())
    # no engine given: xarray asks the backends and finds this one
    _same(xr.open_dataarray(store), xiso.open_ome_zarr(store))


def test_nothing_is_read_when_opening(store, tmp_path):
    """A damaged chunk: opening works (no read), reading that chunk says which."""
    import shutil

    damaged = tmp_path / "damaged.ome.zarr"
    shutil.copytree(store, damaged)
    chunk = damaged / "0" / "c" / "0" / "0" / "0"
    assert chunk.is_file()
    chunk.write_bytes(b"not a chunk")
    da = xr.open_dataarray(damaged, engine="ome-zarr")
    tree = xr.open_datatree(damaged, engine="ome-zarr")
    np.testing.assert_array_equal(da[16:, 16:, 16:].values, _image().values[16:, 16:, 16:])
    with pytest.raises(xiso.OmeZarrError, match=r"reading level 0 of .* failed"):
        da[:2, :2, :2].values  # noqa: B018
    with pytest.raises(xiso.OmeZarrError, match="failed"):
        tree["0"]["img"].values  # noqa: B018


def test_chunks_give_dask_in_the_stored_chunks(store):
    da = xr.open_dataarray(store, engine="ome-zarr", chunks={})
    assert isinstance(da.data, dsa.Array)
    assert da.chunksizes["z"][0] == 16
    assert da.encoding["preferred_chunks"] == {"z": 16, "y": 16, "x": 16}
    np.testing.assert_array_equal(da.values, _image().values)
    other = xr.open_dataarray(store, engine="ome-zarr", chunks={"z": 32})
    assert other.chunksizes["z"][0] == 32


def test_open_datatree_is_the_pyramid_with_labels(store):
    tree = xr.open_datatree(store, engine="ome-zarr")
    expected = xiso.open_ome_zarr_pyramid(store)
    paths = sorted(n.path for n in tree.subtree)
    assert paths == sorted(n.path for n in expected.subtree)
    assert "/labels/nuclei/0" in paths
    for node in expected.subtree:
        for name, var in node.data_vars.items():
            _same(tree[node.path][name], var)
    label_tree = xr.open_datatree(store, engine="ome-zarr", label="nuclei")
    assert sorted(label_tree.children) == sorted(expected["labels/nuclei"].children)
    groups = xr.open_groups(store, engine="ome-zarr")
    assert sorted(groups) == paths
    # a tree that is written again keeps its labels
    assert "image-label" in tree["labels/nuclei/0"]["nuclei"].attrs


def test_bad_backend_keywords(store):
    with pytest.raises(xiso.OptionError, match=r"open_datatree.*takes label="):
        xr.open_datatree(store, engine="ome-zarr", level=1)
    with pytest.raises(xiso.OptionError, match="drop_variables"):
        xr.open_dataset(store, engine="ome-zarr", drop_variables=["img"])
    with pytest.raises(xiso.OmeZarrError, match="no label image 'cells'"):
        xr.open_dataarray(store, engine="ome-zarr", label="cells")
    with pytest.raises(xiso.OmeZarrError, match="level 9 does not exist"):
        xr.open_dataarray(store, engine="ome-zarr", level=9)


def test_listing_engines_imports_nothing_heavy():
    """xarray imports every backend whenever it lists its engines."""
    code = (
        "import json, sys, xarray as xr\n"
        "engines = xr.backends.list_engines()\n"
        "heavy = ['zarr', 'pydantic', 'ome_zarr_models', 'xiso.io.read', 'xiso.io.write']\n"
        "print(json.dumps(['ome-zarr' in engines, [m for m in heavy if m in sys.modules]]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    found, heavy = json.loads(out.stdout.splitlines()[-1])
    assert found
    assert heavy == []
