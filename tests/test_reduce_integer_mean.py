"""The integer block mean, against references that share no code with xiso.

The kernel sums in a wider integer type, rounds half to even by shifts (power
of two blocks) or divmod, and casts without clipping when the output dtype
holds every input value. These tests check every step of that, for the dtypes
xiso sums in 32 or 64 bits (bool, uint8, uint16, int16, uint32, int32), odd
shapes and partial last blocks, small (one kernel call) and large (cut into
slabs), into the input dtype and into other integer dtypes:

- small arrays: each block's valid values, summed in Python integers and
  rounded with ``round(Fraction(sum, count))`` (exact, half to even):
  ``block_reference`` of tests/reference.py;
- large arrays: numpy int64 sums of a zero-padded copy divided by the count of
  valid samples in float64 and rounded with ``np.rint``. Sums stay below
  2**53 and counts are small, so the quotient is the exact mean rounded once
  and an exact tie ``k + 0.5`` is representable: ``rint`` rounds it to even.
"""

from __future__ import annotations

import math

import dask
import dask.array as da
import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from reference import block_reference

from xiso.reduce import SLAB_BYTES, block_reduce

DTYPES = ("bool", "uint8", "uint16", "int16", "uint32", "int32")
OUT_DTYPES = (None, "bool", "uint8", "int8", "uint16", "int16", "uint32", "int32", "int64")


def float_reference(x: np.ndarray, block: tuple[int, ...], out_dtype: np.dtype) -> np.ndarray:
    """Block means of a large array: int64 sums of a zero-padded copy over the
    number of valid samples, rounded half to even in float64 (exact here)."""
    pad = [(0, (-n) % b) for n, b in zip(x.shape, block)]
    padded = np.pad(x.astype(np.int64), pad)
    split: list[int] = []
    for n, b in zip(padded.shape, block):
        split += [n // b, b]
    sums = padded.reshape(split).sum(axis=tuple(range(1, 2 * x.ndim, 2)))
    assert np.abs(sums).max(initial=0) < 2**53
    counts = np.ones(sums.shape, dtype=np.int64)
    for axis, (n, b) in enumerate(zip(x.shape, block)):
        per = np.full(sums.shape[axis], b, dtype=np.int64)
        per[-1] = n - (len(per) - 1) * b
        counts = counts * per.reshape([-1 if a == axis else 1 for a in range(x.ndim)])
    mean = np.rint(sums / counts)
    if out_dtype.kind == "b":
        return mean != 0
    info = np.iinfo(out_dtype)
    return np.clip(mean, int(info.min), int(info.max)).astype(out_dtype)


def _elements(dtype: np.dtype) -> st.SearchStrategy:
    if dtype.kind == "b":
        return st.booleans()
    info = np.iinfo(dtype)
    lo, hi = int(info.min), int(info.max)
    edges = st.sampled_from(sorted({lo, lo + 1, hi - 1, hi, 0, 1}))
    return st.one_of(edges, st.integers(lo, hi))


@st.composite
def mean_cases(draw):
    dtype = np.dtype(draw(st.sampled_from(DTYPES)))
    ndim = draw(st.integers(1, 3))
    side = st.integers(1, {1: 40, 2: 13, 3: 7}[ndim])
    shape = tuple(draw(st.lists(side, min_size=ndim, max_size=ndim)))
    x = draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))
    block = tuple(draw(st.integers(1, min(n, 6))) for n in shape)
    out = draw(st.sampled_from(OUT_DTYPES))
    return x, block, out


def _reduce(x, block, out, boundary="pad"):
    return block_reduce(x, dict(enumerate(block)), method="mean", boundary=boundary, dtype=out)


@settings(max_examples=300)
@given(mean_cases())
# ties at the top of the range: (65534 + 65535) / 2 and 4 values of -32768..
@example((np.array([65534, 65535], dtype="uint16"), (2,), None))
@example((np.array([2**32 - 1, 2**32 - 2, 2**32 - 1, 2**32 - 2], dtype="uint32"), (4,), None))
@example((np.array([-(2**31), -(2**31) + 1], dtype="int32"), (2,), None))
@example((np.array([-1, -2, -3, -4, -4, -4], dtype="int16"), (4,), "uint8"))
@example((np.array([True, False, True, False, False], dtype="bool"), (2,), None))
def test_integer_mean_matches_python_integers(case):
    x, block, out = case
    out_dtype = np.dtype(x.dtype if out is None else out)
    got = _reduce(x, block, out)
    np.testing.assert_array_equal(
        got,
        block_reference(x, dict(enumerate(block)), boundary="pad", dtype=out_dtype),
        strict=True,
    )
    # the same on dask, cut into chunks that do not align with the blocks
    chunks = tuple(max(1, n // 2 + 1) for n in x.shape)
    with dask.config.set(scheduler="synchronous"):
        lazy = _reduce(da.from_array(x, chunks=chunks), block, out).compute()
    np.testing.assert_array_equal(lazy, got, strict=True)


LARGE = [
    ((517, 130, 3), (4, 1, 1)),  # the benchmark's z/4, partial last block
    ((66, 97, 131), (2, 2, 2)),
    ((31, 129, 257), (3, 1, 5)),  # no power of two
    ((2, 300_001), (1, 8)),  # long last axis
    ((130, 70, 66), (8, 4, 1)),
]


@pytest.mark.parametrize(("shape", "block"), LARGE)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("out", [None, "uint8", "int16", "int64"])
def test_large_integer_mean_matches_reference(shape, block, dtype, out):
    rng = np.random.default_rng(math.prod(shape))
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        x = rng.integers(0, 2, size=shape).astype(bool)
    else:
        info = np.iinfo(dtype)
        x = rng.integers(int(info.min), int(info.max), size=shape, endpoint=True).astype(dtype)
        # blocks of two values only: ties (x.5) in every block of an even size
        x[::3] = np.where(rng.random(x[::3].shape) < 0.5, info.max, info.max - 1)
    if x.nbytes <= SLAB_BYTES:
        x = np.concatenate([x] * (SLAB_BYTES // x.nbytes + 1), axis=0)
    assert x.nbytes > SLAB_BYTES  # cut into slabs
    out_dtype = np.dtype(dtype if out is None else out)
    for boundary in ("pad", "trim"):
        got = _reduce(x, block, out, boundary)
        kept = (
            x
            if boundary == "pad"
            else x[tuple(slice(0, n // b * b) for n, b in zip(x.shape, block))]
        )
        np.testing.assert_array_equal(got, float_reference(kept, block, out_dtype), strict=True)


@pytest.mark.parametrize("dtype", ["uint8", "uint16"])
@pytest.mark.parametrize(
    ("shape", "block"),
    [((517, 130, 3), (4, 1, 1)), ((66, 97, 131), (2, 2, 2)), ((31, 129, 257), (3, 1, 5))],
)
@pytest.mark.parametrize("over", [0, 1])
def test_mean_of_low_values_summed_in_the_input_type(dtype, shape, block, over):
    """Small unsigned values (a 12-bit camera image in uint16) are summed in
    their own type when the largest block sum and the rounding offset fit
    ((max + 1) * n <= the type's max): at that edge, and one above it (the
    wider sum), every mean is the float reference's, ties included, full
    blocks and partial last blocks, in one kernel call and cut into slabs."""
    from xiso.reduce import _sum_type

    dtype = np.dtype(dtype)
    n = math.prod(block)
    top = (int(np.iinfo(dtype).max) // n - 1) + over  # the largest value
    rng = np.random.default_rng(n + over)
    x = rng.integers(top - 3, top, size=shape, endpoint=True).astype(dtype)
    x[::2] = rng.integers(0, top, size=x[::2].shape, endpoint=True)
    x.flat[0] = top
    assert _sum_type(x, n) == (dtype if over == 0 else np.dtype(np.uint32))
    for sliced in (x[: max(1, shape[0] // 8)], x):  # one call, then slabs
        for boundary in ("pad", "trim"):
            got = _reduce(sliced, block, None, boundary)
            kept = sliced
            if boundary == "trim":
                kept = sliced[tuple(slice(0, m // b * b) for m, b in zip(sliced.shape, block))]
            want = float_reference(kept, block, dtype)
            np.testing.assert_array_equal(got, want, strict=True)
