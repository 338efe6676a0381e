"""What the labelled layer shares: the ground under blocks.py and exact.py.

:mod:`xiso.blocks` (whole blocks) and :mod:`xiso.exact` (exact grids) turn
dimension names into axes and back; :mod:`xiso.pyramid`, :mod:`xiso.plan` and
``io/`` read spacings and warn as they do. What they have in common lives
here, once:

- warnings that point at the user's line (:func:`warn`), and the refusal of
  a DataTree where a DataArray or Dataset is wanted (:func:`not_a_tree`);
- rebuilding a DataArray or Dataset variable by variable (:func:`rebuild`),
  without the encodings of the input's stored layout (:func:`layout_free`);
- label images: :func:`looks_like_labels`, the reason (:func:`label_reason`)
  and the warning when they would be averaged (:func:`warn_labels`);
- the output dtype of one data variable, its errors naming it
  (:func:`variable_dtype`);
- factors per dim: merged from a mapping or keywords (:func:`merge_factors`),
  checked against the object (:func:`integer_factors`, :func:`check_factors`;
  the rule of one factor is :func:`xiso.factors.check_factor`);
- the spacing of the spatial dims (:func:`spacing_info`).

The coordinate rules (reading a step, a spacing, a unit) are in
:mod:`xiso.spacing`; the methods, their dtype rule and the default method in
:mod:`xiso.methods`.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from .errors import (
    DtypeError,
    FactorError,
    NonUniformSpacingError,
    Option,
    OptionError,
    Part,
    XisoWarning,
)
from .factors import check_factor
from .methods import output_dtype
from .reduce import BOUNDARIES
from .spacing import SPACING_RTOL, SpacingInfo, read_spacing, spatial_dims

__all__ = [
    "LAYOUT_ENCODING",
    "T",
    "check_factors",
    "data_variables",
    "integer_factors",
    "label_reason",
    "layout_free",
    "looks_like_labels",
    "merge_factors",
    "not_a_tree",
    "partial_last_block",
    "rebuild",
    "spacing_info",
    "variable_dtype",
    "warn",
    "warn_labels",
    "what",
]

T = TypeVar("T", xr.DataArray, xr.Dataset)

# encoding keys that describe the stored layout of the input, not the data
LAYOUT_ENCODING = ("chunks", "preferred_chunks", "chunksizes", "original_shape", "shards")


# --------------------------------------------------------------------------
# warnings and refusals
# --------------------------------------------------------------------------
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
    :class:`~xiso.errors.Option` objects it suggests, which the command line
    words as its own options) that points at the user's line: the first caller
    outside the xiso package."""
    warnings.warn(XisoWarning(*parts), stacklevel=_stacklevel())


def not_a_tree(obj: Any, func: str, fix: str) -> None:
    """A TypeError when ``obj`` is a DataTree (a Mapping, which would be read as
    spacings or factors): ``func`` takes a DataArray or Dataset; ``fix`` says
    what to do with a tree."""
    if isinstance(obj, xr.DataTree):
        raise TypeError(f"{func}() takes a DataArray or Dataset, got a DataTree; {fix}")


# --------------------------------------------------------------------------
# rebuilding an object variable by variable
# --------------------------------------------------------------------------
def layout_free(encoding: Mapping[Any, Any], dtype_changed: bool) -> dict[Any, Any]:
    """``encoding`` without the keys of the stored layout (and ``dtype`` when
    the dtype changed): a new grid is stored anew."""
    drop = set(LAYOUT_ENCODING) | ({"dtype"} if dtype_changed else set())
    return {k: v for k, v in encoding.items() if k not in drop}


def _as_index(name: Hashable, var: xr.Variable) -> xr.Variable:
    """A numeric dimension coordinate with its values as a pandas Index, which
    xarray keeps as its index: given a numpy array, it imports pint, dask and
    sparse (where installed) to check the array's type, 0.1 s for pint alone."""
    if var.dims != (name,) or var.dtype.kind not in "iuf" or var.dtype.itemsize < 4:
        return var
    import pandas as pd

    index = xr.Variable(var.dims, pd.Index(var.values), var.attrs)
    index.encoding = dict(var.encoding)
    return index


# the attrs that xiso.io.nifti.follow_grid moves onto a new grid
_NIFTI_ATTRS = ("affine", "orientation")


def _follow_grid(old: T, new: T) -> T:
    """``new`` with the NIfTI attrs of ``old`` moved onto its grid; without such
    attrs (all but NIfTI images) ``new`` itself, and the NIfTI module stays
    unimported (a lazy open does not pay for it)."""
    variables = [new, *new.data_vars.values()] if isinstance(new, xr.Dataset) else [new]
    if not any(key in v.attrs for v in variables for key in _NIFTI_ATTRS):
        return new
    from .io.nifti import follow_grid

    return follow_grid(old, new)


def rebuild(
    obj: T,
    data_of: Callable[[Hashable, xr.Variable], xr.Variable],
    coord_of: Callable[[Hashable, xr.Variable], xr.Variable],
) -> T:
    """``obj`` with each data variable and coordinate made anew by ``data_of`` and
    ``coord_of`` (name, variable); names, attrs and the layout-free encoding kept
    (a NIfTI affine and orientation moved onto the new grid)."""
    coords = {k: _as_index(k, coord_of(k, c.variable)) for k, c in obj.coords.items()}
    if isinstance(obj, xr.DataArray):
        new = xr.DataArray(data_of(obj.name, obj.variable), coords=coords, name=obj.name)
        return _follow_grid(obj, new)
    if isinstance(obj, xr.Dataset):
        data_vars = {k: data_of(k, v.variable) for k, v in obj.data_vars.items()}
        out = xr.Dataset(data_vars, coords=coords, attrs=dict(obj.attrs))
        out.encoding = layout_free(obj.encoding, dtype_changed=False)
        return _follow_grid(obj, out)
    raise TypeError(f"expected an xarray DataArray or Dataset, got {type(obj).__name__}")


def data_variables(obj: xr.DataArray | xr.Dataset) -> dict[Hashable, xr.Variable]:
    """The data variables of ``obj`` by name (a DataArray: itself)."""
    if isinstance(obj, xr.DataArray):
        return {obj.name: obj.variable}
    return {k: v.variable for k, v in obj.data_vars.items()}


def what(name: Hashable) -> str:
    """A data variable as messages name it."""
    return "the DataArray" if name is None else f"variable {name!r}"


def variable_dtype(
    name: Hashable,
    var: xr.Variable,
    method: str,
    operation: str,
    dtype: Any,
    verb: str | None = None,
) -> np.dtype:
    """The output dtype of data variable ``name`` (see
    :func:`xiso.methods.output_dtype`), its :class:`DtypeError` naming the variable."""
    try:
        return output_dtype(var.dtype, method, operation, dtype, verb=verb)
    except DtypeError as err:
        raise DtypeError(f"{what(name)}: {err}") from None


# --------------------------------------------------------------------------
# label images
# --------------------------------------------------------------------------
# a name that ends in the word: "labels", "nucleus_labels", "cell-segmentation"
# (not "label_free" or "labels_prob"); a long_name or standard_name that is
# words ending in it ("nucleus labels", not "label-free intensity")
_LABEL_NAME = re.compile(r"(^|.*[^a-z])(labels?|segmentations?)")
_LABEL_TEXT = re.compile(r"([a-z0-9]+[ _-])*(labels?|segmentations?)( image| mask)?")


def label_reason(name: Hashable, var: xr.Variable) -> str | None:
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
    with ``method="mean"`` or ``"median"`` or cast it to a float ``dtype``
    (and the exact grids when they interpolate it); by default they reduce it
    with ``mode`` (blocks) or ``nearest`` (exact grids).

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
        return label_reason(obj.name if name is None else name, obj.variable) is not None
    return label_reason(name, obj) is not None


def warn_labels(
    obj: xr.DataArray | xr.Dataset,
    name: Hashable,
    var: xr.Variable,
    *,
    method: str | None,
    invents: bool,
    dtype: Any,
    use: tuple[Part, ...],
) -> None:
    """Warn when data variable ``name`` of ``obj`` looks like labels and
    ``method`` invents values (``invents``) or ``dtype`` is a float; ``use``
    is the method to use instead (parts, see :class:`~xiso.errors.Option`)."""
    to_float = dtype is not None and np.dtype(dtype).kind in "fc"
    if not (invents or to_float):
        return
    reason = label_reason(name, var)
    if reason is None:
        return
    harm: Part
    if invents:
        harm = (Option("method", method), " invents labels that do not exist")
    else:
        harm = (Option("dtype", np.dtype(dtype).name), " turns its labels into floats")
    where = "the DataArray" if isinstance(obj, xr.DataArray) else "the data variable"
    warn(
        f"{where} {name!r} looks like a label image ({reason}); ",
        harm,
        ": use ",
        *use,
        (" and leave ", Option("dtype", text="dtype"), " unset"),
    )


# --------------------------------------------------------------------------
# factors per dim
# --------------------------------------------------------------------------
def merge_factors(
    factors: Mapping[Hashable, int] | None, kwargs: Mapping[str, int], func: str = "downsample"
) -> dict[Hashable, int]:
    """The factors given to ``func`` as a mapping or as keyword arguments (one
    of the two, not empty)."""
    if factors is not None and kwargs:
        raise OptionError(
            "pass factors either as a mapping or as keyword arguments, not both "
            f"(got {dict(factors)!r} and {dict(kwargs)!r})"
        )
    if factors is not None and not isinstance(factors, Mapping):
        raise FactorError(
            f"{func}() takes the factors as a mapping or as keyword arguments, got "
            f"{factors!r}; pass e.g. {func}(z=4) or {func}({{'z': 4}})"
        )
    merged: dict[Hashable, int] = {}
    merged.update(factors if factors is not None else kwargs)
    if not merged:
        raise FactorError(f"no factors given; pass e.g. {func}(z=4) or {func}({{'z': 4}})")
    return merged


def _dim_of(obj: xr.DataArray | xr.Dataset, dim: Hashable) -> int:
    """The length of ``dim``, a dimension of ``obj`` that a factor is given for."""
    if dim not in obj.sizes:
        raise FactorError(
            f"a factor is given for {dim!r}, which is not a dimension of this object "
            f"(its dims are {tuple(obj.sizes)!r}); use an existing dimension name"
        )
    return int(obj.sizes[dim])


def integer_factors(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, Any]
) -> dict[Hashable, int]:
    """``factors`` as ints, each an integer >= 1 of an existing dim (of any
    length: upsampling)."""
    out = {}
    for dim, factor in factors.items():
        _dim_of(obj, dim)
        out[dim] = check_factor(factor, f"dimension {dim!r}")
    return out


def check_factors(
    obj: xr.DataArray | xr.Dataset, factors: Mapping[Hashable, Any], boundary: str
) -> dict[Hashable, int]:
    """``factors`` as ints, each an integer >= 1 of an existing dim that it fits
    (at most its length; dividing it with ``boundary="exact"``): downsampling."""
    if boundary not in BOUNDARIES:
        raise OptionError(f"boundary={boundary!r} is not supported; use one of {BOUNDARIES!r}")
    out = {}
    for dim, factor in factors.items():
        n = _dim_of(obj, dim)
        out[dim] = check_factor(factor, f"dimension {dim!r}", n, boundary, repr(dim))
    return out


# --------------------------------------------------------------------------
# spacing
# --------------------------------------------------------------------------
def spacing_info(
    obj: xr.DataArray | xr.Dataset,
    *,
    dims: Iterable[Hashable] | None = None,
    spacing: Mapping[Hashable, Any] | None = None,
    purpose: str = "spacing",
) -> SpacingInfo:
    """Spacing and units of ``obj``'s spatial dims (see :func:`xiso.spacing.read_spacing`;
    ``purpose`` words the errors, see :func:`xiso.spacing.signed_step`)."""
    found = spatial_dims(obj, dims)
    try:
        return read_spacing(obj, found, spacing, purpose=purpose)
    except NonUniformSpacingError:
        if purpose != "spacing":
            raise
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
