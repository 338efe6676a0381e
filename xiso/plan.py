"""The plan of an OME-Zarr write: what :func:`xiso.to_ome_zarr` will write, before any work.

A :class:`Plan` is data: one :class:`LevelPlan` per level (shape, spacing with
units, chunks, shards, bytes, stored objects, method), computed from the
image's sizes, spacing and dtype alone. Nothing is computed and no dask graph
is built, so a lazy 2 TiB image plans in milliseconds. :func:`to_ome_zarr`
takes its levels' factors and its layout from the same functions, so what the
plan says is what is written.
"""

from __future__ import annotations

import html
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import xarray as xr

from .axes import axis_role
from .errors import OptionError
from .layout import Layout, choose_layout, count_objects, level_chunks
from .pyramid import pyramid_factors

__all__ = ["LevelPlan", "Plan", "Spacing", "layout_of", "plan", "pyramid_method"]

# to_ome_zarr's options that do not change what is written where (accepted by plan())
_NO_LAYOUT = ("compressor", "overwrite", "storage_options", "progress", "labels", "resume")


class Spacing(NamedTuple):
    """A spacing with its unit (None when the coordinate has none)."""

    value: float
    unit: str | None

    def __str__(self) -> str:
        return f"{self.value:g} {_unit_symbol(self.unit)}".rstrip()


def _unit_symbol(unit: str | None) -> str:
    if unit is None:
        return ""
    from .units import symbol

    return symbol(unit)


@dataclass(frozen=True)
class LevelPlan:
    """One level of a :class:`Plan`.

    Attributes
    ----------
    path : str
        The level's array path in the image group ("0", "1", ...).
    shape : dict
        Size of every dim.
    spacing : dict
        :class:`Spacing` (value and unit) of every spatial dim.
    chunks : tuple of int
        Chunk shape, in the dims' order.
    shards : tuple of int or None
        Shard shape (zarr v3 sharding), or None for one object per chunk.
    nbytes : int
        Uncompressed size.
    files : int
        Stored objects at most: shards, or chunks without shards (chunks that
        hold only the fill value are not written).
    method : str or None
        The reduction that made this level from the previous one (None for
        level 0 and for levels given as they are).
    factors : dict
        The factor of each dim over the previous level (empty for level 0).
    """

    path: str
    shape: dict[Hashable, int]
    spacing: dict[Hashable, Spacing]
    chunks: tuple[int, ...]
    shards: tuple[int, ...] | None
    nbytes: int
    files: int
    method: str | None
    factors: dict[Hashable, int]


@dataclass(frozen=True)
class Plan:
    """What :func:`xiso.to_ome_zarr` writes for an image: its levels, layout and totals.

    ``str(plan)`` is a table for the terminal, and a notebook shows it as an
    HTML table. ``plan.levels`` holds one :class:`LevelPlan` per level.
    """

    name: str
    dims: tuple[Hashable, ...]
    dtype: np.dtype
    version: str
    layout: Layout
    levels: tuple[LevelPlan, ...]

    @property
    def nbytes(self) -> int:
        """Uncompressed bytes of every level."""
        return sum(level.nbytes for level in self.levels)

    @property
    def files(self) -> int:
        """Stored objects of every level, at most (metadata files not counted)."""
        return sum(level.files for level in self.levels)

    def _rows(self) -> tuple[list[str], list[list[str]], list[str]]:
        header = ["level", "shape", "spacing", "chunks", "shards", "size", "files", "method"]
        rows = [
            [
                level.path,
                " x ".join(str(n) for n in level.shape.values()),
                " x ".join(str(s) for s in level.spacing.values()),
                " x ".join(map(str, level.chunks)),
                " x ".join(map(str, level.shards)) if level.shards else "-",
                format_bytes(level.nbytes),
                f"{level.files:,}",
                level.method or "-",
            ]
            for level in self.levels
        ]
        total = ["total", "", "", "", "", format_bytes(self.nbytes), f"{self.files:,}", ""]
        return header, rows, total

    def _title(self) -> str:
        dims = ", ".join(map(str, self.dims))
        sharded = "sharded" if self.layout.shards else "unsharded"
        return (
            f"OME-Zarr {self.version} plan for {self.name!r}: {self.dtype}, dims ({dims}), "
            f"{len(self.levels)} level{'s' * (len(self.levels) != 1)}, {sharded}"
        )

    def __str__(self) -> str:
        header, rows, total = self._rows()
        table = [header, *rows, total]
        widths = [max(len(r[i]) for r in table) for i in range(len(header))]
        right = {5, 6}  # size, files

        def line(row: list[str]) -> str:
            cells = [
                c.rjust(w) if i in right else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            ]
            return "  ".join(cells).rstrip()

        rule = "  ".join("-" * w for w in widths)
        return "\n".join([self._title(), line(header), rule, *map(line, rows), rule, line(total)])

    def __repr__(self) -> str:
        return f"<xiso.Plan>\n{self}"

    def _repr_html_(self) -> str:
        header, rows, total = self._rows()

        def cells(row: list[str], tag: str) -> str:
            return "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in row)

        body = "".join(f"<tr>{cells(r, 'td')}</tr>" for r in rows)
        return (
            f"<div><p><b>{html.escape(self._title())}</b></p><table>"
            f"<thead><tr>{cells(header, 'th')}</tr></thead><tbody>{body}</tbody>"
            f"<tfoot><tr>{cells(total, 'th')}</tr></tfoot></table></div>"
        )


def format_bytes(nbytes: float) -> str:
    """A size for people: ``"512 B"``, ``"4.0 MiB"``, ``"2.0 TiB"`` (binary units).

    >>> format_bytes(4 * 2**20), format_bytes(100)
    ('4.0 MiB', '100 B')
    """
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{int(nbytes)} B" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # pragma: no cover


def pyramid_method(method: str | None, as_label: bool) -> str:
    """The reduction of a written pyramid: ``mode`` for a label image and
    ``mean`` otherwise by default; a label image takes only ``mode`` or ``nearest``."""
    from .methods import default_method, names

    if method is None:
        return default_method("block", labels=as_label)
    if method not in names("block"):
        raise OptionError(f"method={method!r} is not one of {tuple(names('block'))!r}")
    if as_label and method not in ("mode", "nearest"):
        raise OptionError(
            f"method={method!r} would invent labels in the levels of a label image; "
            "use method='mode' (the default for label images) or 'nearest'"
        )
    return method


def _roles(da: xr.DataArray) -> list[str | None]:
    return [axis_role(d, da.coords[d].attrs if d in da.coords else {}) for d in da.dims]


def layout_of(
    da: xr.DataArray, *, chunks: Any = None, shards: Any = "auto", version: str = "0.5"
) -> Layout:
    """The chunk and shard shape of every level of an image whose level 0 is ``da``
    (see :mod:`xiso.layout` for the rule)."""
    return choose_layout(
        da.shape,
        np.dtype(da.dtype).itemsize,
        da.dims,
        _roles(da),
        chunks=chunks,
        shards=shards,
        version=version,
    )


def _level(
    path: str,
    dims: Sequence[Hashable],
    shape: Sequence[int],
    spacing: Mapping[Hashable, Spacing],
    layout: Layout,
    itemsize: int,
    method: str | None,
    factors: Mapping[Hashable, int],
) -> LevelPlan:
    return LevelPlan(
        path=path,
        shape=dict(zip(dims, shape)),
        spacing=dict(spacing),
        chunks=level_chunks(layout, shape),
        shards=layout.shards,
        nbytes=itemsize * math.prod(shape),
        files=count_objects(layout, shape),
        method=method,
        factors=dict(factors),
    )


def plan(
    obj: xr.DataArray | xr.DataTree,
    *,
    pyramid: bool = True,
    levels: int | None = None,
    version: str = "0.5",
    chunks: Any = None,
    shards: Any = "auto",
    method: str | None = None,
    min_size: int = 32,
    label: bool | None = None,
    **options: Any,
) -> Plan:
    """What :func:`xiso.to_ome_zarr` would write for ``obj`` with these options.

    Takes the options of :func:`xiso.to_ome_zarr`; those that do not change
    what is written (``compressor``, ``overwrite``, ``storage_options``,
    ``progress``, ``labels``) are accepted and ignored. Nothing is computed:
    a lazy image of any size plans from its sizes, spacing and dtype.

    Parameters
    ----------
    obj : DataArray or DataTree
        An image (its pyramid is planned as :func:`xiso.pyramid` would make
        it), or a pyramid whose levels are written as they are.
    pyramid, levels, version, chunks, shards, method, min_size, label
        As in :func:`xiso.to_ome_zarr`.

    Returns
    -------
    Plan
        ``plan.levels``: one :class:`LevelPlan` per level; ``plan.nbytes``
        and ``plan.files``: the totals; ``print(plan)``: a table.

    Examples
    --------
    A lazy 4 TiB acquisition, planned without computing anything:

    >>> import dask.array as dsa, numpy as np, xarray as xr, xiso
    >>> big = xr.DataArray(dsa.zeros((8192, 16384, 16384), dtype="uint16", chunks=512),
    ...                    dims=("z", "y", "x"), name="acquisition",
    ...                    coords={d: (d, np.arange(n) * s, {"units": "micrometer"}) for d, n, s
    ...                            in [("z", 8192, 0.25), ("y", 16384, 1.0), ("x", 16384, 1.0)]})
    >>> p = xiso.plan(big)
    >>> len(p.levels), p.layout
    (12, Layout(chunks=(128, 128, 128), shards=(256, 256, 512)))
    >>> p.levels[0].files, str(p.levels[2].spacing["z"]), p.levels[2].method
    (65536, '1 µm', 'mean')
    >>> print(xiso.plan(big[:128, :256, :256], min_size=64))
    OME-Zarr 0.5 plan for 'acquisition': uint16, dims (z, y, x), 4 levels, unsharded
    level  shape            spacing                chunks           shards       size  files  method
    -----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
    0      128 x 256 x 256  0.25 µm x 1 µm x 1 µm  128 x 128 x 128  -        16.0 MiB      4  -
    1      64 x 256 x 256   0.5 µm x 1 µm x 1 µm   64 x 128 x 128   -         8.0 MiB      4  mean
    2      64 x 128 x 128   0.5 µm x 2 µm x 2 µm   64 x 128 x 128   -         2.0 MiB      1  mean
    3      64 x 64 x 64     0.5 µm x 4 µm x 4 µm   64 x 64 x 64     -       512.0 KiB      1  mean
    -----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
    total                                                                    26.5 MiB     10
    """
    unknown = sorted(set(options) - set(_NO_LAYOUT))
    if unknown:
        raise TypeError(f"plan() got an unexpected keyword argument {unknown[0]!r}")
    if version not in ("0.4", "0.5"):
        raise OptionError(f"version={version!r} is not supported; use one of ('0.5', '0.4')")
    if isinstance(obj, xr.DataTree):
        return _plan_tree(obj, version=version, chunks=chunks, shards=shards)
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"plan() takes a DataArray or DataTree, got {type(obj).__name__}")
    from .labelled import spacing_info

    as_label = ("image-label" in obj.attrs) if label is None else bool(label)
    method = pyramid_method(method, as_label)
    info = spacing_info(obj)
    steps = (
        pyramid_factors(
            info.common,
            {d: obj.sizes[d] for d in info.common},
            levels=levels,
            min_size=min_size,
        )
        if pyramid
        else []
    )
    layout = layout_of(obj, chunks=chunks, shards=shards, version=version)
    itemsize = np.dtype(obj.dtype).itemsize
    shape = dict(obj.sizes)
    step = dict(info.native)
    out = []
    for i, factors in enumerate([{}, *steps]):
        for d, f in factors.items():
            shape[d] //= f
            step[d] *= f
        out.append(
            _level(
                str(i),
                obj.dims,
                [shape[d] for d in obj.dims],
                {d: Spacing(step[d], info.units[d]) for d in info.native},
                layout,
                itemsize,
                method if i else None,
                factors,
            )
        )
    name = str(obj.name) if obj.name is not None else "image"
    return Plan(name, obj.dims, np.dtype(obj.dtype), version, layout, tuple(out))


def _plan_tree(tree: xr.DataTree, *, version: str, chunks: Any, shards: Any) -> Plan:
    from .io.write import levels_of, split_labels  # the levels to_ome_zarr writes
    from .labelled import spacing_info

    pairs = levels_of(split_labels(tree)[0])
    base = pairs[0][1]
    layout = layout_of(base, chunks=chunks, shards=shards, version=version)
    itemsize = np.dtype(base.dtype).itemsize
    out = []
    previous: xr.DataArray | None = None
    for path, da in pairs:
        info = spacing_info(da)
        factors = (
            {}
            if previous is None
            else {
                d: round(previous.sizes[d] / da.sizes[d])
                for d in da.dims
                if da.sizes[d] and previous.sizes[d] != da.sizes[d]
            }
        )
        out.append(
            _level(
                path,
                da.dims,
                da.shape,
                {d: Spacing(info.native[d], info.units[d]) for d in info.native},
                layout,
                itemsize,
                None,
                factors,
            )
        )
        previous = da
    name = str(base.name) if base.name is not None else "image"
    return Plan(name, base.dims, np.dtype(base.dtype), version, layout, tuple(out))
