"""Grid arithmetic of exact resampling: which input samples make each output sample.

Pure numbers (numpy for vectors; no xarray, no dask). Positions are in units
of input *cells*: input sample ``i`` sits at the centre of cell ``[i, i + 1)``.
An output grid is a ratio ``r`` (output spacing over input spacing) and the
left edge ``a0`` of its first cell; output cell ``j`` is
``[a0 + j r, a0 + (j + 1) r)`` and its sample sits at the centre.

Both numbers are turned into fractions with a bounded denominator (a spacing
of 0.3 against 1.0 is the ratio 10/3, not the float 3.3333333333333335), and
every position is then an integer in units of ``1 / (2 D)`` of a cell, with
``D`` the common denominator. So the questions with exact answers get them:
which cell holds an output centre (ties to the lower cell), how much of each
input cell an output cell covers (the weights of ``area``), where between two
samples an output centre falls (``linear``). Weights are the exact fractions,
rounded once to float64.

Outside the input (beyond the first and last cell) every method follows the
edge sample: the outer cells are taken to extend to infinity.

The result of a plan is a sparse matrix in CSR form: for output ``j`` the
input indices ``indices[indptr[j]:indptr[j + 1]]`` (ascending) with their
``weights``. Cubic splines weigh spline *coefficients*, whose indices run from
``-1`` to ``n`` (see :mod:`xiso.interp`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = [
    "AxisPlan",
    "MAX_DENOMINATOR",
    "as_fraction",
    "centred_start",
    "output_length",
    "plan_axis",
]

# a ratio or an offset is read as the nearest fraction with at most this
# denominator (a float's own error is far smaller than 1 / MAX_DENOMINATOR**2)
MAX_DENOMINATOR = 10**5

# support of a method on either side of an output centre, in input samples,
# beyond its own weights: the prefilters of cubic (IIR, decays as 0.268**k)
SPLINE_MARGIN = 40


def as_fraction(value: float) -> Fraction:
    """``value`` as the nearest fraction with a denominator of at most
    :data:`MAX_DENOMINATOR` times ``max(1, 1 / |value|)`` (``1 / 0.3`` -> ``10/3``;
    small ratios keep as many significant digits as large ones)."""
    scale = max(1, math.ceil(1 / abs(value))) if value else 1
    return Fraction(value).limit_denominator(MAX_DENOMINATOR * scale)


def output_length(n: int, ratio: Fraction) -> int:
    """Samples of spacing ``ratio`` (in input samples) that fit the field of view
    of ``n`` input samples: ``max(1, round(n / ratio))``, ties to the smaller."""
    twice = 2 * n * ratio.denominator - ratio.numerator  # 2 (n / r - 1/2) * p
    return max(1, -(-twice // (2 * ratio.numerator)))


def whole_blocks(n: int, n_out: int, start: Fraction, ratio: Fraction) -> tuple[int, int] | None:
    """``(offset, f)`` when the ``n_out`` cells are whole blocks of ``f`` input
    cells starting at input ``offset``, all inside the input (the blocks of
    ``downsample(f)`` on ``input[offset:]``); None otherwise."""
    if ratio.denominator != 1 or start.denominator != 1:
        return None
    offset, f = int(start), int(ratio)
    if offset < 0 or offset + n_out * f > n:
        return None
    return offset, f


def centred_start(n: int, n_out: int, ratio: Fraction) -> Fraction:
    """Left edge of the first output cell when ``n_out`` cells of ``ratio`` are
    centred on the field of view ``[0, n)`` of the input."""
    return (n - n_out * ratio) / 2


@dataclass(frozen=True)
class AxisPlan:
    """Which input samples make each output sample along one axis.

    Attributes
    ----------
    n_in, n_out : int
        Samples in and out.
    indptr, indices, weights : numpy.ndarray
        CSR rows: output ``j`` is the sum of ``weights[k] * input[indices[k]]``
        for ``k`` in ``indptr[j]:indptr[j + 1]``, in that order.
    method : str
        ``"area"``, ``"nearest"``, ``"linear"`` or ``"cubic"``.
    sigma : float
        Standard deviation (input samples) of the Gaussian prefilter, 0 for none.
    numerators, denominator : numpy.ndarray, int
        ``area``, and ``linear`` without its Gaussian: the weights as exact
        fractions ``numerators / denominator`` (overlaps in ``1 / (2 D)`` cells
        over the output cell; distances in ``1 / (2 D)`` cells over a cell), for
        exact integer arithmetic; the numerators are whole numbers held in float64.
    block : tuple of int or None
        ``area`` only: ``(offset, f)`` when every output is the mean of a whole
        block (see :func:`whole_blocks`).
    """

    n_in: int
    n_out: int
    indptr: np.ndarray
    indices: np.ndarray
    weights: np.ndarray
    method: str
    sigma: float = 0.0
    numerators: np.ndarray | None = None
    denominator: int = 1
    block: tuple[int, int] | None = None

    @property
    def margin(self) -> int:
        """Input samples beyond those weighed that change the result (prefilters)."""
        radius = int(4.0 * self.sigma + 0.5) if self.sigma > 0 else 0
        return radius + (SPLINE_MARGIN if self.method == "cubic" else 0)

    def rows(
        self, start: int, stop: int, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The CSR rows of outputs ``start:stop`` (``indptr`` from 0), with the
        float weights or (``exact``) the integer numerators."""
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        weights = self.numerators if exact and self.numerators is not None else self.weights
        return self.indptr[start : stop + 1] - lo, self.indices[lo:hi], weights[lo:hi]

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Input samples ``[lo, hi)`` that outputs ``start:stop`` need, margin
        included, within the input."""
        _, idx, _ = self.rows(start, stop)
        m = self.margin
        return max(0, int(idx.min()) - m), min(self.n_in, int(idx.max()) + 1 + m)

    def reversed(self) -> AxisPlan:
        """The same plan with the outputs in the opposite order."""
        counts = np.diff(self.indptr)[::-1]
        order = np.concatenate(
            [np.arange(self.indptr[j], self.indptr[j + 1]) for j in range(self.n_out)][::-1]
        ).astype(np.int64)
        return AxisPlan(
            self.n_in,
            self.n_out,
            np.concatenate([[0], np.cumsum(counts)]),
            self.indices[order],
            self.weights[order],
            self.method,
            self.sigma,
            None if self.numerators is None else self.numerators[order],
            self.denominator,
            None,  # reversed blocks are no block mean
        )

    @property
    def identity(self) -> bool:
        """True when every output is exactly one input sample, in order."""
        return (
            self.n_in == self.n_out
            and self.sigma == 0
            and self.method != "cubic"
            and bool(np.array_equal(self.indices, np.arange(self.n_in)))
            and bool(np.all(self.weights == 1.0))
        )


def _scale(start: Fraction, ratio: Fraction) -> tuple[int, int, int]:
    """``(A, P, D)``: the first output cell is ``[A, A + 2P)`` in units of
    ``1 / (2 D)`` cell, output cells step by ``2P``, input cell ``i`` is
    ``[2 D i, 2 D (i + 1))``."""
    d = math.lcm(start.denominator, ratio.denominator)
    return int(start * 2 * d), int(ratio * d), d


def plan_axis(
    n: int,
    n_out: int,
    start: Fraction,
    ratio: Fraction,
    method: str,
    *,
    antialias: bool = True,
    ties: str = "lower",
) -> AxisPlan:
    """The plan of ``method`` from ``n`` input samples to ``n_out`` output cells
    of ``ratio`` input cells each, the first starting at ``start``. ``ties``:
    which cell ``nearest`` takes for a centre on the edge of two cells, the
    ``"lower"`` or the ``"upper"`` index (the lower coordinate of a descending axis)."""
    if n < 1 or n_out < 1 or ratio <= 0:
        raise ValueError(f"no grid: n={n}, n_out={n_out}, ratio={ratio}")
    a, p, d = _scale(start, ratio)
    lo = a + 2 * p * np.arange(n_out, dtype=np.int64)  # left edges of the output cells
    centre = lo + p
    if method == "area":
        indptr, indices, overlap = _area(n, lo, lo + 2 * p, d)
        block = whole_blocks(n, n_out, start, ratio)
        return AxisPlan(
            n, n_out, indptr, indices, overlap / (2 * p), method, 0.0, overlap, 2 * p, block
        )
    if method == "nearest":
        # the cell holding the centre; a centre on a cell edge goes to ``ties``
        below = -(-centre // (2 * d)) - 1 if ties == "lower" else centre // (2 * d)
        cell = np.clip(below, 0, n - 1)
        return AxisPlan(n, n_out, np.arange(n_out + 1), cell, np.ones(n_out), method)
    sigma = float(ratio - 1) / 2 if antialias and ratio > 1 else 0.0
    u = np.clip(centre - d, 0, 2 * d * (n - 1))  # position from sample 0, clamped to the samples
    i0, m = np.divmod(u, 2 * d)
    if method == "linear":
        if sigma > 0:  # one sparse operator: interpolation after smoothing
            indptr, indices, weights = _linear_after_gaussian(n, i0, m, 2 * d, sigma)
            sigma = 0.0
        else:  # the exact fractions (cell - m) / cell and m / cell, as for area
            indptr, indices, parts = _linear(n, i0, m, 2 * d)
            return AxisPlan(n, n_out, indptr, indices, parts / (2 * d), method, 0.0, parts, 2 * d)
    elif method == "cubic":
        indptr, indices, weights = _cubic(i0, m / (2 * d))
    else:
        raise ValueError(f"unknown method {method!r}")
    return AxisPlan(n, n_out, indptr, indices, weights, method, sigma)


def _area(
    n: int, lo: np.ndarray, hi: np.ndarray, d: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Overlap (int64, in ``1 / (2 d)`` cells) of each output cell ``[lo, hi)``
    with each input cell; the outer input cells extend to infinity."""
    cell = 2 * d
    first = np.clip(lo // cell, 0, n - 1)
    last = np.clip(-(-hi // cell) - 1, 0, n - 1)
    count = last - first + 1
    indptr = np.concatenate([[0], np.cumsum(count)])
    rows = np.repeat(np.arange(lo.size), count)
    indices = first[rows] + (np.arange(indptr[-1]) - indptr[rows])
    left = np.where(indices > 0, indices * cell, np.iinfo(np.int64).min // 2)
    right = np.where(indices < n - 1, (indices + 1) * cell, np.iinfo(np.int64).max // 2)
    overlap = np.minimum(hi[rows], right) - np.maximum(lo[rows], left)
    keep = overlap > 0
    if not keep.all():
        indices, overlap, rows = indices[keep], overlap[keep], rows[keep]
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=lo.size))])
    return indptr, indices, overlap


def _linear(
    n: int, i0: np.ndarray, m: np.ndarray, cell: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two neighbours ``(1 - t, t)`` with ``t = m / cell``, one where ``t == 0``: the
    weights' numerators ``cell - m`` and ``m`` (over ``cell``, whole numbers in float64)."""
    two = m > 0
    count = 1 + two.astype(np.int64)
    indptr = np.concatenate([[0], np.cumsum(count)])
    indices = np.empty(indptr[-1], dtype=np.int64)
    parts = np.empty(indptr[-1], dtype=np.float64)
    first = indptr[:-1]
    indices[first] = i0
    parts[first] = cell - m
    second = first[two] + 1
    indices[second] = i0[two] + 1
    parts[second] = m[two]
    return indptr, indices, parts


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """The normalised Gaussian kernel of ``scipy.ndimage.gaussian_filter1d``
    (radius ``int(truncate * sigma + 0.5)``)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    phi = np.exp(-0.5 / (sigma * sigma) * x * x)
    return phi / phi.sum()


def _linear_after_gaussian(
    n: int, i0: np.ndarray, m: np.ndarray, cell: int, sigma: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The rows of linear interpolation at ``i0 + m / cell`` after a Gaussian of
    ``sigma`` (scipy's kernel, edges by nearest), composed: output ``j`` weighs
    input ``i0 + k`` by ``(1 - t) g[k] + t g[k - 1]``, the indices clamped to the
    input (duplicates summed), in ascending order. Only the rows are built, so
    the cost is the output's size times the kernel's, whatever the ratio."""
    g = gaussian_weights(sigma)
    radius = g.size // 2
    t = (m / cell)[:, None]
    k = np.arange(-radius, radius + 2)  # offsets from i0 that either neighbour reaches
    padded = np.concatenate([[0.0], g, [0.0]])  # g[k] at padded[k + radius + 1]
    w = (1.0 - t) * padded[k + radius + 1] + t * padded[k + radius]
    cols = np.clip(i0[:, None] + k, 0, n - 1)
    n_out = i0.size
    # clamped indices repeat at the edges: sum their weights, in ascending order
    from scipy import sparse

    matrix = sparse.coo_matrix(
        (w.ravel(), (np.repeat(np.arange(n_out), k.size), cols.ravel())), shape=(n_out, n)
    ).tocsr()
    matrix.sum_duplicates()
    matrix.sort_indices()
    return matrix.indptr.astype(np.int64), matrix.indices.astype(np.int64), matrix.data


def _cubic(i0: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The cubic B-spline weights of coefficients ``i0 - 1 .. i0 + 2`` at ``t``."""
    t2, t3 = t * t, t * t * t
    s = 1.0 - t
    w = np.stack(
        [
            s * s * s / 6.0,
            (4.0 - 6.0 * t2 + 3.0 * t3) / 6.0,
            (1.0 + 3.0 * (t + t2 - t3)) / 6.0,
            t3 / 6.0,
        ],
        axis=1,
    )
    indices = i0[:, None] + np.arange(-1, 3)
    indptr = 4 * np.arange(i0.size + 1)
    return indptr, indices.reshape(-1), w.reshape(-1)
