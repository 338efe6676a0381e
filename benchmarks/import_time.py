"""How long ``import xiso`` and the first steps of a notebook take, in fresh processes.

    python benchmarks/import_time.py [--repeat N] [--rows ROW ...] [--against TREE]
                                     [--lightsheet] [--write]

Every measurement runs in a new interpreter (so nothing is imported yet),
timed inside it with ``time.perf_counter`` (interpreter start-up is not
counted). Rounds are interleaved: round 1 runs every row once, then round 2,
..., so a busy machine slows rows and their baseline alike. Reported: the
median of ``--repeat`` runs (default 5) and, for ``import xiso``, its
difference from ``import xarray`` in the same run, which is what xiso adds
(target: at most 0.3 s). Nothing is asserted; ``--write`` puts the table into
docs/performance.md between the ``bench:import`` markers.

Bytecode is cached as for a user (under ``PYTHONDONTWRITEBYTECODE`` every
import would compile its sources; the children then cache it in a temporary
folder), and every row runs once untimed first. ``--rows`` picks rows by name;
``--against TREE`` adds ``import xiso`` and ``import xiso`` after ``import
xarray`` from another source tree (e.g. a checkout of main), in the same
rounds, for a before/after comparison.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "performance.md"

_VOLUME = (
    "import numpy as np, xarray as xr\n"
    "c = lambda d, s, u: (d, np.arange(64) * s, {{'units': u}})\n"
    "da = xr.DataArray(np.zeros((64, 64, 64), np.float32), dims=('z', 'y', 'x'),\n"
    "    coords={{'z': c('z', 0.25, {unit!r}), 'y': c('y', 1.0, {unit!r}),"
    " 'x': c('x', 1.0, {unit!r})}})\n"
)

# name -> (what it measures, setup code, timed code)
ROWS: dict[str, tuple[str, str, str]] = {
    "import-xarray": ("`import xarray` (baseline)", "", "import xarray"),
    "import-xiso": ("`import xiso` (imports xarray too)", "", "import xiso"),
    "import-xiso-after-xarray": (
        "`import xiso` after `import xarray`",
        "import xarray",
        "import xiso",
    ),
    "first-spacing": (
        "first `da.iso.spacing`, units 'micrometer' (table of pint's factors)",
        "import xiso\n" + _VOLUME.format(unit="micrometer"),
        "da.iso.spacing",
    ),
    "first-spacing-pint": (
        "first `da.iso.spacing`, units 'angstrom' (pint's registry is built)",
        "import xiso\n" + _VOLUME.format(unit="angstrom"),
        "da.iso.spacing",
    ),
    "first-to_ome_zarr-access": (
        "first `xiso.to_ome_zarr` (imports zarr, pydantic, ome-zarr-models)",
        "import xiso",
        "xiso.to_ome_zarr",
    ),
}
LIGHTSHEET = (
    "`xiso.data.lightsheet()`, default size 256x512x512",
    "import xiso.data",
    "xiso.data.lightsheet()",
)

_CHILD = """
import time
{setup}
t0 = time.perf_counter()
{timed}
print(time.perf_counter() - t0)
"""


def _child_env(pycache: str) -> dict[str, str]:
    """The environment of a child: bytecode cached (in ``pycache`` when this
    process was told not to write it), as a user's import finds it."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env.setdefault("PYTHONPYCACHEPREFIX", pycache)
    return env


def run_once(
    setup: str, timed: str, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> float:
    """Seconds of ``timed`` after ``setup`` in a new interpreter started in ``cwd``
    (whose ``xiso`` it imports)."""
    code = _CHILD.format(setup=setup, timed=timed)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"failed:\n{code}\n{out.stderr}")
    return float(out.stdout.splitlines()[-1])


def against(tree: Path) -> dict[str, tuple[str, str, str, Path]]:
    """The two import rows of ``import xiso`` run from the source tree ``tree``."""
    return {
        f"{name}@{tree.name}": (f"{what}, from {tree}", setup, timed, tree)
        for name, (what, setup, timed) in ROWS.items()
        if name in ("import-xiso", "import-xiso-after-xarray")
    }


def measure(
    rows: dict[str, tuple[str, str, str]],
    repeat: int,
    trees: dict[str, Path] | None = None,
) -> dict[str, list[float]]:
    """``repeat`` interleaved rounds of every row; ``trees`` gives the source
    tree of a row run elsewhere than this checkout."""
    trees = trees or {}
    times: dict[str, list[float]] = {name: [] for name in rows}
    with tempfile.TemporaryDirectory(prefix="xiso-pycache-") as pycache:
        env = _child_env(pycache)
        for name, (_, setup, timed) in rows.items():  # untimed: caches bytecode
            run_once(setup, timed, cwd=trees.get(name, ROOT), env=env)
        for rnd in range(1, repeat + 1):
            for name, (_, setup, timed) in rows.items():
                seconds = run_once(setup, timed, cwd=trees.get(name, ROOT), env=env)
                times[name].append(seconds)
                print(f"[{rnd}/{repeat}] {name}: {seconds:.3f} s", file=sys.stderr)
    return times


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds >= 0.01 else f"{seconds:.5f}"


def table(rows: dict[str, tuple[str, str, str]], times: dict[str, list[float]]) -> str:
    med = {name: statistics.median(v) for name, v in times.items()}
    base = med["import-xarray"]
    lines = [
        "| row | what | median (s) | min-max (s) | vs `import xarray` |",
        "|---|---|---|---|---|",
    ]
    for name, (what, _, _) in rows.items():
        v = times[name]
        versus = ""
        if name.startswith("import-xiso@") or name == "import-xiso":
            versus = f"{med[name] - base:+.3f} s ({med[name] / base:.2f}x); target <= +0.3 s"
        elif name.startswith("import-xiso-after-xarray"):
            versus = f"{med[name]:+.3f} s"
        lines.append(
            f"| `{name}` | {what} | {_fmt(med[name])} | {_fmt(min(v))}-{_fmt(max(v))} | {versus} |"
        )
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    lines.append("")
    lines.append(
        f"{len(next(iter(times.values())))} fresh processes per row, interleaved; "
        f"Python {sys.version.split()[0]}, {cores} cores, load average {load} at the end."
    )
    return "\n".join(lines)


def write(text: str) -> None:
    page = DOC.read_text(encoding="utf-8")
    start, end = "<!-- bench:import:start -->", "<!-- bench:import:end -->"
    if start not in page:
        raise SystemExit(f"{DOC} has no {start} marker")
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    DOC.write_text(pattern.sub(lambda _: f"{start}\n{text}\n{end}", page), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh processes per row")
    parser.add_argument(
        "--lightsheet", action="store_true", help="also time xiso.data.lightsheet() (default size)"
    )
    parser.add_argument("--write", action="store_true", help="write the table into the docs")
    parser.add_argument(
        "--rows", nargs="+", choices=list(ROWS), help="only these rows (import-xarray always)"
    )
    parser.add_argument(
        "--against", type=Path, help="also time `import xiso` from this source tree (before/after)"
    )
    args = parser.parse_args(argv)
    rows = dict(ROWS)
    if args.rows:
        rows = {n: r for n, r in ROWS.items() if n in args.rows or n == "import-xarray"}
    if args.lightsheet:
        rows["lightsheet"] = LIGHTSHEET
    trees: dict[str, Path] = {}
    if args.against:
        if not (args.against / "xiso" / "__init__.py").is_file():
            raise SystemExit(f"--against {args.against}: no xiso/__init__.py there")
        for name, (what, setup, timed, tree) in against(args.against.resolve()).items():
            rows[name] = (what, setup, timed)
            trees[name] = tree
    text = table(rows, measure(rows, args.repeat, trees))
    print(text)
    if args.write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
