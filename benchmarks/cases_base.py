"""What every group of benchmark cases shares: the constants, the inputs of one
child (:class:`Ctx`), the :class:`Case` record, and the zarr helpers of the I/O
floors (read level 0, create an array like it, walk its chunks, describe a store).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import data as bench_data
import numpy as np

FACTOR = 4  # z factor of near_isotropic for spacing (0.25, 1, 1)
THREADS = 2  # dask / I/O worker threads (the machine has 2 cores)
CHUNK = bench_data.CHUNK
TINY = (32, 64, 64)  # warm-up shape


# --------------------------------------------------------------------------
# context: where the inputs and outputs of one child live
# --------------------------------------------------------------------------
class Ctx:
    """Inputs of a case at ``shape``; ``tiny=True`` makes them in ``workdir``."""

    def __init__(self, shape: tuple[int, int, int], workdir: Path, tiny: bool = False) -> None:
        self.shape = shape
        self.workdir = workdir
        self.tiny = tiny
        workdir.mkdir(parents=True, exist_ok=True)

    def image(self) -> np.ndarray:
        if self.tiny:
            import xiso

            return xiso.data.lightsheet(shape=self.shape, spacing=bench_data.SPACING).values
        return np.load(bench_data.image_npy(self.shape))

    def labels(self) -> np.ndarray:
        if self.tiny:
            import xiso

            return xiso.data.lightsheet_labels(shape=self.shape, spacing=bench_data.SPACING).values
        return np.load(bench_data.labels_npy(self.shape))

    def image_da(self) -> Any:
        return bench_data.as_dataarray(self.image(), self.shape)

    def _tiny_store(self, shape: tuple[int, int, int], name: str) -> str:
        import xiso

        path = self.workdir / name
        if not path.exists():
            arr = xiso.data.lightsheet(shape=shape, spacing=bench_data.SPACING).values
            xiso.to_ome_zarr(
                bench_data.as_dataarray(arr, shape), str(path), pyramid=False, chunks=CHUNK
            )
        return str(path)

    def image_store(self) -> str:
        if self.tiny:
            return self._tiny_store(self.shape, "tiny-src.ome.zarr")
        return str(bench_data.image_zarr(self.shape))

    def large_store(self) -> str:
        if self.tiny:
            return self._tiny_store(bench_data.large_shape(self.shape), "tiny-large.ome.zarr")
        return str(bench_data.large_zarr(self.shape))

    def out(self, name: str) -> str:
        path = self.workdir / name
        bench_data.remove(path)
        return str(path)


# --------------------------------------------------------------------------
# a case, and why one cannot run
# --------------------------------------------------------------------------
class SkipCase(Exception):
    """A case that cannot run here (an optional package is missing)."""


def describe_array(s: dict, result: Any) -> dict:
    arr = np.asarray(getattr(result, "data", result))
    return {"output_bytes": int(arr.nbytes), "note": f"out {arr.dtype}"}


@dataclass
class Case:
    name: str
    group: str
    label: str
    setup: Callable[[Ctx], dict]
    run: Callable[[dict], Any]
    describe: Callable[[dict, Any], dict] = describe_array
    number: str = ""  # the brief's case number, for xiso's own cases
    requires: tuple[str, ...] = ()  # optional modules; skipped when missing
    inputs: tuple[str, ...] = ("image",)  # cache entries (see data.make)
    large: bool = False  # opt-in with --large
    ref: str | None = None  # the row its ratio is against, if not its group's reference
    prepare: Callable[[dict], None] | None = None  # before each timed run, untimed


def missing_modules(modules: tuple[str, ...]) -> str | None:
    """Why a case needing ``modules`` cannot run (the first not installed), or None."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            return f"{name} not installed"
    return None


# --------------------------------------------------------------------------
# zarr helpers of the I/O floors (zarr, pyramid and write groups)
# --------------------------------------------------------------------------
def zarr_level0(store: str) -> Any:
    import zarr

    return zarr.open_group(store, mode="r")["0"]


def create_like(src: Any, path: str, shape: tuple[int, ...]) -> Any:
    import zarr

    return zarr.create_array(
        store=path,
        shape=shape,
        dtype=src.dtype,
        chunks=src.chunks,
        compressors=src.compressors,
        fill_value=0,
        zarr_format=src.metadata.zarr_format,
    )


def chunk_grid(shape: tuple[int, ...], chunks: tuple[int, ...]) -> list[tuple[slice, ...]]:
    import itertools

    ranges = [range(0, n, c) for n, c in zip(shape, chunks)]
    return [
        tuple(slice(o, min(o + c, n)) for o, c, n in zip(origin, chunks, shape))
        for origin in itertools.product(*ranges)
    ]


def raw_chunks(s: dict) -> tuple[Any, Any, Any, Path, Path]:
    """What a codec floor works with: the source's level 0 (for its metadata),
    a zstd decoder and an encoder at the source's level, the folder of the raw
    chunk files and the (emptied) output folder."""
    import numcodecs

    src = zarr_level0(s["src"])
    (codec,) = src.compressors
    assert type(codec).__name__ == "ZstdCodec", "the codec floor assumes zstd"
    decoder, encoder = numcodecs.Zstd(), numcodecs.Zstd(level=codec.level)
    dst = Path(s["dst"])
    shutil.rmtree(dst, ignore_errors=True)
    return src, decoder, encoder, Path(s["src"]) / "0" / "c", dst


METADATA_FILES = {"zarr.json", ".zarray", ".zattrs", ".zgroup", ".zmetadata"}


def describe_store(s: dict, result: Any) -> dict:
    """The output's size on disk and its number of stored objects (chunk or
    shard files: every file but the metadata)."""
    path = Path(s["dst"])
    files = [p for p in path.rglob("*") if p.is_file()]
    disk = sum(p.stat().st_size for p in files)
    objects = sum(1 for p in files if p.name not in METADATA_FILES)
    return {
        "output_bytes": None,
        "objects": objects,
        "note": f"written {disk / 2**20:.0f} MiB on disk in {objects} files",
    }


# helpers of the whole-process scripts (scaling.py, whole.py, tb.py)
def _tag(shape: tuple[int, ...]) -> str:
    return "x".join(map(str, shape))


def _shape(text: str) -> tuple[int, int, int]:
    nz, ny, nx = (int(v) for v in text.lower().split("x"))
    return nz, ny, nx


def _nbytes(shape: tuple[int, ...]) -> int:
    return 2 * shape[0] * shape[1] * shape[2]  # uint16


def group_rss(pgid: int) -> int:
    """Resident bytes of every process in process group ``pgid`` (Linux /proc)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after "(comm)": state ppid pgrp ...
            total += int(fields[21]) * page  # rss, in pages
    return total


def scratch_env(dst: Path) -> tuple[dict[str, str], Path]:
    """The environment of a timed child writing ``dst``, and its scratch folder.

    Dask's ``temporary-directory`` points at a folder beside ``dst``, so that what
    a tool spills there (ngff-zarr writes its cache arrays for large images into
    it, and leaves them behind when it is killed at a timeout) is removed with
    the output rather than piling up in the user's cache folder."""
    scratch = dst.with_name(dst.name + ".scratch")
    return {**os.environ, "DASK_TEMPORARY_DIRECTORY": str(scratch)}, scratch


def compile_xiso() -> None:
    """Write the bytecode of xiso's modules, as ``pip install`` does.

    A process started from a source checkout with ``PYTHONDONTWRITEBYTECODE``
    set (or a read-only tree) compiles every xiso module again, about 0.1 s
    that an installed xiso and the peers (whose bytecode pip wrote) never pay.
    Run once before whole processes are timed."""
    import compileall

    import xiso

    compileall.compile_dir(str(Path(xiso.__file__).parent), quiet=1)


def read_through(source: Path) -> float:
    """Read every file under ``source`` once, so that the rows timed next find
    it in the page cache; returns GiB/s (a low figure says it did not fit)."""
    t0, nbytes = time.perf_counter(), 0
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        with open(path, "rb") as f:
            while chunk := f.read(2**24):
                nbytes += len(chunk)
    return nbytes / 2**30 / max(time.perf_counter() - t0, 1e-9)


def save_json(path: Path, doc: dict) -> None:
    """Write ``doc`` to ``path`` whole: beside it, then renamed over it."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(doc, indent=1, default=str))
    tmp.replace(path)
