"""Progress bars: xiso.progress.progress_bar and to_ome_zarr(progress=True)."""

from __future__ import annotations

import io
import re
import subprocess
import sys

import numpy as np
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


@pytest.mark.parametrize("raised", [KeyboardInterrupt, RuntimeError])
def test_a_computation_ended_before_its_bar_exists_keeps_its_exception(lazy, monkeypatch, raised):
    """dask calls the callback's finish also when ordering the graph (before
    the bar is made) is interrupted: Ctrl-C stays a KeyboardInterrupt, not
    tqdm's ``AttributeError: ... no attribute 'pbar'`` (issue 19, item 12)."""
    import dask.local

    def order(dsk):
        raise raised("stop")

    expected = int(lazy.values.astype("int64").sum())
    out = io.StringIO()
    with progress_bar(file=out):
        with monkeypatch.context() as patch:
            patch.setattr(dask.local, "order", order)
            with pytest.raises(raised, match="stop") as caught:
                lazy.sum().compute()
            assert not isinstance(caught.value.__context__, AttributeError)
        # the same callback, once the graph runs: one whole bar
        assert int(lazy.sum().compute()) == expected
    assert out.getvalue().count(BAR) == 1


KERNEL = """
import importlib.abc, io, sys, types, warnings
warnings.simplefilter("always")
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if {block!r} and name.partition(".")[0] == "ipywidgets":
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, Block())
import IPython  # a kernel as tqdm.auto tells one: IPython and ipykernel's shell loaded
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
import xiso
if {block!r}:
    with xiso.progress_bar():
        xiso.data.lightsheet(shape=(8, 16, 16), chunks=4).sum().compute()
else:
    from xiso.progress import _bar_class
    widget = any(cls.__module__ == "tqdm.notebook" for cls in _bar_class().__mro__)
    print("bar:", "widget" if widget else "text")
"""


def _in_fake_kernel(block: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", KERNEL.format(block=block)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_kernel_without_ipywidgets_shows_a_text_bar_and_no_warning():
    """In a Jupyter kernel without ipywidgets, tqdm.auto warns 'IProgress not
    found' and draws on stderr (shown as an error); xiso draws a text bar on
    stdout and warns nothing (issue 19, item 15)."""
    pytest.importorskip("IPython")
    done = _in_fake_kernel(block=True)
    assert done.returncode == 0, done.stderr
    assert BAR in done.stdout
    assert done.stderr == ""  # no TqdmWarning, no bar


def test_kernel_with_ipywidgets_shows_the_widget():
    """The control: the same fake kernel with ipywidgets chooses the widget."""
    pytest.importorskip("ipywidgets")
    pytest.importorskip("IPython")
    done = _in_fake_kernel(block=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bar: widget" and done.stderr == ""


class _InterruptedStream(io.StringIO):
    """A stream whose first write is interrupted (Ctrl-C while tqdm draws)."""

    def write(self, text):
        written = super().write(text)
        if self.tell() == written:
            raise KeyboardInterrupt
        return written


def test_ctrl_c_while_the_bar_is_drawn_ends_its_line(lazy):
    """Interrupted while tqdm draws its first frame, the bar is half made and
    its close() ends no line: the line is ended, so that the command's
    'xiso: interrupted' starts a line of its own (issue 19, item 12)."""
    out = _InterruptedStream()
    with pytest.raises(KeyboardInterrupt), progress_bar(file=out):
        lazy.sum().compute()
    text = out.getvalue()
    assert text.startswith("\r  0%|") and text.endswith("\n") and text.count("\n") == 1


PROGRESS_HINT = (
    r"has no progress option: on dask-backed data it only plans the work \(the result is "
    r"lazy\).*to_ome_zarr\(\.\.\., progress=True\), the `xiso convert` command, or "
    r"`with xiso\.progress_bar\(\): result\.compute\(\)`"
)


@pytest.mark.parametrize(
    "name, call",
    [
        ("near_isotropic", lambda da: da.iso.near_isotropic(progress=True)),
        ("downsample", lambda da: da.iso.downsample(z=2, progress=True)),
        ("downsample", lambda da: da.iso.downsample({"z": 2}, progress=False)),
        ("upsample", lambda da: da.iso.upsample(z=2, progress=True)),
        ("resample", lambda da: da.iso.resample("1 um", progress=True)),
        ("isotropic", lambda da: da.iso.isotropic(progress=True)),
        ("resample_like", lambda da: da.iso.resample_like(da, progress=True)),
        ("pyramid", lambda da: da.iso.pyramid(progress=True)),
        ("near_isotropic", lambda da: da.to_dataset().iso.near_isotropic(progress=True)),
        (
            "near_isotropic",
            lambda da: xr.DataTree.from_dict({"a": da.to_dataset()}).iso.near_isotropic(
                progress=True
            ),
        ),
    ],
)
def test_progress_on_a_lazy_method_says_where_progress_lives(
    lazy, raise_if_dask_computes, name, call
):
    """``near_isotropic(progress=True)``, the first thing a user tries, was a
    bare TypeError (downsample's: a FactorError for a dim named 'progress')."""
    with pytest.raises(
        xiso.errors.UnknownOptionError, match=rf"^iso\.{name}\(\) {PROGRESS_HINT}"
    ) as caught:
        call(lazy)
    # a TypeError still, as Python's own for an unknown keyword, and an XisoError
    assert isinstance(caught.value, TypeError) and isinstance(caught.value, xiso.XisoError)


def test_a_dim_named_progress_is_still_a_factor(raise_if_dask_computes):
    """The control: downsample(progress=2) on a dim named 'progress' reduces it."""
    values = np.arange(8.0)
    da = xr.DataArray(values, dims="progress", coords={"progress": values * 0.5})
    out = da.iso.downsample(progress=2)
    np.testing.assert_array_equal(out.values, values.reshape(4, 2).mean(axis=1))


def test_refusing_progress_keeps_the_signature(lazy):
    """Help and Shift-Tab show the method's own parameters (no progress)."""
    import inspect

    params = inspect.signature(lazy.iso.near_isotropic).parameters
    assert "progress" not in params and {"method", "boundary", "target"} <= set(params)
    assert lazy.iso.near_isotropic.__doc__.startswith("Downsample the finer spatial dims")


def _frames(text: str) -> list[tuple[int, int]]:
    """(n, total) of every frame a tqdm text bar drew."""
    return [(int(n), int(t)) for n, t in re.findall(r"\| *(\d+)/(\d+) \[", text)]


@pytest.mark.parametrize("shards", [None, 32])
def test_a_write_in_several_computations_shows_one_bar_in_its_units(tmp_path, monkeypatch, shards):
    """A pyramid whose level 0 is stored two levels at a time (here: any
    lazy level 0) takes several computations and shows one bar, counted in
    the chunks (shards) it stores: its total is every level's count of them,
    read back from the store with zarr, and it ends there."""
    import dask.array as dsa
    import zarr

    from xiso.io import write

    monkeypatch.setattr(write, "ONE_PASS_BYTES", 0)
    computations: list[int] = []
    real = dsa.store
    monkeypatch.setattr(
        dsa, "store", lambda s, *a, **k: computations.append(len(s)) or real(s, *a, **k)
    )
    da = xiso.data.lightsheet(shape=(64, 64, 64), chunks=16, seed=3)
    out = io.StringIO()
    with progress_bar(file=out):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", chunks=16, shards=shards, min_size=8)
    group = zarr.open_group(tmp_path / "a.zarr", mode="r")
    arrays = [group[path] for path in sorted(k for k in group.array_keys())]
    unit = "shard" if shards else "chunk"
    stored = [a.shards or a.chunks for a in arrays]
    total = sum(
        int(np.prod([-(-n // c) for n, c in zip(a.shape, u)])) for a, u in zip(arrays, stored)
    )
    text = out.getvalue()
    assert len(computations) > 1 and len(arrays) > 2
    assert text.count(BAR) == 1, text
    frames = _frames(text)
    assert {t for _, t in frames} == {total} and frames[-1][0] == total
    assert [n for n, _ in frames] == sorted(n for n, _ in frames)  # never back
    assert f"{unit}/s" in text or f"s/{unit}" in text, text


def test_a_job_bar_moves_over_its_tasks_and_a_plain_bar_counts_tasks(lazy):
    """Inside work(), each computation moves the one bar on by its step's
    units, evenly over its tasks; outside, a bar counts tasks (the control)."""
    from xiso.progress import work

    out = io.StringIO()
    with progress_bar(file=out, mininterval=0, miniters=1), work(10, 4, unit="u") as job:
        with job.step(2):
            lazy.sum().compute()
        with job.step(4):
            lazy.max().compute()
    frames = _frames(out.getvalue())
    assert frames[0] == (4, 10) and frames[-1] == (10, 10), frames
    assert len({n for n, _ in frames}) > 3  # moved within the steps, not only at their ends
    plain = io.StringIO()
    with progress_bar(file=plain):
        lazy.sum().compute()
    n, total = _frames(plain.getvalue())[-1]
    assert n == total >= lazy.data.npartitions  # tasks: at least one per block
