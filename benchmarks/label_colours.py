"""What listing a colour for each label value costs a write.

    python benchmarks/label_colours.py [--shape 256x512x512] [--values 4000] [--repeat 4]

A label image that names no ``colors`` gets one for each value of its level 0,
gathered as its units are stored (see ``xiso.io.write._Values``). This writes
the same image and uint32 label image (``xiso.data.lightsheet_labels`` modulo
``--values``, so that every value is listed) twice per round, in the same
process: once naming no colours (gathered) and once naming one (nothing
gathered, the baseline). Both are held in memory (persisted dask arrays,
chunks 128^3), rounds are interleaved, medians are printed; nothing is
asserted and no page is written.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="256x512x512", help="NZxNYxNX")
    parser.add_argument("--values", type=int, default=4000, help="label values (modulo)")
    parser.add_argument("--repeat", type=int, default=4, help="interleaved rounds")
    args = parser.parse_args(argv)

    import numpy as np

    import xiso

    shape = tuple(int(v) for v in args.shape.lower().split("x"))
    image = xiso.data.lightsheet(shape=shape, seed=0, chunks=128).persist()
    labels = xiso.data.lightsheet_labels(shape=shape, seed=0, chunks=128).astype("uint32")
    labels = (labels % args.values).persist()
    given = labels.copy()
    given.attrs["image-label"] = {"colors": [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}
    found = len(np.unique(labels.values))
    times: dict[str, list[float]] = {"gathered": [], "given": []}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            for name, lab in (("gathered", labels), ("given", given)):
                out = Path(tmp) / f"{name}.ome.zarr"
                shutil.rmtree(out, ignore_errors=True)
                t0 = time.perf_counter()
                xiso.to_ome_zarr(image, out, labels={"cells": lab}, chunks=128)
                times[name].append(time.perf_counter() - t0)
    base = statistics.median(times["given"])
    print(
        f"image {args.shape} uint16, labels uint32 ({labels.nbytes / 2**20:.0f} MiB, "
        f"{found} values), {args.repeat} rounds"
    )
    for name, values in times.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"  {name:8s} median {median:.2f} s ({median / base:.2f}x); runs {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
