"""Labelled layer of exact resampling: resample, isotropic, resample_like and upsample.

Where :func:`~xiso.downsample` reduces by whole blocks, these put the data on
a grid of exactly the requested spacing (any ratio, finer or coarser) and
bring results back onto another object's grid; :func:`upsample` is the grid
of spacing ``s / f``. Dimension names become axes and spacings become
:class:`~xiso.grid.AxisPlan` objects here; the numbers are computed by
:mod:`xiso.interp`. What this module shares with :mod:`xiso.blocks` is in
:mod:`xiso.labelled`; reading a coordinate's step in :mod:`xiso.spacing`.

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
from typing import Any

import numpy as np
import xarray as xr

from . import encodings, grid
from .errors import FactorError, Option, OptionError, SpatialDimError, UnitError
from .factors import MAX_TARGET_RATIO
from .interp import resample_array
from .labelled import (
    T,
    data_variables,
    integer_factors,
    label_reason,
    layout_free,
    merge_factors,
    not_a_tree,
    rebuild,
    spacing_info,
    variable_dtype,
    warn_labels,
)
from .methods import default_method, get
from .reduce import block_reduce, parse_dtype
from .spacing import (
    SpacingInfo,
    coordinate_unit,
    recorded_spacing,
    signed_step,
    to_common_unit,
)
from .units import from_metres, to_metres

__all__ = ["isotropic", "resample", "resample_like", "upsample"]


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
    # upsample: each input sample becomes this many, and each dask chunk as many
    # times longer (0: output chunks as :func:`~xiso.interp.resample_array` plans them)
    repeat: int = 0

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


def _tree_fix(func: str) -> str:
    """A DataTree's nodes are resampled one by one, by the user's choice of nodes."""
    return (
        f"resample its nodes with tree.map_over_datasets(lambda ds: ds.iso.{func}(...)) "
        "(a pyramid's levels are better made again from the resampled level 0: .iso.pyramid())"
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
    step = _grid_step(dim, var, "resample")
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
        (math.prod(v.shape) for v in data_variables(obj).values() if _touches(v, axes)),
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
    """``method``, or the default for one variable (see
    :func:`~xiso.methods.default_method`)."""
    if method is not None:
        return get(method, "grid").name
    return default_method(
        "grid",
        labels=label_reason(name, var) is not None,
        boolean=var.dtype.kind == "b",
        finer=any(a.ratio < 1 for a in axes.values()),
    )


def _touches(var: xr.Variable, axes: Mapping[Hashable, _Axis]) -> bool:
    return any(d in var.dims for d in axes)


def _apply(
    obj: T,
    axes: Mapping[Hashable, _Axis],
    method: str | None,
    dtype: Any,
    antialias: bool,
    skipna: bool | None,
    coords_from: Mapping[Hashable, xr.Variable] | None = None,
    verb: str = "resample",
) -> T:
    """``obj`` on the grids of ``axes``; ``verb`` names the operation in errors."""
    if method is not None:
        get(method, "grid")  # OptionError before anything else
    dtype = None if dtype is None else parse_dtype(dtype)
    # dims whose grid does not change are not computed (every method gives the samples)
    moved = {d: a for d, a in axes.items() if not a.identity}
    plans: dict[str, dict[Hashable, grid.AxisPlan]] = {}

    def plans_of(how: str) -> dict[Hashable, grid.AxisPlan]:
        if how not in plans:  # one set per method used (variables may differ)
            plans[how] = {d: a.plan(how, antialias) for d, a in moved.items()}
        return plans[how]

    def data_of(name: Hashable, var: xr.Variable) -> xr.Variable:
        if not _touches(var, axes):
            return var
        how = _method_of(name, var, axes, method)
        variable_dtype(name, var, how, "grid", dtype, verb)
        invents = not get(how, "grid").label_safe
        warn_labels(
            obj,
            name,
            var,
            method=how,
            invents=invents,
            dtype=dtype,
            use=(Option("method", "nearest"),),
        )
        mine = {var.get_axis_num(d): p for d, p in plans_of(how).items() if d in var.dims}
        data = resample_array(
            var.data, mine, dtype=dtype, skipna=skipna, chunks=_repeated_chunks(var, moved)
        )
        encoding = layout_free(var.encoding, dtype_changed=data.dtype != var.dtype)
        return xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)

    def coord_of(name: Hashable, var: xr.Variable) -> xr.Variable:
        if coords_from is not None and name in coords_from and var.dims == (name,):
            return coords_from[name]
        if not _touches(var, moved):
            return var
        if var.dims == (name,) and name in axes:
            encoding = layout_free(var.encoding, dtype_changed=True)
            encoding.pop("dtype", None)
            out = xr.Variable(var.dims, axes[name].values, dict(var.attrs), encoding)
            encodings.set_spacing(out, axes[name].spacing)
            return out
        # other coordinates along resampled dims: the nearest sample's value
        mine = {var.get_axis_num(d): p for d, p in plans_of("nearest").items() if d in var.dims}
        data = resample_array(var.data, mine, dtype=var.dtype, chunks=_repeated_chunks(var, moved))
        return xr.Variable(var.dims, data, dict(var.attrs), layout_free(var.encoding, False))

    return rebuild(obj, data_of, coord_of)


def _repeated_chunks(
    var: xr.Variable, axes: Mapping[Hashable, _Axis]
) -> dict[int, tuple[int, ...]] | None:
    """The output chunks of dask ``var`` along the dims of ``axes`` that repeat
    their samples (upsample): each input chunk ``repeat`` times longer."""
    if var.chunks is None:
        return None
    return {
        axis: tuple(c * a.repeat for c in var.chunks[axis])
        for d, a in axes.items()
        if a.repeat and d in var.dims
        for axis in [var.get_axis_num(d)]
    }


def _tidy(value: float) -> float:
    """A length after a unit conversion, to 12 significant digits: '1 um' in nm
    is 1000.0, not 999.9999999999999 (the float error of the factors)."""
    return float(f"{value:.12g}")


def _common(value: Any, info: SpacingInfo) -> float:
    """A requested spacing in the common unit (see :func:`to_common_unit`)."""
    common = to_common_unit(value, info, name="spacing")
    return common if isinstance(value, (int, float, np.number)) else _tidy(common)


def _grid_step(dim: Hashable, var: xr.Variable, purpose: str) -> float:
    """The signed step of ``var``, the coordinate of ``dim`` (see
    :func:`~xiso.spacing.signed_step`), of the recorded spacing where there is
    one (as downsample records it)."""
    step = signed_step(dim, var, purpose=purpose)
    recorded = recorded_spacing(var)
    return step if recorded is None else math.copysign(recorded, step)


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
    not_a_tree(obj, "resample", _tree_fix("resample"))
    if isinstance(spacing, Mapping):
        if dims is not None:
            raise OptionError("pass the dims either as the keys of spacing or as dims=, not both")
        wanted = dict(spacing)
        info = spacing_info(obj, dims=list(wanted), purpose="resample")
    else:
        info = spacing_info(obj, dims=dims, purpose="resample")
        wanted = {d: spacing for d in info.native}
    axes = {}
    for dim, value in wanted.items():
        axes[dim] = _centred_axis(obj, dim, _native(_common(value, info), info, dim))
    _check_size(obj, axes)
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
    not_a_tree(obj, "isotropic", _tree_fix("isotropic"))
    info = spacing_info(obj, dims=dims, purpose="resample")
    common = max(info.common.values()) if spacing is None else _common(spacing, info)
    axes = {d: _centred_axis(obj, d, _native(common, info, d)) for d in info.native}
    _check_size(obj, axes)
    return _apply(obj, axes, method, dtype, antialias, skipna)


def _target_axis(
    obj: xr.DataArray | xr.Dataset, other: xr.DataArray | xr.Dataset, dim: Hashable
) -> _Axis:
    """The grid of ``other``'s coordinate of ``dim``, in ``obj``'s sample units."""
    var = _coordinate(obj, dim)
    step = _grid_step(dim, var, "resample")
    target = other.coords[dim].variable
    t_step = _grid_step(dim, target, "resample")
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
    not_a_tree(obj, "resample_like", _tree_fix("resample_like"))
    spatial = spacing_info(obj, purpose="resample").native
    shared = [d for d in spatial if d in other.coords and other.coords[d].dims == (d,)]
    if not shared:
        raise SpatialDimError(
            f"the other object has no coordinate for any spatial dim {tuple(spatial)!r} of "
            "this one, so there is no grid to resample onto; pass an object with those coords"
        )
    axes = {d: _target_axis(obj, other, d) for d in shared}
    coords = {d: other.coords[d].variable for d in shared}
    _check_size(obj, axes)
    return _apply(obj, axes, method, dtype, antialias, skipna, coords_from=coords)


# --------------------------------------------------------------------------
# upsample: the exact grid of spacing s / f, on the cells of downsample
# --------------------------------------------------------------------------
# the methods of upsample (the others of exact grids: resample onto s / f)
UPSAMPLE_METHODS = ("linear", "nearest")


def upsample(
    obj: T,
    factors: Mapping[Hashable, int] | None = None,
    /,
    *,
    method: str | None = None,
    dtype: Any = None,
    **factors_kwargs: int,
) -> T:
    """Upsample ``obj`` by integer factors per dimension: the inverse grid of :func:`downsample`.

    Each sample of a dim upsampled by ``f`` becomes ``f`` samples that split
    its cell evenly: a sample at ``c`` with spacing ``s`` gives samples at
    ``c + (k - (f - 1) / 2) * s / f``, ``k = 0 .. f - 1``. So
    ``downsample(upsample(obj, z=f), z=f)`` has ``obj``'s coordinates again:
    exactly for power-of-two factors (a cell's last coordinate may be moved
    by a few ulps for that), within an ulp or two for other factors. That
    grid is the exact grid of spacing ``s / f`` centred on the field of view:
    the values are those of :func:`resample` onto ``s / f``.

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed (a dask input gives a lazy result,
        each chunk ``f`` times longer along a dim upsampled by ``f``).
    factors : mapping of dim to int, optional
        Factor per dimension; or pass them as keyword arguments (``z=4``).
    method : {"linear", "nearest"}, optional
        ``linear`` interpolates between the two neighbouring input samples;
        beyond the first and last input sample the edge sample is kept.
        Integers of every dtype are interpolated exactly (the weights are
        fractions over ``2 f``) and rounded once; floats in float64.
        ``nearest`` repeats each sample ``f`` times and never invents a
        value. Default, per variable: ``nearest`` for what looks like a
        label image and for booleans (masks), else ``linear`` (as
        :func:`resample`).
    dtype : dtype, optional
        Output dtype of the data variables that have a dim in ``factors`` (a
        factor of 1 included). By default the input dtype: integer results
        are rounded to nearest (ties to even) and clipped, never truncated. A
        float dtype returns the unrounded result. Results are in native byte
        order.

    Returns
    -------
    DataArray or Dataset
        A new object; upsampled dims have the coordinates above (their
        ``encoding["spacing"]`` is ``s / f``), non-index coordinates along
        them are repeated; all attrs, names and other dims are kept.

    Raises
    ------
    FactorError
        A factor is not an integer >= 1 or names an unknown dimension.
    OptionError
        ``method`` is not a documented value.
    DtypeError
        ``method`` cannot upsample a variable's dtype, or ``dtype`` is not a
        data type.
    SpacingError
        The index coordinate of an upsampled dim is not numeric, or has a
        single sample and no recorded spacing.
    NonUniformSpacingError
        The index coordinate of an upsampled dim is not evenly spaced.

    Warns
    -----
    XisoWarning
        A variable that looks like a label image is interpolated with
        ``linear`` or cast to a float ``dtype``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([0, 4], dtype="uint16"), dims="z", coords={"z": [0.0, 1.0]})
    >>> out = upsample(da, z=2)
    >>> out.values, out.z.values
    (array([0, 1, 3, 4], dtype=uint16), array([-0.25,  0.25,  0.75,  1.25]))
    """
    not_a_tree(
        obj,
        "upsample",
        "upsample each node with tree.map_over_datasets(lambda ds: ds.iso.upsample(z=2))",
    )
    merged = integer_factors(obj, merge_factors(factors, factors_kwargs, "upsample"))
    if method is not None and method not in UPSAMPLE_METHODS:
        get(method, "grid")  # what is no method of exact grids, as resample says it
        raise OptionError(
            f"method={method!r} is not supported by upsample(); use one of "
            f"{UPSAMPLE_METHODS!r}, or resample() onto the spacing s / f for {method!r}"
        )
    axes = {dim: _upsampled_axis(obj, dim, f) for dim, f in merged.items()}
    return _apply(obj, axes, method, dtype, True, None, verb="upsample")


def _upsampled_axis(obj: xr.DataArray | xr.Dataset, dim: Hashable, f: int) -> _Axis:
    """The grid of ``f`` samples per input sample of ``dim``: ratio ``1 / f`` from
    the start of the field of view, the cell centres as coordinate."""
    n = obj.sizes[dim]
    if f == 1 or n == 0:  # nothing to compute along dim (an empty dim stays empty)
        return _Axis(dim, n, n, Fraction(0), Fraction(1), np.empty(0), math.nan)
    values, spacing, descending = np.empty(0), math.nan, False
    if dim in obj.coords:  # else no coordinate to compute
        var = obj.coords[dim].variable
        step = _grid_step(dim, var, "upsample")
        values = _cell_centres(np.asarray(var.values, dtype=np.float64), step, f)
        spacing, descending = abs(step) / f, step < 0
    ratio = Fraction(1, f)
    return _Axis(dim, n, n * f, Fraction(0), ratio, values, spacing, False, descending, f)


def _cell_centres(centres: np.ndarray, step: float, f: int) -> np.ndarray:
    """``centres[i] + (k - (f - 1) / 2) * step / f`` for ``k = 0 .. f - 1``, in
    that order, with the last sample of a cell moved by a few ulps where that
    makes the mean :func:`downsample` takes of the cell (the same
    :func:`~xiso.reduce.block_reduce`) give ``centres[i]`` back exactly.

    That is always possible for a power-of-two ``f`` (the mean divides an
    exact sum by ``f``); for other factors some centres are no rounded sum
    divided by ``f``: their cells keep the plain values, whose mean is within
    an ulp or so of the centre.
    """
    offsets = (np.arange(f) - (f - 1) / 2) * step / f
    plain = centres[:, None] + offsets
    if f == 1:
        return plain.reshape(-1)
    cells = plain.copy()
    finite = np.isfinite(centres)

    def missed() -> tuple[np.ndarray, np.ndarray]:
        means = block_reduce(cells.reshape(-1), {0: f}, method="mean", skipna=False)
        return (means != centres) & finite, means

    for shift in (0, 1, -1, 2, -2):  # ulps of the first sample: b - a may be unrepresentable
        off, means = missed()
        if not off.any():
            break
        if shift:
            first = plain[off, 0]
            cells[off, 0] = first + shift * np.spacing(np.abs(first))
            cells[off, -1] = plain[off, -1]
        for attempt in range(_NUDGE_ATTEMPTS):
            off, means = missed()
            if not off.any():
                break
            last = cells[off, -1]
            if attempt == 0:  # the whole error in one go, then half an ulp of the sum at a time
                cells[off, -1] = last + (centres[off] - means[off]) * f
            else:
                sign = np.where(means[off] < centres[off], 1.0, -1.0)
                half = np.spacing(np.abs(means[off]) * f) / 2  # half an ulp of the sum
                cells[off, -1] = last + sign * np.maximum(half, np.spacing(np.abs(last)))
    off, _ = missed()
    cells[off] = plain[off]
    return cells.reshape(-1)


# tries to make the mean of a cell's upsampled coordinates its input coordinate
_NUDGE_ATTEMPTS = 8
