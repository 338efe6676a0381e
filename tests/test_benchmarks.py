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
