"""One way in: :func:`open` picks the reader of a path from its name and content.

=============  ==========================================  ========================
format         recognised by                               reader
=============  ==========================================  ========================
``ome-zarr``   a URL; a folder with ``zarr.json``,         :func:`~xiso.open_ome_zarr`
               ``.zgroup`` or ``.zattrs``, or named
               ``*.zarr``
``tiff``       ``.tif``/``.tiff`` (``.ome.tif`` too); a    :func:`~xiso.open_tiff`
               file starting with a TIFF byte-order mark;
               a folder of TIFF files; a glob pattern
``nifti``      ``.nii``/``.nii.gz``; Philips ``.par``; a   :func:`~xiso.open_nifti`
               file with a NIfTI-1 or NIfTI-2 header
=============  ==========================================  ========================
"""

from __future__ import annotations

import builtins
import gzip
import importlib
import inspect
import os
from collections.abc import Hashable
from typing import Any

import xarray as xr

from ..errors import FormatError, OptionError, XisoError

__all__ = ["FORMATS", "FormatError", "ascending", "format_of", "ngff_order", "open"]

FORMATS: dict[str, tuple[str, str]] = {
    "ome-zarr": ("xiso.compose:open_ome_zarr", "an OME-Zarr image group (folder or URL)"),
    "tiff": (
        "xiso.io.tiff:open_tiff",
        "a TIFF file (.tif, .tiff, .ome.tif), a folder of TIFF planes or a glob pattern",
    ),
    "nifti": ("xiso.io.nifti:open_nifti", "a NIfTI file (.nii, .nii.gz) or a PAR/REC file"),
}
"""format name -> ("module:reader", what it accepts)."""

_TIFF_MAGIC = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # TIFF and BigTIFF


def _accepted() -> str:
    return "; ".join(f"{what} ({name})" for name, (_, what) in FORMATS.items())


def _nifti_header(head: bytes) -> bool:
    """Whether ``head`` starts a NIfTI-1 (348-byte) or NIfTI-2 (540-byte) header."""
    one = len(head) >= 348 and head[344:348] in (b"n+1\x00", b"ni1\x00")
    two = len(head) >= 8 and head[4:8] in (b"n+2\x00", b"ni2\x00")
    return one or two


def _sniff(path: str) -> str | None:
    try:
        with builtins.open(path, "rb") as f:  # this module's open() is xiso.open
            head = f.read(540)
    except OSError:
        return None
    if head[:4] in _TIFF_MAGIC:
        return "tiff"
    if head[:2] == b"\x1f\x8b":  # gzip: a .nii.gz under another name?
        try:
            with gzip.open(path, "rb") as f:
                head = f.read(540)
        except (OSError, EOFError):
            return None
    return "nifti" if _nifti_header(head) else None


def format_of(path: Any) -> str:
    """The name of the format of ``path`` (a key of :data:`FORMATS`).

    Raises
    ------
    FormatError
        Nothing is at ``path``, or it is in no format xiso reads.

    Examples
    --------
    >>> from xiso.io.formats import format_of
    >>> format_of("s3://bucket/image.ome.zarr"), format_of("planes/*.tif")
    ('ome-zarr', 'tiff')
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if text is None:
        return "ome-zarr"  # a zarr store object
    if "://" in text:
        return "ome-zarr"
    lower = text.lower().rstrip("/\\")
    if any(ch in os.path.basename(text) for ch in "*?["):
        return "tiff"
    if os.path.isdir(text):
        marks = ("zarr.json", ".zgroup", ".zattrs")
        if lower.endswith(".zarr") or any(os.path.exists(os.path.join(text, m)) for m in marks):
            return "ome-zarr"
        if any(name.lower().endswith((".tif", ".tiff")) for name in os.listdir(text)):
            return "tiff"
        raise FormatError(
            f"the folder {text!r} is no zarr group and holds no TIFF files; xiso opens "
            f"{_accepted()}"
        )
    if lower.endswith((".tif", ".tiff")):
        return "tiff"
    if lower.endswith((".nii", ".nii.gz", ".par")):
        return "nifti"
    if not os.path.exists(text):
        if lower.endswith(".zarr") or "." not in os.path.basename(lower):
            return "ome-zarr"  # its reader says what is missing (and where a swap left it)
        raise FormatError(f"no file or folder at {text!r}; check the path")
    found = _sniff(text)
    if found is not None:
        return found
    raise FormatError(
        f"{text!r} is in no format xiso reads (by its name or its first bytes); xiso opens "
        f"{_accepted()}"
    )


def _reader(name: str) -> Any:
    module, function = FORMATS[name][0].split(":")
    return getattr(importlib.import_module(module), function)


def open(path: Any, **kwargs: Any) -> xr.DataArray:
    """Open an image of any format xiso reads, with the reader its name or
    content calls for.

    Parameters
    ----------
    path : str, Path, URL or zarr store
        An OME-Zarr image, a TIFF file, folder of TIFF planes or glob pattern,
        or a NIfTI (or PAR/REC) file; see :data:`FORMATS`.
    **kwargs
        Passed to the reader: :func:`~xiso.open_ome_zarr`,
        :func:`~xiso.open_tiff` or :func:`~xiso.open_nifti`.

    Returns
    -------
    DataArray
        Lazy and labelled, as the reader contract of :mod:`xiso.io.read` says.

    Raises
    ------
    FormatError
        Nothing at ``path``, or a format xiso does not read (the message lists
        those it does).
    OptionError
        A keyword the chosen reader does not take.

    Examples
    --------
    >>> import numpy as np, nibabel, xiso
    >>> path = str(getfixture("tmp_path") / "head.nii")
    >>> nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 2), "uint8"), np.diag([1, 1, 4, 1])), path)
    >>> xiso.open(path).iso.spacing
    {'z': 4.0, 'y': 1.0, 'x': 1.0}
    """
    name = format_of(path)
    reader = _reader(name)
    try:
        inspect.signature(reader).bind(path, **kwargs)
    except TypeError:
        takes = [p for p in inspect.signature(reader).parameters if p not in ("path", "store")]
        unknown = [k for k in kwargs if k not in takes]
        raise OptionError(
            f"{reader.__name__} (the reader of {name} input {os.fspath(path)!r}) does not take "
            f"{', '.join(f'{k}=' for k in unknown)}; it takes {', '.join(takes)}"
        ) from None
    da: xr.DataArray = reader(path, **kwargs)
    return da


def ngff_order(da: xr.DataArray) -> xr.DataArray:
    """``da`` transposed (lazily) to the axis order NGFF stores: time, channel,
    other dims, then the spatial dims (in their own order); unchanged when it is
    in that order already.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xiso.io.formats import ngff_order
    >>> ngff_order(xr.DataArray(np.zeros((2, 3, 4, 5, 6)), dims=("t", "z", "c", "y", "x"))).dims
    ('t', 'c', 'z', 'y', 'x')
    """
    from ..axes import axis_role

    rank = {"time": 0, "channel": 1, None: 2, "space": 3}

    def key(dim: Hashable) -> int:
        role = axis_role(dim, da.coords[dim].attrs if dim in da.coords else {})
        return rank.get(role, 2)

    order = sorted(da.dims, key=key)  # stable: dims of one role keep their order
    return da if tuple(order) == da.dims else da.transpose(*order)


_FLIPPED = str.maketrans("LRAPSI", "RLPAIS")
_CODES = {"x": "LR", "y": "AP", "z": "SI"}


def ascending(da: xr.DataArray) -> xr.DataArray:
    """``da`` with every descending spatial coordinate reversed (lazily), as
    NGFF's positive scales need; each sample keeps its coordinate. The
    NIfTI orientation codes in ``attrs["orientation"]`` follow the flips.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xiso.io.formats import ascending
    >>> da = xr.DataArray(np.arange(3), dims="x", coords={"x": [4.0, 2.0, 0.0]},
    ...                   attrs={"orientation": "LAS"})
    >>> flipped = ascending(da)
    >>> flipped.x.values, flipped.values, flipped.attrs["orientation"]
    (array([0., 2., 4.]), array([2, 1, 0]), 'RAS')
    """
    from ..axes import spatial_letter
    from ..spacing import spatial_dims

    try:
        spatial = spatial_dims(da)
    except XisoError:
        return da
    flips = [
        d
        for d in spatial
        if d in da.coords
        and da[d].dtype.kind in "iuf"
        and da[d].size > 1
        and da[d].values[-1] < da[d].values[0]
    ]
    if not flips:
        return da
    out = da.isel({d: slice(None, None, -1) for d in flips})
    orientation = out.attrs.get("orientation")
    if isinstance(orientation, str):
        codes = list(orientation)
        for d in flips:
            pair = _CODES.get(str(spatial_letter(d, da[d].attrs)), "")
            codes = [c.translate(_FLIPPED) if c in pair else c for c in codes]
        out.attrs["orientation"] = "".join(codes)
    return out
