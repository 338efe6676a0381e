"""Array layer of exact resampling: numpy and dask arrays onto a new grid per axis.

This module knows nothing about labels or coordinates. It takes an array and,
per axis, an :class:`~xiso.grid.AxisPlan` (which input samples make each output
sample, with which weights) and returns the resampled array.

Methods
-------
``area``
    Each output sample is the average of the input over its cell, every input
    cell weighted by the length it shares with the output cell (separable).
    Integers of every type (64-bit ones included) are averaged exactly,
    whatever the ratios: the overlaps are whole multiples of a fraction of a
    cell, so each output is an exact fraction of integer sums, rounded once,
    half to even, as the block mean of :mod:`xiso.reduce` (where every
    resampled axis is a whole number of input cells per output cell, aligned
    with the input, :func:`xiso.reduce.block_reduce` computes it). The exact
    numerators are held in float32 or float64 while they stay below 2**23 or
    2**52 (a bound from the data's own range on numpy, from the dtype's on
    dask, whose data are not read early), else as int64 pairs (integer part and
    remainder), else, for products of denominators from 2**62 up, as Python
    integers (exact but slow); see :func:`_exact_work`.
    Floats are averaged in float64 and skip NaN as the block mean does: an
    output is the average of its non-NaN inputs, NaN only where all are NaN.
``nearest``
    The input sample whose cell holds the output centre; never invents a value.
``linear``, ``cubic``
    Interpolation at the output centres: linear between the two neighbouring
    samples (on integers, where no Gaussian is applied, exactly, as ``area``:
    its weights are fractions too), or the cubic B-spline through the samples
    (the spline coefficients are those of ``scipy.ndimage.spline_filter1d`` on
    the input padded with 12 edge samples, as ``scipy.ndimage.map_coordinates(
    ..., mode="nearest")`` computes them). Where an axis is reduced, the input is
    first smoothed along it by a Gaussian of ``sigma = (ratio - 1) / 2``
    samples (``scipy.ndimage.gaussian_filter1d``, edges by nearest), as
    scikit-image's ``resize`` does against aliasing. A NaN or inf input
    gives NaN in the outputs that reach it: linear's two neighbours (and its
    Gaussian); for cubic, whose prefilter is recursive, every output within
    about 40 samples (plus the Gaussian's radius) of it.

dtype policy
------------
As in :mod:`xiso.reduce`: the output dtype is the input dtype unless
``dtype`` is given; integer results are rounded to the nearest integer, ties
to even (from the exact value on the exact paths above, from float64
otherwise), and clipped to the output range; a float ``dtype`` returns the
unrounded result; the output is in native byte order.

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
import math
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
        steps.append(max(1, min(size, budget)))  # (an empty dim has no tiles)
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

    ``out_dtype`` is the dtype of this step's result. ``exact`` (integers through
    plans with exact weights: ``area``, unfiltered ``linear``) is the product of
    the denominators of the axes so far, this one included, and ``work`` says
    how the exact numerators are held between axes (see :func:`_exact_work`);
    ``final`` steps return them divided by ``exact`` in ``out_dtype`` (clipped to
    its range unless ``clip`` is False: an integer type that holds the input's).
    ``source`` is the input's dtype. ``exact`` 0: float64 arithmetic.
    """

    skipna: bool
    out_dtype: np.dtype
    exact: int = 0
    final: bool = True
    work: np.dtype = _FLOAT64
    clip: bool = True
    source: np.dtype = _FLOAT64


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
    integer = bool(exact) and work in (_PAIR, _OBJECT)
    matrix = sparse.csr_matrix(
        (
            weights.astype(np.int64 if integer else work if exact else np.float64),
            indices - (base - pad),
            indptr,
        ),
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
        if integer:  # exact integers, Python's or int64 pairs
            _integer_tile(pieces, matrix, plan.denominator, step, out_moved[(slice(None), *tile)])
            continue
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


def _exact_bound(dtype: np.dtype, plans: list[AxisPlan], largest: int | None = None) -> int:
    """The largest numerator the exact path can meet on ``dtype`` (0 if none),
    from the largest magnitude of the data (``largest``) or of ``dtype``; it is
    exact below :data:`_EXACT` (see :func:`_exact_result`)."""
    if dtype.kind not in "iu" or any(p.numerators is None for p in plans):
        return 0
    info = np.iinfo(dtype)
    bound = max(abs(int(info.min)), int(info.max)) if largest is None else max(1, largest)
    for p in plans:
        bound *= p.denominator
    return bound


# the exact paths of integers beyond :data:`_EXACT`: a value ``q + r / C`` (``C``
# the product of the denominators so far) as the pair of int64 ``q`` (the
# integer part, in the input's range: uint64 shifted by -2**63) and ``0 <= r < C``
# while every denominator is below 2**30 and ``C`` below 2**62, else Python integers
_PAIR = np.dtype([("q", np.int64), ("r", np.int64)])
_OBJECT = np.dtype(object)
_PAIR_DENOMINATOR = 2**30
_PAIR_PRODUCT = 2**62
_TOP = np.uint64(1 << 63)


def _exact_work(
    dtype: np.dtype, plans: list[AxisPlan], largest: int | None = None
) -> np.dtype | None:
    """How integers of ``dtype`` (of magnitude at most ``largest`` if given) are
    resampled exactly through ``plans`` (None: not at all, a float dtype or no
    exact weights): exact numerators in float32 or float64 below :data:`_EXACT`
    (the fastest), else int64 pairs (:data:`_PAIR`), else Python integers
    (:data:`_OBJECT`, the slowest)."""
    bound = _exact_bound(dtype, plans, largest)
    if not bound:
        return None
    work = next((w for w, top in _EXACT.items() if bound < top), None)
    if work is not None:
        return work
    dens = [p.denominator for p in plans]
    if max(dens) < _PAIR_DENOMINATOR and math.prod(dens) < _PAIR_PRODUCT:
        return _PAIR
    return _OBJECT


def _largest(x: Any) -> int | None:
    """The largest magnitude in a numpy integer array (None for dask, which is
    not computed here, and where there is nothing to read)."""
    if _is_dask(x) or x.dtype.kind not in "iu" or x.size == 0:
        return None
    return max(abs(int(x.min())), abs(int(x.max())))


def _integer_tile(
    pieces: list[np.ndarray], matrix: Any, c: int, step: _Step, out: np.ndarray
) -> None:
    """One tile of a step on the pairs or the Python integers: ``pieces`` (the
    input rows, one after the other) times the integer numerators of ``matrix``
    over ``c``, into ``out``: the next pairs (or numerators), or (``final``)
    the result."""
    if step.work == _OBJECT:
        x = np.concatenate(pieces, axis=0)
        num = _object_product(matrix, x.reshape(x.shape[0], -1).astype(object))
        out[...] = (_object_result(num, step) if step.final else num).reshape(out.shape)
        return
    q, r = _pair_parts(pieces, step.source)
    q, r = _pair_step(matrix, q, r, c, step.exact // c, step.source.itemsize == 8)
    if step.final:
        out[...] = _pair_result(q, r, step).reshape(out.shape)
    else:  # field by field: twice as fast as copying the pairs
        out["q"] = q.reshape(out.shape)
        out["r"] = r.reshape(out.shape)


def _pair_parts(pieces: list[np.ndarray], source: np.dtype) -> tuple[np.ndarray, np.ndarray | None]:
    """``(q, r)`` of the joined rows, 2-D; ``r`` None for the input itself."""
    if pieces[0].dtype == _PAIR:
        q = np.concatenate([p["q"] for p in pieces], axis=0)
        r = np.concatenate([p["r"] for p in pieces], axis=0)
        return q.reshape(q.shape[0], -1), r.reshape(r.shape[0], -1)
    x = np.concatenate(pieces, axis=0)
    x = x.reshape(x.shape[0], -1)
    if source.kind == "u" and source.itemsize == 8:  # x - 2**63, in int64
        return (x.astype(np.uint64) ^ _TOP).view(np.int64), None
    return x.astype(np.int64), None


def _pair_step(
    matrix: Any, q: np.ndarray, r: np.ndarray | None, c: int, prev: int, wide: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``(matrix @ (q + r / prev)) / c`` as the pair ``(q', r')`` over ``c * prev``.

    ``matrix @ q / c`` is divided exactly: the products stay below
    ``c * 2**32`` (``wide``: 64-bit values are split into halves of 32 bits),
    and the remainders (``b * prev + matrix @ r < 2 c prev``) below 2**63."""
    if wide:
        high, low = q >> 32, q & 0xFFFFFFFF
        a1, b1 = np.divmod(matrix @ high, c)
        a2, b = np.divmod((b1 << 32) + matrix @ low, c)
        q = (a1 << 32) + a2  # floor of an average: in the input's range
    else:
        q, b = np.divmod(matrix @ q, c)
    if r is None:
        return q, b
    r = b * prev + matrix @ r  # below 2 c prev: carries at most 1
    carry = r >= c * prev
    r -= carry * (c * prev)
    return q + carry, r


def _pair_result(q: np.ndarray, r: np.ndarray, step: _Step) -> np.ndarray:
    """``q + r / step.exact`` in ``step.out_dtype``: rounded half to even exactly."""
    den, shifted = step.exact, step.source.kind == "u" and step.source.itemsize == 8

    def unshift(v: np.ndarray) -> np.ndarray:
        return v.view(np.uint64) ^ _TOP if shifted else v

    if step.out_dtype.kind not in "iu":
        return _cast(unshift(q).astype(np.float64) + r / den, step.out_dtype)
    q = q + ((2 * r > den) | ((2 * r == den) & (q & 1 == 1)))
    return _cast(unshift(q), step.out_dtype) if step.clip else unshift(q).astype(step.out_dtype)


def _object_product(matrix: Any, x: np.ndarray) -> np.ndarray:
    """``matrix @ x`` for ``x`` of Python integers, exactly."""
    out = np.empty((matrix.shape[0], x.shape[1]), dtype=object)
    indptr, indices, data = matrix.indptr, matrix.indices, matrix.data
    for j in range(matrix.shape[0]):
        acc: Any = 0
        for k in range(indptr[j], indptr[j + 1]):
            acc = acc + int(data[k]) * x[indices[k]]
        out[j] = acc
    return out


def _object_result(num: np.ndarray, step: _Step) -> np.ndarray:
    """``num / step.exact`` (Python integers) in ``step.out_dtype``, rounded
    half to even exactly."""
    den = step.exact
    if step.out_dtype.kind not in "iu":
        return _cast((num / den).astype(np.float64), step.out_dtype)
    q, r = num // den, num % den
    q = q + ((2 * r > den) | ((2 * r == den) & (q % 2 == 1)))
    return _cast(q.astype(step.source.newbyteorder("=")), step.out_dtype)


def _out_chunks(plan: AxisPlan, chunks: tuple[int, ...]) -> list[tuple[int, int]]:
    """Output chunks along an axis: about one input chunk's worth of input each
    when reducing, input-sized chunks when enlarging."""
    size = max(chunks) if chunks else 1
    if plan.n_out < plan.n_in:
        size = max(1, round(size * plan.n_out / plan.n_in))
    count = -(-plan.n_out // size)  # as many chunks as that size needs, evenly split
    edges = [plan.n_out * k // count for k in range(count + 1)]
    return list(itertools.pairwise(edges))


def _axis_dask(
    x: Any, axis: int, plan: AxisPlan, step: _Step, out_chunks: tuple[int, ...] | None = None
) -> Any:
    import dask.array as dsa

    meta = np.empty((0,) * x.ndim, dtype=step.out_dtype)
    pieces = []
    index: list[Any] = [slice(None)] * x.ndim
    if out_chunks is None:
        edges = _out_chunks(plan, x.chunks[axis])
    else:  # (a chunk of no samples has no slab: dropped)
        edges = list(itertools.pairwise(itertools.accumulate(out_chunks, initial=0)))
    for start, stop in (e for e in edges if e[1] > e[0]):
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
    chunks: Mapping[int, tuple[int, ...]] | None = None,
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
    chunks : mapping of int to tuple of int, optional
        Dask only: the output chunks along some axes of ``plans`` (summing to
        the plan's ``n_out``); by default about an input chunk's worth of
        input each when reducing, input-sized chunks when enlarging.

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
    # integers through exact weights: exact integer numerators between axes, divided
    # at the last (see _exact_work); numpy data give the bound from their own range
    work = _exact_work(x.dtype, [active[a] for a in order], _largest(x))
    clip = not (out_dtype.kind in "iu" and np.can_cast(x.dtype, out_dtype))
    source, den = np.dtype(x.dtype), 1
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
            skipna,
            step_dtype,
            den if work is not None else 0,
            last,
            work or _FLOAT64,
            clip,
            source,
        )
        if _is_dask(x):
            x = _axis_dask(x, axis, plan, step, None if chunks is None else chunks.get(axis))
        else:
            x = _rows(np.asarray(x), axis, plan, 0, plan.n_out, 0, step)
    return x
