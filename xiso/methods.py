"""One table of methods: every way xiso computes a new sample, with its facts.

Each method is one :class:`Method` entry of :data:`TABLE`: the operations it
serves, the dtypes it accepts, whether it can invent a value (label images),
where its output coordinates are, and a one-line description. Validation
(:func:`get`), the output dtype (:meth:`Method.output_dtype`), the choices of
the command line and the lists in the documentation are derived from it. The
numbers themselves are computed by each operation's kernel, registered under
the same name in its array-layer module (``reduce.KERNELS`` for blocks,
``grid.plan_axis`` for exact grids); the tests check that every entry has its
kernels and every kernel its entry.

Operations
----------
``block``
    Block reductions by whole factors: :func:`~xiso.downsample`,
    :func:`~xiso.near_isotropic`, :func:`~xiso.pyramid`.
``grid``
    Exact resampling onto any grid: :func:`~xiso.resample`,
    :func:`~xiso.isotropic`, :func:`~xiso.resample_like`, and
    :func:`~xiso.upsample` (the grid of spacing ``s / f``; ``linear`` and
    ``nearest`` only).

dtype rule (every method)
-------------------------
The output dtype is the input's unless ``dtype`` is given, in native byte
order; integer results are rounded half to even and clipped, never truncated
or wrapped.

Default rule
------------
Where no method is given, :func:`default_method` chooses one per variable:
never one that invents labels for a label image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import DtypeError, OptionError

__all__ = [
    "OPERATIONS",
    "TABLE",
    "Method",
    "default_method",
    "get",
    "names",
    "output_dtype",
    "parse_dtype",
]

OPERATIONS = ("block", "grid")

# what each operation is called in messages
_VERB = {"block": "reduce", "grid": "resample"}


@dataclass(frozen=True)
class Method:
    """One method and its facts.

    Attributes
    ----------
    name : str
        Its name, as passed to ``method=``.
    operations : tuple of str
        The operations it serves (see the module notes).
    kinds : str
        The numpy dtype kinds it accepts (``"iuf"``: integers and floats).
    label_safe : bool
        True when every output value is one of its inputs: it never invents a
        label, so it serves label images.
    coordinate : str
        Where a block's output sample sits: ``"centre"`` (the mean of the
        block's coordinates) or ``"sample"`` (the coordinate of the sample
        taken). Exact grids always put samples at their cell centres.
    doc : str
        One line.
    """

    name: str
    operations: tuple[str, ...]
    kinds: str
    label_safe: bool
    coordinate: str
    doc: str

    def output_dtype(
        self, in_dtype: Any, dtype: Any = None, operation: str = "block", verb: str | None = None
    ) -> np.dtype:
        """The output dtype on ``in_dtype`` (``dtype`` overrides it), native byte order;
        ``verb`` says what the caller does in the error (default: the operation's).

        Raises
        ------
        DtypeError
            The method cannot compute ``in_dtype``, or ``dtype`` is not a data type.
        """
        in_dtype = np.dtype(in_dtype)
        if in_dtype.kind not in self.kinds:
            instead = "'nearest' or 'mode'" if operation == "block" else "'nearest'"
            raise DtypeError(
                f"method={self.name!r} cannot {verb or _VERB[operation]} data of dtype {in_dtype}; "
                f"use method={instead}, or convert the data first"
            )
        return (in_dtype if dtype is None else parse_dtype(dtype)).newbyteorder("=")


_ALL = "biufcmMOUSV"

TABLE: dict[str, Method] = {
    m.name: m
    for m in (
        Method("mean", ("block",), "biuf", False, "centre", "the mean of each block"),
        Method("median", ("block",), "biuf", False, "centre", "the median of each block"),
        Method("min", ("block",), "biufmM", True, "centre", "the smallest value of each block"),
        Method("max", ("block",), "biufmM", True, "centre", "the largest value of each block"),
        Method(
            "mode",
            ("block",),
            "biufmMUS",
            True,
            "centre",
            "the most frequent value of each block (ties to the smallest): label images",
        ),
        Method(
            "nearest",
            ("block", "grid"),
            _ALL,
            True,
            "sample",
            "one input sample per output: the block's middle one, the one whose cell "
            "holds the output centre, or the repeated one",
        ),
        Method(
            "area",
            ("grid",),
            "iuf",
            False,
            "centre",
            "the input averaged over each output cell, weighted by overlap (exact on integers)",
        ),
        Method(
            "linear",
            ("grid",),
            "iuf",
            False,
            "centre",
            "linear interpolation at the output centres (anti-aliased when reducing)",
        ),
        Method(
            "cubic",
            ("grid",),
            "iuf",
            False,
            "centre",
            "cubic B-spline interpolation at the output centres (anti-aliased when reducing)",
        ),
    )
}


def names(operation: str) -> tuple[str, ...]:
    """The methods of ``operation``, in table order."""
    return tuple(name for name, m in TABLE.items() if operation in m.operations)


def default_method(
    operation: str, *, labels: bool, boolean: bool = False, finer: bool = False
) -> str:
    """The method of ``operation`` where none is given, for data that looks
    like a label image (``labels``), is boolean (a mask) or, for ``grid``, has
    a dim made finer (``finer``).

    ``block``: ``mode`` for label images, else ``mean``. ``grid``: ``nearest``
    for label images and masks, else ``linear`` where a dim is made finer (and
    so for upsampling), else ``area``.

    Examples
    --------
    >>> default_method("block", labels=True), default_method("grid", labels=False, finer=True)
    ('mode', 'linear')
    """
    if operation == "block":
        return "mode" if labels else "mean"
    if operation != "grid":
        raise ValueError(f"operation={operation!r} is not one of {OPERATIONS!r}")
    if labels or boolean:
        return "nearest"
    return "linear" if finer else "area"


def get(method: Any, operation: str) -> Method:
    """The entry of ``method`` for ``operation``.

    Raises
    ------
    OptionError
        ``method`` is not a method of ``operation``; the message lists those
        that are, and names the operation that has it if another one does.
    """
    entry = TABLE.get(method) if isinstance(method, str) else None
    if entry is None or operation not in entry.operations:
        elsewhere = ""
        if entry is not None:
            where = {"block": "downsample()", "grid": "resample()"}
            elsewhere = f" ({method!r} is a method of {where[entry.operations[0]]})"
        raise OptionError(
            f"method={method!r} is not supported; use one of {names(operation)!r}{elsewhere}"
        )
    return entry


def output_dtype(
    in_dtype: Any, method: Any, operation: str, dtype: Any = None, *, verb: str | None = None
) -> np.dtype:
    """The output dtype of ``method`` for ``operation`` on ``in_dtype``
    (``dtype`` overrides it), native byte order; ``verb`` names what the
    caller does in the error (``"upsample"``; default: the operation's).

    Raises
    ------
    OptionError
        ``method`` is not a method of ``operation``.
    DtypeError
        ``method`` cannot compute ``in_dtype``, or ``dtype`` is not a data type.
    """
    return get(method, operation).output_dtype(in_dtype, dtype, operation, verb)


def parse_dtype(dtype: Any) -> np.dtype:
    """``np.dtype(dtype)``, raising :class:`DtypeError` on what is not a data type."""
    try:
        return np.dtype(dtype)
    except (TypeError, ValueError):
        raise DtypeError(
            f"dtype={dtype!r} is not a data type numpy understands; pass e.g. "
            "dtype='uint16' or 'float32', or dtype=None to keep the input dtype"
        ) from None
