"""xiso: make anisotropic volumes near-isotropic, the xarray way.

Importing xiso registers the ``.iso`` accessor on DataArray and Dataset.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

from .errors import (
    DtypeError,
    FactorError,
    FormatError,
    MissingCoordinateError,
    NiftiError,
    NonUniformSpacingError,
    OmeZarrError,
    OptionError,
    SpacingError,
    SpatialDimError,
    StorageError,
    StoreExistsError,
    TiffError,
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
    from .blocks import downsample, near_isotropic, near_isotropic_factors
    from .exact import isotropic, resample, resample_like, upsample
    from .labelled import spacing_info
    from .plan import Plan, plan  # eager, as pyramid: io.write imports the module xiso.plan
    from .pyramid import pyramid  # eager: the accessor imports the module xiso.pyramid
    from .reduce import METHODS
    from .spacing import spatial_dims
except KeyboardInterrupt:
    if not _launched_as_command():
        raise
    print("xiso: interrupted", file=sys.stderr)
    raise SystemExit(130) from None

# Cheap import: what needs zarr, pydantic or matplotlib is imported on first
# use (PEP 562), so ``import xiso`` costs little more than ``import xarray``.
# name -> (module, attribute; None for the module itself)
_LAZY: dict[str, tuple[str, str | None]] = {
    "data": ("xiso.data", None),
    "plot": ("xiso.plot", None),
    "open_ome_zarr": ("xiso.io", "open_ome_zarr"),
    "open_ome_zarr_pyramid": ("xiso.io", "open_ome_zarr_pyramid"),
    "to_ome_zarr": ("xiso.io", "to_ome_zarr"),
    "open_tiff": ("xiso.io", "open_tiff"),
    "open_nifti": ("xiso.io", "open_nifti"),
    "to_nifti": ("xiso.io", "to_nifti"),
    "open": ("xiso.io", "open"),
    "progress_bar": ("xiso.progress", "progress_bar"),
    "Explanation": ("xiso.explain", "Explanation"),
}

if TYPE_CHECKING:  # what mypy and IDEs see; at run time these come from __getattr__
    from . import data, plot
    from .explain import Explanation
    from .io import open as open  # public, but not starred (see _NOT_STARRED)
    from .io import (
        open_nifti,
        open_ome_zarr,
        open_ome_zarr_pyramid,
        open_tiff,
        to_nifti,
        to_ome_zarr,
    )
    from .progress import progress_bar


def _version() -> str:
    """The installed version: read on first use of ``xiso.__version__`` (reading
    the package metadata imports the email parser, a lazy open needs neither)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("xiso")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'xiso' has no attribute {name!r}") from None
    value = importlib.import_module(module)
    if attribute is not None:
        value = getattr(value, attribute)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    """The public names (tab completion, ``dir(xiso)``): not the modules this
    one uses (``os``, ``sys``) nor xiso's submodules."""
    return sorted({*__all__, *_NOT_STARRED})


__all__ = [
    "METHODS",
    "DtypeError",
    "FormatError",
    "Explanation",
    "FactorError",
    "MissingCoordinateError",
    "NonUniformSpacingError",
    "OmeZarrError",
    "StoreExistsError",
    "StorageError",
    "NiftiError",
    "TiffError",
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
    "isotropic",
    "near_isotropic",
    "near_isotropic_factors",
    "open_ome_zarr",
    "open_ome_zarr_pyramid",
    "open_nifti",
    "open_tiff",
    "plan",
    "Plan",
    "progress_bar",
    "pyramid",
    "resample",
    "resample_like",
    "spacing_info",
    "spatial_dims",
    "to_nifti",
    "to_ome_zarr",
    "upsample",
]

# public, but not given to ``from xiso import *``: it would shadow the builtin
# ``open`` (call it as ``xiso.open``)
_NOT_STARRED = ["open"]
