"""Independent references for the tests: plain numpy, scipy and Python
arithmetic (integers, ``fractions.Fraction``), never xiso.

- block reductions (``blocks``, ``reduce``, the label levels): reshape + a
  per-block reduction in exact arithmetic, :func:`block_reference`;
- exact grids (``resample``, ``isotropic``, ``resample_like``): the grid
  formula, and ``area`` as the overlap of every output cell with every input
  cell in fractions, :func:`area_reference`;
- upsampling: the grid of spacing ``s / f``, ``np.repeat`` for ``nearest``,
  scipy for ``linear`` on floats and the same interpolation in fractions for
  integers, :func:`exact_linear`.
"""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
from scipy import ndimage


# --------------------------------------------------------------------------
# exact rationals
# --------------------------------------------------------------------------
def round_half_even(value) -> int:
    """``value`` (an int or a Fraction) rounded half to even, exactly."""
    value = Fraction(value)
    fl = value.numerator // value.denominator
    rem = value - fl
    return fl + 1 if rem > Fraction(1, 2) or (rem == Fraction(1, 2) and fl % 2) else fl


def rounded(values):
    """:func:`round_half_even` of every element of an object array."""
    return np.vectorize(round_half_even, otypes=[object])(values)


def is_tie(f: Fraction) -> bool:
    """Whether ``f`` is ``k + 1/2``."""
    return f - f.numerator // f.denominator == Fraction(1, 2)


# --------------------------------------------------------------------------
# block reductions
# --------------------------------------------------------------------------
def block_values(x: np.ndarray, block, boundary):
    """Independent reference helper: (output shape, [(output index, valid values
    of the block)]) by reshape + mask, for the block reductions under test."""
    x = np.asarray(x)
    nd = x.ndim
    if boundary == "trim":
        x = x[tuple(slice(0, n // b * b) for n, b in zip(x.shape, block))]
    out_shape = tuple(-(-n // b) for n, b in zip(x.shape, block))
    pad = [(0, (-n) % b) for n, b in zip(x.shape, block)]
    xp = np.pad(x, pad) if x.dtype.kind != "U" else np.pad(x, pad, constant_values="")
    valid = np.pad(np.ones(x.shape, dtype=bool), pad, constant_values=False)
    split = []
    for n, b in zip(xp.shape, block):
        split += [n // b, b]
    order = [2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)]
    k = math.prod(block)
    xb = xp.reshape(split).transpose(order).reshape((*out_shape, k))
    vb = valid.reshape(split).transpose(order).reshape((*out_shape, k))
    return out_shape, [(idx, xb[idx][vb[idx]]) for idx in np.ndindex(*out_shape)]


def nearest_index(n, b, boundary):
    """The sample ``nearest`` keeps of each block of ``b`` of ``n``: the middle
    one of the samples there are (the lower of two)."""
    m = -(-n // b) if boundary == "pad" else n // b
    out = []
    for j in range(m):
        r = min(b, n - j * b)
        out.append(j * b + (r - 1) // 2)
    return np.array(out, dtype=np.intp)


def finish(value, out_dtype: np.dtype):
    """An exact block result (int, Fraction, or float/NaN) as a scalar of
    ``out_dtype``: integers are rounded half to even and clipped (bool:
    nonzero)."""
    if out_dtype.kind == "f":
        return float(value)
    r = round(value)  # Fraction/int round: half to even, exact
    if out_dtype.kind == "b":
        return r != 0
    info = np.iinfo(out_dtype)
    return min(max(r, int(info.min)), int(info.max))


def _integer_block(vals: np.ndarray, method: str) -> Fraction:
    ints = [int(v) for v in vals.tolist()]
    n = len(ints)
    if method == "mean":
        return Fraction(sum(ints), n)
    if method == "median":
        s = sorted(ints)
        if n % 2:
            return Fraction(s[n // 2])
        return Fraction(s[n // 2 - 1] + s[n // 2], 2)
    if method == "min":
        return Fraction(min(ints))
    if method == "max":
        return Fraction(max(ints))
    if method == "mode":
        counts = Counter(ints)
        best = max(counts.values())
        return Fraction(min(v for v, c in counts.items() if c == best))
    raise AssertionError(method)


def _float_block(vals: np.ndarray, method: str, skipna: bool) -> float:
    v = [float(a) for a in vals.astype(np.float64).tolist()]
    if method == "mode":
        counts = Counter(v)
        best = max(counts.values())
        return min(a for a, c in counts.items() if c == best)
    nan = [a for a in v if math.isnan(a)]
    if nan and not skipna:
        return math.nan
    v = [a for a in v if not math.isnan(a)]
    if not v:
        return math.nan
    n = len(v)
    if method == "mean":
        return math.fsum(v) / n
    if method == "median":
        s = sorted(v)
        return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
    if method == "min":
        return min(v)
    if method == "max":
        return max(v)
    raise AssertionError(method)


def block_reference(x, factors, method="mean", boundary="trim", dtype=None, skipna=None):
    """Block reduction written from the spec with reshape + reduce: ``factors``
    by axis, the dtype policy included (integers and bools exactly, in Python
    integers and fractions; floats skip NaN by default, ``mode`` never does)."""
    x = np.asarray(x)
    block = [int(factors.get(a, 1)) for a in range(x.ndim)]
    out_dtype = np.dtype(x.dtype if dtype is None else dtype)
    if skipna is None:
        skipna = x.dtype.kind == "f"
    if method == "nearest":
        index = [nearest_index(n, b, boundary) for n, b in zip(x.shape, block)]
        return x[np.ix_(*index)].astype(out_dtype)
    out_shape, items = block_values(x, block, boundary)
    values = []
    for _, vals in items:
        if x.dtype.kind in "biu":
            exact = _integer_block(vals, method)
        else:
            exact = _float_block(vals, method, skipna)
        values.append(finish(exact, out_dtype))
    if out_dtype.kind == "f":
        return np.array(values, dtype=np.float64).reshape(out_shape).astype(out_dtype)
    return np.array(values, dtype=out_dtype).reshape(out_shape)


# --------------------------------------------------------------------------
# exact grids
# --------------------------------------------------------------------------
def ref_grid(n, s, c0, s_new):
    """(n', first centre) from the issue's formula, in floats."""
    length = n * s
    n_new = max(1, round(length / s_new))
    if abs(length / s_new - (n_new - 0.5)) < 1e-9 and n_new > 1:  # a tie goes to the smaller
        n_new -= 1
    first = c0 - s / 2 + (length - n_new * s_new) / 2 + s_new / 2
    return n_new, first


def frac(x):
    """The fraction a ratio is read as: the nearest with a denominator of at most
    10**5, or 10**5 * ceil(1 / x) below 1 (the rule of xiso.grid's notes)."""
    return Fraction(x).limit_denominator(10**5 * max(1, math.ceil(1 / x)))


def overlap_matrix(n, n_new, ratio, start):
    """Fractions: W[j, i] = |output cell j ∩ input cell i| / ratio, outer cells infinite."""
    w = [[Fraction(0)] * n for _ in range(n_new)]
    for j in range(n_new):
        lo = start + j * ratio
        hi = lo + ratio
        for i in range(n):
            left = Fraction(i) if i > 0 else Fraction(-(10**12))
            right = Fraction(i + 1) if i < n - 1 else Fraction(10**12)
            ov = min(hi, right) - max(lo, left)
            if ov > 0:
                w[j][i] = ov / ratio
    return w


def area_reference(x, axes):
    """Exact area resampling: axes = {axis: (n_new, ratio, start)} (Fractions)."""
    out = x.astype(object)
    for axis, (n_new, ratio, start) in axes.items():
        w = overlap_matrix(out.shape[axis], n_new, ratio, start)
        moved = np.moveaxis(out, axis, 0)
        rows = [sum((wi * moved[i] for i, wi in enumerate(row) if wi), Fraction(0)) for row in w]
        out = np.moveaxis(np.array(rows, dtype=object), 0, axis)
    return out


def centred(n, s, s_new):
    """(n_new, ratio, start) of the centred grid, in input cells (Fractions)."""
    ratio = frac(s_new / s)
    n_new, _ = ref_grid(n, s, 0.0, s_new)
    return n_new, ratio, (n - n_new * ratio) / 2


def out_positions(n, s_new_over_s, exact=False):
    """Output centres in input-sample units, from the grid formula (in
    fractions with ``exact``, so that ties are ties)."""
    n_new, first = ref_grid(n, 1.0, 0.0, s_new_over_s)
    if exact:
        r = frac(s_new_over_s)
        first = Fraction(-1, 2) + (n - n_new * r) / 2 + r / 2
        return [first + j * r for j in range(n_new)]
    return first + np.arange(n_new) * s_new_over_s


# --------------------------------------------------------------------------
# upsampling: the grid of spacing s / f
# --------------------------------------------------------------------------
def upsampled_grid(c, f):
    """The upsampled centres of a uniform coordinate ``c``, from the formula."""
    c = np.asarray(c, dtype=np.float64)
    s = (c[-1] - c[0]) / (c.size - 1)
    return np.array([ci + (k - (f - 1) / 2) * s / f for ci in c for k in range(f)])


def upsampled_positions(n, f):
    """Input-index positions of the output samples: i + (k - (f - 1) / 2) / f."""
    return np.array([i + (k - (f - 1) / 2) / f for i in range(n) for k in range(f)])


def scipy_linear(x, factors):
    """Linear upsampling of the whole array by scipy (float64), ``factors`` by axis."""
    pos = [upsampled_positions(n, factors.get(a, 1)) for a, n in enumerate(x.shape)]
    return ndimage.map_coordinates(
        np.asarray(x, np.float64), np.meshgrid(*pos, indexing="ij"), order=1, mode="nearest"
    )


def fraction_linear(x, factors):
    """Linear upsampling in exact fractions: along each axis, output ``i f + k``
    sits at ``p = i + (2k + 1 - f) / (2f)`` clamped to ``[0, n - 1]``, and is
    ``(1 - t) x[floor(p)] + t x[floor(p) + 1]`` with ``t = p - floor(p)``."""
    out = np.asarray(x).astype(object)
    for axis, f in factors.items():
        n = out.shape[axis]
        moved = np.moveaxis(out, axis, 0)
        rows = []
        for i in range(n):
            for k in range(f):
                p = min(max(i + Fraction(2 * k + 1 - f, 2 * f), Fraction(0)), Fraction(n - 1))
                i0 = p.numerator // p.denominator
                t = p - i0
                rows.append(moved[i0] * (1 - t) + (moved[i0 + 1] * t if t else 0))
        out = np.moveaxis(np.array(rows, dtype=object).reshape((n * f, *moved.shape[1:])), 0, axis)
    return out


def exact_linear(x, factors):
    """``fraction_linear`` rounded half to even, as Python integers."""
    return rounded(fraction_linear(x, factors))


def repeat(x, factors):
    """``nearest`` upsampling: every sample repeated ``f`` times along its axis."""
    for axis, f in factors.items():
        x = np.repeat(x, f, axis=axis)
    return x
