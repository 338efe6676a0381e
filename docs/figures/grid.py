"""Draw ``docs/_static/resample_grid.png``: the grid of exact resampling along one axis.

Eleven input samples of 0.3 µm (a field of view of 3.3 µm) resampled to 1 µm: three
output cells of exactly 1 µm, centred on the field of view (0.15 µm left over on each
side), and the area weights of the middle output cell. The weights are computed by
xiso itself (the ``area`` resample of an identity matrix), not drawn by hand.

Run it after a change to the grid, and commit the PNG::

    python docs/figures/grid.py
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "_static" / "resample_grid.png"
N, STEP, NEW = 11, 0.3, 1.0  # input samples, input spacing, output spacing
PICK = 1  # the output cell whose weights are drawn
TIMES = "\N{MULTIPLICATION SIGN}"

IN_COLOUR, OUT_COLOUR, PICK_COLOUR = "#4c72b0", "#dd8452", "#c44e52"


def weights() -> tuple[np.ndarray, np.ndarray]:
    """The output centres and the area weights (output x input), from xiso."""
    import xarray as xr

    import xiso

    eye = xr.DataArray(
        np.eye(N), dims=("z", "k"), coords={"z": np.arange(N) * STEP}, name="impulses"
    )
    out = xiso.resample(eye, {"z": NEW}, method="area")
    return out.z.values, out.values


def draw(out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Rectangle

    centres_in = np.arange(N) * STEP
    centres_out, w = weights()
    lo, hi = centres_in[0] - STEP / 2, centres_in[-1] + STEP / 2  # the field of view
    plt.rcParams.update({"font.size": 11})
    fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")

    # row 1 (y 3..3.6): the input cells and their centres
    for i, c in enumerate(centres_in):
        ax.add_patch(
            Rectangle(
                (c - STEP / 2, 3.0),
                STEP,
                0.6,
                edgecolor=IN_COLOUR,
                facecolor=to_rgba(IN_COLOUR, 0.12 if i % 2 else 0.25),
            )
        )
    ax.plot(centres_in, np.full(N, 3.3), "o", color=IN_COLOUR, ms=5)
    ax.text(
        lo - 0.08, 3.3, f"input\n{N} {TIMES} {STEP} µm", ha="right", va="center", color=IN_COLOUR
    )

    # row 2 (y 1.8..2.4): the output cells, centred on the field of view
    for j, c in enumerate(centres_out):
        ax.add_patch(
            Rectangle(
                (c - NEW / 2, 1.8),
                NEW,
                0.6,
                facecolor=to_rgba(PICK_COLOUR, 0.3) if j == PICK else to_rgba(OUT_COLOUR, 0.15),
                edgecolor=OUT_COLOUR,
                lw=1.5,
            )
        )
    ax.plot(centres_out, np.full(centres_out.size, 2.1), "s", color=OUT_COLOUR, ms=7)
    n_out = centres_out.size
    ax.text(
        lo - 0.08,
        2.1,
        f"output\n{n_out} {TIMES} {NEW:g} µm",
        ha="right",
        va="center",
        color=OUT_COLOUR,
    )

    # the field of view and the margins left on each side
    for x in (lo, hi):
        ax.plot([x, x], [0, 3.95], color="0.35", ls="--", lw=1)
    margin = (hi - lo - n_out * NEW) / 2
    for a, b in ((lo, lo + margin), (hi - margin, hi)):
        ax.annotate("", (a, 2.55), (b, 2.55), arrowprops={"arrowstyle": "<->", "lw": 1})
    ax.text(lo + margin / 2, 2.62, f"{margin:.2f}", ha="center", va="bottom", fontsize=10)
    ax.text(hi - margin / 2, 2.62, f"{margin:.2f}", ha="center", va="bottom", fontsize=10)
    ax.annotate("", (lo, 3.85), (hi, 3.85), arrowprops={"arrowstyle": "<->", "lw": 1})
    ax.text(
        (lo + hi) / 2,
        3.9,
        f"field of view L = n s = {N} {TIMES} {STEP} = {N * STEP:.1f} µm",
        ha="center",
        va="bottom",
    )

    # row 3 (y 0..1.3): the area weights of the picked output cell
    row = w[PICK]
    used = row > 0
    scale = 1.2 / row.max()
    ax.bar(
        centres_in[used],
        row[used] * scale,
        width=STEP * 0.9,
        bottom=0.0,
        color=PICK_COLOUR,
        alpha=0.7,
    )
    for c, v in zip(centres_in[used], row[used]):
        label = str(Fraction(float(v)).limit_denominator(1000))
        ax.text(c, v * scale + 0.04, label, ha="center", va="bottom", fontsize=10)
    a, b = centres_out[PICK] - NEW / 2, centres_out[PICK] + NEW / 2
    for x in (a, b):
        ax.plot([x, x], [0, 1.8], color=PICK_COLOUR, lw=1, ls=":")
    ax.text(
        lo - 0.08,
        0.6,
        "area weights\nof the red cell\n(overlap / 1 µm)",
        ha="right",
        va="center",
        color=PICK_COLOUR,
    )

    ax.set_xlim(lo - 1.25, hi + 0.1)
    ax.set_ylim(0, 4.3)
    ax.spines["bottom"].set_bounds(lo, hi)
    ax.set_yticks([])
    ax.set_xticks(np.arange(0, 3.5, 0.5))
    ax.set_xlabel("position along z (µm)")
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


if __name__ == "__main__":
    print(draw())
