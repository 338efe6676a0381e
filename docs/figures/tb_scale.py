"""Draw ``docs/_static/tb.svg``: time and peak RSS of the TB-scale job, per source and row.

From the JSON results of ``benchmarks/tb.py`` (one entry per run): for each
source (the slab and lightsheet sizes), one bar per row for the whole-process
wall time (left, log scale) and one for its peak RSS (right; for the cluster,
the worst worker's), with the 1 GiB memory bound drawn across. A row that was
stopped (``--timeout`` or ``--max-rss-gib``) is drawn hatched at the time or
memory it had reached. To redraw from saved results::

    python docs/figures/tb_scale.py ~/.cache/xiso-bench/v1/tb.json

The format follows the suffix of ``--out`` (SVG or PNG).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "_static" / "tb.svg"
MIB = 2**20
GIB = 2**30

# row name -> (legend, colour); the order is the legend's
STYLE = {
    "floor": ("sharded codec floor", "#7f7f7f"),
    "xiso": ("xiso convert", "#c44e52"),
    "xiso-cluster": ("xiso, LocalCluster 2 workers", "#dd8452"),
    "ngff-zarr": ("ngff-zarr (default method)", "#4c72b0"),
    "ngff-zarr-bin": ("ngff-zarr (bin shrink)", "#8172b3"),
    "ome-zarr": ("ome-zarr-py (resize)", "#55a868"),
}


def draw(results: Path, out: Path = OUT) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    doc = json.loads(Path(results).read_text())
    runs = doc["results"]
    sources = list(dict.fromkeys(r["source"] for r in runs))
    rows = [name for name in STYLE if any(r["row"] == name for r in runs)]
    plt.rcParams.update({"font.size": 12, "svg.fonttype": "none"})
    fig, (left, right) = plt.subplots(1, 2, figsize=(12.8, 5.6), layout="constrained")
    width = 0.8 / max(len(rows), 1)
    for j, name in enumerate(rows):
        colour = STYLE[name][1]
        for i, source in enumerate(sources):
            found = [r for r in runs if r["row"] == name and r["source"] == source]
            if not found:
                continue
            r = found[-1]
            stopped = "error" in r
            x = i + (j - (len(rows) - 1) / 2) * width
            peak = r.get("peak_rss") or r.get("group_rss_sampled") or 0
            hatch = "//" if stopped else None
            left.bar(x, r["seconds"], width, color=colour, hatch=hatch, edgecolor="white")
            right.bar(x, peak / GIB, width, color=colour, hatch=hatch, edgecolor="white")
    names = [s.replace(" (", "\n(").replace(" ", "\n", 1) for s in sources]
    for ax in (left, right):
        ax.set_xticks(range(len(sources)), names, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("wall time, whole process (s, log scale)")
    right.set_ylabel("peak RSS (GiB)")
    right.axhline(1.0, color="black", lw=1, ls="--")
    right.text(len(sources) - 0.5, 1.02, "1 GiB", ha="right", va="bottom")
    handles = [Patch(color=STYLE[n][1], label=STYLE[n][0]) for n in rows]
    handles.append(Patch(facecolor="#cccccc", hatch="//", edgecolor="white", label="stopped"))
    fig.legend(handles=handles, loc="outside lower center", ncol=4, frameon=False)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="tb.json of benchmarks/tb.py")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    print(draw(args.results, args.out))


if __name__ == "__main__":
    main()
