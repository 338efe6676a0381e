"""Benchmark inputs, generated once and cached on disk.

Every input is made by xiso's own demo-data functions and written atomically
(to a temporary sibling, renamed at the end), so an interrupted run never
leaves a half-written cache entry behind. The cache directory is
``$XISO_BENCH_CACHE`` or ``~/.cache/xiso-bench``; delete it to regenerate.

Run as a script (``python benchmarks/data.py SHAPE KIND``) to build one entry
in a separate process, which is what ``run.py`` does so that the driver
process never holds the multi-GiB temporaries of the generator.

Longer sources for the scaling benchmark (``scaling.py``) are the OME-Zarr
source repeated M times along z (``tiled_zarr(shape, M)``, kind ``tiledM``).
The 4x one is case 6's (``large``): four differently flipped copies, encoded
by xiso. Any other M is made of real copies of the source's chunk files under
shifted z keys (no hardlinks, so every chunk is its own file in the page
cache, as in a real store) and the level's metadata with the longer shape:
16x (8192x1024x1024, 16 GiB of uint16, ~11 GiB on disk) takes minutes to copy
instead of an hour to encode.

The "noisy" source (kind ``noisy``, and ``noisy-tiledM`` M times longer along
z, made of copies of its chunk files for every M > 1) is the lightsheet signal
recorded by a camera-like model: Poisson shot noise on it, Gaussian read noise,
a gain and an offset, rounded and clipped to 12 bits (uint16 values 0..4095),
like raw sCMOS data. It is drawn chunk by chunk (one random stream per
chunk, seeded by the chunk's index, so it is deterministic and never needs
the whole volume in memory) from the memory-mapped lightsheet volume.
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
# the thin slab of the TB-scale job (benchmarks/tb.py): the shape of ngff-zarr #48
SLAB_SHAPE = (30, 15000, 15000)
SLAB_SPACING = {"z": 1.0, "y": 1.0, "x": 1.0}
SLAB_TILE = 1024  # the slab is made of (nz, 1024, 1024) blocks
SLAB_BASES = 8  # ... each a variant of one of this many lightsheet blocks
SOURCES = ("lightsheet", "noisy")  # the kinds of OME-Zarr source
# the camera of the noisy source: ADU = OFFSET + GAIN * (Poisson(signal) + N(0, READ_NOISE))
CAMERA = {"offset": 100.0, "gain": 2.0, "read_noise": 2.0, "bits": 12}


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


def tiled_shape(shape: tuple[int, int, int], multiplier: int) -> tuple[int, int, int]:
    return (shape[0] * multiplier, shape[1], shape[2])


def tiled_zarr(shape: tuple[int, int, int], multiplier: int) -> Path:
    """The OME-Zarr source ``multiplier`` times longer along z (1: the source itself)."""
    if multiplier == 1:
        return image_zarr(shape)
    return cache_dir() / f"lightsheet_{_tag(tiled_shape(shape, multiplier))}_tiled.ome.zarr"


def noisy_zarr(shape: tuple[int, int, int], multiplier: int = 1) -> Path:
    """The noisy OME-Zarr source (``multiplier`` times longer along z: copies of its chunks)."""
    if multiplier == 1:
        return cache_dir() / f"noisy_{_tag(shape)}.ome.zarr"
    return cache_dir() / f"noisy_{_tag(tiled_shape(shape, multiplier))}_tiled.ome.zarr"


def source_zarr(source: str, shape: tuple[int, int, int], multiplier: int = 1) -> Path:
    """The OME-Zarr source of kind ``source`` (one of SOURCES), ``multiplier`` times longer."""
    if source == "lightsheet":
        return tiled_zarr(shape, multiplier)
    if source == "noisy":
        return noisy_zarr(shape, multiplier)
    raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")


def source_kind(source: str, multiplier: int = 1) -> str:
    """The ``make`` kind that builds ``source_zarr(source, shape, multiplier)``."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; one of {', '.join(SOURCES)}")
    prefix = "" if source == "lightsheet" else "noisy-"
    if multiplier == 1:
        return "zarr" if source == "lightsheet" else "noisy"
    return f"{prefix}tiled{multiplier}"


def camera_block(signal, index: tuple[int, ...], seed: int = 0):
    """The noisy source's values over one block of the lightsheet ``signal``
    (any array of counts), whose chunk index is ``index``: a uint16 array of
    the same shape with values in 0 .. 2**bits - 1 (see CAMERA)."""
    import numpy as np

    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, *index]))
    electrons = rng.poisson(np.asarray(signal, dtype=np.float64))
    adu = electrons.astype(np.float64)
    adu += rng.normal(0.0, CAMERA["read_noise"], size=adu.shape)
    adu *= CAMERA["gain"]
    adu += CAMERA["offset"]
    np.rint(adu, out=adu)
    np.clip(adu, 0, 2 ** CAMERA["bits"] - 1, out=adu)
    return adu.astype(np.uint16)


def noisy_dask(signal, chunk: int = CHUNK):
    """A lazy dask array of the noisy source over ``signal`` (numpy or memory
    map, read one chunk at a time), chunks ``chunk`` on every axis."""
    import dask.array as dsa

    lazy = dsa.from_array(signal, chunks=chunk, asarray=False)

    def block(values, block_info=None):
        return camera_block(values, tuple(block_info[0]["chunk-location"]))

    return lazy.map_blocks(block, dtype="uint16")


def large_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    return tiled_shape(shape, LARGE_FACTOR)


def large_zarr(shape: tuple[int, int, int]) -> Path:
    return tiled_zarr(shape, LARGE_FACTOR)


def slab_zarr(shape: tuple[int, int, int] = SLAB_SHAPE) -> Path:
    return cache_dir() / f"slab_{_tag(shape)}.ome.zarr"


def slab(shape: tuple[int, int, int] = SLAB_SHAPE, tile: int = SLAB_TILE):
    """A thin slab as a lazy DataArray (uint16, 1 um spacing): blocks of
    ``(nz, tile, tile)``, each one of ``SLAB_BASES`` lightsheet volumes
    (:func:`xiso.data.lightsheet`, shot and read noise included), flipped in
    one of four ways, plus its own Gaussian read noise (sigma 2) and clipped
    to 12 bits: no two blocks (so no two chunks) are equal, and a block costs
    a fraction of a fresh lightsheet volume. Deterministic."""
    import dask.array as dsa
    import numpy as np
    import xarray as xr

    import xiso

    nz = shape[0]
    bases: dict[int, np.ndarray] = {}

    def base(k: int) -> np.ndarray:
        if k not in bases:  # made once per process, on first use
            bases[k] = xiso.data.lightsheet(
                shape=(nz, tile, tile), spacing=SLAB_SPACING, seed=100 + k
            ).values
        return bases[k]

    def block(block_id: tuple[int, int, int] | None = None) -> np.ndarray:
        assert block_id is not None
        _, i, j = block_id
        data = base((7 * i + j) % SLAB_BASES)
        flip = (i + j) % 4
        data = data[:, :: 1 - 2 * (flip & 1), :: 1 - 2 * (flip >> 1)]
        ny, nx = min(tile, shape[1] - i * tile), min(tile, shape[2] - j * tile)
        rng = np.random.default_rng((i, j))
        noisy = data[:, :ny, :nx] + rng.normal(0.0, 2.0, (nz, ny, nx)).astype(np.float32)
        return np.clip(np.rint(noisy), 0, 4095).astype(np.uint16)

    chunks = ((nz,), *(tuple(min(tile, n - k) for k in range(0, n, tile)) for n in shape[1:]))
    data = dsa.map_blocks(block, chunks=chunks, dtype=np.uint16)
    attrs = {"units": "micrometer"}
    coords = {
        d: xr.Variable(d, np.arange(n) * SLAB_SPACING[d], attrs={**attrs, "axis": d.upper()})
        for d, n in zip(("z", "y", "x"), shape)
    }
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="slab")


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


def _copy_tiled(src: Path, dst: Path, multiplier: int) -> None:
    """Write at ``dst`` the OME-Zarr image ``src`` (one level "0", zarr v3,
    chunk keys ``0/c/z/y/x``) repeated ``multiplier`` times along z, by copying
    its chunk files (real copies) under shifted z keys."""
    import json

    meta = json.loads((src / "0" / "zarr.json").read_text())
    if meta.get("zarr_format") != 3 or meta["chunk_key_encoding"] != {
        "name": "default",
        "configuration": {"separator": "/"},
    }:
        raise ValueError(f"{src}: tiling by copies expects zarr v3 with '/' chunk keys")
    nz = meta["shape"][0]
    cz = meta["chunk_grid"]["configuration"]["chunk_shape"][0]
    if nz % cz:
        raise ValueError(f"{src}: z length {nz} is not a whole number of chunks of {cz}")
    (dst / "0" / "c").mkdir(parents=True)
    shutil.copyfile(src / "zarr.json", dst / "zarr.json")
    meta["shape"][0] = nz * multiplier
    (dst / "0" / "zarr.json").write_text(json.dumps(meta, indent=2))
    rows = nz // cz
    for iz_dir in sorted((src / "0" / "c").iterdir(), key=lambda p: int(p.name)):
        for copy in range(multiplier):
            target = dst / "0" / "c" / str(int(iz_dir.name) + copy * rows)
            shutil.copytree(iz_dir, target, copy_function=shutil.copyfile)


def _tile(src: Path, path: Path, multiplier: int) -> Path:
    """``path``, made (if missing) of ``multiplier`` copies of ``src``'s chunks along z."""
    if not path.exists():
        tmp = _tmp_sibling(path)
        try:
            _copy_tiled(src, tmp, multiplier)
        except BaseException:
            remove(tmp)
            raise
        tmp.rename(path)
    return path


def make(shape: tuple[int, int, int], kind: str) -> Path:
    """Build one cache entry if it is missing; return its path.

    kind: "image" (npy), "labels" (npy), "zarr" (OME-Zarr source, chunks 128,
    one level), "large" (OME-Zarr source LARGE_FACTOR times longer along z,
    tiled from four flipped copies of the image, written chunk-row by
    chunk-row so that it never needs the whole volume in memory) or
    "tiledM" (M times longer along z: "large" for M = LARGE_FACTOR, the source
    itself for M = 1, otherwise copies of the source's chunk files), "noisy"
    (the camera-like OME-Zarr source, drawn chunk by chunk from the memory-mapped
    image) or "noisy-tiledM" (copies of its chunk files, M times longer).
    """
    import numpy as np

    if kind == "noisy":
        path = noisy_zarr(shape)
        if not path.exists():
            import xiso

            signal = np.load(make(shape, "image"), mmap_mode="r")
            tmp = _tmp_sibling(path)
            data = as_dataarray(noisy_dask(signal), shape, name="noisy")
            xiso.to_ome_zarr(data, str(tmp), pyramid=False, chunks=CHUNK)
            tmp.rename(path)
        return path
    if kind.startswith("noisy-tiled"):
        multiplier = int(kind[len("noisy-tiled") :])
        if multiplier == 1:
            return make(shape, "noisy")
        return _tile(make(shape, "noisy"), noisy_zarr(shape, multiplier), multiplier)
    if kind.startswith("tiled"):
        multiplier = int(kind[len("tiled") :])
        if multiplier == 1:
            return make(shape, "zarr")
        if multiplier == LARGE_FACTOR:
            return make(shape, "large")
        return _tile(make(shape, "zarr"), tiled_zarr(shape, multiplier), multiplier)

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
    if kind == "slab":  # an OME-Zarr slab of ``shape``, one level, no shards
        path = slab_zarr(shape)
        if not path.exists():
            import xiso

            tmp = _tmp_sibling(path)
            xiso.to_ome_zarr(slab(shape), str(tmp), pyramid=False, shards=None)
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
