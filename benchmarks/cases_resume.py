"""Group ``resume``: a killed conversion resumed (issue 22), and what recording
the progress costs an uninterrupted one.

Resumed rows (``resume-3``, ``resume-4``): before each timed run, and not
timed, a child process (:data:`KILLED`) starts case 3 (or case 4, the
near-isotropic pyramid) with the same call the timed run makes; it is killed
with SIGKILL as soon as half of the units of the job (level 0 and every level
of the pyramid, counted from the job record ``.xiso-job.json``) are recorded
in the hidden temporary's ``.xiso-progress``. The timed run is the same call
with ``resume=True``: it checks the job and the sampled units of the killed
write, writes what is missing and swaps the image in. Its ratio is against the
uninterrupted run of the same call in the same round (``record-on``,
``pyramid-on``); target <= 0.6. Units being written at the kill are lost (at
most one per thread), so the share actually recorded is reported per round.

Overhead rows (case 3 uninterrupted, ratios against ``record-off``): the
recording is switched off *inside the benchmark* by replacing methods of
:class:`xiso.io.resume.Recorder` for the timed run (:func:`recording`), never
in xiso: ``record-off`` stores each unit and nothing else, ``record-no-fsync``
records the markers without the ``fsync`` of the unit's file,
``record-no-marker`` flushes without writing the markers, ``record-on`` is
xiso as it is (target <= 1.03x ``record-off``). The sampled hashes and the job
record are part of what ``record-on`` pays and ``record-off`` does not.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cases_base import CHUNK, THREADS, Case, Ctx, describe_store
from cases_pyramid import describe_pyramid

KILL_AT = 0.5  # share of the job's units recorded when the child is killed
TINY_CHUNK = 16  # chunks of the tiny smoke runs: several units to kill half-way through
TINY_NAP = 0.05  # seconds each unit of a tiny run waits, so the kill lands half-way

# the killed child: the timed call, without resume=True (XISO_BENCH_NAP slows
# each unit down; only the tiny smoke runs set it)
KILLED = """
import os, sys, time
import dask
import xiso
from xiso.io import resume

nap = float(os.environ.get("XISO_BENCH_NAP") or 0)
if nap:
    store = resume.Recorder.__setitem__

    def slow(self, key, value):
        time.sleep(nap)
        store(self, key, value)

    resume.Recorder.__setitem__ = slow
src, dst, pyramid, chunks, threads = sys.argv[1:6]
dask.config.set(scheduler="threads", num_workers=int(threads))
iso = xiso.open_ome_zarr(src, near_isotropic=True)
xiso.to_ome_zarr(iso, dst, pyramid=pyramid == "1", chunks=int(chunks))
"""


# --------------------------------------------------------------------------
# the kill
# --------------------------------------------------------------------------
def temporaries(dst: str) -> list[Path]:
    """The hidden temporaries of writes of ``dst`` (beside it)."""
    out = Path(dst)
    return sorted(out.parent.glob(f".{out.name}.xiso-tmp-*"))


def recorded(dst: str) -> int:
    """Units recorded as written whole in the temporaries of ``dst``."""
    return sum(
        len(files) for tmp in temporaries(dst) for _, _, files in os.walk(tmp / ".xiso-progress")
    )


def total_units(dst: str) -> int | None:
    """Units of the whole job (every level), from the job record of a
    temporary of ``dst``; None while it is not written yet."""
    from xiso.io.resume import progress

    for tmp in temporaries(dst):
        with contextlib.suppress(OSError, ValueError):
            return progress(json.loads((tmp / ".xiso-job.json").read_text()), 0)[1]
    return None


def kill_half_way(s: dict) -> None:
    """Start the killed child on ``s`` and SIGKILL it once :data:`KILL_AT` of
    its units are recorded; records what was done in ``s["killed"]``."""
    dst = s["dst"]
    for tmp in temporaries(dst):
        shutil.rmtree(tmp, ignore_errors=True)
    args = [s["src"], dst, "1" if s["pyramid"] else "0", str(s["chunks"]), str(THREADS)]
    env = {**os.environ, "XISO_BENCH_NAP": str(s.get("nap", ""))}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    t0 = time.perf_counter()
    total, wanted = None, math.inf
    try:
        while recorded(dst) < wanted:
            if proc.poll() is not None:
                err = proc.stderr.read().decode()[-2000:] if proc.stderr else ""
                raise RuntimeError(f"the child to kill ended first (code {proc.returncode}) {err}")
            if total is None and (total := total_units(dst)) is not None:
                wanted = max(1, math.ceil(KILL_AT * total))
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    s["killed"] = {"done": recorded(dst), "total": total, "after_s": time.perf_counter() - t0}


# --------------------------------------------------------------------------
# the cases
# --------------------------------------------------------------------------
def setup_case(ctx: Ctx, pyramid: bool) -> dict:
    s = {
        "src": ctx.image_store(),
        "dst": ctx.out("resume.ome.zarr"),
        "pyramid": pyramid,
        "chunks": TINY_CHUNK if ctx.tiny else CHUNK,
    }
    if ctx.tiny:
        s["nap"] = TINY_NAP
    return s


def setup_3(ctx: Ctx) -> dict:
    return setup_case(ctx, pyramid=False)


def setup_4(ctx: Ctx) -> dict:
    return setup_case(ctx, pyramid=True)


def convert(s: dict, resume: bool = False) -> None:
    """The killed child's call (case 3 or 4), here ``resume=resume``."""
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True)
    xiso.to_ome_zarr(iso, s["dst"], pyramid=s["pyramid"], chunks=s["chunks"], resume=resume)


def run_resumed(s: dict) -> None:
    """The timed part of a resumed row: the same call with ``resume=True``."""
    convert(s, resume=True)


@contextlib.contextmanager
def recording(mode: str) -> Iterator[None]:
    """Switch parts of the progress recording off for a run (benchmark only):
    ``off`` (store each unit, nothing else), ``no-fsync``, ``no-marker`` or
    ``on`` (xiso as it is)."""
    from xiso.io import resume

    rec = resume.Recorder
    saved = rec.__setitem__, rec._flush, rec._record

    def plain(self: Any, key: Any, value: Any) -> None:
        self.target[key] = value

    def nothing(self: Any, *args: Any) -> None:
        return None

    if mode == "off":
        rec.__setitem__ = plain  # type: ignore[method-assign]
    elif mode == "no-fsync":
        rec._flush = nothing  # type: ignore[method-assign]
    elif mode == "no-marker":
        rec._record = nothing  # type: ignore[method-assign]
    elif mode != "on":
        raise ValueError(f"recording mode {mode!r}")
    try:
        yield
    finally:
        rec.__setitem__, rec._flush, rec._record = saved  # type: ignore[method-assign]


def run_mode(mode: str) -> Any:
    def run(s: dict) -> None:
        with recording(mode):
            convert(s)

    run.__doc__ = f"Case 3 uninterrupted, recording {mode}."
    return run


def _check(s: dict, info: dict) -> dict:
    """Level 0 equals the near-isotropic image, and nothing of the write is
    left (no temporary beside it, no record of the progress in it)."""
    import xiso

    iso = xiso.open_ome_zarr(s["src"], near_isotropic=True).data
    ok = bool((xiso.open_ome_zarr(s["dst"]).data == iso).all().compute())
    left = temporaries(s["dst"]) + list(Path(s["dst"]).rglob(".xiso-*"))
    ok = ok and not left
    info["check_ok"] = ok
    if "killed" in s:
        info["killed"] = s["killed"]
    if not ok:
        info["note"] += "; CHECK FAILED" + (f" ({len(left)} left over)" if left else "")
    return info


def describe_3(s: dict, result: Any) -> dict:
    return _check(s, describe_store(s, result))


def describe_4(s: dict, result: Any) -> dict:
    return _check(s, describe_pyramid(s, result))


def killed_note(runs: list[dict]) -> str:
    """The share of the units recorded at each round's kill."""
    kills = [r["killed"] for r in runs if r.get("killed")]
    if not kills:
        return ""
    shares = [k["done"] / k["total"] for k in kills if k.get("total")]
    text = f"killed (SIGKILL) with {kills[0]['done']}/{kills[0]['total']} units recorded"
    if shares:
        text += f", {100 * min(shares):.0f}-{100 * max(shares):.0f} % over the rounds"
    after = [k["after_s"] for k in kills]
    return text + f", {min(after):.1f}-{max(after):.1f} s after the child started"


CASES: list[Case] = [
    # case 3 uninterrupted with parts of the recording off, reference: record-off
    Case(
        "record-off",
        "resume",
        "case 3 uninterrupted, progress recording switched off in the benchmark "
        "(Recorder stores each unit, nothing else)",
        setup_3,
        run_mode("off"),
        describe_3,
        inputs=("zarr",),
    ),
    Case(
        "record-no-fsync",
        "resume",
        "case 3 uninterrupted, markers recorded but the unit's file not fsynced",
        setup_3,
        run_mode("no-fsync"),
        describe_3,
        inputs=("zarr",),
    ),
    Case(
        "record-no-marker",
        "resume",
        "case 3 uninterrupted, each unit's file fsynced but no marker written",
        setup_3,
        run_mode("no-marker"),
        describe_3,
        inputs=("zarr",),
    ),
    Case(
        "record-on",
        "resume",
        "case 3 uninterrupted, xiso as it is (job record, fsync and marker per unit)",
        setup_3,
        run_mode("on"),
        describe_3,
        inputs=("zarr",),
    ),
    Case(
        "resume-3",
        "resume",
        "case 3 killed half-way (untimed child), then the same call with resume=True (timed)",
        setup_3,
        run_resumed,
        describe_3,
        number="3r",
        inputs=("zarr",),
        ref="record-on",
        prepare=kill_half_way,
    ),
    Case(
        "pyramid-on",
        "resume",
        "case 4 uninterrupted, xiso as it is (the near-isotropic pyramid)",
        setup_4,
        convert,
        describe_4,
        inputs=("zarr",),
        ref="record-on",
    ),
    Case(
        "resume-4",
        "resume",
        "case 4 killed half-way through its units (untimed child), then resume=True (timed)",
        setup_4,
        run_resumed,
        describe_4,
        number="4r",
        inputs=("zarr",),
        ref="pyramid-on",
        prepare=kill_half_way,
    ),
]
