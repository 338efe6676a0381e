"""Array layer of upsampling: integer-factor upsampling of numpy and dask arrays.

This module knows nothing about labels. It takes an array and a mapping of
axis -> integer factor ``f`` and returns an array ``f`` times longer along
each such axis: every input sample ``i`` becomes ``f`` output samples at
input-index positions ``i + (k - (f - 1) / 2) / f``, ``k = 0 .. f - 1``, the
inverse grid of a block reduction by ``f`` (see :mod:`xiso.reduce`).

Methods
-------
``nearest``
    Repeats each sample ``f`` times; never invents a value (label images).
``linear``
    Interpolates between the two input samples around each output position;
    outside the first and last input sample the edge sample is kept (clamp),
    as ``scipy.ndimage.map_coordinates(x, ..., order=1, mode="nearest")``.
    Separable: one axis after the other. Floats are interpolated in float64;
    where the two neighbours are equal, or the position is an input sample
    (odd ``f``), the output is that sample, exactly. Integers are
    interpolated exactly: the weights are fractions over ``2 f`` per axis,
    and each output is the exact fraction, rounded once, half to even (the
    exact path of :mod:`xiso.interp`, on the plans of ``linear`` from
    :func:`xiso.grid.plan_axis`, whose cells split the input's evenly).

dtype policy
------------
As in :mod:`xiso.reduce`: the output dtype is the input dtype unless
``dtype`` is given; integer results are rounded to the nearest integer, ties
to even (the exact value for integer inputs), and clipped to the output range
(a float ``dtype`` returns the unrounded result); the output is in native byte
order.

Dask
----
``nearest`` maps over the chunks; ``linear`` maps over chunks that overlap
their neighbours by one sample along the upsampled axes (the edges of the
array are extended by their edge sample, as the numpy path pads them). Every
output sample comes from the same two input samples with the same float64
weights, so the result is bit-identical to numpy whatever the chunking.
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .errors import FactorError
from .grid import AxisPlan, plan_axis
from .interp import resample_array
from .methods import names, output_dtype
from .reduce import _cast, _is_dask

__all__ = ["UPSAMPLE_METHODS", "upsample_array"]

UPSAMPLE_METHODS = names("upsample")


def _offsets(f: int) -> list[float]:
    """The output positions of one input cell relative to its sample, in input samples."""
    return [(k - (f - 1) / 2) / f for k in range(f)]


def _linear_axis(xp: np.ndarray, axis: int, f: int) -> np.ndarray:
    """Upsample float64 ``xp``, padded by one sample at both ends of ``axis``,
    by ``f`` along ``axis``; the result has the unpadded length times ``f``."""
    n = xp.shape[axis] - 2

    def take(start: int) -> np.ndarray:
        index = [slice(None)] * xp.ndim
        index[axis] = slice(start, start + n)
        return xp[tuple(index)]

    prev, here, nxt = take(0), take(1), take(2)
    phases = []
    for d in _offsets(f):
        if d == 0:
            phases.append(here)
            continue
        # the neighbour on the side of the output position, weighted by |d|
        other = nxt if d > 0 else prev
        w = abs(d)
        mixed = here * (1.0 - w) + other * w
        phases.append(np.where(here == other, here, mixed))
    out = np.stack(phases, axis=axis + 1)
    shape = list(xp.shape)
    shape[axis] = n * f
    return out.reshape(shape)


@lru_cache(maxsize=64)
def _padded_plan(n: int, f: int) -> AxisPlan:
    """The plan of ``linear`` from ``n`` samples, the first and last of them
    padding, to the ``f`` cells that split each of the others evenly."""
    return plan_axis(n, (n - 2) * f, Fraction(1), Fraction(1, f), "linear")


def _linear_padded(xp: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype) -> np.ndarray:
    """Linear upsampling of ``xp``, padded by one sample at both ends of every
    axis whose factor is > 1 (and not at all along the others)."""
    cells = [n - 2 for n, f in zip(xp.shape, block) if f > 1]
    if xp.dtype.kind in "iu" and min(cells, default=0) > 0 and xp.size:
        # exactly, as resampling does integers
        plans = {a: _padded_plan(xp.shape[a], f) for a, f in enumerate(block) if f > 1}
        return resample_array(xp, plans, dtype=out_dtype)
    out = np.asarray(xp, dtype=np.float64)
    for axis, f in enumerate(block):
        if f > 1:
            out = _linear_axis(out, axis, f)
    if out_dtype.kind == "f":
        return out.astype(out_dtype)
    return _cast(out, out_dtype)


def _nearest(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype) -> np.ndarray:
    out = np.asarray(x)
    if not out.dtype.isnative:
        out = out.astype(out.dtype.newbyteorder("="))
    for axis, f in enumerate(block):
        if f > 1:
            out = np.repeat(out, f, axis=axis)
    out = _cast(out, out_dtype)
    return out.copy() if out is x else out


def upsample_array(
    x: Any, factors: Mapping[int, int], *, method: str = "linear", dtype: Any = None
) -> Any:
    """Upsample a numpy or dask array by integer factors.

    Parameters
    ----------
    x : numpy.ndarray or dask.array.Array
        The data.
    factors : mapping of int to int
        Axis -> factor >= 1. Missing axes (and factor 1) are left untouched.
    method : {"linear", "nearest"}, default "linear"
        See the module notes.
    dtype : dtype, optional
        Output dtype; defaults to the input dtype (the dtype policy of the
        module notes).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Same kind as ``x``; a dask input gives a lazy result.
    """
    out_dtype = output_dtype(x.dtype, method, "upsample", dtype)
    block = [1] * x.ndim
    for axis, factor in factors.items():
        if not isinstance(factor, (int, np.integer)) or isinstance(factor, bool) or factor < 1:
            raise FactorError(
                f"the factor of axis {axis} is {factor!r}; it must be an integer >= 1"
            )
        block[axis] = int(factor)
    block_t = tuple(block)
    axes = [a for a, f in enumerate(block_t) if f > 1]
    linear = method == "linear" and axes and 0 not in x.shape
    if not _is_dask(x):
        if not linear:
            return _nearest(x, block_t, out_dtype)
        pad = [(1, 1) if f > 1 else (0, 0) for f in block_t]
        return _linear_padded(np.pad(np.asarray(x), pad, mode="edge"), block_t, out_dtype)
    import dask.array as dsa

    out_chunks = tuple(tuple(c * f for c in cs) for cs, f in zip(x.chunks, block_t))
    meta = np.empty((0,) * x.ndim, dtype=out_dtype)
    if not linear:
        return dsa.map_blocks(
            _nearest, x, block_t, out_dtype, chunks=out_chunks, dtype=out_dtype, meta=meta
        )
    return dsa.map_overlap(
        partial(_linear_padded, block=block_t, out_dtype=out_dtype),
        x,
        depth={a: 1 if f > 1 else 0 for a, f in enumerate(block_t)},
        boundary={a: "nearest" if f > 1 else "none" for a, f in enumerate(block_t)},
        trim=False,
        align_arrays=False,
        chunks=out_chunks,
        dtype=out_dtype,
        meta=meta,
    )
