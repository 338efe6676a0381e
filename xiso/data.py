"""Built-in synthetic demo data, generated locally (nothing is downloaded).

:func:`lightsheet` makes a realistic anisotropic lightsheet-like volume:
nuclei-like ellipsoidal blobs blurred by a point-spread function that is
elongated along z, on a background with shot noise, as uint16.
:func:`lightsheet_labels` gives the matching label image.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .errors import OptionError

__all__ = ["lightsheet", "lightsheet_labels"]

_DIMS = ("z", "y", "x")
_DEFAULT_SPACING: dict[Hashable, float] = {"z": 0.25, "y": 1.0, "x": 1.0}


def _check(shape: tuple[int, ...], spacing: Mapping[Hashable, float]) -> tuple[int, int, int]:
    if len(shape) != 3 or any(int(n) < 1 for n in shape):
        raise OptionError(f"shape must be three positive lengths (z, y, x), got {shape!r}")
    missing = [d for d in _DIMS if d not in spacing]
    if missing:
        raise OptionError(f"spacing must give 'z', 'y' and 'x'; missing {missing!r}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _nuclei(
    shape: tuple[int, int, int], spacing: Mapping[Hashable, float], seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Centres (in voxels) and radii (in voxels, per axis) of the nuclei."""
    rng = np.random.default_rng(seed)
    phys = np.array([n * float(spacing[d]) for n, d in zip(shape, _DIMS)])
    # about one nucleus of radius ~4-7 physical units per 15^3 units of volume
    count = max(1, int(np.prod(phys) / 15.0**3))
    centres_phys = rng.uniform(0, 1, size=(count, 3)) * phys
    radius_phys = rng.uniform(4.0, 7.0, size=(count, 1)) * rng.uniform(0.8, 1.2, size=(count, 3))
    step = np.array([float(spacing[d]) for d in _DIMS])
    return centres_phys / step, radius_phys / step


def _axis_profile(n: int, centre: float, radius: float, sharp: bool) -> tuple[slice, np.ndarray]:
    lo = max(0, int(np.floor(centre - 2 * radius)))
    hi = min(n, int(np.ceil(centre + 2 * radius)) + 1)
    t = (np.arange(lo, hi) - centre) / radius
    prof = (np.abs(t) <= 1.0).astype(np.float32) if sharp else np.exp(-0.5 * (t * t) / 0.5)
    return slice(lo, hi), prof.astype(np.float32)


def _coords(shape: tuple[int, int, int], spacing: Mapping[Hashable, float], units: str) -> dict:
    return {
        d: xr.Variable(
            d, np.arange(n) * float(spacing[d]), attrs={"units": units, "axis": d.upper()}
        )
        for n, d in zip(shape, _DIMS)
    }


def lightsheet(
    shape: tuple[int, int, int] = (256, 512, 512),
    spacing: Mapping[Hashable, float] | None = None,
    units: str = "micrometer",
    seed: int = 0,
    chunks: Any = None,
) -> xr.DataArray:
    """A synthetic anisotropic lightsheet volume (uint16, dims z, y, x).

    Nuclei are Gaussian-blurred ellipsoids; the point-spread function is
    elongated along z (in physical units), so the volume looks like a real
    lightsheet stack sampled finely in z. Background and Poisson shot noise are
    added. Deterministic for a given ``seed``.

    Parameters
    ----------
    shape : (nz, ny, nx)
        Number of samples.
    spacing : mapping, default {"z": 0.25, "y": 1.0, "x": 1.0}
        Sample spacing per dim, in ``units``.
    units : str, default "micrometer"
        Unit of the coordinates (stored in their attrs).
    seed : int
        Random seed.
    chunks : optional
        If given, the result is dask-backed with these chunks.

    Returns
    -------
    DataArray
        Named ``"lightsheet"``, with coordinates ``z``, ``y``, ``x`` in physical units.

    Examples
    --------
    >>> vol = lightsheet(shape=(32, 64, 64), seed=1)
    >>> vol.dtype, vol.sizes["z"], vol.iso.spacing
    (dtype('uint16'), 32, {'z': 0.25, 'y': 1.0, 'x': 1.0})
    """
    step: dict[Hashable, float] = dict(spacing if spacing is not None else _DEFAULT_SPACING)
    shp = _check(tuple(shape), step)
    centres, radii = _nuclei(shp, step, seed)
    rng = np.random.default_rng(seed + 1)
    # PSF sigma in physical units: 1.5 along z, 0.5 in-plane, added to the blob size
    psf = np.array([1.5, 0.5, 0.5]) / np.array([float(step[d]) for d in _DIMS])
    signal = np.zeros(shp, dtype=np.float32)
    brightness = rng.uniform(300.0, 1500.0, size=len(centres)).astype(np.float32)
    for c, r, b in zip(centres, radii, brightness):
        width = np.sqrt(r**2 + psf**2)
        (sz, pz), (sy, py), (sx, px) = (
            _axis_profile(n, ci, wi, sharp=False) for n, ci, wi in zip(shp, c, width)
        )
        if pz.size and py.size and px.size:
            signal[sz, sy, sx] += b * (pz[:, None, None] * py[None, :, None] * px[None, None, :])
    # slow background gradient along y (uneven illumination), then shot noise
    ygrad = np.linspace(90.0, 130.0, shp[1], dtype=np.float32)[None, :, None]
    expected = signal + ygrad
    noisy = rng.poisson(expected).astype(np.float32) + rng.normal(0, 3.0, size=shp).astype(
        np.float32
    )
    data = np.clip(np.rint(noisy), 0, 65535).astype(np.uint16)
    da = xr.DataArray(
        data,
        dims=_DIMS,
        coords=_coords(shp, step, units),
        name="lightsheet",
        attrs={
            "long_name": "fluorescence intensity",
            "units": "counts",
            "source": "xiso.data.lightsheet",
        },
    )
    return da.chunk(chunks) if chunks is not None else da


def lightsheet_labels(
    shape: tuple[int, int, int] = (256, 512, 512),
    spacing: Mapping[Hashable, float] | None = None,
    units: str = "micrometer",
    seed: int = 0,
    chunks: Any = None,
) -> xr.DataArray:
    """The label image matching :func:`lightsheet` with the same arguments.

    Each nucleus is a uint16 label (1, 2, ...) over its ellipsoid; 0 is the
    background. Where nuclei overlap, the later one wins.

    Examples
    --------
    >>> labels = lightsheet_labels(shape=(32, 64, 64), seed=1)
    >>> labels.dtype, int(labels.max()) > 0
    (dtype('uint16'), True)
    """
    step: dict[Hashable, float] = dict(spacing if spacing is not None else _DEFAULT_SPACING)
    shp = _check(tuple(shape), step)
    centres, radii = _nuclei(shp, step, seed)
    labels = np.zeros(shp, dtype=np.uint16)
    for i, (c, r) in enumerate(zip(centres, radii), start=1):
        sl = []
        grids = []
        for ax, (n, ci, ri) in enumerate(zip(shp, c, r)):
            lo = max(0, int(np.floor(ci - ri)))
            hi = min(n, int(np.ceil(ci + ri)) + 1)
            sl.append(slice(lo, hi))
            t = ((np.arange(lo, hi) - ci) / ri) ** 2
            shape_ax = [1, 1, 1]
            shape_ax[ax] = hi - lo
            grids.append(t.reshape(shape_ax))
        if any(s.stop <= s.start for s in sl):
            continue
        inside = (grids[0] + grids[1] + grids[2]) <= 1.0
        region = labels[tuple(sl)]
        region[inside] = min(i, 65535)
    da = xr.DataArray(
        labels,
        dims=_DIMS,
        coords=_coords(shp, step, units),
        name="labels",
        attrs={"long_name": "nucleus labels", "source": "xiso.data.lightsheet_labels"},
    )
    return da.chunk(chunks) if chunks is not None else da
