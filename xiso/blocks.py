"""Labelled layer of blocks: downsample and near_isotropic on DataArray and Dataset.

This module turns dimension names into axes, reduces data variables with
:mod:`xiso.reduce`, and takes care of coordinates, attrs, names and encodings.

Coordinate convention
---------------------
For block methods (mean, median, min, max, mode) the coordinate of an output
sample is the mean of the input coordinates of its block: the block centre.
For ``nearest`` it is the coordinate of the sample that was taken.  Non-index
coordinates along reduced dims are reduced the same way (non-numeric ones take
the nearest sample); everything else is kept as it is.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from . import encodings
from . import factors as _factors
from ._docs import BOUNDARY, DIMS, DTYPE, METHOD, ROUNDING, SKIPNA, SPACING, TARGET, doc
from .errors import FactorError, Option, OptionError, Part, SpacingError, XisoError
from .labelled import (
    T,
    check_factors,
    data_variables,
    label_reason,
    layout_free,
    merge_factors,
    not_a_tree,
    rebuild,
    spacing_info,
    variable_dtype,
    warn,
    warn_labels,
)
from .methods import default_method, get
from .reduce import METHODS, aligned_chunks, block_reduce, group_counts, parse_dtype
from .spacing import nominal_step, spatial_dims, to_common_unit

__all__ = ["downsample", "near_isotropic", "near_isotropic_factors"]


def _tree_fix(method: str) -> str:
    """What to do with a DataTree instead: its accessor reduces every node."""
    return f"use tree.iso.{method}(...) to reduce every node of the tree"


def _reduce_variable(
    name: Hashable,
    var: xr.Variable,
    factors: Mapping[Hashable, int],
    *,
    is_coord: bool,
    method: str | None,
    boundary: str,
    dtype: Any,
    skipna: bool | None,
    group: bool | Mapping[Hashable, int] = True,
) -> xr.Variable:
    if method is None:  # coordinates take the block centre: as mean does
        labels = not is_coord and label_reason(name, var) is not None
        method = default_method("block", labels=labels)
    axes = {var.get_axis_num(d): f for d, f in factors.items() if d in var.dims and f > 1}
    per_task: bool | dict[int, int] = (
        group
        if isinstance(group, bool)
        else {var.get_axis_num(d): c for d, c in group.items() if d in var.dims}
    )  # a mapping: dim -> chunks per task, shared by all variables
    if is_coord:
        if not axes:
            return var
        numeric = var.dtype.kind in "biuf"
        taken = get(method, "block").coordinate == "sample"
        coord_method = "nearest" if taken or not numeric else "mean"
        out_dtype = np.float64 if coord_method == "mean" and var.dtype.kind != "f" else None
        data = block_reduce(
            var.data,
            axes,
            method=coord_method,
            boundary=boundary,
            dtype=out_dtype,
            skipna=False,
            group=per_task,
        )
    else:
        if not any(d in var.dims for d in factors):
            return var  # a variable without the dims being reduced passes through
        wanted = variable_dtype(name, var, method, "block", dtype)
        if not axes and wanted == var.dtype:
            return var
        # with no axis to reduce, "nearest" with blocks of 1 is a cast that follows
        # the dtype policy (rounded, clipped), lazily for dask
        data = block_reduce(
            var.data,
            axes,
            method=method if axes else "nearest",
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
            group=per_task,
        )
    encoding = layout_free(var.encoding, dtype_changed=data.dtype != var.dtype)
    out = xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)
    if is_coord and var.dims == (name,) and name in factors:  # index coords: in memory
        # record the output spacing, so that it is known even where a dim ends
        # with a single sample (see spacing.coordinate_step)
        step = nominal_step(var)
        if step is not None:
            encodings.set_spacing(out, step * factors[name])
    return out


@doc(method=METHOD, boundary=BOUNDARY, dtype=DTYPE, skipna=SKIPNA)
def downsample(
    obj: T,
    factors: Mapping[Hashable, int] | None = None,
    /,
    *,
    method: str | None = None,
    boundary: str = "trim",
    dtype: Any = None,
    skipna: bool | None = None,
    **factors_kwargs: int,
) -> T:
    """Block-reduce ``obj`` by integer factors per dimension.

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed (a dask input gives a lazy result).
    factors : mapping of dim to int, optional
        Factor per dimension; or pass them as keyword arguments (``z=4``).
    {method}
    {boundary}
    {dtype}
    {skipna}

    Returns
    -------
    DataArray or Dataset
        A new object; reduced dims have block-centre coordinates, all attrs,
        names and non-reduced dims are kept.

    Raises
    ------
    FactorError
        A factor is not an integer >= 1, names an unknown dimension, exceeds the
        dimension's length, or does not divide it with ``boundary="exact"``.
    OptionError
        ``method`` or ``boundary`` is not a documented value.
    DtypeError
        ``method`` cannot reduce a variable's dtype, or ``dtype`` is not a
        data type.

    Warns
    -----
    XisoWarning
        ``boundary="trim"`` drops samples (one warning naming every such dim
        and how many), or a variable that :func:`looks_like_labels` is reduced
        with ``mean`` / ``median`` or cast to a float ``dtype``.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.arange(8, dtype="uint16"), dims="z",
    ...                   coords={"z": np.arange(8) * 0.25})
    >>> out = downsample(da, z=4)
    >>> out.values, out.z.values
    (array([2, 6], dtype=uint16), array([0.375, 1.375]))
    """
    not_a_tree(obj, "downsample", _tree_fix("downsample"))
    merged = check_factors(obj, merge_factors(factors, factors_kwargs), boundary)
    return _reduce(obj, merged, "downsample", method, boundary, dtype, skipna)


def _reduce(
    obj: T,
    merged: Mapping[Hashable, int],
    func: str,
    method: str | None,
    boundary: str,
    dtype: Any,
    skipna: bool | None,
) -> T:
    """:func:`reduce_checked` with the dtype parsed, after warning (as ``func``)
    about dropped samples and label images reduced as numbers."""
    dtype = None if dtype is None else parse_dtype(dtype)
    options: dict[str, Any] = dict(method=method, boundary=boundary, dtype=dtype, skipna=skipna)
    out = reduce_checked(obj, merged, **options)  # warn only once it did not raise
    # (a Dataset of coordinates only, such as a DataTree node its children
    # share, is said once, by the children that hold the data)
    has_data = isinstance(obj, xr.DataArray) or bool(obj.data_vars)
    if boundary == "trim" and has_data:
        _warn_trimmed(obj, merged, func)
    _warn_labels(obj, merged, method, dtype)
    return out


def _warn_trimmed(
    obj: xr.DataArray | xr.Dataset, merged: Mapping[Hashable, int], func: str
) -> None:
    """One warning naming every dim whose trailing samples ``boundary="trim"`` drops."""
    parts = []
    for dim, factor in merged.items():
        n = obj.sizes[dim]
        dropped = n % factor
        if factor > 1 and dropped:
            kept = n // factor
            parts.append(
                f"{dropped} of the {n} samples of dimension {dim!r} ({n} is not a multiple of "
                f"the factor {factor}; the result has {kept} sample{'s' * (kept != 1)} "
                f"covering {n - dropped})"
            )
    if parts:
        warn(
            f"{func} drops {' and '.join(parts)}: ",
            ("pass ", Option("boundary", "pad"), " to keep them, or "),
            "crop first",
        )


def _warn_labels(
    obj: xr.DataArray | xr.Dataset,
    merged: Mapping[Hashable, int],
    method: str | None,
    dtype: Any,
) -> None:
    """Warn for each reduced data variable that looks like labels when ``method``
    averages or ``dtype`` is a float (the default, None, is mode for them)."""
    averages = method in METHODS and not get(method, "block").label_safe
    for name, var in data_variables(obj).items():
        if any(d in var.dims for d in merged):
            warn_labels(
                obj,
                name,
                var,
                method=method,
                invents=averages,
                dtype=dtype,
                use=(
                    Option("method", "mode"),
                    " (or ",
                    Option("method", "nearest", text="'nearest'"),
                    ")",
                ),
            )


def _shared_groups(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, int]
) -> dict[Hashable, int] | None:
    """Chunks per task along each dim (see :func:`xiso.reduce.group_counts`),
    decided once for all variables so that they keep consistent chunks: per dim,
    the smallest count any dask data variable with that dim would take on its
    own (so every variable's tasks stay within dask's ``array.chunk-size``);
    None when no dask data variable has a reduced dim."""
    shared: dict[Hashable, int] = {}
    for var in data_variables(obj).values():
        if var.chunks is None or not any(factors.get(d, 1) > 1 for d in var.dims):
            continue
        block = tuple(int(factors.get(d, 1)) for d in var.dims)
        chunks = tuple(aligned_chunks(c, b) for c, b in zip(var.chunks, block))
        for dim, count in zip(var.dims, group_counts(chunks, block, var.dtype.itemsize)):
            shared[dim] = min(count, shared.get(dim, count))
    return shared or None


def reduce_checked(obj: T, merged: Mapping[Hashable, int], **options: Any) -> T:
    """:func:`downsample` after its factors were checked; ``options`` are those of
    :func:`_reduce_variable` (``group=False`` for pyramid levels; by default the
    dask chunks grouped per task are decided once for all variables)."""
    if options.get("group", True) is True:
        groups = _shared_groups(obj, merged)
        if groups is not None:
            options = {**options, "group": groups}

    return rebuild(
        obj,
        lambda k, v: _reduce_variable(k, v, merged, is_coord=False, **options),
        lambda k, c: _reduce_variable(k, c, merged, is_coord=True, **options),
    )


@doc(rounding=ROUNDING, target=TARGET, dims=DIMS, spacing=SPACING)
def near_isotropic_factors(
    obj: xr.DataArray | xr.Dataset | Mapping[Hashable, float],
    *,
    rounding: str = "pow2",
    target: Any = None,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
) -> dict[Hashable, int]:
    """Per-dimension factors that make ``obj`` near-isotropic.

    ``obj`` is either a mapping of spacings (all in one unit; the pure rule of
    :func:`xiso.factors.near_isotropic_factors`) or a DataArray / Dataset whose
    spacing is read from its coordinates, units aware.

    Parameters
    ----------
    obj : DataArray, Dataset or mapping of dim to float
        The data, or its spacings.
    {rounding}
    {target}
    {dims}
    {spacing}

    Returns
    -------
    dict
        Spatial dim -> integer factor >= 1.

    Raises
    ------
    FactorError
        ``target`` is more than :data:`xiso.factors.MAX_TARGET_RATIO` times
        the coarsest spacing (a unit mistake such as ``"2 parsecs"``).

    Warns
    -----
    XisoWarning
        ``target`` is finer than the coarsest spacing (it is ignored), or the
        rounded factors do not give every dim exactly the target spacing.

    Examples
    --------
    >>> near_isotropic_factors({"z": 0.25, "y": 1.0, "x": 1.0})
    {'z': 4, 'y': 1, 'x': 1}
    """
    not_a_tree(obj, "near_isotropic_factors", _tree_fix("near_isotropic"))
    if isinstance(obj, (xr.DataArray, xr.Dataset)):
        info = spacing_info(obj, dims=dims, spacing=spacing)
        common: Mapping[Hashable, float] = info.common
        unit = info.unit
        tgt = None if target is None else to_common_unit(target, info)
    else:
        if dims is not None or spacing is not None:
            raise OptionError(
                "dims= and spacing= apply to xarray objects, not to a mapping of spacings"
            )
        if target is not None and not isinstance(target, (int, float, np.number)):
            raise OptionError(f"target={target!r}: with a mapping of spacings, pass a plain number")
        common, unit = obj, None
        tgt = None if target is None else float(target)
    if tgt is not None:
        _check_target_ratio(target, tgt, common, unit)
    factors = _factors.near_isotropic_factors(common, rounding=rounding, target=tgt)
    if tgt is not None:
        _warn_target(target, tgt, common, unit, rounding, factors)
    return factors


def _length(value: float, unit: str | None) -> str:
    return f"{value:.6g}" + (f" {unit}" if unit else "")


def _coarsest(common: Mapping[Hashable, float]) -> tuple[Hashable, float]:
    dim = max(common, key=lambda d: float(common[d]))
    return dim, float(common[dim])


def _check_target_ratio(
    given: Any, tgt: float, common: Mapping[Hashable, float], unit: str | None
) -> None:
    """Refuse a target more than :data:`xiso.factors.MAX_TARGET_RATIO` times the
    coarsest spacing: a unit mistake, not a wish."""
    if not common or not math.isfinite(tgt) or tgt <= 0:
        return  # no spatial dims, or a bad number: factors.py says what is wrong
    dim, coarsest = _coarsest(common)
    if not (math.isfinite(coarsest) and coarsest > 0):
        return
    ratio = tgt / coarsest
    if ratio > _factors.MAX_TARGET_RATIO:
        raise FactorError(
            f"target={given!r} is {_length(tgt, unit)}, {ratio:.3g} times the coarsest "
            f"spacing {_length(coarsest, unit)} (of {dim!r}); every dimension would need "
            f"more than {_factors.MAX_TARGET_RATIO:.0e} samples to keep even one. Check "
            "the target's units (e.g. 'mm' written for 'um')"
        )


def _warn_target(
    given: Any,
    tgt: float,
    common: Mapping[Hashable, float],
    unit: str | None,
    rounding: str,
    factors: Mapping[Hashable, int],
) -> None:
    """Warn when the factors do not give every dim the spacing ``tgt``."""
    if not common:
        return
    reached = {d: float(common[d]) * factors[d] for d in common}
    if all(math.isclose(v, tgt, rel_tol=_factors.TARGET_RTOL) for v in reached.values()):
        return
    dims = list(reached)
    values = set(round(v, 9) for v in reached.values())
    if len(values) == 1:
        gives = f"{_length(reached[dims[0]], unit)} along {', '.join(map(repr, dims))}"
    else:
        gives = ", ".join(f"{_length(v, unit)} along {d!r}" for d, v in reached.items())
    dim, coarsest = _coarsest(common)
    if tgt < coarsest and not math.isclose(tgt, coarsest, rel_tol=_factors.TARGET_RTOL):
        warn(
            Option("target", given),
            f" ({_length(tgt, unit)}) is finer than the coarsest spacing "
            f"{_length(coarsest, unit)} (of {dim!r}) and xiso only downsamples: the target "
            f"is ignored and the result has {gives} (factors {dict(factors)!r}); pass ",
            Option("target", text="a target"),
            f" of at least {_length(coarsest, unit)}, or none",
        )
        return
    a_target = Option("target", text="a target")
    if rounding == "pow2":
        fix: Part = (
            Option("rounding", "int"),
            " or ",
            a_target,
            " that is a power of two times each spacing",
        )
        how = "power-of-two factors"
    else:
        fix = (a_target, " that is a whole multiple of each spacing")
        how = "integer factors"
    warn(
        Option("target", given),
        f" ({_length(tgt, unit)}) cannot be reached with {how} (",
        Option("rounding", rounding),
        f"): it was rounded to factors {dict(factors)!r}, which give {gives}; pass ",
        fix,
        " to reach it exactly",
    )


@doc(
    dims=DIMS,
    spacing=SPACING,
    rounding=ROUNDING,
    target=TARGET,
    method=METHOD,
    boundary=BOUNDARY,
    dtype=DTYPE,
    skipna=SKIPNA,
)
def near_isotropic(
    obj: T,
    *,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
    rounding: str = "pow2",
    target: Any = None,
    method: str | None = None,
    boundary: str = "trim",
    dtype: Any = None,
    skipna: bool | None = None,
) -> T:
    """Downsample the finer spatial dims of ``obj`` so its voxels are near-isotropic.

    The factors come from :func:`near_isotropic_factors` (spacing read from the
    coordinates, units aware); the reduction is :func:`downsample`.

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed.
    {dims}
    {spacing}
    {rounding}
    {target}
    {method}
    {boundary}
    {dtype}
    {skipna}

    Returns
    -------
    DataArray or Dataset
        Spatial spacing now near the coarsest input spacing; coordinates at
        block centres; attrs, names and non-spatial dims untouched.

    Raises
    ------
    FactorError
        A spatial dim is shorter than its factor (the message says how to
        leave it alone), or the target is absurdly coarse.

    Warns
    -----
    XisoWarning
        As :func:`near_isotropic_factors` and :func:`downsample` do.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.zeros((8, 2, 2)), dims=("z", "y", "x"),
    ...                   coords={"z": np.arange(8) * 0.25, "y": [0.0, 1.0], "x": [0.0, 1.0]})
    >>> near_isotropic(da).sizes
    Frozen({'z': 2, 'y': 2, 'x': 2})
    """
    not_a_tree(obj, "near_isotropic", _tree_fix("near_isotropic"))
    factors = near_isotropic_factors(
        obj, rounding=rounding, target=target, dims=dims, spacing=spacing
    )
    _check_lengths(obj, factors, target)
    merged = check_factors(obj, factors, boundary)
    return _reduce(obj, merged, "near_isotropic", method, boundary, dtype, skipna)


def _check_lengths(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, int], target: Any
) -> None:
    """A dim shorter than its near-isotropic factor, with fixes that fit
    :func:`near_isotropic` (which takes no factors)."""
    for dim, factor in factors.items():
        n = obj.sizes[dim] if dim in obj.sizes else None
        if n is None or factor <= max(n, 1):
            continue
        others = [d for d in factors if d != dim]
        fixes = []
        if others:
            fixes.append(f"leave {dim!r} as it is with dims={others!r}")
        if target is not None:
            fixes.append("pass a finer target")
        if n:
            fixes.append(f"merge all its samples with downsample({{{dim!r}: {n}}})")
        if not fixes:
            fixes.append(f"drop the empty dimension {dim!r}")
        raise FactorError(
            f"near_isotropic needs a factor of {factor} for dimension {dim!r}, which has only "
            f"{n} sample{'s' * (n != 1)}; " + ", or ".join(fixes)
        )


def _has_spatial_dims(ds: xr.Dataset) -> bool:
    try:
        return bool(spatial_dims(ds))
    except XisoError:
        return False


def tree_near_isotropic(
    tree: xr.DataTree,
    *,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
    rounding: str = "pow2",
    target: Any = None,
    method: str | None = None,
    boundary: str = "trim",
    dtype: Any = None,
    skipna: bool | None = None,
) -> xr.DataTree:
    """:func:`near_isotropic` on every node of a DataTree.

    Each node holding data gets its own factors (pyramid levels differ). A node
    holding only coordinates that its children share is reduced with the
    factors of the data below it, which must then agree. The options are those
    of :func:`near_isotropic`; any other keyword is a TypeError.
    """
    if method is not None:
        get(method, "block")  # OptionError for what is not a block method
    factor_options: dict[str, Any] = dict(
        rounding=rounding, target=target, dims=dims, spacing=spacing
    )
    reduce_options: dict[str, Any] = dict(
        method=method, boundary=boundary, dtype=dtype, skipna=skipna
    )
    factors: dict[str, dict[Hashable, int]] = {}
    for node in tree.subtree:
        ds = node.to_dataset()
        if node.has_data and ds.data_vars and _has_spatial_dims(ds):
            factors[node.path] = near_isotropic_factors(ds, **factor_options)

    def factors_of(node: xr.DataTree) -> dict[Hashable, int] | None:
        if node.path in factors:
            return factors[node.path]
        below = [f for path, f in factors.items() if path.startswith(node.path.rstrip("/") + "/")]
        if not below or not _has_spatial_dims(node.to_dataset()):
            return None
        if any(f != below[0] for f in below):
            raise SpacingError(
                f"node {node.path!r} holds coordinates shared by children that need different "
                f"factors ({below!r}); move the coordinates into the child nodes"
            )
        return {d: f for d, f in below[0].items() if d in node.to_dataset().dims}

    def apply(node: xr.DataTree) -> xr.Dataset:
        ds = node.to_dataset(inherit=False)
        mine = factors_of(node)
        mine = {d: f for d, f in (mine or {}).items() if d in ds.dims}
        if not mine:
            return ds
        _check_lengths(ds, mine, target)
        checked = check_factors(ds, mine, boundary)
        return _reduce(ds, checked, "near_isotropic", **reduce_options)

    return xr.DataTree.from_dict({node.path: apply(node) for node in tree.subtree})


def tree_downsample(
    tree: xr.DataTree, factors: Mapping[Hashable, int], **options: Any
) -> xr.DataTree:
    """:func:`downsample` on every node of a DataTree that has a named dim."""
    all_dims = {d for node in tree.subtree for d in node.to_dataset().dims}
    unknown = [d for d in factors if d not in all_dims]
    if unknown:
        raise FactorError(
            f"factors are given for {unknown!r}, which no node of the tree has "
            f"(its dims are {sorted(map(str, all_dims))!r}); use existing dimension names"
        )

    def apply(node: xr.DataTree) -> xr.Dataset:
        ds = node.to_dataset(inherit=False)
        mine = {d: f for d, f in factors.items() if d in ds.dims}
        return downsample(ds, mine, **options) if mine else ds

    return xr.DataTree.from_dict({node.path: apply(node) for node in tree.subtree})
