"""xiso: make anisotropic volumes near-isotropic, the xarray way.

Importing xiso registers the ``.iso`` accessor on DataArray and Dataset.
"""

from __future__ import annotations

import os
import sys
from importlib.metadata import PackageNotFoundError, version

from .errors import (
    DtypeError,
    FactorError,
    MissingCoordinateError,
    NonUniformSpacingError,
    OmeZarrError,
    OptionError,
    SpacingError,
    SpatialDimError,
    StoreExistsError,
    UnitError,
    XisoError,
    XisoWarning,
)


def _launched_as_command() -> bool:
    """Whether this import is the start of the ``xiso`` command (or ``python -m xiso``)."""
    main = sys.modules.get("__main__")
    script = os.path.basename(getattr(main, "__file__", None) or "")
    return script in ("xiso", "xiso.exe", "xiso-script.py") or list(
        getattr(sys, "orig_argv", [])[1:3]
    ) == ["-m", "xiso"]


try:  # Ctrl-C while the command is still importing: one line and exit 130, as later
    from . import accessor as _accessor  # noqa: F401  (registers .iso)
    from . import data, plot
    from .io import open_ome_zarr, open_ome_zarr_pyramid, to_ome_zarr
    from .pyramid import pyramid
    from .reduce import METHODS
    from .resample import downsample, near_isotropic, near_isotropic_factors, spacing_info
    from .spacing import spatial_dims
except KeyboardInterrupt:
    if not _launched_as_command():
        raise
    print("xiso: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

try:
    __version__ = version("xiso")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = [
    "METHODS",
    "DtypeError",
    "FactorError",
    "MissingCoordinateError",
    "NonUniformSpacingError",
    "OmeZarrError",
    "StoreExistsError",
    "OptionError",
    "SpacingError",
    "SpatialDimError",
    "UnitError",
    "XisoError",
    "XisoWarning",
    "__version__",
    "data",
    "plot",
    "downsample",
    "near_isotropic",
    "near_isotropic_factors",
    "open_ome_zarr",
    "open_ome_zarr_pyramid",
    "pyramid",
    "spacing_info",
    "spatial_dims",
    "to_ome_zarr",
]
