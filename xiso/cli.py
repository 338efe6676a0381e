"""The ``xiso`` command line: a consumer of the public API only.

Exit codes: 0 success, 1 a user error (bad input or option; one line on
stderr, ``--debug`` for the traceback), 2 a usage error (from argparse).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from typing import Any

import xiso

EXAMPLES = """examples:
  xiso demo                      make synthetic lightsheet data near-isotropic
"""


def _fmt_spacing(da: Any) -> str:
    spacing = da.iso.spacing
    units = da.iso.units
    return ", ".join(
        f"{d}={v:g}" + (f" {units[d]}" if units.get(d) else "") for d, v in spacing.items()
    )


def _row(label: str, da: Any, seconds: float | None = None) -> str:
    shape = " x ".join(f"{d}={n}" for d, n in da.sizes.items())
    mib = da.nbytes / 2**20
    t = "" if seconds is None else f"  {seconds:6.2f} s"
    return f"{label:<7} {shape:<28} {_fmt_spacing(da):<48} {da.dtype!s:<7} {mib:8.1f} MiB{t}"


def cmd_demo(args: argparse.Namespace) -> int:
    from . import data

    t0 = time.perf_counter()
    vol = data.lightsheet(shape=tuple(args.shape), seed=args.seed)
    t_make = time.perf_counter() - t0
    print(f"synthetic lightsheet volume made in {t_make:.2f} s")
    print(f"factors chosen by near_isotropic: {vol.iso.factors()}")
    t0 = time.perf_counter()
    iso = vol.iso.near_isotropic()
    t_iso = time.perf_counter() - t0
    print(_row("before", vol))
    print(_row("after", iso, t_iso))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xiso",
        description="Make anisotropic volumes near-isotropic.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"xiso {xiso.__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = sub.add_parser("demo", help="run near_isotropic on built-in synthetic data")
    demo.add_argument(
        "--shape", type=int, nargs=3, default=(256, 512, 512), metavar=("NZ", "NY", "NX")
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (xiso.XisoError, OSError) as err:
        if args.debug:
            raise
        print(f"xiso: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
