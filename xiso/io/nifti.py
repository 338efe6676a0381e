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
import warnings
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import xarray as xr

from ..encodings import SPACING
from ..errors import (
    AffineWarning,
    NiftiError,
    OptionError,
    SpatialDimError,
    StoreExistsError,
    XisoError,
)

__all__ = ["NIFTI_SUFFIXES", "NiftiError", "follow_grid", "open_nifti", "to_nifti"]

NIFTI_SUFFIXES = (".nii", ".nii.gz")
"""The file name endings :func:`to_nifti` writes (and :func:`xiso.open` reads as NIfTI)."""

OBLIQUE = ("raise", "ignore")
"""The values of ``oblique=``."""

_WORLD = ("x", "y", "z")  # NIfTI's RAS+ world axes, in affine row order
_OFF_AXIS_RTOL = 1e-6  # an affine entry this small against its column is zero
_CHUNK_BYTES = 32 * 2**20


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

    def _region(self, key: Any) -> str:
        """The region of ``key`` (voxel axes i, j, k, t) in the order of the dims."""
        from .read import region

        return f"[{', '.join(region(key, self.shape)[::-1])}]"

    def __getitem__(self, key: Any) -> np.ndarray:
        try:
            values = np.asanyarray(self._open()[key])
        except Exception as err:
            raise NiftiError(
                f"reading {self.path!r} at {self._region(key)} failed: "
                f"{err.__class__.__name__}: {err}; the file is damaged or truncated"
            ) from err
        # only the byte order may change: a cast would change nibabel's values
        if not np.can_cast(values.dtype, self.dtype, casting="equiv"):
            raise NiftiError(
                f"nibabel gives {values.dtype} values for {self.path!r} at {self._region(key)}, "
                f"but its header said {self.dtype} when it was opened; load it with nibabel "
                "(np.asanyarray(nibabel.load(path).dataobj)) and label it yourself"
            )
        return values.astype(self.dtype, copy=False)


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


def _scaled_dtype(image: Any, path: str) -> np.dtype:
    """The dtype of nibabel's values (``np.asanyarray(image.dataobj)``, after its
    scaling), without reading a voxel.

    A NIfTI, Analyze or MGH proxy and PAR/REC say it in their header (slope and
    intercept); any other proxy (MINC1, MINC2, AFNI, ...) is asked for an empty
    slab, which runs nibabel's own scaling on zero voxels.
    """
    from nibabel.arrayproxy import ArrayProxy
    from nibabel.volumeutils import apply_read_scaling

    proxy = image.dataobj
    if isinstance(proxy, np.ndarray):
        return proxy.dtype
    if type(proxy) is ArrayProxy:  # subclasses (AFNI) scale in their own way
        stored = np.dtype(proxy.dtype)
        slope, inter = np.asanyarray(proxy.slope), np.asanyarray(proxy.inter)
        inter = inter.astype(slope.dtype) if np.can_cast(inter, slope.dtype) else inter
        return np.dtype(apply_read_scaling(np.zeros(1, stored), slope, inter).dtype)
    if type(proxy).__name__ == "PARRECArrayProxy":  # one slope and intercept per slice
        stored = np.dtype(proxy.dtype)
        scaling = proxy._slice_scaling
        if scaling is None:
            return stored
        return np.result_type(stored, *(np.asarray(s).dtype for s in scaling))
    try:
        empty = np.asanyarray(proxy[(slice(0, 0),) * len(image.shape)])
    except Exception as err:  # a proxy that cannot slice: its dtype is unknown
        raise NiftiError(
            f"{path!r} is a {type(image).__name__} whose values xiso cannot read lazily "
            f"({type(proxy).__name__}: {err.__class__.__name__}: {err}); load it with nibabel "
            "(np.asanyarray(nibabel.load(path).dataobj)) and label it yourself"
        ) from None
    return np.dtype(empty.dtype)


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
    nearest = _nearest_axes(affine)  # nibabel's io_orientation
    return [(nearest[j][0], float(norms[j])) for j in range(3)], False


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
        return xr.Variable("t", values, attrs, encoding={SPACING: step})
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
        Dask-backed, with nibabel's values (``np.asanyarray(image.dataobj)``,
        in native byte order): scaled as nibabel scales each format (NIfTI's
        ``scl_slope`` and ``scl_inter``, MINC's image range, AFNI's
        ``BRICK_FLOAT_FACS``, PAR/REC's slice scaling), so floats where a
        scaling applies.
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
        is read at open. When the values are computed: a damaged file, or
        values of another dtype than the header promised (never cast).
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
        coords[names[j]] = xr.Variable(names[j], values, attrs, encoding={SPACING: abs(step)})
    if len(shape) == 4:
        coords["t"] = _time(image, shape[3], time_unit)
    # the dtype after nibabel's scaling, in native byte order
    dtype = _scaled_dtype(image, where).newbyteorder("=")
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
# the NIfTI attrs follow the grid (called by xiso's own grid changes)
# --------------------------------------------------------------------------
_PAIRS = ("LR", "PA", "IS")  # (descending, ascending) code of world axes x, y, z
_AXIS_OF = {c: a for a, pair in enumerate(_PAIRS) for c in pair}
_T = TypeVar("_T", xr.DataArray, xr.Dataset)


def _nearest_axes(affine: np.ndarray) -> list[tuple[int, int]]:
    """(world axis, sign) of the voxel axes i, j, k of a 4x4 affine: nibabel's
    ``io_orientation`` in numpy (the rotation nearest the affine's columns, each
    voxel axis given the world axis it moves most along, greedily)."""
    columns = np.asarray(affine, dtype=np.float64)[:3, :3]
    norms = np.sqrt((columns**2).sum(axis=0))
    u, _, vt = np.linalg.svd(columns / np.where(norms == 0, 1.0, norms))
    rotation = u @ vt
    out = []
    for j in range(3):
        a = int(np.argmax(np.abs(rotation[:, j])))
        out.append((a, 1 if rotation[a, j] > 0 else -1))
        rotation[a, :] = 0
    return out


def _affine_of(attrs: Mapping[Any, Any]) -> np.ndarray | None:
    """``attrs["affine"]`` as a 4x4 float array, or None when it is not one (an
    attr of another meaning is left alone)."""
    try:
        affine = np.asarray(attrs.get("affine"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    ok = affine.shape == (4, 4) and np.all(np.isfinite(affine))
    return affine if ok and np.all((affine[:3, :3] ** 2).sum(axis=0) > 0) else None


def _is_codes(value: Any) -> bool:
    """Whether ``value`` is a NIfTI orientation such as ``"LAS"``."""
    return isinstance(value, str) and sorted(_AXIS_OF.get(c, -1) for c in value) == [0, 1, 2]


def _letters(obj: xr.DataArray | xr.Dataset, dims: tuple[Hashable, ...]) -> dict[str, Hashable]:
    """World letter ("x", "y", "z") -> dim, when ``dims`` has exactly one of each."""
    from ..axes import spatial_letter

    found: dict[str, Hashable] = {}
    for dim in dims:
        letter = spatial_letter(dim, obj[dim].attrs if dim in obj.coords else {})
        if letter is not None:
            if letter in found:
                return {}
            found[letter] = dim
    return found if len(found) == 3 else {}


def _first_and_step(
    obj: xr.DataArray | xr.Dataset, dim: Hashable, unit: str | None
) -> tuple[float, float]:
    """(first value, signed step) of ``dim``'s uniform coordinate, in ``unit``."""
    from ..spacing import coordinate_step, coordinate_unit
    from ..units import convert

    step = coordinate_step(obj, dim)  # uniform, finite, non-zero (or recorded)
    values = np.asarray(obj[dim].values, dtype=np.float64)
    sign = -1.0 if values.size > 1 and values[-1] < values[0] else 1.0
    own = coordinate_unit(obj, dim)
    scale = convert(1.0, own, unit) if own is not None and unit is not None else 1.0
    return float(values[0]) * scale, sign * step * scale


def _moved_affine(
    affine: np.ndarray,
    old: xr.DataArray | xr.Dataset,
    new: xr.DataArray | xr.Dataset,
    dims: tuple[Hashable, ...],
) -> np.ndarray:
    """``affine`` of ``old``'s grid moved onto ``new``'s: each voxel axis scaled by
    new step / old step, the origin moved to ``new``'s first sample."""
    from ..spacing import coordinate_unit

    before, after = _letters(old, dims), _letters(new, dims)
    index_map = np.eye(4)  # new voxel index -> old voxel index
    for j, (a, _) in enumerate(_nearest_axes(affine)):
        dim = after.get(_WORLD[a])
        if dim is None or before.get(_WORLD[a]) != dim:
            raise SpatialDimError(
                f"no dim of {dims!r} runs along the world axis {_WORLD[a]!r} "
                f"of voxel axis {'ijk'[j]!r}"
            )
        o_old, s_old = _first_and_step(old, dim, coordinate_unit(old, dim))
        o_new, s_new = _first_and_step(new, dim, coordinate_unit(old, dim))
        if new.sizes[dim] == 1 and old.sizes[dim] > 1:
            s_new = abs(s_new) * np.sign(s_old)  # one sample keeps the direction
        index_map[j, j] = s_new / s_old
        index_map[j, 3] = (o_new - o_old) / s_old
    return affine @ index_map


def _codes(
    obj: xr.DataArray | xr.Dataset,
    dims: tuple[Hashable, ...],
    affine: np.ndarray | None,
    old: str,
) -> str | None:
    """The NIfTI axis codes of the voxel axes (``dims``' spatial dims, reversed)
    from the data: the affine's columns for an oblique image, else the
    direction of each coordinate (a single sample keeps its ``old`` code)."""
    letters = _letters(obj, dims)
    if not letters:
        return None
    of_dim = {d: _WORLD.index(letter) for letter, d in letters.items()}
    sign = dict(_nearest_axes(affine)) if affine is not None else {}
    kept = {_AXIS_OF[c]: c for c in old}
    codes = []
    for dim in reversed(dims):
        if dim not in of_dim:
            continue
        a = of_dim[dim]
        values = obj[dim].values if dim in obj.coords else np.empty(0)
        if a in sign:
            codes.append(_PAIRS[a][int(sign[a] > 0)])
        elif values.dtype.kind not in "iuf" or values.size < 2:
            codes.append(kept[a])
        else:
            codes.append(_PAIRS[a][int(values[-1] >= values[0])])
    return "".join(codes)


def _follow(
    attrs: dict[Any, Any],
    old: xr.DataArray | xr.Dataset,
    new: xr.DataArray | xr.Dataset,
    dims: tuple[Hashable, ...],
) -> dict[Any, Any]:
    """``attrs`` of a variable with ``dims``, its affine and orientation made
    those of ``new``'s grid."""
    affine = _affine_of(attrs)
    if affine is not None:
        try:
            affine = _moved_affine(affine, old, new, dims)
            attrs["affine"] = affine.tolist()
        except XisoError as err:  # the old affine still gives the axes' directions
            del attrs["affine"]
            reason = str(err.args[0]).split(";")[0]
            warnings.warn(
                f"attrs['affine'] (the affine of an oblique image) is dropped, as it cannot "
                f"follow the new grid: {reason}. The coordinates keep the spacing, not the "
                "rotation; keep the grid regular (e.g. boundary='trim') to keep the affine",
                AffineWarning,
                stacklevel=5,
            )
    if _is_codes(attrs.get("orientation")):
        codes = _codes(new, dims, affine, attrs["orientation"])
        if codes is None:
            del attrs["orientation"]  # no x, y and z left: nothing it can describe
        else:
            attrs["orientation"] = codes
    return attrs


def follow_grid(old: Any, new: _T) -> _T:
    """``new`` (made from ``old`` on another grid, or flipped) with its NIfTI
    attrs describing its own data.

    ``attrs["affine"]`` (an oblique image's affine, see :func:`open_nifti`)
    is moved onto ``new``'s grid: each voxel axis scaled by the ratio of the
    steps, the origin at ``new``'s first voxel centre, the rotation kept (or
    dropped with an :class:`~xiso.errors.AffineWarning` when a spatial dim has
    no uniform coordinate to say how). ``attrs["orientation"]`` is derived
    again from the coordinates (or the affine). Anything else is untouched;
    ``new`` is returned as it is when it has neither attr.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from xiso.io.nifti import follow_grid
    >>> da = xr.DataArray(np.zeros((2, 2, 4)), dims=("z", "y", "x"),
    ...                   coords={"z": [0.0, 1], "y": [0.0, 1], "x": [3.0, 2, 1, 0]},
    ...                   attrs={"orientation": "LAS"})
    >>> follow_grid(da, da.sortby("x")).attrs["orientation"]
    'RAS'
    """
    variables = [new, *new.data_vars.values()] if isinstance(new, xr.Dataset) else [new]
    if not any(
        _affine_of(v.attrs) is not None or _is_codes(v.attrs.get("orientation")) for v in variables
    ):
        return new
    out = new.copy(deep=False)
    out.attrs = _follow(dict(new.attrs), old, new, tuple(new.dims))
    if isinstance(out, xr.Dataset):
        for name, var in new.data_vars.items():
            out[name].attrs = _follow(dict(var.attrs), old, new, var.dims)
    return out


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


def _oblique_affine(
    obj: xr.DataArray, spatial: tuple[Hashable, ...], kept: np.ndarray, path: str
) -> np.ndarray | None:
    """``attrs["affine"]`` (``kept``) with its columns in the voxel order written
    (reversed ``spatial``) and in the unit written, when it is the affine of
    ``obj``'s grid (its voxel sizes are the coordinates' steps); else None,
    with an :class:`~xiso.errors.AffineWarning`."""
    from ..spacing import coordinate_unit
    from ..units import convert

    voxel = spatial[::-1]
    letters = {d: letter for letter, d in _letters(obj, spatial).items()}
    column = {_WORLD[a]: j for j, (a, _) in enumerate(_nearest_axes(kept))}
    norms = np.sqrt((kept[:3, :3] ** 2).sum(axis=0))
    steps = [abs(_signed_step(obj, d)) for d in voxel]
    units = {coordinate_unit(obj, d) for d in voxel}
    sizes = [float(norms[column[letters[d]]]) if d in letters else np.nan for d in voxel]
    if len(units) == 1 and np.allclose(sizes, steps, rtol=1e-6, atol=0):
        (unit,) = units
        _, target = _space_unit(obj, spatial)
        scale = convert(1.0, unit, target) if unit is not None and target is not None else 1.0
        out = np.eye(4)
        for j, d in enumerate(voxel):
            out[:3, j] = kept[:3, column[letters[d]]] * scale
        out[:3, 3] = kept[:3, 3] * scale
        return out
    warnings.warn(
        f"attrs['affine'] has voxel sizes {np.round(sizes, 6).tolist()} along "
        f"{voxel!r}, but the coordinates step by {np.round(steps, 6).tolist()}"
        f"{f' in units {sorted(map(str, units))}' if len(units) > 1 else ''}: it is not the "
        f"affine of this grid (the grid was changed outside xiso, e.g. by isel or sortby), so "
        f"{path!r} gets the axis-aligned affine of the coordinates, without the rotation and "
        "origin of attrs['affine']; resample with xiso (which moves the affine along) or drop "
        "attrs['affine']",
        AffineWarning,
        stacklevel=3,
    )
    return None


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
    step in sec, msec or usec, from ``toffset``. An oblique image's affine
    (``attrs["affine"]``, which :func:`open_nifti` keeps with
    ``oblique="ignore"`` and xiso's resampling moves onto each new grid) is
    written instead, rotation and origin included, when its voxel sizes are
    the coordinates' steps; otherwise (the grid was changed outside xiso) the
    axis-aligned affine of the coordinates is written with an
    :class:`~xiso.errors.AffineWarning`.

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
    kept = _affine_of(obj.attrs)  # an oblique image: its rotation and origin, on this grid
    oblique = None if kept is None else _oblique_affine(obj, spatial, kept, target)
    affine = affine if oblique is None else oblique
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
