"""Smoke test of the benchmark suite: every case runs on a tiny input, so the
benchmarks cannot rot (flox runs its asv cases the same way, tests/test_asv.py).

Nothing here is timed or compared with a time: each case's setup, timed part
and check run once on a 32x64x64 volume made in a temporary folder (no cache),
the report is built from those runs, and one case goes through the real child
process that ``benchmarks/run.py`` starts.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import dask
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
TINY = (32, 64, 64)


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        cases = importlib.import_module("cases")
        run = importlib.import_module("run")
        yield cases, run
    finally:
        sys.path.remove(str(BENCH))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("bench")


@pytest.fixture(scope="module")
def results(bench, workdir):
    """case name -> the child's result dict, every case once on the tiny input."""
    cases, _ = bench
    out = {}
    with dask.config.set(scheduler="threads", num_workers=cases.THREADS):
        for case in cases.CASES:
            missing = cases.missing_modules(case.requires)
            if missing:
                out[case.name] = {"skipped": missing}
                continue
            state = case.setup(cases.Ctx(TINY, workdir, tiny=True))
            if case.prepare is not None:  # untimed in run.py, e.g. a write killed half-way
                case.prepare(state)
            result = case.run(state)
            out[case.name] = {"info": case.describe(state, result)}
    return out


def _names():
    sys.path.insert(0, str(BENCH))
    try:
        return [c.name for c in importlib.import_module("cases").CASES]
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("name", _names())
def test_case_runs_on_a_tiny_input(bench, results, name):
    cases, _ = bench
    result = results[name]
    if "skipped" in result:
        pytest.skip(result["skipped"])
    info = result["info"]
    assert isinstance(info["note"], str)
    if cases.BY_NAME[name].number:  # xiso's own cases pass their checks (a peer may not:
        assert info.get("check_ok", True), info["note"]  # xarray-multiscale's mode is inexact)


def test_every_row_has_a_reference_and_a_group_title(bench):
    cases, run = bench
    for case in cases.CASES:
        assert case.group in run.GROUP_TITLES
        ref = run.reference_of(case.name)
        assert ref is None or ref in cases.BY_NAME, (case.name, ref)


def test_each_group_is_one_module_and_the_registry_holds_them_all(bench):
    """cases.py is the registry: every case lives in the module of its group,
    cases_<group>.py, and CASES is those modules' lists, in run.py's order."""
    cases, run = bench
    groups = list(dict.fromkeys(c.group for c in cases.CASES))
    modules = {p.stem.removeprefix("cases_") for p in BENCH.glob("cases_*.py")}
    assert set(groups) == modules - {"base"}
    by_group = [c for g in groups for c in importlib.import_module(f"cases_{g}").CASES]
    assert [c.name for c in by_group] == [c.name for c in cases.CASES]
    assert all(c.group == g for g in groups for c in importlib.import_module(f"cases_{g}").CASES)
    assert set(groups) <= set(run.GROUP_TITLES)


def _stats_of(run, results: dict) -> dict:
    """run.py's Stats for the tiny runs, with made-up times and memory (the
    tests read the tables built from them, never the numbers)."""
    stats = {}
    for name, result in results.items():
        s = run.Stats(name, [])
        if "skipped" in result:
            s.skipped = result["skipped"]
        else:
            fake = {"seconds": 1.0, "peak_rss": 2**27, "extra": 2**24, "rss_loaded": 2**26}
            s.runs = [{**fake, **result["info"]} for _ in range(2)]
        stats[name] = s
    return stats


def test_report_of_the_tiny_runs(bench, results):
    """The table and its targets are built from every row without error."""
    cases, run = bench
    stats = _stats_of(run, results)
    table = run.table(stats, placeholder=False)
    for case in cases.CASES:
        assert f"`{case.name}`" in table


def test_child_process_protocol(bench, tmp_path):
    """run.py reads the child's ``@@RESULT`` line: one case through that path."""
    cases, _ = bench
    cmd = [
        sys.executable,
        str(BENCH / "cases.py"),
        "xiso-zarr",
        "--shape",
        "x".join(map(str, TINY)),
        "--workdir",
        str(tmp_path),
        "--tiny",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(cases.RESULT_TAG)]
    assert lines, proc.stderr[-2000:]
    result = json.loads(lines[-1][len(cases.RESULT_TAG) :])
    assert "error" not in result, proc.stderr[-2000:]
    (one,) = result["runs"]
    assert one["seconds"] > 0 and one["peak_rss"] > 0
    assert "level 0 (8, 64, 64)" in result["info"]["note"]


def test_report_is_narrow_and_keeps_every_fact(bench, results):
    """The tables fit a page (six short columns; labels, targets and notes go
    to the legend under each table) and lose nothing: every case's label,
    target and note is in the report."""
    cases, run = bench
    stats = _stats_of(run, results)
    text = run.table(stats, placeholder=False)
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert rows
    for line in rows:
        cells = line.strip("|").split("|")
        assert len(cells) == 6, line
        assert len(line) <= 110, line
    for case in cases.CASES:
        s = stats[case.name]
        assert case.label in text
        target, _, note = run.evaluate(case.name, stats) if not s.skipped else ("", None, "")
        assert target in text and note in text
        if not s.skipped:
            assert s.ok_runs[-1]["note"] in text


# --------------------------------------------------------------------------
# the sharded group (issue 21)
# --------------------------------------------------------------------------
def test_shard_bytes_is_what_zarr_reads(bench, tmp_path):
    """The sharded floor's hand-built shard objects (inner chunks, index,
    CRC32C) are read back by zarr-python, which is independent of them:
    several chunks per shard, an edge shard that sticks out of the array, and
    a chunk left out of its shard (read as the fill value)."""
    import numcodecs
    import numpy as np
    import zarr
    from zarr.codecs import ZstdCodec

    sharded = importlib.import_module("cases_sharded")
    rng = np.random.default_rng(0)
    want = rng.integers(1, 60000, size=(5, 6, 7), dtype=np.uint16)
    chunks, shards = (2, 3, 4), (4, 6, 8)
    src = zarr.create_array(
        store=str(tmp_path / "like"), shape=(1,), dtype="uint16", compressors=ZstdCodec(level=0)
    )
    path = tmp_path / "hand.zarr"
    sharded.create_sharded(str(path), src, want.shape, chunks, shards)
    per_shard = tuple(s // c for s, c in zip(shards, chunks))
    left_out = (0, 1, 0)  # a whole chunk of shard (0, 0, 0), stored as absent
    want[0:2, 3:6, 0:4] = 0
    encoder = numcodecs.Zstd(level=0)
    for sidx in np.ndindex(*(-(-n // s) for n, s in zip(want.shape, shards))):
        parts = {}
        for pos in np.ndindex(*per_shard):
            cidx = tuple(si * p + q for si, p, q in zip(sidx, per_shard, pos))
            if cidx == left_out:
                continue
            full = np.zeros(chunks, np.uint16)  # edge chunks are stored whole
            part = want[tuple(slice(i * c, (i + 1) * c) for i, c in zip(cidx, chunks))]
            if part.size == 0:
                continue  # wholly outside the array
            full[tuple(slice(0, n) for n in part.shape)] = part
            parts[pos] = bytes(encoder.encode(full))
        target = path.joinpath("c", *map(str, sidx))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(sharded.shard_bytes(parts, per_shard))
    got = zarr.open_array(str(path), mode="r")
    assert got.shards == shards and got.chunks == chunks
    np.testing.assert_array_equal(got[:], want)


def test_sharded_floor_with_several_chunks_per_shard(bench, tmp_path):
    """The sharded codec floor on a source whose output has 2x3 chunks per
    shard and an edge shard half outside the array: its describe check (read
    back through zarr-python) passes, and the values are the source's every
    4th plane, read here with numpy from the source's own store."""
    import numpy as np
    import zarr

    import xiso

    sharded = importlib.import_module("cases_sharded")
    data = importlib.import_module("data")
    shape = (64, 32, 48)
    image = xiso.data.lightsheet(shape=shape, spacing=data.SPACING).values
    src = tmp_path / "src.ome.zarr"
    xiso.to_ome_zarr(data.as_dataarray(image, shape), str(src), pyramid=False, chunks=16)
    state = {"src": str(src), "dst": str(tmp_path / "floor"), "chunks": (16, 16, 16)}
    state["shards"] = (16, 32, 64)  # 1 x 2 x 4 chunks; x: 48 of 64 in the array
    result = sharded.run_sharded_floor(state)
    info = sharded.describe_sharded_floor(state, result)
    assert info["check_ok"], info["note"]
    assert info["objects"] == 1
    np.testing.assert_array_equal(zarr.open_array(state["dst"], mode="r")[:], image[::4])


def test_sharded_rows_have_targets_and_notes(bench, results):
    """The sharded rows are judged (time against their floor or case 3s, peak,
    exactness) and their notes give the files and the unsharded twin."""
    _, run = bench
    stats = _stats_of(run, results)
    for name in ("xiso-sharded", "pyramid-sharded"):
        if stats[name].skipped:
            pytest.skip(stats[name].skipped)
        target, _, note = run.evaluate(name, stats)
        assert "peak <" in target and "exact, every level sharded" in target
        assert "files" in note and "x `" in note, note
    assert run.reference_of("xiso-sharded") == "sharded-codec-floor"
    assert run.reference_of("pyramid-sharded") == "xiso-sharded"
    selected = {c.name for c in run.select("sharded", large=False)}
    assert {"sharded-codec-floor", "codec-floor", "xiso-zarr", "xiso-pyramid-iso"} <= selected


def test_plan_time_script(tmp_path):
    """``benchmarks/plan_time.py`` plans a lazy volume and writes its table
    between the markers of a page (never computing the volume)."""
    sys.path.insert(0, str(BENCH))
    try:
        plan_time = importlib.import_module("plan_time")
    finally:
        sys.path.remove(str(BENCH))
    with dask.config.set(scheduler="sync"):
        times, plan = plan_time.measure((64, 512, 512), repeat=2)
    assert len(times) == 2
    text = plan_time.report((64, 512, 512), times, plan)
    assert "`da.iso.plan()`" in text and str(plan) in text
    page = tmp_path / "page.md"
    page.write_text("a\n<!-- bench:plan:start -->\nold\n<!-- bench:plan:end -->\nb\n")
    plan_time.write(text, page)
    assert "old" not in page.read_text() and text in page.read_text()


# --------------------------------------------------------------------------
# the resume group (issue 22)
# --------------------------------------------------------------------------
def _decoded(path) -> dict:
    import zarr

    group = zarr.open_group(path, mode="r")
    return {key: group[key][...] for key in sorted(group.array_keys())}


@pytest.mark.parametrize("pyramid", [False, True], ids=["case3", "case4"])
def test_resume_row_kills_half_way_then_resumes_identical(bench, tmp_path, pyramid):
    """The untimed part of a resumed row leaves a killed write with about half
    of its units recorded (and not the image); the timed part resumes it to a
    store that decodes the same, level by level, as an uninterrupted write by
    zarr-python's reading (not by the code under test)."""
    import numpy as np

    cases, _ = bench
    resume = importlib.import_module("cases_resume")
    ctx = cases.Ctx(TINY, tmp_path, tiny=True)
    state = (resume.setup_4 if pyramid else resume.setup_3)(ctx)
    resume.kill_half_way(state)
    killed = state["killed"]
    assert killed["total"] == (20 if pyramid else 16)  # 1x4x4 units of level 0 (+ 2x2 above)
    assert killed["total"] / 2 <= killed["done"] < killed["total"]
    assert resume.recorded(state["dst"]) == killed["done"]
    assert not Path(state["dst"]).exists() and len(resume.temporaries(state["dst"])) == 1
    resume.run_resumed(state)
    assert not resume.temporaries(state["dst"])
    plain = {**state, "dst": str(tmp_path / "plain.ome.zarr")}
    resume.convert(plain)
    got, want = _decoded(state["dst"]), _decoded(plain["dst"])
    assert list(got) == list(want) == (["0", "1"] if pyramid else ["0"])
    for key in want:
        np.testing.assert_array_equal(got[key], want[key])
    info = resume.describe_4(state, None) if pyramid else resume.describe_3(state, None)
    assert info["check_ok"] and info["killed"] == killed


@pytest.mark.parametrize(
    ("mode", "fsyncs", "markers"),
    [
        ("off", False, False),
        ("no-fsync", False, True),
        ("no-marker", True, False),
        ("on", True, True),
    ],
)
def test_recording_switch_turns_off_what_it_says(
    bench, tmp_path, monkeypatch, mode, fsyncs, markers
):
    """The overhead rows switch parts of the recording off inside the benchmark
    only: counted at the system calls (``os.fsync``; ``os.open`` creating a
    file under ``.xiso-progress``, how markers are made on a local disk) and
    at zarr's store (keys under ``.xiso-progress``, how they are made
    elsewhere); xiso is whole again after the run."""
    import os

    from zarr.storage import LocalStore

    from xiso.io import resume as xiso_resume

    cases, _ = bench
    resume = importlib.import_module("cases_resume")
    seen = {"fsync": 0, "marker": 0}
    real_fsync, real_open, real_set = os.fsync, os.open, LocalStore.set

    def fsync(fd):
        seen["fsync"] += 1
        return real_fsync(fd)

    def os_open(path, flags, *args, **kwargs):
        seen["marker"] += bool(flags & os.O_CREAT) and ".xiso-progress" in os.fspath(path)
        return real_open(path, flags, *args, **kwargs)

    async def store_set(self, key, value, *args, **kwargs):
        seen["marker"] += ".xiso-progress/" in key
        return await real_set(self, key, value, *args, **kwargs)

    state = resume.setup_3(cases.Ctx(TINY, tmp_path, tiny=True))  # writes the source: first
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(LocalStore, "set", store_set)
    before = dict(vars(xiso_resume.Recorder))
    resume.run_mode(mode)(state)
    assert (seen["fsync"] > 0, seen["marker"] > 0) == (fsyncs, markers), seen
    assert dict(vars(xiso_resume.Recorder)) == before
    assert resume.describe_3(state, None)["check_ok"]
    with pytest.raises(ValueError, match="'of'"):
        with resume.recording("of"):
            pass
    assert dict(vars(xiso_resume.Recorder)) == before


def test_resume_rows_have_targets_and_notes(bench, results):
    """The resumed rows are against the uninterrupted run of the same call,
    with the 0.6 target and the share killed at in the legend; recording's
    overhead against the run without it, with the 3 % target."""
    _, run = bench
    stats = _stats_of(run, results)
    assert run.reference_of("resume-3") == "record-on"
    assert run.reference_of("resume-4") == "pyramid-on"
    assert run.reference_of("record-on") == "record-off"
    for name, target in (("resume-3", "<= 0.6x"), ("resume-4", "<= 0.6x"), ("record-on", "1.03")):
        text, met, note = run.evaluate(name, stats)
        assert target in text and met is not None, (name, text, met)
        if name.startswith("resume"):
            assert "killed (SIGKILL) with" in note and "units recorded" in note, note
        else:
            assert "`record-no-fsync`" in note and "`record-no-marker`" in note, note
    selected = {c.name for c in run.select("resume-3", large=False)}
    assert {"resume-3", "record-on"} <= selected


def test_killed_note():
    sys.path.insert(0, str(BENCH))
    try:
        resume = importlib.import_module("cases_resume")
    finally:
        sys.path.remove(str(BENCH))
    runs = [
        {"killed": {"done": 32, "total": 64, "after_s": 7.5}},
        {"killed": {"done": 34, "total": 64, "after_s": 8.3}},
        {"seconds": 1.0},
    ]
    assert resume.killed_note(runs) == (
        "killed (SIGKILL) with 32/64 units recorded, 50-53 % over the rounds, "
        "7.5-8.3 s after the child started"
    )
    assert resume.killed_note([{"seconds": 1.0}]) == ""


@pytest.mark.parametrize("job", ["slab", "lightsheet"])
def test_tb_floor_writes_every_level_as_planned(tmp_path, job):
    """The TB-scale floor (benchmarks/tb.py) on a small source with several
    shards per level, edge shards sticking out of the level and levels smaller
    than one shard: read back by zarr-python (independent of the hand-built
    shards), every level is the source's samples strided by the level's factor
    (the near-isotropic step included), as xiso's plan lays the levels out."""
    import numpy as np
    import zarr

    import xiso

    sys.path.insert(0, str(BENCH))
    try:
        tb = importlib.import_module("tb")
        data = importlib.import_module("data")
    finally:
        sys.path.remove(str(BENCH))
    src = tmp_path / "src.ome.zarr"
    if job == "slab":
        image = data.slab((30, 200, 150), tile=64)
    else:
        shape = (96, 80, 48)
        image = data.as_dataarray(
            xiso.data.lightsheet(shape=shape, spacing=data.SPACING).data, shape
        )
    xiso.to_ome_zarr(image, str(src), pyramid=False, chunks=16, shards=None)
    options = {"chunks": 16, "shards": 32, "min_size": 8}
    plan = tb.layout(str(src), **options)
    assert len(plan["levels"]) >= 3
    assert any(n > s for n, s in zip(plan["levels"][0]["shape"], plan["levels"][0]["shards"]))
    tb.run_floor(str(src), str(tmp_path / "floor"), **options)
    whole = np.asarray(zarr.open_group(str(src), mode="r")["0"][:])
    out = zarr.open_group(str(tmp_path / "floor"), mode="r")
    for i, level in enumerate(plan["levels"]):
        f = level["factor"]
        want = whole[:: f[0], :: f[1], :: f[2]][tuple(slice(0, n) for n in level["shape"])]
        got = out[str(i)]
        assert got.shape == tuple(level["shape"])
        np.testing.assert_array_equal(got[:], want)


# --------------------------------------------------------------------------
# the noisy source and the whole-process rows (issue 23)
# --------------------------------------------------------------------------
WHOLE_BASE = (64, 128, 128)


@pytest.fixture
def bench_data(bench, tmp_path, monkeypatch):
    """benchmarks/data.py with its cache in a temporary folder."""
    monkeypatch.setenv("XISO_BENCH_CACHE", str(tmp_path / "cache"))
    return importlib.import_module("data")


def test_camera_model_against_its_formula(bench_data):
    """camera_block over a flat signal: ADU = offset + gain * (Poisson(s) +
    N(0, read noise)), rounded, in 12 bits; its mean and variance are the
    formula's, it is the same for the same chunk index and differs for another."""
    import numpy as np

    cam = bench_data.CAMERA
    signal = np.full((64, 64, 64), 300, dtype=np.uint16)
    a = bench_data.camera_block(signal, (0, 1, 2))
    assert a.dtype == np.uint16 and a.shape == signal.shape
    assert a.min() >= 0 and a.max() <= 2 ** cam["bits"] - 1
    mean = cam["offset"] + cam["gain"] * 300
    var = cam["gain"] ** 2 * (300 + cam["read_noise"] ** 2) + 1 / 12  # + rounding
    assert abs(a.mean() - mean) < 5 * np.sqrt(var / a.size)
    assert abs(a.var() / var - 1) < 0.02
    np.testing.assert_array_equal(a, bench_data.camera_block(signal, (0, 1, 2)))
    assert (a != bench_data.camera_block(signal, (0, 1, 3))).mean() > 0.9
    bright = bench_data.camera_block(np.full((8, 8, 8), 5000, dtype=np.uint16), (0, 0, 0))
    assert (bright == 2 ** cam["bits"] - 1).all()  # clipped to 12 bits


def test_noisy_source_is_drawn_chunk_by_chunk(bench_data):
    """The noisy OME-Zarr source is the camera model over each 128-chunk of the
    lightsheet volume (a numpy loop over the chunks is the reference), lazy
    until written, and its tiled copy is it repeated along z."""
    import numpy as np

    import xiso

    shape = (256, 128, 192)
    signal = np.load(bench_data.make(shape, "image"))
    lazy = bench_data.noisy_dask(signal)
    assert lazy.chunksize == (128, 128, 128) and lazy.npartitions == 4
    expected = np.empty(shape, dtype=np.uint16)
    c = bench_data.CHUNK
    for iz in range(2):
        for ix in range(2):
            region = (slice(iz * c, (iz + 1) * c), slice(None), slice(ix * c, (ix + 1) * c))
            expected[region] = bench_data.camera_block(signal[region], (iz, 0, ix))
    path = bench_data.make(shape, bench_data.source_kind("noisy"))
    assert path == bench_data.source_zarr("noisy", shape)
    noisy = xiso.open_ome_zarr(path)
    np.testing.assert_array_equal(noisy.values, expected)
    assert noisy.iso.spacing == bench_data.SPACING
    tiled = xiso.open_ome_zarr(bench_data.make(shape, bench_data.source_kind("noisy", 2)))
    np.testing.assert_array_equal(tiled.values, np.concatenate([expected, expected]))
    assert bench_data.source_zarr("noisy", shape, 2).exists()


def test_source_names_and_kinds(bench_data):
    shape = WHOLE_BASE
    assert bench_data.source_zarr("lightsheet", shape) == bench_data.image_zarr(shape)
    assert bench_data.source_zarr("lightsheet", shape, 8) == bench_data.tiled_zarr(shape, 8)
    assert bench_data.source_kind("lightsheet") == "zarr"
    assert bench_data.source_kind("lightsheet", 8) == "tiled8"
    assert bench_data.source_kind("noisy", 8) == "noisy-tiled8"
    with pytest.raises(ValueError, match="unknown source 'raw'"):
        bench_data.source_zarr("raw", shape)
    with pytest.raises(ValueError, match="unknown source 'raw'"):
        bench_data.source_kind("raw")


def test_whole_process_rows_end_to_end(bench, tmp_path):
    """benchmarks/whole.py on a tiny base, both sources, two sizes: every row
    runs once as a process, and the table has its median, ratio to xiso and
    bytes written (never a time compared)."""
    out = tmp_path / "whole.json"
    cmd = [
        sys.executable,
        str(BENCH / "whole.py"),
        "--base",
        "x".join(map(str, WHOLE_BASE)),
        "--sizes",
        "1,2",
        "--repeat",
        "1",
        "--rows",
        "xiso,xiso-cli,ngff-zarr",
        "--json",
        str(out),
    ]
    env = {**__import__("os").environ, "XISO_BENCH_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(out.read_text())
    rows = ["xiso", "xiso-cli", "ngff-zarr"]
    got = sorted((r["row"], r["source"], r["multiplier"]) for r in doc["runs"] if "seconds" in r)
    assert got == sorted((r, s, m) for r in rows for s in ("lightsheet", "noisy") for m in (1, 2))
    for run in doc["runs"]:
        assert run["seconds"] > run["cpu_s"] / 4 > 0 and run["peak_rss"] > 2**20
        assert run["written_bytes"] > 0
    summary = {(e["row"], e["source"], e["multiplier"]): e for e in doc["summary"]}
    for (_, source, m), e in summary.items():
        xiso_median = summary[("xiso", source, m)]["median_s"]
        assert e["vs_xiso"] == pytest.approx(e["median_s"] / xiso_median)
    table = [ln for ln in proc.stdout.splitlines() if ln.startswith("| ")]
    assert table[0].startswith("| source | size GiB | row | median s")
    assert len(table) == 1 + 3 * 2 * 2  # header, then 3 rows x 2 sources x 2 sizes
    verdicts = [ln for ln in proc.stdout.splitlines() if ln.startswith("- ")]
    assert len(verdicts) == 4 and all("xiso is" in ln for ln in verdicts)


def test_whole_process_summary_and_verdict(bench):
    """summarize / verdict on made-up runs: medians, ratios to xiso, a peer
    that is faster named as such, a missing peer reported with its reason."""
    whole = importlib.import_module("whole")
    runs = []
    for rnd, (x, n) in enumerate([(2.0, 3.0), (4.0, 1.0), (3.0, 2.5)], start=1):
        for row, s in (("xiso", x), ("ngff-zarr", n)):
            runs.append(
                {
                    "row": row,
                    "source": "noisy",
                    "multiplier": 1,
                    "round": rnd,
                    "seconds": s,
                    "cpu_s": s,
                    "peak_rss": 2**28,
                    "written_bytes": 2**20,
                }
            )
    runs.append({"row": "zarrnii", "skipped": "zarrnii not installed"})
    doc = {
        "base": [8, 8, 8],
        "sources": ["noisy"],
        "multipliers": [1],
        "rows": ["xiso", "ngff-zarr", "zarrnii"],
        "runs": runs,
    }
    summary = {e["row"]: e for e in whole.summarize(doc)}
    assert summary["xiso"]["median_s"] == 3.0 and summary["ngff-zarr"]["median_s"] == 2.5
    assert summary["ngff-zarr"]["vs_xiso"] == pytest.approx(2.5 / 3.0)
    assert summary["zarrnii"]["why"] == "zarrnii not installed"
    (line,) = whole.verdict(list(summary.values()))
    assert "**behind**" in line and "ngff-zarr 0.83x" in line
    assert "zarrnii not installed" in whole.table(list(summary.values()))


def test_tb_summary_bounds_stopped_rows_and_takes_ratios_per_source():
    """The TB table: each row's time over xiso's and over the floor's on the
    same source; a stopped row (timeout or memory) shows its time as a lower
    bound and no output; sources are kept apart."""
    sys.path.insert(0, str(BENCH))
    try:
        tb = importlib.import_module("tb")
    finally:
        sys.path.remove(str(BENCH))
    mib = 2**20
    runs = [
        {"row": "floor", "source": "A", "seconds": 50.0, "peak_rss": 200 * mib},
        {"row": "xiso", "source": "A", "seconds": 60.0, "peak_rss": 900 * mib},
        {
            "row": "ngff-zarr",
            "source": "A",
            "seconds": 600.0,
            "peak_rss": 5000 * mib,
            "error": "stopped after 600 s (--timeout)",
        },
        {
            "row": "xiso",
            "source": "B",
            "seconds": 10.0,
            "peak_rss": 100 * mib,
            "disk_bytes": 2**30,
            "check": "levels as planned",
        },
    ]
    lines = tb.summarize(runs).splitlines()[2:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    assert cells[0][:5] == ["A", "`floor`", "50 s", "0.83x", "1.00x"]
    assert cells[1][:5] == ["A", "`xiso`", "60 s", "1.00x", "1.20x"]
    assert cells[2][:6] == ["A", "`ngff-zarr`", ">600 s", ">10.00x", ">12.00x", "5000 MiB"]
    assert cells[2][6] == "—" and "timeout" in cells[2][7]
    assert cells[3][:5] == ["B", "`xiso`", "10 s", "1.00x", "—"]
    assert cells[3][6] == "1.00 GiB"


def test_peers_spill_beside_their_output_not_into_the_users_cache(bench, tmp_path):
    """A timed child gets dask's temporary-directory beside its output: ngff-zarr,
    imported there, writes its cache arrays for large images into that folder
    (which the runners remove with the output, even after a kill at a timeout),
    not into ~/.cache/ngff-zarr, where killed runs left gigabytes behind."""
    pytest.importorskip("ngff_zarr")
    cases_base = importlib.import_module("cases_base")
    dst = tmp_path / "work" / "ngff-zarr.ome.zarr"
    env, scratch = cases_base.scratch_env(dst)
    assert scratch.parent == dst.parent and scratch != dst
    probe = "import ngff_zarr as nz; print(nz.config.cache_store)"
    proc = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert proc.stdout.strip() == str(scratch)


def test_narrow_sum_benchmark_runs_and_agrees(bench):
    """benchmarks/narrow_sum.py, one round: its table has the four rows, and it
    checked that xiso's mean equals the uint32-summed one on each (it raises
    otherwise)."""
    cmd = [sys.executable, str(BENCH / "narrow_sum.py"), "--rounds", "1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=True)
    rows = [ln for ln in proc.stdout.splitlines() if ln.startswith("| 1")]
    assert [r.split(" | ")[:2] for r in rows] == [
        ["| 12-bit", "(4, 1, 1)"],
        ["| 12-bit", "(2, 2, 2)"],
        ["| 16-bit", "(4, 1, 1)"],
        ["| 16-bit", "(2, 2, 2)"],
    ]
