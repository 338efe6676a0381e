"""xiso: make anisotropic volumes near-isotropic, the xarray way.

Importing xiso registers the ``.iso`` accessor on DataArray and Dataset.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import accessor as _accessor  # noqa: F401  (registers .iso)
from . import data, plot
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
)
from .io import open_ome_zarr, open_ome_zarr_pyramid, to_ome_zarr
from .pyramid import pyramid
from .reduce import METHODS
from .resample import downsample, near_isotropic, near_isotropic_factors, spacing_info
from .spacing import spatial_dims

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
