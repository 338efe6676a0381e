"""Draw ``docs/_static/scaling.svg``: time per GiB and peak RSS of case 3 against the input size.

One line per row of ``benchmarks/scaling.py`` (codec floor, xiso, ngff-zarr,
zarrnii, xiso on a LocalCluster), from the summary in its JSON results: the
median time divided by the input size (left) and the worst peak RSS (right;
for the cluster, the worst worker's), against the input size on a log axis. A
flat line is a cost that grows linearly. ``benchmarks/scaling.py`` runs this
after a run; to redraw from saved results::

    python docs/figures/scaling.py ~/.cache/xiso-bench/v1/scaling-512x1024x1024.json

The format follows the suffix of ``--out`` (SVG or PNG; the PNG is 1280 px wide).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "_static" / "scaling.svg"
MIB = 2**20

# row name -> (legend, colour, line style, marker); the order is the legend's
STYLE = {
    "codec-floor": ("codec floor (zstd + files, no zarr)", "#7f7f7f", ":", "s"),
    "xiso": ("xiso", "#c44e52", "-", "o"),
    "xiso-cluster": ("xiso, LocalCluster 2 workers", "#dd8452", "--", "D"),
    "ngff-zarr": ("ngff-zarr", "#4c72b0", "-", "^"),
    "zarrnii": ("zarrnii", "#55a868", "-", "v"),
}


def lines(summary: list[dict], key: str, scale: float = 1.0) -> dict[str, tuple[list, list]]:
    """row -> (sizes in GiB, values) for the entries that have ``key``."""
    out: dict[str, tuple[list, list]] = {}
    for e in sorted(summary, key=lambda e: e["gib"]):
        if key in e:
            xs, ys = out.setdefault(e["row"], ([], []))
            xs.append(e["gib"])
            ys.append(e[key] / scale)
    return out


def _size_label(gib: float) -> str:
    return f"{gib:g} GiB" if gib >= 1 else f"{gib * 1024:g} MiB"


def draw(results: Path, out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    doc = json.loads(Path(results).read_text())
    summary = doc["summary"]
    sizes = sorted({e["gib"] for e in summary})
    plt.rcParams.update({"font.size": 12, "svg.fonttype": "none"})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.8, 5.2), layout="constrained")
    panels = [
        (left, lines(summary, "s_per_gib"), "seconds per GiB of input (median)"),
        (right, lines(summary, "peak_rss", MIB), "peak RSS, MiB (cluster: worst worker)"),
    ]
    for ax, data, ylabel in panels:
        for row, (legend, colour, style, marker) in STYLE.items():
            if row in data:
                xs, ys = data[row]
                ax.plot(xs, ys, style, marker=marker, color=colour, label=legend, lw=2, ms=7)
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(FixedLocator(sizes))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticklabels([_size_label(s) for s in sizes])
        ax.set_xlabel("input size (uint16, log scale)")
        ax.set_ylabel(ylabel)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    right.axhline(512, color="#c44e52", lw=1, alpha=0.5)
    right.annotate("512 MiB target", (sizes[0], 512), xytext=(4, 4), textcoords="offset points")
    right.set_ylim(0, max(600, right.get_ylim()[1]))
    handles, labels = left.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=len(labels), frameon=False)
    fig.suptitle(
        "Case 3, OME-Zarr -> near-isotropic OME-Zarr: flat lines are linear cost",
        fontsize=13,
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="JSON written by benchmarks/scaling.py")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default {OUT}")
    args = parser.parse_args(argv)
    print(draw(args.results, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
