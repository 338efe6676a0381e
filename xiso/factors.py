"""Pure arithmetic: per-dimension spacings in, per-dimension integer factors out.

Nothing here knows about arrays or xarray objects; spacings are plain numbers
that are already expressed in one common unit.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Hashable, Mapping
from typing import Any

from .errors import FactorError, Option, OptionError, SpacingError

__all__ = [
    "MAX_FACTOR",
    "MAX_TARGET_RATIO",
    "ROUNDINGS",
    "check_factor",
    "near_isotropic_factors",
]

ROUNDINGS = ("pow2", "int")

# No array is longer than this, so no larger factor can fit any dimension.
MAX_FACTOR = sys.maxsize

# A target more than this many times the coarsest spacing is refused by
# xiso.near_isotropic_factors as a unit mistake: every dimension would need more
# than a million samples (longer than any microscopy volume) to keep even one,
# while 'mm' written for 'um' or nm read as m gives a ratio of 1e3 to 1e9 and more.
MAX_TARGET_RATIO = 1e6

# A spacing within this relative difference of the target reaches it (the same
# tolerance as a uniform coordinate step, xiso.spacing.SPACING_RTOL): float32
# coordinates with stage offsets give steps such as 0.30000001.
TARGET_RTOL = 1e-3

# Distances closer than this to an exact tie (in log2 for pow2, in samples for
# int) count as a tie, so that float noise in the spacing cannot flip a factor.
_TIE_TOLERANCE = 1e-9


def check_factor(
    factor: Any,
    where: str,
    length: int | None = None,
    boundary: str = "trim",
    short: str | None = None,
) -> int:
    """``factor`` as an int: an integer >= 1 (not a bool); with ``length``, the
    samples of ``where``, one that fits them: at most ``length`` (a factor of 1
    leaves even an empty dim alone) and, with ``boundary="exact"``, dividing it.

    The one rule of a factor, for the labelled and the array layer: ``where``
    names the dim or axis in the messages (``"dimension 'z'"``, ``"axis 0"``),
    ``short`` in the fixes they end with (default: ``where``).

    Raises
    ------
    FactorError
        ``factor`` is not an integer >= 1, or does not fit ``length``.

    Examples
    --------
    >>> check_factor(4, "dimension 'z'", 10)
    4
    >>> check_factor(4, "dimension 'z'", 10, "exact", short="'z'")
    Traceback (most recent call last):
    ...
    xiso.errors.FactorError: dimension 'z' has length 10, which is not a multiple of its factor 4; use boundary='trim' or boundary='pad', or crop 'z' first
    """  # noqa: E501
    if isinstance(factor, bool) or not isinstance(factor, numbers.Integral) or factor < 1:
        raise FactorError(f"the factor of {where} is {factor!r}; it must be an integer >= 1")
    factor = int(factor)
    if length is None:
        return factor
    short = where if short is None else short
    if factor > max(length, 1):
        fix = f"use a factor of at most {length}" if length else "use a factor of 1 (or none)"
        raise FactorError(
            f"{where} has length {length}, smaller than its factor {factor}; {fix} for {short}"
        )
    if boundary == "exact" and length % factor:
        raise FactorError(
            f"{where} has length {length}, which is not a multiple of its factor {factor}; use ",
            Option("boundary", "trim"),
            (" or ", Option("boundary", "pad")),
            f", or crop {short} first",
        )
    return factor


def _check_positive(name: str, value: float, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise SpacingError(
            f"{what} of {name} is {value!r}, which is not a number; pass a positive finite number"
        ) from None
    if not math.isfinite(v) or v <= 0:
        raise SpacingError(
            f"{what} of {name} is {value!r}; it must be positive and finite. "
            "Check the coordinate or pass spacing={...} explicitly"
        )
    return v


def _round_half_down(x: float) -> int:
    """Nearest integer to ``x``, exact ties (within float noise) going down."""
    lower = math.floor(x)
    frac = x - lower
    if frac > 0.5 + _TIE_TOLERANCE:
        return lower + 1
    return lower


def _rounded(ratio: float, rounding: str) -> int:
    """``ratio`` rounded as ``rounding`` says (ties to the smaller), at least 1."""
    if rounding == "pow2":
        return int(2 ** max(0, _round_half_down(math.log2(ratio))))
    return int(max(1, _round_half_down(ratio)))


def _factor(dim: Hashable, step: float, reference: float, of: str, rounding: str) -> int:
    """The factor of ``dim``; ``of`` names where ``reference`` comes from."""
    ratio = reference / step
    factor = _rounded(ratio, rounding) if math.isfinite(ratio) else None
    if factor is None or factor > MAX_FACTOR:
        raise FactorError(
            f"the spacing of dimension {dim!r} is {step!r}, {ratio:.3g} times finer than "
            f"{of}: its factor would be larger than any array can be long "
            f"({MAX_FACTOR}). The spacings are too far apart; check their units "
            f"(e.g. nm read as m) or pass spacing={{{dim!r}: ...}} explicitly"
        )
    return factor


def near_isotropic_factors(
    spacing: Mapping[Hashable, float],
    *,
    rounding: str = "pow2",
    target: float | None = None,
) -> dict[Hashable, int]:
    """Per-dimension integer factors that make voxels near-isotropic.

    Parameters
    ----------
    spacing : mapping of dimension name to float
        Sample spacing of every spatial dimension, all in one unit.
    rounding : {"pow2", "int"}, default "pow2"
        ``"pow2"``: the power of two nearest to the ratio, measured in log2
        (ties go to the smaller factor). ``"int"``: the nearest integer (ties go
        to the smaller factor).
    target : float, optional
        A reference spacing coarser than every dimension's.  Ignored when it is
        not larger than the coarsest spacing (xiso only downsamples); it is
        reached exactly only where it is a whole (pow2: power-of-two) multiple
        of a spacing. :func:`xiso.near_isotropic_factors` warns in both cases
        and refuses a target more than :data:`MAX_TARGET_RATIO` times the
        coarsest spacing; this pure function does neither.

    Returns
    -------
    dict
        Dimension name to factor (at least 1), in the order of ``spacing``.

    Raises
    ------
    SpacingError
        A spacing or the target is zero, negative, NaN or infinite.
    FactorError
        A factor would exceed :data:`MAX_FACTOR` (the spacings are too far
        apart, e.g. 1e-300 and 1.0, usually a unit mistake).
    OptionError
        ``rounding`` is not one of the documented values.

    Notes
    -----
    The reference is the coarsest spacing (or ``target`` when it is larger).
    For every dimension ``ratio = reference / spacing`` and the factor is the
    rounded ratio. Every finer dimension is reduced, not only when exactly one
    is finer:

    ======================  ===================  ==================
    spacing (z, y, x)       pow2 factors         int factors
    ======================  ===================  ==================
    0.25, 1, 1              4, 1, 1              4, 1, 1
    0.3, 1, 1               4, 1, 1  (3.33)      3, 1, 1
    1, 2, 4                 4, 2, 1              4, 2, 1
    0.35, 1, 1              4, 1, 1  (2.86)      3, 1, 1
    0.4, 1, 1               2, 1, 1  (2.5)       2, 1, 1  (tie)
    ======================  ===================  ==================

    Examples
    --------
    >>> near_isotropic_factors({"z": 0.25, "y": 1.0, "x": 1.0})
    {'z': 4, 'y': 1, 'x': 1}
    >>> near_isotropic_factors({"z": 1.0, "y": 2.0, "x": 4.0})
    {'z': 4, 'y': 2, 'x': 1}
    >>> near_isotropic_factors({"z": 0.3, "y": 1.0, "x": 1.0}, rounding="int")
    {'z': 3, 'y': 1, 'x': 1}
    >>> near_isotropic_factors({"z": 0.5, "y": 0.5, "x": 0.5}, target=2.0)
    {'z': 4, 'y': 4, 'x': 4}
    """
    if rounding not in ROUNDINGS:
        raise OptionError(f"rounding={rounding!r} is not supported; use one of {ROUNDINGS!r}")
    if not spacing:
        return {}
    checked = {
        dim: _check_positive(f"dimension {dim!r}", value, "the spacing")
        for dim, value in spacing.items()
    }
    coarsest = max(checked, key=lambda d: checked[d])
    reference = checked[coarsest]
    of = f"the coarsest spacing {reference!r} (of {coarsest!r})"
    if target is not None:
        wanted = _check_positive("target", target, "the value")
        if wanted > reference:
            reference, of = wanted, f"the target {wanted!r}"
    return {dim: _factor(dim, step, reference, of, rounding) for dim, step in checked.items()}
