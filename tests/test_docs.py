"""The built documentation site: every toctree page rendered, links resolve, nothing too wide.

These tests read the site that ``python -m sphinx -W -b html docs docs/_build/html`` built
(``.ci/run`` builds it before pytest). Without a built site they skip, except under CI
(``CI`` set), where a missing site is a failure. The width checks run headless Chromium
through ``docs/screenshot.py`` and skip where there is none.
"""

from __future__ import annotations

import importlib.util
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
