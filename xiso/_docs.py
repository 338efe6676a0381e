"""Docstring text written once and shared (pandas' ``@doc``).

A parameter that several functions take is described here once; a docstring
names it as a field ``{name}`` on a line of its own, and :func:`doc` fills the
fields when the function is defined (a few ``str.replace``, nothing parsed)::

    @doc(dims=DIMS, spacing=SPACING)
    def pyramid(obj, *, dims=None, spacing=None):
        '''...

        Parameters
        ----------
        obj : DataArray
            Level "0".
        {dims}
        {spacing}
        '''

The accessor methods' docstrings are not built here: they are generated from
their plain-function twins at development time (``python -m xiso._docgen``,
see :mod:`xiso._accessor_docs`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------
# the factors of near_isotropic (near_isotropic_factors, near_isotropic, pyramid)
# --------------------------------------------------------------------------
ROUNDING = """\
rounding : {"pow2", "int"}, default "pow2"
    Round the spacing ratio to the nearest power of two (in log2) or to the
    nearest integer; ties go to the smaller factor."""

TARGET = """\
target : float or str, optional
    A coarser reference spacing; a number is in the unit of the coarsest
    dimension, a string such as ``"2 um"`` is converted."""

DIMS = """\
dims : list of dims, optional
    The spatial dims (default: x, y, z and CF/NGFF-tagged dims)."""

SPACING = """\
spacing : mapping, optional
    Spacing per dim where the coordinates do not give it."""

# --------------------------------------------------------------------------
# the block reduction (downsample, near_isotropic)
# --------------------------------------------------------------------------
METHOD = """\
method : {"mean", "median", "min", "max", "mode", "nearest"}, optional
    ``mode`` is the most frequent value per block (ties to the smallest),
    for label images; ``nearest`` takes the sample at offset
    ``(f - 1) // 2`` of each block. Default: ``mode`` for a variable that
    :func:`looks_like_labels` (a label image read back from OME-Zarr is
    one), else ``mean``."""

BOUNDARY = """\
boundary : {"trim", "pad", "exact"}, default "trim"
    Trailing samples that do not fill a block are dropped (``trim``),
    reduced as a partial block over the valid samples (``pad``), or
    refused with :class:`~xiso.errors.FactorError` (``exact``)."""

DTYPE = """\
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer
    means and medians are rounded to nearest (ties to even), never
    truncated. A float dtype returns the unrounded result. Results are
    in native byte order (big-endian ``>u2`` input gives ``uint16``)."""

SKIPNA = """\
skipna : bool, optional
    Ignore NaN in float data; default True for floats, as in xarray."""


def doc(**fields: str) -> Callable[[F], F]:
    """Fill the fields ``{name}`` of the decorated function's docstring.

    The docstring is cleaned first (:func:`inspect.cleandoc`, as ``help()``
    shows it), so a field's text starts at column 0 whatever the indentation
    of the source and the Python version. A field the docstring does not
    have is a mistake of the code and raises :class:`KeyError` at import.
    """

    def decorate(func: F) -> F:
        text = inspect.cleandoc(func.__doc__ or "")
        for name, value in fields.items():
            field = "{" + name + "}"
            if field not in text:
                raise KeyError(f"{func.__qualname__}'s docstring has no field {field}")
            text = text.replace(field, value)
        func.__doc__ = text
        return func

    return decorate
