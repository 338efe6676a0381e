"""Why :func:`xiso.near_isotropic` picks its factors, as a report.

Pure arithmetic on numbers, like :mod:`xiso.factors` (which gives the factors
themselves): spacings, units and sizes in, an :class:`Explanation` out. The
accessor (``da.iso.explain()``) reads those numbers from an xarray object with
:func:`xiso.spacing_info`; nothing here knows about xarray.
"""

from __future__ import annotations

import html
import math
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

from .factors import _TIE_TOLERANCE, TARGET_RTOL, near_isotropic_factors

__all__ = ["DimExplanation", "Explanation", "explain", "format_number"]

_RULES = {
    "pow2": "nearest power of 2 in log2; ties to the smaller",
    "int": "nearest integer; ties to the smaller",
}


def format_number(value: float) -> str:
    """``value`` rounded for reading: 6 significant digits (``1.2000000000000002`` -> ``1.2``)."""
    return f"{value:.6g}"


def _with_unit(value: float, unit: str | None) -> str:
    return format_number(value) if unit is None else f"{format_number(value)} {unit}"


@dataclass(frozen=True)
class DimExplanation:
    """How the factor of one spatial dim was chosen.

    Attributes
    ----------
    dim : hashable
        The dimension.
    size : int
        Its number of samples.
    spacing : float
        Its spacing in its own unit ``unit``.
    unit : str or None
        The unit of its coordinate.
    common_spacing : float
        Its spacing in the common unit (:attr:`Explanation.unit`).
    ratio : float
        Reference spacing / ``common_spacing``: the exact factor.
    tie : bool
        The ratio lies exactly between two candidates; the smaller was taken.
    factor : int
        The rounded ratio, at least 1.
    new_spacing : float
        ``common_spacing * factor``, in the common unit.
    new_size : int
        The size after ``boundary="trim"`` (``size // factor``).
    dropped : int
        Samples ``boundary="trim"`` drops at the end (``size % factor``);
        ``boundary="pad"`` keeps them as a partial last block.
    """

    dim: Hashable
    size: int
    spacing: float
    unit: str | None
    common_spacing: float
    ratio: float
    tie: bool
    factor: int
    new_spacing: float
    new_size: int
    dropped: int


@dataclass(frozen=True)
class Explanation:
    """Why each factor of :func:`xiso.near_isotropic` was chosen.

    ``str()`` gives an aligned text table, ``_repr_html_`` an HTML table (shown
    by Jupyter), :meth:`to_dict` plain values.

    Attributes
    ----------
    dims : tuple of DimExplanation
        One entry per spatial dim, in the object's order.
    unit : str or None
        The common unit (that of the coarsest dim) of the spacings compared.
    rounding : {"pow2", "int"}
        The rounding rule of the ratios.
    reference : float
        The spacing every dim is brought near (common unit).
    coarsest_dim : hashable
        The dim with the coarsest spacing.
    coarsest : float
        Its spacing (common unit).
    target : float or None
        The ``target`` asked for, in the common unit.
    target_status : {"none", "used", "rounded", "ignored"}
        ``"none"``: no target; ``"used"``: the target is the reference and
        every dim reaches it exactly; ``"rounded"``: it is the reference but
        rounded factors miss it on some dims; ``"ignored"``: it is not coarser
        than the coarsest spacing, which stays the reference (a target never
        upsamples).
    anisotropy : float
        Coarsest / finest spacing before.
    residual_anisotropy : float
        Coarsest / finest spacing after applying the factors.
    """

    dims: tuple[DimExplanation, ...]
    unit: str | None
    rounding: str
    reference: float
    coarsest_dim: Hashable
    coarsest: float
    target: float | None
    target_status: str
    anisotropy: float
    residual_anisotropy: float

    @property
    def factors(self) -> dict[Hashable, int]:
        """Dim -> factor, as :func:`xiso.near_isotropic_factors` returns them."""
        return {d.dim: d.factor for d in self.dims}

    @property
    def dropped(self) -> dict[Hashable, int]:
        """Dim -> samples that ``boundary="trim"`` drops."""
        return {d.dim: d.dropped for d in self.dims}

    @property
    def reference_note(self) -> str:
        """Where the reference spacing comes from, in words."""
        coarsest = (
            f"the coarsest spacing {_with_unit(self.coarsest, self.unit)} "
            f"(of {self.coarsest_dim!r})"
        )
        if self.target is None:
            return f"reference: {coarsest}"
        target = f"target {_with_unit(self.target, self.unit)}"
        if self.target_status == "ignored":
            return (
                f"reference: {coarsest}; the {target} is not coarser, so it is ignored "
                "(raised to the coarsest spacing: a target never upsamples)"
            )
        if self.target_status == "rounded":
            missed = ", ".join(
                f"{d.dim} {_with_unit(d.new_spacing, self.unit)}"
                for d in self.dims
                if not math.isclose(d.new_spacing, self.reference, rel_tol=TARGET_RTOL)
            )
            return (
                f"reference: the {target} (coarser than {coarsest}); rounded factors "
                f"give {missed} instead"
            )
        return f"reference: the {target} (coarser than {coarsest}), reached exactly"

    def to_dict(self) -> dict[str, Any]:
        """Plain values: the fields, with ``dims`` as dim -> dict of its fields."""
        return {
            "unit": self.unit,
            "rounding": self.rounding,
            "reference": self.reference,
            "coarsest_dim": self.coarsest_dim,
            "coarsest": self.coarsest,
            "target": self.target,
            "target_status": self.target_status,
            "anisotropy": self.anisotropy,
            "residual_anisotropy": self.residual_anisotropy,
            "dims": {
                d.dim: {
                    "size": d.size,
                    "spacing": d.spacing,
                    "unit": d.unit,
                    "common_spacing": d.common_spacing,
                    "ratio": d.ratio,
                    "tie": d.tie,
                    "factor": d.factor,
                    "new_spacing": d.new_spacing,
                    "new_size": d.new_size,
                    "dropped": d.dropped,
                }
                for d in self.dims
            },
        }

    _HEADER = (
        "dim",
        "size",
        "spacing",
        "ratio",
        "rounding",
        "factor",
        "new spacing",
        "new size",
        "trim drops",
    )

    def _rows(self) -> list[tuple[str, ...]]:
        rows: list[tuple[str, ...]] = []
        for d in self.dims:
            rounded = f"{self.rounding}, tie" if d.tie else self.rounding
            rows.append(
                (
                    str(d.dim),
                    str(d.size),
                    _with_unit(d.spacing, d.unit),
                    format_number(d.ratio),
                    rounded,
                    str(d.factor),
                    _with_unit(d.new_spacing, self.unit),
                    str(d.new_size),
                    str(d.dropped),
                )
            )
        return rows

    def _lines(self) -> tuple[str, str, str]:
        """The title, the reference note and the anisotropy line."""
        rule = _RULES.get(self.rounding, self.rounding)
        title = f"near_isotropic factors, rounding={self.rounding!r} ({rule})"
        aniso = (
            f"anisotropy: {format_number(self.anisotropy)} -> "
            f"{format_number(self.residual_anisotropy)} (coarsest / finest spacing)"
        )
        if self.residual_anisotropy > 1 + 1e-9:  # blocks cannot reach 1: say what can
            aniso += "; exactly 1 with .iso.isotropic()"
        return title, self.reference_note, aniso

    def _too_short(self) -> list[str]:
        """A line per dim shorter than its factor (near_isotropic() refuses those)."""
        return [
            f"{d.dim!r} has {d.size} samples, fewer than its factor {d.factor}: "
            "near_isotropic() raises FactorError"
            for d in self.dims
            if d.factor > max(d.size, 1)
        ]

    def __str__(self) -> str:
        rows = [self._HEADER, *self._rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(self._HEADER))]
        numeric = {1, 3, 5, 7, 8}  # right-aligned columns

        def line(row: tuple[str, ...]) -> str:
            cells = (
                c.rjust(w) if i in numeric else c.ljust(w)
                for i, (c, w) in enumerate(zip(row, widths))
            )
            return "  ".join(cells).rstrip()

        title, note, aniso = self._lines()
        return "\n".join([title, note, *map(line, rows), aniso, *self._too_short()])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        esc = html.escape
        title, note, aniso = self._lines()
        head = "".join(f"<th>{esc(h)}</th>" for h in self._HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in self._rows()
        )
        return (
            f"<div><p>{esc(title)}<br>{esc(note)}</p>"
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p>{'<br>'.join(esc(t) for t in [aniso, *self._too_short()])}</p></div>"
        )


def _is_tie(ratio: float, rounding: str) -> bool:
    x = math.log2(ratio) if rounding == "pow2" else ratio
    return ratio > 1 and abs(x - math.floor(x) - 0.5) <= _TIE_TOLERANCE


def explain(
    spacing: Mapping[Hashable, float],
    sizes: Mapping[Hashable, int],
    *,
    common: Mapping[Hashable, float] | None = None,
    units: Mapping[Hashable, str | None] | None = None,
    unit: str | None = None,
    rounding: str = "pow2",
    target: float | None = None,
) -> Explanation:
    """Explain the factors :func:`xiso.factors.near_isotropic_factors` gives.

    Parameters
    ----------
    spacing : mapping of dim to float
        Spacing of each spatial dim in its own unit (``units``).
    sizes : mapping of dim to int
        Number of samples of each spatial dim.
    common : mapping of dim to float, optional
        The spacings in one common unit ``unit`` (default: ``spacing``).
    units : mapping of dim to str or None, optional
        The unit of each dim's ``spacing`` (default: none).
    unit : str, optional
        The common unit.
    rounding, target
        As in :func:`xiso.factors.near_isotropic_factors` (``target`` in the
        common unit).

    Returns
    -------
    Explanation

    Raises
    ------
    SpacingError, FactorError, OptionError
        As :func:`xiso.factors.near_isotropic_factors`.

    Examples
    --------
    >>> e = explain({"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 10, "y": 4, "x": 4})
    >>> e.factors, e.dropped, e.residual_anisotropy
    ({'z': 4, 'y': 1, 'x': 1}, {'z': 2, 'y': 0, 'x': 0}, 1.0)
    """
    common = dict(spacing if common is None else common)
    factors = near_isotropic_factors(common, rounding=rounding, target=target)
    if not factors:
        return Explanation((), unit, rounding, math.nan, None, math.nan, target, "none", 1.0, 1.0)
    coarsest_dim = max(common, key=lambda d: common[d])
    coarsest = float(common[coarsest_dim])
    reference = coarsest
    status = "none"
    if target is not None:
        if target > coarsest or math.isclose(target, coarsest, rel_tol=TARGET_RTOL):
            reference = float(target)
            exact = all(
                math.isclose(common[d] * f, reference, rel_tol=TARGET_RTOL)
                for d, f in factors.items()
            )
            status = "used" if exact else "rounded"
        else:
            status = "ignored"
    units = dict(units or {})
    dims = []
    for d, f in factors.items():
        step = float(common[d])
        n = int(sizes[d])
        ratio = reference / step
        dims.append(
            DimExplanation(
                dim=d,
                size=n,
                spacing=float(spacing[d]),
                unit=units.get(d),
                common_spacing=step,
                ratio=ratio,
                tie=_is_tie(ratio, rounding),
                factor=f,
                new_spacing=step * f,
                new_size=n // f,
                dropped=n % f,
            )
        )
    before = [d.common_spacing for d in dims]
    after = [d.new_spacing for d in dims]
    return Explanation(
        dims=tuple(dims),
        unit=unit,
        rounding=rounding,
        reference=reference,
        coarsest_dim=coarsest_dim,
        coarsest=coarsest,
        target=None if target is None else float(target),
        target_status=status,
        anisotropy=max(before) / min(before),
        residual_anisotropy=max(after) / min(after),
    )
