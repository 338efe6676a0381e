"""Progress bars: xiso.progress.progress_bar and to_ome_zarr(progress=True)."""

import io
import re

import pytest
import xarray as xr

import xiso
from xiso.progress import progress_bar

BAR = "100%|"  # tqdm's text bar at the end of a computation


@pytest.fixture
def lazy():
    return xiso.data.lightsheet(shape=(16, 32, 32), chunks=8, seed=3)


def test_bar_reports_every_task(lazy):
    iso = lazy.iso.near_isotropic()
    out = io.StringIO()
    with progress_bar(file=out, desc="iso"):
        result = iso.compute()
    text = out.getvalue()
    done = re.search(r"iso: 100%\|.*\| (\d+)/(\d+) ", text)
    assert done and done[1] == done[2] and int(done[1]) > 1  # every task, in tasks
    xr.testing.assert_identical(result, lazy.compute().iso.near_isotropic())


def test_one_bar_per_computation_and_none_outside(lazy):
    out = io.StringIO()
    with progress_bar(file=out):
        lazy.sum().compute()
        lazy.max().compute()
    lazy.min().compute()
    assert out.getvalue().count(BAR) == 2


def test_entering_computes_nothing(lazy, raise_if_dask_computes):
    out = io.StringIO()
    with progress_bar(file=out):
        iso = lazy.iso.near_isotropic()
        tree = lazy.iso.pyramid(min_size=4)
    assert out.getvalue() == ""
    assert hasattr(iso.data, "dask") and hasattr(tree["0"].ds["lightsheet"].data, "dask")


def test_to_ome_zarr_progress_on_stderr(lazy, tmp_path, capsys):
    xiso.to_ome_zarr(lazy, tmp_path / "a.zarr", progress=True, chunks=8)
    assert BAR in capsys.readouterr().err
    xiso.to_ome_zarr(lazy, tmp_path / "b.zarr", chunks=8)  # off by default
    xiso.to_ome_zarr(lazy, tmp_path / "c.zarr", progress=False, chunks=8)
    assert capsys.readouterr() == ("", "")
    xr.testing.assert_identical(
        xiso.open_ome_zarr(tmp_path / "a.zarr").compute(),
        xiso.open_ome_zarr(tmp_path / "b.zarr").compute(),
    )


def test_nested_blocks_show_one_bar(lazy, tmp_path, capsys):
    out = io.StringIO()
    with progress_bar(file=out):
        xiso.to_ome_zarr(lazy, tmp_path / "a.zarr", progress=True, chunks=8)
    assert out.getvalue().count(BAR) == 1
    assert capsys.readouterr().err == ""


def test_a_failing_computation_leaves_no_bar_active(lazy, tmp_path):
    out = io.StringIO()
    with pytest.raises(ZeroDivisionError), progress_bar(file=out):
        lazy.data.map_blocks(lambda b: 1 // 0, dtype=int).compute()
    lazy.sum().compute()
    with progress_bar(file=out):  # not taken for a nested block
        lazy.max().compute()
    assert out.getvalue().count(BAR) == 1


def test_distributed_client_prints_one_line_and_no_bar(lazy, tmp_path, capsys):
    distributed = pytest.importorskip("distributed")
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        out = io.StringIO()
        with progress_bar(file=out):
            total = int(lazy.sum().compute())
        xiso.to_ome_zarr(lazy, tmp_path / "a.zarr", progress=True, chunks=8)
    assert total == int(lazy.values.sum())
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and "dask.distributed Client" in lines[0] and "%|" not in lines[0]
    err = capsys.readouterr().err
    assert "dask.distributed Client" in err and "%|" not in err
    with progress_bar(file=out):  # the client is gone: a bar again
        lazy.sum().compute()
    assert BAR in out.getvalue()


def test_dataset_is_refused_with_what_to_do(lazy, tmp_path):
    ds = xr.Dataset({"a": lazy, "b": lazy})
    with pytest.raises(
        xiso.OmeZarrError,
        match=r"writes one image.*Dataset of 2 variables \['a', 'b'\].*pick a variable "
        r"\(ds\['a'\]\).*as channels \(ds\.to_dataarray\('c'\)\)",
    ):
        xiso.to_ome_zarr(ds, tmp_path / "a.zarr")
    assert not (tmp_path / "a.zarr").exists()
