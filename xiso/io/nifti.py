"""NIfTI <-> labelled DataArray, with nibabel (imported on first use).

Reading (:func:`open_nifti`) meets the reader contract of :mod:`xiso.io.read`
for an axis-aligned affine: each voxel axis runs along one world axis of
NIfTI's RAS+ space, so it becomes the dim ``x``, ``y`` or ``z`` of that world
axis, with coordinates ``offset + index * step`` straight from the affine (a
negative step, e.g. an ``L`` axis, gives a descending coordinate). The dims
are the voxel axes slowest first, the order of the bytes on disk as C-order
numpy sees them: ``(t, z, y, x)`` for a usual 4-D file, which is also the
order NGFF stores. nibabel's ``(i, j, k, t)`` order is
``da.transpose(*reversed(da.dims))``.

Writing (:func:`to_nifti`) builds the affine from the coordinates of the
three spatial dims and replaces the file atomically.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ..errors import OptionError, SpatialDimError, StoreExistsError, XisoError

__all__ = ["NIFTI_SUFFIXES", "NiftiError", "open_nifti", "to_nifti"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
"""The file name endings :func:`to_nifti` writes (and :func:`xiso.open` reads as NIfTI)."""

OBLIQUE = ("raise", "ignore")
"""The values of ``oblique=``."""

_WORLD = ("x", "y", "z")  # NIfTI's RAS+ world axes, in affine row order
_OFF_AXIS_RTOL = 1e-6  # an affine entry this small against its column is zero
_CHUNK_BYTES = 32 * 2**20


class NiftiError(XisoError):
    """A file is not a readable NIfTI (or other nibabel) image, its affine is
    oblique, or an image cannot be written as NIfTI."""


def _nibabel() -> Any:
    """nibabel, imported on first use (xiso's ``nifti`` extra)."""
    try:
        import nibabel
    except ModuleNotFoundError:
        from ..errors import install_hint

        raise ModuleNotFoundError(
            "reading and writing NIfTI needs nibabel, which is not installed; "
            + install_hint("nifti", "nibabel")
        ) from None
    return nibabel


# --------------------------------------------------------------------------
# reading
# --------------------------------------------------------------------------
class _NiftiArray:
    """nibabel's array proxy (scaled on read) seen through ``__getitem__``; the
    file is opened again after unpickling (for dask.distributed)."""

    def __init__(self, path: str, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.path = path
        self.shape = shape
        self.dtype = dtype
        self.ndim = len(shape)
        self._proxy: Any = None

    def _open(self) -> Any:
        if self._proxy is None:
            image: Any = _nibabel().load(self.path)
            self._proxy = image.dataobj
        return self._proxy

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_proxy": None}

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            return np.asarray(self._open()[key], dtype=self.dtype)
        except Exception as err:
            raise NiftiError(
                f"reading {self.path!r} at {key!r} failed: {err.__class__.__name__}: {err}; "
                "the file is damaged or truncated"
            ) from err


def _load(path: str) -> Any:
    nibabel = _nibabel()

    if not os.path.exists(path):
        raise NiftiError(f"no file at {path!r}; check the path")
    try:
        image: Any = nibabel.load(path)
    except Exception as err:  # nibabel raises ImageFileError, HeaderDataError, OSError, ...
        raise NiftiError(
            f"{path!r} cannot be read as a NIfTI (or other nibabel) image: "
            f"{err.__class__.__name__}: {err}"
        ) from None
    if getattr(image, "affine", None) is None or len(image.shape) not in (3, 4):
        raise NiftiError(
            f"{path!r} is a {len(image.shape)}-D {type(image).__name__}; xiso reads 3-D and "
            "4-D images with an affine (load others with nibabel and label them yourself)"
        )
    files = getattr(image, "file_map", {})
    data_file = getattr(files.get("image"), "filename", None)
    if isinstance(data_file, str) and not os.path.exists(data_file):
        raise NiftiError(
            f"the header {path!r} points to the image file {data_file!r}, which does not "
            "exist; put the voxel data file beside the header (a .hdr needs its .img)"
        )
    return image


def _scaled_dtype(image: Any) -> np.dtype:
    """The dtype nibabel's array proxy returns (after its scaling), from the
    header alone: no voxel is read."""
    from nibabel.volumeutils import apply_read_scaling

    proxy = image.dataobj
    stored = getattr(proxy, "dtype", None)
    stored = np.dtype(image.get_data_dtype() if stored is None else stored)
    if hasattr(proxy, "_slice_scaling"):  # PAR/REC: one slope and intercept per slice
        scaling = proxy._slice_scaling
        if scaling is None:
            return stored
        return np.result_type(stored, *(np.asarray(s).dtype for s in scaling))
    if hasattr(proxy, "slope") and hasattr(proxy, "inter"):  # as ArrayProxy._get_scaled
        slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
        inter = inter.astype(slope.dtype) if np.can_cast(inter, slope.dtype) else inter
        return np.dtype(apply_read_scaling(np.zeros(1, stored), slope, inter).dtype)
    return stored


def _units(image: Any) -> tuple[str | None, str | None]:
    """(space, time) NGFF unit names of an image's header."""
    from ..units import NIFTI_UNITS

    header = image.header
    if hasattr(header, "get_xyzt_units"):
        space, time = header.get_xyzt_units()
        return NIFTI_UNITS.get(space), NIFTI_UNITS.get(time)
    if type(header).__name__ == "PARRECHeader":  # nibabel gives mm and the TR in seconds
        return "millimeter", "second"
    return "millimeter", None  # nibabel's world space is in mm


def _axes(affine: np.ndarray, where: str, oblique: str) -> tuple[list[tuple[int, float]], bool]:
    """(world axis, signed step) of each voxel axis i, j, k, and whether the
    affine is axis-aligned (else the steps are the voxel sizes)."""
    nibabel = _nibabel()

    columns = affine[:3, :3]
    norms = np.sqrt((columns**2).sum(axis=0))
    if not np.all(np.isfinite(norms)) or np.any(norms == 0):
        raise NiftiError(
            f"the affine of {where!r} has a zero or non-finite voxel size "
            f"({np.round(norms, 6).tolist()}); the header is damaged"
        )
    world = np.abs(columns).argmax(axis=0)
    off = np.abs(columns).copy()
    off[world, range(3)] = 0
    aligned = len(set(world.tolist())) == 3 and np.all(off <= _OFF_AXIS_RTOL * norms)
    if aligned:
        return [(int(world[j]), float(columns[world[j], j])) for j in range(3)], True
    if oblique == "raise":
        raise NiftiError(
            f"the affine of {where!r} is oblique (its voxel axes are rotated against the "
            f"world axes, orientation {''.join(nibabel.aff2axcodes(affine))} only roughly), "
            "so no axis has one coordinate; resample it onto the world axes (e.g. with "
            "nibabel.processing.resample_to_output), or pass oblique='ignore' to take the "
            "voxel sizes as spacing and keep the affine in attrs['affine']"
        )
    nearest = nibabel.orientations.io_orientation(affine)
    return [(int(nearest[j, 0]), float(norms[j])) for j in range(3)], False


def _voxel_chunks(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    """Whole (i, j) planes, about 32 MiB of k per chunk, one time point."""
    plane = shape[0] * shape[1] * itemsize
    k = max(1, min(shape[2], _CHUNK_BYTES // max(plane, 1)))
    return (shape[0], shape[1], k, *(1 for _ in shape[3:]))


def _time(image: Any, n: int, unit: str | None) -> xr.Variable:
    step = float(image.header.get_zooms()[3])
    header = image.header
    offset = float(header["toffset"]) if hasattr(header, "get_xyzt_units") else 0.0
    attrs: dict[str, Any] = {"type": "time"}
    if step > 0 and np.isfinite(step):
        if unit is not None:
            attrs["units"] = unit
        values = offset + np.arange(n) * step
        return xr.Variable("t", values, attrs, encoding={"spacing": step})
    return xr.Variable("t", np.arange(n, dtype=np.float64), attrs)


def open_nifti(
    path: str | os.PathLike[str], *, oblique: str = "raise", chunks: Any = None
) -> xr.DataArray:
    """Open a NIfTI image (or another nibabel image, e.g. PAR/REC) as a lazy,
    labelled DataArray.

    Parameters
    ----------
    path : str or Path
        A ``.nii`` or ``.nii.gz`` file (NIfTI-1 or NIfTI-2), or any 3-D or
        4-D image nibabel loads with an affine.
    oblique : {"raise", "ignore"}, default "raise"
        What to do with an affine whose voxel axes are rotated against the
        world axes: refuse it, or take the voxel sizes (the norms of the
        affine's columns) as ascending spacing from 0, name each axis after
        its nearest world axis and keep the affine in ``attrs["affine"]``.
    chunks : optional
        Dask chunks (an int, a tuple, or a mapping keyed by dim name); default
        whole (x, y) planes, about 32 MiB per chunk, one time point.

    Returns
    -------
    DataArray
        Dask-backed, scaled as nibabel scales (``scl_slope``, ``scl_inter``).
        Dims ``("z", "y", "x")`` (or ``("t", "z", "y", "x")``), the voxel axes
        slowest first, each named after its world axis; coordinates
        ``offset + index * step`` from the affine, descending where the
        affine flips an axis, with attrs ``units`` from ``xyzt_units``
        (none when the file says 'unknown') and ``type``; the time axis steps
        by the 4th voxel size from ``toffset``. ``attrs["orientation"]`` is
        nibabel's axis codes in (i, j, k) order (e.g. ``"LAS"``),
        ``attrs["source"]`` the path.

    Raises
    ------
    NiftiError
        No such file (or a header whose image file, e.g. the ``.img`` of a
        ``.hdr``, is missing), a file nibabel cannot read, an image that is not
        3-D or 4-D, or an oblique affine (with ``oblique="raise"``). No voxel
        is read at open.
    OptionError
        ``oblique`` is not one of ``"raise"``, ``"ignore"``.

    Examples
    --------
    >>> import numpy as np, nibabel, xiso
    >>> path = str(getfixture("tmp_path") / "head.nii.gz")
    >>> affine = np.diag([-2.0, 2.0, 3.0, 1.0])   # x flipped (L), 2 x 2 x 3 mm
    >>> nibabel.save(nibabel.Nifti1Image(np.zeros((4, 5, 6), "int16"), affine), path)
    >>> da = xiso.open_nifti(path)
    >>> da.dims, da.attrs["orientation"], da.iso.spacing
    (('z', 'y', 'x'), 'LAS', {'z': 3.0, 'y': 2.0, 'x': 2.0})
    >>> da.x.values
    array([ 0., -2., -4., -6.])
    """
    import dask.array as dsa

    from .read import _dask_chunks

    nibabel = _nibabel()

    if oblique not in OBLIQUE:
        raise OptionError(f"oblique={oblique!r}; pass 'raise' (the default) or 'ignore'")
    where = os.fspath(path)
    image = _load(where)
    affine = np.asarray(image.affine, dtype=np.float64)
    axes, aligned = _axes(affine, where, oblique)
    shape = tuple(int(n) for n in image.shape)
    space_unit, time_unit = _units(image)
    names = [_WORLD[a] for a, _ in axes] + (["t"] if len(shape) == 4 else [])
    dims = names[::-1]
    coords: dict[Hashable, xr.Variable] = {}
    for j, (a, step) in enumerate(axes):
        origin = float(affine[a, 3]) if aligned else 0.0
        attrs = {"type": "space", **({"units": space_unit} if space_unit else {})}
        values = origin + np.arange(shape[j]) * step
        coords[names[j]] = xr.Variable(names[j], values, attrs, encoding={"spacing": abs(step)})
    if len(shape) == 4:
        coords["t"] = _time(image, shape[3], time_unit)
    # the dtype after nibabel's scaling, in native byte order
    dtype = _scaled_dtype(image).newbyteorder("=")
    array = _NiftiArray(where, shape, dtype)
    reversed_shape = shape[::-1]
    default = _voxel_chunks(shape, dtype.itemsize)[::-1]
    wanted = _dask_chunks(
        _Shape(reversed_shape, default, dtype),  # type: ignore[arg-type]
        chunks,
        dims,
    )
    data = dsa.from_array(
        array,
        chunks=wanted[::-1],
        name=f"xiso-nifti-{uuid.uuid4().hex}",
        lock=False,
        asarray=True,
        inline_array=True,
        meta=np.empty((0,) * len(shape), dtype=dtype),
    ).transpose()
    image_attrs: dict[str, Any] = {
        "orientation": "".join(nibabel.aff2axcodes(affine)),
        "source": where,
    }
    if not aligned:
        image_attrs["affine"] = affine.tolist()
    name = Path(where).name.split(".")[0] or None
    return xr.DataArray(data, dims=dims, coords=coords, name=name, attrs=image_attrs)


class _Shape:
    """What the chunk option reader of :mod:`xiso.io.read` asks of an array."""

    def __init__(self, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape = shape
        self.chunks = chunks
        self.dtype = dtype
        self.ndim = len(shape)


# --------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------
def _signed_step(obj: xr.DataArray, dim: Hashable) -> float:
    from ..spacing import coordinate_step

    step = coordinate_step(obj, dim)  # checks: present, numeric, finite, uniform
    values = np.asarray(obj[dim].values, dtype=np.float64)
    return -step if values.size > 1 and values[-1] < values[0] else step


def _space_unit(obj: xr.DataArray, spatial: tuple[Hashable, ...]) -> tuple[str, str | None]:
    """(NIfTI unit name, unit the coordinates are converted from, or None)."""
    from ..spacing import coordinate_unit
    from ..units import nifti_name

    found = {coordinate_unit(obj, d) for d in spatial}
    if found == {None}:
        return "unknown", None
    if None in found:
        raise NiftiError(
            f"the spatial dims {spatial!r} have units {sorted(map(str, found))!r}: some "
            "none; set attrs['units'] on every spatial coordinate or on none"
        )
    if len(found) == 1:
        (unit,) = found
        name = nifti_name(unit)
        if name is not None:
            return name, unit
    return "mm", "millimeter"  # NIfTI names only m, mm and micron: convert to mm


def _affine(obj: xr.DataArray, spatial: tuple[Hashable, ...]) -> tuple[np.ndarray, str]:
    """The 4x4 affine of the voxel axes (i, j, k) = reversed ``spatial``, and the unit."""
    from ..axes import spatial_letter
    from ..spacing import coordinate_unit
    from ..units import convert

    name, target = _space_unit(obj, spatial)
    voxel = spatial[::-1]
    letters = [spatial_letter(d, obj[d].attrs if d in obj.coords else {}) for d in voxel]
    if sorted(map(str, letters)) != ["x", "y", "z"]:
        letters = ["x", "y", "z"]  # roles unknown: i, j, k along x, y, z
    affine = np.zeros((4, 4))  # a permuted axis order must leave no stray diagonal 1
    affine[3, 3] = 1.0
    for j, (dim, letter) in enumerate(zip(voxel, letters)):
        step = _signed_step(obj, dim)
        origin = float(np.asarray(obj[dim].values, dtype=np.float64)[0])
        unit = coordinate_unit(obj, dim)
        if target is not None and unit is not None and unit != target:
            step, origin = convert(step, unit, target), convert(origin, unit, target)
        a = _WORLD.index(str(letter))
        affine[a, j] = step
        affine[a, 3] = origin
    return affine, name


def _time_header(obj: xr.DataArray, dim: Hashable) -> tuple[float, float, str]:
    """(step, offset, NIfTI unit) of the 4th dim; (0, 0, 'unknown') when it has no
    numeric, evenly spaced coordinate."""
    from ..spacing import coordinate_unit
    from ..units import convert, nifti_name

    if dim not in obj.coords or obj[dim].dtype.kind not in "iuf":
        return 0.0, 0.0, "unknown"
    try:
        step = abs(_signed_step(obj, dim))
    except XisoError:
        return 0.0, 0.0, "unknown"
    offset = float(np.asarray(obj[dim].values, dtype=np.float64)[0])
    unit = coordinate_unit(obj, dim)
    if unit is None:
        return step, offset, "unknown"
    name = nifti_name(unit)
    if name is None:
        step, offset, name = convert(step, unit, "second"), convert(offset, unit, "second"), "sec"
    return step, offset, name


def _check_target(path: str, overwrite: bool) -> None:
    if not path.lower().endswith(NIFTI_SUFFIXES):
        raise NiftiError(
            f"{path!r} does not end in .nii or .nii.gz; name the output file with one of them "
            "(.nii.gz is compressed)"
        )
    if os.path.isdir(path):
        raise StoreExistsError(f"{path!r} is a folder; pass the path of a .nii or .nii.gz file")
    if os.path.exists(path) and not overwrite:
        raise StoreExistsError(f"{path!r} exists; pass overwrite=True to replace it")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise NiftiError(
            f"the folder {folder!r} of {path!r} does not exist; create it first "
            "(e.g. os.makedirs) or write to an existing folder"
        )


def to_nifti(obj: xr.DataArray, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write a 3-D or 4-D DataArray as a NIfTI-1 file, the affine from its coordinates.

    Parameters
    ----------
    obj : DataArray
        Three spatial dims (see :func:`xiso.spatial_dims`) with evenly spaced
        coordinates, and optionally one more dim (time) that becomes the 4th
        voxel axis. Loaded into memory to write (NIfTI has no chunks).
    path : str or Path
        A file name ending in ``.nii`` or ``.nii.gz`` (compressed).
    overwrite : bool, default False
        Replace an existing file. The file is written beside the target and
        moved over it in one step (``os.replace``), so a failed write leaves
        the old file as it was.

    Notes
    -----
    The voxel axes (i, j, k) are the spatial dims in reverse order (what
    :func:`open_nifti` reads back as the same dims). Each runs along the world
    axis its name or CF ``axis`` says (x, y, z; else i, j, k along x, y, z),
    by the signed step of its coordinate from its first value, so descending
    coordinates are flips. Spatial units become NIfTI's (meter, mm, micron;
    other lengths are converted to mm); the 4th axis steps by its coordinate's
    step in sec, msec or usec, from ``toffset``. An affine that
    :func:`open_nifti` kept for an oblique image is not written back.

    Raises
    ------
    SpatialDimError
        Not three spatial dims, or more than one other dim.
    NiftiError
        A path not ending in .nii or .nii.gz, a folder that does not exist,
        units on some spatial coordinates only, or data nibabel cannot store.
    StoreExistsError
        The file exists and ``overwrite`` is False, or the path is a folder.
    SpacingError
        A spatial coordinate that is missing, uneven or not numeric.

    Examples
    --------
    >>> import numpy as np, xarray as xr, xiso
    >>> da = xr.DataArray(np.zeros((3, 4, 5), "int16"), dims=("z", "y", "x"),
    ...                   coords={d: (d, np.arange(n) * s, {"units": "mm"})
    ...                           for d, n, s in (("z", 3, 4.0), ("y", 4, 2.0), ("x", 5, 2.0))})
    >>> path = getfixture("tmp_path") / "out.nii.gz"
    >>> xiso.to_nifti(da, path)
    >>> xiso.open_nifti(path).iso.spacing
    {'z': 4.0, 'y': 2.0, 'x': 2.0}
    """
    from ..spacing import spatial_dims

    nibabel = _nibabel()
    target = os.fspath(path)
    _check_target(target, overwrite)
    spatial = spatial_dims(obj)
    others = [d for d in obj.dims if d not in spatial]
    if len(spatial) != 3 or len(others) > 1:
        raise SpatialDimError(
            f"NIfTI holds three spatial dims and at most one more (time); this array has the "
            f"spatial dims {spatial!r} and the others {tuple(others)!r}. Select or stack "
            f"dims first (e.g. da.isel({others[0] if others else 'c'}=0))"
        )
    affine, space_unit = _affine(obj, spatial)
    order = [*spatial[::-1], *others]
    data = np.asarray(obj.transpose(*order).values)
    if data.dtype == bool:
        data = data.astype(np.uint8)
    try:
        image = nibabel.Nifti1Image(data, affine)
    except Exception as err:  # nibabel's HeaderDataError for dtypes NIfTI cannot hold
        raise NiftiError(
            f"NIfTI cannot hold this array ({err}); convert it, e.g. da.astype('float32')"
        ) from None
    time_unit = "unknown"
    if others:
        step, offset, time_unit = _time_header(obj, others[0])
        zooms = list(image.header.get_zooms())
        zooms[3] = step
        image.header.set_zooms(zooms)
        image.header["toffset"] = offset
    image.header.set_xyzt_units(space_unit, time_unit)
    folder, name = os.path.split(os.path.abspath(target))
    suffix = ".nii.gz" if target.lower().endswith(".nii.gz") else ".nii"
    temporary = os.path.join(folder, f".{name}.xiso-{uuid.uuid4().hex}{suffix}")
    try:
        nibabel.save(image, temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
