"""The built documentation site: every toctree page rendered, links resolve, nothing too wide.

These tests read the site that ``python -m sphinx -W -b html docs docs/_build/html`` built
(``.ci/run`` builds it before pytest). Without a built site they skip, except under CI
(``CI`` set), where a missing site is a failure. The width checks run headless Chromium
through ``docs/screenshot.py`` and skip where there is none.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
BUILD = DOCS / "_build" / "html"


def _screenshot_module():
    spec = importlib.util.spec_from_file_location("xiso_docs_screenshot", DOCS / "screenshot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


screenshot = _screenshot_module()


def _docs_module(name: str):
    spec = importlib.util.spec_from_file_location(f"xiso_docs_{name}", DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


progress_bars = _docs_module("progress_bars")


@pytest.fixture(scope="module")
def site() -> Path:
    index = BUILD / "index.html"
    build = f"python -m sphinx -W -b html docs {BUILD}"
    if not index.exists():
        message = f"no built site in {BUILD}: run {build}"
    elif stale := [
        str(source.relative_to(DOCS))
        for source in DOCS.glob("**/*.*")
        if source.suffix in (".md", ".ipynb")
        and "_build" not in source.parts
        and (page := BUILD / source.relative_to(DOCS).with_suffix(".html")).exists()
        and source.stat().st_mtime > page.stat().st_mtime
    ]:
        message = f"the site in {BUILD} is older than {', '.join(stale)}: run {build}"
    else:
        return BUILD
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def _source(doc: str) -> Path:
    for suffix in (".md", ".ipynb", ".rst"):
        path = DOCS / f"{doc}{suffix}"
        if path.exists():
            return path
    raise AssertionError(f"toctree entry {doc!r} has no source in {DOCS}")


def toctree_pages(doc: str = "index") -> list[str]:
    """Every page reachable through the toctrees of the markdown sources, from ``doc``."""
    pages = [doc]
    source = _source(doc)
    if source.suffix != ".md":
        return pages
    folder = doc.rpartition("/")[0]
    for block in re.findall(r"```\{toctree\}\n(.*?)```", source.read_text(), re.DOTALL):
        for line in block.splitlines():
            line = line.strip()
            if not line or line.startswith(":"):
                continue
            titled = re.fullmatch(r".*<(.+)>", line)
            entry = titled.group(1) if titled else line
            pages += toctree_pages(f"{folder}/{entry}" if folder else entry)
    return pages


def _executed(doc: str) -> bool:
    source = _source(doc)
    return source.suffix == ".ipynb" or source.read_text().startswith("---\nfile_format: mystnb")


class _Page(HTMLParser):
    """The ids, links, h1 count and images of one HTML page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.h1 = 0
        self.images = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids.add(values["id"] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag == "img" and values.get("src"):
            self.links.append(values["src"] or "")
            self.images += 1
        self.h1 += tag == "h1"


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_toctree_walk_finds_the_pages():
    pages = toctree_pages()
    assert {"quickstart", "concepts", "api", "coming-from", "gallery/index"} <= set(pages)
    assert {"gallery/near-isotropic", "gallery/labels", "gallery/pyramid"} <= set(pages)
    assert len(pages) == len(set(pages))


@pytest.mark.parametrize("doc", toctree_pages())
def test_every_toctree_page_rendered(site, doc):
    html = site / f"{doc}.html"
    assert html.exists(), f"{doc} is in a toctree but {html} was not built"
    text = html.read_text(encoding="utf-8")
    page = _parse(html)
    assert page.h1 == 1, f"{doc}: {page.h1} <h1> headings"
    if _executed(doc):
        assert "cell_output" in text, f"{doc} was not executed: no cell output"
        assert "Traceback (most recent call last)" not in text, f"{doc} shows a traceback"
    if doc.startswith("gallery/") and doc != "gallery/index":
        assert page.images >= 1, f"{doc} has no figure"


def test_coming_from_table_is_measured(site):
    text = (site / "coming-from.html").read_text(encoding="utf-8")
    table = text[text.index('id="side-by-side"') :]
    rows = re.findall(r"<tr[ >].*?</tr>", table[: table.index("</table>")], re.DOTALL)
    packages = {re.sub(r"<[^>]+>", "", row).split()[0] for row in rows[1:]}
    assert {"xiso", "xarray", "zarrnii", "ngff-zarr", "ome-zarr"} <= packages


def test_internal_links_resolve(site):
    pages = {
        path: _parse(path)
        for path in site.rglob("*.html")
        if not {"_static", "_sources", "_images"} & set(path.relative_to(site).parts)
    }
    broken = []
    for path, page in pages.items():
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith("//"):
                continue
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            if not target.exists():
                broken.append(f"{path.relative_to(site)}: {link} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{path.relative_to(site)}: {link} (no such anchor)")
    assert len(pages) > 20
    assert not broken, "\n".join(broken)


needs_chromium = pytest.mark.skipif(
    screenshot.chromium() is None,
    reason="no chromium on PATH to measure the pages (Debian: apt-get install chromium)",
)


# Every top-level page, so that a wide block on any of them fails here. Not performance:
# its two results tables (11 columns each) are written by benchmarks/run.py between
# markers, and at 1280 px they are wider than the column (they scroll sideways).
WIDTH_CHECKED = [doc for doc in toctree_pages() if "/" not in doc and doc != "performance"]


@needs_chromium
@pytest.mark.parametrize("doc", WIDTH_CHECKED)
def test_no_block_wider_than_the_column(site, doc):
    result = screenshot.measure(site / f"{doc}.html", width=1280)
    assert result["checked"] >= 1, f"{doc}: no code block or table measured"
    assert not result["wide"], f"{doc} at 1280 px: {result['wide']}"


@needs_chromium
def test_width_check_finds_a_wide_block(site):
    page = site / "concepts.html"
    text = page.read_text(encoding="utf-8")
    wide = text.replace("<pre>", "<pre>" + "wide " * 60 + "\n", 1)
    assert wide != text
    result = screenshot.measure(page, width=1280, html=wide)
    assert [found["text"][:9] for found in result["wide"]] == ["wide wide"]


@needs_chromium
def test_screenshot_is_1280_wide(site, tmp_path):
    png = screenshot.shoot(site / "index.html", tmp_path / "index.png", width=1280, height=800)
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert int.from_bytes(header[16:20], "big") == 1280


# --- install lines (xiso is not on the package index) ---------------------------

ROOT = DOCS.parent
# `pip install xiso`, `pip install "xiso[nifti]"`, `pip install -U 'xiso[fast]'`: from an
# index xiso is not on; a clone ("./xiso[nifti]", ".[nifti]") or a git URL
# ("xiso[nifti] @ git+...") is how it installs
_FROM_THE_INDEX = re.compile(
    r"""pip3?\s+install\s+(?:-\S+\s+)*["']?xiso(?:\[[^\]]*\])?(?![\w\[./-])["']?(?!\s*@)"""
)


def _texts_that_say_how_to_install() -> list[Path]:
    """README, every doc page, notebook and docs script, and xiso's code (its messages
    and docstrings)."""
    docs = [
        path
        for path in DOCS.rglob("*")
        if path.suffix in (".md", ".ipynb", ".py")
        and not {"_build", "generated", ".ipynb_checkpoints"} & set(path.parts)
    ]
    return [ROOT / "README.md", *docs, *(ROOT / "xiso").rglob("*.py")]


@pytest.mark.parametrize(
    ("line", "from_the_index"),
    [
        ("pip install xiso", True),
        ('pip install "xiso[nifti]"', True),
        ("add `pip install 'xiso[fast]'`", True),
        ("pip install -U xiso[plot] matplotlib", True),
        ('pip install ".[nifti]"', False),
        ('pip install -e "./xiso[nifti,plot]"', False),
        ('pip install "xiso[nifti,plot] @ git+https://example.org/xiso.git"', False),
        ("pip install xiso-tools", False),
    ],
)
def test_the_install_rule_tells_index_installs_from_clone_and_git(line, from_the_index):
    assert bool(_FROM_THE_INDEX.search(line)) is from_the_index


def test_no_page_or_hint_installs_xiso_from_the_index():
    files = _texts_that_say_how_to_install()
    assert len(files) > 30 and ROOT / "xiso" / "errors.py" in files
    found = [
        f"{path.relative_to(ROOT)}:{text[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for path in files
        for text in [path.read_text(encoding="utf-8")]
        for m in _FROM_THE_INDEX.finditer(text)
    ]
    assert not found, "install from a clone or a git URL instead:\n" + "\n".join(found)


def _install_section(path: Path) -> str:
    text = path.read_text(encoding="utf-8")
    found = re.search(r"^## Install\n(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    assert found, f"{path.name} has no '## Install' section"
    return found.group(1)


def test_readme_and_front_page_install_the_same_way():
    readme, front = _install_section(ROOT / "README.md"), _install_section(DOCS / "index.md")
    assert readme == front
    commands = re.findall(r"^pip install .*$", readme, re.MULTILINE)
    assert any(re.search(r'pip install "\./xiso\[[\w,]+\]"', c) for c in commands)  # a clone
    assert any(re.search(r'"xiso\[[\w,]+\] @ git\+', c) for c in commands)  # a git URL


def test_install_section_lists_every_user_extra_with_what_it_installs():
    import tomllib

    from packaging.requirements import Requirement

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    development = {"test", "docs", "bench", "interop"}
    rows = re.findall(r"^\| `(\w+)` \| ([^|]+) \|", _install_section(ROOT / "README.md"), re.M)
    assert {extra: set(packages.replace(",", " ").split()) for extra, packages in rows} == {
        extra: {Requirement(r).name for r in requirements}
        for extra, requirements in extras.items()
        if extra not in development
    }


def test_install_hint_installs_the_package_or_xiso_from_a_clone_or_git():
    from packaging.requirements import Requirement

    from xiso.errors import install_hint

    hint = install_hint("nifti", "nibabel")
    assert hint.startswith("pip install nibabel, ")
    assert 'pip install ".[nifti]" in a clone of xiso' in hint
    # the git form is a valid requirement once the URL is filled in
    url = "https://example.org/xiso.git"
    (git,) = re.findall(r'pip install "(xiso\[nifti\] @ git\+[^"]+)"', hint)
    requirement = Requirement(git.replace("<URL of xiso's git repository>", url))
    assert (requirement.name, requirement.extras, requirement.url) == (
        "xiso",
        {"nifti"},
        f"git+{url}",
    )


def _hint_sites(monkeypatch):
    """Each place xiso says how to install a missing package, made to say it."""
    import sys

    from xiso import cli, plot
    from xiso.io import engine, nifti, targets

    def plot_site():
        monkeypatch.setitem(sys.modules, "matplotlib", None)
        plot._require_matplotlib()

    def nifti_site():
        monkeypatch.setitem(sys.modules, "nibabel", None)
        nifti._nibabel()

    def engine_site():
        monkeypatch.setattr(engine, "_installed", lambda name: False)
        engine._require("zarrista")

    def cli_site():
        monkeypatch.setitem(sys.modules, "dask.distributed", None)
        with cli._scheduler("tcp://127.0.0.1:1"):
            pass

    def s3_site():
        import fsspec.registry  # noqa: F401  (the module; fsspec.registry is its mapping)

        monkeypatch.setitem(sys.modules, "s3fs", None)
        # fsspec keeps the classes it imported: an earlier test's S3 file system too
        known = sys.modules["fsspec.registry"]._registry
        for name in ("s3", "s3a"):
            monkeypatch.delitem(known, name, raising=False)
        targets.FsspecTarget("s3://bucket/image.ome.zarr", None)

    return {
        "plot": (plot_site, "matplotlib"),
        "nifti": (nifti_site, "nibabel"),
        "fast": (engine_site, "zarrista"),
        "distributed": (cli_site, "distributed"),
        "s3": (s3_site, "s3fs"),
    }


@pytest.mark.parametrize("extra", ["plot", "nifti", "fast", "distributed", "s3"])
def test_every_missing_package_error_says_how_to_install_it(monkeypatch, extra):
    site, package = _hint_sites(monkeypatch)[extra]
    with pytest.raises(ImportError if extra in ("plot", "nifti") else ValueError) as raised:
        site()
    message = str(raised.value)
    assert f"pip install {package}, or reinstall xiso with its {extra!r} extra" in message
    assert f'pip install ".[{extra}]" in a clone of xiso' in message
    assert f'pip install "xiso[{extra}] @ git+' in message
    assert not _FROM_THE_INDEX.search(message)


# --- the API reference lists the public API --------------------------------------


def _api_entries() -> dict[str, str]:
    """What docs/api.md documents, fully qualified (under its ``currentmodule``), and how:
    ``"autosummary"`` (a page of its own in generated/) or ``"directive"`` (on the API
    page, e.g. ``.. data::``)."""
    text = (DOCS / "api.md").read_text(encoding="utf-8")
    entries: dict[str, str] = {}
    for block in re.findall(r"```\{eval-rst\}\n(.*?)```", text, re.DOTALL):
        module = ""
        for line in block.splitlines():
            if found := re.fullmatch(r"\.\. currentmodule:: (\S+)", line):
                module = found.group(1)
            elif found := re.fullmatch(r"\.\. (?:data|function|class|attribute):: (\S+)", line):
                entries[f"{module}.{found.group(1)}"] = "directive"
            elif found := re.fullmatch(r"   ([A-Za-z_][\w.]*)", line):
                entries[f"{module}.{found.group(1)}"] = "autosummary"
    return entries


def _public_accessor_members() -> list[str]:
    from xiso import accessor

    kinds = {
        "DataArray": accessor.IsoDataArrayAccessor,
        "Dataset": accessor.IsoDatasetAccessor,
        "DataTree": accessor.IsoDataTreeAccessor,
    }
    return [
        f"xarray.{kind}.iso.{name}"
        for kind, cls in kinds.items()
        for name in dir(cls)
        if not name.startswith("_")
    ]


def test_api_reference_reads_its_entries():
    entries = _api_entries()
    assert entries["xiso.near_isotropic"] == "autosummary"
    assert entries["xarray.DataArray.iso.spacing"] == "autosummary"
    assert entries["xiso.METHODS"] == "directive"
    assert len(entries) > 60


def test_api_reference_lists_every_public_name():
    import xiso

    entries = _api_entries()
    missing = [
        name
        for name in xiso.__all__
        if name != "__version__"
        # a module (xiso.data, xiso.plot) is listed through its functions
        and f"xiso.{name}" not in entries
        and not any(entry.startswith(f"xiso.{name}.") for entry in entries)
    ]
    assert not missing, f"not in docs/api.md: {missing}"
    for name in ("open", "open_tiff", "open_nifti", "to_nifti"):  # once missing
        assert entries[f"xiso.{name}"] == "autosummary"


def test_api_reference_lists_every_accessor_member():
    members = _public_accessor_members()
    assert "xarray.DataArray.iso.to_nifti" in members and len(members) > 30
    entries = _api_entries()
    missing = [member for member in members if member not in entries]
    assert not missing, f"not in docs/api.md: {missing}"


def test_api_reference_has_a_page_for_every_entry(site):
    api = _parse(site / "api.html")
    for name, how in _api_entries().items():
        if how == "autosummary":
            assert (site / "generated" / f"{name}.html").is_file(), f"no page for {name}"
        else:
            assert name in api.ids, f"api.html has no entry {name}"


# --- progress bars visible in the built pages (no widget scripts from the internet) --


def _widget_page(value: float, total: float) -> str:
    """A page as myst-nb writes it: the widget state, a tqdm bar and a slider."""

    def model(name, **state):
        return {"model_name": name, "model_module": "@jupyter-widgets/controls", "state": state}

    state = {
        "box": model("HBoxModel", children=["IPY_MODEL_left", "IPY_MODEL_bar", "IPY_MODEL_right"]),
        "left": model("HTMLModel", value=f"{value / total:.0%}"),
        "bar": model("FloatProgressModel", value=value, max=total, bar_style="success"),
        "right": model("HTMLModel", value=f"\u2007{value:g}/{total:g}\u2007[00:01&lt;00:00]"),
        "slider": model("IntSliderModel", value=3),
    }
    scripts = {
        "state": json.dumps({"state": state, "version_major": 2, "version_minor": 0}),
        "box": json.dumps({"version_major": 2, "version_minor": 0, "model_id": "box"}),
        "slider": json.dumps({"version_major": 2, "version_minor": 0, "model_id": "slider"}),
    }
    return (
        '<html><body><div class="cell_output">'
        f'<script type="application/vnd.jupyter.widget-view+json">{scripts["box"]}</script>'
        f'<script type="application/vnd.jupyter.widget-view+json">{scripts["slider"]}</script>'
        "</div>"
        f'<script type="application/vnd.jupyter.widget-state+json">{scripts["state"]}</script>'
        "</body></html>"
    )


@pytest.mark.parametrize(("value", "cells"), [(5, 20), (2, 8), (0, 0)])
def test_a_progress_widget_is_drawn_as_the_text_bar_of_its_last_state(value, cells):
    page = progress_bars.static_progress(_widget_page(value, 5))
    bars = re.findall(r'class="output text_plain xiso-progress".*?<pre>(.*?)</pre>', page)
    percent = f"{value / 5:.0%}"
    assert bars == [
        f"{percent}|{'█' * cells}{' ' * (20 - cells)}|\u2007{value}/5\u2007[00:01&lt;00:00]"
    ]
    # the slider is no progress bar: left as it was
    assert page.count("application/vnd.jupyter.widget-view+json") == 1
    assert '"model_id": "slider"' in page


def test_a_page_without_widgets_is_left_alone():
    page = "<html><body><pre>100%|</pre></body></html>"
    assert progress_bars.static_progress(page) == page


def test_tutorial_shows_its_progress_bars_without_scripts_from_the_internet(site):
    notebook = json.loads((DOCS / "tutorial.ipynb").read_text(encoding="utf-8"))
    bars = sum(
        "progress=True" in "".join(cell["source"]) or "progress_bar(" in "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    )
    assert bars >= 2
    page = (site / "tutorial.html").read_text(encoding="utf-8")
    assert "application/vnd.jupyter.widget-view+json" not in page
    assert not re.findall(r'<script[^>]+src="(?:https?:)?//', page)
    shown = re.findall(
        r'xiso-progress"><div class="highlight"><pre>(100%\|█{20}\|[^<]*)</pre>', page
    )
    assert len(shown) == bars, shown
