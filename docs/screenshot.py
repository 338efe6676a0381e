"""Screenshots of the built site, and a check that no code block or table is wider than its column.

Builds nothing: build the site first (``python -m sphinx -b html docs docs/_build/html``),
then ``python docs/screenshot.py`` shoots the front page and the concepts page at
1280 px wide with headless Chromium (Debian: ``apt-get install chromium``), writes the
PNGs to ``docs/_build/screenshots/`` and prints, for each page, the code blocks and
tables that need horizontal scrolling (exit status 1 if there is one).

``tests/test_docs.py`` runs the same measurement (and skips it where there is no Chromium).
"""

from __future__ import annotations

import argparse
import html as html_text
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
BUILD = DOCS / "_build" / "html"
PAGES = ("index", "concepts")
WIDTH = 1280
HEIGHT = 2000
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
# Runs in the page once it has loaded: every visible <pre> and <table> of the article
# is measured against the box that holds it; the result goes into the title, which
# --dump-dom prints.
MEASURE = """
<script>
window.addEventListener("load", function () {
  var column = document.querySelector("article.bd-article") || document.body;
  var right = column.getBoundingClientRect().right;
  var checked = 0, wide = [];
  column.querySelectorAll("pre, table").forEach(function (el) {
    var box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) { return; }   // collapsed or hidden
    checked += 1;
    var holder = el.tagName === "TABLE" ? el.parentElement : el;
    var needs = Math.max(el.scrollWidth, holder.scrollWidth);
    if (needs > holder.clientWidth + 1 || box.right > right + 1) {
      wide.push({tag: el.tagName.toLowerCase(), needs: needs, has: holder.clientWidth,
                 text: el.textContent.trim().split("\\n")[0].slice(0, 70)});
    }
  });
  document.title = "XISO-MEASURE:" + JSON.stringify(
    {column: Math.round(column.getBoundingClientRect().width), checked: checked, wide: wide});
});
</script>
"""


def chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run(args: list[str], timeout: float = 120) -> str:
    with tempfile.TemporaryDirectory(prefix="xiso-chromium-") as profile:
        done = subprocess.run(
            [*args[:1], *FLAGS, f"--user-data-dir={profile}", *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if done.returncode != 0:
        raise RuntimeError(f"{args[0]} exited {done.returncode}: {done.stderr[-2000:]}")
    return done.stdout


def shoot(page: Path, out: Path, *, width: int = WIDTH, height: int = HEIGHT) -> Path:
    """A PNG of ``page`` as a window of ``width`` x ``height`` px shows it."""
    exe = chromium()
    if exe is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
    out.parent.mkdir(parents=True, exist_ok=True)
    _run([exe, f"--window-size={width},{height}", f"--screenshot={out}", page.as_uri()])
    return out


def measure(page: Path, *, width: int = WIDTH, html: str | None = None) -> dict:
    """Measure the code blocks and tables of a built page at ``width`` px.

    Returns ``{"column": px, "checked": n, "wide": [...]}``, one entry in ``wide`` per
    block or table that needs horizontal scrolling. ``html`` replaces the page's text
    (its links still resolve against the page's folder).
    """
    exe = chromium()
    if exe is None:
        raise RuntimeError("no chromium on PATH (Debian: apt-get install chromium)")
    text = page.read_text(encoding="utf-8") if html is None else html
    base = f'<base href="{page.parent.as_uri()}/">'
    text = re.sub(r"<head>", "<head>" + base, text, count=1)
    text = text.replace("</body>", MEASURE + "</body>", 1)
    with tempfile.TemporaryDirectory(prefix="xiso-measure-") as folder:
        copy = Path(folder) / page.name
        copy.write_text(text, encoding="utf-8")
        dom = _run(
            [
                exe,
                f"--window-size={width},{HEIGHT}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                copy.as_uri(),
            ]
        )
    found = re.search(r"<title>XISO-MEASURE:(.*?)</title>", dom, re.DOTALL)
    if found is None:
        raise RuntimeError(f"the measuring script did not run on {page}")
    return json.loads(html_text.unescape(found.group(1)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", type=Path, default=BUILD, help="the built site")
    parser.add_argument("--out", type=Path, default=DOCS / "_build" / "screenshots")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("pages", nargs="*", default=list(PAGES), help="page names")
    args = parser.parse_args(argv)
    status = 0
    for name in args.pages:
        page = args.build / f"{name}.html"
        if not page.exists():
            print(f"{page} is missing: build the site first", file=sys.stderr)
            return 2
        png = shoot(page, args.out / f"{name.replace('/', '-')}-{args.width}.png", width=args.width)
        result = measure(page, width=args.width)
        print(f"{png}  column {result['column']} px, {result['checked']} blocks and tables")
        for wide in result["wide"]:
            status = 1
            print(
                f"  too wide: <{wide['tag']}> needs {wide['needs']} px of {wide['has']}: "
                f"{wide['text']}"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
