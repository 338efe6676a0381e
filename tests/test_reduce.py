"""Tests of the array layer :func:`xiso.reduce.block_reduce`.

Every result is compared with the independent reference of tests/reference.py:
numpy reshape + a per-block reduction in exact Python arithmetic (integers and
``fractions.Fraction``), never with xiso itself.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

import dask
import dask.array as da
import numpy as np
import pytest
from helpers import RaiseOnCompute
from hypothesis import example, given, settings
from hypothesis import strategies as st
from reference import block_reference
from strategies import arrays_for, chunkings, factor_maps

import xiso
from xiso.reduce import block_reduce, group_counts

INT_DTYPES = ("uint8", "uint16", "int16", "int32", "int64", "uint64")
FLOAT_DTYPES = ("float32", "float64")
BLOCK_METHODS = ("mean", "median", "min", "max", "mode")
METHODS = (*BLOCK_METHODS, "nearest")

PROPERTY = settings(max_examples=80)


def assert_same(got, expected, *, exact: bool, x=None, block_size: int = 1):
    got = np.asarray(got)
    assert got.dtype == expected.dtype, (got.dtype, expected.dtype)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    if exact or expected.dtype.kind != "f":
        np.testing.assert_array_equal(got, expected, strict=True)
        return
    eps = np.finfo(expected.dtype).eps
    rtol = 1e-6 if expected.dtype == np.float32 else 1e-12
    scale = 0.0
    if x is not None and np.asarray(x).size and np.asarray(x).dtype.kind == "f":
        finite = np.asarray(x, dtype=np.float64)
        finite = finite[np.isfinite(finite)]
        scale = float(np.abs(finite).max()) if finite.size else 0.0
    # summation error bound for cancellation: block size * eps * max|x|
    atol = 2 * block_size * eps * scale
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)


def is_exact(method: str, x_dtype, out_dtype=None) -> bool:
    out = np.dtype(out_dtype if out_dtype is not None else x_dtype)
    if out.kind != "f":
        return True
    return method in ("min", "max", "mode", "nearest")


# --------------------------------------------------------------------------
# strategies
# --------------------------------------------------------------------------
@st.composite
def cases(draw, dtypes=INT_DTYPES + FLOAT_DTYPES, methods=METHODS):
    dtype = draw(st.sampled_from(dtypes))
    method = draw(st.sampled_from(methods))
    x = draw(arrays_for(dtype, method))
    factors = draw(factor_maps(x.shape))
    boundary = draw(st.sampled_from(["trim", "pad"]))
    return x, factors, method, boundary


@st.composite
def chunked_cases(draw, **kw):
    x, factors, method, boundary = draw(cases(**kw))
    return x, factors, method, boundary, draw(chunkings(x.shape))


# float32 values whose 2x2 block mean depends on the summation order
_ORDER_SENSITIVE = np.array(
    [
        [5.0, 1.8571428060531616, 0.1428571492433548, -3.4285714626312256],
        [-2.857142925262451, -6.5714287757873535, -6.142857074737549, -7.0],
        [-4.714285850524902, 4.4285712242126465, 2.0, 5.857142925262451],
        [0.0, 1.4285714626312256, 6.714285850524902, 3.142857074737549],
    ],
    dtype="float32",
)


def _block_size(factors) -> int:
    return math.prod(factors.values()) if factors else 1


def _sync_compute(arr):
    with dask.config.set(scheduler="synchronous"):
        return arr.compute()


# --------------------------------------------------------------------------
# property tests
# --------------------------------------------------------------------------
@PROPERTY
@given(cases())
# known-hard inputs, always tried: 64-bit ties (1.5 -> 2, 2**63 - 0.5 -> 2**63)
@example((np.array([1, 2], dtype="int64"), {0: 2}, "mean", "trim"))
@example((np.array([0, 2**64 - 1], dtype="uint64"), {0: 2}, "mean", "pad"))
@example((np.array([[2**64 - 1, 2**64 - 1]], dtype="uint64"), {1: 2}, "median", "trim"))
def test_numpy_matches_reference(case):
    x, factors, method, boundary = case
    x_before = x.copy()
    expected = block_reference(x, factors, method, boundary)
    got = block_reduce(x, factors, method=method, boundary=boundary)
    assert isinstance(got, np.ndarray)
    assert_same(
        got, expected, exact=is_exact(method, x.dtype), x=x, block_size=_block_size(factors)
    )
    np.testing.assert_array_equal(x, x_before, strict=True)


@PROPERTY
@given(chunked_cases())
@example((np.array([1, 2], dtype="int64"), {0: 2}, "mean", "trim", ((1, 1),)))
@example((_ORDER_SENSITIVE, {0: 2, 1: 2}, "mean", "trim", ((2, 2), (2, 2))))
def test_dask_matches_reference_whatever_the_chunking(case):
    x, factors, method, boundary, chunks = case
    dx = da.from_array(x, chunks=chunks)
    with dask.config.set(scheduler=RaiseOnCompute()):
        lazy = block_reduce(dx, factors, method=method, boundary=boundary)
    assert isinstance(lazy, da.Array)
    expected = block_reference(x, factors, method, boundary)
    assert lazy.dtype == expected.dtype
    assert lazy.shape == expected.shape
    got = _sync_compute(lazy)
    assert_same(
        got, expected, exact=is_exact(method, x.dtype), x=x, block_size=_block_size(factors)
    )
    # output chunks tile the output exactly
    assert tuple(sum(c) for c in lazy.chunks) == expected.shape


@PROPERTY
@given(chunked_cases())
@example((_ORDER_SENSITIVE, {0: 2, 1: 2}, "mean", "trim", ((2, 2), (2, 2))))
def test_result_identical_whatever_the_chunking(case):
    x, factors, method, boundary, chunks = case
    one = block_reduce(da.from_array(x, chunks=x.shape), factors, method=method, boundary=boundary)
    other = block_reduce(da.from_array(x, chunks=chunks), factors, method=method, boundary=boundary)
    np.testing.assert_array_equal(_sync_compute(one), _sync_compute(other), strict=True)


@PROPERTY
@given(cases(dtypes=INT_DTYPES, methods=("mean", "median")), st.sampled_from(FLOAT_DTYPES))
@example((np.full(3, -(2**63), dtype="int64"), {0: 3}, "mean", "trim"), "float64")
def test_integer_mean_median_with_float_dtype_is_unrounded(case, out_dtype):
    x, factors, method, boundary = case
    expected = block_reference(x, factors, method, boundary, dtype=out_dtype)
    got = block_reduce(x, factors, method=method, boundary=boundary, dtype=out_dtype)
    assert got.dtype == np.dtype(out_dtype)
    np.testing.assert_allclose(
        got, expected, rtol=1e-6 if out_dtype == "float32" else 1e-12, atol=0
    )


@PROPERTY
@given(cases(dtypes=FLOAT_DTYPES, methods=("mean", "median", "min", "max")), st.booleans())
def test_float_skipna_flag(case, use_dask):
    x, factors, method, boundary = case
    expected = block_reference(x, factors, method, boundary, skipna=False)
    arr = da.from_array(x, chunks=max(1, x.shape[0] // 2)) if use_dask else x
    got = block_reduce(arr, factors, method=method, boundary=boundary, skipna=False)
    if use_dask:
        got = _sync_compute(got)
    assert_same(
        got, expected, exact=is_exact(method, x.dtype), x=x, block_size=_block_size(factors)
    )


# --------------------------------------------------------------------------
# targeted unit tests: rounding ties of integer mean and median
# --------------------------------------------------------------------------
TIES = [
    ([1, 2], 2),  # 1.5 -> 2 (even)
    ([2, 3], 2),  # 2.5 -> 2 (even)
    ([3, 4], 4),  # 3.5 -> 4
    ([0, 0, 0, 1], 0),  # 0.25 -> 0
    ([0, 1, 1, 1], 1),  # 0.75 -> 1, not truncated to 0
    ([0, 0, 1, 1], 0),  # 0.5 -> 0 (even)
    ([1, 1, 2, 2], 2),  # 1.5 -> 2 (even)
    ([9, 9, 9, 8], 9),  # 8.75 -> 9, not 8
]


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize(("values", "expected"), TIES)
def test_integer_mean_rounds_half_to_even(dtype, values, expected):
    x = np.array(values, dtype=dtype)
    got = block_reduce(x, {0: len(values)}, method="mean")
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.array([expected], dtype=dtype), strict=True)


@pytest.mark.parametrize("dtype", INT_DTYPES)
def test_integer_mean_rounding_several_blocks(dtype):
    # uint16 [1,2] -> 2, [2,3] -> 2, [5,6] -> 6, [6,7] -> 6
    x = np.array([1, 2, 2, 3, 5, 6, 6, 7], dtype=dtype)
    got = block_reduce(x, {0: 2})
    np.testing.assert_array_equal(got, np.array([2, 2, 6, 6], dtype=dtype), strict=True)


@pytest.mark.parametrize("dtype", ["int16", "int32", "int64"])
@pytest.mark.parametrize(
    ("values", "expected"),
    [([-1, -2], -2), ([-2, -3], -2), ([-1, 0], 0), ([0, -1, -1, -1], -1), ([-3, -4], -4)],
)
def test_signed_integer_mean_ties_to_even(dtype, values, expected):
    x = np.array(values, dtype=dtype)
    got = block_reduce(x, {0: len(values)}, method="mean")
    np.testing.assert_array_equal(got, np.array([expected], dtype=dtype), strict=True)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([1, 2], 2),
        ([2, 3], 2),
        ([3, 1, 2, 2], 2),
        ([4, 1, 3, 2], 2),
        ([1, 4, 2, 5], 3),
        ([5, 0, 9], 5),
    ],
)
def test_integer_median_even_blocks_round_half_to_even(dtype, values, expected):
    x = np.array(values, dtype=dtype)
    got = block_reduce(x, {0: len(values)}, method="median")
    np.testing.assert_array_equal(got, np.array([expected], dtype=dtype), strict=True)


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("method", ["mean", "median"])
@pytest.mark.parametrize("out", ["float32", "float64"])
def test_float_dtype_gives_unrounded_result(dtype, method, out):
    x = np.array([1, 2, 2, 3, 0, 0, 0, 1], dtype=dtype)
    got = block_reduce(x, {0: 2}, method=method, dtype=np.dtype(out))
    assert got.dtype == np.dtype(out)
    np.testing.assert_array_equal(got, np.array([1.5, 2.5, 0.0, 0.5], dtype=out))


def test_integer_mean_is_clipped_to_requested_integer_dtype():
    x = np.array([300, 301, 5, 6], dtype="uint16")
    got = block_reduce(x, {0: 2}, dtype=np.uint8)
    np.testing.assert_array_equal(got, np.array([255, 6], dtype=np.uint8), strict=True)
    y = np.array([-5, -6, 3, 4], dtype="int16")
    got = block_reduce(y, {0: 2}, dtype=np.uint8)
    np.testing.assert_array_equal(got, np.array([0, 4], dtype=np.uint8), strict=True)


FLOATS_AT_INTEGER_LIMITS = [
    0.0, -0.5, 1.5, 2.5, -2.5, 127.5, 128.0, -129.0, 255.5, 256.0, 2.0**31 - 1, 2.0**31,
    -(2.0**31) - 1, 2.0**32, 1e19, 1e20, -1e20, 2.0**63, 2.0**63 - 1024, -(2.0**63),
    -(2.0**63) - 2048, 2.0**64, 2.0**64 - 2048, np.inf, -np.inf,
]  # fmt: skip


def _clipped_reference(values: np.ndarray, out_dtype) -> np.ndarray:
    """Round half to even and clip, in exact Python integers."""
    info = np.iinfo(out_dtype)
    out = []
    for v in values.tolist():
        r = int(info.max) if v == math.inf else int(info.min) if v == -math.inf else round(v)
        out.append(min(max(r, int(info.min)), int(info.max)))
    return np.array(out, dtype=out_dtype)


@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("in_dtype", ["float64", "float32"])
@pytest.mark.parametrize("out_dtype", ["int64", "uint64", "int32", "uint32", "int8", "uint8"])
@pytest.mark.parametrize("method", ["mean", "median", "max", "nearest"])
def test_float_into_integer_dtype_is_clipped_exactly(method, out_dtype, in_dtype, use_dask):
    values = np.array(FLOATS_AT_INTEGER_LIMITS, dtype=in_dtype)
    x = np.repeat(values, 2)  # blocks of two equal values: the block result is the value
    arr = da.from_array(x, chunks=6) if use_dask else x
    got = block_reduce(arr, {0: 2}, method=method, dtype=out_dtype)
    got = _sync_compute(got) if use_dask else got
    np.testing.assert_array_equal(got, _clipped_reference(values, out_dtype), strict=True)


# --------------------------------------------------------------------------
# extreme values of 64-bit integers
# --------------------------------------------------------------------------
U64 = np.iinfo(np.uint64).max
I64 = np.iinfo(np.int64)
UINT64_CASES = [
    ([U64, U64], U64),
    ([U64, U64 - 1], U64 - 1),  # max - 0.5: tie -> even (max - 1)
    ([U64, U64 - 2], U64 - 1),
    ([U64 - 1, U64 - 2], U64 - 1),  # max - 1.5: tie -> even (max - 1)
    ([0, U64], 2**63),  # 2**63 - 0.5 -> 2**63 (even)
    ([1, 2], 2),
    ([2**62 + 1, 2**62 + 3], 2**62 + 2),
    ([U64, U64, U64, U64], U64),
    ([U64, U64, U64, 0], Fraction(3 * U64, 4)),
]
INT64_CASES = [
    ([I64.max, I64.max], I64.max),
    ([I64.min, I64.min], I64.min),
    ([I64.min, I64.max], 0),  # -0.5 -> 0 (even)
    ([I64.min, I64.min + 1], I64.min),  # min + 0.5 -> min (even)
    ([I64.max - 1, I64.max], I64.max - 1),  # max - 0.5 -> max - 1 (even)
    ([1, 2], 2),
    ([-1, -2], -2),
    ([2**62 + 1, 2**62 + 3], 2**62 + 2),
    ([-(2**62) - 1, -(2**62) - 3], -(2**62) - 2),
    ([I64.max] * 4, I64.max),
    ([I64.min] * 4, I64.min),
    ([I64.max, I64.max, I64.max, I64.min], Fraction(2 * int(I64.max) - 1, 4)),
]


def _expected_rounded(value) -> int:
    return round(Fraction(value))


@pytest.mark.parametrize(
    ("dtype", "values", "exact"),
    [("uint64", v, e) for v, e in UINT64_CASES] + [("int64", v, e) for v, e in INT64_CASES],
)
@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_64bit_mean_exact_near_limits(dtype, values, exact, use_dask):
    x = np.array(values, dtype=dtype)
    expected_value = round(Fraction(sum(int(v) for v in values), len(values)))
    if not isinstance(exact, Fraction):
        assert expected_value == exact  # the table itself is consistent
    arr = da.from_array(x, chunks=1) if use_dask else x
    got = block_reduce(arr, {0: len(values)}, method="mean")
    if use_dask:
        got = _sync_compute(got)
    np.testing.assert_array_equal(got, np.array([expected_value], dtype=dtype), strict=True)


@pytest.mark.parametrize(
    ("dtype", "values"),
    [("uint64", v) for v, _ in UINT64_CASES] + [("int64", v) for v, _ in INT64_CASES],
)
def test_64bit_median_exact_near_limits(dtype, values):
    x = np.array(values, dtype=dtype)
    s = sorted(int(v) for v in values)
    n = len(s)
    exact = Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)
    got = block_reduce(x, {0: n}, method="median")
    np.testing.assert_array_equal(got, np.array([round(exact)], dtype=dtype), strict=True)


@pytest.mark.parametrize("out", FLOAT_DTYPES)
@pytest.mark.parametrize("method", ["mean", "median"])
@pytest.mark.parametrize(
    ("dtype", "values"),
    [
        ("int64", [I64.min] * 3),
        ("int64", [I64.min] * 5),
        ("int64", [I64.min, I64.min, I64.min + 2]),
        ("int64", [I64.min, I64.max]),
        ("int64", [I64.max] * 3),
        ("int64", [-(2**62) - 1, 2**62 + 3]),
        ("uint64", [U64] * 3),
        ("uint64", [U64, U64]),
        ("uint64", [0, U64]),
    ],
)
def test_64bit_float_dtype_near_limits(dtype, values, method, out):
    x = np.array(values, dtype=dtype)
    s = sorted(int(v) for v in values)
    n = len(s)
    if method == "mean":
        exact = Fraction(sum(s), n)
    else:
        exact = Fraction(s[n // 2]) if n % 2 else Fraction(s[n // 2 - 1] + s[n // 2], 2)
    got = block_reduce(x, {0: n}, method=method, dtype=np.dtype(out))
    assert got.dtype == np.dtype(out)
    # the exact value, correctly rounded to the output float type
    expected = np.array([float(exact)], dtype=np.float64).astype(out)
    np.testing.assert_allclose(got, expected, rtol=1e-6 if out == "float32" else 1e-15, atol=0)


@pytest.mark.parametrize("dtype", ["int64", "uint64"])
@pytest.mark.parametrize("method", ["min", "max", "mode", "nearest"])
def test_64bit_order_methods_exact_near_limits(dtype, method):
    info = np.iinfo(dtype)
    x = np.array([info.max, info.max - 1, info.min, info.min + 1, info.max, info.max], dtype=dtype)
    got = block_reduce(x, {0: 3}, method=method)
    expected = block_reference(x, {0: 3}, method)
    np.testing.assert_array_equal(got, expected, strict=True)


# --------------------------------------------------------------------------
# mode and nearest
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [*INT_DTYPES, *FLOAT_DTYPES])
def test_mode_ties_go_to_smallest_value(dtype):
    x = np.array([3, 1, 3, 1, 2, 2, 5, 5, 5, 7, 7, 7], dtype=dtype)
    got = block_reduce(x, {0: 4}, method="mode")
    # [3,1,3,1] tie -> 1; [2,2,5,5] tie -> 2; [5,7,7,7] -> 7
    np.testing.assert_array_equal(got, np.array([1, 2, 7], dtype=dtype), strict=True)


def test_mode_never_invents_a_label():
    x = np.array([[1, 3], [7, 9]], dtype="uint8")
    got = block_reduce(x, {0: 2, 1: 2}, method="mode")
    np.testing.assert_array_equal(got, np.array([[1]], dtype="uint8"), strict=True)
    x = np.array([255, 0, 0, 255, 255], dtype="uint8")
    got = block_reduce(x, {0: 2}, method="mode", boundary="pad")
    np.testing.assert_array_equal(got, np.array([0, 0, 255], dtype="uint8"), strict=True)


def test_mode_2d_blocks_and_pad():
    x = np.array(
        [
            [4, 4, 2, 9, 9],
            [1, 4, 2, 2, 9],
            [6, 6, 3, 3, 1],
        ],
        dtype="int32",
    )
    got = block_reduce(x, {0: 2, 1: 2}, method="mode", boundary="pad")
    expected = np.array([[4, 2, 9], [6, 3, 1]], dtype="int32")
    np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize(
    ("n", "f", "boundary", "expected"),
    [
        (8, 1, "trim", list(range(8))),
        (8, 2, "trim", [0, 2, 4, 6]),
        (9, 3, "trim", [1, 4, 7]),
        (8, 4, "trim", [1, 5]),
        (10, 5, "trim", [2, 7]),
        (10, 4, "trim", [1, 5]),
        (10, 4, "pad", [1, 5, 8]),  # last block [8, 9]: offset (2-1)//2 = 0
        (10, 3, "pad", [1, 4, 7, 9]),  # last block [9]
        (9, 5, "pad", [2, 6]),  # last block [5..8]: offset (4-1)//2 = 1
        (11, 4, "pad", [1, 5, 9]),  # last block [8, 9, 10]: offset 1
        (3, 3, "exact", [1]),
    ],
)
@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_nearest_offsets(n, f, boundary, expected, use_dask):
    x = np.arange(100, 100 + n, dtype="int16")
    arr = da.from_array(x, chunks=1) if use_dask else x
    got = block_reduce(arr, {0: f}, method="nearest", boundary=boundary)
    if use_dask:
        got = _sync_compute(got)
    np.testing.assert_array_equal(got, (np.array(expected) + 100).astype("int16"), strict=True)


def test_nearest_2d_partial_blocks():
    x = np.arange(7 * 5).reshape(7, 5)
    got = block_reduce(x, {0: 4, 1: 3}, method="nearest", boundary="pad")
    # rows: offset 1, last block rows 4..6 (r=3) -> offset 1 -> row 5
    # cols: offset 1, last block cols 3..4 (r=2) -> offset 0 -> col 3
    np.testing.assert_array_equal(got, x[np.ix_([1, 5], [1, 3])], strict=True)


# --------------------------------------------------------------------------
# floats and NaN
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
@pytest.mark.parametrize("method", ["mean", "median", "min", "max"])
@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_nan_handling(dtype, method, use_dask):
    nan = np.nan
    x = np.array([nan, nan, nan, nan, 1.0, nan, 3.0, 5.0, 2.0, 4.0, 6.0, 8.0], dtype=dtype)
    arr = da.from_array(x, chunks=3) if use_dask else x
    got = block_reduce(arr, {0: 4}, method=method)
    if use_dask:
        got = _sync_compute(got)
    expected = {
        "mean": [nan, 3.0, 5.0],
        "median": [nan, 3.0, 5.0],
        "min": [nan, 1.0, 2.0],
        "max": [nan, 5.0, 8.0],
    }[method]
    assert got.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(got, np.array(expected, dtype=dtype), strict=True)
    # skipna=False propagates NaN
    got = block_reduce(arr, {0: 4}, method=method, skipna=False)
    if use_dask:
        got = _sync_compute(got)
    np.testing.assert_array_equal(got, np.array([nan, nan, expected[2]], dtype=dtype), strict=True)


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_all_nan_partial_block_with_pad(dtype):
    x = np.array([1.0, 2.0, 3.0, np.nan, np.nan], dtype=dtype)
    for method in ("mean", "median", "min", "max"):
        got = block_reduce(x, {0: 3}, method=method, boundary="pad")
        assert got.dtype == np.dtype(dtype)
        assert got[0] == {"mean": 2.0, "median": 2.0, "min": 1.0, "max": 3.0}[method]
        assert np.isnan(got[1])


@pytest.mark.parametrize("dtype", FLOAT_DTYPES)
def test_float_keeps_dtype(dtype):
    x = np.linspace(0, 1, 24, dtype=dtype).reshape(4, 6)
    for method in METHODS:
        assert block_reduce(x, {0: 2, 1: 3}, method=method).dtype == np.dtype(dtype)


# --------------------------------------------------------------------------
# byte order
# --------------------------------------------------------------------------
@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("boundary", ["trim", "pad"])
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [">u2", ">i8", ">f4", "<u2"])
def test_output_is_in_native_byte_order(dtype, method, boundary, use_dask):
    x = np.random.default_rng(3).integers(0, 1000, size=(7, 5)).astype(dtype)
    arr = da.from_array(x, chunks=(3, 2)) if use_dask else x
    got = block_reduce(arr, {0: 2, 1: 2}, method=method, boundary=boundary)
    native = np.dtype(dtype).newbyteorder("=")
    assert got.dtype == native  # the declared dtype of a dask array too
    got = _sync_compute(got) if use_dask else got
    expected = block_reference(x.astype(native), {0: 2, 1: 2}, method, boundary)
    assert got.dtype.byteorder in "=|" and got.dtype == native
    assert_same(got, expected, exact=is_exact(method, native), x=x, block_size=4)


# --------------------------------------------------------------------------
# boundaries, factor 1, dask laziness
# --------------------------------------------------------------------------
def test_trim_and_pad_lengths():
    x = np.arange(10, dtype="uint16")
    np.testing.assert_array_equal(block_reduce(x, {0: 4}), np.array([2, 6], dtype="uint16"))
    # pad: last block [8, 9] -> 8.5 -> 8 (even)
    np.testing.assert_array_equal(
        block_reduce(x, {0: 4}, boundary="pad"), np.array([2, 6, 8], dtype="uint16"), strict=True
    )
    np.testing.assert_array_equal(
        block_reduce(x, {0: 3}, boundary="pad"), np.array([1, 4, 7, 9], dtype="uint16"), strict=True
    )


@pytest.mark.parametrize("method", METHODS)
def test_factor_one_leaves_axis_untouched(method):
    x = np.arange(24, dtype="int32").reshape(2, 3, 4)
    got = block_reduce(x, {0: 1, 1: 1, 2: 1}, method=method)
    np.testing.assert_array_equal(got, x, strict=True)
    got = block_reduce(x, {1: 3}, method=method)
    assert got.shape == (2, 1, 4)


@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_exact_boundary(use_dask):
    x = np.arange(12, dtype="uint8").reshape(3, 4)
    arr = da.from_array(x, chunks=1) if use_dask else x
    got = block_reduce(arr, {0: 3, 1: 2}, boundary="exact")
    if use_dask:
        got = _sync_compute(got)
    np.testing.assert_array_equal(got, block_reference(x, {0: 3, 1: 2}), strict=True)
    with pytest.raises(xiso.FactorError, match="4"):
        block_reduce(arr, {1: 3}, boundary="exact")


def test_dask_input_stays_lazy():
    x = da.from_array(np.arange(40, dtype="uint16").reshape(8, 5), chunks=(3, 2))
    with dask.config.set(scheduler=RaiseOnCompute()):
        for method in METHODS:
            for boundary in ("trim", "pad"):
                out = block_reduce(x, {0: 4, 1: 2}, method=method, boundary=boundary)
                assert isinstance(out, da.Array)
    got = _sync_compute(block_reduce(x, {0: 4, 1: 2}, method="mean", boundary="pad"))
    expected = block_reference(
        np.arange(40, dtype="uint16").reshape(8, 5), {0: 4, 1: 2}, "mean", "pad"
    )
    np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize("chunks", [1, 2, 3, 5, 7, (1, 6, 2, 4), (5, 5, 1, 2), (13,)])
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_dask_chunkings_1d(chunks, boundary):
    x = np.random.default_rng(1).integers(0, 2**16, size=13).astype("uint16")
    dx = da.from_array(x, chunks=chunks)
    for f in (2, 3, 4, 5):
        for method in METHODS:
            got = _sync_compute(block_reduce(dx, {0: f}, method=method, boundary=boundary))
            np.testing.assert_array_equal(
                got, block_reference(x, {0: f}, method, boundary), strict=True
            )


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------
def test_error_hierarchy():
    for name in ("FactorError", "OptionError", "DtypeError"):
        err = getattr(xiso, name)
        assert issubclass(err, xiso.XisoError)
    assert issubclass(xiso.XisoError, ValueError)


@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_factor_larger_than_length(use_dask):
    x = np.zeros((3, 8), dtype="uint8")
    arr = da.from_array(x) if use_dask else x
    with pytest.raises(xiso.FactorError, match=r"(?s)(3.*4|4.*3)"):
        block_reduce(arr, {0: 4})
    with pytest.raises(ValueError):
        block_reduce(arr, {1: 9}, boundary="pad")


@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
def test_invalid_method_and_boundary(use_dask):
    x = np.zeros((4, 4), dtype="float32")
    arr = da.from_array(x) if use_dask else x
    with pytest.raises(xiso.OptionError, match=re.escape("'average'")):
        block_reduce(arr, {0: 2}, method="average")
    with pytest.raises(xiso.OptionError, match=re.escape("'wrap'")):
        block_reduce(arr, {0: 2}, boundary="wrap")


@pytest.mark.parametrize("use_dask", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("bad", ["foo", "uint17", "int128"])
def test_unknown_dtype_is_a_dtype_error(use_dask, bad):
    x = np.zeros((4, 4), dtype="float32")
    arr = da.from_array(x) if use_dask else x
    with pytest.raises(xiso.DtypeError, match=re.escape(f"dtype={bad!r} is not a data type")):
        block_reduce(arr, {0: 2}, dtype=bad)


@pytest.mark.parametrize("method", ["mean", "median"])
def test_mean_on_strings_is_a_dtype_error(method):
    x = np.array(["a", "b", "c", "d"])
    with pytest.raises(xiso.DtypeError, match=r"(?i)dtype"):
        block_reduce(x, {0: 2}, method=method)
    with pytest.raises(xiso.DtypeError):
        block_reduce(da.from_array(x, chunks=2), {0: 2}, method=method)


def test_nearest_and_mode_on_strings():
    x = np.array(["a", "b", "b", "c", "a", "a"])
    np.testing.assert_array_equal(block_reduce(x, {0: 3}, method="nearest"), np.array(["b", "a"]))
    np.testing.assert_array_equal(block_reduce(x, {0: 3}, method="mode"), np.array(["b", "a"]))


# --------------------------------------------------------------------------
# inputs large enough to be reduced in slabs (more than 512 KiB)
# --------------------------------------------------------------------------
LARGE_CASES = [
    # (shape, dtype, factors): a plain slab cut along axis 0, and one whose
    # single output row is itself too large (cut along the next axes too)
    ((41, 40, 43), "float64", {0: 5, 1: 4, 2: 3}),
    ((4, 131, 130), "float64", {0: 4, 1: 3, 2: 3}),
    ((70, 66, 61), "uint16", {0: 4, 1: 4, 2: 5}),
    ((3, 410, 130), "int32", {0: 3, 1: 5, 2: 4}),
    ((70001,), "int64", {0: 4}),
    ((83, 60, 40), "float32", {0: 4, 1: 4, 2: 3}),
]


def _large_array(shape, dtype, seed=3):
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        x = rng.normal(0, 100, size=shape).astype(dtype)
        x.flat[rng.integers(0, x.size, size=x.size // 50)] = np.nan
        return x
    info = np.iinfo(dtype)
    if dtype.itemsize == 8:  # keep in a range where every block sum is distinct
        return rng.integers(-(2**40), 2**40, size=shape).astype(dtype)
    # few distinct values: many ties for mean, median and mode
    x = rng.integers(0, 4, size=shape).astype(dtype)
    x[..., ::7] = info.max
    return x


@pytest.mark.parametrize(("shape", "dtype", "factors"), LARGE_CASES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_large_inputs_match_reference(shape, dtype, factors, method, boundary):
    x = _large_array(shape, dtype)
    if method == "mode" and x.dtype.kind == "f":
        x = np.round(np.nan_to_num(x) / 100).astype(dtype)
    assert x.nbytes > 2**19
    expected = block_reference(x, factors, method, boundary)
    got = block_reduce(x, factors, method=method, boundary=boundary)
    assert_same(
        got, expected, exact=is_exact(method, x.dtype), x=x, block_size=_block_size(factors)
    )


@pytest.mark.parametrize(("shape", "dtype", "factors"), LARGE_CASES)
@pytest.mark.parametrize("method", ["mean", "median", "max"])
def test_large_inputs_identical_whatever_the_chunking(shape, dtype, factors, method):
    x = _large_array(shape, dtype)
    whole = _sync_compute(
        block_reduce(da.from_array(x, chunks=x.shape), factors, method=method, boundary="pad")
    )
    small = 7 if len(shape) > 1 else 4999  # irregular against the factors
    for chunks in (
        "auto",
        tuple(max(1, n // 3) for n in shape),
        tuple(min(n, small) for n in shape),
    ):
        dx = da.from_array(x, chunks=chunks)
        got = _sync_compute(block_reduce(dx, factors, method=method, boundary="pad"))
        np.testing.assert_array_equal(got, whole, strict=True)
    np.testing.assert_array_equal(
        block_reduce(x, factors, method=method, boundary="pad"), whole, strict=True
    )


@pytest.mark.parametrize("chunks", [2, (1, 3), (3, 1), 1])
def test_float_mean_identical_whatever_the_chunking(chunks):
    x = _ORDER_SENSITIVE
    whole = block_reduce(x, {0: 2, 1: 2})
    got = _sync_compute(block_reduce(da.from_array(x, chunks=chunks), {0: 2, 1: 2}))
    np.testing.assert_array_equal(got, whole, strict=True)
    # and each output is the mean of its own block, whatever its neighbours
    for i in range(2):
        for j in range(2):
            alone = block_reduce(x[2 * i : 2 * i + 2, 2 * j : 2 * j + 2], {0: 2, 1: 2})
            assert alone[0, 0] == whole[i, j], (i, j)


# --------------------------------------------------------------------------
# grouping neighbouring chunks into one task
# --------------------------------------------------------------------------
def test_group_counts_grow_small_outputs_to_the_target():
    chunks = ((128,) * 4, (128,) * 8, (128,) * 8)
    # 128^3 uint16 reduced z/4: 1 MiB outputs, grouped by 4 into 4 MiB
    assert group_counts(chunks, (4, 1, 1), 2, target=2**22, limit=2**27) == (4, 1, 1)
    # ... but no further than the target: 2 chunks already make 2 MiB
    assert group_counts(chunks, (4, 1, 1), 2, target=2**21, limit=2**27) == (2, 1, 1)
    # outputs already at the target: no grouping
    assert group_counts(((512,) * 4, (128,) * 8), (4, 1), 2, target=2**15) == (1, 1)
    # at most the factor and the number of chunks along the axis
    assert group_counts(((128,) * 2, (64,)), (4, 1), 2, target=2**40, limit=2**40) == (2, 1)
    assert group_counts(((8,) * 9,), (3,), 2, target=2**40, limit=2**40) == (3,)
    # the axis with the fewest grouped chunks doubles first
    assert group_counts(chunks, (4, 4, 1), 2, target=2**40, limit=2**40) == (4, 4, 1)
    assert group_counts(chunks, (4, 4, 1), 2, target=2**20, limit=2**40) == (2, 2, 1)
    assert group_counts(chunks, (4, 4, 1), 2, target=2**21, limit=2**40) == (4, 2, 1)
    # a task's input stays within the limit
    assert group_counts(chunks, (4, 1, 1), 2, target=2**40, limit=2**23) == (2, 1, 1)
    assert group_counts(chunks, (4, 1, 1), 2, target=2**40, limit=1) == (1, 1, 1)
    # the output itemsize counts: float64 outputs of uint8 input reach the target sooner
    assert group_counts(((64,) * 8, (64,) * 2), (4, 1), 1, 8, target=2**14) == (2, 1)
    assert group_counts(((64,) * 8, (64,) * 2), (4, 1), 1, 1, target=2**14) == (4, 1)


def test_grouped_output_chunks():
    dx = da.zeros((512, 256, 256), dtype="uint16", chunks=128)
    out = block_reduce(dx, {0: 4, 1: 2})
    assert out.chunks == ((128,), (128,), (128, 128))
    # group=False, or a limit that forbids it: one task per chunk
    ungrouped = ((32,) * 4, (64,) * 2, (128, 128))
    assert block_reduce(dx, {0: 4, 1: 2}, group=False).chunks == ungrouped
    with dask.config.set({"array.chunk-size": "1B"}):
        assert block_reduce(dx, {0: 4, 1: 2}).chunks == ungrouped


@pytest.mark.parametrize("limit", ["128MiB", "600B", "1B"])
@pytest.mark.parametrize("boundary", ["trim", "pad"])
def test_grouped_and_ungrouped_match_reference(limit, boundary):
    x = np.random.default_rng(7).integers(0, 2**16, size=(23, 18, 11)).astype("uint16")
    factors = {0: 4, 1: 3, 2: 2}
    for chunks in ((5, 4, 3), (4, 6, 2), (1, 1, 11), (23, 18, 11)):
        dx = da.from_array(x, chunks=chunks)
        for method in METHODS:
            with dask.config.set({"array.chunk-size": limit}):
                lazy = block_reduce(dx, factors, method=method, boundary=boundary)
            got = _sync_compute(lazy)
            expected = block_reference(x, factors, method, boundary)
            np.testing.assert_array_equal(got, expected, strict=True)
            assert tuple(sum(c) for c in lazy.chunks) == expected.shape


@pytest.mark.parametrize("use_dask", [False, True])
def test_factor_one_on_an_empty_axis_is_a_no_op(use_dask):
    x = np.zeros((0, 4), dtype="uint16")
    arr = da.from_array(x, chunks=2) if use_dask else x
    out = block_reduce(arr, {0: 1, 1: 2})
    assert out.shape == (0, 2)
    with pytest.raises(xiso.FactorError, match="axis 0 has length 0"):
        block_reduce(arr, {0: 2})


def test_float32_mean_of_long_last_axis_blocks_is_accurate():
    """Blocks longer than 8 along the last axis keep numpy's pairwise sum: a
    sequential float32 sum of 65536 values near 1000 is off by ~4e-4."""
    rng = np.random.default_rng(0)
    b = 2**16
    x = (rng.random(4 * b) + 1000).astype(np.float32)
    got = block_reduce(x, {0: b}, method="mean")
    expected = x.astype(np.float64).reshape(4, b).mean(axis=1)
    np.testing.assert_allclose(got.astype(np.float64), expected, rtol=1e-6)


@pytest.mark.parametrize("method", METHODS)
def test_result_never_shares_memory_with_the_input(method):
    x = np.arange(64, dtype="uint16").reshape(8, 8)
    for factors in ({}, {0: 1}, {0: 2}, {1: 2}, {0: 2, 1: 4}):
        out = block_reduce(x, factors, method=method)
        assert not np.shares_memory(out, x), factors
