"""Multiscale pyramids as :class:`xarray.DataTree`, built from :mod:`xiso.blocks`.

Each level is computed from the previous one (so writing all levels in one
dask computation reads the source once) and stays lazy for dask input.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import xarray as xr

from ._docs import DIMS, SPACING, doc
from .blocks import reduce_checked
from .encodings import set_downscaling
from .errors import OptionError
from .labelled import check_factors, looks_like_labels, spacing_info
from .methods import default_method

__all__ = ["next_levels", "pyramid", "pyramid_factors"]


def pyramid_factors(
    spacing: Mapping[Hashable, float],
    sizes: Mapping[Hashable, int],
    *,
    levels: int | None = None,
    min_size: int = 32,
    near_isotropic: bool = True,
) -> list[dict[Hashable, int]]:
    """The factors taking each pyramid level to the next.

    Only a dim that keeps at least ``min_size`` samples is halved; the others
    go on without it. With ``near_isotropic=True`` a level halves every such
    dim whose spacing is finer than the coarsest divided by sqrt(2) (the
    finest dims first, until the volume is near-isotropic), and once none is,
    all of them together. Otherwise every level halves every dim that can be
    halved. The list stops after ``levels - 1`` steps, or when no dim can be
    halved: the last level has fewer than ``2 * min_size`` samples along every
    dim that had more than that.

    Examples
    --------
    >>> pyramid_factors({"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 256, "y": 256, "x": 256},
    ...                 min_size=32)
    [{'z': 2}, {'z': 2}, {'z': 2, 'y': 2, 'x': 2}, {'y': 2, 'x': 2}, {'y': 2, 'x': 2}]

    A thin slab keeps its 30 planes while y and x go on halving:

    >>> steps = pyramid_factors({"z": 1.0, "y": 1.0, "x": 1.0},
    ...                         {"z": 30, "y": 15000, "x": 15000})
    >>> len(steps), steps[0]
    (8, {'y': 2, 'x': 2})
    """
    if levels is not None and (not isinstance(levels, int) or levels < 1):
        raise OptionError(f"levels={levels!r}: pass a whole number >= 1 (or None)")
    if not isinstance(min_size, int) or min_size < 1:
        raise OptionError(f"min_size={min_size!r}: pass a whole number >= 1")
    step = dict(spacing)
    size = dict(sizes)
    steps: list[dict[Hashable, int]] = []
    while levels is None or len(steps) < levels - 1:
        can = [d for d in step if size[d] // 2 >= min_size]
        if not can:
            break
        coarsest = max(step.values())
        fine = [d for d in can if step[d] < coarsest / math.sqrt(2)] if near_isotropic else []
        halve = fine or can
        steps.append({d: 2 for d in halve})
        for d in halve:
            step[d] *= 2
            size[d] //= 2
    return steps


@doc(dims=DIMS, spacing=SPACING)
def pyramid(
    obj: xr.DataArray,
    *,
    levels: int | None = None,
    min_size: int = 32,
    method: str | None = None,
    near_isotropic: bool = True,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
) -> xr.DataTree:
    """A multiscale pyramid of ``obj`` as a DataTree with one node per level.

    Parameters
    ----------
    obj : DataArray
        Level "0"; numpy- or dask-backed.
    levels : int, optional
        Number of levels, level 0 included (default: as many as ``min_size``
        allows).
    min_size : int, default 32
        No spatial dim is halved below this many samples.
    method : str, optional
        Reduction of each step; default ``"mode"`` for what
        :func:`~xiso.labelled.looks_like_labels` (label images), else ``"mean"``.
    near_isotropic : bool, default True
        Halve the finest dims first until near-isotropic; False halves all
        spatial dims at every level.
    {dims}
    {spacing}

    Returns
    -------
    DataTree
        Children ``"0"``, ``"1"``, ... each holding the level as a Dataset
        with one variable named like ``obj`` (``"image"`` when unnamed).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((64, 64, 64), "uint8"), dims=("z", "y", "x"), name="img",
    ...                   coords={"z": np.arange(64) * 0.5, "y": np.arange(64.0),
    ...                           "x": np.arange(64.0)})
    >>> tree = pyramid(da, min_size=16)
    >>> [dict(tree[k]["img"].sizes) for k in tree.children]
    [{'z': 64, 'y': 64, 'x': 64}, {'z': 32, 'y': 64, 'x': 64}, {'z': 16, 'y': 32, 'x': 32},
     {'z': 16, 'y': 16, 'x': 16}]
    """
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"pyramid() takes a DataArray, got {type(obj).__name__}")
    info = spacing_info(obj, dims=dims, spacing=spacing)
    steps = pyramid_factors(
        info.common,
        {d: obj.sizes[d] for d in info.common},
        levels=levels,
        min_size=min_size,
        near_isotropic=near_isotropic,
    )
    if method is None:
        method = default_method("block", labels=looks_like_labels(obj))
    name = obj.name if obj.name is not None else "image"
    current = obj.rename(name).copy(deep=False)
    current.encoding = dict(obj.encoding)
    set_downscaling(current, method)  # writing the tree turns it into the NGFF type
    nodes = {"0": current.to_dataset()}
    for i, level in enumerate(next_levels(current, steps, method), start=1):
        nodes[str(i)] = level.to_dataset()
    return xr.DataTree.from_dict(nodes)


def next_levels(
    level: xr.DataArray, steps: Iterable[Mapping[Hashable, int]], method: str
) -> list[xr.DataArray]:
    """The levels after ``level``: each the previous one reduced with ``method``
    by the next factors of ``steps`` (as :func:`pyramid` makes them; a killed
    write resumes from a stored level with it)."""
    out = []
    current = level
    for factors in steps:
        # one task per chunk (no grouping): every level is read by the next and
        # by the writer, and 1:1 chains stream chunk by chunk (grouped tasks made
        # dask hold whole slabs of a level: 3.4x the extra memory for the full pyramid)
        checked = check_factors(current, factors, "trim")
        current = reduce_checked(
            current, checked, method=method, boundary="trim", dtype=None, skipna=None, group=False
        )
        set_downscaling(current, method)
        out.append(current)
    return out
