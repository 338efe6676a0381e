"""The ``xiso`` command line: a consumer of the public API only.

Exit codes
----------
0  success
1  a user error: missing input, existing output without ``--overwrite``, bad
   values, non-uniform spacing, ... (one line on stderr; ``--debug`` shows the
   traceback)
2  a usage error (unknown command or option; printed by argparse)
130 interrupted (Ctrl-C)
141 the reader of the output went away (``xiso info X | head -1``): nothing
    printed, as cat or grep ended by SIGPIPE
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import re
import shlex
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import xiso
from xiso.errors import Option
from xiso.methods import TABLE, names
from xiso.plan import format_bytes

EXAMPLES = """examples:
  xiso demo                                  synthetic lightsheet -> near-isotropic pyramid
  xiso info data.ome.zarr                    axes, units, levels, spacing, factors, labels
  xiso info data.ome.zarr --json             the same, for machines
  xiso convert in.ome.zarr out.ome.zarr      near-isotropic pyramid (NGFF 0.5)
  xiso convert in.zarr out.zarr --method mode --no-pyramid     label image, one level
  xiso convert in.zarr out.zarr --target "2 um" --ngff-version 0.4 --overwrite
  xiso convert in.zarr out.zarr --isotropic                 exactly isotropic (area)
  xiso convert in.zarr out.zarr --spacing "0.5 um" --method cubic
  xiso convert in.zarr out.zarr --scheduler tcp://10.0.0.5:8786

  xiso convert s3://bucket/in.zarr out.zarr --storage-option endpoint_url=http://127.0.0.1:9000

exit codes: 0 success, 1 user error (one line, --debug for the traceback),
            2 usage error, 130 interrupted, 141 output pipe closed (as cat)
"""


# convert's options that only near-isotropic blocks use, with their defaults
_DEFAULTS: dict[str, Any] = {"target": None, "rounding": "pow2", "boundary": "trim"}

# the Python keywords that are also options of the command, with the same
# meaning (not `spacing`: Python's is the input's, --spacing the new grid's)
_SAME_AS_PYTHON = ("boundary", "method", "target", "rounding", "oblique")

INPUT_SPACING = (
    "the spacing of a TIFF input's dim where the file does not say it, repeatable: "
    "z=2um, or z=0.5 in the file's unit (a folder of planes always needs z)"
)

OBLIQUE = (
    "a NIfTI input whose affine is oblique: refuse it (raise, the default) or take its "
    "voxel sizes as spacing and keep the affine in attrs (ignore)"
)

STORAGE = (
    "an fsspec storage option for URLs such as s3://, repeatable; VALUE is read as JSON "
    "when it parses (true, 3, {...}), else as text (e.g. anon=true, endpoint_url=http://...)"
)


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _spacing_text(da: Any) -> str:
    try:
        info = xiso.spacing_info(da)
    except xiso.XisoError as err:
        return f"? ({err.__class__.__name__})"
    return ", ".join(
        f"{d}={v:g}" + (f" {info.units[d]}" if info.units[d] else "")
        for d, v in info.native.items()
    )


def _print_table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


@contextlib.contextmanager
def _scheduler(address: str | None) -> Iterator[None]:
    if address is None:
        yield
        return
    try:
        from dask.distributed import Client
    except ImportError:
        from xiso.errors import install_hint

        raise xiso.OptionError(
            "--scheduler needs dask.distributed, which is not installed; "
            + install_hint("distributed", "distributed")
        ) from None
    try:
        client = Client(address, timeout="10s")
    except OSError as err:
        raise xiso.OptionError(f"cannot reach the dask scheduler at {address!r}: {err}") from None
    with client:
        yield


def _show_progress(args: argparse.Namespace) -> bool:
    """A bar on stderr with --progress, else when stderr is a TTY and not --quiet.

    With --scheduler the bar is one line pointing at the cluster's dashboard
    (see :func:`xiso.progress.progress_bar`).
    """
    return bool(args.progress) or (not args.quiet and sys.stderr.isatty())


def _storage_options(pairs: Sequence[str] | None) -> dict[str, Any] | None:
    """``KEY=VALUE`` pairs as fsspec storage options; values are JSON when they
    parse as JSON (``true``, ``3``, ``{"a": 1}``), else strings."""
    if not pairs:
        return None
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise xiso.OptionError(
                f"--storage-option {pair!r}: write KEY=VALUE, e.g. "
                "--storage-option endpoint_url=http://127.0.0.1:9000"
            )
        try:
            options[key] = json.loads(text)
        except ValueError:
            options[key] = text
    return options


def _options_for(location: str, options: dict[str, Any] | None) -> dict[str, Any] | None:
    """The storage options for a URL; none for a local path."""
    return options if "://" in location and not location.startswith("file://") else None


def _target(text: str | None) -> Any:
    if text is None:
        return None
    for number in (int, float):  # 2 stays 2, as the user wrote it in messages
        try:
            return number(text)
        except ValueError:
            pass
    return text  # a quantity such as "2 um", parsed by xiso


# --------------------------------------------------------------------------
# commands
# --------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from . import data

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    src = out / "lightsheet.ome.zarr"
    dst = out / "lightsheet-iso.ome.zarr"
    t0 = time.perf_counter()
    vol = data.lightsheet(shape=tuple(args.shape), seed=args.seed)
    print(f"made a synthetic lightsheet volume in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    xiso.to_ome_zarr(vol, src, pyramid=False, overwrite=True)
    t_write = time.perf_counter() - t0
    before = xiso.open_ome_zarr(src)
    print(f"near_isotropic factors: {before.iso.factors()}")
    t0 = time.perf_counter()
    xiso.to_ome_zarr(
        before.iso.near_isotropic(), dst, overwrite=True, progress=_show_progress(args)
    )
    t_convert = time.perf_counter() - t0
    after = xiso.open_ome_zarr(dst)
    levels = len(xiso.open_ome_zarr_pyramid(dst).children)
    rows = []
    for label, da, path, write, convert in (
        ("before", before, src, f"{t_write:.2f} s", ""),
        ("after", after, dst, "", f"{t_convert:.2f} s"),
    ):
        rows.append(
            [
                label,
                " x ".join(f"{d}={n}" for d, n in da.sizes.items()),
                _spacing_text(da),
                str(da.dtype),
                format_bytes(_disk_size(path)),
                write,
                convert,
            ]
        )
    print()
    _print_table(rows, ["", "shape", "spacing", "dtype", "on disk", "write", "convert"])
    print(
        "write: the synthetic volume written as OME-Zarr; convert: read, near_isotropic "
        "and the pyramid written"
    )
    print(f"\nwrote {src} (input) and {dst} ({levels} level{'s' if levels > 1 else ''}, NGFF 0.5)")
    from . import plot

    try:
        # a window of 10 voxels of the coarsest spacing shows the voxels' shape
        zoom = 10 * max(xiso.spacing_info(after).common.values())
        fig = plot.compare(before, after, mode="mip", zoom=zoom)
    except ImportError as err:
        print(f"no picture: {err}")
    else:
        png = out / "orthoviews.png"
        fig.savefig(png, dpi=100)
        print(
            f"wrote {png} (orthogonal views, before and after, at true physical aspect; "
            "below, an x-z window with one rectangle per voxel)"
        )
    return 0


def _pyramid(store: Any, options: Any) -> Any:
    """The levels and label images of an OME-Zarr image as a DataTree, as
    ``xiso.open_ome_zarr_pyramid`` opens them but not dask-backed: info reads
    no chunk, so it neither imports dask nor makes graphs."""
    import xarray as xr

    from .io.read import pyramid_levels

    levels = pyramid_levels(store, storage_options=options, dask=False)
    return xr.DataTree.from_dict({path: da.to_dataset() for path, (da, _) in levels.items()})


def _level_rows(store: Any, options: Any) -> tuple[list[dict[str, Any]], Any]:
    tree = _pyramid(store, options)
    rows = []
    first = None
    # every node holding data is a level (NGFF paths such as "s0/image" nest)
    for node in tree.subtree:
        if not node.has_data or not node.data_vars:
            continue
        path = node.relative_to(tree)
        if path.split("/")[0] == "labels":  # label images: see _label_rows
            continue
        da = node.to_dataset()[next(iter(node.data_vars))]
        first = da if first is None else first
        rows.append(_level_row(path, da))
    return rows, first


def _stored(da: Any, key: str) -> list[int] | None:
    """The stored chunk (or shard) shape of a level: its encoding, else (chunks
    of a TIFF or NIfTI) its dask chunks; None where there is none."""
    if key in da.encoding:
        return [int(c) for c in da.encoding[key]]
    if key == "chunks" and da.chunks:
        return [int(c[0]) for c in da.chunks]
    return None


def _level_row(path: str, da: Any) -> dict[str, Any]:
    return {
        "path": path,
        "shape": dict(zip(map(str, da.dims), map(int, da.shape))),
        "chunks": _stored(da, "chunks"),
        "shards": _stored(da, "shards"),
        "spacing": {str(k): v for k, v in xiso.spacing_info(da).native.items()}
        if _has_spacing(da)
        else None,
    }


def _label_rows(store: Any, options: Any) -> list[dict[str, Any]]:
    """The label images of an OME-Zarr image: name, dtype, levels, colors."""
    tree = _pyramid(store, options)
    if "labels" not in tree.children:
        return []
    rows = []
    for name, node in tree["labels"].children.items():
        levels = [n for n in node.subtree if n.has_data and n.data_vars]
        da = levels[0].to_dataset()[name]
        rows.append(
            {
                "name": name,
                "dtype": str(da.dtype),
                "shape": dict(zip(map(str, da.dims), map(int, da.shape))),
                "levels": len(levels),
                "colors": len(da.attrs.get("image-label", {}).get("colors") or []),
            }
        )
    return rows


def _has_spacing(da: Any) -> bool:
    try:
        xiso.spacing_info(da)
    except xiso.XisoError:
        return False
    return True


def _leftovers(store: str, options: Any) -> list[dict[str, Any]]:
    from .io.resume import progress
    from .io.targets import resolve

    target = resolve(store, options)
    jobs = {lo.where: (job, count) for lo, job, count in target.resumable()}
    rows = []
    for lo in target.leftovers():
        row = {
            "where": lo.where,
            "kind": lo.kind,
            "writer_dead": lo.dead,
            "bytes": lo.nbytes,
            "next_write": lo.next_write,
            "resume": None,
        }
        if lo.where in jobs:
            job, count = jobs[lo.where]
            done, total = progress(job, count)
            row["resume"] = {
                "units_done": done,
                "units": total,
                "command": job.get("command") or "xiso.to_ome_zarr(..., resume=True)",
            }
        rows.append(row)
    return rows


def _only_leftovers(store: Any, options: Any) -> bool:
    """Whether nothing is at ``store`` but temporaries of writes (a first
    conversion that was killed)."""
    from .io.targets import resolve

    with contextlib.suppress(xiso.XisoError, OSError):
        target = resolve(store, options)
        return target.inspect().kind == "absent" and bool(target.leftovers())
    return False


def _print_leftovers(leftovers: list[dict[str, Any]]) -> None:
    for lo in leftovers:
        what = "an unfinished write" if lo["kind"] == "tmp" else "an image set aside by a swap"
        state = "its writer is gone; " if lo["writer_dead"] else ""
        size = format_bytes(lo["bytes"])
        resume = lo.get("resume")
        if resume and lo["writer_dead"]:
            share = resume["units_done"] / max(resume["units"], 1)
            print(
                f"\nleftover: {lo['where']} ({size}), {what}; {state}it holds "
                f"{resume['units_done']:,} of {resume['units']:,} units ({share:.0%}). "
                f"To resume it: {resume['command']}. A write without resume removes it."
            )
            continue
        print(f"\nleftover: {lo['where']} ({size}), {what}; {state}{lo['next_write']}")


def _input_format(source: Any) -> str:
    """'ome-zarr', 'tiff' or 'nifti' (see xiso.io.formats)."""
    from .io.formats import format_of

    return format_of(source)


def _input_spacing(pairs: Sequence[str] | None, kind: str) -> dict[str, Any] | None:
    """``--input-spacing DIM=VALUE`` pairs as the ``spacing`` of a TIFF reader:
    a number (in the file's unit) or a quantity such as ``2um``."""
    if not pairs:
        return None
    if kind != "tiff":
        raise xiso.OptionError(
            f"--input-spacing: the input is {kind.upper()}, whose spacing its own metadata "
            "gives; --input-spacing is for TIFF files and folders of planes that lack it"
        )
    spacing: dict[str, Any] = {}
    for pair in pairs:
        dim, sep, text = pair.partition("=")
        if not sep or not dim.strip() or not text.strip():
            raise xiso.OptionError(
                f"--input-spacing {pair!r}: write DIM=VALUE, e.g. --input-spacing z=2um "
                "or --input-spacing z=0.5"
            )
        if dim.strip() in spacing:
            raise xiso.OptionError(
                f"--input-spacing names {dim.strip()!r} twice; give each dim once"
            )
        spacing[dim.strip()] = _target(text.strip())
    return spacing


def _open_other(
    source: Any, kind: str, spacing: dict[str, Any] | None = None, oblique: str | None = None
) -> Any:
    """A TIFF or NIfTI input (xiso.open), in the axis order NGFF stores; flipped
    axes (NIfTI's L, P, I) stay as Python gives them, for to_ome_zarr to sort
    after the new grid, as it does for a Python user."""
    from .io.formats import ngff_order

    options: dict[str, Any] = {} if spacing is None else {"spacing": spacing}
    if oblique is not None:
        if kind != "nifti":
            raise xiso.OptionError(
                f"--oblique: the input is {kind.upper()}; --oblique is for NIfTI files "
                "whose affine is oblique"
            )
        options["oblique"] = oblique
    try:
        return ngff_order(xiso.open(source, **options))
    except xiso.XisoError as err:
        if "pass oblique='ignore'" in str(err):
            raise type(err)(f"{err} (on the command line: --oblique ignore)") from None
        if not isinstance(err, xiso.SpacingError) or "pass spacing=" not in str(err):
            raise
        found = re.search(r"pass spacing=(\{[^}]*\})", str(err))
        try:
            asked = ast.literal_eval(found.group(1)) if found else {}
        except (ValueError, SyntaxError):
            asked = {}
        flags = " ".join(f"--input-spacing {d}={v}" for d, v in asked.items())
        raise xiso.SpacingError(
            f"{err}; on the command line: {flags or '--input-spacing DIM=VALUE'}"
        ) from None


def cmd_info(args: argparse.Namespace) -> int:
    options = _options_for(args.store, _storage_options(args.storage_option))
    kind = _input_format(args.store)
    if kind == "ome-zarr" and _only_leftovers(args.store, options):
        leftovers = _leftovers(args.store, options)
        if args.json:
            print(json.dumps({"store": str(args.store), "leftovers": leftovers}, indent=2))
        else:
            print(f"{args.store}: no image yet")
            _print_leftovers(leftovers)
        return 0
    if kind == "ome-zarr":
        _input_spacing(args.input_spacing, kind)  # refused: the metadata gives it
        if args.oblique is not None:
            _open_other(args.store, kind, oblique=args.oblique)  # refused: not NIfTI
        levels, base = _level_rows(args.store, options)
        leftovers = _leftovers(args.store, options)
        labels = _label_rows(args.store, options)
    else:  # TIFF, NIfTI: one level, no labels, no leftovers of xiso's writes
        base = _open_other(args.store, kind, _input_spacing(args.input_spacing, kind), args.oblique)
        levels, leftovers, labels = [_level_row("-", base)], [], []
    info = xiso.spacing_info(base)
    common = info.common
    report = {
        "store": str(args.store),
        "format": kind,
        "name": base.name,
        "ngff_version": base.attrs.get("ngff_version"),
        "dims": [str(d) for d in base.dims],
        "axes": {
            str(d): {
                "type": base.coords[d].attrs.get("type") if d in base.coords else None,
                "units": base.coords[d].attrs.get("units") if d in base.coords else None,
            }
            for d in base.dims
        },
        "dtype": str(base.dtype),
        "levels": levels,
        "spacing": {str(k): v for k, v in info.native.items()},
        "anisotropy": max(common.values()) / min(common.values()),
        "near_isotropic_factors": {str(k): v for k, v in base.iso.factors().items()},
        "labels": labels,
        "leftovers": leftovers,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    what = f"NGFF {report['ngff_version']}" if kind == "ome-zarr" else kind.upper()
    print(f"{report['store']}  ({what}, name {report['name']!r})")
    axes = ", ".join(
        f"{d} [{a['type'] or '-'}{', ' + a['units'] if a['units'] else ''}]"
        for d, a in report["axes"].items()
    )
    print(f"axes:        {axes}")
    print(f"dtype:       {report['dtype']}")
    print(f"spacing:     {_spacing_text(base)}")
    print(f"anisotropy:  {report['anisotropy']:.3g} (coarsest / finest spacing)")
    print(f"factors:     {report['near_isotropic_factors']} (what near_isotropic would use)")
    print()
    _print_table(
        [
            [
                lv["path"],
                " x ".join(f"{k}={v}" for k, v in lv["shape"].items()),
                " x ".join(map(str, lv["chunks"] or [])),
                " x ".join(map(str, lv["shards"])) if lv["shards"] else "-",
                ", ".join(f"{k}={v:g}" for k, v in (lv["spacing"] or {}).items()),
            ]
            for lv in levels
        ],
        ["level", "shape", "chunks", "shards", "spacing"],
    )
    for lb in report["labels"]:
        colors = f", {lb['colors']} color{'s' * (lb['colors'] != 1)}" if lb["colors"] else ""
        print(
            f"label:       {lb['name']} ({lb['dtype']}, {lb['levels']} "
            f"level{'s' * (lb['levels'] != 1)}{colors})"
        )
    _print_leftovers(leftovers)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    options = _storage_options(args.storage_option)
    source = Path(args.input) if "://" not in args.input else args.input
    pattern = isinstance(source, Path) and any(ch in source.name for ch in "*?[")
    if isinstance(source, Path) and not source.exists() and not pattern:
        raise FileNotFoundError(f"input {args.input!r} does not exist")
    kind = _input_format(source)
    spacing = _input_spacing(args.input_spacing, kind)
    if kind != "ome-zarr" and args.level != 0:
        raise xiso.OptionError(
            f"--level {args.level}: the input is {kind.upper()}, which has one level; "
            "--level picks a level of an OME-Zarr input"
        )
    if args.levels is not None and args.levels < 1:
        raise xiso.OptionError(f"--levels {args.levels}: pass a whole number >= 1")
    chunks = None
    if args.chunks is not None:
        try:
            chunks = int(args.chunks)
        except ValueError:
            raise xiso.OptionError(
                f"--chunks {args.chunks!r}: pass one whole number (the chunk edge of spatial dims)"
            ) from None
    shards = _shards(args.shards)
    t0 = time.perf_counter()
    with _scheduler(args.scheduler):
        da = (
            xiso.open_ome_zarr(
                source, level=args.level, storage_options=_options_for(args.input, options)
            )
            if kind == "ome-zarr"
            else _open_other(source, kind, spacing, args.oblique)
        )
        grid = _grid(args)
        if kind == "ome-zarr" and _blocks_as_read(args):
            iso = _read_in_blocks(source, args, options, None, _block_method(da, args.method))
        else:
            iso = grid(da, args.method)
        # label images come along, on the same grid: reduced with mode (nearest when exact)
        labels = {
            row["name"]: (
                _read_in_blocks(source, args, options, row["name"], "mode")
                if _blocks_as_read(args)
                else grid(
                    xiso.open_ome_zarr(
                        source,
                        level=args.level,
                        label=row["name"],
                        storage_options=_options_for(args.input, options),
                    ),
                    "nearest" if args.exact else "mode",
                )
            )
            for row in (
                _label_rows(source, _options_for(args.input, options)) if kind == "ome-zarr" else []
            )
        }
        layout_options: dict[str, Any] = dict(
            pyramid=not args.no_pyramid,
            levels=args.levels,
            version=args.ngff_version,
            chunks=chunks,
            shards=shards,
            method=_pyramid_method(args.method),
            min_size=args.min_size,
        )
        if args.dry_run:  # the plan, from sizes and spacing alone: nothing is computed
            print(xiso.plan(iso, **layout_options))
            for name, label in labels.items():
                print(f"\nlabel {name!r}, sharded like the image:")
                print(xiso.plan(label, **{**layout_options, "method": None, "label": True}))
            return 0
        xiso.to_ome_zarr(
            iso,
            args.output,
            pyramid=not args.no_pyramid,
            levels=args.levels,
            version=args.ngff_version,
            chunks=chunks,
            shards=shards,
            overwrite=args.overwrite,
            method=_pyramid_method(args.method),
            min_size=args.min_size,
            labels=labels or None,
            storage_options=_options_for(args.output, options),
            progress=_show_progress(args),
            resume=args.resume,
        )
    if not args.quiet:
        how = (
            "spacing " + ", ".join(f"{d}={v:g}" for d, v in iso.iso.spacing.items())
            if args.exact
            else f"factors {da.iso.factors(rounding=args.rounding, target=_target(args.target))}"
        )
        print(
            f"{args.input}: {dict(da.sizes)} -> {args.output}: {dict(iso.sizes)} "
            f"({how}, {time.perf_counter() - t0:.1f} s)"
        )
    return 0


def _blocks_as_read(args: argparse.Namespace) -> bool:
    """Whether the near-isotropic blocks of an OME-Zarr input are made as it is
    read (``open_ome_zarr(..., near_isotropic=True)``): the default target and
    boundary, which are the ones that open takes."""
    return not args.exact and args.target is None and args.boundary == _DEFAULTS["boundary"]


def _block_method(da: Any, method: str | None) -> str:
    """The block method ``da.iso.near_isotropic(method=method)`` reduces ``da`` with."""
    if method is not None:
        return method
    from xiso.labelled import label_reason
    from xiso.methods import default_method

    return default_method("block", labels=label_reason(da.name, da.variable) is not None)


def _read_in_blocks(
    source: Any, args: argparse.Namespace, options: Any, label: str | None, method: str
) -> Any:
    """The near-isotropic image (or label image) of an OME-Zarr input, each block
    read whole by one task through the fast chunk engine and reduced at once:
    the values of ``near_isotropic`` on a plain open, which reads stored chunk by
    chunk through zarr-python and then joins them (about 10 % more CPU on a
    4 GiB conversion, benchmarks/whole.py)."""
    return xiso.open_ome_zarr(
        source,
        level=args.level,
        label=label,
        near_isotropic=True,
        method=method,
        rounding=args.rounding,
        storage_options=_options_for(args.input, options),
    )


def _grid(args: argparse.Namespace) -> Any:
    """The new grid of ``convert``: a function (DataArray, method) -> DataArray.

    ``--isotropic`` / ``--spacing`` resample exactly (area, nearest, linear,
    cubic); otherwise near-isotropic blocks (mean, median, ..., mode)."""
    exact = args.isotropic or args.spacing is not None
    args.exact = exact
    block_only = [f"--{o}" for o in _DEFAULTS if getattr(args, o) != _DEFAULTS[o]]
    if exact and block_only:
        raise xiso.OptionError(
            f"{' and '.join(block_only)} set the near-isotropic blocks, which "
            f"--isotropic/--spacing replace by an exact grid; drop {' and '.join(block_only)}"
        )
    if args.method is not None and exact and args.method not in names("grid"):
        raise xiso.OptionError(
            f"--method {args.method} reduces near-isotropic blocks; an exact grid "
            f"(--isotropic, --spacing) takes one of {', '.join(names('grid'))}"
        )
    if args.method is not None and not exact and args.method not in names("block"):
        raise xiso.OptionError(
            f"--method {args.method} resamples onto an exact grid: add --isotropic or "
            f"--spacing; near-isotropic blocks take one of {', '.join(names('block'))}"
        )
    if exact:
        spacing = _target(args.spacing)
        if args.isotropic:
            return lambda da, method: da.iso.isotropic(spacing=spacing, method=method)
        return lambda da, method: da.iso.resample(spacing, method=method)
    return lambda da, method: da.iso.near_isotropic(
        method=method, rounding=args.rounding, target=_target(args.target), boundary=args.boundary
    )


def _shards(text: str) -> Any:
    """``--shards``: 'auto', 'none' or one whole number (the shard edge of spatial dims)."""
    if text.lower() in ("auto", "none"):
        return None if text.lower() == "none" else "auto"
    try:
        return int(text)
    except ValueError:
        raise xiso.OptionError(
            f"--shards {text!r}: pass 'auto', 'none' or one whole number (the shard edge of "
            "spatial dims, a multiple of the chunk edge)"
        ) from None


def _pyramid_method(method: str | None) -> str | None:
    """The block reduction of the pyramid levels below the converted image: the
    method itself, or (exact grids) to_ome_zarr's default, mean or mode."""
    return None if method in (None, "area", "linear", "cubic") else method


# --------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------
INPUTS = "an OME-Zarr image (path or URL), a TIFF or NIfTI file, or a folder or glob of TIFF planes"


def _progress_options(parser: argparse.ArgumentParser, quiet: str) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--quiet", action="store_true", help=quiet)
    group.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar on stderr even when it is not a terminal (e.g. in logs)",
    )


class _Version(argparse.Action):
    """``--version``: the version is read when asked for (reading the package
    metadata costs every other command its import of the email parser)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"xiso {xiso.__version__}")  # on stdout, as argparse's "version" action
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="xiso",
        description="Make anisotropic volumes near-isotropic or exactly isotropic "
        "(OME-Zarr, TIFF or NIfTI in; OME-Zarr out).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_Version, help="show the version of xiso and exit")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="run on built-in synthetic data",
        description="Write a synthetic lightsheet volume as OME-Zarr, convert it to a "
        "near-isotropic pyramid, print a before/after table and draw orthogonal views. "
        "Rewrites its own outputs in --out.",
    )
    demo.add_argument(
        "--out", default="xiso-demo", metavar="DIR", help="output folder (default: xiso-demo)"
    )
    demo.add_argument(
        "--shape",
        type=int,
        nargs=3,
        default=(256, 512, 512),
        metavar=("NZ", "NY", "NX"),
        help="size of the synthetic volume (default 256 512 512)",
    )
    demo.add_argument(
        "--seed", type=int, default=0, help="seed of the synthetic volume (default 0)"
    )
    _progress_options(demo, quiet="no progress bar")
    demo.set_defaults(func=cmd_demo)

    info = sub.add_parser("info", help="describe an image (OME-Zarr, TIFF or NIfTI)")
    info.add_argument("store", metavar="STORE", help=INPUTS)
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--storage-option", action="append", metavar="KEY=VALUE", help=STORAGE)
    info.add_argument("--input-spacing", action="append", metavar="DIM=VALUE", help=INPUT_SPACING)
    info.add_argument("--oblique", choices=("raise", "ignore"), help=OBLIQUE)
    info.set_defaults(func=cmd_info)

    conv = sub.add_parser(
        "convert",
        help="an image to near-isotropic (or exactly isotropic) OME-Zarr",
        description="Read an image (OME-Zarr, TIFF, NIfTI), make it near-isotropic "
        "(power-of-two blocks) or, with --isotropic or --spacing, resample it exactly, "
        "and write it as OME-Zarr (a pyramid by default). Its label images "
        "(labels/<name>) come along, reduced with mode (nearest on an exact grid). "
        "Writing is atomic: the output appears only when complete.",
    )
    conv.add_argument("input", metavar="IN", help=INPUTS)
    conv.add_argument("output", metavar="OUT", help="output OME-Zarr path or URL")
    conv.add_argument(
        "--method",
        choices=list(TABLE),
        help=f"near-isotropic blocks: {', '.join(names('block'))} (default mean); "
        f"exact grids: {', '.join(names('grid'))} (default area, nearest for labels)",
    )
    conv.add_argument(
        "--rounding",
        default=_DEFAULTS["rounding"],
        choices=("pow2", "int"),
        help="near-isotropic block factors: powers of two (pow2, the default) or any "
        "whole numbers (int)",
    )
    conv.add_argument(
        "--target",
        metavar="SPACING",
        help="near-isotropic target spacing, a number or a quantity like '2 um' "
        "(default: the coarsest spacing)",
    )
    conv.add_argument(
        "--boundary",
        default=_DEFAULTS["boundary"],
        choices=("trim", "exact"),
        help="samples at the end of a dim that do not fill a block: drop them with a "
        "warning (trim, the default) or refuse the input (exact). The Python API's pad "
        "leaves a partial last block, whose spacing OME-Zarr cannot describe",
    )
    exact = conv.add_mutually_exclusive_group()
    exact.add_argument(
        "--isotropic",
        action="store_true",
        help="resample exactly to the coarsest spacing instead of near-isotropic blocks",
    )
    exact.add_argument(
        "--spacing",
        metavar="SPACING",
        help="resample every spatial dim exactly to this spacing, e.g. '1 um' or 0.5 "
        "(a number is in the unit of the coarsest spatial axis)",
    )
    conv.add_argument(
        "--level", type=int, default=0, metavar="N", help="input level to read (default 0)"
    )
    conv.add_argument("--input-spacing", action="append", metavar="DIM=VALUE", help=INPUT_SPACING)
    conv.add_argument("--oblique", choices=("raise", "ignore"), help=OBLIQUE)
    group = conv.add_mutually_exclusive_group()
    group.add_argument(
        "--levels", type=int, metavar="N", help="number of pyramid levels (default: auto)"
    )
    group.add_argument("--no-pyramid", action="store_true", help="write one level only")
    conv.add_argument(
        "--min-size",
        type=int,
        default=32,
        metavar="N",
        help="smallest spatial length of a level (default 32)",
    )
    conv.add_argument(
        "--ngff-version",
        default="0.5",
        choices=("0.4", "0.5"),
        help="OME-Zarr version written (default 0.5, zarr v3; 0.4 is zarr v2)",
    )
    conv.add_argument(
        "--chunks",
        metavar="N",
        help="chunk edge of spatial dims (default: the largest power of two whose chunk "
        "holds at most 4 MiB, e.g. 128 for uint16 3-D)",
    )
    conv.add_argument(
        "--shards",
        default="auto",
        metavar="N|auto|none",
        help="zarr v3 shard edge of spatial dims, a whole multiple of the chunk edge, or "
        "'none' (one file per chunk) or 'auto' (default: shard an image of more than "
        "1024 chunks, shards of at most 64 MiB; NGFF 0.5 only)",
    )
    conv.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan (levels, shapes, spacing, chunks, shards, size, files) and "
        "write nothing",
    )
    conv.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output (only a zarr hierarchy or an empty folder)",
    )
    conv.add_argument(
        "--resume",
        action="store_true",
        help="pick up a killed or interrupted conversion of the same input with the same "
        "options: what it wrote whole is kept, the rest is written (without it, a dead "
        "conversion's hidden temporary is removed); `xiso info OUTPUT` shows one",
    )
    conv.add_argument("--storage-option", action="append", metavar="KEY=VALUE", help=STORAGE)
    conv.add_argument(
        "--scheduler", metavar="ADDRESS", help="address of a dask.distributed scheduler"
    )
    _progress_options(conv, quiet="no progress bar, no summary")
    conv.set_defaults(func=cmd_convert)
    return parser


def _command_option(parser: argparse.ArgumentParser) -> Callable[[Option], str | None]:
    """How the command words an :class:`~xiso.errors.Option` that a warning
    names: ``boundary='exact'`` is ``--boundary exact``; None where the command
    has no such option or value (the warning then leaves that clause out)."""
    actions = {a.dest: a for a in parser._actions if a.option_strings}

    def word(option: Option) -> str | None:
        action = actions.get(option.name) if option.name in _SAME_AS_PYTHON else None
        if action is None:
            return None
        flag = action.option_strings[-1]
        if option.value is None or option.value is True:
            return flag
        if action.choices is not None and option.value not in action.choices:
            return None
        return f"{flag} {shlex.quote(str(option.value))}"

    return word


@contextlib.contextmanager
def _one_line_warnings(parser: argparse.ArgumentParser) -> Iterator[None]:
    """xiso's warnings as one line each on stderr (``xiso: warning: ...``), not
    Python's two-line form that points into the installed script, and worded
    with the options of the command (``parser``), not Python's keywords."""
    word = _command_option(parser)
    with warnings.catch_warnings():
        original = warnings.showwarning

        def show(message: Any, category: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(message, xiso.XisoWarning):
                print(f"xiso: warning: {message.worded(word)}", file=sys.stderr)
            elif issubclass(category, xiso.XisoWarning):
                print(f"xiso: warning: {message}", file=sys.stderr)
            else:
                original(message, category, *args, **kwargs)

        warnings.showwarning = show
        yield


def _subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of one command (``convert``) of the ``xiso`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices[command]
    raise KeyError(command)  # pragma: no cover


def _exit_now(code: int) -> None:
    """End the command at once, after flushing what it printed.

    After Ctrl-C, Python's normal exit joins every worker thread, and one can be
    orphaned: a ``KeyboardInterrupt`` raised while ``ThreadPoolExecutor.submit``
    starts a worker (dask's threads, at the start of a computation) leaves that
    worker unregistered, so nothing tells it to stop and the exit waits for it
    forever. xiso's own clean-up (the hidden temporary of an interrupted write)
    has run by then, as the interrupt unwound; nothing is left to wait for.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _stdout_gone() -> None:
    """The reader of stdout has gone (``xiso info X | head -1``): send what is
    still buffered for it nowhere, so the flush at exit cannot fail again."""
    with contextlib.suppress(Exception):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def main(argv: Sequence[str] | None = None) -> int:
    args: argparse.Namespace | None = None
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        parser = _subparser(parser, args.command)  # its options word messages
        from .io.resume import COMMAND

        words = list(sys.argv[1:] if argv is None else argv)
        COMMAND.set(shlex.join(["xiso", *words, *([] if "--resume" in words else ["--resume"])]))
        with _one_line_warnings(parser):
            code = int(args.func(args))
        sys.stdout.flush()  # a closed pipe fails here, where it is handled below
        return code
    except KeyboardInterrupt:
        print("xiso: interrupted", file=sys.stderr)
        if argv is None:  # the command itself (tests and callers pass argv)
            _exit_now(130)
        return 130
    except BrokenPipeError:
        # as cat or grep, killed by SIGPIPE: quietly, with the status a shell
        # gives them (128 + 13), which `set -o pipefail` scripts already expect
        _stdout_gone()
        return 141
    except (xiso.XisoError, OSError) as err:
        if args is None:
            raise
        if args.debug or os.environ.get("XISO_DEBUG"):
            raise
        text = err.worded(_command_option(parser)) if isinstance(err, xiso.XisoError) else str(err)
        message = text.splitlines()[0] if text else err.__class__.__name__
        if isinstance(err, xiso.StoreExistsError) and "pass overwrite=True" in message:
            message = f"{message} (on the command line: --overwrite)"
        print(f"xiso: error: {message}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------
# docs/cli.md: the options of every command, generated from the parser
# --------------------------------------------------------------------------
BEGIN_OPTIONS = "<!-- options: generated by `python -m xiso.cli --markdown docs/cli.md` -->"
END_OPTIONS = "<!-- end of the generated options -->"


# choices shown in the option itself (``--rounding {pow2,int}``) up to this length
_INLINE_CHOICES = 16


def _inline_choices(action: argparse.Action) -> str | None:
    if action.choices is None or action.metavar is not None:
        return None
    text = "{" + ",".join(map(str, action.choices)) + "}"
    return text if len(text) <= _INLINE_CHOICES else None


def _invocation(action: argparse.Action) -> str:
    """``--method METHOD``, ``--rounding {pow2,int}``, ``--shape NZ NY NX``,
    ``--overwrite``, ``IN``."""
    metavar = action.metavar or _inline_choices(action) or action.dest.upper()
    value = " ".join(metavar) if isinstance(metavar, tuple) else str(metavar)
    if not action.option_strings:
        return value
    flag = ", ".join(action.option_strings)
    return flag if action.nargs == 0 else f"{flag} {value}"


def _option_rows(parser: argparse.ArgumentParser) -> list[str]:
    excludes: dict[argparse.Action, list[argparse.Action]] = {}
    for group in parser._mutually_exclusive_groups:
        for action in group._group_actions:
            excludes[action] = [a for a in group._group_actions if a is not action]
    rows = []
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        text = (action.help or "").replace("|", "\\|")
        if action.choices is not None and _inline_choices(action) is None:
            text += "; one of " + ", ".join(f"`{c}`" for c in action.choices)
        if action in excludes:
            text += "; not with " + " or ".join(
                f"`{a.option_strings[-1]}`" for a in excludes[action]
            )
        rows.append(f"| `{_invocation(action)}` | {text} |")
    return rows


def options_markdown(parser: argparse.ArgumentParser | None = None) -> str:
    """The options of ``xiso`` and of each of its commands, as Markdown tables.

    docs/cli.md holds this text between :data:`BEGIN_OPTIONS` and
    :data:`END_OPTIONS`; ``python -m xiso.cli --markdown docs/cli.md`` writes it
    there, and tests/test_cli.py checks that it is current.
    """
    parser = parser or build_parser()
    sections = [("xiso", "before the command", parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            sections += [(f"xiso {n}", "", sub) for n, sub in action.choices.items()]
    out = []
    for title, where, sub in sections:
        rows = _option_rows(sub)
        if title == "xiso":
            rows = [r for r in rows if "`COMMAND`" not in r]
        out += [f"### `{title}`" + (f" ({where})" if where else ""), ""]
        out += ["| option | what it does |", "|---|---|", *rows, ""]
    return "\n".join(out)


def with_current_options(doc: str) -> str:
    """``doc`` (the text of docs/cli.md) with its generated options rewritten."""
    head, begin, rest = doc.partition(BEGIN_OPTIONS)
    _, end, tail = rest.partition(END_OPTIONS)
    if not (begin and end):
        raise ValueError(f"docs/cli.md has no {BEGIN_OPTIONS!r} ... {END_OPTIONS!r} block")
    return f"{head}{begin}\n\n{options_markdown()}\n{end}{tail}"


if __name__ == "__main__":  # pragma: no cover
    if sys.argv[1:2] == ["--markdown"]:  # python -m xiso.cli --markdown docs/cli.md
        page = Path(sys.argv[2])
        page.write_text(with_current_options(page.read_text()))
        sys.exit(0)
    sys.exit(main())
