"""Hypothesis strategies the tests share: arrays of every dtype with their
awkward values, factor maps and dask chunkings."""

from __future__ import annotations

import itertools
import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def int_elements(dtype, small: bool = False):
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    specials = sorted({lo, lo + 1, hi - 1, hi, max(lo, 0), min(hi, 1), max(lo, -1)})
    if small:  # few distinct values: ties and repeated values for mode/median
        return st.sampled_from(sorted({*specials[:2], *specials[-2:], 0, min(hi, 1), min(hi, 2)}))
    return st.one_of(st.sampled_from(specials), st.integers(lo, hi))


def float_elements(dtype, allow_nan: bool = True, small: bool = False):
    width = np.dtype(dtype).itemsize * 8
    if small:
        vals = [-1.5, 0.0, 0.5, 2.0, 7.25]
        return st.sampled_from([*vals, math.nan] if allow_nan else vals)
    bound = float(np.float32(1e30)) if width == 32 else 1e200
    finite = st.floats(
        min_value=-bound,
        max_value=bound,
        width=width,
        allow_nan=False,
        allow_infinity=False,
        allow_subnormal=False,
    )
    if allow_nan:
        return st.one_of(finite, st.just(math.nan))
    return finite


@st.composite
def arrays_for(draw, dtype, method, max_dims=4):
    dtype = np.dtype(dtype)
    ndim = draw(st.integers(1, max_dims))
    max_side = {1: 23, 2: 11, 3: 7, 4: 5}[ndim]
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=ndim, max_size=ndim)))
    small = method == "mode" or draw(st.booleans())
    if dtype.kind == "f":
        elements = float_elements(dtype, allow_nan=method != "mode", small=small)
    else:
        elements = int_elements(dtype, small=small)
    return draw(hnp.arrays(dtype, shape, elements=elements))


@st.composite
def factor_maps(draw, shape):
    factors = {}
    for axis, n in enumerate(shape):
        if draw(st.integers(0, 4)) == 0:
            continue  # axis absent from the mapping: untouched
        factors[axis] = draw(st.integers(1, min(5, n)))
    return factors


@st.composite
def chunkings(draw, shape):
    chunks = []
    for n in shape:
        kind = draw(st.sampled_from(["ones", "random", "random", "single"]))
        if kind == "ones":
            chunks.append((1,) * n)
        elif kind == "single" or n == 1:
            chunks.append((n,))
        else:
            cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=n - 1)))
            edges = [0, *cuts, n]
            chunks.append(tuple(b - a for a, b in itertools.pairwise(edges)))
    return tuple(chunks)
