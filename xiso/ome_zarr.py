"""Kept for code that imported from ``xiso.ome_zarr``; the code lives in :mod:`xiso.io`."""

from __future__ import annotations

from .errors import OmeZarrError, StoreExistsError
from .io import open_ome_zarr, open_ome_zarr_pyramid, to_ome_zarr

__all__ = [
    "OmeZarrError",
    "StoreExistsError",
    "open_ome_zarr",
    "open_ome_zarr_pyramid",
    "to_ome_zarr",
]
