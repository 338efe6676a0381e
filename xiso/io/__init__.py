"""The edge: reading and writing images (OME-Zarr, TIFF, NIfTI).

- :mod:`.ngff`: NGFF metadata <-> dims, coordinates, units, scale, translation
  (pure, no I/O);
- :mod:`.labels`: NGFF label images (``labels/<name>``, ``image-label``):
  checks, levels and metadata (pure, no I/O);
- :mod:`.read`: zarr group -> lazy labelled DataArray / DataTree, with the
  reader contract every format follows;
- :mod:`.write`: levels -> zarr arrays, metadata last (written as given:
  :mod:`xiso.compose` makes the levels of ``to_ome_zarr``);
- :mod:`.targets`: where an image goes (local folder, fsspec URL, zarr store
  object) and how it replaces what is there;
- :mod:`.tiff`: OME-TIFF, ImageJ hyperstacks and folders of planes (tifffile);
- :mod:`.nifti`: NIfTI (and PAR/REC) <-> DataArray (nibabel);
- :mod:`.formats`: the formats xiso reads, and :func:`open`, which picks the reader of a path;
- :mod:`.backend`: the ``engine="ome-zarr"`` of ``xarray.open_dataset``,
  ``open_dataarray`` and ``open_datatree``.

The functions are imported on first use (PEP 562): xarray imports
:mod:`.backend` whenever it lists its engines, which must not cost zarr.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ..errors import FormatError, NiftiError, OmeZarrError, StoreExistsError, TiffError

_LAZY = {
    "open_ome_zarr": "xiso.compose",
    "open_ome_zarr_pyramid": "xiso.io.read",
    "to_ome_zarr": "xiso.compose",
    "open_tiff": "xiso.io.tiff",
    "open_nifti": "xiso.io.nifti",
    "to_nifti": "xiso.io.nifti",
    "open": "xiso.io.formats",
}

if TYPE_CHECKING:
    from ..compose import open_ome_zarr, to_ome_zarr
    from .formats import open
    from .nifti import open_nifti, to_nifti
    from .read import open_ome_zarr_pyramid
    from .tiff import open_tiff


def __getattr__(name: str) -> Any:
    try:
        module = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'xiso.io' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "FormatError",
    "NiftiError",
    "OmeZarrError",
    "StoreExistsError",
    "TiffError",
    "open_ome_zarr",
    "open",
    "open_nifti",
    "open_ome_zarr_pyramid",
    "open_tiff",
    "to_nifti",
    "to_ome_zarr",
]
