"""Independent references for the tests: plain numpy and Python arithmetic
(integers, ``fractions.Fraction``), never xiso.
"""

from __future__ import annotations

import math

import numpy as np


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
