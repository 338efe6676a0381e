"""Case 6's CPU seconds against its codec floors: where xiso's extra time goes.

    python benchmarks/cpu_large.py [--repeat 2]

Runs case 6 (xiso OME-Zarr -> near-isotropic OME-Zarr on the 4x input, see
cases_large.py) and two floors, each in a fresh process per round (interleaved
rounds), with run.py's own setup and run functions, and prints each run's wall
time and the CPU seconds (user + system, from ``getrusage``) of the job alone:

- ``floor``: the codec floor of case 6 (raw chunk files + zstd, every 4th plane);
- ``floor-mean``: the same floor computing xiso's exact block mean instead;
- ``xiso``: case 6 itself.

The difference between the floors is the arithmetic of the job; between
``floor-mean`` and ``xiso``, the store path (dask, zarrista's array layer,
the resume journal). The 4x input is built once by run.py (``--large``).
Nothing is asserted; no page is written.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROWS = ("floor", "floor-mean", "xiso")

CHILD = """
import json, resource, shutil, sys, time
from pathlib import Path
sys.path.insert(0, {here!r})
import cases_base, cases_zarr, run
row, work = sys.argv[1], Path(sys.argv[2])
setup, job = {{
    "floor": (cases_zarr.setup_codec_floor, cases_zarr.run_codec_floor),
    "floor-mean": (cases_zarr.setup_codec_floor, cases_zarr.run_codec_floor_mean),
    "xiso": (cases_zarr.setup_xiso_zarr, cases_zarr.run_xiso_zarr),
}}[row]
s = setup(cases_base.Ctx(run.FULL_SHAPE, work), large=True)
r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
job(s)
t1, r1 = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
shutil.rmtree(work, ignore_errors=True)
cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
print(json.dumps({{"wall": t1 - t0, "cpu": cpu}}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="interleaved rounds")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(HERE))
    import data as bench_data

    work = bench_data.cache_dir() / "cpu-large-work"
    script = CHILD.format(here=str(HERE))
    for k in range(args.repeat):
        for row in ROWS:
            done = subprocess.run(
                [sys.executable, "-c", script, row, str(work)],
                capture_output=True,
                text=True,
                check=True,
            )
            got = json.loads(done.stdout.strip().splitlines()[-1])
            wall, cpu = got["wall"], got["cpu"]
            print(f"[{k + 1}/{args.repeat}] {row:10s} wall {wall:6.2f} s  cpu {cpu:6.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
