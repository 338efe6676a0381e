"""Peak memory of converting a large TIFF stack to near-isotropic OME-Zarr.

    python benchmarks/tiff_memory.py [--gib 4] [--layout file|planes] [--plane 2048]

Writes a uint16 lightsheet-like stack (z 0.25 um, y = x = 1 um; ImageJ
metadata) of about ``--gib`` GiB, plane by plane, as one TIFF file or as a
folder of 2-D planes, then converts it in a fresh child process::

    xiso.open_tiff(stack).iso.near_isotropic().iso.to_ome_zarr(out, pyramid=False)

and prints the child's peak RSS (``ru_maxrss``) beside the stack's size. The
conversion is lazy end to end (tifffile's zarr interface, one plane per read),
so the peak should stay far below the stack's size and grow with the plane
size and the number of dask threads, not with the number of planes. Nothing
here asserts: it measures (timings belong in benchmarks/, never in a test).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import xiso

stack, out, spacing = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t0 = time.perf_counter()
da = xiso.open_tiff(stack, spacing=spacing or None)
iso = da.iso.near_isotropic()
iso.iso.to_ome_zarr(out, pyramid=False)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak, "after_import": before, "seconds": seconds,
                  "in_shape": list(da.shape), "out_shape": list(iso.shape),
                  "in_bytes": da.nbytes, "chunks_in": [int(c[0]) for c in da.chunks]}))
"""


def _write(folder: Path, layout: str, nz: int, n: int) -> tuple[Path, dict[str, float]]:
    import numpy as np
    import tifffile

    rng = np.random.default_rng(0)
    base = rng.integers(0, 4000, size=(n, n), dtype=np.uint16)

    def planes():  # one plane at a time: writing is bounded too
        for z in range(nz):
            yield np.roll(base, z, axis=0)

    if layout == "file":
        path = folder / "stack.tif"
        tifffile.imwrite(
            path,
            planes(),
            shape=(nz, n, n),
            dtype="uint16",
            imagej=True,
            resolution=(1.0, 1.0),
            metadata={"axes": "ZYX", "spacing": 0.25, "unit": "um"},
        )
        return path, {}
    path = folder / "planes"
    path.mkdir()
    for z, plane in enumerate(planes()):
        tifffile.imwrite(path / f"z{z}.tif", plane, resolution=(1e4, 1e4), resolutionunit=3)
    return path, {"z": 0.25e-4}  # in the planes' unit: centimetre (1 um = 1e-4 cm)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=4.0, help="stack size in GiB (default 4)")
    parser.add_argument("--layout", choices=("file", "planes"), default="file")
    parser.add_argument("--plane", type=int, default=2048, help="plane edge (default 2048)")
    parser.add_argument("--dir", help="where to write (default: a temporary folder)")
    args = parser.parse_args(argv)
    n = args.plane
    nz = max(4, int(args.gib * 2**30 / (n * n * 2)) // 4 * 4)
    folder = Path(tempfile.mkdtemp(prefix="xiso-tiff-", dir=args.dir))
    try:
        t0 = time.perf_counter()
        stack, spacing = _write(folder, args.layout, nz, n)
        written = time.perf_counter() - t0
        out = folder / "out.ome.zarr"
        run = subprocess.run(
            [sys.executable, "-c", CHILD, str(stack), str(out), json.dumps(spacing)],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode != 0:
            print(run.stderr, file=sys.stderr)
            return run.returncode
        result = json.loads(run.stdout.strip().splitlines()[-1])
        gib = result["in_bytes"] / 2**30
        print(
            f"layout {args.layout}: {result['in_shape']} uint16 = {gib:.2f} GiB (written in "
            f"{written:.0f} s), read in chunks of {result['chunks_in']}"
        )
        print(f"converted to {result['out_shape']} in {result['seconds']:.1f} s")
        print(
            f"peak RSS {result['peak'] / 2**20:.0f} MiB (after imports "
            f"{result['after_import'] / 2**20:.0f} MiB) = "
            f"{result['peak'] / result['in_bytes']:.1%} of the stack"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
