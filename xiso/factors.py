"""Pure arithmetic: per-dimension spacings in, per-dimension integer factors out.

Nothing here knows about arrays or xarray objects; spacings are plain numbers
that are already expressed in one common unit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

from .errors import OptionError, SpacingError

__all__ = ["near_isotropic_factors", "ROUNDINGS"]

ROUNDINGS = ("pow2", "int")

# Distances closer than this to an exact tie (in log2 for pow2, in samples for
# int) count as a tie, so that float noise in the spacing cannot flip a factor.
_TIE_TOLERANCE = 1e-9


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
        not larger than the coarsest spacing.

    Returns
    -------
    dict
        Dimension name to factor (at least 1), in the order of ``spacing``.

    Raises
    ------
    SpacingError
        A spacing or the target is zero, negative, NaN or infinite.
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
    reference = max(checked.values())
    if target is not None:
        reference = max(reference, _check_positive("target", target, "the value"))
    factors: dict[Hashable, int] = {}
    for dim, step in checked.items():
        ratio = reference / step
        if rounding == "pow2":
            factor = 2 ** max(0, _round_half_down(math.log2(ratio)))
        else:
            factor = max(1, _round_half_down(ratio))
        factors[dim] = int(factor)
    return factors
