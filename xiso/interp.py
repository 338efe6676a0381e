"""Array layer of exact resampling: numpy and dask arrays onto a new grid per axis.

This module knows nothing about labels or coordinates. It takes an array and,
per axis, an :class:`~xiso.grid.AxisPlan` (which input samples make each output
sample, with which weights) and returns the resampled array.

Methods
-------
``area``
    Each output sample is the average of the input over its cell, every input
    cell weighted by the length it shares with the output cell (separable).
    Integers are averaged exactly: the overlaps are whole multiples of a
    fraction of a cell, so each output is an exact fraction of integer sums,
    rounded once, half to even (as the block mean of :mod:`xiso.reduce`;
    integer types up to 32 bits always, 64-bit ones while the sums stay below
    2**52, beyond which they are averaged in float64; where
    every resampled axis is a whole number of input cells per output cell,
    aligned with the input, :func:`xiso.reduce.block_reduce` computes it).
    Floats are averaged in float64 and skip NaN as the block mean does: an
    output is the average of its non-NaN inputs, NaN only where all are NaN.
``nearest``
    The input sample whose cell holds the output centre; never invents a value.
``linear``, ``cubic``
    Interpolation at the output centres: linear between the two neighbouring
    samples, or the cubic B-spline through the samples (the spline
    coefficients are those of ``scipy.ndimage.spline_filter1d`` on the input
    padded with 12 edge samples, as ``scipy.ndimage.map_coordinates(...,
    mode="nearest")`` computes them). Where an axis is reduced, the input is
    first smoothed along it by a Gaussian of ``sigma = (ratio - 1) / 2``
    samples (``scipy.ndimage.gaussian_filter1d``, edges by nearest), as
    scikit-image's ``resize`` does against aliasing. A NaN or inf input
    gives NaN in the outputs that reach it: linear's two neighbours (and its
    Gaussian); for cubic, whose prefilter is recursive, every output within
    about 40 samples (plus the Gaussian's radius) of it.

dtype policy
------------
As in :mod:`xiso.reduce`: the output dtype is the input dtype unless
``dtype`` is given; integer results are rounded from float64 to the nearest
integer, ties to even, and clipped to the output range; a float ``dtype``
returns the unrounded result; the output is in native byte order.

Dask
----
Each output chunk along a resampled axis is computed from the slice of input
samples it needs (its weights' span, plus the prefilters' margin), joined into
one piece along that axis. Every output sample is the same sum of the same
products in the same order whatever the chunking, so ``area``, ``nearest`` and
``linear`` give bit-identical results on numpy and on any chunking; ``cubic``
(whose spline prefilter is recursive) agrees to the last bits of float64.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .grid import AxisPlan
from .methods import names, output_dtype
from .reduce import _cast, _is_dask, block_reduce

__all__ = ["RESAMPLE_METHODS", "resample_array"]

RESAMPLE_METHODS = names("grid")

# scipy.ndimage.map_coordinates pads by this many edge samples before the
# spline prefilter with mode="nearest"
_SPLINE_PAD = 12

# the float work is done in tiles of about this many elements (2 MiB in float32):
# large enough that the per-tile calls cost little, small enough for the caches
TILE_ELEMENTS = 2**19

_FLOAT64 = np.dtype(np.float64)


def _tiles(shape: tuple[int, ...], budget: int) -> list[tuple[slice, ...]]:
    """Slices cutting ``shape`` into tiles of at most about ``budget`` elements
    (whole last dims first, so tiles are as contiguous as they can be)."""
    steps = []
    for size in reversed(shape):
        steps.append(min(size, max(1, budget)))
        budget //= max(1, size)
    steps.reverse()
    ranges = [range(0, size, step) for size, step in zip(shape, steps)]
    return [
        tuple(slice(i, min(i + step, size)) for i, step, size in zip(corner, steps, shape))
        for corner in itertools.product(*ranges)
    ]


@dataclass(frozen=True)
class _Step:
    """How one axis is resampled, besides its plan.

    ``out_dtype`` is the dtype of this step's result. ``exact`` (``area`` on
    integers) is the product of the denominators of the axes so far, this one
    included: the result is their integer numerators (in ``work``, float32 or
    float64, exact below :data:`_EXACT`), or (``final``) the numerators divided
    by ``exact`` in ``out_dtype`` (clipped to its range unless ``clip`` is
    False: an integer type that holds the input's). 0: float64 arithmetic.
    """

    skipna: bool
    out_dtype: np.dtype
    exact: int = 0
    final: bool = True
    work: np.dtype = _FLOAT64
    clip: bool = True


def _rows(
    slab: np.ndarray | list[np.ndarray],
    axis: int,
    plan: AxisPlan,
    start: int,
    stop: int,
    base: int,
    step: _Step,
) -> np.ndarray:
    """Outputs ``start:stop`` of ``plan`` along ``axis`` from ``slab``, which holds
    input samples ``base .. base + slab.shape[axis] - 1`` along it, as ``step``
    says. ``slab`` may be a list of arrays that follow each other along ``axis``
    (dask chunks): they are joined tile by tile, never as a whole.

    The work is done tile by tile (the whole slab along ``axis``, about
    :data:`TILE_ELEMENTS` elements in all), so the float64 temporaries stay in
    the CPU cache; each output sample is computed from its own inputs only, so
    the tiling does not change it."""
    parts = slab if isinstance(slab, list) else [slab]
    exact, work, out_dtype = step.exact, step.work, step.out_dtype
    indptr, indices, weights = plan.rows(start, stop, exact=bool(exact))
    if plan.method == "nearest":
        whole = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=axis)
        return _cast(np.take(whole, indices - base, axis=axis), out_dtype)
    from scipy import ndimage, sparse

    pad = _SPLINE_PAD if plan.method == "cubic" else 0
    rows = sum(p.shape[axis] for p in parts) + 2 * pad
    matrix = sparse.csr_matrix(
        (weights.astype(work if exact else np.float64), indices - (base - pad), indptr),
        shape=(stop - start, rows),
    )
    reach = (np.empty(0, np.int64), np.empty(0, np.int64))
    if pad:  # each output's input rows, margin included, local to this slab
        first = indices[indptr[:-1]] - base - plan.margin
        last = indices[indptr[1:] - 1] - base + plan.margin + 1
        size = rows - 2 * pad
        reach = (np.clip(first, 0, size), np.clip(last, 0, size))
    moved = [np.moveaxis(p, axis, 0) for p in parts]
    shape = list(parts[0].shape)
    shape[axis] = stop - start
    out = np.empty(shape, dtype=out_dtype)
    out_moved = np.moveaxis(out, axis, 0)
    for tile in _tiles(moved[0].shape[1:], TILE_ELEMENTS // max(1, rows)):
        # the tile of every part, joined and converted in one copy
        pieces = [m[(slice(None), *tile)] for m in moved]
        tile_shape = pieces[0].shape[1:]
        x = np.concatenate(pieces, axis=0, dtype=work if exact else np.float64)
        x = x.reshape(x.shape[0], -1)
        if exact:  # integer numerators, exact in ``work``
            res = np.asarray(matrix @ x)
            if step.final:
                res = _exact_result(res, exact, out_dtype, step.clip)
            out_moved[(slice(None), *tile)] = res.reshape((stop - start, *tile_shape))
            continue
        # cubic's recursive prefilter would carry a NaN or inf along the whole line
        # (and so differ by chunking): they are zeroed here, and the outputs that
        # reach them (within the prefilters' margin) are NaN below
        bad = ~np.isfinite(x) if pad else None
        if bad is not None and bad.any():
            x = np.where(bad, 0.0, x)
        else:
            bad = None
        if plan.sigma > 0:
            x = ndimage.gaussian_filter1d(x, plan.sigma, axis=0, mode="nearest", truncate=4.0)
        if pad:
            x = np.pad(x, ((pad, pad), (0, 0)), mode="edge")
            x = ndimage.spline_filter1d(x, 3, axis=0, mode="nearest", output=np.float64)
        missing = np.isnan(x) if step.skipna and plan.method == "area" else None
        if missing is not None and missing.any():
            res = np.asarray(matrix @ np.where(missing, 0.0, x))
            some = np.asarray(matrix @ missing.astype(np.float64)) > 0
            valid = np.asarray(matrix @ (~missing).astype(np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                res[some] = res[some] / valid[some]
        else:
            res = np.asarray(matrix @ x)
        if bad is not None:
            res[_reaches(bad, reach)] = np.nan
        out_moved[(slice(None), *tile)] = _cast(res, out_dtype).reshape((stop - start, *tile_shape))
    return out


def _reaches(bad: np.ndarray, reach: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Which outputs (rows) have a ``bad`` input row within their reach ``[lo, hi)``."""
    counts = np.concatenate([np.zeros((1, bad.shape[1]), np.int64), np.cumsum(bad, axis=0)])
    lo, hi = reach
    return (counts[hi] - counts[lo]) > 0


def _rows_of_blocks(*parts: np.ndarray, **options: Any) -> np.ndarray:
    """:func:`_rows` on the chunks of a dask slab, one after the other along the axis."""
    return _rows(list(parts), **options)


# the exact path of area: work dtype -> numerators must stay below this
_EXACT: dict[np.dtype, int] = {np.dtype(np.float32): 2**23, np.dtype(np.float64): 2**52}


def _exact_result(num: np.ndarray, den: int, out_dtype: np.dtype, clip: bool) -> np.ndarray:
    """``num / den`` in ``out_dtype``, for float ``num`` holding integers below
    :data:`_EXACT` of its dtype: integers rounded half to even exactly.

    With a ``p``-bit significand the quotient is correctly rounded, within
    ``num / den * 2**-p`` of the exact one, closer than ``1 / (2 den)`` for
    ``num`` below ``2**(p - 1)``; an exact fraction ``m / den`` that is not a
    tie is at least that far from one, so rounding the float quotient rounds
    the exact fraction, and ties are exact floats."""
    if out_dtype.kind not in "iu":  # a float dtype asked for: the unrounded quotient
        return _cast(num.astype(np.float64) / den, out_dtype)
    q = num / num.dtype.type(den)
    if not clip:
        # an average of values of an integer type that ``out_dtype`` holds: in its
        # range, and rint of a quotient below 2**(p - 1) is exact
        return np.rint(q, out=q).astype(out_dtype)
    return _cast(q, out_dtype)


def _exact_bound(dtype: np.dtype, plans: list[AxisPlan]) -> int:
    """The largest numerator the exact path can meet on ``dtype`` (0 if none);
    it is exact below :data:`_EXACT` (see :func:`_exact_result`)."""
    if dtype.kind not in "iu" or any(p.numerators is None for p in plans):
        return 0
    info = np.iinfo(dtype)
    bound = max(abs(int(info.min)), int(info.max))
    for p in plans:
        bound *= p.denominator
    return bound


def _out_chunks(plan: AxisPlan, chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    """Output chunks along an axis: about one input chunk's worth of input each
    when reducing, input-sized chunks when enlarging."""
    size = max(chunks) if chunks else 1
    if plan.n_out < plan.n_in:
        size = max(1, round(size * plan.n_out / plan.n_in))
    count = -(-plan.n_out // size)  # as many chunks as that size needs, evenly split
    edges = [plan.n_out * k // count for k in range(count + 1)]
    return list(itertools.pairwise(edges))


def _axis_dask(x: Any, axis: int, plan: AxisPlan, step: _Step) -> Any:
    import dask.array as dsa

    meta = np.empty((0,) * x.ndim, dtype=step.out_dtype)
    pieces = []
    index: list[Any] = [slice(None)] * x.ndim
    for start, stop in _out_chunks(plan, x.chunks[axis]):
        lo, hi = plan.span(start, stop)
        index[axis] = slice(lo, hi)
        slab = x[tuple(index)]
        # the slab's chunks along the axis, each a dask array of one chunk there
        parts = [slab.blocks[(slice(None),) * axis + (k,)] for k in range(slab.numblocks[axis])]
        chunks = list(slab.chunks)
        chunks[axis] = (stop - start,)
        pieces.append(
            dsa.map_blocks(
                _rows_of_blocks,
                *parts,
                axis=axis,
                plan=plan,
                start=start,
                stop=stop,
                base=lo,
                step=step,
                chunks=tuple(chunks),
                dtype=step.out_dtype,
                meta=meta,
                token=f"xiso-resample-{plan.method}",
            )
        )
    return pieces[0] if len(pieces) == 1 else dsa.concatenate(pieces, axis=axis)


def resample_array(
    x: Any,
    plans: Mapping[int, AxisPlan],
    *,
    dtype: Any = None,
    skipna: bool | None = None,
) -> Any:
    """Resample a numpy or dask array along each axis of ``plans``.

    Parameters
    ----------
    x : numpy.ndarray or dask.array.Array
        The data.
    plans : mapping of int to AxisPlan
        Axis -> plan (from :func:`xiso.grid.plan_axis`), all of one method.
        Missing axes are left untouched.
    dtype : dtype, optional
        Output dtype; defaults to the input dtype (the dtype policy of the
        module notes).
    skipna : bool, optional
        ``area`` only: average the non-NaN inputs (default True for floats).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Same kind as ``x``; a dask input gives a lazy result.
    """
    methods = {p.method for p in plans.values()}
    if len(methods) > 1:
        raise ValueError(f"one method per call, got {sorted(methods)}")
    method = methods.pop() if methods else "nearest"
    out_dtype = output_dtype(x.dtype, method, "grid", dtype)
    for axis, plan in plans.items():
        if x.shape[axis] != plan.n_in:
            raise ValueError(f"axis {axis} has {x.shape[axis]} samples, the plan {plan.n_in}")
    active = {a: p for a, p in plans.items() if not p.identity}
    skipna = x.dtype.kind == "f" if skipna is None else skipna
    blocks = {a: p.block for a, p in active.items()} if method == "area" else {}
    if active and blocks and all(b is not None for b in blocks.values()):
        index = [slice(None)] * x.ndim
        for a, b in blocks.items():
            assert b is not None
            index[a] = slice(b[0], b[0] + active[a].n_out * b[1])
        factors = {a: b[1] for a, b in blocks.items() if b is not None}
        return block_reduce(x[tuple(index)], factors, method="mean", dtype=out_dtype, skipna=skipna)
    # most reducing axis first: later axes work on less data
    order = sorted(active, key=lambda a: (active[a].n_out / active[a].n_in, a))
    if not order:
        return (
            x.map_blocks(_cast, out_dtype, dtype=out_dtype)
            if _is_dask(x)
            else _cast(np.array(x), out_dtype)
        )
    # area on integers: exact integer numerators between axes, divided at the last;
    # in float32 where they stay below 2**23 (half the memory traffic), else float64
    bound = _exact_bound(x.dtype, [active[a] for a in order]) if method == "area" else 0
    work = next((w for w, top in _EXACT.items() if 0 < bound < top), None)
    clip = not (out_dtype.kind in "iu" and np.can_cast(x.dtype, out_dtype))
    den = 1
    for i, axis in enumerate(order):
        plan = active[axis]
        last = i == len(order) - 1
        step_dtype: np.dtype
        if work is not None:
            den *= plan.denominator
            step_dtype = out_dtype if last else work
        else:
            # float64 between axes; the last axis (and nearest, which never computes) casts
            step_dtype = out_dtype if last or method == "nearest" else _FLOAT64
        step = _Step(
            skipna, step_dtype, den if work is not None else 0, last, work or _FLOAT64, clip
        )
        if _is_dask(x):
            x = _axis_dask(x, axis, plan, step)
        else:
            x = _rows(np.asarray(x), axis, plan, 0, plan.n_out, 0, step)
    return x
