"""The exception tree of xiso.

Every error xiso raises on bad input is an :class:`XisoError`, which is a
:class:`ValueError`, so ``except ValueError`` keeps working for callers that do
not know xiso.  Messages say what was found, name the dimension with ``!r`` and
say how to fix it.
"""

from __future__ import annotations

__all__ = [
    "XisoError",
    "SpatialDimError",
    "MissingCoordinateError",
    "SpacingError",
    "NonUniformSpacingError",
    "UnitError",
    "FactorError",
    "OptionError",
    "DtypeError",
    "OmeZarrError",
    "StoreExistsError",
    "StorageError",
    "XisoWarning",
    "AffineWarning",
]


class XisoError(ValueError):
    """Base class of every error raised by xiso on bad input."""


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


class DtypeError(XisoError):
    """A reduction cannot be applied to the data type of the input."""


class OmeZarrError(XisoError):
    """A store is not a readable OME-Zarr image, or metadata cannot be written."""


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


class XisoWarning(UserWarning):
    """xiso went on, but what it read or wrote is not all that was there."""


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
