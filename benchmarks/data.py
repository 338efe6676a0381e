"""Benchmark inputs, generated once and cached on disk.

Every input is made by xiso's own demo-data functions and written atomically
(to a temporary sibling, renamed at the end), so an interrupted run never
leaves a half-written cache entry behind. The cache directory is
``$XISO_BENCH_CACHE`` or ``~/.cache/xiso-bench``; delete it to regenerate.

Run as a script (``python benchmarks/data.py SHAPE KIND``) to build one entry
in a separate process, which is what ``run.py`` does so that the driver
process never holds the multi-GiB temporaries of the generator.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

# bump when the way inputs are generated changes, to invalidate old caches
CACHE_VERSION = "v1"
SPACING = {"z": 0.25, "y": 1.0, "x": 1.0}
CHUNK = 128  # chunk edge of the OME-Zarr sources (and of the outputs)
LARGE_FACTOR = 4  # the large source is this many times longer along z


def cache_dir() -> Path:
    root = os.environ.get("XISO_BENCH_CACHE") or Path.home() / ".cache" / "xiso-bench"
    path = Path(root) / CACHE_VERSION
    path.mkdir(parents=True, exist_ok=True)
    return path


def _tag(shape: tuple[int, int, int]) -> str:
    return "x".join(str(n) for n in shape)


def image_npy(shape: tuple[int, int, int]) -> Path:
    return cache_dir() / f"lightsheet_{_tag(shape)}.npy"


def labels_npy(shape: tuple[int, int, int]) -> Path:
    return cache_dir() / f"labels_{_tag(shape)}.npy"


def image_zarr(shape: tuple[int, int, int]) -> Path:
    return cache_dir() / f"lightsheet_{_tag(shape)}.ome.zarr"


def large_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return (shape[0] * LARGE_FACTOR, shape[1], shape[2])


def large_zarr(shape: tuple[int, int, int]) -> Path:
    return cache_dir() / f"lightsheet_{_tag(large_shape(shape))}_tiled.ome.zarr"


def _tmp_sibling(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def _save_npy(path: Path, array) -> None:
    import numpy as np

    tmp = _tmp_sibling(path)
    with open(tmp, "wb") as f:
        np.save(f, array)
    tmp.rename(path)


def coords(shape: tuple[int, int, int]):
    """The coordinates xiso.data.lightsheet gives a volume of this shape."""
    import numpy as np
    import xarray as xr

    attrs = {"units": "micrometer"}
    return {
        d: xr.Variable(d, np.arange(n) * SPACING[d], attrs={**attrs, "axis": d.upper()})
        for d, n in zip(("z", "y", "x"), shape)
    }


def as_dataarray(array, shape: tuple[int, int, int], name: str = "lightsheet"):
    """Wrap ``array`` (numpy or dask) with lightsheet-like coordinates (no copy)."""
    import xarray as xr

    return xr.DataArray(array, dims=("z", "y", "x"), coords=coords(shape), name=name)


def make(shape: tuple[int, int, int], kind: str) -> Path:
    """Build one cache entry if it is missing; return its path.

    kind: "image" (npy), "labels" (npy), "zarr" (OME-Zarr source, chunks 128,
    one level) or "large" (OME-Zarr source LARGE_FACTOR times longer along z,
    tiled from four flipped copies of the image, written chunk-row by
    chunk-row so that it never needs the whole volume in memory).
    """
    import numpy as np

    if kind == "image":
        path = image_npy(shape)
        if not path.exists():
            import xiso

            _save_npy(path, xiso.data.lightsheet(shape=shape, spacing=SPACING, seed=0).values)
        return path
    if kind == "labels":
        path = labels_npy(shape)
        if not path.exists():
            import xiso

            labels = xiso.data.lightsheet_labels(shape=shape, spacing=SPACING, seed=0).values
            _save_npy(path, labels)
        return path
    if kind == "zarr":
        path = image_zarr(shape)
        if not path.exists():
            import xiso

            data = np.load(make(shape, "image"))
            tmp = _tmp_sibling(path)
            xiso.to_ome_zarr(as_dataarray(data, shape), str(tmp), pyramid=False, chunks=CHUNK)
            tmp.rename(path)
        return path
    if kind == "large":
        path = large_zarr(shape)
        if not path.exists():
            import dask.array as dsa

            import xiso

            base = np.load(make(shape, "image"), mmap_mode="r")
            # four differently flipped copies: same statistics, no repeated chunk
            views = [base, base[:, ::-1, :], base[:, :, ::-1], base[:, ::-1, ::-1]]
            parts = [dsa.from_array(v, chunks=(CHUNK, -1, -1)) for v in views]
            big = dsa.concatenate(parts[:LARGE_FACTOR], axis=0)
            tmp = _tmp_sibling(path)
            xiso.to_ome_zarr(
                as_dataarray(big, large_shape(shape)), str(tmp), pyramid=False, chunks=CHUNK
            )
            tmp.rename(path)
        return path
    raise ValueError(f"unknown kind {kind!r}")


def remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists():
        path.unlink()


if __name__ == "__main__":
    shape_arg, kind_arg = sys.argv[1], sys.argv[2]
    nz, ny, nx = (int(v) for v in shape_arg.split("x"))
    print(make((nz, ny, nx), kind_arg))
