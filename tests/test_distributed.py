"""Scale-out: the same bytes on a dask.distributed cluster, and retries when a worker dies."""

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

import xiso

distributed = pytest.importorskip("distributed")
cloudpickle = pytest.importorskip("cloudpickle")
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _files(root: Path) -> dict[str, bytes]:
    """Every file's bytes; the root metadata without the write id (unique per write)."""
    files = {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }
    meta = json.loads(files["zarr.json"])
    assert len(meta["attributes"]["xiso"].pop("write_id")) == 32
    files["zarr.json"] = json.dumps(meta).encode()
    return files


def _die_once(block, marker):
    """Identity, except that the first call anywhere kills its worker process."""
    if not os.path.exists(marker):
        Path(marker).touch()
        os._exit(1)
    return block


@pytest.fixture(scope="module")
def client():
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


@pytest.fixture
def source(tmp_path):
    da = xiso.data.lightsheet(shape=(64, 64, 64), seed=5)
    path = tmp_path / "src.ome.zarr"
    xiso.to_ome_zarr(da, path, pyramid=False, chunks=16)
    return da, path


def _convert(src, out, **kw):
    iso = xiso.open_ome_zarr(src, near_isotropic=True)
    xiso.to_ome_zarr(iso, out, chunks=16, min_size=8, **kw)


def test_cluster_output_is_byte_identical(source, tmp_path, client):
    _, src = source
    with _local():
        _convert(src, tmp_path / "local.zarr")
    _convert(src, tmp_path / "cluster.zarr")  # the module client is the default scheduler
    local, cluster = _files(tmp_path / "local.zarr"), _files(tmp_path / "cluster.zarr")
    assert local.keys() == cluster.keys() and len(local) > 10
    assert local == cluster


def _local():
    import dask

    return dask.config.set(scheduler="threads")


def test_worker_killed_mid_conversion_still_gives_a_complete_store(source, tmp_path, client):
    da, src = source
    marker = str(tmp_path / "killed-once")
    lazy = xiso.open_ome_zarr(src)
    meta = np.empty((0, 0, 0), dtype=lazy.dtype)
    fragile = lazy.copy(data=lazy.data.map_blocks(_die_once, marker, dtype=lazy.dtype, meta=meta))
    xiso.to_ome_zarr(fragile.iso.near_isotropic(), tmp_path / "out.zarr", chunks=16, min_size=8)
    assert os.path.exists(marker)  # a worker really died
    back = xiso.open_ome_zarr(tmp_path / "out.zarr")
    np.testing.assert_array_equal(back.values, da.iso.near_isotropic().values)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_cli_scheduler_option(source, tmp_path, client):
    from xiso.cli import main

    da, src = source
    address = client.scheduler.address
    assert main(["convert", str(src), str(tmp_path / "o.zarr"), "--scheduler", address]) == 0
    back = xiso.open_ome_zarr(tmp_path / "o.zarr")
    np.testing.assert_array_equal(back.values, da.iso.near_isotropic().values)
    assert (
        main(["convert", str(src), str(tmp_path / "p.zarr"), "--scheduler", "tcp://127.0.0.1:9"])
        == 1
    )


def test_label_colours_on_a_cluster(tmp_path, client):
    """The values of a label image's units are gathered where they are stored:
    on the workers, whose copies the write never sees; it reads the stored
    level back instead, and lists a colour for every value."""
    da = xiso.data.lightsheet(shape=(32, 32, 32), seed=5)
    seg = (da // 100).astype("uint16").chunk(8).rename("seg")
    out = tmp_path / "a.ome.zarr"
    xiso.to_ome_zarr(da.chunk(16), out, labels={"seg": seg}, chunks=8, min_size=8)
    meta = json.loads((out / "labels" / "seg" / "zarr.json").read_text())
    listed = [c["label-value"] for c in meta["attributes"]["ome"]["image-label"]["colors"]]
    values = set(np.unique(seg.values).tolist())
    assert len(values) > 3 and listed == sorted(values | {0})
