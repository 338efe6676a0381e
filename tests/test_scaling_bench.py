"""Smoke test of ``benchmarks/scaling.py``: the whole script, end to end, on a tiny input.

The script runs on a 64x128x128 base source and one 2x longer (tiled by copying
chunk files), every row once in its own child process, the cluster row on a
real two-worker LocalCluster, and draws its figure; the test checks the rows of
the JSON results and of the printed table, never a time.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPT = BENCH / "scaling.py"
BASE = (64, 128, 128)
TAG = "x".join(map(str, BASE))
ROWS = ["codec-floor", "xiso", "ngff-zarr", "xiso-cluster"]

pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("scaling-cache")


def _run(cache: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "XISO_BENCH_CACHE": str(cache)}
    cmd = [sys.executable, str(SCRIPT), "--base", TAG, "--sizes", "1,2", "--repeat", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)


@pytest.fixture(scope="module")
def scaled(cache):
    """(completed process, results JSON, figure path) of one tiny run."""
    out, figure = cache / "scaling.json", cache / "scaling.svg"
    proc = _run(cache, "--rows", ",".join(ROWS), "--json", str(out), "--figure", str(figure))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(out.read_text()), figure


@pytest.fixture(scope="module")
def bench_modules():
    # other tests import modules of the same names from elsewhere (the docs'
    # figure script is also called scaling.py): take the benchmarks' own
    names = ("scaling", "data", "run", *sorted(p.stem for p in BENCH.glob("cases*.py")))
    saved = {n: sys.modules.pop(n) for n in names if n in sys.modules}
    sys.path.insert(0, str(BENCH))
    try:
        modules = importlib.import_module("scaling"), importlib.import_module("data")
        assert all(Path(m.__file__).parent == BENCH for m in modules)
        yield modules
    finally:
        sys.path.remove(str(BENCH))
        for n in names:
            sys.modules.pop(n, None)
        sys.modules.update(saved)


def test_every_row_runs_once_at_every_size(scaled):
    _, doc, _ = scaled
    assert doc["multipliers"] == [1, 2] and doc["rows"] == ROWS
    got = sorted((r["row"], r["multiplier"], r["round"]) for r in doc["runs"])
    assert got == sorted((row, m, 1) for row in ROWS for m in (1, 2))
    for run in doc["runs"]:
        if run["row"] == "ngff-zarr" and "skipped" in run:
            continue  # an optional peer
        assert run["seconds"] > 0 and run["peak_rss"] > 0, run


def test_summary_has_ratios_to_the_smallest_size_and_the_codec_floor(scaled):
    _, doc, _ = scaled
    summary = {(e["row"], e["multiplier"]): e for e in doc["summary"]}
    assert {row for row, _ in summary} == set(ROWS)
    for row in ("codec-floor", "xiso", "xiso-cluster"):
        first, double = summary[(row, 1)], summary[(row, 2)]
        assert double["gib"] == pytest.approx(2 * first["gib"])
        assert first["vs_smallest"] == 1.0 and first["peak_vs_smallest"] == 1.0
        assert double["s_per_gib"] == pytest.approx(double["median_s"] / double["gib"])
        assert "vs_floor" in double
    assert summary[("codec-floor", 2)]["vs_floor"] == 1.0


def test_cluster_row_reports_each_worker_and_matches_single_process_output(scaled):
    _, doc, _ = scaled
    for m in (1, 2):
        e = next(e for e in doc["summary"] if e["row"] == "xiso-cluster" and e["multiplier"] == m)
        assert len(e["worker_peaks"]) == 2 and e["peak_rss"] == max(e["worker_peaks"])
        assert e["identical"] is True  # decoded output hashed in both rows
        assert sum(e["pipeline_calls"].values()) > 0  # chunks were moved by some pipeline
        assert e["worker_config_pipeline"]


def test_table_and_snippet_are_printed(scaled):
    proc, _, figure = scaled
    lines = [line for line in proc.stdout.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| size GiB | row | median s | s/GiB")
    body = lines[1:]
    assert len(body) == 2 * len(ROWS)
    assert all(f"`{row}`" in "".join(body) for row in ROWS)
    assert "```{figure}" in proc.stdout
    assert figure.exists() and b"<svg" in figure.read_bytes()[:2000]


def test_tiled_source_is_the_base_repeated_along_z(scaled, cache, bench_modules, monkeypatch):
    import xiso

    _, data = bench_modules
    monkeypatch.setenv("XISO_BENCH_CACHE", str(cache))
    base = xiso.open_ome_zarr(data.image_zarr(BASE)).values
    tiled = xiso.open_ome_zarr(data.tiled_zarr(BASE, 2))
    assert tiled.shape == (2 * BASE[0], *BASE[1:])
    np.testing.assert_array_equal(tiled.values, np.concatenate([base, base]))
    assert float(tiled.z[BASE[0]] - tiled.z[BASE[0] - 1]) == 0.25


def test_resume_runs_nothing_already_done(scaled, cache):
    _, doc, _ = scaled
    out = cache / "scaling.json"
    proc = _run(cache, "--rows", ",".join(ROWS), "--json", str(out), "--resume", "--no-figure")
    assert proc.returncode == 0, proc.stderr[-3000:]
    again = json.loads(out.read_text())
    assert again["runs"] == doc["runs"]
    assert f"resuming: {len(doc['runs'])} runs" in proc.stderr


def test_a_missing_peer_is_skipped(bench_modules, tmp_path, monkeypatch):
    scaling, _ = bench_modules
    case = scaling.bench_cases.BY_NAME["zarrnii"]
    monkeypatch.setattr(case, "requires", ("no_such_module_xiso",))
    row = scaling.BY_NAME["zarrnii"]
    result = scaling.child_single(row, BASE, BASE, tmp_path / "nowhere", tmp_path, False)
    assert result == {"skipped": "no_such_module_xiso not installed"}


def test_noisy_sources_are_prepared(bench_modules, tmp_path, monkeypatch):
    """--source noisy: the base noisy source and its tiled copy (data.py's
    kinds ``noisy`` and ``noisy-tiledM``), built once in a separate process."""
    scaling, data = bench_modules
    monkeypatch.setenv("XISO_BENCH_CACHE", str(tmp_path))
    paths = scaling.prepare(BASE, [1, 2], "noisy")
    assert paths == {1: data.noisy_zarr(BASE), 2: data.noisy_zarr(BASE, 2)}
    import xiso

    base = xiso.open_ome_zarr(paths[1]).values
    tiled = xiso.open_ome_zarr(paths[2]).values
    np.testing.assert_array_equal(tiled, np.concatenate([base, base]))
    assert base.max() <= 2 ** data.CAMERA["bits"] - 1
