"""The TB-scale job: a sharded near-isotropic OME-Zarr 0.5 pyramid, against the field.

    python benchmarks/tb.py [--jobs slab,lightsheet] [--rows ROW,...] [--small]
                            [--timeout S] [--max-rss-gib G] [--write-docs]

Two sources (built once into the bench cache by ``data.py``, see there):

- ``slab``: a thin slab of 30 x 15000 x 15000 uint16 (13.5 GB, 1 um spacing),
  the shape of ngff-zarr issue #48, where users measured 1000-2026 s and
  6.4-16 GB peak memory; and 30 x 10000 x 10000 (both sharded by default);
- ``lightsheet``: the lightsheet volume at z 0.25 um, y/x 1 um, 16 GiB
  (8192 x 1024 x 1024, copies of the 1 GiB source's chunk files) and 4 GiB.

The job is what ``xiso convert SRC DST`` does: make the image near-isotropic
(the lightsheet: z/4; the slab already is) and write it as a pyramid, sharded
as ``shards="auto"`` picks. Every row is a whole process (interpreter start
and imports included), started in its own process group; its time is the
wall time seen from here and its peak is the kernel's ``ru_maxrss`` of the
process (``wait4``); the group's RSS is also sampled every 0.5 s, and a row
past ``--timeout`` or ``--max-rss-gib`` is killed and reported as such (a
peer that holds the whole image must not take the shared machine down).

Rows:

- ``xiso``: ``xiso convert --quiet SRC DST`` (the command line a user runs);
- ``xiso-cluster``: the same call on a fresh 2-worker ``LocalCluster``
  (processes, 1 thread each); its peak is the worst worker's (each worker's
  and the driver's are in the notes), its time the whole process's;
- ``floor``: the sharded codec floor of the same output: the source's raw
  chunk files zstd-decoded once, every level filled by strided copies (no
  arithmetic), each chunk zstd-encoded at the source's level and packed with
  its shard index by hand (``cases_sharded.shard_bytes``), one shard a task on
  2 threads; no zarr for the data, no dask;
- ``ngff-zarr``, ``ngff-zarr-bin``: ngff-zarr's ``to_multiscales`` (its
  default method, and ``DASK_BIN_SHRINK``) with the same levels (the
  lightsheet's z/4 step made by ngff-zarr first), written as NGFF 0.5 with
  the same chunks and shards (``chunks_per_shard``);
- ``ome-zarr``: ome-zarr-py's ``write_image`` (its default method, resize)
  with the same levels, chunks and shards (the lightsheet's z/4 step by a
  dask block mean first: ome-zarr-py writes level 0 as given).

Nothing asserts a time. ``--write-docs`` puts the table between the
``bench:tb`` markers of docs/performance.md; raw results go to
``tb.json`` in the bench cache after every row; ``docs/figures/tb_scale.py`` draws
the figure from it. ``--small`` runs the same rows on small sources (what
tests/test_benchmarks.py runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import data as bench_data  # noqa: E402
from cases_base import compile_xiso, group_rss, save_json, scratch_env  # noqa: E402

GIB = 2**30
MIB = 2**20
THREADS = 2
WORKERS = 2  # the LocalCluster row
RESULT_TAG = "TB-RESULT "
DOCS = ROOT / "docs" / "performance.md"
FIGURE = ROOT / "docs" / "_static" / "tb.svg"
PLOT_SCRIPT = ROOT / "docs" / "figures" / "tb_scale.py"


@dataclass(frozen=True)
class Source:
    job: str  # "slab" or "lightsheet"
    shape: tuple[int, int, int]

    @property
    def label(self) -> str:
        return f"{self.job} {'x'.join(map(str, self.shape))} ({self.nbytes / GIB:.1f} GiB)"

    @property
    def nbytes(self) -> int:
        return 2 * self.shape[0] * self.shape[1] * self.shape[2]

    def path(self) -> Path:
        if self.job == "slab":
            return bench_data.slab_zarr(self.shape)
        base = LIGHTSHEET_BASE[self.shape[1]]
        return bench_data.tiled_zarr(base, self.shape[0] // base[0])

    def make(self) -> Path:
        """Build the source (once, in a separate process)."""
        path = self.path()
        if not path.exists():
            if self.job == "slab":
                tag, kind = "x".join(map(str, self.shape)), "slab"
            else:
                base = LIGHTSHEET_BASE[self.shape[1]]
                tag, kind = "x".join(map(str, base)), f"tiled{self.shape[0] // base[0]}"
            print(f"preparing {self.label} ...", file=sys.stderr, flush=True)
            cmd = [sys.executable, str(HERE / "data.py"), tag, kind]
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return path


# the lightsheet sources are copies of this base along z, by y/x size
LIGHTSHEET_BASE = {1024: (512, 1024, 1024), 128: (128, 128, 128)}
SOURCES = {
    "slab": [Source("slab", (30, 10000, 10000)), Source("slab", (30, 15000, 15000))],
    "lightsheet": [
        Source("lightsheet", (2048, 1024, 1024)),
        Source("lightsheet", (8192, 1024, 1024)),
    ],
}
SMALL = {
    "slab": [Source("slab", (30, 600, 600)), Source("slab", (30, 1200, 1200))],
    "lightsheet": [Source("lightsheet", (256, 128, 128)), Source("lightsheet", (512, 128, 128))],
}
ROWS = ("floor", "xiso", "xiso-cluster", "ngff-zarr", "ngff-zarr-bin", "ome-zarr")
PEERS = ("ngff-zarr", "ngff-zarr-bin", "ome-zarr")
LARGEST_ONLY = (*PEERS, "xiso-cluster")  # with --peers-at largest
LABELS = {
    "floor": "sharded codec floor (raw chunks + zstd, strided levels, shards by hand)",
    "xiso": "xiso convert SRC DST",
    "xiso-cluster": f"xiso on a LocalCluster ({WORKERS} processes x 1 thread)",
    "ngff-zarr": "ngff-zarr to_multiscales (default method) -> to_ngff_zarr, sharded",
    "ngff-zarr-bin": "ngff-zarr to_multiscales (DASK_BIN_SHRINK) -> to_ngff_zarr, sharded",
    "ome-zarr": "ome-zarr-py write_image (resize), sharded",
}


# --------------------------------------------------------------------------
# what is written: xiso's plan of the job, the layout every row writes
# --------------------------------------------------------------------------
def job_plan(src: str, **options: Any) -> Any:
    """xiso's plan of ``xiso convert src`` (``options``: those of
    ``xiso.to_ome_zarr``, e.g. chunks and shards): the levels every row writes."""
    import xiso

    return xiso.plan(xiso.open_ome_zarr(src, near_isotropic=True), **options)


def layout(src: str, **options: Any) -> dict:
    """The job's levels as plain data: shapes, chunks, shards, spacing and the
    factor of each level over the source (the near-isotropic step included)."""
    import zarr

    import xiso

    plan = job_plan(src, **options)
    source = zarr.open_group(src, mode="r")["0"]
    given = xiso.open_ome_zarr(src).iso.spacing
    # the factor of each level over the source: the near-isotropic step, then
    # the plan's steps (not shape ratios: a trimmed level is not a whole multiple)
    factor = [round(plan.levels[0].spacing[d].value / given[d]) for d in plan.dims]
    levels = []
    for i, level in enumerate(plan.levels):
        if i:
            factor = [f * level.factors.get(d, 1) for f, d in zip(factor, plan.dims)]
        shape = tuple(level.shape[d] for d in plan.dims)
        levels.append(
            {
                "shape": shape,
                "chunks": tuple(level.chunks),
                "shards": tuple(level.shards or level.chunks),
                "spacing": [level.spacing[d].value for d in plan.dims],
                "factor": tuple(factor),
            }
        )
    return {"dims": [str(d) for d in plan.dims], "levels": levels, "source": list(source.shape)}


def steps(levels: list[dict]) -> list[dict[str, int]]:
    """Each level's factor over level 0 as a {dim: factor} mapping (levels >= 1)."""
    base = levels[0]["factor"]
    return [{d: f // b for d, f, b in zip("zyx", level["factor"], base)} for level in levels[1:]]


# --------------------------------------------------------------------------
# the floor
# --------------------------------------------------------------------------
def run_floor(src: str, dst: str, **options: Any) -> None:
    """The sharded codec floor (see the module notes). One task per level-0
    shard, taken depth first through the footprints of the higher levels'
    shards, so that few of their buffers are open at a time."""
    import itertools

    import numcodecs
    import numpy as np
    import zarr
    from cases_sharded import create_sharded, shard_bytes

    plan = layout(src, **options)
    levels = plan["levels"]
    source = zarr.open_group(src, mode="r")["0"]
    (codec,) = source.compressors
    decoder, encoder = numcodecs.Zstd(), numcodecs.Zstd(level=codec.level)
    in_chunk = source.chunks
    raw = Path(src) / "0" / "c"
    out = Path(dst)
    group = zarr.open_group(str(out), mode="w", zarr_format=3)
    for i, lv in enumerate(levels):
        create_sharded(str(out / str(i)), source, lv["shape"], lv["chunks"], lv["shards"])
    del group
    f0 = levels[0]["factor"]
    # footprint of one shard of each level, in level-0 samples
    # (a level's shards are level 0's, clipped to a level smaller than one)
    shard0 = levels[0]["shards"]
    foot = [tuple(s * (f // b) for s, f, b in zip(shard0, lv["factor"], f0)) for lv in levels]
    for inner, outer in itertools.pairwise(foot):
        assert all(o % i == 0 for i, o in zip(inner, outer)), "footprints must nest"
    shape0 = levels[0]["shape"]
    order: list[tuple[int, ...]] = []

    def walk(level: int, origin: tuple[int, ...]) -> None:
        if level == 0:
            order.append(origin)
            return
        ranges = [
            range(o, min(o + n, size), i)
            for o, n, i, size in zip(origin, foot[level], foot[level - 1], shape0)
        ]
        for sub in itertools.product(*ranges):
            walk(level - 1, sub)

    for top in itertools.product(*(range(0, n, f) for n, f in zip(shape0, foot[-1]))):
        walk(len(levels) - 1, top)

    lock = threading.Lock()
    pending: dict[tuple, list] = {}  # (level, shard origin) -> [buffer, parts missing]

    def parts(level: int, origin: tuple[int, ...]) -> int:
        """Level-0 shards beneath this shard of ``level`` (clipped to level 0)."""
        return int(
            np.prod(
                [
                    len(range(o, min(o + n, size), i))
                    for o, n, i, size in zip(origin, foot[level], foot[0], shape0)
                ]
            )
        )

    def write_shard(level: int, index: tuple[int, ...], data: np.ndarray) -> None:
        lv = levels[level]
        chunk, shard = lv["chunks"], lv["shards"]
        per = tuple(s // c for s, c in zip(shard, chunk))
        encoded = {}
        for pos in np.ndindex(*per):
            region = tuple(slice(p * c, (p + 1) * c) for p, c in zip(pos, chunk))
            block = data[region]
            if block.size == 0:
                continue
            if block.shape != tuple(chunk):  # an edge chunk: padded with the fill value
                full = np.zeros(chunk, dtype=data.dtype)
                full[tuple(slice(0, n) for n in block.shape)] = block
                block = full
            encoded[pos] = encoder.encode(np.ascontiguousarray(block))
        path = out / str(level) / "c" / "/".join(map(str, index))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(shard_bytes(encoded, per))

    def read_source(region: tuple[slice, ...], step: tuple[int, ...]) -> np.ndarray:
        """Level-0 samples of ``region`` (in source samples, strided by ``step``)."""
        shape = tuple(len(range(r.start, r.stop, s)) for r, s in zip(region, step))
        result = np.empty(shape, dtype=source.dtype)
        buf = np.empty(in_chunk, dtype=source.dtype)
        ranges = [range(r.start // c, -(-r.stop // c)) for r, c in zip(region, in_chunk)]
        for idx in itertools.product(*ranges):
            decoder.decode((raw / "/".join(map(str, idx))).read_bytes(), out=buf)
            lo = [max(r.start, i * c) for r, i, c in zip(region, idx, in_chunk)]
            hi = [
                min(r.stop, (i + 1) * c, n)
                for r, i, c, n in zip(region, idx, in_chunk, source.shape)
            ]
            # first sample of the stride inside this chunk
            first = [lo_ + (-(lo_ - r.start)) % s for lo_, r, s in zip(lo, region, step)]
            if any(f >= h for f, h in zip(first, hi)):
                continue
            src_sel = tuple(
                slice(f - i * c, h - i * c, s)
                for f, h, i, c, s in zip(first, hi, idx, in_chunk, step)
            )
            dst_sel = tuple(
                slice((f - r.start) // s, (f - r.start) // s + len(range(f, h, s)))
                for f, h, r, s in zip(first, hi, region, step)
            )
            result[dst_sel] = buf[src_sel]
        return result

    def one(origin: tuple[int, ...]) -> None:
        stop = tuple(min(o + s, n) for o, s, n in zip(origin, shard0, shape0))
        region = tuple(slice(o * f, e * f) for o, e, f in zip(origin, stop, f0))
        data = read_source(region, f0)
        write_shard(0, tuple(o // s for o, s in zip(origin, shard0)), data)
        for lvl in range(1, len(levels)):
            lv = levels[lvl]
            rel = tuple(f // b for f, b in zip(lv["factor"], f0))
            base = tuple(o // fp * fp for o, fp in zip(origin, foot[lvl]))
            with lock:
                entry = pending.get((lvl, base))
                if entry is None:
                    size = tuple(
                        min(s, n - b // r) for s, n, b, r in zip(shard0, lv["shape"], base, rel)
                    )
                    entry = pending[(lvl, base)] = [np.zeros(size, source.dtype), parts(lvl, base)]
            sub = data[tuple(slice(None, None, r) for r in rel)]
            at = tuple((o - b) // r for o, b, r in zip(origin, base, rel))
            fit = tuple(slice(a, min(a + n, e)) for a, n, e in zip(at, sub.shape, entry[0].shape))
            entry[0][fit] = sub[tuple(slice(0, f.stop - f.start) for f in fit)]
            with lock:
                entry[1] -= 1
                complete = entry[1] == 0
                if complete:
                    del pending[(lvl, base)]
            if complete:
                index = tuple(b // r // s for b, r, s in zip(base, rel, shard0))
                write_shard(lvl, index, entry[0])

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(one, order))
    assert not pending, f"{len(pending)} shards never completed"


# --------------------------------------------------------------------------
# the peers
# --------------------------------------------------------------------------
def run_ngff_zarr(src: str, dst: str, bin_shrink: bool) -> None:
    import ngff_zarr as nz

    plan = layout(src)
    levels = plan["levels"]
    method = nz.Methods.DASK_BIN_SHRINK if bin_shrink else None  # None: its default
    chunks = levels[0]["chunks"]
    image = nz.from_ngff_zarr(src).images[0]
    f0 = dict(zip("zyx", levels[0]["factor"]))
    if any(f > 1 for f in f0.values()):  # the near-isotropic step, by ngff-zarr
        image = nz.to_multiscales(image, scale_factors=[f0], method=method, chunks=chunks).images[1]
    ms = nz.to_multiscales(image, scale_factors=steps(levels), method=method, chunks=chunks)
    per = tuple(s // c for s, c in zip(levels[0]["shards"], chunks))
    nz.to_ngff_zarr(dst, ms, version="0.5", chunks_per_shard=per, overwrite=True)


def run_ome_zarr(src: str, dst: str) -> None:
    import dask.array as dsa
    import numpy as np
    import zarr
    from ome_zarr.writer import write_image

    plan = layout(src)
    levels = plan["levels"]
    data = dsa.from_zarr(zarr.open_group(src, mode="r")["0"])
    f0 = levels[0]["factor"]
    if any(f > 1 for f in f0):  # ome-zarr-py writes level 0 as given
        data = dsa.coarsen(np.mean, data, dict(enumerate(f0)), trim_excess=True)
        data = data.round().astype(np.uint16)
    group = zarr.open_group(dst, mode="w", zarr_format=3)
    write_image(
        data,
        group,
        scale_factors=steps(levels),
        axes="zyx",
        scale=dict(zip("zyx", levels[0]["spacing"])),
        axes_units={d: "micrometer" for d in "zyx"},
        storage_options={"chunks": levels[0]["chunks"], "shards": levels[0]["shards"]},
    )


def _vmhwm() -> int:
    """This process's peak RSS (VmHWM); self-contained, it runs on dask workers."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_cluster(src: str, dst: str) -> dict:
    from distributed import Client, LocalCluster

    import xiso

    with (
        LocalCluster(
            n_workers=WORKERS, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        client.wait_for_workers(WORKERS)
        t0 = time.perf_counter()
        xiso.to_ome_zarr(xiso.open_ome_zarr(src, near_isotropic=True), dst)
        seconds = time.perf_counter() - t0
        workers = client.run(_vmhwm)
    return {"call_s": seconds, "worker_peaks": sorted(workers.values()), "driver_peak": _vmhwm()}


def child_main(argv: list[str]) -> int:
    row, src, dst = argv
    extra: dict = {}
    if row == "floor":
        run_floor(src, dst)
    elif row in ("ngff-zarr", "ngff-zarr-bin"):
        run_ngff_zarr(src, dst, bin_shrink=row == "ngff-zarr-bin")
    elif row == "ome-zarr":
        run_ome_zarr(src, dst)
    elif row == "xiso-cluster":
        extra = run_cluster(src, dst)
    else:
        raise SystemExit(f"unknown row {row!r}")
    print(RESULT_TAG + json.dumps(extra), flush=True)
    return 0


# --------------------------------------------------------------------------
# the driver
# --------------------------------------------------------------------------
def command(row: str, src: Path, dst: Path) -> list[str]:
    if row == "xiso":
        return [sys.executable, "-m", "xiso", "convert", "--quiet", str(src), str(dst)]
    return [sys.executable, str(Path(__file__).resolve()), "child", row, str(src), str(dst)]


def run_row(row: str, source: Source, workdir: Path, timeout: float, max_rss: float) -> dict:
    """One whole-process run of ``row``: wall time, ``ru_maxrss``, the group's
    sampled RSS and the output's size; the output is removed afterwards."""
    dst = workdir / f"{row}.ome.zarr"
    bench_data.remove(dst)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{row}.log"
    env, scratch = scratch_env(dst)
    with open(log, "w+") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            command(row, source.path(), dst),
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env=env,
        )
        worst, killed, usage = 0, None, None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                seconds = time.perf_counter() - t0
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            worst = max(worst, group_rss(proc.pid))
            elapsed = time.perf_counter() - t0
            if elapsed > timeout:
                killed = f"stopped after {elapsed:.0f} s (--timeout)"
            elif worst > max_rss:
                killed = f"stopped at {worst / GIB:.1f} GiB (--max-rss-gib) after {elapsed:.0f} s"
            if killed:
                os.killpg(proc.pid, signal.SIGKILL)
                _, status, usage = os.wait4(proc.pid, 0)
                seconds = time.perf_counter() - t0
                break
            time.sleep(0.5)
        try:  # whatever it left running (cluster workers)
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out.seek(0)
        text = out.read()
    bench_data.remove(scratch)
    result: dict[str, Any] = {
        "row": row,
        "source": source.label,
        "nbytes": source.nbytes,
        "seconds": seconds,
        "peak_rss": usage.ru_maxrss * 1024 if usage else None,
        "group_rss_sampled": worst,
        "cpu_s": (usage.ru_utime + usage.ru_stime) if usage else None,
    }
    if killed:
        result["error"] = killed
    elif proc.returncode != 0:
        result["error"] = f"exit code {proc.returncode}: {text.strip().splitlines()[-1:]}"
    else:
        for line in text.splitlines():
            if line.startswith(RESULT_TAG):
                result.update(json.loads(line[len(RESULT_TAG) :]))
        if "worker_peaks" in result:
            result["peak_rss"] = max(result["worker_peaks"])
        files = [p for p in dst.rglob("*") if p.is_file()]
        result["disk_bytes"] = sum(p.stat().st_size for p in files)
        result["files"] = len(files)
        result["check"] = check_output(str(dst), str(source.path()))
    bench_data.remove(dst)
    return result


def check_output(dst: str, src: str) -> str:
    """The output's levels (the paths its NGFF metadata lists) against xiso's
    plan of the job: shape and shard shape of every level."""
    import zarr

    plan = layout(src)
    group = zarr.open_group(dst, mode="r", use_consolidated=False)
    attrs = group.attrs.asdict()
    if "multiscales" in attrs.get("ome", attrs):
        (multiscale,) = attrs.get("ome", attrs)["multiscales"]
        paths = [d["path"] for d in multiscale["datasets"]]
    else:  # the floor writes the arrays only
        paths = [str(i) for i in range(len(plan["levels"]))]
    if len(paths) != len(plan["levels"]):
        return f"{len(paths)} levels, planned {len(plan['levels'])}"
    found = []
    for i, (path, lv) in enumerate(zip(paths, plan["levels"])):
        arr = group[path]
        shards = tuple(min(s, n) for s, n in zip(arr.shards or arr.chunks, arr.shape))
        planned = tuple(min(s, n) for s, n in zip(lv["shards"], lv["shape"]))
        if tuple(arr.shape) != tuple(lv["shape"]) or shards != planned:
            found.append(f"level {i}: shape {arr.shape}, chunks {arr.chunks}, shards {shards}")
    return "levels as planned" if not found else "; ".join(found)


def summarize(results: list[dict]) -> str:
    """One markdown table: every run, by source, with its ratio to xiso's and
    to the floor's time on the same source (a stopped run's time is a lower
    bound: ``>``)."""
    lines = [
        "| source | row | time | vs xiso | vs floor | peak RSS | on disk | note |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    by_source: dict[str, list[dict]] = {}
    for r in results:
        by_source.setdefault(r["source"], []).append(r)

    def ok(rows: list[dict], name: str) -> float | None:
        return next((r["seconds"] for r in rows if r["row"] == name and "error" not in r), None)

    for source, rows in by_source.items():
        xiso_s, floor_s = ok(rows, "xiso"), ok(rows, "floor")
        for r in rows:
            bound = ">" if "error" in r else ""
            ratios = [f"{bound}{r['seconds'] / b:.2f}x" if b else "—" for b in (xiso_s, floor_s)]
            time_s = f"{bound}{r['seconds']:.0f} s"
            peak = r.get("peak_rss") or r.get("group_rss_sampled") or 0
            disk = f"{r['disk_bytes'] / GIB:.2f} GiB" if r.get("disk_bytes") else "—"
            note = r.get("error", r.get("check", ""))
            if "worker_peaks" in r:
                peaks = ", ".join(f"{p / MIB:.0f}" for p in r["worker_peaks"])
                note += f"; workers {peaks} MiB, driver {r['driver_peak'] / MIB:.0f} MiB"
            cells = [source, f"`{r['row']}`", time_s, *ratios, f"{peak / MIB:.0f} MiB", disk, note]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(doc: dict, figure: Path | None) -> str:
    """The table with what it was measured on, for docs/performance.md."""
    import run as bench_run

    facts = bench_run.machine_facts()
    versions = dict(facts["versions"])
    for name in ("ome-zarr", "zarrista", "distributed"):
        try:
            from importlib.metadata import version

            versions[name] = version(name)
        except Exception:
            versions[name] = "not installed"
    rows = list(dict.fromkeys(r["row"] for r in doc["results"]))
    head = [
        f"Command: `{doc.get('command', 'python benchmarks/tb.py')}`  ",
        f"Date: {doc['started']} (xiso at `{doc.get('git', facts['git'])}`)  ",
        f"Machine: {facts['nproc']} cores ({facts['cpu']}), {facts['memory']} RAM  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "  ",
        "Rows: " + "; ".join(f"`{r}`: {LABELS[r]}" for r in rows) + "  ",
        "Each row is one whole process, timed from outside; peak RSS is the kernel's "
        "`ru_maxrss` of the process (for the cluster, the worst worker's).",
        "",
        summarize(doc["results"]),
    ]
    if figure is not None:
        head += [
            "",
            f"```{{figure}} _static/{figure.name}",
            ":alt: wall time and peak RSS of the TB-scale job per source and row",
            "",
            "Wall time (left, log scale) and peak RSS (right) of every row on each source, "
            "from the run above; hatched bars were stopped. Drawn by `docs/figures/tb_scale.py`.",
            "```",
        ]
    return "\n".join(head)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "child":
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", default="slab,lightsheet")
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument(
        "--peers-at",
        choices=("largest", "all"),
        default="largest",
        help="the peers and the cluster at the largest size only (default) or at every size",
    )
    parser.add_argument("--small", action="store_true", help="small sources (a test run)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per row")
    parser.add_argument("--max-rss-gib", type=float, default=16.0)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--report", type=Path, help="only write the report of this JSON")
    args = parser.parse_args(argv)
    compile_xiso()  # as installed: no process compiles xiso's sources
    table = SMALL if args.small else SOURCES
    rows = [r for r in args.rows.split(",") if r]
    unknown = set(rows) - set(ROWS)
    if unknown:
        parser.error(f"unknown rows {sorted(unknown)}; known: {', '.join(ROWS)}")
    path = args.json or bench_data.cache_dir() / ("tb-small.json" if args.small else "tb.json")
    workdir = args.workdir or bench_data.cache_dir() / "tb-work"
    if args.report is not None:
        return finish(json.loads(args.report.read_text()), args.report, args.write_docs)
    doc = {
        "command": "python benchmarks/tb.py " + " ".join(argv),
        "git": bench_run_git(),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count()},
        "results": [],
    }
    try:
        for job in args.jobs.split(","):
            sources = table[job]
            for k, source in enumerate(sources):
                source.make()
                largest = k == len(sources) - 1
                for row in rows:
                    if row in LARGEST_ONLY and args.peers_at == "largest" and not largest:
                        continue
                    print(f"{source.label}: {row} ...", file=sys.stderr, flush=True)
                    result = run_row(row, source, workdir, args.timeout, args.max_rss_gib * GIB)
                    print(f"  {json.dumps(result)}", file=sys.stderr, flush=True)
                    doc["results"].append(result)
                    save_json(path, doc)
    finally:  # an interrupted run leaves no outputs or spilled caches behind
        shutil.rmtree(workdir, ignore_errors=True)
    return finish(doc, path, args.write_docs)


def bench_run_git() -> str:
    import run as bench_run

    return bench_run._git()


def finish(doc: dict, path: Path, docs: bool) -> int:
    """Print the report of ``doc`` (saved at ``path``); with ``docs``, draw the
    figure and put both in docs/performance.md."""
    figure = None
    if docs:
        cmd = [sys.executable, str(PLOT_SCRIPT), str(path), "--out", str(FIGURE)]
        if subprocess.run(cmd, check=False).returncode == 0:
            figure = FIGURE
    body = report(doc, figure)
    print(body)
    if docs:
        import run as bench_run

        bench_run.write_docs(DOCS, "tb", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
