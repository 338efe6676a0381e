"""Labelled layer of exact resampling: resample, isotropic and resample_like.

Where :func:`~xiso.downsample` reduces by whole blocks, these put the data on
a grid of exactly the requested spacing (any ratio, finer or coarser) and
bring results back onto another object's grid. Dimension names become axes
and spacings become :class:`~xiso.grid.AxisPlan` objects here; the numbers
are computed by :mod:`xiso.interp`.

The grid
--------
A dim of ``n`` samples, spacing ``s`` and first sample ``c0`` covers the field
of view ``[c0 - s/2, c0 + (n - 1/2) s]`` (length ``L = n s``). Resampled to
``s'`` it has ``n' = max(1, round(L / s'))`` samples (ties to the smaller),
spacing exactly ``s'``, centred on that field of view: the first sample is
at ``c0 - s/2 + (L - n' s') / 2 + s'/2``. Where ``s'`` is a whole number ``f``
of input samples and the centred cells start on an input cell, these are
the blocks of ``downsample(f)``, and the coordinates are computed as it does
(block means of the input coordinates).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from . import grid
from .blocks import (
    _label_reason,
    _layout_free,
    _rebuild,
    _signed_step,
    spacing_info,
    warn,
)
from .errors import (
    DtypeError,
    FactorError,
    MissingCoordinateError,
    NonUniformSpacingError,
    Option,
    OptionError,
    SpacingError,
    SpatialDimError,
    UnitError,
)
from .factors import MAX_TARGET_RATIO
from .interp import resample_array
from .methods import get, output_dtype
from .reduce import block_reduce, parse_dtype
from .spacing import SpacingInfo, coordinate_unit, to_common_unit
from .units import from_metres, to_metres

__all__ = ["isotropic", "resample", "resample_like"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


@dataclass(frozen=True)
class _Axis:
    """The new grid of one dim: its plans (one per method used) are made on demand."""

    dim: Hashable
    n: int
    n_out: int
    start: Fraction
    ratio: Fraction
    values: np.ndarray  # the output coordinate
    spacing: float  # the output spacing (positive), recorded in encoding["spacing"]
    reverse: bool = False  # the output runs against the input
    descending: bool = False  # the input coordinate descends

    def plan(self, method: str, antialias: bool) -> grid.AxisPlan:
        # nearest: a centre on a cell edge takes the lower coordinate, so a
        # descending axis takes the upper index (flipping commutes with resampling)
        ties = "upper" if self.descending else "lower"
        plan = grid.plan_axis(
            self.n, self.n_out, self.start, self.ratio, method, antialias=antialias, ties=ties
        )
        return plan.reversed() if self.reverse else plan

    @property
    def identity(self) -> bool:
        return self.n == self.n_out and self.ratio == 1 and self.start == 0 and not self.reverse

    @property
    def block(self) -> tuple[int, int] | None:
        """``(offset, f)`` when the new cells are whole blocks of ``f`` input cells."""
        if self.reverse:
            return None
        return grid.whole_blocks(self.n, self.n_out, self.start, self.ratio)


def _refuse_tree(obj: Any, func: str) -> None:
    """A DataTree's nodes are resampled one by one, by the user's choice of nodes."""
    if isinstance(obj, xr.DataTree):
        raise TypeError(
            f"{func}() takes a DataArray or Dataset, got a DataTree; resample its nodes "
            f"with tree.map_over_datasets(lambda ds: ds.iso.{func}(...)) (a pyramid's "
            "levels are better made again from the resampled level 0: .iso.pyramid())"
        )


def _coordinate(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> xr.Variable:
    if dim not in obj.coords:
        raise SpatialDimError(
            f"dimension {dim!r} has no coordinate, so its samples have no positions to "
            f"resample from; assign one, e.g. obj.assign_coords({dim}=np.arange(n) * step)"
        )
    return obj.coords[dim].variable


def _centred_axis(obj: xr.DataArray | xr.Dataset, dim: Hashable, spacing: float) -> _Axis:
    """The grid of spacing ``spacing`` (in the coordinate's unit) centred on the
    field of view of ``dim``."""
    var = _coordinate(obj, dim)
    step = _grid_of(obj, dim, var)
    n = obj.sizes[dim]
    _check_spacing(dim, spacing)
    ratio = grid.as_fraction(spacing / abs(step))
    _check_ratio(dim, float(ratio), abs(step), spacing)
    n_out = grid.output_length(n, ratio)
    start = grid.centred_start(n, n_out, ratio)
    axis = _Axis(dim, n, n_out, start, ratio, np.empty(0), spacing, descending=step < 0)
    values = np.asarray(var.values, dtype=np.float64)
    if axis.identity:
        return _Axis(dim, n, n_out, start, ratio, values, spacing, descending=step < 0)
    block = axis.block
    if block is not None and values.size:  # the block centres, as downsample computes them
        offset, f = block
        piece = values[offset : offset + n_out * f]
        centres = block_reduce(piece, {0: f}, method="mean", skipna=False)
    else:
        first = values[0] + float(start + ratio / 2 - Fraction(1, 2)) * step
        centres = first + np.arange(n_out) * np.copysign(spacing, step)
    return _Axis(dim, n, n_out, start, ratio, centres, spacing, descending=step < 0)


# a result this many times the input's size (and above MAX_RESULT_ELEMENTS) is
# taken for a unit mistake
MAX_GROWTH = 1000
MAX_RESULT_ELEMENTS = 2**31


def _check_spacing(dim: Hashable, spacing: float) -> None:
    if not np.isfinite(spacing) or spacing <= 0:
        raise FactorError(
            f"the spacing asked of dimension {dim!r} is {spacing!r}; it must be a positive, "
            "finite length"
        )


def _check_size(obj: xr.DataArray | xr.Dataset, axes: Mapping[Hashable, _Axis]) -> None:
    """A FactorError when the result would be absurdly larger than ``obj``."""
    growth = math.prod(a.n_out / a.n for a in axes.values() if a.n)
    largest = max(
        (math.prod(v.shape) for v in _data_variables(obj).values() if _touches(v, axes)),
        default=0,
    )
    if growth > MAX_GROWTH and largest * growth > MAX_RESULT_ELEMENTS:
        shown = ", ".join(f"{d!r} {a.n} -> {a.n_out}" for d, a in axes.items() if a.n_out > a.n)
        raise FactorError(
            f"the result would be {growth:.3g} times larger than the data ({shown} samples); "
            "check the spacing's unit: a plain number is in the unit of the coarsest "
            "spatial coordinate (pass a quantity such as '250 nm' to be sure), or resample "
            "fewer dims with dims=[...]"
        )


def _check_ratio(dim: Hashable, ratio: float, step: float, spacing: float) -> None:
    if not 1 / MAX_TARGET_RATIO <= ratio <= MAX_TARGET_RATIO:
        raise FactorError(
            f"the spacing asked of dimension {dim!r} ({spacing:g}) is {ratio:.3g} times its "
            f"spacing ({step:g}); check the units of the spacing (e.g. '1 um', not '1 m')"
        )


def _method_of(
    name: Hashable, var: xr.Variable, axes: Mapping[Hashable, _Axis], method: str | None
) -> str:
    """``method``, or the default for one variable: ``nearest`` for what looks
    like labels and for booleans (masks), else ``linear`` if a dim is made finer,
    else ``area``."""
    if method is not None:
        return get(method, "grid").name
    if var.dtype.kind == "b" or _label_reason(name, var):
        return "nearest"
    return "linear" if any(a.ratio < 1 for a in axes.values()) else "area"


def _what(name: Hashable) -> str:
    return "the DataArray" if name is None else f"variable {name!r}"


def _data_variables(obj: xr.DataArray | xr.Dataset) -> dict[Hashable, xr.Variable]:
    if isinstance(obj, xr.DataArray):
        return {obj.name: obj.variable}
    return {k: v.variable for k, v in obj.data_vars.items()}


def _touches(var: xr.Variable, axes: Mapping[Hashable, _Axis]) -> bool:
    return any(d in var.dims for d in axes)


def _warn_labels(name: Hashable, var: xr.Variable, method: str, dtype: Any) -> None:
    """Warn when ``var`` looks like labels and ``method`` averages or ``dtype`` is a float."""
    to_float = dtype is not None and np.dtype(dtype).kind in "fc"
    invents = not get(method, "grid").label_safe
    reason = _label_reason(name, var) if invents or to_float else None
    if reason is None:
        return
    harm = (
        (Option("method", method), " invents labels that do not exist")
        if invents
        else (Option("dtype", np.dtype(dtype).name), " turns its labels into floats")
    )
    warn(
        f"{name!r} looks like a label image ({reason}); ",
        harm,
        ": use ",
        Option("method", "nearest"),
        (" and leave ", Option("dtype", text="dtype"), " unset"),
    )


def _apply(
    obj: T,
    axes: Mapping[Hashable, _Axis],
    method: str | None,
    dtype: Any,
    antialias: bool,
    skipna: bool | None,
    coords_from: Mapping[Hashable, xr.Variable] | None = None,
) -> T:
    if method is not None:
        get(method, "grid")  # OptionError before anything else
    dtype = None if dtype is None else parse_dtype(dtype)
    # dims whose grid does not change are not computed (every method gives the samples)
    moved = {d: a for d, a in axes.items() if not a.identity}
    _check_size(obj, axes)
    plans: dict[str, dict[Hashable, grid.AxisPlan]] = {}

    def plans_of(how: str) -> dict[Hashable, grid.AxisPlan]:
        if how not in plans:  # one set per method used (variables may differ)
            plans[how] = {d: a.plan(how, antialias) for d, a in moved.items()}
        return plans[how]

    def data_of(name: Hashable, var: xr.Variable) -> xr.Variable:
        if not _touches(var, axes):
            return var
        how = _method_of(name, var, axes, method)
        try:
            output_dtype(var.dtype, how, "grid", dtype)
        except DtypeError as err:
            raise DtypeError(f"{_what(name)}: {err}") from None
        _warn_labels(name, var, how, dtype)
        mine = {var.get_axis_num(d): p for d, p in plans_of(how).items() if d in var.dims}
        data = resample_array(var.data, mine, dtype=dtype, skipna=skipna)
        encoding = _layout_free(var.encoding, dtype_changed=data.dtype != var.dtype)
        return xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)

    def coord_of(name: Hashable, var: xr.Variable) -> xr.Variable:
        if coords_from is not None and name in coords_from and var.dims == (name,):
            return coords_from[name]
        if not _touches(var, moved):
            return var
        if var.dims == (name,) and name in axes:
            encoding = _layout_free(var.encoding, dtype_changed=True)
            encoding.pop("dtype", None)
            encoding["spacing"] = axes[name].spacing
            return xr.Variable(var.dims, axes[name].values, dict(var.attrs), encoding)
        # other coordinates along resampled dims: the nearest sample's value
        mine = {var.get_axis_num(d): p for d, p in plans_of("nearest").items() if d in var.dims}
        data = resample_array(var.data, mine, dtype=var.dtype)
        return xr.Variable(var.dims, data, dict(var.attrs), _layout_free(var.encoding, False))

    return _rebuild(obj, data_of, coord_of)


def _tidy(value: float) -> float:
    """A length after a unit conversion, to 12 significant digits: '1 um' in nm
    is 1000.0, not 999.9999999999999 (the float error of the factors)."""
    return float(f"{value:.12g}")


def _common(value: Any, info: SpacingInfo) -> float:
    """A requested spacing in the common unit (see :func:`to_common_unit`),
    with its errors worded for a spacing (they say "target" there)."""
    try:
        common = to_common_unit(value, info)
    except (UnitError, SpacingError) as err:
        raise type(err)(str(err).replace("target", "spacing", 1)) from None
    return common if isinstance(value, (int, float, np.number)) else _tidy(common)


def _grid_of(obj: xr.DataArray | xr.Dataset, dim: Hashable, var: xr.Variable) -> float:
    """The signed step of ``var``, the coordinate of ``dim`` in ``obj`` (or in the
    object whose grid is wanted), with errors worded for resampling."""
    try:
        return _signed_step(dim, var)
    except SpacingError as err:
        raise _reworded(err, dim, var) from None


def _reworded(err: SpacingError, dim: Hashable, var: xr.Variable | None) -> SpacingError:
    """``err`` (worded for blocks or upsampling) worded for exact resampling, where
    ``spacing=`` is the spacing asked for and there are no blocks."""
    if isinstance(err, NonUniformSpacingError) and var is not None:
        steps = np.diff(np.asarray(var.values, dtype=np.float64))
        return NonUniformSpacingError(
            f"the coordinate of dimension {dim!r} is not evenly spaced (steps from "
            f"{float(steps.min())!r} to {float(steps.max())!r}), so it has no grid to "
            f"resample from; interpolate it onto an evenly spaced one first (e.g. "
            f"obj.interp({dim}=...))"
        )
    text = str(err)
    if "pass spacing=" in text or "cannot be placed" in text:
        return type(err)(
            f"dimension {dim!r} has a single sample and no recorded spacing, so its "
            f"cell is unknown; record it with obj[{dim!r}].encoding['spacing'] = step"
        )
    return err


def _spacing_info(obj: xr.DataArray | xr.Dataset, dims: Any) -> SpacingInfo:
    """:func:`spacing_info`, with errors worded for resampling (there,
    ``spacing=`` is the spacing asked for, not the input's)."""
    try:
        return spacing_info(obj, dims=dims)
    except MissingCoordinateError as err:
        text = str(err).split(" or pass spacing=")[0]
        raise MissingCoordinateError(
            f"{text}: resampling puts new samples at positions computed from it"
        ) from None
    except SpacingError as err:
        dim = next((d for d in obj.dims if f"dimension {d!r}" in str(err)), None)
        var = obj.coords[dim].variable if dim is not None and dim in obj.coords else None
        raise _reworded(err, dim, var) from None


def _native(value: float, info: SpacingInfo, dim: Hashable) -> float:
    """``value`` in ``info.unit`` expressed in the unit of ``dim``'s coordinate."""
    unit = info.units[dim]
    if info.unit is None or unit is None or unit == info.unit:
        return value
    return _tidy(from_metres(dim, to_metres(dim, value, info.unit), unit))


def resample(
    obj: T,
    spacing: Any,
    *,
    dims: Iterable[Hashable] | None = None,
    method: str | None = None,
    dtype: Any = None,
    antialias: bool = True,
    skipna: bool | None = None,
) -> T:
    """Resample spatial dims of ``obj`` to exactly ``spacing``, on a grid centred
    on the field of view (the grid is drawn in the docs' concepts page, "Exact
    resampling": ``n' = max(1, round(n s / s'))`` samples, centred).

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed (a dask input gives a lazy result).
    spacing : number, str, quantity or mapping
        The new spacing: a number in the unit of the coarsest spatial
        coordinate (the unit :func:`xiso.spacing_info` reports), a quantity
        such as ``"1 um"``, or a mapping of dim to either for per-dim spacings.
    dims : iterable of hashable, optional
        The dims to resample (with a scalar ``spacing``); default: all spatial
        dims. With a mapping, its keys are the dims.
    method : {"area", "nearest", "linear", "cubic"}, optional
        ``area`` averages the input over each new cell, weighting every input
        cell by its overlap (exact on integers up to 32 bits; the total is
        kept where ``n' s' = n s``; the block mean where the ratio is a whole
        number); ``nearest`` takes the input sample whose cell holds the new
        centre (on an edge, the lower coordinate) and never invents a value;
        ``linear`` and ``cubic`` interpolate (B-spline order 1 and 3, as
        ``scipy.ndimage``) after a Gaussian anti-aliasing prefilter along the
        reduced dims. Default, per variable: ``nearest`` for what looks like a
        label image and for booleans (masks), else ``linear`` if a dim is made
        finer, else ``area``.
    dtype : dtype, optional
        Output dtype of the resampled data variables; by default the input's
        (integers rounded half to even and clipped, never truncated).
    antialias : bool, default True
        ``linear`` and ``cubic``: smooth each reduced dim first by a Gaussian
        of ``sigma = (ratio - 1) / 2`` input samples, as scikit-image does.
    skipna : bool, optional
        ``area`` on floats: average the non-NaN inputs of each cell (default
        True for floats, as :func:`downsample`).

    Returns
    -------
    DataArray or Dataset
        A new object; resampled dims have the new coordinates (their
        ``encoding["spacing"]`` is the new spacing); non-index coordinates
        along them take the nearest sample's value; attrs, names and other
        dims are kept.

    Raises
    ------
    SpatialDimError
        A dim is not spatial or has no coordinate.
    FactorError
        The spacing is not positive, or absurdly far from the data's.
    OptionError, DtypeError
        An unknown method, or a dtype the method cannot compute.
    UnitError
        The spacing's unit is not a length, or the coordinates have none.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(10.0), dims="z", coords={"z": np.arange(10) * 0.3})
    >>> out = resample(da, 1.0)
    >>> out.z.values  # 3 samples of 1.0 centred on the 3.0 field of view
    array([0.35, 1.35, 2.35])
    >>> out.values    # each the average over its cell, weighted by overlap
    array([1.2, 4.5, 7.8])
    """
    _refuse_tree(obj, "resample")
    if isinstance(spacing, Mapping):
        if dims is not None:
            raise OptionError("pass the dims either as the keys of spacing or as dims=, not both")
        wanted = dict(spacing)
        info = _spacing_info(obj, list(wanted))
    else:
        info = _spacing_info(obj, dims)
        wanted = {d: spacing for d in info.native}
    axes = {}
    for dim, value in wanted.items():
        axes[dim] = _centred_axis(obj, dim, _native(_common(value, info), info, dim))
    return _apply(obj, axes, method, dtype, antialias, skipna)


def isotropic(
    obj: T,
    *,
    spacing: Any = None,
    dims: Iterable[Hashable] | None = None,
    method: str | None = None,
    dtype: Any = None,
    antialias: bool = True,
    skipna: bool | None = None,
) -> T:
    """Resample every spatial dim of ``obj`` to one spacing, exactly: the
    coarsest input spacing, or ``spacing``.

    The exact sibling of :func:`near_isotropic`, which can only reach whole
    multiples of the input spacing: z 0.3 / y, x 1.0 becomes z, y, x 1.0 here
    (1.2 there). It is :func:`resample` with one spacing for all spatial dims;
    dims already at that spacing are left exactly as they are.

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed.
    spacing : number, str or quantity, optional
        The common spacing; default: the coarsest spatial spacing.
    dims, method, dtype, antialias, skipna
        As in :func:`resample`.

    Returns
    -------
    DataArray or Dataset
        As :func:`resample`.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((10, 3), "uint16"), dims=("z", "y"),
    ...                   coords={"z": np.arange(10) * 0.3, "y": [0.0, 1.0, 2.0]})
    >>> isotropic(da).sizes
    Frozen({'z': 3, 'y': 3})
    """
    _refuse_tree(obj, "isotropic")
    info = _spacing_info(obj, dims)
    common = max(info.common.values()) if spacing is None else _common(spacing, info)
    axes = {d: _centred_axis(obj, d, _native(common, info, d)) for d in info.native}
    return _apply(obj, axes, method, dtype, antialias, skipna)


def _target_axis(
    obj: xr.DataArray | xr.Dataset, other: xr.DataArray | xr.Dataset, dim: Hashable
) -> _Axis:
    """The grid of ``other``'s coordinate of ``dim``, in ``obj``'s sample units."""
    var = _coordinate(obj, dim)
    step = _grid_of(obj, dim, var)
    target = other.coords[dim].variable
    t_step = _grid_of(other, dim, target)
    t_values = np.asarray(target.values, dtype=np.float64)
    unit, t_unit = coordinate_unit(obj, dim), coordinate_unit(other, dim)
    scale = 1.0
    if unit is not None and t_unit is not None and unit != t_unit:
        scale = _tidy(from_metres(dim, to_metres(dim, 1.0, t_unit), unit))
    elif (unit is None) != (t_unit is None):
        raise UnitError(
            f"the coordinate of {dim!r} has units {unit!r} here and {t_unit!r} in the other "
            "object, so their positions cannot be compared; set attrs['units'] on both or neither"
        )
    reverse = (t_step > 0) != (step > 0)
    first = t_values[-1] if reverse else t_values[0]
    _check_spacing(dim, abs(t_step) * scale)
    ratio = grid.as_fraction(abs(t_step) * scale / abs(step))
    _check_ratio(dim, float(ratio), abs(step), abs(t_step) * scale)
    c0 = float(np.asarray(var.values, dtype=np.float64)[0])
    # the first new centre in input samples, then the left edge of its cell
    u0 = grid.as_fraction((first * scale - c0) / step)
    start = u0 + Fraction(1, 2) - ratio / 2
    return _Axis(
        dim,
        obj.sizes[dim],
        t_values.size,
        start,
        ratio,
        t_values,
        abs(t_step),
        reverse,
        descending=step < 0,
    )


def resample_like(
    obj: T,
    other: xr.DataArray | xr.Dataset,
    *,
    method: str = "linear",
    dtype: Any = None,
    antialias: bool = True,
    skipna: bool | None = None,
) -> T:
    """Resample ``obj`` onto the spatial coordinates of ``other``: for example a
    segmentation made at isotropic spacing back onto the original grid.

    Every spatial dim of ``obj`` that ``other`` has a coordinate for gets
    ``other``'s coordinate (values, attrs and units, so that the two align);
    other dims are untouched. Positions outside ``obj``'s samples take the
    edge sample's value: there is no NaN at the borders (unlike
    ``interp_like``).

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed.
    other : DataArray or Dataset
        The object whose evenly spaced coordinates give the new grid (units
        are converted: nm against µm is fine).
    method : {"linear", "cubic", "nearest", "area"}, default "linear"
        As in :func:`resample`; ``nearest`` for label images.
    dtype, antialias, skipna
        As in :func:`resample`.

    Returns
    -------
    DataArray or Dataset
        As :func:`resample`, with ``other``'s coordinates.

    Raises
    ------
    SpatialDimError
        ``other`` shares no spatial dim with a coordinate.
    NonUniformSpacingError
        A coordinate of ``other`` is not evenly spaced.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> fine = xr.DataArray(np.arange(10.0), dims="z", coords={"z": np.arange(10) * 0.3})
    >>> coarse = fine.iso.isotropic(spacing=1.0)
    >>> back = resample_like(coarse, fine)
    >>> bool((back.z == fine.z).all()), back.sizes["z"]
    (True, 10)
    """
    _refuse_tree(obj, "resample_like")
    spatial = spacing_info(obj).native
    shared = [d for d in spatial if d in other.coords and other.coords[d].dims == (d,)]
    if not shared:
        raise SpatialDimError(
            f"the other object has no coordinate for any spatial dim {tuple(spatial)!r} of "
            "this one, so there is no grid to resample onto; pass an object with those coords"
        )
    axes = {d: _target_axis(obj, other, d) for d in shared}
    coords = {d: other.coords[d].variable for d in shared}
    return _apply(obj, axes, method, dtype, antialias, skipna, coords_from=coords)
