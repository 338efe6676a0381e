"""The edge: reading and writing images (OME-Zarr today).

- :mod:`.ngff`: NGFF metadata <-> dims, coordinates, units, scale, translation
  (pure, no I/O);
- :mod:`.read`: zarr group -> lazy labelled DataArray / DataTree, with the
  reader contract every format follows;
- :mod:`.write`: levels -> zarr arrays, metadata last;
- :mod:`.targets`: where an image goes (local folder, fsspec URL, zarr store
  object) and how it replaces what is there.
"""

from __future__ import annotations

from ..errors import OmeZarrError, StoreExistsError
from .read import open_ome_zarr, open_ome_zarr_pyramid
from .write import to_ome_zarr

__all__ = [
    "OmeZarrError",
    "StoreExistsError",
    "open_ome_zarr",
    "open_ome_zarr_pyramid",
    "to_ome_zarr",
]
