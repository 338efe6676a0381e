"""Group ``write``: a numpy-backed DataArray written to OME-Zarr, against plain
zarr (evidence, not a case of the brief).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cases_base import (
    CHUNK,
    THREADS,
    Case,
    Ctx,
    chunk_grid,
    create_like,
    describe_store,
    zarr_level0,
)
from cases_pyramid import describe_pyramid


def setup_write_floor(ctx: Ctx) -> dict:
    return {"x": ctx.image(), "src": ctx.image_store(), "dst": ctx.out("write-floor.zarr")}


def run_write_floor(s: dict) -> None:
    """Plain zarr: write the in-memory volume chunk by chunk, same codec and
    chunks as the source store, THREADS threads."""
    x = s["x"]
    dst = create_like(zarr_level0(s["src"]), s["dst"], x.shape)

    def write(region: tuple[slice, ...]) -> None:
        dst[region] = x[region]

    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(write, chunk_grid(x.shape, dst.chunks)))


def setup_write_numpy(ctx: Ctx) -> dict:
    return {"da": ctx.image_da(), "dst": ctx.out("write.ome.zarr")}


def run_write_numpy(s: dict) -> None:
    import xiso

    xiso.to_ome_zarr(s["da"], s["dst"], pyramid=False, chunks=CHUNK)


def run_write_numpy_pyramid(s: dict) -> None:
    import xiso

    xiso.to_ome_zarr(s["da"], s["dst"], pyramid=True, chunks=CHUNK)


def describe_write(s: dict, result: Any) -> dict:
    info = describe_pyramid(s, result)
    info["input_bytes"] = int(s["da"].nbytes)
    return info


CASES: list[Case] = [
    # numpy-backed DataArray -> OME-Zarr (not a case of the brief: evidence)
    Case(
        "zarr-write-floor",
        "write",
        "plain zarr write of the in-memory input (I/O floor)",
        setup_write_floor,
        run_write_floor,
        describe_store,
        inputs=("image", "zarr"),
    ),
    Case(
        "xiso-write-numpy",
        "write",
        "xiso to_ome_zarr(numpy-backed, pyramid=False)",
        setup_write_numpy,
        run_write_numpy,
        describe_write,
        inputs=("image",),
    ),
    Case(
        "xiso-write-numpy-pyramid",
        "write",
        "xiso to_ome_zarr(numpy-backed, pyramid=True)",
        setup_write_numpy,
        run_write_numpy_pyramid,
        describe_write,
        inputs=("image",),
        ref="",
    ),
]
