"""Sharded OME-Zarr 0.5: one task writes each shard (zarr-python #3682 cannot
happen), the layout the plan shows is the one written, and every reader reads it."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xiso
from xiso.io import engine
from xiso.io import write as io_write


def _image(shape=(64, 96, 80), dz=0.25, chunks=(8, 16, 16), seed=0, name="img"):
    """A random uint16 image on dask, chunked far smaller than the shards."""
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 65535, size=shape, dtype="uint16")
    da = xr.DataArray(
        dsa.from_array(data, chunks=chunks),
        dims=("z", "y", "x"),
        name=name,
        coords={
            "z": ("z", np.arange(shape[0]) * dz, {"units": "micrometer"}),
            "y": ("y", np.arange(shape[1]) * 1.0, {"units": "micrometer"}),
            "x": ("x", np.arange(shape[2]) * 1.0, {"units": "micrometer"}),
        },
    )
    return da, data


def _mean_levels(data: np.ndarray, plan) -> list[np.ndarray]:
    """Independent reference: every level by reshape + float64 mean, rounded half to even."""
    out = [data]
    for level in plan.levels[1:]:
        prev = out[-1]
        f = [level.factors.get(d, 1) for d in ("z", "y", "x")]
        n = [s // k for s, k in zip(prev.shape, f)]
        trimmed = prev[: n[0] * f[0], : n[1] * f[1], : n[2] * f[2]].astype(np.float64)
        blocks = trimmed.reshape(n[0], f[0], n[1], f[1], n[2], f[2]).mean(axis=(1, 3, 5))
        out.append(np.round(blocks).astype(prev.dtype))
    return out


def _check_store(store: Path, data: np.ndarray, plan) -> None:
    """Every level decodes to the reference, with the plan's chunk and shard shapes."""
    group = zarr.open_group(store, mode="r")
    for level, ref in zip(plan.levels, _mean_levels(data, plan)):
        array = group[level.path]
        assert array.shards == plan.layout.shards
        assert array.chunks == level.chunks
        np.testing.assert_array_equal(array[...], ref)


OPTIONS = dict(chunks=16, shards=32, min_size=8)


# --------------------------------------------------------------------------
# the control: zarr-python's own dask store into a sharded array loses data
# --------------------------------------------------------------------------
def test_control_dask_store_into_shards_loses_data(tmp_path):
    """The zarr-python #3682 scenario, as users write it: the test below can fail."""
    da, data = _image()
    array = zarr.create_array(
        tmp_path / "c.zarr",
        shape=data.shape,
        dtype=data.dtype,
        chunks=(16,) * 3,
        shards=(32,) * 3,
        fill_value=0,
    )
    lost = 0
    for _ in range(3):
        dsa.store(da.data, array, lock=False, scheduler="threads", num_workers=8)
        lost += int((array[...] != data).sum())
    assert lost > 0, "the race did not show: the test of xiso's writer would prove nothing"


@pytest.mark.parametrize("run", range(10))
def test_every_value_exact_with_dask_chunks_smaller_than_shards(tmp_path, run):
    da, data = _image(seed=run, chunks=(8, 16, 16) if run % 2 else (5, 7, 11))
    plan = da.iso.plan(**OPTIONS)
    assert plan.layout.shards == (32, 32, 32) and len(plan.levels) >= 3
    with dask.config.set(scheduler="threads", num_workers=8):
        xiso.to_ome_zarr(da, tmp_path / "s.zarr", **OPTIONS)
    _check_store(tmp_path / "s.zarr", data, plan)


def test_numpy_input_sharded(tmp_path):
    da, data = _image()
    da = da.compute()
    xiso.to_ome_zarr(da, tmp_path / "n.zarr", pyramid=False, chunks=16, shards=32)
    _check_store(tmp_path / "n.zarr", data, da.iso.plan(pyramid=False, chunks=16, shards=32))


class _Recorder:
    """A store target that records the region of every write."""

    def __init__(self, target, log, lock):
        self.target, self.log, self.lock = target, log, lock
        self.shape, self.dtype, self.ndim = target.shape, target.dtype, target.ndim

    def __setitem__(self, key, value):
        with self.lock:
            self.log.append((id(self.target), self.shape, key))
        self.target[key] = value


def test_one_task_writes_each_shard_whole(tmp_path, monkeypatch):
    log: list = []
    lock = threading.Lock()
    real = engine.regions
    monkeypatch.setattr(engine, "regions", lambda array: _Recorder(real(array), log, lock))
    da, _ = _image(chunks=(5, 7, 11))
    xiso.to_ome_zarr(da, tmp_path / "r.zarr", **OPTIONS)
    by_array: dict = {}
    for ident, shape, key in log:
        by_array.setdefault((ident, shape), []).append(key)
    assert len(by_array) == len(da.iso.plan(**OPTIONS).levels)
    for (_, shape), keys in by_array.items():
        starts = set()
        for key in keys:
            assert len(key) == 3
            for k, n in zip(key, shape):
                # a whole shard: starts on the shard grid, ends at the next edge or the array's
                assert k.start % 32 == 0 and k.stop == min(k.start + 32, n)
            starts.add(tuple(k.start for k in key))
        assert len(starts) == len(keys) == math.prod(-(-n // 32) for n in shape)


@pytest.mark.parametrize("one_pass_bytes", [2**30, 0], ids=["one-pass", "level-by-level"])
def test_distributed_two_workers(tmp_path, monkeypatch, one_pass_bytes):
    distributed = pytest.importorskip("distributed")
    monkeypatch.setattr(io_write, "ONE_PASS_BYTES", one_pass_bytes)
    da, data = _image(chunks=(8, 16, 16))
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        for i in range(3):
            xiso.to_ome_zarr(da, tmp_path / f"d{i}.zarr", **OPTIONS)
            _check_store(tmp_path / f"d{i}.zarr", data, da.iso.plan(**OPTIONS))


@pytest.mark.parametrize("one_pass_bytes", [2**30, 0], ids=["one-pass", "two-by-two"])
def test_a_large_pyramid_goes_two_levels_at_a_time(tmp_path, monkeypatch, one_pass_bytes):
    """A lazy level 0 larger than ONE_PASS_BYTES is stored two levels per
    computation, each pair made from the level below it as stored (memory
    bounded by a few units per thread); a smaller one in one computation.
    Either way every level is the independent reference."""
    monkeypatch.setattr(io_write, "ONE_PASS_BYTES", one_pass_bytes)
    calls: list[int] = []
    real = dsa.store
    monkeypatch.setattr(
        dsa, "store", lambda sources, *a, **k: calls.append(len(sources)) or real(sources, *a, **k)
    )
    da, data = _image(chunks=(5, 7, 11))
    plan = da.iso.plan(**OPTIONS)
    xiso.to_ome_zarr(da, tmp_path / "p.zarr", **OPTIONS)
    _check_store(tmp_path / "p.zarr", data, plan)
    levels = len(plan.levels)
    pairs = [min(2, levels - i) for i in range(0, levels, 2)]  # two levels a computation
    assert calls == (pairs if one_pass_bytes == 0 else [levels])


@pytest.mark.parametrize("name", ["zarr", "zarrs", "zarrista"])
def test_every_engine_writes_the_same_values(tmp_path, monkeypatch, name):
    pytest.importorskip(name)
    monkeypatch.setenv(engine.ENV, name)
    da, data = _image(chunks=(5, 7, 11))
    xiso.to_ome_zarr(da, tmp_path / "e.zarr", **OPTIONS)
    _check_store(tmp_path / "e.zarr", data, da.iso.plan(**OPTIONS))


def test_object_store(s3_server, tmp_path):
    endpoint, options = s3_server
    import s3fs

    s3fs.S3FileSystem(**{"endpoint_url": endpoint, "key": "testing", "secret": "testing"}).mkdir(
        "shards"
    )
    da, data = _image(chunks=(8, 16, 16))
    url = "s3://shards/img.ome.zarr"
    xiso.to_ome_zarr(da, url, storage_options=options, **OPTIONS)
    xiso.to_ome_zarr(da * 0 + 7, url, storage_options=options, overwrite=True, **OPTIONS)
    back = xiso.open_ome_zarr(url, storage_options=options)
    assert back.encoding["shards"] == (32, 32, 32)
    np.testing.assert_array_equal(back.values, np.full(data.shape, 7, "uint16"))


@pytest.mark.parametrize("one_pass_bytes", [2**30, 0], ids=["one-pass", "two-by-two"])
def test_labels_are_sharded_like_their_image(tmp_path, monkeypatch, one_pass_bytes):
    """Also when the image goes two levels at a time: its labels come with
    the last pair, and every level is the reference (the image's mean, the
    labels' values at level 0)."""
    monkeypatch.setattr(io_write, "ONE_PASS_BYTES", one_pass_bytes)
    da, data = _image(chunks=(8, 16, 16))
    seg = xr.DataArray(
        (data % 5).astype("uint32"), dims=da.dims, coords=da.coords, name="cells"
    ).chunk({"z": 8, "y": 16, "x": 16})
    xiso.to_ome_zarr(da, tmp_path / "l.zarr", labels={"cells": seg}, **OPTIONS)
    group = zarr.open_group(tmp_path / "l.zarr", mode="r")
    for path in group["labels/cells"].array_keys():
        label, image = group[f"labels/cells/{path}"], group[path]
        assert label.shards == image.shards == (32, 32, 32)
        assert label.chunks == image.chunks
    np.testing.assert_array_equal(group["labels/cells/0"][...], data % 5)
    _check_store(tmp_path / "l.zarr", data, da.iso.plan(**OPTIONS))


# --------------------------------------------------------------------------
# the layout: defaults, refusals, and the plan matches the store
# --------------------------------------------------------------------------
def test_small_image_stays_unsharded_by_default(tmp_path):
    da, _ = _image()
    xiso.to_ome_zarr(da, tmp_path / "u.zarr", min_size=8)
    assert zarr.open_array(tmp_path / "u.zarr/0").shards is None
    assert da.iso.plan(min_size=8).layout.shards is None


def test_auto_shards_a_big_image_and_keeps_chunks_under_16_mib(raise_if_dask_computes):
    big = xr.DataArray(
        dsa.zeros((8192, 16384, 16384), dtype="uint16", chunks=(256, 1024, 1024)),
        dims=("z", "y", "x"),
        coords={
            d: np.arange(n) * s
            for d, n, s in [("z", 8192, 0.25), ("y", 16384, 1.0), ("x", 16384, 1.0)]
        },
    )
    assert big.nbytes >= 2 * 2**40
    plan = big.iso.plan()
    assert plan.layout.shards is not None
    for level in plan.levels:
        assert level.files <= 100_000
        assert math.prod(level.chunks) * 2 < 16 * 2**20
        assert all(s % c == 0 for s, c in zip(level.shards, level.chunks))
    shards = plan.layout.shards
    assert math.prod(shards) * 2 <= 64 * 2**20
    assert plan.levels[0].files == math.prod(-(-n // s) for n, s in zip(big.shape, shards))
    assert plan.levels[0].nbytes == big.nbytes
    assert "total" in str(plan) and "<table>" in plan._repr_html_()


@pytest.mark.parametrize(
    ("options", "match"),
    [
        (dict(shards=32, version="0.4"), "needs zarr v3, i.e. NGFF 0.5"),
        (dict(chunks=16, shards=24), "shard edge of dimension 'z' is 24, not a whole multiple"),
        (dict(shards="yes"), "shards='yes'"),
        (dict(shards={"w": 32}), "shards names 'w'"),
        (dict(shards={"z": 0}), "edge of dimension 'z' is 0"),
        (dict(chunks=-1), "edge of dimension 'z' is -1"),
    ],
)
def test_bad_layouts_are_refused_before_writing(tmp_path, options, match):
    da, _ = _image()
    with pytest.raises(xiso.OptionError, match=match):
        da.iso.plan(**options)
    with pytest.raises(xiso.OptionError, match=match):
        xiso.to_ome_zarr(da, tmp_path / "x.zarr", **options)
    assert not (tmp_path / "x.zarr").exists()


def test_plan_is_what_is_written(tmp_path):
    da, _ = _image(shape=(40, 200, 136))
    options = dict(chunks={"z": 8, "y": 32, "x": 32}, shards={"y": 64, "x": 64}, min_size=4)
    plan = da.iso.plan(**options)
    xiso.to_ome_zarr(da, tmp_path / "p.zarr", **options)
    group = zarr.open_group(tmp_path / "p.zarr", mode="r")
    assert sorted(group.array_keys(), key=int) == [lv.path for lv in plan.levels]
    for level in plan.levels:
        array = group[level.path]
        assert array.shape == tuple(level.shape.values())
        assert array.chunks == level.chunks and array.shards == level.shards == (8, 64, 64)
        stored = [p for p in (tmp_path / "p.zarr" / level.path / "c").rglob("*") if p.is_file()]
        assert len(stored) == level.files  # random data: no shard is all fill value
    meta = json.loads((tmp_path / "p.zarr" / "zarr.json").read_text())["attributes"]["ome"]
    scales = [
        d["coordinateTransformations"][0]["scale"] for d in meta["multiscales"][0]["datasets"]
    ]
    assert scales == [[lv.spacing[d].value for d in "zyx"] for lv in plan.levels]


def test_plan_of_a_tree_and_of_unitless_input():
    da, _ = _image(shape=(32, 64, 64))
    tree = da.iso.pyramid(min_size=8)
    plan = tree.iso.plan(shards=None)
    assert [tuple(lv.shape.values()) for lv in plan.levels] == [
        tree[k]["img"].shape for k in tree.children
    ]
    assert plan.levels[1].factors == {"z": 2}
    with pytest.raises(TypeError, match="unexpected keyword argument 'bogus'"):
        da.iso.plan(bogus=1)
    plain = xr.DataArray(
        np.zeros((4, 4)), dims=("y", "x"), coords={"y": [0, 1, 2, 3], "x": [0, 2, 4, 6]}
    )
    assert str(plain.iso.plan().levels[0].spacing["x"]) == "2"


# --------------------------------------------------------------------------
# readers of the sharded store
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    da, data = _image(chunks=(8, 16, 16))
    store = tmp_path_factory.mktemp("readers") / "s.ome.zarr"
    seg = xr.DataArray((data % 3).astype("uint8"), dims=da.dims, coords=da.coords)
    xiso.to_ome_zarr(da, store, labels={"cells": seg}, **OPTIONS)
    return store, data, da.iso.plan(**OPTIONS)


def test_read_back_by_xiso(sharded):
    store, data, plan = sharded
    tree = xiso.open_ome_zarr_pyramid(store)
    for level, ref in zip(plan.levels, _mean_levels(data, plan)):
        np.testing.assert_array_equal(tree[level.path]["img"].values, ref)
    back = xiso.open_ome_zarr(store)
    assert back.encoding["shards"] == (32, 32, 32) and back.encoding["chunks"] == (16, 16, 16)
    assert back.chunks == ((32, 32), (32, 32, 32), (32, 32, 16))  # a task per shard


def test_read_back_by_tensorstore(sharded):
    ts = pytest.importorskip("tensorstore")
    store, data, plan = sharded
    for level, ref in zip(plan.levels, _mean_levels(data, plan)):
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(store / level.path)}}
        np.testing.assert_array_equal(ts.open(spec).result().read().result(), ref)


def test_read_back_by_ngff_zarr(sharded):
    nz = pytest.importorskip("ngff_zarr")
    store, data, plan = sharded
    ms = nz.from_ngff_zarr(str(store), validate=True)
    for image, ref in zip(ms.images, _mean_levels(data, plan)):
        np.testing.assert_array_equal(np.asarray(image.data), ref)


def test_read_back_by_ome_zarr_py(sharded):
    pytest.importorskip("ome_zarr")
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    store, data, plan = sharded
    nodes = list(Reader(parse_url(str(store)))())
    node = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs))
    for level, ref in zip(node.data, _mean_levels(data, plan)):
        np.testing.assert_array_equal(np.asarray(level), ref)


def test_validates_against_the_strict_schema(sharded):
    pytest.importorskip("jsonschema")
    from tests.io.test_schema import _strict_json, _validator

    store, _, _ = sharded
    strict = _validator("0.5", "strict_image.schema")
    assert list(strict.iter_errors(_strict_json(store))) == []
    label = _validator("0.5", "strict_label.schema")
    assert list(label.iter_errors(_strict_json(store / "labels" / "cells"))) == []


# --------------------------------------------------------------------------
# the command line
# --------------------------------------------------------------------------
def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "xiso", *args], capture_output=True, text=True, timeout=300
    )


def test_cli_dry_run_writes_nothing_and_convert_shards(tmp_path):
    da, _ = _image(chunks=(8, 16, 16))
    xiso.to_ome_zarr(da, tmp_path / "src.zarr", pyramid=False)
    out = tmp_path / "out.zarr"
    dry = _cli(
        "convert",
        str(tmp_path / "src.zarr"),
        str(out),
        "--dry-run",
        "--shards",
        "32",
        "--chunks",
        "16",
        "--min-size",
        "8",
    )
    assert dry.returncode == 0, dry.stderr
    assert not out.exists()
    assert "OME-Zarr 0.5 plan" in dry.stdout and "32 x 32 x 32" in dry.stdout
    done = _cli(
        "convert",
        str(tmp_path / "src.zarr"),
        str(out),
        "--shards",
        "32",
        "--chunks",
        "16",
        "--min-size",
        "8",
        "--quiet",
    )
    assert done.returncode == 0, done.stderr
    assert zarr.open_array(out / "0").shards == (32, 32, 32)
    info = _cli("info", str(out))
    assert "shards" in info.stdout and "32 x 32 x 32" in info.stdout
    bad = _cli(
        "convert",
        str(tmp_path / "src.zarr"),
        str(tmp_path / "o2.zarr"),
        "--shards",
        "32",
        "--ngff-version",
        "0.4",
    )
    assert bad.returncode != 0 and "needs zarr v3" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
