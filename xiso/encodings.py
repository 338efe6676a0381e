"""Named encodings: keys of ``DataArray.encoding`` that several modules read.

``DOWNSCALING``
    How the levels of a pyramid were made: the reduction method (``"mean"``,
    ``"mode"``, ...). :func:`xiso.pyramid` sets it on every level, reading an
    OME-Zarr image sets it from the multiscale ``type``, and writing a DataTree
    turns it back into that ``type``.

``SPACING``
    The sample spacing of an index coordinate, in its units: set where a
    coordinate is read (OME-Zarr ``scale``, TIFF and NIfTI voxel sizes) or made
    (downsample, resample), so that an axis with a single sample keeps its
    spacing (see :func:`xiso.spacing.recorded_spacing`); writing OME-Zarr takes
    a single-sample axis's ``scale`` from it.
"""

from __future__ import annotations

from typing import Any

DOWNSCALING = "ngff_downscaling_type"
SPACING = "spacing"


def downscaling(obj: Any) -> Any:
    """The recorded downscaling method of a DataArray, or None."""
    return obj.encoding.get(DOWNSCALING)


def set_downscaling(obj: Any, method: Any) -> None:
    """Record how ``obj`` (a level of a pyramid) was made."""
    obj.encoding[DOWNSCALING] = method


def spacing(obj: Any) -> Any:
    """The recorded spacing of a coordinate (a DataArray or Variable), or None.

    The raw record: :func:`xiso.spacing.recorded_spacing` checks it is positive
    and finite."""
    return obj.encoding.get(SPACING)


def set_spacing(obj: Any, step: Any) -> None:
    """Record ``step`` as the spacing of the coordinate ``obj``."""
    obj.encoding[SPACING] = step
