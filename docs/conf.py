"""Sphinx configuration of the xiso documentation (MyST markdown pages)."""

from __future__ import annotations

import os
from importlib.metadata import version as _version
from pathlib import Path

import sphinx_autosummary_accessors

import xiso

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
html_theme = "alabaster"
html_static_path = ["_static"]
intersphinx_mapping: dict[str, tuple[str, None]] = {}
suppress_warnings = ["myst.xref_missing"]


def _gallery_picture() -> None:
    """Draw the gallery picture from the demo data (so it is always current)."""
    out = Path(__file__).parent / "_static" / "orthoviews.png"
    if out.exists() and not os.environ.get("XISO_DOCS_REDRAW"):
        return
    import matplotlib

    matplotlib.use("Agg")
    before = xiso.data.lightsheet(shape=(128, 256, 256), seed=0)
    fig = xiso.plot.compare(before, before.iso.near_isotropic(), mode="mip")
    fig.savefig(out, dpi=80)


_gallery_picture()
