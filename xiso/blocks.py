"""Labelled layer of blocks: downsample, near_isotropic and upsample on DataArray and Dataset.

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
import os
import re
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import xarray as xr

from . import factors as _factors
from ._docs import BOUNDARY, DIMS, DTYPE, METHOD, ROUNDING, SKIPNA, SPACING, TARGET, doc
from .errors import (
    DtypeError,
    FactorError,
    NonUniformSpacingError,
    Option,
    OptionError,
    Part,
    SpacingError,
    XisoError,
    XisoWarning,
)
from .methods import get, output_dtype
from .reduce import (
    BOUNDARIES,
    METHODS,
    aligned_chunks,
    block_reduce,
    group_counts,
    parse_dtype,
    result_dtype,
)
from .spacing import SPACING_RTOL, SpacingInfo, read_spacing, spatial_dims, to_common_unit
from .upsample_kernels import upsample_array

__all__ = [
    "downsample",
    "looks_like_labels",
    "near_isotropic",
    "near_isotropic_factors",
    "spacing_info",
    "upsample",
    "warn",
]

T = TypeVar("T", xr.DataArray, xr.Dataset)

# encoding keys that describe the stored layout of the input, not the data
_LAYOUT_ENCODING = ("chunks", "preferred_chunks", "chunksizes", "original_shape", "shards")


def _stacklevel() -> int:
    """The ``stacklevel`` of the first frame outside the xiso and xarray
    packages (``da.pipe(xiso.near_isotropic)`` and ``ds.map`` go through
    xarray), counted from the function that calls this one."""
    import inspect

    packages = tuple(
        os.path.dirname(os.path.abspath(path)) + os.sep for path in (xr.__file__, __file__)
    )
    frame = inspect.currentframe()
    level = 0
    while frame is not None and frame.f_code.co_filename.startswith(packages):
        frame = frame.f_back
        level += 1
    return level


def warn(*parts: Part) -> None:
    """Emit an :class:`~xiso.errors.XisoWarning` of ``parts`` (text and the
    :class:`~xiso.errors.Option` objects it suggests) that points at the user's
    line: the first caller outside the xiso package."""
    warnings.warn(XisoWarning(*parts), stacklevel=_stacklevel())


def _not_a_tree(obj: Any, func: str, method: str) -> None:
    """A DataTree is a Mapping, which would be read as spacings or reduced as
    an object without dims: point to its accessor ``method`` instead."""
    if isinstance(obj, xr.DataTree):
        raise TypeError(
            f"{func}() takes a DataArray or Dataset, got a DataTree; use "
            f"tree.iso.{method}(...) to reduce every node of the tree"
        )


def merge_factors(
    factors: Mapping[Hashable, int] | None, kwargs: Mapping[str, int]
) -> dict[Hashable, int]:
    if factors is not None and kwargs:
        raise OptionError(
            "pass factors either as a mapping or as keyword arguments, not both "
            f"(got {dict(factors)!r} and {dict(kwargs)!r})"
        )
    if factors is not None and not isinstance(factors, Mapping):
        raise FactorError(
            f"downsample() takes the factors as a mapping or as keyword arguments, got "
            f"{factors!r}; pass e.g. downsample(z=4) or downsample({{'z': 4}})"
        )
    merged: dict[Hashable, int] = {}
    merged.update(factors if factors is not None else kwargs)
    if not merged:
        raise FactorError("no factors given; pass e.g. downsample(z=4) or downsample({'z': 4})")
    return merged


def check_factors(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, Any], boundary: str
) -> dict[Hashable, int]:
    """Validate ``factors`` against ``obj``'s dims and lengths; return them as ints."""
    if boundary not in BOUNDARIES:
        raise OptionError(f"boundary={boundary!r} is not supported; use one of {BOUNDARIES!r}")
    sizes = obj.sizes
    checked = _integer_factors(obj, factors)
    for dim, factor in checked.items():
        n = sizes[dim]
        if factor > max(n, 1):  # a factor of 1 leaves even an empty dim alone
            fix = f"use a factor of at most {n}" if n else "use a factor of 1 (or none)"
            raise FactorError(
                f"dimension {dim!r} has length {n}, smaller than its factor {factor}; "
                f"{fix} for {dim!r}"
            )
        if boundary == "exact" and n % factor:
            raise FactorError(
                f"dimension {dim!r} has length {n}, which is not a multiple of its factor "
                f"{factor}; use ",
                Option("boundary", "trim"),
                (" or ", Option("boundary", "pad")),
                f", or crop {dim!r} first",
            )
    return checked


def _integer_factors(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, Any]
) -> dict[Hashable, int]:
    """``factors`` as ints, each an integer >= 1 of an existing dim (any length)."""
    sizes = obj.sizes
    checked: dict[Hashable, int] = {}
    for dim, factor in factors.items():
        if dim not in sizes:
            raise FactorError(
                f"a factor is given for {dim!r}, which is not a dimension of this object "
                f"(its dims are {tuple(sizes)!r}); use an existing dimension name"
            )
        if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
            raise FactorError(
                f"the factor of dimension {dim!r} is {factor!r}; it must be an integer >= 1"
            )
        checked[dim] = int(factor)
    return checked


def _layout_free(encoding: Mapping[Any, Any], dtype_changed: bool) -> dict[Any, Any]:
    drop = set(_LAYOUT_ENCODING) | ({"dtype"} if dtype_changed else set())
    return {k: v for k, v in encoding.items() if k not in drop}


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
    if method is None:  # the default: mode for what looks like labels, else mean
        method = "mode" if not is_coord and _label_reason(name, var) else "mean"
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
        try:
            wanted = result_dtype(var.dtype, method, dtype)
        except DtypeError as err:
            raise DtypeError(f"variable {name!r}: {err}") from None
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
    encoding = _layout_free(var.encoding, dtype_changed=data.dtype != var.dtype)
    if is_coord and var.dims == (name,) and name in factors:  # index coords: in memory
        # record the output spacing, so that it is known even where a dim ends
        # with a single sample (see spacing.coordinate_step)
        step = _input_step(var)
        if step is not None:
            encoding["spacing"] = step * factors[name]
    return xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)


def _input_step(var: xr.Variable) -> float | None:
    """The sample spacing of a 1-D numeric coordinate (recorded, else from its
    first and last values), or None."""
    recorded = var.encoding.get("spacing")
    if recorded is not None:
        return float(recorded)
    if var.dtype.kind not in "iuf" or var.size < 2:
        return None
    values = np.asarray(var.values, dtype=np.float64)
    step = abs(float(values[-1] - values[0]) / (values.size - 1))
    return step if np.isfinite(step) and step > 0 else None


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
    _not_a_tree(obj, "downsample", "downsample")
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


# a name that ends in the word: "labels", "nucleus_labels", "cell-segmentation"
# (not "label_free" or "labels_prob"); a long_name or standard_name that is
# words ending in it ("nucleus labels", not "label-free intensity")
_LABEL_NAME = re.compile(r"(^|.*[^a-z])(labels?|segmentations?)")
_LABEL_TEXT = re.compile(r"([a-z0-9]+[ _-])*(labels?|segmentations?)( image| mask)?")


def _label_reason(name: Hashable, var: xr.Variable) -> str | None:
    """Why ``var`` looks like a label image (see :func:`looks_like_labels`), or None."""
    attrs = var.attrs
    if "image-label" in attrs:
        return "it has NGFF 'image-label' metadata"
    flag = attrs.get("labels")
    if isinstance(flag, (bool, np.bool_)) and bool(flag):
        return "its attrs['labels'] is True"
    if var.dtype.kind not in "iub":
        return None
    for where, text, pattern in (
        ("name", name, _LABEL_NAME),
        ("long_name", attrs.get("long_name"), _LABEL_TEXT),
        ("standard_name", attrs.get("standard_name"), _LABEL_TEXT),
    ):
        if isinstance(text, str) and pattern.fullmatch(text.strip().lower()):
            return f"an integer array whose {where} is {text!r}"
    return None


def looks_like_labels(obj: xr.DataArray | xr.Variable, name: Hashable = None) -> bool:
    """Whether ``obj`` looks like a label image (segmentation) rather than intensities.

    A label image is marked by any of:

    - ``attrs["image-label"]``: the NGFF label-image metadata key;
    - ``attrs["labels"] is True``;
    - an integer (or boolean) dtype together with a name that ends in the word
      "label(s)" or "segmentation(s)" (any case, e.g. ``"nucleus_labels"``,
      not ``"label_free"``), or a ``long_name`` / ``standard_name`` that is
      words ending in it (``"nucleus labels"``, not ``"label-free intensity"``).

    Averaging such data invents labels that exist nowhere in it, so
    :func:`downsample` and :func:`near_isotropic` warn when they reduce it
    with ``method="mean"`` or ``"median"`` or cast it to a float ``dtype``.

    Parameters
    ----------
    obj : DataArray or Variable
        The data.
    name : hashable, optional
        The name of a Variable (a DataArray's own name is used otherwise).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> looks_like_labels(xr.DataArray(np.zeros(4, "uint16"), dims="z", name="labels"))
    True
    >>> looks_like_labels(xr.DataArray(np.zeros(4, "float32"), dims="z", name="labels"))
    False
    """
    if isinstance(obj, xr.DataArray):
        return _label_reason(obj.name if name is None else name, obj.variable) is not None
    return _label_reason(name, obj) is not None


def _warn_labels(
    obj: xr.DataArray | xr.Dataset,
    merged: Mapping[Hashable, int],
    method: str | None,
    dtype: Any,
) -> None:
    """Warn for each reduced data variable that looks like labels when ``method``
    averages or ``dtype`` is a float."""
    # (the default, None, is mode for what looks like labels)
    averages = method in METHODS and not get(method, "block").label_safe
    to_float = dtype is not None and np.dtype(dtype).kind in "fc"
    if not (averages or to_float):
        return
    if isinstance(obj, xr.DataArray):
        variables = {obj.name: obj.variable}
        what = "the DataArray"
    else:
        variables = {k: v.variable for k, v in obj.data_vars.items()}
        what = "the data variable"
    for name, var in variables.items():
        if not any(d in var.dims for d in merged):
            continue
        reason = _label_reason(name, var)
        if reason is None:
            continue
        if averages:
            harm: Part = (Option("method", method), " invents labels that do not exist")
        else:
            harm = (Option("dtype", np.dtype(dtype).name), " turns its labels into floats")
        warn(
            f"{what} {name!r} looks like a label image ({reason}); ",
            harm,
            ": use ",
            Option("method", "mode"),
            " (or ",
            Option("method", "nearest", text="'nearest'"),
            ")",
            (" and leave ", Option("dtype", text="dtype"), " unset"),
        )


def _shared_groups(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, int]
) -> dict[Hashable, int] | None:
    """Chunks per task along each dim (see :func:`xiso.reduce.group_counts`),
    decided once for all variables so that they keep consistent chunks: per dim,
    the smallest count any dask data variable with that dim would take on its
    own (so every variable's tasks stay within dask's ``array.chunk-size``);
    None when no dask data variable has a reduced dim."""
    if isinstance(obj, xr.DataArray):
        variables = [obj.variable]
    else:
        variables = [v.variable for v in obj.data_vars.values()]
    shared: dict[Hashable, int] = {}
    for var in variables:
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

    return _rebuild(
        obj,
        lambda k, v: _reduce_variable(k, v, merged, is_coord=False, **options),
        lambda k, c: _reduce_variable(k, c, merged, is_coord=True, **options),
    )


def _as_index(name: Hashable, var: xr.Variable) -> xr.Variable:
    """A numeric dimension coordinate with its values as a pandas Index, which
    xarray keeps as its index: given a numpy array, it imports pint, dask and
    sparse (where installed) to check the array's type, 0.1 s for pint alone."""
    if var.dims != (name,) or var.dtype.kind not in "iuf" or var.dtype.itemsize < 4:
        return var
    index = xr.Variable(var.dims, pd.Index(var.values), var.attrs)
    index.encoding = dict(var.encoding)
    return index


def _rebuild(
    obj: T,
    data_of: Callable[[Hashable, xr.Variable], xr.Variable],
    coord_of: Callable[[Hashable, xr.Variable], xr.Variable],
) -> T:
    """``obj`` with each data variable and coordinate made anew by ``data_of`` and
    ``coord_of`` (name, variable); names, attrs and the layout-free encoding kept
    (a NIfTI affine and orientation moved onto the new grid)."""
    from .io.nifti import follow_grid

    coords = {k: _as_index(k, coord_of(k, c.variable)) for k, c in obj.coords.items()}
    if isinstance(obj, xr.DataArray):
        new = xr.DataArray(data_of(obj.name, obj.variable), coords=coords, name=obj.name)
        return follow_grid(obj, new)
    if isinstance(obj, xr.Dataset):
        data_vars = {k: data_of(k, v.variable) for k, v in obj.data_vars.items()}
        out = xr.Dataset(data_vars, coords=coords, attrs=dict(obj.attrs))
        out.encoding = _layout_free(obj.encoding, dtype_changed=False)
        return follow_grid(obj, out)
    raise TypeError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")


def spacing_info(
    obj: xr.DataArray | xr.Dataset,
    *,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
) -> SpacingInfo:
    """Spacing and units of ``obj``'s spatial dims (see :func:`xiso.spacing.read_spacing`)."""
    found = spatial_dims(obj, dims)
    try:
        return read_spacing(obj, found, spacing)
    except NonUniformSpacingError:
        for dim in found:
            if (spacing is None or dim not in spacing) and dim in obj.coords:
                coord = obj.coords[dim]
                if coord.ndim == 1 and coord.dtype.kind in "iuf":
                    partial = partial_last_block(dim, np.asarray(coord.values, np.float64))
                    if partial is not None:
                        raise partial from None
        raise


def partial_last_block(dim: Hashable, values: np.ndarray) -> NonUniformSpacingError | None:
    """The error for a coordinate that is evenly spaced but for its last step, as
    the block centres of a ``boundary="pad"`` result are; None for any other."""
    steps = np.diff(values)
    body = steps[:-1]
    if not body.size or not np.allclose(body, body[0], rtol=SPACING_RTOL, atol=0):
        return None
    if np.isclose(steps[-1], body[0], rtol=SPACING_RTOL, atol=0):
        return None
    return NonUniformSpacingError(
        f"the coordinate of dimension {dim!r} is evenly spaced ({body[0]:.6g}) except for its "
        f"last step ({steps[-1]:.6g}), as after boundary='pad': the last block of a pad "
        "result is partial, so its coordinate step is irregular. A spacing (and an NGFF "
        f"scale) needs a uniform step: reduce with boundary='trim', or crop {dim!r} to a "
        "multiple of the factor first"
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
    _not_a_tree(obj, "near_isotropic_factors", "near_isotropic")
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
    _not_a_tree(obj, "near_isotropic", "near_isotropic")
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


# --------------------------------------------------------------------------
# upsample: the inverse grid of downsample
# --------------------------------------------------------------------------
def upsample(
    obj: T,
    factors: Mapping[Hashable, int] | None = None,
    /,
    *,
    method: str = "linear",
    dtype: Any = None,
    **factors_kwargs: int,
) -> T:
    """Upsample ``obj`` by integer factors per dimension: the inverse grid of :func:`downsample`.

    Each sample of a dim upsampled by ``f`` becomes ``f`` samples that split
    its cell evenly: a sample at ``c`` with spacing ``s`` gives samples at
    ``c + (k - (f - 1) / 2) * s / f``, ``k = 0 .. f - 1``. So
    ``downsample(upsample(obj, z=f), z=f)`` has ``obj``'s coordinates again:
    exactly for power-of-two factors (a cell's last coordinate may be moved
    by a few ulps for that), within an ulp or two for other factors.

    Parameters
    ----------
    obj : DataArray or Dataset
        The data; numpy- or dask-backed (a dask input gives a lazy result).
    factors : mapping of dim to int, optional
        Factor per dimension; or pass them as keyword arguments (``z=4``).
    method : {"linear", "nearest"}, default "linear"
        ``linear`` interpolates between the two neighbouring input samples
        (separably, in float64); beyond the first and last input sample the
        edge sample is kept. ``nearest`` repeats each sample ``f`` times and
        never invents a value: use it for label images.
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

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(np.array([0, 4], dtype="uint16"), dims="z", coords={"z": [0.0, 1.0]})
    >>> out = upsample(da, z=2)
    >>> out.values, out.z.values
    (array([0, 1, 3, 4], dtype=uint16), array([-0.25,  0.25,  0.75,  1.25]))
    """
    if isinstance(obj, xr.DataTree):
        raise TypeError(
            "upsample() takes a DataArray or Dataset, got a DataTree; upsample each node "
            "with tree.map_over_datasets(lambda ds: xiso.upsample(ds, z=2))"
        )
    merged = _upsample_factors(obj, factors, factors_kwargs)
    get(method, "upsample")  # OptionError for what is not an upsampling method
    dtype = None if dtype is None else parse_dtype(dtype)

    return _rebuild(
        obj,
        lambda k, v: _upsample_data(k, v, merged, method, dtype),
        lambda k, c: _upsample_coord(k, c, merged),
    )


def _upsample_factors(
    obj: xr.DataArray | xr.Dataset,
    factors: Mapping[Hashable, int] | None,
    kwargs: Mapping[str, int],
) -> dict[Hashable, int]:
    """The factors of :func:`upsample`, checked as :func:`check_factors` does
    (with the same messages), but for the length: any factor fits any dim."""
    if factors is not None and not isinstance(factors, Mapping):
        raise FactorError(
            f"upsample() takes the factors as a mapping or as keyword arguments, got "
            f"{factors!r}; pass e.g. upsample(z=4) or upsample({{'z': 4}})"
        )
    if not factors and not kwargs:
        raise FactorError("no factors given; pass e.g. upsample(z=4) or upsample({'z': 4})")
    return _integer_factors(obj, merge_factors(factors, kwargs))


def _upsample_data(
    name: Hashable,
    var: xr.Variable,
    factors: Mapping[Hashable, int],
    method: str,
    dtype: Any,
) -> xr.Variable:
    if not any(d in var.dims for d in factors):
        return var  # a variable without the dims being upsampled passes through
    try:
        wanted = output_dtype(var.dtype, method, "upsample", dtype)
    except DtypeError as err:
        raise DtypeError(f"variable {name!r}: {err}") from None
    axes = {var.get_axis_num(d): f for d, f in factors.items() if d in var.dims and f > 1}
    if not axes and wanted == var.dtype:
        return var
    data = upsample_array(var.data, axes, method=method, dtype=dtype)
    encoding = _layout_free(var.encoding, dtype_changed=data.dtype != var.dtype)
    return xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)


def _upsample_coord(
    name: Hashable, var: xr.Variable, factors: Mapping[Hashable, int]
) -> xr.Variable:
    """Index coordinates get the centres of the new samples, other coordinates
    along upsampled dims repeat their values."""
    axes = {var.get_axis_num(d): f for d, f in factors.items() if d in var.dims and f > 1}
    if not axes:
        return var
    encoding = _layout_free(var.encoding, dtype_changed=False)
    if var.dims != (name,):
        data = upsample_array(var.data, axes, method="nearest")
        return xr.Variable(var.dims, data, attrs=dict(var.attrs), encoding=encoding)
    f = factors[name]
    if var.size == 0:  # an empty dim stays empty, whatever its spacing
        return xr.Variable(var.dims, np.empty(0), attrs=dict(var.attrs), encoding=encoding)
    step = _signed_step(name, var)
    values = _cell_centres(np.asarray(var.values, dtype=np.float64), step, f)
    encoding.pop("dtype", None)
    encoding["spacing"] = abs(step) / f
    return xr.Variable(var.dims, values, attrs=dict(var.attrs), encoding=encoding)


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


def _signed_step(dim: Hashable, var: xr.Variable) -> float:
    """The (signed) step of the index coordinate of ``dim``, which must be numeric
    and evenly spaced; a single sample needs a recorded ``encoding["spacing"]``."""
    if var.dtype.kind not in "iuf":
        raise SpacingError(
            f"the coordinate of dimension {dim!r} has dtype {var.dtype}, not a number, so the "
            f"upsampled samples cannot be placed; assign a numeric coordinate to {dim!r} "
            f"(or drop it: obj.drop_vars({dim!r}))"
        )
    values = np.asarray(var.values, dtype=np.float64)
    recorded = var.encoding.get("spacing")
    if values.size < 2:
        if recorded is not None and np.isfinite(recorded) and recorded > 0:
            return float(recorded)
        raise SpacingError(
            f"dimension {dim!r} has {values.size} sample(s) and no recorded spacing, so the "
            f"upsampled samples cannot be placed; record it with "
            f"obj[{dim!r}].encoding['spacing'] = step"
        )
    step = float((values[-1] - values[0]) / (values.size - 1))
    diffs = np.diff(values)
    if (
        not np.isfinite(step)
        or step == 0
        or not np.all(np.abs(diffs - step) <= SPACING_RTOL * abs(step))
    ):
        raise NonUniformSpacingError(
            f"the coordinate of dimension {dim!r} is not evenly spaced (steps from "
            f"{float(diffs.min())!r} to {float(diffs.max())!r}), so it has no cells to split; "
            f"resample it onto a regular grid first, or use downsample"
        )
    if recorded is not None and np.isfinite(recorded) and recorded > 0:
        return math.copysign(float(recorded), step)  # as downsample, the recorded spacing
    return step
