"""The integer mean's sum in the input type (``reduce._sum_type``) against the
uint32 sum it replaces, on one 128^3 uint16 chunk (what a pyramid task averages).

    python benchmarks/narrow_sum.py [--rounds 15]

For a 12-bit camera image (values below 4096) and a full 16-bit one, the median
time of xiso's kernel (``reduce._mean``) and of the same mean summed in uint32
(``_wide_int``'s type, the kernel before), interleaved in rounds, in one
process; with the ratio. A full-range image cannot sum in uint16: its row shows
the price of looking for the largest value (one pass).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from xiso.reduce import _mean, _reduce_blocks, _round_div


def wide_mean(x: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    """The mean as summed before: always in uint32."""
    s = _reduce_blocks(x, block, np.add, np.uint32)
    return _round_div(s, int(np.prod(block))).astype(x.dtype)


def xiso_mean(x: np.ndarray, block: tuple[int, ...]) -> np.ndarray:
    return _mean(x, block, x.dtype, False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| values | block | uint32 sum ms | xiso ms | ratio |")
    print("|---|---|---|---|---|")
    for label, top in (("12-bit", 4095), ("16-bit", 65535)):
        x = rng.integers(0, top, (128, 128, 128), endpoint=True).astype(np.uint16)
        for block in ((4, 1, 1), (2, 2, 2)):
            times: dict[str, list[float]] = {"wide": [], "xiso": []}
            for _ in range(args.rounds):
                for name, func in (("wide", wide_mean), ("xiso", xiso_mean)):
                    t0 = time.perf_counter()
                    func(x, block)
                    times[name].append(time.perf_counter() - t0)
            np.testing.assert_array_equal(wide_mean(x, block), xiso_mean(x, block))
            w, n = (statistics.median(times[k]) * 1e3 for k in ("wide", "xiso"))
            print(f"| {label} | {block} | {w:.2f} | {n:.2f} | {n / w:.2f}x |")


if __name__ == "__main__":
    main()
