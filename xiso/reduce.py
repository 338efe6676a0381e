"""Array layer: block reductions on numpy and dask arrays.

This module knows nothing about labels.  It takes an array and a mapping of
axis -> integer factor and returns the block-reduced array.  A reduction is one
kernel function plus one entry in :data:`KERNELS`.

Kernels receive an array whose every axis length is a multiple of the block
size along that axis, and return the reduced array in the requested output
dtype.  The driver :func:`reduce_numpy` cuts an array whose last block is
partial into pieces of whole blocks, so kernels never see ragged blocks, and
:func:`block_reduce` maps the driver over dask chunks that have been aligned to
block boundaries, so the result does not depend on the input chunking.  Where
the outputs of single chunks would be small, one dask task reduces up to
``factor`` neighbouring chunks along each reduced axis into one output chunk
(without joining them first; see :func:`group_counts`).

dtype policy
------------
The output dtype is the input dtype unless ``dtype`` is given.  Integer means
and medians are computed exactly in a wider integer type and rounded to the
nearest integer, ties to even, then clipped to the output range; they are never
truncated and never go through a float64 copy of the input.  A float ``dtype``
returns the unrounded result.  Float inputs keep their precision (float16 is
accumulated in float32).  Float results cast to an integer ``dtype`` are
rounded half to even and clipped to its range (64-bit types too, exactly).  The
output is always in native byte order (``>u2`` in, ``uint16`` out), on numpy
and dask alike.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

import numpy as np

from .errors import DtypeError, OptionError
from .factors import check_factor
from .methods import names, output_dtype, parse_dtype

__all__ = [
    "BOUNDARIES",
    "KERNELS",
    "METHODS",
    "aligned_chunks",
    "block_reduce",
    "group_counts",
    "parse_dtype",
    "reduce_numpy",
]

BOUNDARIES = ("trim", "pad", "exact")

Kernel = Callable[[np.ndarray, tuple[int, ...], np.dtype, bool], np.ndarray]


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _blocked(x: np.ndarray, block: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """View ``x`` with every reduced axis split in two, (n, b); return the view
    and the positions of the block axes. Reducing over them gives the output.

    Splitting an axis in two never needs a copy, whatever the strides.
    """
    shape: list[int] = []
    axes: list[int] = []
    for n, b in zip(x.shape, block):
        if b > 1:
            shape += [n // b, b]
            axes.append(len(shape) - 1)
        else:
            shape.append(n)
    return x.reshape(shape), tuple(axes)


def _flat_blocks(x: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Copy ``x`` into shape (n0, n1, ..., k) with each block on the last axis."""
    xb, axes = _blocked(x, block)
    keep = [i for i in range(xb.ndim) if i not in axes]
    out_shape = (*tuple(n // b for n, b in zip(x.shape, block)), math.prod(block))
    return xb.transpose(keep + list(axes)).reshape(out_shape)


def _wide_int(dtype: np.dtype, count: int) -> np.dtype | None:
    """Smallest integer type that holds a sum of ``count`` values of ``dtype``."""
    if dtype.kind == "b":
        return np.dtype(np.uint32) if count < 2**32 else np.dtype(np.uint64)
    info = np.iinfo(dtype)
    # headroom of ``count`` for the rounding offset added in _round_div
    worst = max(abs(int(info.min)), int(info.max)) * count + count
    candidates = (np.int32, np.int64) if dtype.kind == "i" else (np.uint32, np.uint64)
    for cand in candidates:
        if worst <= np.iinfo(cand).max:
            return np.dtype(cand)
    return None


def _round_div(s: np.ndarray, n: int | np.ndarray) -> np.ndarray:
    """``s / n`` rounded to nearest, ties to even, in integer arithmetic.

    ``s`` is a fresh array (it may be modified in place).
    """
    if isinstance(n, int) and n & (n - 1) == 0:
        # power of two: floor((s + n/2 - 1 + odd(floor(s/n))) / n) by shifts,
        # which rounds half to even for either sign (shifts floor)
        k = n.bit_length() - 1
        if k == 0:
            return s
        odd = np.right_shift(s, k)
        np.bitwise_and(odd, 1, out=odd)  # in place: one temporary, not two
        s += n // 2 - 1
        s += odd
        s >>= k
        return s
    q, r = np.divmod(s, n)
    twice = r * 2
    up = (twice > n) | ((twice == n) & ((q & 1) == 1))
    return q + up.astype(q.dtype)


def _cast(a: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """Cast ``a`` to ``out_dtype``: floats to integers are rounded half to even
    and clipped, integers are clipped to the output range, never wrapped."""
    out_dtype = np.dtype(out_dtype)
    if a.dtype == out_dtype:
        return a
    if out_dtype.kind in "iu":
        info = np.iinfo(out_dtype)
        if a.dtype.kind == "f":
            if np.isnan(a).any():
                raise DtypeError(
                    f"the result holds NaN (e.g. a block of NaN only), which dtype {out_dtype} "
                    "cannot represent; fill it first (obj.fillna(0)) or keep a float dtype"
                )
            return _float_to_int(a, out_dtype)
        if a.dtype.kind in "iu":
            src = np.iinfo(a.dtype)
            lo, hi = max(int(info.min), int(src.min)), min(int(info.max), int(src.max))
            if lo > src.min or hi < src.max:
                a = np.clip(a, a.dtype.type(lo), a.dtype.type(hi))
    elif out_dtype.kind == "b" and a.dtype.kind != "b":
        return a != 0
    return a.astype(out_dtype)


def _float_to_int(a: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """Round float ``a`` half to even and clip it to the range of integer
    ``out_dtype`` exactly.

    ``float(iinfo.max)`` of a 64-bit type rounds up to ``2**63`` (``2**64``),
    outside the range, where the cast wraps. ``iinfo.max + 1`` is a power of
    two, exact in float: values from it up are set to ``iinfo.max`` after the
    cast, the rest are clipped below it first (the largest float below a power
    of two truncates to at most ``iinfo.max``).
    """
    info = np.iinfo(out_dtype)
    if a.dtype.itemsize < 8:  # 2**31 and up are out of float16's range
        a = a.astype(np.float64)
    a = np.rint(a)
    top = a.dtype.type(int(info.max) + 1)
    high = a >= top
    np.clip(a, a.dtype.type(info.min), np.nextafter(top, a.dtype.type(0)), out=a)
    out = a.astype(out_dtype)
    out[high] = info.max
    return out


def _quiet(func: Callable[..., np.ndarray], *args: Any, **kwargs: Any) -> np.ndarray:
    """Run a nan-aware numpy reduction without its all-NaN RuntimeWarning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return func(*args, **kwargs)


def _float_acc(dtype: np.dtype) -> np.dtype:
    return np.dtype(np.float32) if dtype.itemsize < 4 else dtype


# --------------------------------------------------------------------------
# kernels: (x, block, out_dtype, skipna) -> reduced array in out_dtype
# --------------------------------------------------------------------------
_ELEMENTWISE_MAX = 8  # last-axis factors up to this are combined elementwise


def _reduce_blocks(
    x: np.ndarray, block: tuple[int, ...], ufunc: np.ufunc, dtype: Any = None
) -> np.ndarray:
    """Reduce every block of ``x`` with ``ufunc``, one axis at a time, first to last.

    An axis other than the last is reduced with ``ufunc.reduce``, whose inner
    loop then runs along whole rows; the last axis, when reduced by at most 8,
    combines its ``b`` strided views elementwise (reducing a short innermost
    axis is ~10x slower; numpy sums fewer than 8 terms in order too, so this
    is as accurate); longer last-axis blocks keep ``ufunc.reduce`` and its
    pairwise float summation. The order depends only on the block shape, never
    on the chunk around it, so float results do not depend on the chunking.
    """
    out = x
    last = x.ndim - 1
    for ax, b in enumerate(block):
        if b == 1:
            continue
        v = out.reshape((*out.shape[:ax], out.shape[ax] // b, b, *out.shape[ax + 1 :]))
        if ax < last or b > _ELEMENTWISE_MAX:
            out = ufunc.reduce(v, axis=ax + 1, dtype=dtype)
        else:
            acc = np.array(v[..., 0], dtype=dtype or v.dtype)
            for k in range(1, b):
                ufunc(acc, v[..., k], out=acc)
            out = acc
    if out is x:  # no axis reduced: a copy, as from a reduction
        out = np.array(x, dtype=dtype or x.dtype)
    return out


_TOP_BIT = np.uint64(1 << 63)


def _mean_int64(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype) -> np.ndarray:
    """Exact block mean of 64-bit integers, with no overflow.

    Signed values are shifted to unsigned (offset binary, ``x + 2**63``); with
    ``u = q * n + r`` the mean is ``sum(q) + sum(r) / n`` where ``sum(q)``
    cannot exceed the dtype range and ``sum(r) < n * n``.
    """
    n = math.prod(block)
    signed = x.dtype.kind == "i"
    u = (x.view(np.uint64) ^ _TOP_BIT) if signed else x.astype(np.uint64, copy=False)
    q, r = np.divmod(u, np.uint64(n))
    carry, frac = np.divmod(_reduce_blocks(r, block, np.add, np.uint64), np.uint64(n))
    base = _reduce_blocks(q, block, np.add, np.uint64) + carry
    if out_dtype.kind == "f":
        whole = (base ^ _TOP_BIT).view(np.int64) if signed else base
        return (whole.astype(np.float64) + frac / n).astype(out_dtype)
    twice = frac * np.uint64(2)
    up = (twice > n) | ((twice == n) & ((base & np.uint64(1)) == 1))
    result = base + up.astype(np.uint64)
    return _cast((result ^ _TOP_BIT).view(np.int64) if signed else result, out_dtype)


def _sum_type(x: np.ndarray, n: int) -> np.dtype | None:
    """The type to sum blocks of ``n`` integers of ``x`` in: ``x``'s own type
    when its largest value allows (unsigned only, headroom for the rounding
    offset included), else the smallest wider one (None: 64-bit, no wider one).

    A 12-bit camera image in uint16 sums blocks of up to 15 in uint16: half the
    bytes of a uint32 sum, with the same exact result. Finding the largest
    value is one pass, a tenth of the sum's cost."""
    if x.dtype.kind == "u" and x.dtype.itemsize <= 2 and x.size:
        top = int(np.iinfo(x.dtype).max)
        if (int(x.max()) + 1) * n <= top:
            return x.dtype
    return _wide_int(x.dtype, n)


def _mean(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype, skipna: bool) -> np.ndarray:
    n = math.prod(block)
    if x.dtype.kind in "biu":
        acc = _sum_type(x, n)
        if acc is None:
            return _mean_int64(x, block, out_dtype)
        s = _reduce_blocks(x, block, np.add, acc)
        if out_dtype.kind == "f":
            return (s / n).astype(out_dtype)
        m = _round_div(s, n)
        if out_dtype.kind in "iu" and np.can_cast(x.dtype, out_dtype):
            # a mean rounded to the nearest integer lies between the smallest
            # and the largest value averaged: an output dtype that holds every
            # input value needs no clipping (_cast would clip, a full pass)
            return m.astype(out_dtype)
        return _cast(m, out_dtype)
    acc_f = _float_acc(x.dtype)
    m = _reduce_blocks(x, block, np.add, acc_f) / acc_f.type(n)
    if skipna and np.isnan(m).any():
        valid = ~np.isnan(x)
        total = _reduce_blocks(np.where(valid, x, 0), block, np.add, acc_f)
        count = _reduce_blocks(valid, block, np.add, np.intp)
        m = _quiet(np.true_divide, total, count.astype(acc_f))
    return _cast(np.asarray(m), out_dtype)


# integer blocks of up to this many samples take their median from a sorting
# network of elementwise min/max, larger ones (and floats) from np.partition
_MEDIAN_NETWORK_MAX = 16


def _sorted_samples(x: np.ndarray, block: tuple[int, ...]) -> list[np.ndarray]:
    """The block samples sorted elementwise (odd-even transposition network)."""
    values = _block_samples(x, block)
    k = len(values)
    for step in range(k):
        for i in range(step % 2, k - 1, 2):
            a, b = values[i], values[i + 1]
            values[i], values[i + 1] = np.minimum(a, b), np.maximum(a, b)
    return values


def _median(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype, skipna: bool) -> np.ndarray:
    k = math.prod(block)
    if x.dtype.kind in "biu" and 1 < k <= _MEDIAN_NETWORK_MAX:
        ordered = _sorted_samples(x, block)
        if k % 2:
            return _cast(ordered[k // 2], out_dtype)
        lo, hi = ordered[k // 2 - 1], ordered[k // 2]
        return _median_of_pair(lo, hi, out_dtype)
    v = _flat_blocks(x, block)
    if x.dtype.kind == "f":
        m = np.median(v, axis=-1)
        if skipna and np.isnan(m).any():
            m = _quiet(np.nanmedian, v, axis=-1)
        return _cast(np.asarray(m).astype(x.dtype), out_dtype)
    if k % 2:
        mid = np.partition(v, k // 2, axis=-1)[..., k // 2]
        return _cast(mid, out_dtype)
    p = np.partition(v, [k // 2 - 1, k // 2], axis=-1)
    return _median_of_pair(p[..., k // 2 - 1], p[..., k // 2], out_dtype)


def _median_of_pair(lo: np.ndarray, hi: np.ndarray, out_dtype: np.dtype) -> np.ndarray:
    """The median of an even integer block from its two middle values."""
    if out_dtype.kind == "f":
        base, odd = _floor_midpoint(lo, hi)
        return _cast(base.astype(np.float64) + odd.astype(np.float64) / 2, out_dtype)
    return _cast(_midpoint(lo, hi), out_dtype)


def _floor_midpoint(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``floor((lo + hi) / 2)`` and whether ``lo + hi`` is odd, for integers with
    ``lo <= hi``, without overflow: ``hi - lo < 2**64`` always fits in uint64
    (two's complement wraps correctly)."""
    diff = hi.astype(np.uint64) - lo.astype(np.uint64)
    base = (lo.astype(np.uint64) + (diff >> np.uint64(1))).astype(lo.dtype)
    return base, (diff & np.uint64(1)) == 1


def _midpoint(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``(lo + hi) / 2`` for integers with ``lo <= hi``, rounded half to even,
    exact and overflow-free for every integer dtype (64-bit included)."""
    acc = _wide_int(lo.dtype, 2)
    if acc is not None:
        return _round_div(lo.astype(acc) + hi.astype(acc), 2)
    base, odd = _floor_midpoint(lo, hi)
    return base + (odd & ((base & 1) == 1)).astype(lo.dtype)


def _extreme(func: np.ufunc, nanfunc: np.ufunc) -> Kernel:
    """min or max: ``func`` propagates NaN, ``nanfunc`` (fmin/fmax) skips it
    (a block of only NaN stays NaN)."""

    def kernel(
        x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype, skipna: bool
    ) -> np.ndarray:
        r = _reduce_blocks(x, block, func)
        if skipna and x.dtype.kind == "f" and np.isnan(r).any():
            r = _reduce_blocks(x, block, nanfunc)
        return _cast(np.asarray(r), out_dtype)

    return kernel


# blocks of up to this many samples use pairwise counting, larger ones a sort
_MODE_PAIRWISE_MAX = 16


def _mode(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype, skipna: bool) -> np.ndarray:
    """Most frequent value in each block; ties go to the smallest value."""
    if math.prod(block) <= _MODE_PAIRWISE_MAX and x.dtype.kind in "biu":
        return _cast(_mode_pairwise(x, block), out_dtype)
    s = np.sort(_flat_blocks(x, block), axis=-1)
    k = s.shape[-1]
    run = np.ones(s.shape, dtype=np.int32)
    for i in range(1, k):
        same = s[..., i] == s[..., i - 1]
        run[..., i] = np.where(same, run[..., i - 1] + 1, 1)
    # the first position reaching the longest run ends the run of the smallest
    # most-frequent value, because s is sorted ascending
    best = np.argmax(run, axis=-1)[..., None]
    return _cast(np.take_along_axis(s, best, axis=-1)[..., 0], out_dtype)


def _block_samples(x: np.ndarray, block: tuple[int, ...]) -> list[np.ndarray]:
    """The k samples of every block as k arrays of the output shape.

    They are strided views of ``x``, except where the last axis is reduced:
    its samples are first copied apart (one pass), so that every array is
    contiguous along its last axis (elementwise work on interleaved samples
    is several times slower).
    """
    parts = [x]
    if block[-1] > 1:
        b = block[-1]
        split = x.reshape((*x.shape[:-1], x.shape[-1] // b, b))
        parts = list(np.ascontiguousarray(np.moveaxis(split, -1, 0)))
        block = (*block[:-1], 1)
    samples = []
    for part in parts:
        xb, axes = _blocked(part, block)
        for offsets in itertools.product(*(range(xb.shape[a]) for a in axes)):
            index: list[Any] = [slice(None)] * xb.ndim
            for a, o in zip(axes, offsets):
                index[a] = o
            samples.append(xb[tuple(index)])
    return samples


def _mode_pairwise(x: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """Mode of small integer blocks by counting equal pairs, without a sort.

    Each sample's count is the number of samples equal to it, found with
    k (k - 1) / 2 vectorised comparisons of the block samples (see
    :func:`_block_samples`). The winner has the highest count, then the
    smallest value.
    """
    samples = _block_samples(x, block)
    counts = [np.ones(samples[0].shape, dtype=np.uint8) for _ in samples]
    for i, j in itertools.combinations(range(len(samples)), 2):
        equal = samples[i] == samples[j]
        counts[i] += equal
        counts[j] += equal
    best = samples[0].copy()
    best_count = counts[0]
    for value, count in zip(samples[1:], counts[1:]):
        better = (count > best_count) | ((count == best_count) & (value < best))
        np.copyto(best, value, where=better)
        np.copyto(best_count, count, where=better)
    return best


def _nearest(
    x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype, skipna: bool
) -> np.ndarray:
    """The sample at offset (b - 1) // 2 of each block."""
    index = tuple(slice((b - 1) // 2, None, b) for b in block)
    return _cast(x[index].copy(), out_dtype)  # a copy even with blocks of 1


KERNELS: dict[str, Kernel] = {
    "mean": _mean,
    "median": _median,
    "min": _extreme(np.minimum, np.fmin),
    "max": _extreme(np.maximum, np.fmax),
    "mode": _mode,
    "nearest": _nearest,
}
METHODS = names("block")  # the table of methods (xiso.methods) has one entry per kernel


# --------------------------------------------------------------------------
# drivers
# --------------------------------------------------------------------------
# Inputs larger than this are reduced slab by slab, so that the temporaries
# of a slab stay in the CPU cache and come from the heap (large ones are fresh
# pages that fault on every use); extra memory is the output plus one slab.
SLAB_BYTES = 2**19


def _reduce_pieces(
    x: np.ndarray, block: tuple[int, ...], kernel: Kernel, out_dtype: np.dtype, skipna: bool
) -> np.ndarray:
    """Apply ``kernel`` to the whole-block pieces of ``x`` and reassemble them.

    Kernels see native byte order only (a slab of big-endian input is copied
    first): their bit tricks, such as viewing int64 as uint64, rely on it.
    """
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    parts: list[list[tuple[slice, int]]] = []
    for n, b in zip(x.shape, block):
        full = n // b * b
        segs = [(slice(0, full), b)] if full else []
        if n > full:
            segs.append((slice(full, n), n - full))
        parts.append(segs)
    if all(len(p) == 1 for p in parts):
        return kernel(x, tuple(p[0][1] for p in parts), out_dtype, skipna)
    pieces = {}
    for combo in itertools.product(*(range(len(p)) for p in parts)):
        index = tuple(parts[ax][i][0] for ax, i in enumerate(combo))
        sub = tuple(parts[ax][i][1] for ax, i in enumerate(combo))
        pieces[combo] = kernel(x[index], sub, out_dtype, skipna)

    def assemble(prefix: tuple[int, ...]) -> np.ndarray:
        ax = len(prefix)
        if ax == x.ndim:
            return pieces[prefix]
        items = [assemble((*prefix, i)) for i in range(len(parts[ax]))]
        return items[0] if len(items) == 1 else np.concatenate(items, axis=ax)

    return assemble(())


def reduce_numpy(
    x: np.ndarray,
    block: tuple[int, ...],
    method: str,
    out_dtype: np.dtype,
    skipna: bool,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Reduce every axis of ``x`` by ``block``, the last block being partial
    where the length is not a multiple (it is reduced over its valid samples).

    ``out``, if given, receives the result (it must have the output shape and
    dtype) and is returned."""
    kernel = KERNELS[method]
    x = np.asarray(x)
    out_shape = tuple(-(-n // b) for n, b in zip(x.shape, block))
    if out is None:
        if 0 not in x.shape and x.nbytes <= SLAB_BYTES:
            return _reduce_pieces(x, block, kernel, out_dtype, skipna)
        out = np.empty(out_shape, dtype=out_dtype)
    if 0 in x.shape:
        return out
    _reduce_slabs(x, block, kernel, out_dtype, skipna, out, 0)
    return out


def _reduce_group(
    parts: list[np.ndarray],
    counts: tuple[int, ...],
    block: tuple[int, ...],
    method: str,
    out_dtype: np.dtype,
    skipna: bool,
) -> np.ndarray:
    """Reduce a group of neighbouring chunks (``parts``, in C order over a grid
    of ``counts`` chunks per axis) into one output array, without joining the
    inputs first."""
    grid = np.empty(counts, dtype=object)
    for index, part in zip(itertools.product(*map(range, counts)), parts):
        grid[index] = np.asarray(part)
    edges = []
    for axis, b in enumerate(block):
        corner = [0] * len(counts)
        sizes = []
        for i in range(counts[axis]):
            corner[axis] = i
            sizes.append(-(-grid[tuple(corner)].shape[axis] // b))
        edges.append(np.cumsum([0, *sizes]).tolist())
    out = np.empty(tuple(e[-1] for e in edges), dtype=out_dtype)
    for index in itertools.product(*map(range, counts)):
        where = tuple(slice(e[i], e[i + 1]) for e, i in zip(edges, index))
        reduce_numpy(grid[index], block, method, out_dtype, skipna, out=out[where])
    return out


def _reduce_slabs(
    x: np.ndarray,
    block: tuple[int, ...],
    kernel: Kernel,
    out_dtype: np.dtype,
    skipna: bool,
    out: np.ndarray,
    axis: int,
) -> None:
    """Reduce ``x`` into ``out`` in block-aligned slabs of about SLAB_BYTES,
    cutting along ``axis`` and, where one output row is still too large, along
    the next axes too."""
    n_out = out.shape[axis]
    row_bytes = x.nbytes / n_out
    lead = (slice(None),) * axis
    b = block[axis]
    if row_bytes > SLAB_BYTES and axis + 1 < x.ndim:
        for i in range(n_out):
            _reduce_slabs(
                x[(*lead, slice(i * b, (i + 1) * b))],
                block,
                kernel,
                out_dtype,
                skipna,
                out[(*lead, slice(i, i + 1))],
                axis + 1,
            )
        return
    rows = max(1, int(SLAB_BYTES // row_bytes))
    for start in range(0, n_out, rows):
        stop = min(start + rows, n_out)
        out[(*lead, slice(start, stop))] = _reduce_pieces(
            x[(*lead, slice(start * b, stop * b))], block, kernel, out_dtype, skipna
        )


def aligned_chunks(chunks: tuple[int, ...], factor: int) -> tuple[int, ...]:
    """Chunk sizes along one axis whose boundaries fall on block boundaries.

    Chunks that are already multiples of ``factor`` (but for the last) are
    kept; otherwise the axis is re-cut into chunks of about the largest input
    chunk, rounded to a multiple of ``factor`` (at least ``factor``).
    """
    if factor == 1 or all(c % factor == 0 for c in chunks[:-1]):
        return chunks
    total = sum(chunks)
    target = max(factor, round(max(chunks) / factor) * factor)
    out = [target] * (total // target)
    if total % target:
        out.append(total % target)
    return tuple(out)


def _is_dask(x: Any) -> bool:
    return type(x).__module__.startswith("dask.")


def block_reduce(
    x: Any,
    factors: Mapping[int, int],
    *,
    method: str = "mean",
    boundary: str = "trim",
    dtype: Any = None,
    skipna: bool | None = None,
    group: bool | Mapping[int, int] = True,
) -> Any:
    """Block-reduce a numpy or dask array.

    Parameters
    ----------
    x : numpy.ndarray or dask.array.Array
        The data.
    factors : mapping of int to int
        Axis -> factor. Missing axes (and factor 1) are left untouched.
    method : {"mean", "median", "min", "max", "mode", "nearest"}
        The reduction; see the module notes for the dtype policy.
    boundary : {"trim", "pad", "exact"}
        What to do with trailing samples that do not fill a block: drop them,
        reduce them as a partial block, or refuse.
    dtype : dtype, optional
        Output dtype; defaults to the input dtype.
    skipna : bool, optional
        Ignore NaN in float data (default True for floats, as xarray does).
    group : bool or mapping of int to int, default True
        Dask only: let one task reduce several neighbouring chunks when their
        outputs would be small (see :func:`group_counts`). False keeps one task
        per input chunk, which streams best where every level of a chain of
        reductions is also stored (pyramids). A mapping gives the number of
        chunks per task along each axis (missing axes: 1), so that variables
        reduced alike get the same output chunks.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Same kind as ``x``; a dask input gives a lazy result.
    """
    if boundary not in BOUNDARIES:
        raise OptionError(f"boundary={boundary!r} is not supported; use one of {BOUNDARIES!r}")
    out_dtype = output_dtype(x.dtype, method, "block", dtype)
    block = [1] * x.ndim
    for axis, factor in factors.items():
        block[axis] = check_factor(factor, f"axis {axis}", x.shape[axis], boundary)
    block_t = tuple(block)
    if skipna is None:
        skipna = np.dtype(x.dtype).kind == "f"
    if boundary == "trim":
        x = x[tuple(slice(0, n // b * b) for n, b in zip(x.shape, block_t))]
    func = partial(reduce_numpy, block=block_t, method=method, out_dtype=out_dtype, skipna=skipna)
    if not _is_dask(x):
        return func(x)
    import dask.array as dsa
    from dask.base import tokenize

    x = x.rechunk(tuple(aligned_chunks(c, b) for c, b in zip(x.chunks, block_t)))
    if isinstance(group, Mapping):
        counts = tuple(
            max(1, min(int(group.get(axis, 1)), n)) if b > 1 else 1
            for axis, (n, b) in enumerate(zip(x.numblocks, block_t))
        )
    elif group:
        counts = group_counts(x.chunks, block_t, x.dtype.itemsize, out_dtype.itemsize)
    else:
        counts = (1,) * x.ndim
    name = f"xiso-{method}-" + tokenize(x, block_t, method, str(out_dtype), skipna, counts)
    meta = np.empty((0,) * x.ndim, dtype=out_dtype)
    # one output chunk per group of ``n`` input chunks (n = 1: per input chunk)
    out_chunks = tuple(
        tuple(sum(-(-c // b) for c in cs[i : i + n]) for i in range(0, len(cs), n))
        for cs, b, n in zip(x.chunks, block_t, counts)
    )
    if all(c == 1 for c in counts):
        return dsa.map_blocks(func, x, chunks=out_chunks, dtype=out_dtype, meta=meta, name=name)
    return _grouped(x, counts, out_chunks, block_t, method, out_dtype, skipna, name, meta)


# one task reduces neighbouring chunks until its output reaches this size: numpy
# backs arrays of 4 MiB and more with transparent huge pages, smaller outputs
# fault in 4 KiB at a time (slow on VMs), and each costs a task
GROUP_OUTPUT_BYTES = 2**22


def group_counts(
    chunks: tuple[tuple[int, ...], ...],
    block: tuple[int, ...],
    itemsize: int,
    out_itemsize: int | None = None,
    *,
    target: int = GROUP_OUTPUT_BYTES,
    limit: int | None = None,
) -> tuple[int, ...]:
    """How many neighbouring input chunks one task reduces, per axis.

    Along reduced axes, the count doubles (never beyond the factor or the
    number of chunks) while the task's output is smaller than ``target``
    bytes and its input stays within ``limit`` (dask's ``array.chunk-size``).
    Chunks whose output is already ``target`` bytes are not grouped.
    """
    import dask
    from dask.utils import parse_bytes

    if limit is None:
        limit = parse_bytes(dask.config.get("array.chunk-size"))
    if out_itemsize is None:
        out_itemsize = itemsize
    largest = [max(cs, default=0) for cs in chunks]
    counts = [1] * len(chunks)
    caps = [min(b, len(cs)) if b > 1 else 1 for cs, b in zip(chunks, block)]

    def nbytes(sizes: list[int], size: int) -> int:
        return math.prod(sizes) * size

    while True:
        out = [-(-n // b) * c for n, b, c in zip(largest, block, counts)]
        growable = [a for a in range(len(counts)) if counts[a] < caps[a]]
        if nbytes(out, out_itemsize) >= target or not growable:
            break
        axis = min(growable, key=lambda a: counts[a])
        trial = list(counts)
        trial[axis] = min(2 * counts[axis], caps[axis])
        if nbytes([n * c for n, c in zip(largest, trial)], itemsize) > limit:
            break
        counts = trial
    return tuple(counts)


def _grouped(
    x: Any,
    counts: tuple[int, ...],
    out_chunks: tuple[tuple[int, ...], ...],
    block: tuple[int, ...],
    method: str,
    out_dtype: np.dtype,
    skipna: bool,
    name: str,
    meta: np.ndarray,
) -> Any:
    """A dask array whose every chunk reduces a group of ``counts`` input chunks."""
    from dask.array.core import Array
    from dask.highlevelgraph import HighLevelGraph

    starts = [range(0, n, c) for n, c in zip(x.numblocks, counts)]
    dsk: dict[Any, Any] = {}
    for out_index, first in zip(
        itertools.product(*(range(len(s)) for s in starts)), itertools.product(*starts)
    ):
        spans = [range(f, min(f + c, n)) for f, c, n in zip(first, counts, x.numblocks)]
        keys = [(x.name, *index) for index in itertools.product(*spans)]
        size = tuple(len(s) for s in spans)
        dsk[(name, *out_index)] = (_reduce_group, keys, size, block, method, out_dtype, skipna)
    graph = HighLevelGraph.from_collections(name, dsk, dependencies=[x])
    return Array(graph, name, out_chunks, meta=meta)
