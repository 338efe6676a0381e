import json

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr
from helpers import RaiseOnCompute

import xiso
from xiso.data import lightsheet
from xiso.encodings import set_spacing


def _image(ndim, nz=16, ny=24, nx=20, seed=0, dtype="uint16"):
    rng = np.random.default_rng(seed)
    space = {
        "z": ("z", 5.0 + np.arange(nz) * 0.25, {"units": "micrometer"}),
        "y": ("y", -3.0 + np.arange(ny) * 1.0, {"units": "micrometer"}),
        "x": ("x", np.arange(nx) * 1.0, {"units": "micrometer"}),
    }
    dims = ["z", "y", "x"]
    shape = [nz, ny, nx]
    coords = dict(space)
    if ndim >= 4:
        dims.insert(0, "c")
        shape.insert(0, 2)
        coords["c"] = ("c", np.array(["DAPI", "GFP"], dtype=object))
    if ndim == 5:
        dims.insert(0, "t")
        shape.insert(0, 3)
        coords["t"] = ("t", np.arange(3) * 2.0, {"units": "second"})
    data = rng.integers(0, 60000, size=shape).astype(dtype)
    return xr.DataArray(data, dims=dims, coords=coords, name="cells", attrs={"note": "hi"})


def _failing(da, message):
    """``da`` with dask data whose computation raises RuntimeError(message)."""

    def explode(block):
        raise RuntimeError(message)

    return da.copy(data=dsa.from_array(da.values, chunks=4).map_blocks(explode, dtype=da.dtype))


@pytest.mark.parametrize("version", ["0.4", "0.5"])
@pytest.mark.parametrize("ndim", [3, 4, 5])
def test_round_trip_open_write_open(tmp_path, version, ndim):
    da = _image(ndim)
    first = tmp_path / "first.zarr"
    xiso.to_ome_zarr(da, first, version=version, pyramid=False)
    opened = xiso.open_ome_zarr(first)
    second = tmp_path / "second.zarr"
    opened.iso.to_ome_zarr(second, version=version, pyramid=False)
    again = xiso.open_ome_zarr(second)
    xr.testing.assert_identical(opened.compute(), again.compute())
    # and against the original values, coordinates and attrs
    np.testing.assert_array_equal(again.values, da.values)
    assert again.dims == da.dims
    for d in da.dims:
        np.testing.assert_allclose(
            np.asarray(again[d].values, dtype=float if d != "c" else object),
            np.asarray(da[d].values, dtype=float if d != "c" else object),
        ) if d != "c" else np.testing.assert_array_equal(again[d].values, da[d].values)
    assert again.z.attrs == {"type": "space", "units": "micrometer"}
    assert again.attrs["note"] == "hi"
    assert again.attrs["ngff_version"] == version
    assert again.name == "cells"
    if ndim == 5:
        assert again.t.attrs == {"type": "time", "units": "second"}


@pytest.mark.parametrize("version", ["0.4", "0.5"])
def test_pyramid_translation_in_physical_units(tmp_path, version):
    da = _image(3, nz=64, ny=64, nx=64)
    xiso.to_ome_zarr(da, tmp_path / "p.zarr", version=version, min_size=8, levels=4)
    tree = xiso.open_ome_zarr_pyramid(tmp_path / "p.zarr")
    assert list(tree.children) == ["0", "1", "2", "3"]
    lvl1 = tree["1"]["cells"]
    assert dict(lvl1.sizes) == {"z": 32, "y": 64, "x": 64}
    # block mean of z = 5 + 0.25 * (0, 1) -> 5.125; scale doubles
    np.testing.assert_allclose(lvl1.z.values[:2], [5.125, 5.625])
    # z is reduced until near-isotropic (0.25 -> 0.5 -> 1.0), then all dims
    assert dict(tree["2"]["cells"].sizes) == {"z": 16, "y": 64, "x": 64}
    lvl3 = tree["3"]["cells"]
    assert dict(lvl3.sizes) == {"z": 8, "y": 32, "x": 32}
    np.testing.assert_allclose(lvl3.z.values[0], 5.0 + 0.25 * 3.5)
    np.testing.assert_allclose(lvl3.y.values[:2], [-2.5, -0.5])
    # data: independent reference, block means rounded half to even
    ref = da.values.reshape(32, 2, 64, 64).astype(np.float64).mean(axis=1)
    np.testing.assert_array_equal(lvl1.values, np.round(ref).astype("uint16"))
    # metadata as written
    if version == "0.5":
        meta = json.loads((tmp_path / "p.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    else:
        meta = json.loads((tmp_path / "p.zarr" / ".zattrs").read_text())
    ds1 = meta["multiscales"][0]["datasets"][1]["coordinateTransformations"]
    assert ds1[0] == {"type": "scale", "scale": [0.5, 1.0, 1.0]}
    assert ds1[1] == {"type": "translation", "translation": [5.125, -3.0, 0.0]}


def test_version_layouts(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "v5.zarr", pyramid=False)
    xiso.to_ome_zarr(da, tmp_path / "v4.zarr", pyramid=False, version="0.4")
    assert zarr.open_group(tmp_path / "v5.zarr", mode="r").metadata.zarr_format == 3
    assert zarr.open_group(tmp_path / "v4.zarr", mode="r").metadata.zarr_format == 2
    assert (tmp_path / "v4.zarr" / ".zattrs").exists()


def test_metadata_validates_with_ome_zarr_models(tmp_path):
    from ome_zarr_models.v04.image import ImageAttrs as A4
    from ome_zarr_models.v05.image import ImageAttrs as A5

    da = _image(4)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", min_size=4)
    xiso.to_ome_zarr(da, tmp_path / "b.zarr", min_size=4, version="0.4")
    g5 = zarr.open_group(tmp_path / "a.zarr", mode="r").attrs.asdict()
    g4 = zarr.open_group(tmp_path / "b.zarr", mode="r").attrs.asdict()
    m5 = A5.model_validate(g5["ome"])
    m4 = A4.model_validate({k: g4[k] for k in ("multiscales", "omero")})
    assert [a.type for a in m5.multiscales[0].axes] == ["channel", "space", "space", "space"]
    assert [c.label for c in m4.omero.channels] == ["DAPI", "GFP"]


def test_open_is_lazy_and_near_isotropic(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False, chunks=8)

    with dask.config.set(scheduler=RaiseOnCompute()):
        lazy = xiso.open_ome_zarr(tmp_path / "a.zarr", near_isotropic=True)
        assert isinstance(lazy.data, dsa.Array)
    expected = da.iso.near_isotropic()
    xr.testing.assert_allclose(lazy.compute().drop_attrs(), expected.drop_attrs())
    assert lazy.iso.spacing == {"z": 1.0, "y": 1.0, "x": 1.0}


def test_level_by_index_and_path(tmp_path):
    da = _image(3, nz=64, ny=64, nx=64)
    da.iso.to_ome_zarr(tmp_path / "a.zarr", min_size=16, levels=3)
    assert xiso.open_ome_zarr(tmp_path / "a.zarr", level=1).sizes["z"] == 32
    assert xiso.open_ome_zarr(tmp_path / "a.zarr", level="2").sizes["z"] == 16
    assert xiso.open_ome_zarr(tmp_path / "a.zarr", level=-1).sizes["z"] == 16
    with pytest.raises(xiso.OmeZarrError, match=r"level 7 does not exist .* 3 level\(s\)"):
        xiso.open_ome_zarr(tmp_path / "a.zarr", level=7)


def test_label_pyramid_mode(tmp_path):
    from xiso.data import lightsheet_labels

    labels = lightsheet_labels(shape=(64, 64, 64), seed=3)
    tree = labels.iso.pyramid(method="mode", min_size=8)
    valid = set(np.unique(labels.values))
    for node in tree.children.values():
        assert set(np.unique(node["labels"].values)) <= valid
    xiso.to_ome_zarr(tree, tmp_path / "l.zarr")
    back = xiso.open_ome_zarr_pyramid(tmp_path / "l.zarr")
    for k in tree.children:
        np.testing.assert_array_equal(back[k]["labels"].values, tree[k]["labels"].values)


def test_existing_target_and_overwrite(tmp_path):
    da = _image(3)
    target = tmp_path / "a.zarr"
    xiso.to_ome_zarr(da, target, pyramid=False)
    with pytest.raises(xiso.StoreExistsError, match="overwrite=True"):
        xiso.to_ome_zarr(da + 1, target, pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, da.values)
    xiso.to_ome_zarr((da // 2).rename("cells"), target, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, da.values // 2)
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]  # no temporaries left


def test_failure_mid_write_leaves_target_untouched(tmp_path):
    da = _image(3)
    target = tmp_path / "a.zarr"
    xiso.to_ome_zarr(da, target, pyramid=False)
    before = sorted(p.relative_to(target) for p in target.rglob("*"))

    bad = _failing(da, "disk on fire")
    with pytest.raises(RuntimeError, match="disk on fire"):
        xiso.to_ome_zarr(bad, target, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, da.values)
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.zarr"]
    # a failed first write leaves nothing at all
    with pytest.raises(RuntimeError, match="disk on fire"):
        xiso.to_ome_zarr(bad, tmp_path / "new.zarr", pyramid=False)
    assert not (tmp_path / "new.zarr").exists()


def test_store_object_written_metadata_last(tmp_path):
    da = _image(3)
    store = zarr.storage.MemoryStore()
    xiso.to_ome_zarr(da, store, pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, da.values)
    with pytest.raises(xiso.StoreExistsError):
        xiso.to_ome_zarr(da, store, pyramid=False)


def test_fsspec_memory_url():
    pytest.importorskip("fsspec")
    da = _image(3)
    url = "memory://xiso-test/a.zarr"
    xiso.to_ome_zarr(da, url, pyramid=False, overwrite=True)
    back = xiso.open_ome_zarr(url)
    np.testing.assert_array_equal(back.values, da.values)
    np.testing.assert_allclose(back.z.values, da.z.values)


def test_chunks_aligned_with_pyramid(tmp_path):
    da = lightsheet(shape=(64, 64, 64), seed=2)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", chunks=16, min_size=8)
    group = zarr.open_group(tmp_path / "a.zarr", mode="r")
    for path in ("0", "1", "2"):
        assert group[path].chunks == (16, 16, 16)
        assert group[path].dtype == np.uint16


def test_descending_and_bad_dims(tmp_path):
    da = _image(3)
    # NGFF cannot say descending: the axis is sorted, each sample keeping its coordinate
    xiso.to_ome_zarr(da.isel(z=slice(None, None, -1)), tmp_path / "d.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "d.zarr")
    np.testing.assert_array_equal(back.values, da.values)
    np.testing.assert_array_equal(back.z.values, da.z.values)
    weird = _image(3).transpose("x", "z", "y").expand_dims(q=2).expand_dims(w=1)
    with pytest.raises(xiso.OmeZarrError, match="cannot be written as NGFF"):
        xiso.to_ome_zarr(weird, tmp_path / "w.zarr", pyramid=False)
    assert not (tmp_path / "w.zarr").exists()
    with pytest.raises(xiso.OptionError, match=r"version=.0\.6."):
        xiso.to_ome_zarr(da, tmp_path / "v.zarr", version="0.6")


def test_not_ome_zarr(tmp_path):
    zarr.open_group(tmp_path / "plain.zarr", mode="w")
    with pytest.raises(xiso.OmeZarrError, match="not an OME-Zarr image"):
        xiso.open_ome_zarr(tmp_path / "plain.zarr")
    with pytest.raises(xiso.OmeZarrError, match="no zarr group"):
        xiso.open_ome_zarr(tmp_path / "missing.zarr")


def _edit_attrs(path, func):
    group = zarr.open_group(path, mode="a")
    attrs = group.attrs.asdict()
    func(attrs["ome"])
    group.attrs.put(attrs)


def test_rank_mismatch_and_bad_scale(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)

    def drop_axis(ome):
        ome["multiscales"][0]["axes"] = ome["multiscales"][0]["axes"][1:]
        for ds in ome["multiscales"][0]["datasets"]:
            for t in ds["coordinateTransformations"]:
                key = t["type"]
                t[key] = t[key][1:]

    _edit_attrs(tmp_path / "a.zarr", drop_axis)
    with pytest.raises(xiso.OmeZarrError, match="3 dimensions but the metadata names 2 axes"):
        xiso.open_ome_zarr(tmp_path / "a.zarr")

    xiso.to_ome_zarr(da, tmp_path / "b.zarr", pyramid=False)

    def zero_scale(ome):
        ome["multiscales"][0]["datasets"][0]["coordinateTransformations"][0]["scale"][0] = 0.0

    _edit_attrs(tmp_path / "b.zarr", zero_scale)
    with pytest.raises(xiso.OmeZarrError, match=r"scale 0\.0 for axis .z."):
        xiso.open_ome_zarr(tmp_path / "b.zarr")


def test_multiscale_level_transform_is_composed(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)

    def add_global(ome):
        ome["multiscales"][0]["coordinateTransformations"] = [
            {"type": "scale", "scale": [2.0, 1.0, 1.0]},
            {"type": "translation", "translation": [100.0, 0.0, 0.0]},
        ]

    _edit_attrs(tmp_path / "a.zarr", add_global)
    back = xiso.open_ome_zarr(tmp_path / "a.zarr")
    np.testing.assert_allclose(back.z.values, 100.0 + 2.0 * da.z.values)


def test_datatree_accessor(tmp_path):
    da = _image(3, nz=64, ny=32, nx=32)
    tree = da.iso.pyramid(min_size=8, near_isotropic=False)
    assert [dict(tree[k]["cells"].sizes) for k in tree.children][:2] == [
        {"z": 64, "y": 32, "x": 32},
        {"z": 32, "y": 16, "x": 16},
    ]
    iso = tree.iso.near_isotropic()
    assert iso["0"]["cells"].iso.spacing == {"z": 1.0, "y": 1.0, "x": 1.0}
    down = tree.iso.downsample(z=2, method="max")
    assert down["0"]["cells"].sizes["z"] == 32
    tree.iso.to_ome_zarr(tmp_path / "t.zarr")
    back = xiso.open_ome_zarr_pyramid(tmp_path / "t.zarr")
    assert list(back.children) == list(tree.children)


def test_two_opens_with_other_chunks_never_share_dask_keys(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False, chunks=4)
    raw = xiso.open_ome_zarr(tmp_path / "a.zarr")
    iso = xiso.open_ome_zarr(tmp_path / "a.zarr", near_isotropic=True)  # larger read chunks
    s_raw, s_iso = dask.compute(raw.sum(), iso.sum())
    assert int(s_raw) == int(da.sum())
    assert int(s_iso) == int(da.iso.near_isotropic().sum())


def test_store_object_overwrite_from_itself_and_protection():
    da = _image(3)
    store = zarr.storage.MemoryStore()
    xiso.to_ome_zarr(da, store, pyramid=False)
    src = xiso.open_ome_zarr(store)
    # the new image is computed from the old one in the same store
    xiso.to_ome_zarr((src // 2).rename("cells"), store, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, da.values // 2)
    assert not any(k.startswith(".xiso-tmp") for k in store._store_dict)
    # a store holding something that is no OME-Zarr image is not overwritten either
    other = zarr.storage.MemoryStore()
    zarr.create_array(other, shape=(4,), dtype="i4")[:] = [1, 2, 3, 4]
    with pytest.raises(xiso.StoreExistsError, match="overwrite=True"):
        xiso.to_ome_zarr(da, other, pyramid=False)
    np.testing.assert_array_equal(zarr.open_array(other, mode="r")[:], [1, 2, 3, 4])


def test_store_object_failure_keeps_old_image():
    da = _image(3)
    store = zarr.storage.MemoryStore()
    xiso.to_ome_zarr(da, store, pyramid=False)

    bad = _failing(da, "boom")
    with pytest.raises(RuntimeError, match="boom"):
        xiso.to_ome_zarr(bad, store, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, da.values)
    assert not any(k.startswith(".xiso-tmp") for k in store._store_dict)


def test_target_created_during_the_write_is_not_replaced(tmp_path):
    da = _image(3)
    target = tmp_path / "race.zarr"

    def create_target(block):
        target.mkdir(exist_ok=True)
        (target / "precious.txt").write_text("keep me")
        return block

    racing = da.copy(data=dsa.from_array(da.values, chunks=8).map_blocks(create_target))
    with pytest.raises(xiso.StoreExistsError):
        xiso.to_ome_zarr(racing, target, pyramid=False)
    assert (target / "precious.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir()] == ["race.zarr"]


def test_failed_swap_is_rolled_back(tmp_path, monkeypatch):
    import errno

    from xiso.io import targets

    da = _image(3)
    target = tmp_path / "f.zarr"
    xiso.to_ome_zarr(da, target, pyramid=False)

    def broken(a, b):
        raise OSError(errno.EIO, "exchange failed")

    monkeypatch.setattr(targets, "_exchange", broken)
    with pytest.raises(OSError, match="exchange failed"):
        xiso.to_ome_zarr(da // 2, target, pyramid=False, overwrite=True)
    # the two-rename fallback (file systems without RENAME_EXCHANGE), failing half way
    real_rename = type(target).rename

    def unsupported(a, b):
        raise OSError(errno.EINVAL, "not supported")

    def flaky(self, dest):
        if ".xiso-tmp-" in self.name:
            raise OSError("rename failed")
        return real_rename(self, dest)

    monkeypatch.setattr(targets, "_exchange", unsupported)
    monkeypatch.setattr(type(target), "rename", flaky)
    with pytest.raises(OSError, match="rename failed"):
        xiso.to_ome_zarr(da // 2, target, pyramid=False, overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, da.values)
    assert [p.name for p in tmp_path.iterdir()] == ["f.zarr"]


def test_fsspec_failed_move_keeps_old_image(monkeypatch):
    fsspec = pytest.importorskip("fsspec")
    da = _image(3)
    url = "memory://xiso-swap/img.zarr"
    xiso.to_ome_zarr(da, url, pyramid=False, overwrite=True)
    fs = fsspec.filesystem("memory")
    real_copy = type(fs).copy

    def flaky(self, path1, path2, **kw):
        if any(".xiso-tmp-" in p and p.endswith("zarr.json") for p in path1):
            raise OSError("copy failed")  # the new metadata cannot be moved in
        return real_copy(self, path1, path2, **kw)

    monkeypatch.setattr(type(fs), "copy", flaky)
    with pytest.raises(OSError, match="copy failed"):
        xiso.to_ome_zarr(da // 2, url, pyramid=False, overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(xiso.open_ome_zarr(url).values, da.values)
    assert [p.rsplit("/", 1)[-1] for p in fs.ls("/xiso-swap", detail=False)] == ["img.zarr"]


def test_single_sample_axes_keep_their_scale(tmp_path):
    da = _image(3, nz=1)
    with pytest.raises(xiso.OmeZarrError, match="dimension 'z' has a single sample"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    set_spacing(da["z"], 0.25)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "a.zarr")
    assert back.iso.spacing == {"z": 0.25, "y": 1.0, "x": 1.0}
    back.iso.to_ome_zarr(tmp_path / "b.zarr", pyramid=False)
    meta = json.loads((tmp_path / "b.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    assert meta["multiscales"][0]["datasets"][0]["coordinateTransformations"][0] == {
        "type": "scale",
        "scale": [0.25, 1.0, 1.0],
    }
    # a dim a pyramid step reduces to one sample gets the previous scale times the factor
    small = _image(3, nz=2, ny=2, nx=2)
    xiso.to_ome_zarr(small, tmp_path / "p.zarr", min_size=1, levels=2)
    meta = json.loads((tmp_path / "p.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    scales = [
        d["coordinateTransformations"][0]["scale"] for d in meta["multiscales"][0]["datasets"]
    ]
    assert scales == [[0.25, 1.0, 1.0], [0.5, 1.0, 1.0]]


def test_unlabelled_channel_axis_keeps_its_type(tmp_path):
    da = _image(4).drop_vars("c")
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "a.zarr")
    assert back.c.attrs == {"type": "channel"} and list(back.c.values) == [0, 1]
    back.iso.to_ome_zarr(tmp_path / "b.zarr", pyramid=False)
    axes = json.loads((tmp_path / "b.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    assert axes["multiscales"][0]["axes"][0] == {"name": "c", "type": "channel"}


def test_datatree_with_coordinates_at_the_root():
    da = _image(3, nz=16, ny=8, nx=8)
    tree = xr.DataTree.from_dict(
        {
            "/": xr.Dataset(coords=da.coords),
            "/raw": xr.Dataset({"cells": da.variable}),
            "/smooth": xr.Dataset({"cells": (da.astype("float32") / 2).variable}),
        }
    )
    iso = tree.iso.near_isotropic()
    assert dict(iso["raw"]["cells"].sizes) == {"z": 4, "y": 8, "x": 8}
    np.testing.assert_allclose(iso.z.values, da.iso.near_isotropic().z.values)
    np.testing.assert_array_equal(iso["raw"]["cells"].values, da.iso.near_isotropic().values)
    down = tree.iso.downsample(z=2, method="max")
    assert down["smooth"]["cells"].sizes["z"] == 8
    with pytest.raises(xiso.OptionError, match="not both"):
        tree.iso.downsample({"z": 2}, y=2)


@pytest.mark.parametrize(("given", "written"), [("micron", "micrometer"), ("µm", "micrometer")])
def test_units_written_with_ngff_names(tmp_path, given, written):
    da = _image(3)
    for d in ("z", "y", "x"):
        da[d].attrs["units"] = given
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    meta = json.loads((tmp_path / "a.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    assert {a["unit"] for a in meta["multiscales"][0]["axes"]} == {written}
    for d in ("z", "y", "x"):
        da[d].attrs["units"] = "furlong"
    with pytest.raises(xiso.OmeZarrError, match="'furlong' of dimension 'z' is not one NGFF"):
        xiso.to_ome_zarr(da, tmp_path / "b.zarr", pyramid=False)


@pytest.mark.parametrize("first", ["0.4", "0.5"])
def test_store_object_failed_write_leaves_no_trace(first):
    da = _image(3)
    store = zarr.storage.MemoryStore()
    xiso.to_ome_zarr(da, store, pyramid=False, version=first)
    before = dict(store._store_dict)
    bad = _failing(da, "boom")
    other = "0.5" if first == "0.4" else "0.4"
    with pytest.raises(RuntimeError, match="boom"):
        xiso.to_ome_zarr(bad, store, pyramid=False, version=other, overwrite=True)
    assert sorted(store._store_dict) == sorted(before)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, da.values)
    empty = zarr.storage.MemoryStore()
    with pytest.raises(RuntimeError, match="boom"):
        xiso.to_ome_zarr(bad, empty, pyramid=False)
    assert dict(empty._store_dict) == {}


def test_store_object_failed_swap_is_restored():
    da = _image(3)

    class Flaky(zarr.storage.MemoryStore):
        fail = False

        async def set(self, key, value):
            if self.fail and key == "0/zarr.json":
                self.fail = False  # fail once, during the swap; the restore may write it
                raise OSError("set failed")
            return await super().set(key, value)

    store = Flaky()
    xiso.to_ome_zarr(da, store, pyramid=False)
    store.fail = True
    with pytest.raises(OSError, match="set failed"):
        xiso.to_ome_zarr((da // 2).rename("cells"), store, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, da.values)
    assert not any(k.startswith(".xiso-") for k in store._store_dict)


def test_store_object_key_appearing_meanwhile_is_kept():
    da = _image(3)
    store = zarr.storage.MemoryStore()

    def intrude(block):
        zarr.create_array(store, name="theirs", shape=(2,), dtype="i4", overwrite=True)
        return block

    racing = da.copy(data=dsa.from_array(da.values, chunks=8).map_blocks(intrude))
    with pytest.raises(xiso.StoreExistsError):
        xiso.to_ome_zarr(racing, store, pyramid=False)
    assert "theirs/zarr.json" in store._store_dict


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")  # zip: metadata rewritten
def test_read_only_and_limited_stores(tmp_path):
    da = _image(3)
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    ro = zarr.storage.LocalStore(tmp_path / "a.zarr", read_only=True)
    with pytest.raises(xiso.OmeZarrError, match="read-only"):
        xiso.to_ome_zarr(da // 2, ro, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(tmp_path / "a.zarr").values, da.values)
    plain: dict = {}
    xiso.to_ome_zarr(da, plain, pyramid=False)  # a dict is a MemoryStore
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(zarr.storage.MemoryStore(plain)).values, da.values
    )
    zipped = zarr.storage.ZipStore(tmp_path / "a.zip", mode="w")
    xiso.to_ome_zarr(da, zipped, pyramid=False)  # empty: written in place
    with pytest.raises(xiso.OmeZarrError, match="cannot list or delete"):
        xiso.to_ome_zarr(da, zipped, pyramid=False, overwrite=True)
    zipped.close()
    back = xiso.open_ome_zarr(zarr.storage.ZipStore(tmp_path / "a.zip", mode="r"))
    np.testing.assert_array_equal(back.values, da.values)


def test_datatree_shared_coordinates_need_agreeing_children():
    da = _image(3, nz=16, ny=8, nx=8)
    tree = xr.DataTree.from_dict(
        {"/": xr.Dataset(coords={"z": da.z}), "/a": xr.Dataset({"cells": da})}
    )
    iso = tree.iso.near_isotropic()  # the root's z is reduced like its child's
    np.testing.assert_allclose(iso.z.values, da.iso.near_isotropic().z.values)
    with pytest.raises(xiso.OptionError, match="method='bogus'"):
        tree.iso.near_isotropic(method="bogus")
    with pytest.raises(xiso.FactorError, match=r"\['zz'\]"):
        tree.iso.downsample(zz=2)
    mixed = xr.DataTree.from_dict(
        {
            "/": xr.Dataset(coords={"y": da.y}),
            "/a": xr.Dataset({"cells": da}),
            "/b": xr.Dataset(
                {
                    "cells": da.isel(z=slice(0, 4)).assign_coords(
                        z=xr.Variable("z", np.arange(4.0) * 8, {"units": "micrometer"})
                    )
                }
            ),
        }
    )
    with pytest.raises(xiso.SpacingError, match="different factors"):
        mixed.iso.near_isotropic()


def test_symlinked_target_is_updated_through_the_link(tmp_path):
    da = _image(3)
    real = tmp_path / "real.zarr"
    xiso.to_ome_zarr(da, real, pyramid=False)
    link = tmp_path / "link.zarr"
    link.symlink_to(real)
    xiso.to_ome_zarr((da // 2).rename("cells"), link, pyramid=False, overwrite=True)
    assert link.is_symlink()
    np.testing.assert_array_equal(xiso.open_ome_zarr(real).values, da.values // 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.zarr", "real.zarr"]


def test_open_chunks_by_dim_name(tmp_path):
    xiso.to_ome_zarr(_image(3), tmp_path / "a.zarr", pyramid=False, chunks=4)
    da = xiso.open_ome_zarr(tmp_path / "a.zarr", chunks={"z": 8})
    assert da.chunks[0] == (8, 8) and da.chunks[1][0] == 4
    with pytest.raises(xiso.OptionError, match=r"\['q'\]"):
        xiso.open_ome_zarr(tmp_path / "a.zarr", chunks={"q": 8})
