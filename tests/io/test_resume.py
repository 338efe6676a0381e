"""A killed conversion resumes: kills at any time (SIGKILL, SIGINT, during the
swap) resume to a store identical to an uninterrupted one, with less work; a
changed source or changed options are refused."""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr

import xiso
from xiso.errors import ResumeError

# a source that is slow to read (so a kill lands mid-way) and counts its reads
SLOW = textwrap.dedent(
    """
    import os, sys, time
    import xiso, xiso.cli
    from xiso.io import targets

    real = xiso.open_ome_zarr
    count = os.environ.get("XISO_TEST_COUNT")

    def slow_open(*args, **kwargs):
        da = real(*args, **kwargs)

        def nap(block):
            time.sleep(float(os.environ.get("XISO_TEST_NAP", "0.02")))
            if count:
                with open(count, "a") as f:
                    f.write("x")
            return block

        return da.copy(data=da.data.map_blocks(nap, dtype=da.dtype))

    xiso.open_ome_zarr = slow_open
    if os.environ.get("XISO_TEST_SLOW_SWAP"):
        swap = targets.LocalTarget._swap

        def slow_swap(self, tmp, overwrite):
            print("SWAPPING", flush=True)
            time.sleep(30)
            swap(self, tmp, overwrite)

        targets.LocalTarget._swap = slow_swap
    sys.exit(xiso.cli.main(sys.argv[1:]))
    """
)

OPTIONS = ["--quiet", "--chunks", "16", "--min-size", "8"]


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    rng = np.random.default_rng(3)
    data = rng.integers(0, 4000, size=(96, 64, 64), dtype="uint16")
    da = xr.DataArray(
        data,
        dims=("z", "y", "x"),
        name="cells",
        coords={
            "z": ("z", np.arange(96) * 0.25, {"units": "micrometer"}),
            "y": ("y", np.arange(64) * 1.0, {"units": "micrometer"}),
            "x": ("x", np.arange(64) * 1.0, {"units": "micrometer"}),
        },
    )
    src = root / "src.ome.zarr"
    xiso.to_ome_zarr(da, src, pyramid=False, chunks=16)
    script = root / "slow.py"
    script.write_text(SLOW)
    reference = root / "reference.ome.zarr"
    _convert(script, src, reference, env={"XISO_TEST_NAP": "0"}).check_returncode()
    return script, src, reference


def _convert(script, src, out, *extra, env=None, wait=True):
    full = {**os.environ, **(env or {})}
    command = [sys.executable, str(script), "convert", str(src), str(out), *OPTIONS, *extra]
    if not wait:
        return subprocess.Popen(
            command, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(command, env=full, capture_output=True, text=True, timeout=300)


def _recorded(out: Path) -> int:
    return sum(
        len(files)
        for tmp in out.parent.glob(f".{out.name}.xiso-tmp-*")
        for _, _, files in os.walk(tmp / ".xiso-progress")
    )


def _identical(a: Path, b: Path) -> None:
    """Every level and label decodes the same, chunk by chunk; the metadata is
    the same but for the write id."""
    ga, gb = zarr.open_group(a, mode="r"), zarr.open_group(b, mode="r")
    keys = sorted(ga.array_keys())
    assert keys == sorted(gb.array_keys())
    for key in keys:
        x, y = ga[key], gb[key]
        assert (x.shape, x.chunks, x.dtype) == (y.shape, y.chunks, y.dtype)
        np.testing.assert_array_equal(x[...], y[...])
    meta = [json.loads((p / "zarr.json").read_text())["attributes"] for p in (a, b)]
    for m in meta:
        m["xiso"].pop("write_id")
    assert meta[0] == meta[1]
    assert not list(b.rglob(".xiso-*")), "the record of the write is left in the image"
    assert not list(b.parent.glob(f".{b.name}.xiso-*")), "a temporary is left beside it"


def _kill_when(proc, out: Path, units: int, sig) -> None:
    deadline = time.monotonic() + 120
    while _recorded(out) < units:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.communicate(timeout=120)


TOTAL = None  # units of the whole conversion, measured once


def _total(script, src, tmp_path) -> int:
    global TOTAL
    if TOTAL is None:
        out = tmp_path / "count.ome.zarr"
        proc = _convert(script, src, out, wait=False, env={"XISO_TEST_NAP": "0.05"})
        _kill_when(proc, out, 1, signal.SIGKILL)
        job = json.loads(
            next(out.parent.glob(f".{out.name}.xiso-tmp-*/.xiso-job.json")).read_text()
        )
        from xiso.io.resume import progress

        TOTAL = progress(job, 0)[1]
    return TOTAL


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
@pytest.mark.parametrize("when", ["early", "half", "late"])
def test_killed_convert_resumes_identical(source, tmp_path, sig, when):
    script, src, reference = source
    total = _total(script, src, tmp_path)
    share = {"early": 0.05, "half": 0.5, "late": 0.75}[when]
    rng = random.Random(f"{sig}-{when}")
    units = max(1, round(total * (share + rng.uniform(-0.04, 0.04))))
    out = tmp_path / "out.ome.zarr"
    proc = _convert(script, src, out, wait=False, env={"XISO_TEST_NAP": "0.03"})
    _kill_when(proc, out, units, sig)
    if sig == signal.SIGINT:
        assert proc.returncode == 130
    assert not out.exists()
    info = subprocess.run(
        [sys.executable, "-m", "xiso", "info", str(out)], capture_output=True, text=True
    )
    assert info.returncode == 0, info.stderr
    assert "To resume it: xiso convert" in info.stdout and "--resume" in info.stdout
    assert "leftover: " in info.stdout and "its writer is gone" in info.stdout
    done = _recorded(out)
    assert done >= units
    count = tmp_path / "reads"
    resumed = _convert(script, src, out, "--resume", env={"XISO_TEST_COUNT": str(count)})
    assert resumed.returncode == 0, resumed.stderr
    _identical(reference, out)
    # less work: the source is read only where level 0 was missing, and for the
    # check of up to 8 sampled units of level 0 already written (an uninterrupted
    # conversion reads its 96 blocks; a unit of level 0 is 4 of them along z)
    reads = len(count.read_text()) if count.exists() else 0
    assert reads <= 96 + 32
    if when != "early":
        assert reads < 96


def test_killed_during_the_swap(source, tmp_path):
    script, src, reference = source
    out = tmp_path / "out.ome.zarr"
    proc = _convert(script, src, out, wait=False, env={"XISO_TEST_SLOW_SWAP": "1"})
    assert proc.stdout.readline().strip() == "SWAPPING"
    proc.kill()
    proc.communicate(timeout=60)
    resumed = _convert(script, src, out, "--resume", env={"XISO_TEST_NAP": "0"})
    assert resumed.returncode == 0, resumed.stderr
    _identical(reference, out)


def test_changed_source_or_options_are_refused(source, tmp_path):
    script, src, _ = source
    out = tmp_path / "out.ome.zarr"
    proc = _convert(script, src, out, wait=False, env={"XISO_TEST_NAP": "0.05"})
    _kill_when(proc, out, 3, signal.SIGKILL)
    other = _convert(script, src, out, "--resume", "--chunks", "32", env={"XISO_TEST_NAP": "0"})
    assert other.returncode == 1
    assert other.stderr.count("\n") == 1 and "layout.chunks: was [16, 16, 16]" in other.stderr
    assert "without --resume" in other.stderr or "without resume=True" in other.stderr
    # the source changed: a copy with one value changed, at the same path
    changed = tmp_path / "src2.ome.zarr"
    da = xiso.open_ome_zarr(src).load()
    da += 1000  # every value: whichever sampled units were written differ
    xiso.to_ome_zarr(da, changed, pyramid=False, chunks=16)
    moved = tmp_path / "moved.ome.zarr"
    proc = _convert(script, changed, moved, wait=False, env={"XISO_TEST_NAP": "0.05"})
    _kill_when(proc, moved, _total(script, src, tmp_path) // 2, signal.SIGKILL)
    again = _convert(script, src, moved, "--resume", env={"XISO_TEST_NAP": "0"})
    assert again.returncode == 1 and "the source's values differ" in again.stderr
    # without --resume: starts over (the dead write's temporary is removed)
    fresh = _convert(script, src, moved, env={"XISO_TEST_NAP": "0"})
    assert fresh.returncode == 0, fresh.stderr
    assert not list(tmp_path.glob(".moved.ome.zarr.xiso-*"))


# --------------------------------------------------------------------------
# the Python API: numpy and dask input, shards, labels, object stores, clusters
# --------------------------------------------------------------------------
def _image(n=48):
    rng = np.random.default_rng(5)
    data = rng.integers(0, 60000, size=(n, 64, 64), dtype="uint16")
    return xr.DataArray(
        data,
        dims=("z", "y", "x"),
        name="img",
        coords={"z": np.arange(n) * 0.5, "y": np.arange(64.0), "x": np.arange(64.0)},
    )


class _Interrupt:
    """Raises KeyboardInterrupt (what Ctrl-C raises) in the ``at``-th block read."""

    def __init__(self, at: int) -> None:
        self.at, self.seen = at, 0

    def __call__(self, block):
        self.seen += 1
        if self.seen == self.at:
            raise KeyboardInterrupt
        return block


def _interrupted(da, store, at, **options):
    """A write of ``da`` interrupted at its ``at``-th block read, with units of
    it recorded."""
    lazy = da.chunk(16) if not hasattr(da.data, "dask") else da
    stopper = _Interrupt(at)
    with dask.config.set(scheduler="threads", num_workers=1):
        with pytest.raises(KeyboardInterrupt):
            xiso.to_ome_zarr(
                lazy.copy(data=lazy.data.map_blocks(stopper, dtype=lazy.dtype)), store, **options
            )
    if isinstance(store, Path):
        assert _recorded(store) > 0, "interrupted before any unit was written"


def _same_levels(a, b, storage_options=None):
    ta = xiso.open_ome_zarr_pyramid(a)
    tb = xiso.open_ome_zarr_pyramid(b, storage_options=storage_options)
    for node in ta.subtree:
        if node.has_data:
            path = node.relative_to(ta)
            np.testing.assert_array_equal(
                node.to_dataset()[next(iter(node.data_vars))].values,
                tb[path].to_dataset()[next(iter(node.data_vars))].values,
            )


@pytest.mark.parametrize("shards", [None, 32])
@pytest.mark.parametrize("kind", ["numpy", "dask"])
def test_python_resume_with_labels(tmp_path, shards, kind):
    da = _image()
    seg = (da % 7).astype("uint8").rename("seg")
    options = dict(chunks=16, shards=shards, min_size=8, labels={"seg": seg})
    xiso.to_ome_zarr(da, tmp_path / "ref.zarr", **options)
    source = da if kind == "numpy" else da.chunk(16)
    # with shards a unit needs 8 of the 48 blocks, and dask may read most first
    _interrupted(source, tmp_path / "out.zarr", at=40 if shards is None else 47, **options)
    assert not (tmp_path / "out.zarr").exists()
    reads = []
    counted = source.copy(
        data=source.chunk(16).data.map_blocks(lambda b: reads.append(1) or b, dtype=source.dtype)
    )
    with dask.config.set(scheduler="threads", num_workers=1):
        xiso.to_ome_zarr(counted, tmp_path / "out.zarr", resume=True, **options)
    _identical(tmp_path / "ref.zarr", tmp_path / "out.zarr")
    if shards is None:  # a unit is a chunk, one block of the source (with shards: 8)
        assert len(reads) < 48, "the resumed write read all of its source again"


def test_resume_without_a_temporary_writes_as_usual(tmp_path):
    da = _image()
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", resume=True, chunks=16)
    xiso.to_ome_zarr(da, tmp_path / "b.zarr", chunks=16)
    _identical(tmp_path / "a.zarr", tmp_path / "b.zarr")


def test_a_changed_numpy_source_is_refused(tmp_path):
    da = _image()
    _interrupted(da, tmp_path / "out.zarr", at=40, chunks=16)
    changed = da + 1  # every value: whichever sampled units were written differ
    with pytest.raises(ResumeError, match=r"source\.content: the source.s values differ in unit"):
        xiso.to_ome_zarr(changed, tmp_path / "out.zarr", resume=True, chunks=16)
    with pytest.raises(ResumeError, match=r"levels\.0\.dtype|source\.dtype"):
        xiso.to_ome_zarr(da.astype("int32"), tmp_path / "out.zarr", resume=True, chunks=16)


def test_resume_on_an_object_store(s3_server, tmp_path):
    import s3fs

    endpoint, options = s3_server
    s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing").mkdir("resume")
    url = "s3://resume/img.ome.zarr"
    da = _image()
    xiso.to_ome_zarr(da, tmp_path / "ref.zarr", chunks=16, shards=32, min_size=8)
    _interrupted(da, url, at=40, chunks=16, shards=32, min_size=8, storage_options=options)
    fs = s3fs.S3FileSystem(endpoint_url=endpoint, key="testing", secret="testing")
    hidden = [p for p in fs.ls("resume") if "xiso-tmp" in p]
    assert hidden and fs.exists(f"{hidden[0]}/.xiso-job.json")
    xiso.to_ome_zarr(
        da, url, chunks=16, shards=32, min_size=8, storage_options=options, resume=True
    )
    _same_levels(tmp_path / "ref.zarr", url, storage_options=options)
    assert not [p for p in fs.ls("resume") if "xiso-" in p]
    assert not fs.exists(f"{url}/.xiso-job.json")


def test_resume_on_a_cluster(tmp_path):
    distributed = pytest.importorskip("distributed")
    da = _image()
    xiso.to_ome_zarr(da, tmp_path / "ref.zarr", chunks=16, shards=32, min_size=8)
    source = da.chunk(16)
    _interrupted(source, tmp_path / "out.zarr", at=47, chunks=16, shards=32, min_size=8)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
    ):
        xiso.to_ome_zarr(
            source, tmp_path / "out.zarr", chunks=16, shards=32, min_size=8, resume=True
        )
    _identical(tmp_path / "ref.zarr", tmp_path / "out.zarr")


def test_skipped_units_are_never_computed(tmp_path):
    """The units a killed write recorded are neither computed nor written again."""
    from xiso.io.resume import skip_done

    x = dsa.arange(64, chunks=16)
    calls = []
    y = x.map_blocks(lambda b: calls.append(int(b[0])) or b, dtype=x.dtype)
    out = np.asarray(skip_done(y, {(0,), (2,)}))
    assert sorted(calls) == [16, 48]
    np.testing.assert_array_equal(out[16:32], np.arange(16, 32))


def test_the_bar_shows_the_done_part_as_done(tmp_path):
    import io
    import re

    da = _image()
    _interrupted(da, tmp_path / "out.zarr", at=20, chunks=16)
    before = _recorded(tmp_path / "out.zarr")
    out = io.StringIO()
    with xiso.progress_bar(file=out):
        xiso.to_ome_zarr(da, tmp_path / "out.zarr", chunks=16, resume=True)
    # one bar for the levels (a resumed write stores them one computation
    # each), in chunks: it starts at those the killed write recorded
    group = zarr.open_group(tmp_path / "out.zarr", mode="r")
    total = sum(math.prod(-(-n // 16) for n in group[k].shape) for k in group.array_keys())
    frames = [(int(n), int(t)) for n, t in re.findall(r"(\d+)/(\d+) \[", out.getvalue())]
    assert 0 < before < total and len(group) > 1
    assert frames[0] == (before, total) and frames[-1] == (total, total), out.getvalue()
    assert out.getvalue().count("100%|") == 1 and "chunk" in out.getvalue()
    fresh = io.StringIO()
    with xiso.progress_bar(file=fresh):
        xiso.to_ome_zarr(da, tmp_path / "new.zarr", chunks=16, resume=True)
    assert re.findall(r"(\d+)/(\d+)", fresh.getvalue())[0][0] == "0"  # the control


def _logged(monkeypatch, fail_flush_at=None):
    """Log every flush and marker of :class:`Recorder` as (what, array path,
    unit, thread name); the ``fail_flush_at``-th flush raises OSError."""
    import threading

    from xiso.io import resume

    log: list[tuple[str, str, tuple[int, ...], str]] = []
    lock = threading.Lock()
    flush, record = resume.Recorder._flush, resume.Recorder._record

    calls = []

    def logged_flush(self, index):
        with lock:
            calls.append(index)
            if len(calls) == fail_flush_at:
                raise OSError(28, "No space left on device (test)")
        flush(self, index)
        with lock:
            log.append(("flush", self.array.path, index, threading.current_thread().name))

    def logged_record(self, index, digest):
        record(self, index, digest)
        with lock:
            log.append(("record", self.array.path, index, threading.current_thread().name))

    monkeypatch.setattr(resume.Recorder, "_flush", logged_flush)
    monkeypatch.setattr(resume.Recorder, "_record", logged_record)
    return log


def test_units_are_flushed_then_recorded_off_the_writer_threads(tmp_path, monkeypatch):
    """Every unit is recorded once, after its file is flushed, on the write's
    progress threads (the threads storing units never wait for the disk), and
    all of it before to_ome_zarr returns."""
    import threading

    log = _logged(monkeypatch)
    da = _image()
    with dask.config.set(scheduler="threads", num_workers=2):
        xiso.to_ome_zarr(da.chunk(16), tmp_path / "out.zarr", chunks=16, min_size=8)
    units = {(e[1], e[2]) for e in log}
    group = zarr.open_group(tmp_path / "out.zarr", mode="r")
    stored = {  # a unit per chunk (no shards at this size), of every level
        (f"{group.path}/{key}".lstrip("/"), index)
        for key, array in group.arrays()
        for index in np.ndindex(*(-(-n // c) for n, c in zip(array.shape, array.chunks)))
    }
    assert len(stored) > 64 and units == stored
    for unit in units:
        kinds = [e[0] for e in log if (e[1], e[2]) == unit]
        assert kinds == ["flush", "record"], (unit, kinds)
    assert all(e[3].startswith("xiso-progress") for e in log), {e[3] for e in log}
    assert not [t for t in threading.enumerate() if t.name.startswith("xiso-progress")]
    xr.testing.assert_equal(xiso.open_ome_zarr(tmp_path / "out.zarr").load(), da)


def test_a_failed_flush_records_nothing_after_it_and_raises(tmp_path, monkeypatch):
    """A unit whose bytes could not be flushed is never recorded (no unit is
    recorded before its flush); the write raises what the flush raised (and,
    that not being an interruption, removes its temporary), and the next
    write writes the image whole."""
    log = _logged(monkeypatch, fail_flush_at=5)
    da = _image()
    with dask.config.set(scheduler="threads", num_workers=2):
        with pytest.raises(OSError, match="No space left on device"):
            xiso.to_ome_zarr(da.chunk(16), tmp_path / "out.zarr", chunks=16, min_size=8)
    flushed = [(e[1], e[2]) for e in log if e[0] == "flush"]
    recorded = [(e[1], e[2]) for e in log if e[0] == "record"]
    assert len(flushed) >= 4 and set(recorded) <= set(flushed)
    assert not (tmp_path / "out.zarr").exists() and _recorded(tmp_path / "out.zarr") == 0
    monkeypatch.undo()
    xiso.to_ome_zarr(da, tmp_path / "out.zarr", chunks=16, min_size=8, resume=True)
    xr.testing.assert_equal(xiso.open_ome_zarr(tmp_path / "out.zarr").load(), da)
