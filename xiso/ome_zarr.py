"""Kept for code that imported from ``xiso.ome_zarr``; the code lives in :mod:`xiso.io`."""

from __future__ import annotations

from .io import *  # noqa: F403
from .io import __all__ as __all__
