"""Named encodings: keys of ``DataArray.encoding`` that several modules read.

``DOWNSCALING``
    How the levels of a pyramid were made: the reduction method (``"mean"``,
    ``"mode"``, ...). :func:`xiso.pyramid` sets it on every level, reading an
    OME-Zarr image sets it from the multiscale ``type``, and writing a DataTree
    turns it back into that ``type``.
"""

from __future__ import annotations

from typing import Any

DOWNSCALING = "ngff_downscaling_type"


def downscaling(obj: Any) -> Any:
    """The recorded downscaling method of a DataArray, or None."""
    return obj.encoding.get(DOWNSCALING)


def set_downscaling(obj: Any, method: Any) -> None:
    """Record how ``obj`` (a level of a pyramid) was made."""
    obj.encoding[DOWNSCALING] = method
