"""Generate :mod:`xiso._accessor_docs`, the docstrings of the ``.iso`` methods.

    python -m xiso._docgen            # rewrite xiso/_accessor_docs.py
    python -m xiso._docgen --check    # exit 1 when it is not current

A development tool, never imported by ``import xiso`` (xarray generates its
own aggregation methods the same way). Each accessor method's docstring is
its plain-function twin's, as :func:`xiso.accessor._from_twin` names it: the
object the accessor is on leaves the Parameters, example calls of the twin
become accessor calls, and a line after the summary says which function the
method is. ``tests/test_accessor.py`` checks that the generated module is
current, so editing a twin's docstring without running this fails the tests.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

TARGET = Path(__file__).with_name("_accessor_docs.py")

_SECTION_RULE = re.compile(r"^-{3,}$")

_HEADER = '''\
"""The docstrings of the ``.iso`` accessor methods: their twins', generated.

Written by ``python -m xiso._docgen`` from the plain-function twins'
docstrings and the ``_from_twin`` decorators of :mod:`xiso.accessor`; do not
edit by hand. tests/test_accessor.py checks that it is current.
"""

from __future__ import annotations

# the method's qualified name in xiso.accessor -> its docstring
DOCS: dict[str, str] = {
'''


def _sections(doc: str) -> list[tuple[str, list[str]]]:
    """Split a cleaned numpydoc docstring into (title, lines); the summary has title ""."""
    lines = doc.splitlines()
    out: list[tuple[str, list[str]]] = [("", [])]
    i = 0
    while i < len(lines):
        if (
            i + 1 < len(lines)
            and lines[i].strip()
            and not lines[i].startswith(" ")
            and _SECTION_RULE.match(lines[i + 1])
        ):
            out.append((lines[i].strip(), []))
            i += 2
            continue
        out[-1][1].append(lines[i])
        i += 1
    return out


def _drop_parameters(lines: list[str], drop: Iterable[str]) -> list[str]:
    """Remove the names in ``drop`` from a Parameters section; an entry left
    with no name goes with its description."""
    dropped = set(drop)
    out: list[str] = []
    keep = True
    for line in lines:
        if line and not line.startswith(" "):  # an entry: "a, b : type" or "a, b"
            names, sep, kind = line.partition(" : ")
            left = [n.strip() for n in names.split(",") if n.strip() not in dropped]
            keep = bool(left)
            if keep:
                out.append(", ".join(left) + sep + kind)
        elif keep:
            out.append(line)
    return out


def _accessor_examples(lines: list[str], func: str, method: str) -> list[str]:
    """Rewrite calls ``func(obj, ...)`` (qualified or not) of the examples as
    ``obj.iso.method(...)``."""
    call = re.compile(rf"(?<![\w.])(?:\w+\.)*{re.escape(func)}\((\w+)(\)|,\s*)")

    def accessor_call(m: re.Match[str]) -> str:
        return f"{m[1]}.iso.{method}(" + (")" if m[2] == ")" else "")

    return [
        call.sub(accessor_call, line) if line.lstrip()[:4] in (">>> ", "... ") else line
        for line in lines
    ]


def accessor_doc(
    doc: str,
    public: str,
    method: str,
    *,
    drop: Iterable[str] = ("obj",),
    replace: Mapping[str, str] | None = None,
) -> str:
    """The docstring of accessor method ``method`` made from ``doc``, the
    docstring of its twin ``public`` (e.g. ``"xiso.near_isotropic"``).

    The ``drop`` parameters (the object the accessor is on) leave the
    Parameters section, example calls of the twin become accessor calls, and a
    line after the summary says which function the method is. ``replace``
    gives new text for whole sections (``""`` for the summary).
    """
    if not doc:
        return f"See :func:`{public}`."
    func = public.rsplit(".", 1)[-1]
    parts = _sections(inspect.cleandoc(doc))
    replace = dict(replace or {})
    out: list[str] = []
    for title, lines in parts:
        if title in replace:
            lines = [*inspect.cleandoc(replace.pop(title)).splitlines(), ""]
        elif title == "Parameters":
            lines = _drop_parameters(lines, drop)
        elif title == "Examples":
            lines = _accessor_examples(lines, func, method)
        if title:
            out += [title, "-" * len(title)]
        else:
            while lines and not lines[-1].strip():
                lines = lines[:-1]
            note = f"``obj.iso.{method}(...)`` is ``{public}(obj, ...)``."
            lines = [*lines, "", note, ""]
        out += lines
    for title, text in replace.items():  # sections the twin does not have
        out += [title, "-" * len(title), *inspect.cleandoc(text).splitlines(), ""]
    return "\n".join(out).rstrip() + "\n"


def _doc_of(twin: Callable[..., Any] | tuple[str, str]) -> str:
    """The cleaned docstring of ``twin``: a function, or (module, name) of a
    function of an xiso module."""
    if isinstance(twin, tuple):
        module, name = twin
        twin = getattr(importlib.import_module(f"xiso.{module}"), name)
    return inspect.getdoc(twin) or ""


def accessor_docs() -> dict[str, str]:
    """Every accessor method's docstring, by its qualified name in :mod:`xiso.accessor`."""
    from xiso import accessor

    docs = {}
    for key, (twin, public, drop, replace) in accessor._TWINS.items():
        texts = {t: v if isinstance(v, str) else _doc_of(v) for t, v in replace.items()}
        method = key.rsplit(".", 1)[-1]
        docs[key] = accessor_doc(_doc_of(twin), public, method, drop=drop, replace=texts)
    return docs


def _literal(text: str) -> str:
    """``text`` as a triple-quoted string literal that starts on its own line."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    if body.endswith('"'):
        body = body[:-1] + '\\"'
    return '"""\\\n' + body + '"""'


def render(docs: Mapping[str, str]) -> str:
    """The source of :mod:`xiso._accessor_docs` holding ``docs``."""
    entries = "".join(f'    "{key}": {_literal(text)},\n' for key, text in docs.items())
    return _HEADER + entries + "}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the file is not current")
    args = parser.parse_args(argv)
    text = render(accessor_docs())
    current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
    if args.check:
        if text != current:
            print(f"{TARGET} is not current: run python -m xiso._docgen", file=sys.stderr)
            return 1
        return 0
    if text != current:
        TARGET.write_text(text, encoding="utf-8")
        print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
