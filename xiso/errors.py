"""The exception tree of xiso.

Every error xiso raises on bad input is an :class:`XisoError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know xiso.  Messages say what was found, name the dimension with ``!r`` and
say how to fix it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "XisoError",
    "SpatialDimError",
    "MissingCoordinateError",
    "SpacingError",
    "NonUniformSpacingError",
    "UnitError",
    "FactorError",
    "OptionError",
    "UnknownOptionError",
    "DtypeError",
    "OmeZarrError",
    "TiffError",
    "NiftiError",
    "FormatError",
    "StoreExistsError",
    "StorageError",
    "XisoWarning",
    "AffineWarning",
    "Option",
]


@dataclass(frozen=True)
class Option:
    """An option that a message names or suggests, e.g. ``boundary='pad'``.

    ``str()`` words it for Python (``text`` if given, else ``name=value!r``);
    a front end with options of its own (the command line) words it its way,
    see ``worded()`` of :class:`XisoError` and :class:`XisoWarning`.
    """

    name: str
    value: Any = None
    text: str | None = None

    def __str__(self) -> str:
        return self.text if self.text is not None else f"{self.name}={self.value!r}"


# a message: text, options, and clauses (tuples) that a front end drops whole
# when it cannot word one of their options
Part: TypeAlias = "str | Option | tuple[Part, ...]"


class _Worded(Exception):
    """A message built from parts: text, :class:`Option` objects and clauses
    (tuples of parts). ``str()`` is the Python wording (``use boundary='trim'``);
    :meth:`worded` words the options for another front end, which is how the
    ``xiso`` command says ``--boundary trim`` where Python says
    ``boundary='trim'``, without rewording the message by matching its text."""

    def __init__(self, *parts: Part) -> None:
        self.parts = parts
        super().__init__(self.worded())

    def worded(self, option: Callable[[Option], str | None] = str) -> str:
        """The message with each option worded by ``option``. Where it cannot
        word one (returns None), the clause holding the option is left out; an
        option outside any clause keeps its Python wording."""

        def text(part: Part) -> str | None:
            if isinstance(part, Option):
                return option(part)
            if isinstance(part, tuple):
                words = [text(p) for p in part]
                return None if None in words else "".join(w or "" for w in words)
            return str(part)

        def top(part: Part) -> str:
            worded = text(part)
            if worded is not None:
                return worded
            return str(part) if isinstance(part, Option) else ""

        return "".join(top(p) for p in self.parts)


class XisoError(_Worded, ValueError):
    """Base class of every error raised by xiso on bad input.

    Its message is text, or parts that name options (see :class:`Option`),
    which the command line words as its own options."""


class SpatialDimError(XisoError):
    """A dimension is unknown, or no spatial dimension could be found."""


class MissingCoordinateError(XisoError):
    """A spatial dimension has no coordinate to read its spacing from."""


class SpacingError(XisoError):
    """A spacing is zero, negative, NaN, infinite or cannot be derived."""


class NonUniformSpacingError(SpacingError):
    """A spatial coordinate is not evenly spaced."""


class UnitError(XisoError):
    """A unit cannot be parsed, is not a length, or units are inconsistent."""


class FactorError(XisoError):
    """A reduction factor does not fit the data (too large, not an integer, ...)."""


class OptionError(XisoError):
    """An option has a value outside the documented choices."""


class UnknownOptionError(OptionError, TypeError):
    """A function is given an option it does not take (also a ``TypeError``,
    the error Python raises for an unexpected keyword)."""


class DtypeError(XisoError):
    """A reduction cannot be applied to the data type of the input."""


class OmeZarrError(XisoError):
    """A store is not a readable OME-Zarr image, or metadata cannot be written."""


class TiffError(XisoError):
    """A path is not a readable TIFF image, or its planes do not form one stack."""


class NiftiError(XisoError):
    """A file is not a readable NIfTI (or other nibabel) image, its affine is
    oblique, or an image cannot be written as NIfTI."""


class FormatError(XisoError):
    """A path is in no format xiso reads (or does not exist)."""


class StoreExistsError(XisoError):
    """Something is at the output and xiso may not replace it.

    Raised without ``overwrite=True`` for anything at the target, and with it
    for anything that is not a zarr hierarchy or an empty folder.
    """


class ResumeError(XisoError):
    """``resume=True`` found an unfinished write of another job (another source
    or other options) for the target; the message names what differs."""


class StorageError(XisoError, OSError):
    """The storage under an image failed: an object store that cannot be reached,
    refuses the credentials or has no such bucket, or a disk that is full.

    The message names the path or URL and what to check. It is an
    :class:`OSError` too, so ``except OSError`` keeps catching what the
    storage raised before xiso named it.
    """


class XisoWarning(_Worded, UserWarning):
    """xiso went on, but what it read or wrote is not all that was there.

    Its message is text, or parts that name options (see :class:`Option`),
    which the command line words as its own options."""


class AffineWarning(XisoWarning):
    """A NIfTI affine kept in ``attrs["affine"]`` (an oblique image) could not
    follow the grid, or cannot be written: it was dropped or replaced by the
    axis-aligned affine of the coordinates."""


def install_hint(extra: str, package: str) -> str:
    """How to install what an optional feature of xiso needs: the one place of this text.

    xiso is not on the package index, so its extras come with a reinstall from a
    clone (``pip install ".[nifti]"``, or ``pip install -e ".[nifti]"`` to edit it)
    or from a git URL; installing the package alone works as well.

    Parameters
    ----------
    extra : str
        The extra of xiso's ``pyproject.toml`` that brings the package.
    package : str
        What to ``pip install`` on its own (one or more distribution names).

    Returns
    -------
    str
        The hint, for the end of an error message.

    Examples
    --------
    >>> print(install_hint("nifti", "nibabel"))
    pip install nibabel, or reinstall xiso with its 'nifti' extra: pip install ".[nifti]" in a clone of xiso, or pip install "xiso[nifti] @ git+<URL of xiso's git repository>"
    """  # noqa: E501
    return (
        f"pip install {package}, or reinstall xiso with its {extra!r} extra: "
        f'pip install ".[{extra}]" in a clone of xiso, or '
        f'pip install "xiso[{extra}] @ git+<URL of xiso\'s git repository>"'
    )
