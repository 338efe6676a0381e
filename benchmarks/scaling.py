"""Does case 3 cost grow linearly with the input? Time per GiB and peak RSS at 1, 4, 16 GiB.

    python benchmarks/scaling.py [--sizes 1,4,16] [--repeat N] [--base 512x1024x1024]
                                 [--cluster/--no-cluster] [--peers/--no-peers] [--resume]
                                 [--source lightsheet|noisy]

Case 3 (``open_ome_zarr(src, near_isotropic=True)`` -> ``to_ome_zarr(pyramid=False)``)
and its reference rows (the codec floor; the peers ngff-zarr and zarrnii) run on
the OME-Zarr source of ``--base`` shape and on sources ``M`` times longer along z
(``data.tiled_zarr``: 4x is case 6's source, 16x is made of copies of the base
source's chunk files). Each run is a fresh child process, as in ``run.py``: a
warm-up on a tiny input, fresh memory written and freed (the same amount at every
size, ``PREFAULT_X_INPUT`` x the base input), then one timed run; its peak RSS is
the kernel's high-water mark reset just before the run. Repeats are interleaved in
rounds (every size and row once, then again).

The ``xiso-cluster`` row runs the same case 3 call with a fresh
``dask.distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)``
as the active client: its time is the call's wall time (cluster start and warm-up
excluded), its peak is the worst worker's high-water mark over the run; each
worker's peak, the driver's, and which zarr codec pipeline decoded and encoded
chunks on the workers are in the notes. In round 1 the decoded output of the
cluster and of the single-process xiso row are hashed and compared.

Nothing asserts a time. The table is printed with a markdown snippet for
docs/performance.md (``--write-docs`` puts it between the ``bench:scaling``
markers); raw results go to ``scaling-BASE.json`` in the cache directory after
every run (``--resume`` skips the runs it already holds), and the figure is drawn
by ``docs/figures/scaling.py``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shlex
import signal
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
from cases_base import _nbytes, _shape, _tag, group_rss, read_through, save_json  # noqa: E402

GIB = 2**30
MIB = 2**20
FULL_BASE = (512, 1024, 1024)
TIME_LIMIT = 1.15  # time per GiB at most this times the same row at the smallest size
PEAK_FLAT = 1.25  # peak RSS at most this times the same row at the smallest size ...
PEAK_LIMIT_MIB = 512  # ... and below this
FIGURE = ROOT / "docs" / "_static" / "scaling.svg"
PLOT_SCRIPT = ROOT / "docs" / "figures" / "scaling.py"
CLUSTER_WORKERS = 2


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    case: str  # the case of cases.py whose setup and run it uses
    peer: bool = False
    cluster: bool = False
    target: bool = False  # judged against the linearity targets


ROWS = [
    Row("codec-floor", "codec floor (raw chunk files + zstd, 2 threads)", "codec-floor"),
    Row("xiso", "xiso open_ome_zarr(near_isotropic) -> to_ome_zarr", "xiso-zarr", target=True),
    Row("ngff-zarr", "ngff-zarr read -> bin shrink -> write", "ngff-zarr", peer=True),
    Row("zarrnii", "zarrnii read -> downsample(along_z=4) -> write", "zarrnii", peer=True),
    Row(
        "xiso-cluster",
        f"xiso on a LocalCluster ({CLUSTER_WORKERS} worker processes x 1 thread)",
        "xiso-zarr",
        cluster=True,
        target=True,
    ),
]
BY_NAME = {r.name: r for r in ROWS}


# --------------------------------------------------------------------------
# the child process: one timed run of one row on one source
# --------------------------------------------------------------------------
class SourceCtx(bench_cases.Ctx):
    """A case context whose OME-Zarr source is ``source`` (a tiled store)."""

    def __init__(self, shape: tuple[int, int, int], workdir: Path, source: Path) -> None:
        super().__init__(shape, workdir)
        self.source = source

    def image_store(self) -> str:
        return str(self.source)

    def large_store(self) -> str:
        return str(self.source)


def _instrument() -> None:
    """Count the calls to the ``read`` and ``write`` of zarr's and zarrs' codec
    pipelines and to xiso's zarrista regions in this process (which engine
    really moved the chunks), and
    reset the kernel's RSS high-water mark. Self-contained: it also runs on
    dask workers, which cannot import this file."""
    import collections

    import zarr

    counts = getattr(zarr, "_scaling_pipeline_calls", None)
    if counts is None:
        counts = collections.Counter()
        zarr._scaling_pipeline_calls = counts  # type: ignore[attr-defined]
        from zarr.core.codec_pipeline import BatchedCodecPipeline

        classes: list[Any] = [BatchedCodecPipeline]
        try:
            from zarrs import ZarrsCodecPipeline

            classes.append(ZarrsCodecPipeline)
        except ImportError:
            pass
        for cls in classes:
            for op in ("read", "write"):
                original = getattr(cls, op)
                key = f"{cls.__name__}.{op}"

                async def counted(self, *args, _original=original, _key=key, **kwargs):
                    counts[_key] += 1
                    return await _original(self, *args, **kwargs)

                setattr(cls, op, counted)
        # xiso's zarrista engine moves chunks without any zarr pipeline
        from xiso.io.engine import ZarristaRegions

        for op, key in (("__getitem__", "zarrista.read"), ("__setitem__", "zarrista.write")):
            original_sync = getattr(ZarristaRegions, op)

            def counted_sync(self, *args, _original=original_sync, _key=key):
                counts[_key] += 1
                return _original(self, *args)

            setattr(ZarristaRegions, op, counted_sync)
    counts.clear()
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def _process_report() -> dict:
    """Peak RSS (high-water mark since ``_instrument``, and ru_maxrss since the
    process started), the pipeline call counts and zarr's configured pipeline."""
    import os
    import resource

    import zarr

    hwm = None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    hwm = int(line.split()[1]) * 1024
    except OSError:
        pass
    return {
        "pid": os.getpid(),
        "vmhwm": hwm,
        "ru_maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "pipeline_calls": dict(getattr(zarr, "_scaling_pipeline_calls", {})),
        "config_pipeline": zarr.config.get("codec_pipeline.path"),
    }


def _prefault_here(nbytes: int) -> float:
    """Write and free ``nbytes`` of fresh memory (see cases._prefault); self-contained."""
    import time

    import numpy as np

    t0 = time.perf_counter()
    buf = np.empty(nbytes, dtype=np.uint8)
    buf.fill(1)
    del buf
    return time.perf_counter() - t0


def output_digest(path: str) -> str:
    """blake2b of the decoded level 0 of an OME-Zarr image, read with plain zarr
    (its own default pipeline) one chunk row along z at a time."""
    import zarr

    arr = zarr.open_group(path, mode="r")["0"]
    h = hashlib.blake2b(digest_size=16)
    h.update(repr((arr.shape, str(arr.dtype))).encode())
    step = arr.chunks[0]
    for z0 in range(0, arr.shape[0], step):
        h.update(arr[z0 : z0 + step].tobytes())
    return h.hexdigest()


def xiso_tree() -> str:
    """A hash of the source files of the xiso this process imports: runs whose
    trees differ ran different code (another engineer's edit mid-run)."""
    import xiso

    root = Path(xiso.__file__).parent
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _pipeline_note(calls: dict[str, int]) -> str:
    if not calls:
        return "no chunk engine calls"
    return ", ".join(f"{k} {v}" for k, v in sorted(calls.items()))


def child_single(row: Row, shape, base, source: Path, workdir: Path, check: bool) -> dict:
    """One timed run of ``row`` in this process (the protocol of cases.child)."""
    import gc

    import dask

    import xiso  # noqa: F401  (registers .iso)

    dask.config.set(scheduler="threads", num_workers=bench_cases.THREADS)
    case = bench_cases.BY_NAME[row.case]
    missing = bench_cases.missing_modules(case.requires)
    if missing:
        return {"skipped": missing}
    warm = bench_cases.Ctx(bench_cases.TINY, workdir / "warm", tiny=True)
    case.run(case.setup(warm))
    bench_data.remove(workdir / "warm")
    gc.collect()
    state = case.setup(SourceCtx(shape, workdir, source))
    gc.collect()
    rss_loaded = bench_cases._rss_bytes()
    prefault_s = bench_cases._prefault(bench_cases.PREFAULT_X_INPUT * _nbytes(base))
    _instrument()
    t0 = time.perf_counter()
    result = case.run(state)
    seconds = time.perf_counter() - t0
    proc = _process_report()
    peak = proc["vmhwm"] or proc["ru_maxrss"]
    info = case.describe(state, result)
    out = {
        "seconds": seconds,
        "peak_rss": peak,
        "peak_from": "VmHWM" if proc["vmhwm"] else "ru_maxrss",
        "rss_loaded": rss_loaded,
        "prefault_s": prefault_s,
        "pipeline_calls": proc["pipeline_calls"],
        "note": info.get("note", ""),
    }
    if check and row.name == "xiso":
        out["digest"] = output_digest(state["dst"])
    return out


def child_cluster(row: Row, shape, base, source: Path, workdir: Path, check: bool) -> dict:
    """One timed run of case 3 with a fresh LocalCluster as the active client."""
    from distributed import Client, LocalCluster

    import xiso  # noqa: F401

    case = bench_cases.BY_NAME[row.case]
    t_start = time.perf_counter()
    with (
        LocalCluster(
            n_workers=CLUSTER_WORKERS,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(CLUSTER_WORKERS)
        warm = bench_cases.Ctx(bench_cases.TINY, workdir / "warm", tiny=True)
        case.run(case.setup(warm))  # on the workers: imports, first calls
        bench_data.remove(workdir / "warm")
        state = case.setup(SourceCtx(shape, workdir, source))
        startup_s = time.perf_counter() - t_start
        share = max(2**28, _nbytes(base))  # each worker and the driver
        client.run(_prefault_here, share)
        bench_cases._prefault(share)
        client.run(_instrument)
        _instrument()
        t0 = time.perf_counter()
        result = case.run(state)
        seconds = time.perf_counter() - t0
        workers = client.run(_process_report)
        driver = _process_report()
        workers_now = list(client.scheduler_info()["workers"])
    info = case.describe(state, result)
    peaks = {a: (w["vmhwm"] or w["ru_maxrss"]) for a, w in workers.items()}
    calls: dict[str, int] = {}
    for w in workers.values():
        for k, v in w["pipeline_calls"].items():
            calls[k] = calls.get(k, 0) + v
    out = {
        "seconds": seconds,
        "peak_rss": max(peaks.values()),
        "peak_from": "VmHWM" if all(w["vmhwm"] for w in workers.values()) else "ru_maxrss",
        "worker_peaks": sorted(peaks.values()),
        "driver_peak": driver["vmhwm"] or driver["ru_maxrss"],
        "pipeline_calls": calls,
        "driver_pipeline_calls": driver["pipeline_calls"],
        "worker_config_pipeline": sorted({w["config_pipeline"] for w in workers.values()}),
        "workers_restarted": sorted(workers) != sorted(workers_now),
        "startup_s": startup_s,
        "note": info.get("note", ""),
    }
    if check:
        out["digest"] = output_digest(state["dst"])
    return out


def child_main(argv: list[str]) -> int:
    import traceback

    parser = argparse.ArgumentParser(prog="scaling.py child")
    parser.add_argument("row", choices=sorted(BY_NAME))
    parser.add_argument("--base", required=True)
    parser.add_argument("--multiplier", type=int, required=True)
    parser.add_argument("--source", required=True, type=Path)
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--check", action="store_true", help="hash the decoded output")
    args = parser.parse_args(argv)
    row, base = BY_NAME[args.row], _shape(args.base)
    shape = bench_data.tiled_shape(base, args.multiplier)
    fn = child_cluster if row.cluster else child_single
    try:
        out = fn(row, shape, base, args.source, args.workdir, args.check)
        out["xiso_tree"] = xiso_tree()
    except Exception as err:
        traceback.print_exc()
        out = {"error": f"{type(err).__name__}: {err}"}
    sys.stdout.flush()
    print(bench_cases.RESULT_TAG + json.dumps(out), flush=True)
    return 0


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------
def prepare(
    base: tuple[int, int, int], multipliers: list[int], source: str = "lightsheet"
) -> dict[int, Path]:
    """Build (once, in a separate process) the ``source`` of every size."""
    paths = {}
    for m in multipliers:
        path = bench_data.source_zarr(source, base, m)
        if not path.exists():
            print(f"preparing the {m}x source {path.name} ...", file=sys.stderr)
            t0 = time.perf_counter()
            kind = bench_data.source_kind(source, m)
            cmd = [sys.executable, str(HERE / "data.py"), _tag(base), kind]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            print(f"  done in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        paths[m] = path
    return paths


def run_child(
    row: Row,
    base,
    m: int,
    source: Path,
    workdir: Path,
    check: bool,
    timeout: float,
    max_rss: float,
) -> dict:
    """Start one child in its own process group and watch it: past ``timeout``
    seconds, or when the group (a cluster's workers included) holds more than
    ``max_rss`` bytes, kill the whole group; a peer that loads the whole input
    must not take the shared machine down."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "child", row.name]
    cmd += ["--base", _tag(base), "--multiplier", str(m), "--source", str(source)]
    cmd += ["--workdir", str(workdir)] + (["--check"] if check else [])
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, start_new_session=True)
        t0, killed, worst = time.perf_counter(), None, 0
        try:
            while proc.poll() is None:
                try:
                    proc.wait(timeout=0.5)
                except subprocess.TimeoutExpired:
                    pass
                rss = group_rss(proc.pid) if proc.poll() is None else 0
                worst = max(worst, rss)
                if time.perf_counter() - t0 > timeout:
                    killed = f"timed out after {timeout:.0f} s"
                elif rss > max_rss:
                    killed = f"killed: its processes held {rss / GIB:.1f} GiB (> --max-rss-gib)"
                if killed:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    return {"error": killed}
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            bench_data.remove(workdir)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    for line in reversed(stdout.splitlines()):
        if line.startswith(bench_cases.RESULT_TAG):
            result = json.loads(line[len(bench_cases.RESULT_TAG) :])
            result["group_rss_sampled"] = worst
            if "error" in result:
                result["stderr"] = stderr[-4000:]
            return result
    return {"error": f"exit code {proc.returncode}", "stderr": stderr[-4000:]}


def run_all(
    rows: list[Row],
    base: tuple[int, int, int],
    sources: dict[int, Path],
    repeat: int,
    timeout: float,
    timeout_per_gib: float,
    max_rss: float,
    doc: dict,
    json_path: Path,
) -> None:
    """Fill ``doc["runs"]`` round by round, saving after every run; runs already
    there (``--resume``) are kept, and a row that errors or is skipped at a
    size is not tried again at that size."""
    done = {(r["row"], r["multiplier"], r["round"]) for r in doc["runs"]}
    given_up = {(r["row"], r["multiplier"]) for r in doc["runs"] if "seconds" not in r}
    given_up |= {(r["row"], m) for r in doc["runs"] if "skipped" in r for m in sources}
    root = Path(tempfile.mkdtemp(prefix="xiso-scaling-"))
    try:
        for rnd in range(1, repeat + 1):
            for m, source in sources.items():
                gib = _nbytes(bench_data.tiled_shape(base, m)) / GIB
                todo = [r for r in rows if (r.name, m, rnd) not in done]
                if any((r.name, m) not in given_up for r in todo):
                    speed = read_through(source)
                    doc.setdefault("read_through_gib_s", []).append([m, rnd, speed])
                    print(
                        f"[{rnd}/{repeat}] {m}x source read at {speed:.2f} GiB/s", file=sys.stderr
                    )
                for row in rows:
                    if (row.name, m, rnd) in done or (row.name, m) in given_up:
                        continue
                    where = f"[{rnd}/{repeat}] {m}x ({gib:.3g} GiB) {row.name}"
                    check = rnd == 1 and row.name in ("xiso", "xiso-cluster")
                    limit = timeout + timeout_per_gib * gib
                    result = run_child(row, base, m, source, root / row.name, check, limit, max_rss)
                    entry = {"row": row.name, "multiplier": m, "round": rnd, **result}
                    doc["runs"].append(entry)
                    save_json(json_path, doc)
                    if "skipped" in result:
                        print(f"{where}: skipped ({result['skipped']})", file=sys.stderr)
                        given_up |= {(row.name, k) for k in sources}
                    elif "error" in result:
                        print(f"{where}: ERROR {result['error']}", file=sys.stderr)
                        print(result.get("stderr", ""), file=sys.stderr)
                        given_up.add((row.name, m))
                    else:
                        print(
                            f"{where}: {result['seconds']:.2f} s, "
                            f"peak {result['peak_rss'] / MIB:.0f} MiB",
                            file=sys.stderr,
                        )
    finally:
        bench_data.remove(root)


# --------------------------------------------------------------------------
# summary and report
# --------------------------------------------------------------------------
def summarize(doc: dict) -> list[dict]:
    """One entry per (row, size): median seconds, s/GiB, worst peak, and the
    ratios to the same row at the smallest size and to the codec floor."""
    base = tuple(doc["base"])
    out: list[dict] = []
    for row in ROWS:
        for m in doc["multipliers"]:
            runs = [r for r in doc["runs"] if r["row"] == row.name and r["multiplier"] == m]
            if not runs:
                continue
            ok = [r for r in runs if "seconds" in r]
            gib = _nbytes(bench_data.tiled_shape(base, m)) / GIB  # type: ignore[arg-type]
            entry: dict[str, Any] = {"row": row.name, "multiplier": m, "gib": gib, "n": len(ok)}
            if not ok:
                bad = runs[-1]
                entry["why"] = bad.get("skipped") or f"error: {bad.get('error')}"
                out.append(entry)
                continue
            median = statistics.median(r["seconds"] for r in ok)
            entry.update(
                median_s=median,
                min_s=min(r["seconds"] for r in ok),
                max_s=max(r["seconds"] for r in ok),
                s_per_gib=median / gib,
                peak_rss=max(r["peak_rss"] for r in ok),
            )
            if row.cluster:
                entry["worker_peaks"] = max((r["worker_peaks"] for r in ok), key=max)
                entry["driver_peak"] = max(r["driver_peak"] for r in ok)
                entry["worker_config_pipeline"] = ok[0]["worker_config_pipeline"]
            entry["pipeline_calls"] = ok[0].get("pipeline_calls", {})
            checked = [r for r in ok if r.get("digest")]
            if checked:
                entry["digest"] = checked[0]["digest"]
                entry["digest_tree"] = checked[0].get("xiso_tree")
            entry["note"] = ok[0].get("note", "")
            out.append(entry)
    index = {(e["row"], e["multiplier"]): e for e in out}
    for e in out:
        if "median_s" not in e:
            continue
        first = next(
            (
                index[(e["row"], m)]
                for m in doc["multipliers"]
                if "median_s" in index.get((e["row"], m), {})
            ),
            None,
        )
        if first is not None:
            e["vs_smallest"] = e["s_per_gib"] / first["s_per_gib"]
            e["peak_vs_smallest"] = e["peak_rss"] / first["peak_rss"]
        floor = index.get(("codec-floor", e["multiplier"]), {})
        if "median_s" in floor:
            e["vs_floor"] = e["median_s"] / floor["median_s"]
        if e["row"] == "xiso-cluster":
            single = index.get(("xiso", e["multiplier"]), {})
            if e.get("digest") and single.get("digest"):
                if e.get("digest_tree") == single.get("digest_tree"):
                    e["identical"] = e["digest"] == single["digest"]
                else:  # xiso's code changed between the two runs: nothing to compare
                    e["identical"] = None
    return out


def verdict(e: dict) -> tuple[str, str]:
    """(target text, met?) of a row with a target."""
    if not BY_NAME[e["row"]].target or "median_s" not in e:
        return "", ""
    checks = []
    if "vs_smallest" in e:
        checks.append(e["vs_smallest"] <= TIME_LIMIT)
        checks.append(e["peak_vs_smallest"] <= PEAK_FLAT)
    checks.append(e["peak_rss"] < PEAK_LIMIT_MIB * MIB)
    text = f"s/GiB <= {TIME_LIMIT}x; peak <= {PEAK_FLAT}x and < {PEAK_LIMIT_MIB} MiB"
    return text, "met" if all(checks) else "**missed**"


def _notes(e: dict) -> str:
    notes = []
    if e["row"] == "xiso-cluster":
        notes.append(
            "worker peaks "
            + " / ".join(f"{p / MIB:.0f}" for p in e["worker_peaks"])
            + f" MiB, driver {e['driver_peak'] / MIB:.0f} MiB"
        )
        if e.get("identical") is None and "identical" in e:
            notes.append("output not compared: xiso's code changed between the two runs")
        elif "identical" in e:
            same = "identical to" if e["identical"] else "**differs** from"
            notes.append(f"output decodes {same} xiso's")
    if e["row"] in ("xiso", "xiso-cluster"):  # (peers' own I/O paths are not all counted)
        short = {
            k.replace("CodecPipeline", "").replace("Batched", "zarr"): v
            for k, v in e.get("pipeline_calls", {}).items()
        }
        where = "workers: " if e["row"] == "xiso-cluster" else ""
        notes.append(where + _pipeline_note(short))
    return "; ".join(notes)


def table(summary: list[dict]) -> str:
    header = [
        "size GiB",
        "row",
        "median s",
        "s/GiB",
        "s/GiB vs smallest",
        "peak RSS MiB",
        "peak vs smallest",
        "vs codec floor",
        "target",
        "met?",
        "notes",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    sizes = sorted({e["multiplier"] for e in summary})
    for m in sizes:
        for e in (e for e in summary if e["multiplier"] == m):
            row = BY_NAME[e["row"]]
            name = f"`{row.name}`"
            gib = f"{e['gib']:.3g}"
            if "median_s" not in e:
                lines.append(f"| {gib} | {name} | - | - | - | - | - | - | | | {e['why']} |")
                continue
            target, met = verdict(e)
            cells = [
                gib,
                name,
                f"{e['median_s']:.3g}",
                f"{e['s_per_gib']:.3g}",
                f"{e['vs_smallest']:.2f}" if "vs_smallest" in e else "-",
                f"{e['peak_rss'] / MIB:.0f}",
                f"{e['peak_vs_smallest']:.2f}" if "peak_vs_smallest" in e else "-",
                f"{e['vs_floor']:.2f}" if "vs_floor" in e else "-",
                target,
                met,
                _notes(e),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(doc: dict, summary: list[dict], figure: Path | None) -> str:
    base = tuple(doc["base"])
    f = doc.get("facts", {})
    v = f.get("versions", {})
    rows = "; ".join(f"`{r.name}`: {r.label}" for r in ROWS if r.name in doc["rows"])
    trees = {r["xiso_tree"] for r in doc["runs"] if r.get("xiso_tree")}
    speeds: dict[int, float] = {}
    for m, _, speed in doc.get("read_through_gib_s", []):
        speeds[m] = min(speed, speeds.get(m, speed))
    slowest = ", ".join(f"{m}x {v:.1f} GiB/s" for m, v in sorted(speeds.items())) or "-"
    lines = [
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['started']}, {doc.get('elapsed_min', 0):.1f} min in all  ",
        f"Machine: {f.get('nproc', '?')} cores ({f.get('cpu', '?')}), {f.get('memory', '?')} "
        f"RAM, load average at the end {f.get('loadavg', '?')}  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "  ",
        f"Sources: the {_tag(base)} uint16 OME-Zarr {doc.get('source', 'lightsheet')} "
        "source (chunks 128^3, zstd) and "
        + (
            "sources 4x (case 6's, four flipped copies) and 16x (copies of its chunk files) "
            if doc.get("source", "lightsheet") == "lightsheet"
            else "sources made of copies of its chunk files, "
        )
        + "longer along z; output z/4, chunks 128^3; before its rows in each round, every "
        "file of a size's source is read once (untimed) so that reads come from the page "
        f"cache (slowest read-through: {slowest})  ",
        f"Rows: {rows}  ",
        f"Repeats: {doc['repeat']} per size and row, interleaved in rounds, each run in a fresh "
        "process after a warm-up; median times; peak RSS is the worst run's kernel "
        "high-water mark (reset just before the run; for the cluster, the worst worker's). "
        f"Targets: time per GiB at most {TIME_LIMIT}x the same row at the smallest size; "
        f"peak flat: at most {PEAK_FLAT}x the smallest size's and < {PEAK_LIMIT_MIB} MiB",
        "",
        table(summary),
    ]
    if len(trees) > 1:
        lines.insert(
            -2,
            f"**Warning**: xiso's source changed during the run ({len(trees)} versions "
            "among the runs), so its rows mix versions; run again.  ",
        )
    if figure is not None:
        rel = os.path.relpath(figure, ROOT / "docs")
        lines += [
            "",
            f"```{{figure}} {rel}",
            ":alt: time per GiB and peak RSS of case 3 against the input size, "
            "for xiso and its peers",
            "",
            "Time per GiB (left) and peak RSS (right) of case 3 against the input size "
            "(log scale), from the run above: a flat line is linear cost. Drawn by "
            "`docs/figures/scaling.py`.",
            "```",
        ]
    return "\n".join(lines)


def draw(json_path: Path, figure: Path) -> bool:
    """Draw the figure in a separate process (matplotlib stays out of this one)."""
    cmd = [sys.executable, str(PLOT_SCRIPT), str(json_path), "--out", str(figure)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        print(f"the figure failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,4,16", help="multipliers of the base size")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--base", default=_tag(FULL_BASE), help="NZxNYxNX of the 1x source")
    parser.add_argument(
        "--cluster", action=argparse.BooleanOptionalAction, default=True, help="xiso-cluster row"
    )
    parser.add_argument(
        "--peers", action=argparse.BooleanOptionalAction, default=True, help="ngff-zarr, zarrnii"
    )
    parser.add_argument("--rows", help="only these rows (comma-separated names)")
    parser.add_argument(
        "--source",
        default="lightsheet",
        choices=bench_data.SOURCES,
        help="the source volume: the lightsheet demo or the noisy, camera-like one",
    )
    parser.add_argument("--json", type=Path, help="raw results (default: cache dir)")
    parser.add_argument("--resume", action="store_true", help="keep the runs --json holds")
    parser.add_argument("--figure", type=Path, default=FIGURE, help="SVG or PNG to draw")
    parser.add_argument("--no-figure", action="store_true")
    parser.add_argument(
        "--write-docs",
        type=Path,
        nargs="?",
        const=ROOT / "docs" / "performance.md",
        help="write the snippet between the bench:scaling markers of this page",
    )
    parser.add_argument("--timeout", type=float, default=300, help="seconds per child, plus")
    parser.add_argument("--timeout-per-gib", type=float, default=120, help="... per GiB")
    parser.add_argument(
        "--max-rss-gib",
        type=float,
        default=6,
        help="kill a run whose processes hold more than this (default 6 GiB)",
    )
    args = parser.parse_args(argv)

    base = _shape(args.base)
    multipliers = [int(v) for v in args.sizes.split(",") if v.strip()]
    if sorted(set(multipliers)) != multipliers or multipliers[0] < 1:
        parser.error("--sizes: increasing whole multipliers, e.g. 1,4,16")
    rows = [r for r in ROWS if (args.peers or not r.peer) and (args.cluster or not r.cluster)]
    if args.rows:
        wanted = {t.strip() for t in args.rows.split(",")}
        unknown = wanted - set(BY_NAME)
        if unknown:
            parser.error(f"--rows: unknown {sorted(unknown)}; rows: {', '.join(BY_NAME)}")
        rows = [r for r in rows if r.name in wanted]
    suffix = "" if args.source == "lightsheet" else f"-{args.source}"
    json_path = args.json or bench_data.cache_dir() / f"scaling-{_tag(base)}{suffix}.json"
    command = "python benchmarks/scaling.py " + shlex.join(argv)
    started = dt.datetime.now(dt.UTC)
    doc: dict[str, Any] = {
        "command": command.strip(),
        "started": f"{started:%Y-%m-%d %H:%M} UTC",
        "base": list(base),
        "source": args.source,
        "multipliers": multipliers,
        "repeat": args.repeat,
        "rows": [r.name for r in rows],
        "labels": {r.name: r.label for r in ROWS},
        "runs": [],
    }
    if args.resume and json_path.exists():
        old = json.loads(json_path.read_text())
        if old.get("base") == list(base) and old.get("source", "lightsheet") == args.source:
            doc["runs"] = [r for r in old["runs"] if r["multiplier"] in multipliers]
            doc["started"] = old.get("started", doc["started"])
            doc["elapsed_min"] = old.get("elapsed_min", 0)
            print(f"resuming: {len(doc['runs'])} runs from {json_path}", file=sys.stderr)
    t0 = time.perf_counter()
    sources = prepare(base, multipliers, args.source)
    run_all(
        rows,
        base,
        sources,
        args.repeat,
        args.timeout,
        args.timeout_per_gib,
        args.max_rss_gib * GIB,
        doc,
        json_path,
    )

    import run as bench_run  # machine facts, shared with run.py

    doc["facts"] = bench_run.machine_facts()
    doc["elapsed_min"] = doc.get("elapsed_min", 0) + (time.perf_counter() - t0) / 60
    doc["summary"] = summarize(doc)
    save_json(json_path, doc)
    figure = None if args.no_figure else args.figure
    if figure is not None and not draw(json_path, figure):
        figure = None
    body = report(doc, doc["summary"], figure)
    print(body)
    print(f"\nraw results: {json_path}", file=sys.stderr)
    if figure is not None:
        print(f"figure: {figure}", file=sys.stderr)
    if args.write_docs:
        bench_run.write_docs(args.write_docs, "scaling", body)
        print(f"updated {args.write_docs}", file=sys.stderr)
    return 1 if any("error" in r for r in doc["runs"]) else 0


if __name__ == "__main__":
    sys.exit(main())
