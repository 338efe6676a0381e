"""The registry of the benchmark cases, and the child process that runs one.

The cases live in one module per group, as ``run.py`` reports them:
``cases_mean`` (in memory), ``cases_zarr`` (OME-Zarr -> OME-Zarr),
``cases_pyramid``, ``cases_sharded`` (cases 3 and 4 written with
shards), ``cases_resume`` (cases 3 and 4 killed and resumed),
``cases_mode`` (label images), ``cases_write`` and ``cases_large`` (opt-in);
what they share (the inputs :class:`Ctx`, the :class:`Case` record, the zarr
helpers of the I/O floors) is in ``cases_base``.

``run.py`` starts ``python benchmarks/cases.py CASE --shape NZxNYxNX --workdir DIR``
once per case and repeat. The child

1. imports everything and runs the case once on a tiny input (warm-up: lazy
   imports, dask's thread pool, zarr's event loop), so neither import time nor
   import memory is counted;
2. loads the input (a cached ``.npy`` for in-memory cases; nothing for
   OME-Zarr cases, which read the cached store) and records its RSS;
3. runs the case's ``prepare(state)`` if it has one (untimed: e.g. a
   conversion killed half-way, which the timed run resumes), writes and frees
   3x the input size of fresh memory (see ``_prefault``), then runs the case
   once, timed with ``time.perf_counter``;
4. reads ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (the peak RSS of the
   process) and reports ``extra = peak - RSS after loading``;
5. checks the result (untimed) and prints one ``@@RESULT {json}`` line.

Each case is a ``setup(ctx) -> state`` and a ``run(state) -> result`` (the
timed part); ``describe(state, result)`` returns the output size and notes.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import sys
import time
import traceback
from pathlib import Path

import cases_large
import cases_mean
import cases_mode
import cases_pyramid
import cases_resume
import cases_sharded
import cases_write
import cases_zarr
import data as bench_data
import numpy as np
from cases_base import FACTOR as FACTOR  # read by run.py
from cases_base import THREADS, TINY, Case, Ctx, SkipCase, missing_modules

PREFAULT_X_INPUT = 3  # memory written and freed before each timed run, x the base input
RESULT_TAG = "@@RESULT "

# --------------------------------------------------------------------------
# the registry: every group's cases, in the order run.py reports them
# --------------------------------------------------------------------------
CASES: list[Case] = [
    *cases_mean.CASES,
    *cases_zarr.CASES,
    *cases_pyramid.CASES,
    *cases_sharded.CASES,
    *cases_resume.CASES,
    *cases_mode.CASES,
    *cases_write.CASES,
    *cases_large.CASES,
]
BY_NAME = {c.name: c for c in CASES}


# --------------------------------------------------------------------------
# the child process
# --------------------------------------------------------------------------
def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def _reset_hwm() -> bool:
    """Reset the kernel's VmHWM to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _vmhwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _prefault(nbytes: int) -> float:
    """Write ``nbytes`` of fresh memory and free it; returns the seconds taken.

    On this VM, memory the guest has not used for a while is backed again by
    the hypervisor on first write, at up to ~2 s/GiB instead of ~0.07 s/GiB;
    which run pays for it is chance (it made one case take 0.25 s or 0.8 s
    from one minute to the next). Writing and freeing a buffer just before a
    timed run hands the run memory the guest already holds, so every case and
    baseline is timed without that cost.
    """
    t0 = time.perf_counter()
    buf = np.empty(nbytes, dtype=np.uint8)
    buf.fill(1)
    del buf
    return time.perf_counter() - t0


def child(
    name: str, shape: tuple[int, int, int], workdir: Path, repeat: int, tiny: bool = False
) -> dict:
    """Run case ``name`` ``repeat`` times (see the module docstring); ``tiny``
    makes its inputs at ``shape`` in ``workdir`` instead of reading the cache."""
    import dask

    import xiso  # noqa: F401  (registers .iso)

    dask.config.set(scheduler="threads", num_workers=THREADS)
    case = BY_NAME[name]
    missing = missing_modules(case.requires)
    if missing:
        return {"skipped": missing}
    try:
        # warm-up on a tiny input: imports, thread pools, first-call costs
        tiny_ctx = Ctx(TINY, workdir / "warm", tiny=True)
        case.run(case.setup(tiny_ctx))
        shutil.rmtree(workdir / "warm", ignore_errors=True)
        gc.collect()
        state = case.setup(Ctx(shape, workdir, tiny=tiny))
    except SkipCase as err:
        return {"skipped": str(err)}
    gc.collect()
    rss_loaded = _rss_bytes()
    runs: list[dict] = []
    info: dict = {}
    prefault_bytes = max(2**28, PREFAULT_X_INPUT * 2 * shape[0] * shape[1] * shape[2])
    for i in range(repeat):
        if "dst" in state:
            bench_data.remove(Path(state["dst"]))
        if case.prepare is not None:
            case.prepare(state)
        gc.collect()
        prefault_s = _prefault(prefault_bytes)
        maxrss_before = _maxrss_bytes()
        hwm_reset = _reset_hwm()
        t0 = time.perf_counter()
        result = case.run(state)
        seconds = time.perf_counter() - t0
        maxrss = _maxrss_bytes()
        vmhwm = _vmhwm_bytes() if hwm_reset else None
        # ru_maxrss is the peak of the whole process: if something before the
        # timed part (warm-up, loading, an earlier repeat) peaked higher, it
        # cannot see this run's peak; then use the kernel's high-water mark,
        # which was reset to the current RSS just before the run.
        masked = maxrss_before >= maxrss
        peak = vmhwm if masked and vmhwm is not None else maxrss
        runs.append(
            {
                "seconds": seconds,
                "peak_rss": peak,
                "rss_loaded": rss_loaded,
                "extra": peak - rss_loaded,
                "ru_maxrss": maxrss,
                "vmhwm": vmhwm,
                "masked": masked and vmhwm is None,
                "from_vmhwm": masked and vmhwm is not None,
                "prefault_s": prefault_s,
            }
        )
        if i == 0:
            info = case.describe(state, result)  # checks once, untimed
        del result
    return {"runs": runs, "info": info}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="run one benchmark case (used by run.py)")
    parser.add_argument("case", choices=sorted(BY_NAME))
    parser.add_argument("--shape", required=True, help="NZxNYxNX of the base input")
    parser.add_argument("--workdir", required=True, type=Path)
    parser.add_argument("--repeat", type=int, default=1, help="timed runs in this process")
    parser.add_argument(
        "--tiny", action="store_true", help="make the inputs in --workdir (no cache; smoke runs)"
    )
    args = parser.parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split("x"))
    try:
        out = child(args.case, shape, args.workdir, args.repeat, args.tiny)  # type: ignore[arg-type]
    except Exception as err:
        traceback.print_exc()
        out = {"error": f"{type(err).__name__}: {err}"}
    sys.stdout.flush()
    print(RESULT_TAG + json.dumps(out), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
