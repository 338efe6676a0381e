"""Which dimensions are spatial, and their sample spacing and units.

Spacing is read from each spatial dimension's 1-D coordinate; units come from
the coordinate attrs ``units`` (or ``unit``) and are parsed in
:mod:`xiso.units` (pint, imported only for uncommon unit strings).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from . import encodings
from .axes import has_role
from .errors import (
    MissingCoordinateError,
    NonUniformSpacingError,
    SpacingError,
    SpatialDimError,
    UnitError,
)
from .units import (
    check_length,
    from_metres,
    is_quantity,
    length_unit,
    ngff_name,
    parse_quantity,
    to_metres,
    unit_registry,
)

__all__ = [
    "PURPOSES",
    "SPACING_RTOL",
    "SpacingInfo",
    "coordinate_step",
    "given_spacing",
    "nominal_step",
    "read_spacing",
    "recorded_spacing",
    "signed_step",
    "spatial_dims",
    "unit_registry",
]

SPACING_RTOL = 1e-3

XarrayObject = xr.DataArray | xr.Dataset


def _coord_attrs(obj: XarrayObject, dim: Hashable) -> Mapping[Any, Any]:
    return obj.coords[dim].attrs if dim in obj.coords else {}


def _is_spatial(obj: XarrayObject, dim: Hashable) -> bool:
    """Whether ``dim`` is spatial by the axis criteria of :mod:`xiso.axes`."""
    return has_role(dim, _coord_attrs(obj, dim), "space")


def spatial_dims(obj: XarrayObject, dims: Iterable[Hashable] | None = None) -> tuple[Hashable, ...]:
    """The spatial dimensions of ``obj``, in the order of ``obj.dims``.

    By default: dims named x, y or z (any case), and dims whose coordinate has
    attrs ``axis`` in X/Y/Z (CF) or ``type == "space"`` (NGFF). ``dims``
    overrides the choice.
    """
    if dims is not None:
        if isinstance(dims, str) or not isinstance(dims, Iterable):
            dims = [dims]
        chosen = list(dims)
        for d in chosen:
            if d not in obj.dims:
                raise SpatialDimError(
                    f"dims contains {d!r}, which is not a dimension of this object "
                    f"(its dims are {tuple(obj.dims)!r}); pass existing dimension names"
                )
        return tuple(d for d in obj.dims if d in chosen)
    found = tuple(d for d in obj.dims if _is_spatial(obj, d))
    if not found:
        raise SpatialDimError(
            f"found no spatial dimension among {tuple(obj.dims)!r}; name them x/y/z, "
            "give their coordinates attrs axis='X'/'Y'/'Z', or pass dims=[...]"
        )
    return found


def coordinate_unit(obj: XarrayObject, dim: Hashable) -> str | None:
    """The unit string of ``dim``'s coordinate attrs, or None."""
    attrs = _coord_attrs(obj, dim)
    for key in ("units", "unit"):
        value = attrs.get(key)
        if value not in (None, ""):
            return str(value)
    return None


# what a step is read for: "spacing" (the spacing of a dim, which ``spacing=``
# can give instead: the errors offer it), or the positions of the samples,
# which new samples are placed from: "resample" (an exact grid) or "upsample"
PURPOSES = ("spacing", "resample", "upsample")

# why a coordinate unfit for ``purpose`` stops it, in errors
_CANNOT = {
    "resample": "it has no grid to resample from",
    "upsample": "the upsampled samples cannot be placed",
}


def recorded_spacing(var: xr.Variable | xr.DataArray) -> float | None:
    """The positive, finite ``encoding["spacing"]`` of a coordinate (recorded
    where it was read or made: opened OME-Zarr levels, downsample), or None."""
    recorded = encodings.spacing(var)
    if recorded is not None and np.isfinite(recorded) and recorded > 0:
        return float(recorded)
    return None


def nominal_step(var: xr.Variable) -> float | None:
    """The sample spacing of a 1-D numeric coordinate as recorded, else from its
    first and last values (not checked for uniformity), or None."""
    recorded = recorded_spacing(var)
    if recorded is not None:
        return recorded
    if var.dtype.kind not in "iuf" or var.size < 2:
        return None
    values = np.asarray(var.values, dtype=np.float64)
    step = abs(float(values[-1] - values[0]) / (values.size - 1))
    return step if np.isfinite(step) and step > 0 else None


def _check_finite(dim: Hashable, values: np.ndarray, purpose: str) -> None:
    """Raise :class:`SpacingError` at the first NaN or infinite coordinate value."""
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        found = (
            f"the coordinate of dimension {dim!r} holds {float(values[i])} at position {i} "
            f"({bad.size} of its {values.size} values are NaN or infinite)"
        )
        assign = f"assign finite values (obj.assign_coords({dim}=np.arange(n) * step))"
        if purpose == "spacing":
            raise SpacingError(
                f"{found}, so no spacing can be read from it; {assign} or pass "
                f"spacing={{{dim!r}: step}}"
            )
        raise SpacingError(f"{found}, so {_CANNOT[purpose]}; {assign}")


def coordinate_step(obj: XarrayObject, dim: Hashable, *, purpose: str = "spacing") -> float:
    """The absolute step of ``dim``'s 1-D coordinate, which must be uniform
    (see :func:`signed_step`; ``purpose`` words the errors).

    Raises
    ------
    MissingCoordinateError
        ``dim`` has no coordinate.
    SpacingError
        The coordinate is not numeric, holds NaN or infinite values, has fewer
        than two samples (and no recorded spacing) or a zero step.
    NonUniformSpacingError
        The coordinate is not evenly spaced (within :data:`SPACING_RTOL`).
    """
    if dim not in obj.coords:
        assign = f"assign one (obj.assign_coords({dim}=np.arange(n) * step))"
        fix = (
            f"{assign} or pass spacing={{{dim!r}: step}}"
            if purpose == "spacing"
            else f"{assign}: new samples are placed at positions computed from it"
        )
        raise MissingCoordinateError(
            f"dimension {dim!r} has no coordinate to read its spacing from; {fix}"
        )
    return abs(signed_step(dim, obj.coords[dim].variable, purpose=purpose))


def signed_step(dim: Hashable, var: xr.Variable, *, purpose: str = "spacing") -> float:
    """The step of ``var``, the 1-D coordinate of ``dim``, with its sign (negative
    where it descends): numeric, finite, non-zero and evenly spaced (within
    :data:`SPACING_RTOL`); a single sample takes its :func:`recorded_spacing`.

    ``purpose`` (one of :data:`PURPOSES`) is what the step is read for, and so
    what the errors say: ``"spacing"`` offers ``spacing={dim: step}`` instead
    of the coordinate; ``"resample"`` and ``"upsample"`` need its positions.

    Raises
    ------
    SpacingError
        The coordinate is not numeric, holds NaN or infinite values, has fewer
        than two samples (and no recorded spacing) or a zero step.
    NonUniformSpacingError
        The coordinate is not evenly spaced.
    """
    if purpose not in PURPOSES:
        raise ValueError(f"purpose={purpose!r} is not one of {PURPOSES!r}")
    cannot = _CANNOT.get(purpose)
    if var.dtype.kind not in "iuf":
        found = f"the coordinate of dimension {dim!r} has dtype {var.dtype}, not a number"
        if cannot is None:
            raise SpacingError(
                f"{found}; pass spacing={{{dim!r}: step}} or assign a numeric coordinate"
            )
        raise SpacingError(
            f"{found}, so {cannot}; assign a numeric coordinate to {dim!r} (or drop it: "
            f"obj.drop_vars({dim!r}))"
        )
    values = np.asarray(var.values, dtype=np.float64)
    _check_finite(dim, values, purpose)
    n = values.size
    recorded = recorded_spacing(var)
    if n < 2 and recorded is not None:
        # a single sample: the spacing recorded when it was read (e.g. NGFF scale)
        return recorded
    if n < 2:
        if cannot is None:
            raise SpacingError(
                f"dimension {dim!r} has {n} sample(s), too few to read a spacing from its "
                f"coordinate; pass spacing={{{dim!r}: step}}"
            )
        raise SpacingError(
            f"dimension {dim!r} has {n} sample(s) and no recorded spacing, so {cannot} (the "
            f"cell of a single sample is unknown); record it with "
            f"obj[{dim!r}].encoding['spacing'] = step"
        )
    step = float((values[-1] - values[0]) / (n - 1))
    if not np.isfinite(step) or step == 0:
        fix = f"Fix the coordinate or pass spacing={{{dim!r}: step}}"
        raise SpacingError(
            f"the coordinate of dimension {dim!r} has a step of {step!r}; it must be "
            f"non-zero and finite. {fix if cannot is None else 'Fix the coordinate'}"
        )
    diffs = np.diff(values)
    if not np.all(np.abs(diffs - step) <= SPACING_RTOL * abs(step)):
        found = (
            f"the coordinate of dimension {dim!r} is not evenly spaced (steps from "
            f"{float(diffs.min())!r} to {float(diffs.max())!r}"
        )
        fix = {
            "spacing": f", mean {step!r}); resample it onto a regular grid, or pass "
            f"spacing={{{dim!r}: step}} to use a nominal spacing",
            "resample": f"), so {cannot}; interpolate it onto an evenly spaced one first "
            f"(e.g. obj.interp({dim}=...))",
            "upsample": "), so it has no cells to split; resample it onto a regular grid "
            "first, or use downsample",
        }[purpose]
        raise NonUniformSpacingError(found + fix)
    return step


@dataclass(frozen=True)
class SpacingInfo:
    """Spacing of the spatial dims of an object.

    Attributes
    ----------
    native : dict
        Spacing of each dim in its own coordinate unit.
    units : dict
        Unit string of each dim (None where there are no units).
    common : dict
        Spacing of each dim in ``unit`` (equal to ``native`` without units).
    unit : str or None
        The common unit: that of the coarsest dimension.
    """

    native: dict[Hashable, float]
    units: dict[Hashable, str | None]
    common: dict[Hashable, float]
    unit: str | None


def given_spacing(
    dim: Hashable, value: Any, unit: str | None, *, ngff: bool = False
) -> tuple[float, str | None]:
    """A ``spacing=`` value for ``dim`` as (step, unit): the rule of every
    ``spacing=`` argument, for coordinates (:func:`read_spacing`) and for the
    readers (``ngff=True``).

    Parameters
    ----------
    dim : hashable
        The dimension, named in the errors.
    value : number, str or pint.Quantity
        A number (in ``unit``), a string such as ``'2 um'``, or a pint
        quantity (a dimensionless one counts as a number).
    unit : str or None
        The unit of a plain number: the coordinate's, or the one the file gives.
    ngff : bool, default False
        The unit of a quantity must have an NGFF name (a length, or a time for
        ``'t'``) and is returned as that name; otherwise it must be a length
        and is returned as pint names it.

    Raises
    ------
    UnitError
        ``value`` cannot be parsed, or its unit is not one allowed.
    SpacingError
        ``value`` is neither a number nor a quantity, or is not positive and
        finite.
    """
    given = value
    if isinstance(value, str):
        value = parse_quantity(value)
        if value is None:
            raise UnitError(
                f"spacing of {dim!r} is {given!r}, which cannot be parsed; pass a number "
                "or a quantity such as '2 um'"
            )
    if is_quantity(value) and not value.dimensionless:
        step = float(value.magnitude)
        if not ngff:
            length_unit(dim, f"{value.units:~}")
            unit = f"{value.units}"
        else:
            unit = ngff_name(f"{value.units}")
            if unit is None:
                raise UnitError(
                    f"spacing of {dim!r} is {given!r}; pass a length (or a time for 't') "
                    "in a unit such as 'um', 'nm', 'mm' or 's'"
                )
    else:
        try:
            step = float(value.magnitude if is_quantity(value) else value)
        except (TypeError, ValueError):
            raise SpacingError(
                f"spacing of {dim!r} is {given!r}; pass a positive number or a quantity "
                "such as '2 um'"
            ) from None
    if not np.isfinite(step) or step <= 0:
        raise SpacingError(f"spacing of {dim!r} is {given!r}; it must be positive and finite")
    return step, unit


def read_spacing(
    obj: XarrayObject,
    dims: Iterable[Hashable],
    spacing: Mapping[Hashable, Any] | None = None,
    *,
    purpose: str = "spacing",
) -> SpacingInfo:
    """Read the spacing and units of ``dims`` from ``obj``'s coordinates.

    ``spacing`` overrides the coordinate of a dim: a number (in the
    coordinate's unit when it has one), a string such as ``"250 nm"`` or a pint
    quantity. ``purpose`` words the errors (see :func:`signed_step`).
    """
    dims = tuple(dims)
    spacing = dict(spacing or {})
    for d in spacing:
        if d not in dims:
            raise SpatialDimError(
                f"spacing names {d!r}, which is not one of the spatial dims {dims!r}; "
                "pass dims=[...] to choose the spatial dims"
            )
    native: dict[Hashable, float] = {}
    units: dict[Hashable, str | None] = {}
    for d in dims:
        unit = coordinate_unit(obj, d)
        if d in spacing:
            step, unit = given_spacing(d, spacing[d], unit)
        else:
            step = coordinate_step(obj, d, purpose=purpose)
        if unit is not None:
            check_length(d, unit)
        native[d] = step
        units[d] = unit
    with_units = [d for d in dims if units[d] is not None]
    if not with_units:
        return SpacingInfo(native, units, dict(native), None)
    if len(with_units) != len(dims):
        missing = [d for d in dims if units[d] is None]
        raise UnitError(
            f"dimensions {with_units!r} have units but {missing!r} have none, so their "
            "spacings cannot be compared; set attrs['units'] on every spatial coordinate "
            "or remove them from all"
        )
    metres = {d: to_metres(d, native[d], str(units[d])) for d in dims}
    coarsest = max(dims, key=lambda d: metres[d])
    ref_unit = str(units[coarsest])
    common = {d: from_metres(coarsest, metres[d], ref_unit) for d in dims}
    return SpacingInfo(native, units, common, units[coarsest])


def to_common_unit(value: Any, info: SpacingInfo, name: str = "target") -> float:
    """Express ``value`` (a number in the common unit, a string or a quantity)
    in ``info.unit``; ``name`` is what the errors call it (``"target"``,
    ``"spacing"``).

    Raises
    ------
    UnitError
        ``value`` cannot be parsed, is a quantity that is not a length, or has
        a unit where the coordinates have none.
    SpacingError
        ``value`` is neither a number nor a quantity.
    """
    given = value
    if isinstance(value, str):
        parsed = parse_quantity(value)
        if parsed is None:
            raise UnitError(f"{name} {value!r} cannot be parsed; pass a number or '1 um'")
        value = parsed
    if is_quantity(value):
        if value.dimensionless:
            return float(value.magnitude)
        if not value.is_compatible_with("meter"):
            fix = (
                f"a length such as '2 um', or a plain number in {info.unit!r}"
                if info.unit is not None
                else "a plain number (the spatial coordinates have no units)"
            )
            raise UnitError(
                f"{name} {given!r} is a {value.dimensionality} quantity, not a length; pass {fix}"
            )
        if info.unit is None:
            raise UnitError(
                f"{name} {value!r} has a unit but the spatial coordinates have none; "
                "pass a plain number or set attrs['units'] on the coordinates"
            )
        return float(value.to(length_unit(name, info.unit)).magnitude)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SpacingError(f"{name} is {value!r}; pass a positive number or '1 um'") from None
