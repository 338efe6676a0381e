"""Built-in synthetic demo data, generated locally (nothing is downloaded).

:func:`lightsheet` makes a realistic anisotropic lightsheet-like volume:
nuclei-like ellipsoidal blobs blurred by a point-spread function that is
elongated along z, on a background with shot noise, as uint16.
:func:`lightsheet_labels` gives the matching label image.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Hashable, Mapping
from concurrent.futures import ThreadPoolExecutor
from statistics import NormalDist
from typing import Any

import numpy as np
import xarray as xr

from .errors import OptionError

__all__ = ["lightsheet", "lightsheet_labels"]

_DIMS = ("z", "y", "x")
_DEFAULT_SPACING: dict[Hashable, float] = {"z": 0.25, "y": 1.0, "x": 1.0}
# z planes per slab: lightsheet() renders and adds noise slab by slab, in threads.
# Fixed (not derived from the number of cores), so the data depend on the seed only.
_SLAB = 32


def _check(shape: tuple[int, ...], spacing: Mapping[Hashable, float]) -> tuple[int, int, int]:
    if len(shape) != 3 or any(int(n) < 1 for n in shape):
        raise OptionError(f"shape must be three positive lengths (z, y, x), got {shape!r}")
    missing = [d for d in _DIMS if d not in spacing]
    if missing:
        raise OptionError(f"spacing must give 'z', 'y' and 'x'; missing {missing!r}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _chunked(da: xr.DataArray, chunks: Any) -> xr.DataArray:
    """``da`` dask-backed with ``chunks``; a sequence is per dim in (z, y, x) order.

    xarray deprecates chunks as a dimension-order tuple (a FutureWarning), so a
    sequence is passed on as a mapping of dim names.
    """
    if chunks is None:
        return da
    if isinstance(chunks, (tuple, list)):
        if len(chunks) != len(_DIMS):
            raise OptionError(
                f"chunks as a sequence gives one entry per dim {_DIMS!r}, got {chunks!r}; "
                "pass three entries, a mapping such as {'z': 32}, an int or 'auto'"
            )
        chunks = dict(zip(_DIMS, chunks))
    return da.chunk(chunks)


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


@functools.cache
def _normal_quantiles() -> np.ndarray:
    """2**16 quantiles of the standard normal distribution (float32), the values
    a uniform 16-bit draw maps to: normal noise at the cost of integer draws
    (the tails stop at 4.3 sigma, far below what rounding to counts shows)."""
    dist = NormalDist()
    n = 2**16
    return np.array([dist.inv_cdf((i + 0.5) / n) for i in range(n)], dtype=np.float32)


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
    lightsheet stack sampled finely in z. A background gradient, shot noise and
    read noise are added. Deterministic for a given ``seed`` (whatever the
    number of cores: slabs of z planes are drawn in threads, each with its own
    random stream).

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
    chunks : int, (cz, cy, cx), mapping or "auto", optional
        If given, the result is dask-backed with these chunks: as
        :meth:`xarray.DataArray.chunk` takes them, or one entry per dim in
        (z, y, x) order.

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
    brightness = rng.uniform(300.0, 1500.0, size=len(centres)).astype(np.float32)
    nslabs = -(-shp[0] // _SLAB)
    slabs: list[list[tuple[slice, np.ndarray, slice, slice, np.ndarray]]] = [
        [] for _ in range(nslabs)
    ]
    for c, r, b in zip(centres, radii, brightness):
        width = np.sqrt(r**2 + psf**2)
        (sz, pz), (sy, py), (sx, px) = (
            _axis_profile(n, ci, wi, sharp=False) for n, ci, wi in zip(shp, c, width)
        )
        if not (pz.size and py.size and px.size):
            continue
        plane = b * np.outer(py, px)
        for k in range(sz.start // _SLAB, (sz.stop - 1) // _SLAB + 1):
            lo, hi = max(sz.start, k * _SLAB), min(sz.stop, (k + 1) * _SLAB)
            part = pz[lo - sz.start : hi - sz.start, None, None]
            slabs[k].append((slice(lo - k * _SLAB, hi - k * _SLAB), part, sy, sx, plane))
    # slow background gradient along y (uneven illumination)
    ygrad = np.linspace(90.0, 130.0, shp[1], dtype=np.float32)[None, :, None]
    seeds = np.random.SeedSequence([seed, 1]).spawn(nslabs)
    data = np.empty(shp, dtype=np.uint16)

    def fill(k: int, buffer: np.ndarray) -> None:
        z0, z1 = k * _SLAB, min(shp[0], (k + 1) * _SLAB)
        expected = buffer[: z1 - z0]
        expected.fill(0)
        for sz, pz, sy, sx, plane in slabs[k]:  # in nucleus order, as in one pass
            expected[sz, sy, sx] += pz * plane
        # shot noise (Poisson, variance = mean: its normal approximation, close
        # as the mean is >= 90 counts) plus read noise (sigma 3 counts), one
        # plane at a time so that the temporaries stay in cache
        rng = np.random.default_rng(seeds[k])
        quantiles = _normal_quantiles()
        scale = np.empty(shp[1:], dtype=np.float32)
        for z in range(z1 - z0):
            mean = expected[z]
            mean += ygrad[0]
            np.add(mean, np.float32(9.0), out=scale)
            np.sqrt(scale, out=scale)
            # standard normal noise: 2**16 quantiles picked by uniform 16-bit draws
            noisy = quantiles[rng.integers(0, 2**16, shp[1:], dtype=np.uint16)]
            noisy *= scale
            noisy += mean
            np.rint(noisy, out=noisy)
            np.clip(noisy, 0, 65535, out=noisy)
            data[z0 + z] = noisy

    def work(first: int, every: int) -> None:
        # one slab buffer per worker, reused: fresh memory is slow to touch on some VMs
        buffer = np.empty((min(_SLAB, shp[0]), shp[1], shp[2]), dtype=np.float32)
        for k in range(first, nslabs, every):
            fill(k, buffer)

    workers = min(nslabs, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    if workers > 1:  # numpy releases the GIL in the array work
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, range(workers), [workers] * workers))
    else:
        work(0, 1)
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
    return _chunked(da, chunks)


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
    return _chunked(da, chunks)
