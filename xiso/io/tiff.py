"""TIFF -> lazy, labelled DataArray: OME-TIFF, ImageJ hyperstacks, folders of planes.

Read with tifffile through its zarr interface (``TiffPageSeries.aszarr`` and
``TiffSequence.aszarr``), so nothing is read until computed and a large stack
converts chunk by chunk. The result meets the reader contract of
:mod:`xiso.io.read`. What each kind of file says, and where it is read from:

=================  =========================  ===============================
axis               OME-TIFF                   ImageJ (and plain TIFF)
=================  =========================  ===============================
dims               ``DimensionOrder``         the hyperstack axes (TZCYX)
z spacing          ``PhysicalSizeZ(+Unit)``   ``spacing`` with ``unit``
y, x spacing       ``PhysicalSizeY/X(+Unit)`` resolution tags with ``unit``
                                              (or ``ResolutionUnit``)
t step             ``TimeIncrement(+Unit)``   ``finterval`` (seconds)
channel labels     ``Channel/@Name``          0..n-1
=================  =========================  ===============================

A folder or glob of 2-D planes is one z stack, in the natural order of the
file names (``img_2`` before ``img_10``); its y and x spacing are read from
the first plane, its z spacing must be passed.
"""

from __future__ import annotations

import glob
import os
import re
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import SpacingError, SpatialDimError, UnitError, XisoError
from ..units import (
    TIFF_RESOLUTION_UNITS,
    check_length,
    is_quantity,
    ngff_name,
    parse_quantity,
)

__all__ = ["TiffError", "open_tiff"]

TIFF_SUFFIXES = (".tif", ".tiff")
"""The file name endings of TIFF files (any case), ``.ome.tif`` included."""


class TiffError(XisoError):
    """A path is not a readable TIFF image, or its planes do not form one stack."""


# tifffile's axis letters -> dim names; the generic letters of a plain stack
# (I: pages, Q: unknown) become z when no Z is there
_DIM_OF_LETTER = {"T": "t", "C": "c", "Z": "z", "Y": "y", "X": "x"}
_GENERIC = ("I", "Q")
_SPACE = ("z", "y", "x")
_PIXEL_UNITS = ("", "pixel", "pixels", "px")


@dataclass
class _Meta:
    """What a file says: (step, NGFF unit or None) per dim, channel labels, attrs."""

    steps: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    channels: list[str] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


def _natural_key(path: str) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path)]


def _is_tiff(path: str) -> bool:
    return path.lower().endswith(TIFF_SUFFIXES)


def tiff_files(path: Any) -> list[str] | None:
    """The TIFF planes of a folder or glob pattern, in natural order; None when
    ``path`` is one file."""
    text = os.fspath(path)
    if any(ch in text for ch in "*?["):
        files = [f for f in glob.glob(text) if os.path.isfile(f)]
        what = f"the pattern {text!r}"
    elif os.path.isdir(text):
        files = [str(p) for p in Path(text).iterdir() if p.is_file() and _is_tiff(p.name)]
        what = f"the folder {text!r}"
    else:
        return None
    if not files:
        raise TiffError(
            f"{what} holds no TIFF files (names ending in .tif or .tiff); check the path"
        )
    return sorted(files, key=_natural_key)


# --------------------------------------------------------------------------
# what the files say
# --------------------------------------------------------------------------
def _unit(text: Any, dim: str, where: str) -> str | None:
    """The NGFF name of a TIFF unit string; None for pixels (no physical unit)."""
    if text is None:
        return None
    text = str(text).strip()
    if "\\u" in text:  # ImageJ writes 'µm' as the six characters \u00B5m
        text = text.encode("ascii", "backslashreplace").decode("unicode_escape")
    if text.lower() in _PIXEL_UNITS:
        return None
    name = ngff_name(text)
    if name is None:
        raise UnitError(
            f"{where} gives dimension {dim!r} the unit {text!r}, which xiso cannot read; "
            f"pass spacing={{{dim!r}: '2 um'}} with a length unit"
        )
    return name


def _ome_meta(xml: str, where: str) -> _Meta:
    """Spacing, time step and channel names of the first image of an OME-XML text."""
    from xml.etree import ElementTree

    try:
        root = ElementTree.fromstring(xml)
    except ElementTree.ParseError as err:
        raise TiffError(f"the OME-XML of {where!r} cannot be parsed ({err})") from None
    pixels = next((el for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    meta = _Meta()
    if pixels is None:
        return meta
    for letter in "ZYX":
        size = pixels.get(f"PhysicalSize{letter}")
        if size is not None:
            dim = letter.lower()
            unit = _unit(pixels.get(f"PhysicalSize{letter}Unit", "µm"), dim, repr(where))
            meta.steps[dim] = (float(size), unit)
    increment = pixels.get("TimeIncrement")
    if increment is not None:
        meta.steps["t"] = (float(increment), _unit(pixels.get("TimeIncrementUnit", "s"), "t", ""))
    channels = [el for el in pixels if el.tag.rsplit("}", 1)[-1] == "Channel"]
    names = [el.get("Name") for el in channels]
    if names and all(names):
        meta.channels = [str(n) for n in names]
    name = next(
        (el.get("Name") for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "Image"), None
    )
    if name:
        meta.attrs["ome_image_name"] = name
    return meta


def _resolution(page: Any, unit: str | None, where: str) -> dict[str, tuple[float, str | None]]:
    """y and x spacing from the resolution tags (pixels per unit), when they say one."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return {}
    code = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    tag_unit = TIFF_RESOLUTION_UNITS.get(code)
    unit = unit if unit is not None else tag_unit
    steps: dict[str, tuple[float, str | None]] = {}
    for dim, name in (("y", "YResolution"), ("x", "XResolution")):
        num, den = tags[name].value
        if num == 0 or den == 0:
            continue
        if unit is None and num == den:
            continue  # 1 pixel per unit, no unit: tifffile's default, says nothing
        steps[dim] = (den / num, unit)
    return steps


def _imagej_meta(ij: Mapping[str, Any], page: Any, where: str) -> _Meta:
    meta = _Meta()
    unit = _unit(ij.get("unit"), "x", repr(where))
    meta.steps.update(_resolution(page, unit, where))
    if ij.get("spacing") is not None:
        meta.steps["z"] = (float(ij["spacing"]), unit)
    elif unit is not None:  # ImageJ leaves out spacing=1.0 of a calibrated image
        meta.steps["z"] = (1.0, unit)
    if ij.get("finterval"):
        meta.steps["t"] = (float(ij["finterval"]), "second")
    return meta


def _file_meta(tif: Any, where: str) -> _Meta:
    if tif.is_ome and tif.ome_metadata:
        return _ome_meta(tif.ome_metadata, where)
    if tif.is_imagej and tif.imagej_metadata is not None:
        return _imagej_meta(tif.imagej_metadata, tif.pages.first, where)
    return _Meta(steps=_resolution(tif.pages.first, None, where))


def _dims(axes: str, where: str) -> list[str]:
    """Dim names of tifffile's axis letters (S, the samples of RGB, is 'c' unless C is there)."""
    letters = list(axes)
    if "Z" not in letters:
        generic = [a for a in letters if a in _GENERIC]
        if len(generic) == 1:
            letters[letters.index(generic[0])] = "Z"
    if "S" in letters and "C" not in letters:
        letters[letters.index("S")] = "C"
    dims = [_DIM_OF_LETTER.get(a, a.lower()) for a in letters]
    if len(set(dims)) != len(dims):
        raise TiffError(f"the axes {axes!r} of {where!r} repeat a dimension; xiso cannot label it")
    return dims


# --------------------------------------------------------------------------
# the lazy array
# --------------------------------------------------------------------------
class _TiffArray:
    """The pixels of a TIFF series (or a sequence of planes) seen through
    ``__getitem__``; the file is opened on first read in each process, so the
    array pickles (for dask.distributed)."""

    def __init__(self, files: Sequence[str], sequence: bool) -> None:
        self.files = list(files)
        self.sequence = sequence
        self._array: Any = None
        self._handle: Any = None
        array = self._open()
        self.shape = tuple(array.shape)
        self.dtype = np.dtype(array.dtype)
        self.ndim = len(self.shape)
        self.chunks = tuple(array.chunks)

    def _open(self) -> Any:
        import tifffile
        import zarr

        if self._array is None:
            if self.sequence:
                handle: Any = tifffile.TiffSequence(self.files, sort=False, pattern=None)
                store = handle.aszarr()
            else:
                handle = tifffile.TiffFile(self.files[0])
                store = handle.series[0].aszarr(level=0)
            self._handle = handle
            self._array = zarr.open_array(store, mode="r")
        return self._array

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_array": None, "_handle": None}

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self._open()[key])
        except Exception as err:
            keys = key if isinstance(key, tuple) else (key,)
            region = [
                f"{k.start or 0}:{n if k.stop is None else k.stop}" if isinstance(k, slice) else k
                for k, n in zip(keys, self.shape)
            ]
            where = self.files[0]
            if self.sequence:  # one file per z: name the first plane of the region
                first = keys[0].start or 0 if isinstance(keys[0], slice) else int(keys[0])
                where, region = self.files[first], region[1:]
            raise TiffError(
                f"reading {where!r} at [{', '.join(map(str, region))}] failed: "
                f"{err.__class__.__name__}: {err}; the file is damaged, or a plane differs in "
                "shape or dtype from the first"
            ) from err


# --------------------------------------------------------------------------
# spacing and coordinates
# --------------------------------------------------------------------------
def _given(dim: Hashable, value: Any, file_unit: str | None) -> tuple[float, str | None]:
    """A ``spacing=`` value: a number (in ``file_unit``), a string such as
    '2 um', or a pint quantity."""
    if isinstance(value, str):
        parsed = parse_quantity(value)
        if parsed is None:
            raise UnitError(
                f"spacing of {dim!r} is {value!r}, which cannot be parsed; pass a number "
                "or a quantity such as '2 um'"
            )
        value = parsed
    if is_quantity(value):
        if value.dimensionless:
            step, unit = float(value.magnitude), file_unit
        else:
            unit = ngff_name(f"{value.units}")
            if unit is None:
                raise UnitError(
                    f"spacing of {dim!r} is {value!r}; pass a length (or a time for 't') "
                    "in a unit such as 'um', 'nm', 'mm' or 's'"
                )
            step = float(value.magnitude)
    else:
        try:
            step, unit = float(value), file_unit
        except (TypeError, ValueError):
            raise SpacingError(
                f"spacing of {dim!r} is {value!r}; pass a positive number or a quantity "
                "such as '2 um'"
            ) from None
    if not np.isfinite(step) or step <= 0:
        raise SpacingError(f"spacing of {dim!r} is {value!r}; it must be positive and finite")
    return step, unit


def resolve_steps(
    dims: Sequence[str],
    said: Mapping[str, tuple[float, str | None]],
    spacing: Mapping[Hashable, Any] | None,
    where: str,
) -> dict[str, tuple[float, str | None]]:
    """(step, unit) of every space and time dim: ``spacing=`` over what the file
    says. A number passed for a dim the file gives no unit takes the unit of
    the file's other space dims when they agree (a folder of planes says y
    and x, the caller z). Every space dim must have a step."""
    spacing = dict(spacing or {})
    unknown = [d for d in spacing if d not in dims]
    if unknown:
        raise SpatialDimError(
            f"spacing names {unknown[0]!r}, which is not a dimension of {where!r} (its dims "
            f"are {tuple(dims)!r}); pass spacing for those"
        )
    stepless = [d for d in spacing if d not in (*_SPACE, "t")]
    if stepless:
        raise SpatialDimError(
            f"spacing names {stepless[0]!r}, which is neither a spatial dim nor time; pass "
            "spacing for z, y, x or t only"
        )
    space_units = {said[d][1] for d in _SPACE if d in said and d in dims}
    shared = space_units.pop() if len(space_units) == 1 else None
    steps = {d: said[d] for d in dims if d in said and d in (*_SPACE, "t")}
    for d, value in spacing.items():
        name = str(d)
        default = said[name][1] if name in said else (shared if name in _SPACE else None)
        steps[name] = _given(d, value, default)
        if name in _SPACE and steps[name][1] is not None:
            check_length(name, steps[name][1])  # '2 s' is no spacing of z
    missing = [d for d in dims if d in _SPACE and d not in steps]
    if missing:
        example = ", ".join(f"{d!r}: 2.0" for d in missing)
        raise SpacingError(
            f"{where!r} does not say the spacing of dimension{'s' * (len(missing) > 1)} "
            f"{', '.join(map(repr, missing))}; pass spacing={{{example}}} (a number in the "
            "unit of the other axes, or a quantity such as '2 um')"
        )
    return steps


def _coords(
    dims: Sequence[str],
    shape: Sequence[int],
    steps: Mapping[str, tuple[float, str | None]],
    channels: list[str] | None,
) -> dict[Hashable, xr.Variable]:
    coords: dict[Hashable, xr.Variable] = {}
    for dim, n in zip(dims, shape):
        if dim in steps:
            step, unit = steps[dim]
            attrs = {"type": "space" if dim in _SPACE else "time"}
            if unit is not None:
                attrs["units"] = unit
            values = 0.0 + np.arange(n) * step
            coords[dim] = xr.Variable(dim, values, attrs, encoding={"spacing": step})
        elif dim == "t":
            coords[dim] = xr.Variable(dim, np.arange(n, dtype=np.float64), {"type": "time"})
        elif dim == "c":
            labels = channels if channels is not None and len(channels) == n else None
            labelled = np.array(labels, dtype=object) if labels is not None else np.arange(n)
            coords[dim] = xr.Variable(dim, labelled, {"type": "channel"})
        else:
            coords[dim] = xr.Variable(dim, np.arange(n))
    return coords


def _read(path: Any) -> tuple[_TiffArray, list[str], _Meta, str]:
    """The lazy array, dims, metadata and a name for messages of a file or planes."""
    import tifffile

    files = tiff_files(path)
    first = files[0] if files is not None else os.fspath(path)
    where = os.fspath(path)
    if files is None and not os.path.exists(first):
        raise TiffError(
            f"no file, folder or glob match at {where!r}; check the path "
            "(a folder of planes or a pattern such as 'planes/*.tif' opens as one z stack)"
        )
    try:
        with tifffile.TiffFile(first) as tif:
            series = tif.series[0]
            axes = series.axes
            meta = _file_meta(tif, first)
    except (tifffile.TiffFileError, IndexError) as err:
        raise TiffError(f"{first!r} is not a readable TIFF file ({err})") from None
    if files is None:
        return _TiffArray([first], sequence=False), _dims(axes, where), meta, where
    extra = [a for a in axes if a not in "YXS"]
    if extra:
        raise TiffError(
            f"{where!r} is read as a stack of 2-D planes, but {first!r} has the axes "
            f"{axes!r}; open each multi-plane file with open_tiff(file) instead"
        )
    meta.steps.pop("z", None)  # a plane's own z says nothing about the stack
    return _TiffArray(files, sequence=True), ["z", *_dims(axes, where)], meta, where


def open_tiff(
    path: str | os.PathLike[str],
    *,
    spacing: Mapping[Hashable, Any] | None = None,
    chunks: Any = None,
) -> xr.DataArray:
    """Open a TIFF image as a lazy, labelled DataArray (tifffile's zarr interface).

    Parameters
    ----------
    path : str or Path
        An OME-TIFF, an ImageJ hyperstack or another TIFF file (the first
        series, full resolution); or a folder or glob pattern of 2-D TIFF
        planes, stacked along z in the natural order of their names.
    spacing : mapping, optional
        Spacing per dim, over what the file says: a number (in the unit the
        file gives that dim, else in that of its other spatial axes, else
        unitless), a string such as ``"2 um"`` or a pint quantity. Needed for
        every spatial dim whose spacing the file does not say (always z for a
        folder of planes).
    chunks : optional
        Dask chunks (an int, a tuple, or a mapping keyed by dim name); default
        as stored (one plane, strip or tile per chunk).

    Returns
    -------
    DataArray
        Dask-backed (nothing is read until computed), dims from the file's
        axes in stored order (``t``, ``c``, ``z``, ``y``, ``x`` and others in
        lower case), coordinates ``index * spacing`` with attrs ``units`` (the
        NGFF unit name) and ``type`` as in the reader contract of
        :mod:`xiso.io.read`; channel labels from OME-XML. Named after the file
        or folder; ``attrs["source"]`` is the path.

    Raises
    ------
    TiffError
        No such file or no TIFF files in the folder, a file that is no TIFF,
        a folder whose files are not 2-D planes, or (when computed) a plane
        that cannot be read.
    SpacingError
        A spatial dim whose spacing neither the file nor ``spacing`` gives, or
        a spacing that is not a positive number.
    UnitError
        A unit that is neither a length nor a time xiso can name.
    SpatialDimError
        ``spacing`` names a dim the image does not have.

    Examples
    --------
    >>> import numpy as np, tifffile, xiso
    >>> path = getfixture("tmp_path") / "stack.tif"
    >>> tifffile.imwrite(path, np.zeros((4, 8, 8), "uint16"), imagej=True, resolution=(2.0, 2.0),
    ...                  metadata={"axes": "ZYX", "spacing": 1.0, "unit": "um"})
    >>> da = xiso.open_tiff(path)
    >>> da.dims, da.iso.spacing, da.z.attrs["units"]
    (('z', 'y', 'x'), {'z': 1.0, 'y': 0.5, 'x': 0.5}, 'micrometer')
    """
    import dask.array as dsa

    from .read import _dask_chunks

    array, dims, meta, where = _read(path)
    steps = resolve_steps(dims, meta.steps, spacing, where)
    data = dsa.from_array(
        array,
        chunks=_dask_chunks(array, chunks, dims),  # type: ignore[arg-type]
        name=f"xiso-tiff-{uuid.uuid4().hex}",
        lock=False,
        asarray=True,
        inline_array=True,
        meta=np.empty((0,) * array.ndim, dtype=array.dtype),
    )
    coords = _coords(dims, array.shape, steps, meta.channels)
    base = Path(os.fspath(path))
    while any(ch in base.name for ch in "*?[") and base != base.parent:
        base = base.parent  # a glob is named after its folder
    name = base.name.split(".")[0] or None
    attrs = {**meta.attrs, "source": os.fspath(path)}
    return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=attrs)
