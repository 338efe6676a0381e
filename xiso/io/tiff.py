"""TIFF -> lazy, labelled DataArray: OME-TIFF, ImageJ hyperstacks, folders of planes.

Read with tifffile through its zarr interface (``TiffPageSeries.aszarr`` and
``TiffSequence.aszarr``), so nothing is read until computed and a large stack
converts chunk by chunk. The result meets the reader contract of
:mod:`xiso.io.read`. What each kind of file says, and where it is read from:

=================  =========================  ===============================
axis               OME-TIFF                   ImageJ (and plain TIFF)
=================  =========================  ===============================
dims               ``DimensionOrder``         the hyperstack axes (TZCYX)
z spacing          ``PhysicalSizeZ(+Unit)``   ``spacing`` with ``zunit``
                                              (else ``unit``)
y, x spacing       ``PhysicalSizeY/X(+Unit)`` resolution tags with ``yunit``
                                              / ``unit`` (else a
                                              ``ResolutionUnit`` of
                                              CENTIMETER; inches and no
                                              unit say nothing)
t step             ``TimeIncrement(+Unit)``   ``finterval`` with ``tunit``
                                              (else seconds)
channel labels     ``Channel/@Name``          0..n-1
=================  =========================  ===============================

A folder or glob of 2-D planes is one z stack, in the natural order of the
file names (``img_2`` before ``img_10``); its y and x spacing are read from
the first plane, its z spacing must be passed; every plane must have the
shape and dtype of the first (checked from the headers at open).

A unit the file gives that xiso cannot read, or a step that is no positive
number (an OME ``PhysicalSize*`` of 0, -2 or NaN), is an error only for a
dim ``spacing=`` does not give.

A file cut short (a copy that stopped early) is refused at open: every
plane its metadata says must have its bytes in the file. The file is held
by xarray's ``CachingFileManager``, so lazy images do not each keep a file
open.
"""

from __future__ import annotations

import contextlib
import glob
import logging
import math
import os
import re
import threading
import uuid
import warnings
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ..encodings import SPACING
from ..errors import SpacingError, SpatialDimError, TiffError, UnitError, XisoError, XisoWarning
from ..spacing import given_spacing
from ..units import check_length, ngff_name

__all__ = ["TiffError", "open_tiff"]

_T = TypeVar("_T")

TIFF_SUFFIXES = (".tif", ".tiff")
"""The file name endings of TIFF files (any case), ``.ome.tif`` included."""


# tifffile's axis letters -> dim names; the generic letters of a plain stack
# (I: pages, Q: unknown) become z when no Z is there
_DIM_OF_LETTER = {"T": "t", "C": "c", "Z": "z", "Y": "y", "X": "x"}
_GENERIC = ("I", "Q")
_SPACE = ("z", "y", "x")
_PIXEL_UNITS = ("", "pixel", "pixels", "px")
# ResolutionUnit codes that name a length: CENTIMETER, and tifffile's MILLIMETER and
# MICROMETER. NONE and INCH (the 72 dpi every editor writes) say no physical size.
_RESOLUTION_LENGTHS = {3: "centimeter", 4: "millimeter", 5: "micrometer"}


@dataclass
class _Meta:
    """What a file says: (step, NGFF unit or None) per dim, channel labels, attrs;
    ``unreadable`` holds, per dim, why its unit cannot be read, and
    ``invalid`` why its step is no positive number (with the unit the file
    gives it): each an error only when ``spacing=`` does not give that dim."""

    steps: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    invalid: dict[str, tuple[str, str | None]] = field(default_factory=dict)
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


def _read_unit(meta: _Meta, text: Any, dim: str, where: str) -> tuple[str | None, bool]:
    """(NGFF unit or None, readable): an unreadable unit is noted in
    ``meta.unreadable`` instead of raised, so ``spacing=`` can stand in for it."""
    try:
        return _unit(text, dim, where), True
    except UnitError:
        meta.unreadable[dim] = f"{where} gives dimension {dim!r} the unit {str(text).strip()!r}"
        return None, False


def _positive(text: Any) -> float | None:
    """A step the file gives as a float, or None when it is no positive finite number."""
    try:
        step = float(text)
    except (TypeError, ValueError):
        return None
    return step if math.isfinite(step) and step > 0 else None


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
            text = pixels.get(f"PhysicalSize{letter}Unit", "µm")
            unit, readable = _read_unit(meta, text, dim, repr(where))
            step = _positive(size)
            if step is None:  # the schema's PositiveFloat: 0, -2, NaN, INF are damage
                meta.invalid[dim] = (
                    f"{where!r} gives PhysicalSize{letter}={size!r}, but the OME schema "
                    "requires a positive number",
                    unit,
                )
            elif readable:
                meta.steps[dim] = (step, unit)
    increment = pixels.get("TimeIncrement")
    if increment is not None:
        unit, readable = _read_unit(meta, pixels.get("TimeIncrementUnit", "s"), "t", repr(where))
        if readable:
            meta.steps["t"] = (float(increment), unit)
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


def _resolution(
    page: Any, units: Mapping[str, str | None] | None = None
) -> dict[str, tuple[float, str | None]]:
    """y and x spacing from the resolution tags (pixels per unit), when they say
    one: in the unit ``units`` gives the dim (ImageJ's own), else in the
    ``ResolutionUnit`` when it is a length. A resolution in inches or without
    unit (72 dpi, the default of editors and tifffile) says no physical size."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return {}
    code = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    tag_unit = _RESOLUTION_LENGTHS.get(code)
    steps: dict[str, tuple[float, str | None]] = {}
    for dim, name in (("y", "YResolution"), ("x", "XResolution")):
        unit = (units or {}).get(dim) or tag_unit
        num, den = tags[name].value
        if unit is None or num == 0 or den == 0:
            continue
        steps[dim] = (den / num, unit)
    return steps


def _imagej_meta(ij: Mapping[str, Any], page: Any, where: str) -> _Meta:
    """ImageJ's calibration: ``unit`` is that of x, and of y and z unless
    ``yunit``, ``zunit`` say another; ``finterval`` is in ``tunit`` (seconds
    by default)."""
    meta = _Meta()
    units: dict[str, str | None] = {}
    readable: dict[str, bool] = {}
    for dim, key in (("z", "zunit"), ("y", "yunit"), ("x", "unit")):
        text = ij.get(key, ij.get("unit"))
        units[dim], readable[dim] = _read_unit(meta, text, dim, repr(where))
    resolution = _resolution(page, units)
    meta.steps.update({d: step for d, step in resolution.items() if readable[d]})
    if ij.get("spacing") is not None and _positive(ij["spacing"]) is None:
        meta.invalid["z"] = (
            f"{where!r} gives the ImageJ spacing={ij['spacing']!r} (the voxel depth), "
            "which is no positive number",
            units["z"],
        )
    elif readable["z"]:
        if ij.get("spacing") is not None:
            meta.steps["z"] = (float(ij["spacing"]), units["z"])
        elif units["z"] is not None:  # ImageJ leaves out spacing=1.0 of a calibrated image
            meta.steps["z"] = (1.0, units["z"])
    if ij.get("finterval"):
        unit, ok = _read_unit(meta, ij.get("tunit", "sec"), "t", repr(where))
        if ok:
            meta.steps["t"] = (float(ij["finterval"]), unit or "second")
    return meta


def _file_meta(tif: Any, where: str) -> _Meta:
    if tif.is_ome and tif.ome_metadata:
        return _ome_meta(tif.ome_metadata, where)
    if tif.is_imagej and tif.imagej_metadata is not None:
        return _imagej_meta(tif.imagej_metadata, tif.pages.first, where)
    return _Meta(steps=_resolution(tif.pages.first))


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
# damage: a file cut short
# --------------------------------------------------------------------------
@contextlib.contextmanager
def _tifffile_reports() -> Iterator[list[logging.LogRecord]]:
    """What tifffile logs in this thread meanwhile (warnings and errors), kept
    off stderr: tifffile logs, and goes on, where a file is damaged."""
    import tifffile

    records: list[logging.LogRecord] = []
    thread = threading.get_ident()

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                records.append(record)

    handler = _Keep(logging.WARNING)
    logger = tifffile.logger()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def _words(message: str) -> str:
    """A tifffile log message, shorter: "<TiffTag.fromfile> raised
    TiffFileError('<tifffile.TiffTag 270 @70> invalid value offset 8806')" ->
    "TiffTag 270 @70 invalid value offset 8806"."""
    raised = re.search(r"raised \w+\((['\"])(.*)\1\)$", message)
    if raised:
        message = raised.group(2)
    message = re.sub(r"^<tifffile\.(TiffFile|TiffPages)\b[^>]*>\s*", "", message)
    return re.sub(r"<tifffile\.([^>]*)>", r"\1", message)


def _planes(series: Any) -> int:
    """The planes (pages) of a series: its shape but the plane's own y, x and samples."""
    return int(np.prod([n for a, n in zip(series.axes, series.shape) if a not in "YXS"]))


def _planes_in_file(series: Any, size: int) -> int:
    """How many planes (pages) of a series have all their pixel bytes in their
    file: the pages tifffile found (of a multi-file OME-TIFF, each in its own
    file), or, for a contiguous series in one file of ``size`` bytes (ImageJ's
    layout, whose later planes need no header), by arithmetic."""
    total = _planes(series)
    offset = series.dataoffset
    if offset is not None:
        plane = series.nbytes // max(total, 1)
        return total if plane == 0 else int(min(total, max(0, size - offset) // plane))
    present = 0
    for index in range(total):
        try:
            page = series[index]
        except Exception:  # a header past the end, or garbage
            continue
        if page is not None and all(
            o + n <= page.parent.filehandle.size
            for o, n in zip(page.dataoffsets, page.databytecounts)
        ):
            present += 1
    return present


def _declared(tif: Any, series: Any) -> tuple[int, str, str] | None:
    """(planes, what says so, their shape) from the file's own metadata, or None
    when only the page headers found say how many there are."""
    kind = series.kind.lower()
    ij = tif.imagej_metadata if tif.is_imagej else None
    if ij is not None and kind != "imagej":  # tifffile could not follow its ImageJ metadata
        images = ij.get("images")
        if isinstance(images, int) and images > 0:
            shape = ", ".join(f"{k}={ij[k]}" for k in ("frames", "slices", "channels") if k in ij)
            return images, "ImageJ metadata", shape or f"images={images}"
        return None
    if kind in ("", "generic", "uniform"):
        return None
    letters = [(a, n) for a, n in zip(series.axes, series.shape) if a not in "YXS"]
    shape = ", ".join(f"{_DIM_OF_LETTER.get(a, a.lower())}={n}" for a, n in letters)
    names = {"imagej": "ImageJ metadata", "ome": "OME-XML", "shaped": "tifffile shape metadata"}
    what = names.get(kind, f"{kind} metadata")
    return _planes(series), what, shape or "one plane"


def _check_whole(tif: Any, series: Any, name: str, reports: Sequence[logging.LogRecord]) -> None:
    """Refuse a file that lacks planes its metadata says (a copy cut short), or
    that tifffile found damaged while nothing says how many planes it should
    hold; warn when it is damaged but every plane is there.

    Refused rather than read with the planes there are: a stack with planes
    left out (or filled with zeros, as tifffile fills missing pages) converts
    into an image that looks whole, and nothing downstream can tell.
    """
    size = os.path.getsize(tif.filehandle.path)
    declared = _declared(tif, series)
    found = _planes_in_file(series, size)
    if declared is not None and tif.is_imagej and series.kind.lower() != "imagej":
        # ImageJ stores its planes one after the other behind the first header
        first = tif.pages.first
        if first.dataoffsets and first.nbytes:
            found = min(declared[0], max(0, size - first.dataoffsets[0]) // first.nbytes)
    damage = [r for r in reports if r.levelno >= logging.ERROR]
    said = ""
    if damage:  # tifffile's own words, without its '<tifffile.TiffFile ...>' prefix
        said = "; tifffile: " + _words(damage[0].getMessage())
    fix = "copy it again from its source"
    if declared is not None and found < declared[0]:
        planes, what, shape = declared
        raise TiffError(
            f"{name} is truncated or damaged: its {what} says {planes} plane"
            f"{'s' * (planes != 1)} ({shape}), but "
            f"only {found} can be found in the file ({size} bytes{said}); "
            f"{fix} (tifffile.TiffFile reads the planes that are there)"
        )
    if declared is None and (damage or found < _planes(series)):
        raise TiffError(
            f"{name} is truncated or damaged ({size} bytes{said}): {found} plane"
            f"{'s' * (found != 1)} found, and no metadata that xiso can read says how many "
            "it should hold (the description that holds OME-XML or ImageJ metadata lies past "
            f"the cut: tifffile writes OME-XML at the end of a file); {fix}"
        )
    if declared is not None and damage:
        planes, what, shape = declared
        warnings.warn(
            f"{name} is damaged ({size} bytes{said}), but all {planes} planes its {what} says "
            f"({shape}) are in the file and are read; {fix} to be sure",
            XisoWarning,
            stacklevel=4,
        )


# --------------------------------------------------------------------------
# the lazy array
# --------------------------------------------------------------------------
class _Source:
    """An open TIFF file (or sequence of planes) and the zarr array over its
    first series: what :func:`_open_source` opens and the file manager closes."""

    def __init__(self, files: tuple[str, ...], sequence: bool) -> None:
        import tifffile
        import zarr

        with _tifffile_reports():  # said at open (see _check_whole); not again per reopen
            if sequence:
                self.handle: Any = tifffile.TiffSequence(files, sort=False, pattern=None)
                self.store: Any = self.handle.aszarr()
            else:
                self.handle = tifffile.TiffFile(files[0])
                try:
                    self.store = self.handle.series[0].aszarr(level=0)
                except BaseException:
                    self.handle.close()
                    raise
        self.array: Any = zarr.open_array(self.store, mode="r")

    def close(self) -> None:
        self.store.close()
        self.handle.close()


def _open_source(files: tuple[str, ...], sequence: bool, mode: str = "r") -> _Source:
    """The opener of the file manager (``mode`` is passed so that the manager
    pickles: xarray's "no mode" marker does not survive a pickle)."""
    return _Source(files, sequence)


class _TiffArray:
    """The pixels of a TIFF series (or a sequence of planes) seen through
    ``__getitem__``. The file is held by xarray's ``CachingFileManager``: it is
    reopened on demand, at most ``xarray.set_options(file_cache_maxsize=...)``
    files (128 by default) are open at once however many images are open, and
    the array pickles (for dask.distributed)."""

    def __init__(self, files: Sequence[str], sequence: bool) -> None:
        from xarray.backends.file_manager import CachingFileManager

        self.files = list(files)
        self.sequence = sequence
        self._manager = CachingFileManager(_open_source, tuple(self.files), sequence, mode="r")
        with self._manager.acquire_context() as source:
            array = source.array
            self.shape = tuple(array.shape)
            self.dtype = np.dtype(array.dtype)
            self.ndim = len(self.shape)
            self.chunks = tuple(array.chunks)

    def close(self) -> None:
        """Close the file now (it is reopened if read again)."""
        self._manager.close()

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            with self._manager.acquire_context() as source:
                return np.asarray(source.array[key])
        except Exception as err:
            from .read import region as region_of

            keys = key if isinstance(key, tuple) else (key,)
            region = region_of(keys, self.shape)
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
def _number_units(
    steps: dict[str, tuple[float, str | None]],
    bare: Sequence[Hashable],
    spacing: Mapping[Hashable, Any],
) -> None:
    """Give the numbers of ``bare`` (space dims the file gives no unit) the unit
    of the other space dims, from the file or from quantities in ``spacing``."""
    others = {u for d, (_, u) in steps.items() if d in _SPACE and u is not None and d not in bare}
    if not bare or not others:
        return
    if len(others) > 1:
        d = bare[0]
        raise UnitError(
            f"spacing of {d!r} is {spacing[d]!r}, a number without unit, but the other "
            f"spatial dims are in {', '.join(map(repr, sorted(others)))}; pass a quantity "
            f"such as spacing={{{d!r}: '{spacing[d]} um'}}"
        )
    (unit,) = others
    for d in bare:
        steps[str(d)] = (steps[str(d)][0], unit)


def resolve_steps(
    dims: Sequence[str],
    said: Mapping[str, tuple[float, str | None]],
    spacing: Mapping[Hashable, Any] | None,
    where: str,
    unreadable: Mapping[str, str] | None = None,
    invalid: Mapping[str, tuple[str, str | None]] | None = None,
) -> dict[str, tuple[float, str | None]]:
    """(step, unit) of every space and time dim: ``spacing=`` over what the file
    says. A number passed for a space dim the file gives no unit takes the
    unit of the other space dims (from the file, or quantities in
    ``spacing``; a folder of planes says y and x, the caller z). Every space
    dim must have a step, and the space dims all a unit or none. A dim in
    ``unreadable`` (its unit in the file cannot be read) or in ``invalid`` (its
    step in the file is no positive number: never guessed, since a negative
    one would reverse the planes) needs ``spacing=``."""
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
    unread = [d for d in dims if d in (unreadable or {}) and d not in spacing]
    if unread:
        kind = "a time unit" if unread == ["t"] else "a length unit"
        example = ", ".join(f"{d!r}: {'2 s' if d == 't' else '2 um'!r}" for d in unread)
        raise UnitError(
            f"{(unreadable or {})[unread[0]]}, which xiso cannot read; pass "
            f"spacing={{{example}}} with {kind}"
        )
    invalid = dict(invalid or {})
    bad = [d for d in dims if d in invalid and d not in spacing]
    if bad:
        reason, unit = invalid[bad[0]]
        example = ", ".join(f"{d!r}: 2.0" for d in bad)
        in_unit = f"in {unit}, the unit the file gives, " if unit else ""
        raise SpacingError(
            f"{reason}; xiso does not guess the spacing of {bad[0]!r}: pass "
            f"spacing={{{example}}} (a number {in_unit}or a quantity such as '2 um')"
        )
    steps = {d: said[d] for d in dims if d in said and d in (*_SPACE, "t")}
    bare: list[Hashable] = []
    for d, value in spacing.items():
        name = str(d)
        file_unit = said[name][1] if name in said else invalid.get(name, ("", None))[1]
        steps[name] = given_spacing(d, value, file_unit, ngff=True)
        if name in _SPACE and steps[name][1] is None:
            bare.append(d)
        elif name in _SPACE:
            check_length(name, steps[name][1])  # '2 s' is no spacing of z
    _number_units(steps, bare, spacing)
    missing = [d for d in dims if d in _SPACE and d not in steps]
    if missing:
        example = ", ".join(f"{d!r}: 2.0" for d in missing)
        raise SpacingError(
            f"{where!r} does not say the spacing of dimension{'s' * (len(missing) > 1)} "
            f"{', '.join(map(repr, missing))}; pass spacing={{{example}}} (a number in the "
            "unit of the other axes, or a quantity such as '2 um')"
        )
    unitless = [d for d in dims if d in _SPACE and steps[d][1] is None]
    if unitless and len(unitless) < len([d for d in dims if d in _SPACE]):
        example = ", ".join(f"{d!r}: '{steps[d][0]:g} um'" for d in unitless)
        raise UnitError(
            f"{where!r} gives dimension{'s' * (len(unitless) > 1)} "
            f"{', '.join(map(repr, unitless))} a spacing without unit, and the other spatial "
            f"dims one with a unit; pass spacing={{{example}}} with the unit meant"
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
            coords[dim] = xr.Variable(dim, values, attrs, encoding={SPACING: step})
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

    files = tiff_files(path)
    first = files[0] if files is not None else os.fspath(path)
    where = os.fspath(path)
    if files is None and not os.path.exists(first):
        raise TiffError(
            f"no file, folder or glob match at {where!r}; check the path "
            "(a folder of planes or a pattern such as 'planes/*.tif' opens as one z stack)"
        )
    axes, meta = _read_header(
        first,
        repr(first),
        "if it is a copy, it may be cut short: copy it again from its source",
        lambda tif, series: (series.axes, _file_meta(tif, first)),
    )
    if files is None:
        return _TiffArray([first], sequence=False), _dims(axes, where), meta, where
    extra = [a for a in axes if a not in "YXS"]
    if extra:
        raise TiffError(
            f"{where!r} is read as a stack of 2-D planes, but {first!r} has the axes "
            f"{axes!r}; open each multi-plane file with open_tiff(file) instead"
        )
    meta.steps.pop("z", None)  # a plane's own z says nothing about the stack
    meta.unreadable.pop("z", None)
    meta.invalid.pop("z", None)
    _check_planes(files, where)
    return _TiffArray(files, sequence=True), ["z", *_dims(axes, where)], meta, where


def _read_header(file: str, name: str, fix: str, read: Callable[[Any, Any], _T]) -> _T:
    """``read(tif, series)`` of the first series of ``file``, which must be
    whole (see :func:`_check_whole`); no pixel is read. ``name`` is what the
    errors call the file, ``fix`` what they say to do when it cannot be read.
    What tifffile logged is passed on once the file is found whole."""
    import tifffile

    try:
        with _tifffile_reports() as reports, tifffile.TiffFile(file) as tif:
            series = tif.series[0]
            result = read(tif, series)
            _check_whole(tif, series, name, reports)
    except XisoError:
        raise
    except Exception as err:  # TiffFileError, and struct.error etc. where headers are cut
        raise TiffError(f"{name} is not a readable TIFF file ({err}); {fix}") from None
    _pass_on(reports)
    return result


def _pass_on(reports: Sequence[logging.LogRecord]) -> None:
    """Log again what tifffile said while a file that xiso found whole was
    opened (its notes about unusual files are not xiso's to drop)."""
    import tifffile

    for record in reports:
        if record.levelno < logging.ERROR:  # errors: refused or warned of in _check_whole
            tifffile.logger().handle(record)


def _check_planes(files: Sequence[str], where: str) -> None:
    """Every plane has the shape and dtype of the first, by its header (no
    pixel is read): else the stack would fail, or be reinterpreted, when read."""

    found: tuple[tuple[int, ...], np.dtype] | None = None
    for file in files:
        here = _read_header(
            file,
            f"{file!r}, a plane of {where!r},",
            "remove or replace it",
            lambda tif, series: (tuple(series.shape), np.dtype(series.dtype)),
        )
        if found is None:
            found = here
        elif here != found:
            raise TiffError(
                f"{file!r} is a {here[0]} {here[1]} plane, but {files[0]!r} is a {found[0]} "
                f"{found[1]} one; every plane of {where!r} must have the same shape and "
                f"dtype: convert or remove {file!r}"
            )


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
        file gives that dim, else in that of the other spatial axes, from the
        file or from quantities in ``spacing``, else unitless), a string such
        as ``"2 um"`` or a pint quantity. Needed for every spatial dim whose
        spacing the file does not say (always z for a folder of planes; y and
        x when the resolution is in inches or has no unit) or whose unit
        xiso cannot read.
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
        a file cut short (fewer planes in it than its ImageJ or OME metadata
        says, or damaged where no metadata says how many), a folder whose
        files are not 2-D planes or whose planes differ in shape or dtype
        (from their headers, at open), or (when computed) a plane that cannot
        be read.
    SpacingError
        A spatial dim whose spacing neither the file nor ``spacing`` gives, a
        spacing that is not a positive number, or one the file gives that is
        not (an OME ``PhysicalSizeX/Y/Z`` or ImageJ ``spacing`` of 0, below
        0, NaN or infinite) where ``spacing`` does not replace it.
    UnitError
        A unit that is neither a length nor a time xiso can name (from the
        file only for a dim ``spacing`` does not give), or spatial dims of
        which some have a unit and others none.
    SpatialDimError
        ``spacing`` names a dim the image does not have.

    Warns
    -----
    XisoWarning
        A file tifffile reports damaged whose every plane is there (read
        exactly).

    Notes
    -----
    The file is opened through xarray's ``CachingFileManager``: at most
    ``xarray.set_options(file_cache_maxsize=...)`` files are open at once,
    however many images are, each reopened when read.

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
    steps = resolve_steps(dims, meta.steps, spacing, where, meta.unreadable, meta.invalid)
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
