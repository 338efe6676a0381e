"""xiso benchmark suite: one command, every case in its own process.

    python benchmarks/run.py [--quick] [--repeat N] [--only CASE[,CASE...]] [--large]

Each (case, repeat) runs in a fresh child process (see ``cases.py``), so its
peak RSS is its own. Repeats are interleaved (round 1 runs every case once,
then round 2, ...), so slow drifts of a shared, noisy machine hit cases and
their baselines alike. Nothing asserts a time: every case is reported as a
ratio to a baseline measured in the same run, and compared with its target.

The markdown report (one narrow table per group of cases, with a legend under
it: what each case is, its target and notes) is printed and, unless ``--only`` or ``--no-write`` is
given, written into docs/performance.md between the markers of its section
(full or quick); raw results go to the cache directory as JSON.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import cases as bench_cases  # noqa: E402
import data as bench_data  # noqa: E402

FULL_SHAPE = (512, 1024, 1024)
QUICK_SHAPE = (128, 256, 256)
MIB = 2**20
PEAK_LIMIT_MIB = 512

# rows a group is compared with in its notes (run with it, never a reference)
COMPARED = {"sharded": ("codec-floor", "xiso-zarr", "xiso-pyramid-iso")}

# the reference row of each group: every row's ratio is against it
REFERENCE = {
    "mean": "np-f32-mean",
    "zarr": "codec-floor",
    "pyramid": "xiso-zarr",
    "sharded": "sharded-codec-floor",
    "resume": "record-off",
    "mode": "scipy-mode",
    "write": "zarr-write-floor",
    "large": "codec-floor-large",
}
GROUP_TITLES = {
    "mean": "in memory, mean, z/4",
    "zarr": "OME-Zarr -> near-isotropic OME-Zarr",
    "pyramid": "OME-Zarr -> pyramid",
    "sharded": "OME-Zarr -> OME-Zarr with zarr v3 shards (cases 3 and 4 sharded)",
    "resume": "cases 3 and 4 killed half-way and resumed; the cost of recording the progress",
    "mode": "labels, mode, z/4",
    "write": "numpy-backed DataArray -> OME-Zarr (not a target case: evidence)",
    "large": "out of core, 4x input",
}


def reference_of(name: str) -> str | None:
    """The row ``name``'s ratio is against (None: no ratio)."""
    case = bench_cases.BY_NAME[name]
    if case.ref is not None:
        return case.ref or None
    return REFERENCE[case.group]


# --------------------------------------------------------------------------
# targets
# --------------------------------------------------------------------------
@dataclass
class Stats:
    name: str
    runs: list[dict]
    skipped: str | None = None
    error: str | None = None

    @property
    def ok_runs(self) -> list[dict]:
        return [r for r in self.runs if "seconds" in r]

    @property
    def seconds(self) -> list[float]:
        return [r["seconds"] for r in self.ok_runs]

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    def worst(self, key: str) -> float | None:
        values = [r[key] for r in self.ok_runs if r.get(key) is not None]
        return max(values) if values else None

    @property
    def output_bytes(self) -> int | None:
        values = [r.get("output_bytes") for r in self.ok_runs if r.get("output_bytes")]
        return values[0] if values else None

    @property
    def check_ok(self) -> bool | None:
        values = [r["check_ok"] for r in self.ok_runs if "check_ok" in r]
        return all(values) if values else None


def ratio(a: Stats | None, b: Stats | None) -> tuple[float | None, list[float]]:
    """Median over median, and the ratios of the runs of the same round."""
    if a is None or b is None or a.median is None or b.median is None:
        return None, []
    paired = [
        ra["seconds"] / rb["seconds"]
        for ra, rb in zip(a.runs, b.runs)
        if "seconds" in ra and "seconds" in rb
    ]
    return a.median / b.median, paired


def evaluate(name: str, stats: dict[str, Stats]) -> tuple[str, bool | None, str]:
    """(target text, met?, extra note) of one row; None where it has no target."""
    s = stats[name]
    if s.median is None:
        return "", None, ""
    ref_name = reference_of(name)
    r, _ = ratio(s, stats.get(ref_name) if ref_name else None)
    peak = s.worst("peak_rss")
    extra = s.worst("extra")
    out = s.output_bytes
    checks: list[tuple[str, bool | None]] = []
    note = ""

    def time_target(limit: float, text: str) -> None:
        checks.append((text, None if r is None else r <= limit))

    if name == "xiso-numpy":
        time_target(1.3, "<= 1.3x floor")
        checks.append(
            ("extra <= 1.1x output", None if out is None else extra <= 1.1 * out)  # type: ignore[operator]
        )
    elif name == "xiso-dask":
        dr, _ = ratio(s, stats.get("dask-floor"))
        checks.append(("<= 1.15x dask floor", None if dr is None else dr <= 1.15))
        checks.append(
            (
                "extra <= 2x output + 32 MiB",
                None if out is None else extra <= 2 * out + 32 * MIB,  # type: ignore[operator]
            )
        )
        if dr is not None:
            note = f"{dr:.2f}x the dask floor"
    elif name == "xiso-dask-store":
        checks.append(
            ("extra <= 1.1x output", None if out is None else extra <= 1.1 * out)  # type: ignore[operator]
        )
        notes = []
        if out is not None and extra is not None:
            notes.append(f"extra = {extra / out:.2f}x the output")
        for other in ("xiso-dask", "dask-floor"):
            dr, _ = ratio(s, stats.get(other))
            if dr is not None:
                notes.append(f"{dr:.2f}x `{other}`")
        note = "; ".join(notes)
    elif name in ("xiso-zarr", "xiso-zarr-large"):
        time_target(1.15, "<= 1.15x codec floor")
        checks.append((f"peak < {PEAK_LIMIT_MIB} MiB", peak < PEAK_LIMIT_MIB * MIB))  # type: ignore[operator]
        notes = []
        if name == "xiso-zarr":
            for peer in ("ngff-zarr", "zarrnii"):
                pr, _ = ratio(s, stats.get(peer))
                checks.append((f"faster than {peer}", None if pr is None else pr < 1))
                if pr is not None:
                    notes.append(f"{pr:.2f}x {peer}")
        else:
            small = stats.get("xiso-zarr")
            if small is not None and small.worst("peak_rss"):
                ratio_peak = peak / small.worst("peak_rss")  # type: ignore[operator]
                checks.append(("peak flat (<= 1.1x case 3)", ratio_peak <= 1.1))
                notes.append(f"peak {ratio_peak:.2f}x that of case 3")
            large_r, _ = ratio(s, small)
            if large_r is not None:
                notes.append(f"time per GiB {large_r / 4:.2f}x that of case 3")
        note = "; ".join(notes)
    elif name in ("xiso-pyramid", "xiso-pyramid-iso"):
        if name == "xiso-pyramid-iso":
            time_target(1.3, "<= 1.3x case 3")
        else:  # its reference is its own codec floor (pyramid-codec-floor)
            time_target(1.15, "<= 1.15x its codec floor")
        floor = stats.get("pyramid-io-floor")
        fr, _ = ratio(s, floor)
        if fr is not None and name == "xiso-pyramid":  # the floor copies level 0 too
            floor_r, _ = ratio(floor, stats.get("xiso-zarr"))
            note = f"{fr:.2f}x the plain-zarr pyramid floor"
            if floor_r is not None:
                note += f", which is itself {floor_r:.1f}x case 3"
    elif name in SHARDED_TWINS:
        note = _sharded_note(name, s, stats)
        if name == "xiso-sharded":
            time_target(1.15, "<= 1.15x its codec floor")
        elif name == "pyramid-sharded":  # its ratio is against xiso-sharded, as 4 against 3
            time_target(1.3, "<= 1.3x case 3s")
        elif name == "xiso-sharded-large":  # its ratio is against xiso-sharded
            small = stats.get("xiso-sharded")
            small_peak = small.worst("peak_rss") if small is not None else None
            if peak is not None and small_peak:
                checks.append(("peak flat (<= 1.1x case 3s)", peak <= 1.1 * small_peak))
        if name != "sharded-codec-floor" and peak is not None:
            checks.append((f"peak < {PEAK_LIMIT_MIB} MiB", peak < PEAK_LIMIT_MIB * MIB))
            checks.append(("exact, every level sharded", s.check_ok))
    elif name in RESUME_TARGETS:
        # judged by the median of the paired ratios (run i against run i of its
        # reference, the same round): on a shared machine whose load changes
        # from round to round, the two medians may come from different rounds
        limit, text = RESUME_TARGETS[name]
        _, paired = ratio(s, stats.get(ref_name) if ref_name else None)
        pm = statistics.median(paired) if paired else None
        checks.append(
            (text + " (median of the paired ratios)", None if pm is None else pm <= limit)
        )
        checks.append(("exact, nothing left over", s.check_ok))
        parts = [resume_note(name, s, stats)]
        if pm is not None:
            parts.insert(0, f"median of the paired ratios {pm:.2f}")
        note = "; ".join(p for p in parts if p)
    elif name in ("record-no-fsync", "record-no-marker", "pyramid-on"):
        checks.append(("exact, nothing left over", s.check_ok))
    elif name == "xiso-mode":
        time_target(0.1, ">= 10x faster")
        checks.append(("exact", s.check_ok))
    elif name.startswith("xiso-write-numpy"):
        inp = [r["input_bytes"] for r in s.ok_runs if r.get("input_bytes")]
        if inp and extra is not None:
            note = f"extra = {extra / inp[0]:.2f}x the input"
    if not checks:
        return "", None, note
    text = "; ".join(t for t, _ in checks)
    results = [m for _, m in checks]
    met = None if any(m is None for m in results) else all(results)
    missed = [t for t, m in checks if m is False]
    if missed and len(checks) > 1:  # say which part of the target was missed
        note = "; ".join(n for n in (f"missed: {', '.join(missed)}", note) if n)
    return text, met, note


# the resume group's targets: (at most this ratio to its reference, text)
RESUME_TARGETS = {
    "record-on": (1.03, "<= 1.03x `record-off` (recording costs <= 3 %)"),
    "resume-3": (0.6, "<= 0.6x `record-on` for a kill at 50 %"),
    "resume-4": (0.6, "<= 0.6x `pyramid-on` for a kill at 50 %"),
}


def resume_note(name: str, s: Stats, stats: dict[str, Stats]) -> str:
    """A resumed row: the share of the units done at the kills; the
    recording's overhead: the parts against the whole."""
    import cases_resume

    if name != "record-on":
        return cases_resume.killed_note(s.ok_runs)
    notes = []
    for part in ("record-no-fsync", "record-no-marker"):
        _, paired = ratio(stats.get(part), stats.get("record-off"))
        if paired:
            notes.append(f"`{part}` {statistics.median(paired):.2f}x")
    return ", ".join(notes) + " `record-off` (paired)" if notes else ""


# what each sharded row is compared with: (its unsharded twin, the floor)
SHARDED_TWINS = {
    "sharded-codec-floor": "codec-floor",
    "xiso-sharded": "xiso-zarr",
    "pyramid-sharded": "xiso-pyramid-iso",
    "xiso-sharded-large": "xiso-sharded",  # the same shards on 4x the volume
}


def _sharded_note(name: str, s: Stats, stats: dict[str, Stats]) -> str:
    """A sharded row against its twin (:data:`SHARDED_TWINS`): time, peak and
    files; the pyramid also against the sharded floor."""
    twin = stats.get(SHARDED_TWINS[name])
    which = "case 3s" if name == "xiso-sharded-large" else f"`{SHARDED_TWINS[name]}`"
    notes = []
    tr, _ = ratio(s, twin)
    if tr is not None:
        per_gib = name == "xiso-sharded-large"  # 4x the volume: time per GiB
        notes.append(
            f"time {'per GiB ' if per_gib else ''}{tr / (4 if per_gib else 1):.2f}x {which}"
        )
    peak, twin_peak = s.worst("peak_rss"), twin.worst("peak_rss") if twin else None
    if peak and twin_peak:
        notes.append(f"peak {peak / twin_peak:.2f}x {which}")

    def objects(st: Stats | None) -> int | None:
        found = [r["objects"] for r in (st.ok_runs if st else []) if r.get("objects") is not None]
        return found[0] if found else None

    files, twin_files = objects(s), objects(twin)
    if files is not None:
        notes.append(f"{files} files" + (f" ({which}: {twin_files})" if twin_files else ""))
    if name == "pyramid-sharded":
        fr, _ = ratio(s, stats.get("sharded-codec-floor"))
        if fr is not None:
            notes.append(f"{fr:.2f}x `sharded-codec-floor` (which writes level 0 only)")
    return "; ".join(notes)


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------
def select(only: str | None, large: bool) -> list[bench_cases.Case]:
    if not only:
        return [c for c in bench_cases.CASES if large or not c.large]
    wanted: set[str] = set()
    for token in (t.strip() for t in only.split(",") if t.strip()):
        matches = [
            c.name
            for c in bench_cases.CASES
            if token in (c.name, c.group, c.number) or (token.isdigit() and c.number == token)
        ]
        if not matches:
            names = ", ".join(c.name for c in bench_cases.CASES)
            raise SystemExit(f"--only: no case or group {token!r}; cases: {names}")
        wanted.update(matches)
    # add the references the selected rows are measured against
    for name in list(wanted):
        case = bench_cases.BY_NAME[name]
        ref = reference_of(name)
        if ref:
            wanted.add(ref)
        if case.group == "pyramid":
            wanted.update((REFERENCE["zarr"], "pyramid-io-floor"))
        if name in ("xiso-dask", "xiso-dask-store"):  # compared with the dask floor
            wanted.add("dask-floor")
        wanted.update(COMPARED.get(case.group, ()))
    return [c for c in bench_cases.CASES if c.name in wanted]


def prepare_inputs(selected: list[bench_cases.Case], shape: tuple[int, int, int]) -> None:
    kinds: list[str] = []
    for case in selected:
        for kind in case.inputs:
            if kind not in kinds:
                kinds.append(kind)
    paths = {
        "image": bench_data.image_npy(shape),
        "labels": bench_data.labels_npy(shape),
        "zarr": bench_data.image_zarr(shape),
        "large": bench_data.large_zarr(shape),
    }
    tag = "x".join(map(str, shape))
    for kind in kinds:
        if paths[kind].exists():
            continue
        print(f"preparing input {kind} {tag} (cached in {paths[kind].parent}) ...", file=sys.stderr)
        t0 = time.perf_counter()
        cmd = [sys.executable, str(HERE / "data.py"), tag, kind]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)


def run_child(
    case: bench_cases.Case,
    shape: tuple[int, int, int],
    workdir: Path,
    repeat: int,
    timeout: float,
) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "cases.py"),
        case.name,
        "--shape",
        "x".join(map(str, shape)),
        "--workdir",
        str(workdir),
        "--repeat",
        str(repeat),
    ]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(bench_cases.RESULT_TAG):
            result = json.loads(line[len(bench_cases.RESULT_TAG) :])
            if "error" in result:
                result["stderr"] = proc.stderr[-4000:]
            return result
    return {"error": f"exit code {proc.returncode}", "stderr": proc.stderr[-4000:]}


def run_all(
    selected: list[bench_cases.Case],
    shape: tuple[int, int, int],
    repeat: int,
    timeout: float,
    interleave: bool,
) -> dict[str, Stats]:
    """Interleaved: ``repeat`` rounds, one fresh process per case and round.
    Otherwise: one process per case, running its ``repeat`` runs in a row."""
    stats = {c.name: Stats(c.name, []) for c in selected}
    root = Path(tempfile.mkdtemp(prefix="xiso-bench-"))
    rounds, per_child = (repeat, 1) if interleave else (1, repeat)
    try:
        for rnd in range(1, rounds + 1):
            for case in selected:
                s = stats[case.name]
                if s.skipped or s.error:
                    continue
                where = f"[{rnd}/{rounds}] {case.name}"
                result = run_child(case, shape, root / case.name, per_child, timeout)
                if "skipped" in result:
                    s.skipped = result["skipped"]
                    print(f"{where}: skipped ({s.skipped})", file=sys.stderr)
                    continue
                if "error" in result:
                    s.error = result["error"]
                    print(f"{where}: ERROR {s.error}", file=sys.stderr)
                    print(result.get("stderr", ""), file=sys.stderr)
                    continue
                for run in result["runs"]:
                    s.runs.append({**run, **result["info"]})
                    print(
                        f"{where}: {run['seconds']:.3f} s, peak {run['peak_rss'] / MIB:.0f} MiB,"
                        f" extra {run['extra'] / MIB:.0f} MiB",
                        file=sys.stderr,
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return stats


# --------------------------------------------------------------------------
# reporting
# --------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("xiso", "numpy", "dask", "zarr", "xarray", "numcodecs", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "-"
    for name in ("xarray-multiscale", "ngff-zarr", "zarrnii", "zarrs", "tensorstore"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "not installed"
    return out


def _meminfo_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    return "?"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def _xiso_tree() -> str:
    """The git tree of xiso/ at HEAD and its uncommitted changes: what the rows
    ran (commits to benchmarks/ or docs/ during a run leave it as it was)."""
    try:
        tree = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD:xiso"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        diff = subprocess.run(
            ["git", "-C", str(ROOT), "diff", "HEAD", "--", "xiso"], capture_output=True, text=True
        ).stdout
        return f"{tree} {hash(diff)}"
    except (OSError, subprocess.CalledProcessError):
        return "?"


def _git() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no", "xiso"],
            capture_output=True,
            text=True,
        ).stdout.strip()
        return head + (" + uncommitted changes in xiso/" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def fresh_page_cost() -> str:
    """Seconds per GiB to first-touch freshly allocated memory, in a new process.

    On this kind of VM, pages new to the guest fault in the hypervisor too, so
    first touch can cost ~2 s/GiB instead of ~0.1: in-memory cases that
    allocate large outputs are slowed by it, and by how much varies with what
    ran before. It is measured twice (start and end of the run) as a machine fact.
    """
    code = (
        "import numpy as np, time\n"
        "t = time.perf_counter(); a = np.empty(2**29, np.uint8); a.fill(1)\n"
        "print(2 * (time.perf_counter() - t))"
    )
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        return f"{float(out.stdout):.2f} s/GiB"
    except (OSError, ValueError):
        return "?"


def machine_facts() -> dict[str, Any]:
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "memory": _meminfo_gib(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
        "loadavg": " ".join(f"{v:.2f}" for v in os.getloadavg()),
        "versions": _versions(),
        "git": _git(),
    }


def _fmt_s(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if v < 10 else f"{v:.1f}"


def _fmt_mib(v: float | None) -> str:
    return "-" if v is None else f"{v / MIB:.0f}"


TABLE_HEADER = ["#", "case", "median s (min-max)", "peak / extra MiB", "ratio (paired)", "target"]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _case_lines(case: bench_cases.Case, stats: dict[str, Stats]) -> tuple[str, str]:
    """(table row, legend entry) of one case: the row holds the numbers, the
    legend what the case is, its target and notes."""
    s = stats[case.name]
    name = f"`{case.name}`"
    legend = f"- {name}" + (f" (case {case.number})" if case.number else "") + f": {case.label}"
    if s.skipped or s.error:
        why = s.skipped or f"error: {s.error}"
        return _row([case.number, name, "-", "-", "-", why]), f"{legend}; {why}"
    secs = s.seconds
    ref_name = reference_of(case.name)
    r, paired = ratio(s, stats.get(ref_name) if ref_name else None)
    ratio_text = "-"
    if r is not None:
        ratio_text = f"{r:.2f}"
        if len(paired) > 1:
            ratio_text += f" ({min(paired):.2f}-{max(paired):.2f})"
        if ref_name != REFERENCE[case.group]:
            ratio_text += f" vs `{ref_name}`"
    target, met, extra_note = evaluate(case.name, stats)
    verdict = ("met" if met else "**missed**") if met is not None else ("?" if target else "")
    if target:
        legend += f"; target {target}: {verdict}"
    notes = [n for n in (s.ok_runs[-1].get("note"), extra_note) if n]
    if any(run.get("masked") for run in s.ok_runs):
        notes.append("peak before the run >= peak of the run: extra is an upper bound")
    if notes:
        legend += "; " + "; ".join(notes)
    cells = [
        case.number,
        name,
        f"{_fmt_s(s.median)} ({_fmt_s(min(secs))}-{_fmt_s(max(secs))})",
        f"{_fmt_mib(s.worst('peak_rss'))} / {_fmt_mib(s.worst('extra'))}",
        ratio_text,
        verdict,
    ]
    return _row(cells), legend


def table(stats: dict[str, Stats], placeholder: bool) -> str:
    """One narrow table per group (six short columns, the numbers), each
    followed by a legend: what each case is, its target and the notes."""
    blocks = []
    groups = list(dict.fromkeys(c.group for c in bench_cases.CASES))
    for group in groups:
        rows = [c for c in bench_cases.CASES if c.group == group and c.name in stats]
        title = f"**{GROUP_TITLES[group]}**"
        if not rows:
            if group == "large" and placeholder:
                blocks.append(
                    f"{title} (case 6): not run (`--no-large`); target peak < {PEAK_LIMIT_MIB} MiB"
                )
            continue
        lines = [
            f"{title}: ratios against `{REFERENCE[group]}` unless the row says otherwise",
            "",
            _row(TABLE_HEADER),
            "|" + "---|" * len(TABLE_HEADER),
        ]
        legend = []
        for case in rows:
            row, entry = _case_lines(case, stats)
            lines.append(row)
            legend.append(entry)
        blocks.append("\n".join([*lines, "", *legend]))
    return "\n\n".join(blocks)


def report(
    stats: dict[str, Stats],
    facts: dict[str, Any],
    command: str,
    shape: tuple[int, int, int],
    repeat: int,
    started: dt.datetime,
    elapsed: float,
    placeholder: bool,
    interleave: bool,
) -> str:
    v = facts["versions"]
    nbytes = shape[0] * shape[1] * shape[2] * 2
    out_shape = (shape[0] // bench_cases.FACTOR, shape[1], shape[2])
    lines = [
        f"Command: `{command}`  ",
        f"Date: {started:%Y-%m-%d %H:%M} UTC, {elapsed / 60:.1f} min in all  ",
        f"Machine: {facts['nproc']} cores ({facts['cpu']}), {facts['memory']} RAM, "
        f"{facts['os']}, Python {facts['python']}, load average at the end {facts['loadavg']}; "
        f"first touch of fresh memory: {facts['fresh_page_cost']}  ",
        "Versions: "
        + ", ".join(f"{k} {val}" for k, val in v.items())
        + f"; xiso at {facts['git']}  ",
        f"Input: `xiso.data.lightsheet` uint16 {'x'.join(map(str, shape))} "
        f"({nbytes / MIB:.0f} MiB, spacing z 0.25, y/x 1.0, factors z=4) -> "
        f"{'x'.join(map(str, out_shape))} ({nbytes / 4 / MIB:.0f} MiB uint16); "
        f"OME-Zarr stores: NGFF 0.5, chunks 128^3, zstd; labels: `lightsheet_labels` of the "
        "same shape  ",
        f"Repeats: {repeat} per case, "
        + (
            "interleaved in rounds, each run in a fresh process; "
            if interleave
            else "in a row in one fresh process per case; "
        )
        + f"{bench_cases.PREFAULT_X_INPUT}x the input of fresh memory written and freed "
        "before each timed run; times are medians (ratio: median over median, and in "
        "brackets the range of the ratios of the i-th runs), memory is the worst run "
        "(peak: the process's peak RSS; extra: that peak minus the RSS after loading the input)",
        "",
        table(stats, placeholder),
    ]
    return "\n".join(lines)


def write_docs(path: Path, section: str, body: str) -> None:
    start, end = f"<!-- bench:{section}:start -->", f"<!-- bench:{section}:end -->"
    text = path.read_text() if path.exists() else ""
    block = f"{start}\n{body}\n{end}"
    if start in text and end in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda m: block, text, flags=re.S)
    else:
        text = text.rstrip() + f"\n\n## Results: {section}\n\n{block}\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"small input {'x'.join(map(str, QUICK_SHAPE))} (CI smoke run, < 1 min)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (default 3)")
    parser.add_argument(
        "--only",
        help="comma-separated case names, groups (mean, zarr, pyramid, sharded, resume, mode, "
        "write, large) or case numbers (1-6, 4f, 3s, 4s, 3r, 4r); the references they are "
        "measured against, and the rows a group is compared with, are added",
    )
    parser.add_argument(
        "--large",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run case 6 (4x input, out of core; builds a 2.4 GiB source once, then about "
        "20 s per repeat at full size); --no-large skips it",
    )
    parser.add_argument("--no-write", action="store_true", help="do not update docs/performance.md")
    parser.add_argument(
        "--section",
        help="write the table between the <!-- bench:SECTION:start/end --> markers "
        "(default: full or quick)",
    )
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "performance.md", help="the page to update"
    )
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    parser.add_argument(
        "--interleave",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="a fresh process per case and repeat, in rounds (default; --no-interleave "
        "with --quick: one process per case, its repeats in a row)",
    )
    args = parser.parse_args(argv)

    shape = QUICK_SHAPE if args.quick else FULL_SHAPE
    repeat = args.repeat
    placeholder = not args.large and not args.only  # say that case 6 was not run
    selected = select(args.only, args.large)
    started = dt.datetime.now(dt.UTC)
    t0 = time.perf_counter()
    prepare_inputs(selected, shape)
    interleave = args.interleave if args.interleave is not None else not args.quick
    page_cost_start = fresh_page_cost()
    git_start, tree_start = _git(), _xiso_tree()
    stats = run_all(selected, shape, repeat, args.timeout, interleave)
    facts = machine_facts()
    facts["fresh_page_cost"] = f"{page_cost_start} at the start, {fresh_page_cost()} at the end"
    if _xiso_tree() != tree_start:
        facts["git"] = (
            f"{git_start} at the start but {facts['git']} at the end: xiso changed during "
            "the run, so its rows mix two versions; run again"
        )
        print(f"WARNING: {facts['git']}", file=sys.stderr)
    command = "python benchmarks/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    body = report(
        stats,
        facts,
        command.strip(),
        shape,
        repeat,
        started,
        time.perf_counter() - t0,
        placeholder,
        interleave,
    )
    print(body)

    raw = bench_data.cache_dir() / f"results-{'quick' if args.quick else 'full'}.json"
    runs = {k: vars(s) for k, s in stats.items()}
    doc = {"command": command, "shape": shape, "facts": facts, "runs": runs}
    raw.write_text(json.dumps(doc, indent=1, default=str))
    print(f"\nraw results: {raw}", file=sys.stderr)
    if not args.no_write and not args.only:
        write_docs(args.docs, args.section or ("quick" if args.quick else "full"), body)
        print(f"updated {args.docs}", file=sys.stderr)
    failed = [s.name for s in stats.values() if s.error]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
