"""How long ``import xiso``, a quick look at a store and the first steps of a
notebook take, in fresh processes.

    python benchmarks/import_time.py [--repeat N] [--rows ROW ...] [--against TREE]
                                     [--lightsheet] [--write]

Every measurement runs in a new interpreter (so nothing is imported yet),
timed inside it with ``time.perf_counter`` (interpreter start-up is not
counted; the CPU seconds of ``time.process_time`` are reported beside it, as
they change less with the load of the machine). Rounds are interleaved: round
1 runs every row once, then round 2, ..., so a busy machine slows rows and
their baseline alike. Reported: the median of ``--repeat`` runs (default 9)
and, for the rows that start from nothing, their difference from ``import
xarray`` in the same run, which is what xiso adds. Targets: ``import xiso`` at
most 0.3 s more; ``xiso info`` on a small local OME-Zarr store (64^3 float32,
three levels, written by this checkout into a temporary folder first) at most
0.3 s more; a lazy ``xiso.open_ome_zarr(store, near_isotropic=True)`` at most
0.5 s more. Nothing is asserted; ``--write`` puts the table into
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
import contextlib
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
    # {store}: the small store made by small_store()
    "xiso-info": (
        "`xiso info STORE` (the CLI's main, output discarded), from nothing",
        "import contextlib, io",
        "from xiso.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(['info', {store}]) == 0",
    ),
    "open-near-isotropic": (
        "`xiso.open_ome_zarr(STORE, near_isotropic=True)` (lazy), from nothing",
        "",
        "import xiso\nda = xiso.open_ome_zarr({store}, near_isotropic=True)",
    ),
    # what any lazy open imports: dask.array (xarray imports it for its first
    # DataArray; it imports scipy.sparse and scipy.fftpack) and zarr
    "floor-dask-zarr": (
        "`import xarray, dask.array, zarr` (the floor of a lazy open)",
        "",
        "import xarray, dask.array, zarr",
    ),
}
# rows that start from nothing, compared with `import xarray`: name -> target (s)
TARGETS = {"import-xiso": 0.3, "xiso-info": 0.3, "open-near-isotropic": 0.5}
LIGHTSHEET = (
    "`xiso.data.lightsheet()`, default size 256x512x512",
    "import xiso.data",
    "xiso.data.lightsheet()",
)

_CHILD = """
import time
{setup}
t0, c0 = time.perf_counter(), time.process_time()
{timed}
print(time.perf_counter() - t0, time.process_time() - c0)
"""

_SMALL_STORE = (
    "import numpy as np, xarray as xr, xiso\n"
    + _VOLUME.format(unit="micrometer")
    + "xiso.to_ome_zarr(da, PATH)\n"
)


@contextlib.contextmanager
def small_store(cwd: Path = ROOT):
    """A small local OME-Zarr store (64^3 float32, z 0.25 µm, y/x 1 µm, a
    pyramid of three levels) written by the ``xiso`` of ``cwd``, in a
    temporary folder that is removed afterwards; yields its path."""
    with tempfile.TemporaryDirectory(prefix="xiso-import-time-") as folder:
        path = str(Path(folder) / "small.ome.zarr")
        code = _SMALL_STORE.replace("PATH", repr(path))
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"could not write the small store:\n{out.stderr}")
        yield path


def _child_env(pycache: str) -> dict[str, str]:
    """The environment of a child: bytecode cached (in ``pycache`` when this
    process was told not to write it), as a user's import finds it."""
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None):
        env.setdefault("PYTHONPYCACHEPREFIX", pycache)
    return env


def run_once(
    setup: str, timed: str, *, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """(wall, CPU) seconds of ``timed`` after ``setup`` in a new interpreter
    started in ``cwd`` (whose ``xiso`` it imports)."""
    code = _CHILD.format(setup=setup, timed=timed)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"failed:\n{code}\n{out.stderr}")
    wall, cpu = out.stdout.splitlines()[-1].split()
    return float(wall), float(cpu)


AGAINST = ("import-xiso", "import-xiso-after-xarray", "xiso-info", "open-near-isotropic")


def against(tree: Path) -> dict[str, tuple[str, str, str, Path]]:
    """The rows of :data:`AGAINST` run from the source tree ``tree``."""
    return {
        f"{name}@{tree.name}": (f"{what}, from {tree}", setup, timed, tree)
        for name, (what, setup, timed) in ROWS.items()
        if name in AGAINST
    }


def measure(
    rows: dict[str, tuple[str, str, str]],
    repeat: int,
    trees: dict[str, Path] | None = None,
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """(wall, CPU) seconds of ``repeat`` interleaved rounds of every row;
    ``trees`` gives the source tree of a row run elsewhere than this checkout.
    ``{store}`` in a row is the path of :func:`small_store`."""
    trees = trees or {}
    times: dict[str, list[float]] = {name: [] for name in rows}
    cpu: dict[str, list[float]] = {name: [] for name in rows}
    with (
        tempfile.TemporaryDirectory(prefix="xiso-pycache-") as pycache,
        small_store() as store,
    ):
        env = _child_env(pycache)
        rows = {
            name: (what, setup, timed.replace("{store}", repr(store)))
            for name, (what, setup, timed) in rows.items()
        }
        for name, (_, setup, timed) in rows.items():  # untimed: caches bytecode
            run_once(setup, timed, cwd=trees.get(name, ROOT), env=env)
        for rnd in range(1, repeat + 1):
            for name, (_, setup, timed) in rows.items():
                wall, used = run_once(setup, timed, cwd=trees.get(name, ROOT), env=env)
                times[name].append(wall)
                cpu[name].append(used)
                print(f"[{rnd}/{repeat}] {name}: {wall:.3f} s ({used:.3f} s CPU)", file=sys.stderr)
    return times, cpu


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds >= 0.01 else f"{seconds:.5f}"


def versus(name: str, med: dict[str, float], base: float, cpu_base: float, cpu: float) -> str:
    """The 'vs import xarray' cell of row ``name``: the difference of the
    medians (wall, and CPU in brackets) and, for a row with a target, whether
    the wall difference meets it."""
    row = name.split("@")[0]
    if row == "import-xiso-after-xarray":
        return f"{med[name]:+.3f} s"
    if row == "floor-dask-zarr":
        return f"{med[name] - base:+.3f} s ({cpu - cpu_base:+.3f} s CPU)"
    if row not in TARGETS:
        return ""
    extra = med[name] - base
    verdict = "met" if extra <= TARGETS[row] else "**missed**"
    return f"{extra:+.3f} s ({cpu - cpu_base:+.3f} s CPU); target <= +{TARGETS[row]} s: {verdict}"


def table(
    rows: dict[str, tuple[str, str, str]],
    times: dict[str, list[float]],
    cpu: dict[str, list[float]] | None = None,
) -> str:
    cpu = cpu or times
    med = {name: statistics.median(v) for name, v in times.items()}
    cpu_med = {name: statistics.median(v) for name, v in cpu.items()}
    base, cpu_base = med["import-xarray"], cpu_med["import-xarray"]
    lines = [
        "| row | what | median (s) | min-max (s) | CPU median (s) | vs `import xarray` |",
        "|---|---|---|---|---|---|",
    ]
    for name, (what, _, _) in rows.items():
        v = times[name]
        cell = versus(name, med, base, cpu_base, cpu_med[name])
        lines.append(
            f"| `{name}` | {what} | {_fmt(med[name])} | {_fmt(min(v))}-{_fmt(max(v))} "
            f"| {_fmt(cpu_med[name])} | {cell} |"
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
    parser.add_argument("--repeat", type=int, default=9, help="fresh processes per row")
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
    text = table(rows, *measure(rows, args.repeat, trees))
    print(text)
    if args.write:
        write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
