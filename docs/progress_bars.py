"""The progress bars of the executed notebooks, drawn as text in the built pages.

tqdm shows a widget in a notebook kernel where ipywidgets is installed (as in
the docs build); a static page can show a widget only with the ipywidgets
scripts from a CDN, so nothing is visible offline. conf.py loads no such
script and, when the build has finished, draws each progress widget of every
page from its last state (the notebook stores it) as tqdm's text bar.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

__all__ = ["draw_progress_bars", "static_progress"]


# the embedding format of ipywidgets (what myst-nb writes into a page)
_WIDGET_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.DOTALL
)
_WIDGET_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.DOTALL
)
_BAR_CELLS = 20


def static_progress(page: str) -> str:
    """``page`` with each tqdm progress widget drawn as a text bar of its last state.

    A tqdm widget is an HBox of an HTML (the percentage), a FloatProgress and an
    HTML (counts, times and rate); the notebook stores their last values. The
    bar reads as tqdm's text bar does (``100%|████| 5/5 [00:00<00:00, 2.78it/s]``).
    Other widgets are left as they are.
    """
    found = _WIDGET_STATE.search(page)
    if found is None:
        return page
    models = json.loads(found.group(1)).get("state", {})

    def draw(view: re.Match[str]) -> str:
        box = models.get(json.loads(view.group(1)).get("model_id"), {})
        children = [
            models.get(str(child).removeprefix("IPY_MODEL_"), {})
            for child in box.get("state", {}).get("children", [])
        ]
        kinds = [child.get("model_name") for child in children]
        if kinds != ["HTMLModel", "FloatProgressModel", "HTMLModel"]:
            return view.group(0)
        left, bar, right = (child["state"] for child in children)
        total = float(bar.get("max") or 0)
        done = min(1.0, float(bar.get("value") or 0) / total) if total > 0 else 0.0
        cells = int(done * _BAR_CELLS)
        text = (
            f"{left.get('value', '')}|{'█' * cells}{' ' * (_BAR_CELLS - cells)}|"
            f"{right.get('value', '')}"
        )
        return (
            '<div class="output text_plain xiso-progress">'
            f'<div class="highlight"><pre>{text}</pre></div></div>'
        )

    return _WIDGET_VIEW.sub(draw, page)


def draw_progress_bars(app: Any, exception: Exception | None) -> None:
    """Redraw the progress widgets of every built page as text (see static_progress)."""
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        if "application/vnd.jupyter.widget-view+json" in page:
            path.write_text(static_progress(page), encoding="utf-8")
