"""Sphinx configuration of the xiso documentation (MyST markdown pages)."""

from __future__ import annotations

import os
import sys
from importlib.metadata import version as _version
from pathlib import Path

import sphinx_autosummary_accessors
from sphinx.application import Sphinx

import xiso

sys.path.insert(0, str(Path(__file__).parent))  # the docs' own helpers
from progress_bars import draw_progress_bars

project = "xiso"
author = "xiso developers"
release = _version("xiso")
version = release

extensions = [
    "myst_nb",  # MyST markdown pages, and the notebook (executed at every build)
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx_autosummary_accessors",
]
# .rst first: autosummary writes the pages it generates with the first suffix
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
# the notebook runs at every build (so CI's -W build fails if it breaks); its
# outputs are not stored in git
nb_execution_mode = "force"
nb_execution_timeout = 600
nb_execution_raise_on_error = True
nb_execution_show_tb = True
# progress bars are tqdm widgets in the executed notebook; a static page cannot run
# them, and the ipywidgets scripts come from a CDN: none is loaded, and each bar is
# drawn from its last state as text (progress_bars.py, at the end of the build)
nb_ipywidgets_js: dict[str, dict[str, str]] = {}
# Markdown outputs (the measured table of coming-from.md) are MyST, with tables
nb_render_markdown_format = "myst"
root_doc = "index"
exclude_patterns = ["_build", "generated/*.md", "**/.ipynb_checkpoints", "xiso-tutorial/*"]
templates_path = ["_templates", sphinx_autosummary_accessors.templates_path]
autosummary_generate = True
autodoc_typehints = "none"
napoleon_numpy_docstring = True
napoleon_google_docstring = False
napoleon_use_rtype = False
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
# the theme of xarray, dask and numpy: dark mode, search, a navigation bar
html_theme = "pydata_sphinx_theme"
html_title = "xiso"
html_static_path = ["_static"]
html_css_files = ["xiso.css"]
html_theme_options = {
    "navbar_align": "left",
    "header_links_before_dropdown": 7,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version", "theme-version"],
}
# only the gallery and the API pages have neighbours to navigate; every top-level
# page gives the left sidebar's width to its code blocks and tables
_TOP = sorted(p.stem for p in Path(__file__).parent.glob("*.*") if p.suffix in (".md", ".ipynb"))
html_sidebars = {"**": ["sidebar-nav-bs"], **{page: [] for page in _TOP}}
# an API page documents one object: no table of contents beside it either
html_theme_options["secondary_sidebar_items"] = {
    "gallery/*": [],  # short pages: their code gets the width of the contents column
    **{page: ["page-toc"] for page in _TOP},
}
html_context = {"default_mode": "auto"}
intersphinx_mapping: dict[str, tuple[str, None]] = {}


def _gallery_picture() -> None:
    """Draw the gallery picture from the demo data (so it is always current)."""
    out = Path(__file__).parent / "_static" / "orthoviews.png"
    if out.exists() and not os.environ.get("XISO_DOCS_REDRAW"):
        return
    import matplotlib

    matplotlib.use("Agg")
    before = xiso.data.lightsheet(shape=(128, 256, 256), seed=0)
    fig = xiso.plot.compare(before, before.iso.near_isotropic(), mode="mip", zoom=10)
    fig.savefig(out, dpi=80)


_gallery_picture()


def setup(app: Sphinx) -> None:
    app.connect("build-finished", draw_progress_bars)
