"""How long ``da.iso.plan()`` takes on a lazy TB-scale volume (issue 21).

    python benchmarks/plan_time.py [--repeat 9] [--shape 4096x16384x16384] [--write]

The volume is ``dask.array.zeros`` of uint16 (default 4096 x 16384 x 16384:
2 TiB) with coordinates at z 0.25 µm, y/x 1 µm; nothing of it is ever
computed. The timed call is ``da.iso.plan()`` with the defaults of
``to_ome_zarr`` (a near-isotropic pyramid, ``shards="auto"``), ``--repeat``
times in one process after one untimed call (imports, pint's first use); the
median is reported in ms, with the plan's largest level in objects and its
largest chunk. Nothing is asserted; ``--write`` puts the result into
docs/performance.md between the ``bench:plan`` markers.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"
SHAPE = (4096, 16384, 16384)
SPACING = {"z": 0.25, "y": 1.0, "x": 1.0}


def volume(shape: tuple[int, int, int]) -> Any:
    """A lazy uint16 DataArray of zeros with micrometre coordinates (never computed)."""
    import dask.array as dsa
    import numpy as np
    import xarray as xr

    coords = {
        d: (d, np.arange(n) * SPACING[d], {"units": "micrometer"})
        for d, n in zip(("z", "y", "x"), shape)
    }
    data = dsa.zeros(shape, dtype=np.uint16)
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="acquisition")


def measure(shape: tuple[int, int, int], repeat: int) -> tuple[list[float], Any]:
    """Seconds of ``repeat`` calls of ``da.iso.plan()``, and the plan."""
    import xiso  # noqa: F401  (registers .iso)

    da = volume(shape)
    plan = da.iso.plan()  # untimed: first-use costs
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        plan = da.iso.plan()
        times.append(time.perf_counter() - t0)
    return times, plan


def report(shape: tuple[int, int, int], times: list[float], plan: Any) -> str:
    itemsize = 2
    nbytes = itemsize * shape[0] * shape[1] * shape[2]
    chunk_mib = max(itemsize * _prod(level.chunks) for level in plan.levels) / 2**20
    files = max(level.files for level in plan.levels)
    ms = [t * 1000 for t in times]
    return "\n".join(
        [
            "Command: `python benchmarks/plan_time.py "
            f"--shape {'x'.join(map(str, shape))} --repeat {len(times)}`  ",
            f"Input: lazy `dask.array.zeros` uint16 {' x '.join(map(str, shape))} "
            f"({nbytes / 2**40:.2f} TiB), z 0.25 µm, y/x 1 µm; `da.iso.plan()` with the "
            "defaults of `to_ome_zarr`",
            "",
            "| what | median ms (min-max) | levels | most objects in a level | largest chunk |",
            "|---|---|---|---|---|",
            f"| `da.iso.plan()` | {statistics.median(ms):.2f} ({min(ms):.2f}-{max(ms):.2f}) "
            f"| {len(plan.levels)} | {files:,} | {chunk_mib:.1f} MiB |",
            "",
            "```text",
            str(plan),
            "```",
        ]
    )


def _prod(values: Any) -> int:
    out = 1
    for v in values:
        out *= int(v)
    return out


def write(text: str, doc: Path = DOC) -> None:
    page = doc.read_text(encoding="utf-8")
    start, end = "<!-- bench:plan:start -->", "<!-- bench:plan:end -->"
    if start not in page or end not in page:
        raise SystemExit(f"{doc} has no {start} ... {end} markers")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    doc.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", page), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9, help="timed calls (default 9)")
    parser.add_argument(
        "--shape", default="x".join(map(str, SHAPE)), help="NZxNYxNX (default: 2 TiB)"
    )
    parser.add_argument("--write", action="store_true", help="update docs/performance.md")
    args = parser.parse_args(argv)
    values = [int(v) for v in args.shape.split("x")]
    if len(values) != 3:
        raise SystemExit(f"--shape {args.shape!r}: pass NZxNYxNX")
    shape = (values[0], values[1], values[2])
    times, plan = measure(shape, args.repeat)
    text = report(shape, times, plan)
    print(text)
    if args.write:
        write(text)
        print(f"updated {DOC}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
