"""Case 3 as whole processes: what a user waits for, interpreter start and imports included.

    python benchmarks/whole.py [--source lightsheet,noisy] [--base 256x1024x1024]
                               [--sizes 1,8] [--repeat 3] [--rows xiso,xiso-cli,...]
                               [--write-docs] [--report RAW.json]

Each row is one command, run as a fresh process and timed from outside (the wall
time from ``fork`` to ``wait``, so Python's start, every import, the job and
the exit are in it); the child's peak RSS and CPU seconds come from
``wait4``. The rows are the OME-Zarr -> near-isotropic OME-Zarr job (z/4 on the
0.25 x 1 x 1 source, one level, chunks 128^3, each tool's default codec), written
the way a user of each tool writes it:

- ``xiso``: ``python -c`` with ``xiso.open_ome_zarr(src, near_isotropic=True)`` ->
  ``xiso.to_ome_zarr(pyramid=False)``;
- ``xiso-cli``: ``python -m xiso convert SRC DST --no-pyramid --chunks 128 --quiet``;
- ``ngff-zarr``: ``python -c`` with ``from_ngff_zarr`` -> ``to_multiscales`` (bin
  shrink, z/4) -> ``to_ngff_zarr`` of that one level;
- ``zarrnii``: ``python -c`` with ``ZarrNii.from_ome_zarr`` -> ``downsample(along_z=4)``
  -> ``to_ome_zarr(max_layer=1)``.

Every tool runs with its own defaults (dask's threaded scheduler with one thread
per core). Sources are ``data.source_zarr(source, base, M)`` for each ``--sizes``
multiplier M: the lightsheet volume and the noisy, camera-like one (see data.py),
M times longer along z by copies of their chunk files. Before the rows of a
(source, size) in each round every file of the source is read once, untimed,
so reads come from the page cache. Repeats are interleaved in rounds (every
source, size and row once, then again); the table gives medians, the ratio of
each peer's median to xiso's (> 1: xiso is faster), and the bytes each tool
wrote (round 1). xiso's bytecode is written first, as ``pip install`` writes every
tool's (a source checkout under ``PYTHONDONTWRITEBYTECODE`` would compile xiso's
modules in every process, about 0.1 s). Nothing asserts a time. Raw results go to
``whole-BASE.json`` in the cache directory; ``--write-docs`` puts the table
between the ``bench:whole`` markers of docs/performance.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
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

import data as bench_data  # noqa: E402
from cases_base import (  # noqa: E402
    _nbytes,
    _shape,
    _tag,
    compile_xiso,
    read_through,
    save_json,
    scratch_env,
)

GIB = 2**30
MIB = 2**20
FACTOR = 4  # z factor of near_isotropic for spacing (0.25, 1, 1)
CHUNK = bench_data.CHUNK
DEFAULT_BASE = (256, 1024, 1024)  # 512 MiB of uint16

XISO = f"""
import sys
import xiso
iso = xiso.open_ome_zarr(sys.argv[1], near_isotropic=True)
xiso.to_ome_zarr(iso, sys.argv[2], pyramid=False, chunks={CHUNK})
"""

NGFF_ZARR = f"""
import sys
import ngff_zarr as nz
image = nz.from_ngff_zarr(sys.argv[1]).images[0]
method = nz.Methods.DASK_BIN_SHRINK
reduced = nz.to_multiscales(
    image, scale_factors=[{{"z": {FACTOR}, "y": 1, "x": 1}}], method=method, chunks={CHUNK}
).images[1]
single = nz.to_multiscales(reduced, scale_factors=[], method=method, chunks={CHUNK})
nz.to_ngff_zarr(sys.argv[2], single)
"""

ZARRNII = f"""
import sys
from zarrnii import ZarrNii
image = ZarrNii.from_ome_zarr(sys.argv[1])
image.downsample(along_z={FACTOR}).to_ome_zarr(sys.argv[2], max_layer=1)
"""


@dataclass(frozen=True)
class Row:
    name: str
    label: str
    module: str  # what must be importable for the row to run
    script: str | None = None  # python -c SCRIPT SRC DST, or ...
    args: tuple[str, ...] = ()  # ... python ARGS SRC DST ARGS_AFTER
    after: tuple[str, ...] = ()

    def command(self, src: Path, dst: Path) -> list[str]:
        if self.script is not None:
            return [sys.executable, "-c", self.script, str(src), str(dst)]
        return [sys.executable, *self.args, str(src), str(dst), *self.after]


ROWS = [
    Row("xiso", "python -c: xiso.open_ome_zarr(near_isotropic) -> to_ome_zarr", "xiso", XISO),
    Row(
        "xiso-cli",
        "xiso convert SRC DST --no-pyramid --chunks 128 --quiet",
        "xiso",
        args=("-m", "xiso", "convert"),
        after=("--no-pyramid", "--chunks", str(CHUNK), "--quiet"),
    ),
    Row(
        "ngff-zarr",
        "python -c: ngff-zarr from_ngff_zarr -> bin shrink -> to_ngff_zarr",
        "ngff_zarr",
        NGFF_ZARR,
    ),
    Row(
        "zarrnii",
        "python -c: zarrnii from_ome_zarr -> downsample(along_z=4) -> to_ome_zarr",
        "zarrnii",
        ZARRNII,
    ),
]
BY_NAME = {r.name: r for r in ROWS}
PEERS = ("ngff-zarr", "zarrnii")


def tree_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (what a tool wrote)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def available(row: Row) -> str | None:
    """Why ``row`` cannot run here (its module is missing), or None."""
    probe = [sys.executable, "-c", f"import {row.module}"]
    proc = subprocess.run(probe, capture_output=True, text=True)
    return None if proc.returncode == 0 else f"{row.module} not installed"


def run_one(row: Row, src: Path, dst: Path, timeout: float) -> dict:
    """Run ``row`` once on ``src`` as a fresh process: wall seconds (timed from
    outside), peak RSS and CPU seconds of the child (``wait4``), bytes written."""
    bench_data.remove(dst)
    cmd = row.command(src, dst)
    env, scratch = scratch_env(dst)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                proc.kill()
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.002)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    bench_data.remove(scratch)
    if time.perf_counter() > deadline:
        return {"error": f"timed out after {timeout:.0f} s", "stderr": stderr[-2000:]}
    if proc.returncode:
        return {"error": f"exit code {proc.returncode}", "stderr": stderr[-2000:]}
    out = {
        "seconds": seconds,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss": usage.ru_maxrss * 1024,
        "written_bytes": tree_bytes(dst),
    }
    bench_data.remove(dst)
    return out


def prepare(sources: list[str], base: tuple[int, int, int], multipliers: list[int]) -> dict:
    """Build (once, in a separate process) every source; {(source, M): path}."""
    paths = {}
    for source in sources:
        for m in multipliers:
            path = bench_data.source_zarr(source, base, m)
            if not path.exists():
                kind = bench_data.source_kind(source, m)
                print(f"preparing {path.name} ...", file=sys.stderr)
                cmd = [sys.executable, str(HERE / "data.py"), _tag(base), kind]
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            paths[(source, m)] = path
    return paths


def run_all(rows, paths, repeat, timeout, doc, json_path, workdir: Path) -> None:
    """Every (source, size, row) once per round, ``repeat`` rounds, saved as it goes."""
    base = tuple(doc["base"])
    skipped = {r.name: why for r in rows if (why := available(r))}
    for name, why in skipped.items():
        doc["runs"].append({"row": name, "skipped": why})
    for rnd in range(1, repeat + 1):
        for (source, m), src in paths.items():
            speed = read_through(src)
            doc.setdefault("read_through_gib_s", []).append([source, m, speed])
            gib = _nbytes(bench_data.tiled_shape(base, m)) / GIB  # type: ignore[arg-type]
            for row in rows:
                if row.name in skipped:
                    continue
                where = f"[{rnd}/{repeat}] {source} {gib:.3g} GiB {row.name}"
                result = run_one(row, src, workdir / f"{row.name}.ome.zarr", timeout)
                entry = {"row": row.name, "source": source, "multiplier": m, "round": rnd}
                doc["runs"].append({**entry, **result})
                save_json(json_path, doc)
                if "error" in result:
                    print(f"{where}: ERROR {result['error']}\n{result['stderr']}", file=sys.stderr)
                else:
                    print(
                        f"{where}: {result['seconds']:.2f} s, cpu {result['cpu_s']:.1f} s, "
                        f"peak {result['peak_rss'] / MIB:.0f} MiB",
                        file=sys.stderr,
                    )


def summarize(doc: dict) -> list[dict]:
    """One entry per (source, size, row): median, min, max seconds, median CPU
    seconds, worst peak RSS, bytes written, and each peer's median / xiso's."""
    base = tuple(doc["base"])
    out: list[dict] = []
    for source in doc["sources"]:
        for m in doc["multipliers"]:
            gib = _nbytes(bench_data.tiled_shape(base, m)) / GIB  # type: ignore[arg-type]
            group: dict[str, dict] = {}
            for name in doc["rows"]:
                runs = [
                    r
                    for r in doc["runs"]
                    if r["row"] == name and r.get("source") == source and r["multiplier"] == m
                ]
                ok = [r for r in runs if "seconds" in r]
                entry: dict[str, Any] = {
                    "row": name,
                    "source": source,
                    "multiplier": m,
                    "gib": gib,
                    "n": len(ok),
                }
                skipped = next(
                    (r for r in doc["runs"] if r["row"] == name and "skipped" in r), None
                )
                if skipped or not ok:
                    entry["why"] = (
                        skipped["skipped"]
                        if skipped
                        else (runs[-1].get("error", "not run") if runs else "not run")
                    )
                else:
                    entry.update(
                        median_s=statistics.median(r["seconds"] for r in ok),
                        min_s=min(r["seconds"] for r in ok),
                        max_s=max(r["seconds"] for r in ok),
                        cpu_s=statistics.median(r["cpu_s"] for r in ok),
                        peak_rss=max(r["peak_rss"] for r in ok),
                        written_bytes=ok[0]["written_bytes"],
                    )
                group[name] = entry
                out.append(entry)
            xiso = group.get("xiso", {})
            for entry in group.values():
                if "median_s" in entry and "median_s" in xiso:
                    entry["vs_xiso"] = entry["median_s"] / xiso["median_s"]
    return out


def table(summary: list[dict]) -> str:
    header = [
        "source",
        "size GiB",
        "row",
        "median s",
        "min-max s",
        "/ xiso",
        "CPU s",
        "peak RSS MiB",
        "written MiB",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for e in summary:
        cells = [e["source"], f"{e['gib']:.3g}", f"`{e['row']}`"]
        if "median_s" not in e:
            lines.append("| " + " | ".join([*cells, e["why"], "", "", "", "", ""]) + " |")
            continue
        ratio = e.get("vs_xiso")
        cells += [
            f"{e['median_s']:.2f}",
            f"{e['min_s']:.2f}-{e['max_s']:.2f}",
            f"{ratio:.2f}" if ratio is not None else "-",
            f"{e['cpu_s']:.1f}",
            f"{e['peak_rss'] / MIB:.0f}",
            f"{e['written_bytes'] / MIB:.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict(summary: list[dict]) -> list[str]:
    """One line per (source, size): is xiso's median below every peer's?"""
    lines = []
    keys = sorted({(e["source"], e["multiplier"]) for e in summary}, key=lambda k: (k[1], k[0]))
    for source, m in keys:
        group = {e["row"]: e for e in summary if (e["source"], e["multiplier"]) == (source, m)}
        peers = [group[p] for p in PEERS if "vs_xiso" in group.get(p, {})]
        if "median_s" not in group.get("xiso", {}) or not peers:
            continue
        gib = group["xiso"]["gib"]
        ahead = all(p["vs_xiso"] > 1 for p in peers)
        ratios = ", ".join(f"{p['row']} {p['vs_xiso']:.2f}x" for p in peers)
        word = "ahead of" if ahead else "**behind** one of"
        lines.append(f"{source} {gib:.3g} GiB: xiso is {word} its peers ({ratios} xiso's time)")
    return lines


def report(doc: dict, summary: list[dict]) -> str:
    base = tuple(doc["base"])
    f = doc.get("facts", {})
    v = f.get("versions", {})
    speeds = doc.get("read_through_gib_s", [])
    slowest = min((s for *_, s in speeds), default=None)
    lines = [
        f"Command: `{doc['command']}`  ",
        f"Date: {doc['started']}, {doc.get('elapsed_min', 0):.1f} min in all  ",
        f"Machine: {f.get('nproc', '?')} cores ({f.get('cpu', '?')}), {f.get('memory', '?')} "
        f"RAM, load average at the end {f.get('loadavg', '?')}  ",
        "Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()) + "  ",
        f"Sources: {', '.join(doc['sources'])}; the {_tag(base)} uint16 OME-Zarr source "
        "(chunks 128^3, zstd) and sources "
        + ", ".join(f"{m}x" for m in doc["multipliers"] if m > 1)
        + " longer along z; output z/4, chunks 128^3, one level; every file of a "
        "source read once (untimed) before its rows in each round"
        + (f" (slowest read-through {slowest:.1f} GiB/s)" if slowest else "")
        + "  ",
        f"Repeats: {doc['repeat']} interleaved rounds, each run a fresh process timed from "
        "outside (start, imports, job, exit; every tool's bytecode compiled beforehand, as "
        "pip does at install); medians; `/ xiso` is a row's median over "
        "xiso's (> 1: xiso is faster); CPU s is the child's user + system time; written is "
        "what the tool wrote (round 1)",
        "",
        table(summary),
        "",
        *(f"- {line}" for line in verdict(summary)),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--source", default=",".join(bench_data.SOURCES), help="comma-separated source kinds"
    )
    parser.add_argument("--base", default=_tag(DEFAULT_BASE), help="NZxNYxNX of the 1x source")
    parser.add_argument("--sizes", default="1,8", help="multipliers of the base size")
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--rows", help=f"only these rows (of {', '.join(BY_NAME)})")
    parser.add_argument("--json", type=Path, help="raw results (default: cache dir)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    parser.add_argument(
        "--write-docs",
        type=Path,
        nargs="?",
        const=ROOT / "docs" / "performance.md",
        help="write the table between the bench:whole markers of this page",
    )
    parser.add_argument(
        "--report", type=Path, help="only print (and --write-docs) the report of this raw JSON"
    )
    args = parser.parse_args(argv)
    if args.report:
        return _report_only(args.report, args.write_docs)
    compile_xiso()  # as installed: no process compiles xiso's sources

    sources = [s.strip() for s in args.source.split(",") if s.strip()]
    unknown = [s for s in sources if s not in bench_data.SOURCES]
    if unknown or not sources:
        parser.error(f"--source: {unknown or 'none'}; one or more of {bench_data.SOURCES}")
    base = _shape(args.base)
    multipliers = [int(v) for v in args.sizes.split(",") if v.strip()]
    if sorted(set(multipliers)) != multipliers or multipliers[0] < 1:
        parser.error("--sizes: increasing whole multipliers, e.g. 1,8")
    rows = ROWS
    if args.rows:
        wanted = [t.strip() for t in args.rows.split(",")]
        unknown = [w for w in wanted if w not in BY_NAME]
        if unknown:
            parser.error(f"--rows: unknown {unknown}; rows: {', '.join(BY_NAME)}")
        rows = [r for r in ROWS if r.name in wanted]
    json_path = args.json or bench_data.cache_dir() / f"whole-{_tag(base)}.json"
    doc: dict[str, Any] = {
        "command": ("python benchmarks/whole.py " + shlex.join(argv)).strip(),
        "started": f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        "base": list(base),
        "sources": sources,
        "multipliers": multipliers,
        "repeat": args.repeat,
        "rows": [r.name for r in rows],
        "labels": {r.name: r.label for r in rows},
        "runs": [],
    }
    t0 = time.perf_counter()
    paths = prepare(sources, base, multipliers)
    workdir = Path(tempfile.mkdtemp(prefix="whole-", dir=bench_data.cache_dir()))
    try:
        run_all(rows, paths, args.repeat, args.timeout, doc, json_path, workdir)
    finally:
        bench_data.remove(workdir)

    import run as bench_run  # machine facts and the docs writer, shared with run.py

    doc["facts"] = bench_run.machine_facts()
    doc["elapsed_min"] = (time.perf_counter() - t0) / 60
    doc["summary"] = summarize(doc)
    save_json(json_path, doc)
    body = report(doc, doc["summary"])
    print(body)
    print(f"\nraw results: {json_path}", file=sys.stderr)
    if args.write_docs:
        bench_run.write_docs(args.write_docs, "whole", body)
        print(f"updated {args.write_docs}", file=sys.stderr)
    return 1 if any("error" in r for r in doc["runs"]) else 0


def _report_only(path: Path, docs: Path | None) -> int:
    """Print the report of the raw results at ``path`` (and write it into ``docs``)."""
    import run as bench_run

    doc = json.loads(path.read_text())
    body = report(doc, doc["summary"])
    print(body)
    if docs:
        bench_run.write_docs(docs, "whole", body)
        print(f"updated {docs}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
