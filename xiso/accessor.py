"""The ``.iso`` accessors on DataArray and Dataset.

Each method checks nothing itself and calls one function of the layers below;
``__init__`` only stores the object (xarray hides errors raised there).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import xarray as xr

from . import resample
from .spacing import spatial_dims

__all__ = ["IsoDataArrayAccessor", "IsoDatasetAccessor"]

T = TypeVar("T", xr.DataArray, xr.Dataset)


class _IsoAccessor(Generic[T]):
    """Shared implementation of the DataArray and Dataset accessors."""

    def __init__(self, obj: T) -> None:
        self._obj: T = obj

    @property
    def spatial_dims(self) -> tuple[Hashable, ...]:
        """The spatial dims: x, y, z (any case) and CF/NGFF-tagged dims."""
        return spatial_dims(self._obj)

    @property
    def spacing(self) -> dict[Hashable, float]:
        """Spacing of each spatial dim, in its coordinate's own unit."""
        return resample.spacing_info(self._obj).native

    @property
    def units(self) -> dict[Hashable, str | None]:
        """Unit of each spatial dim's coordinate (None where it has none)."""
        return resample.spacing_info(self._obj).units

    def factors(
        self,
        *,
        rounding: str = "pow2",
        target: Any = None,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
    ) -> dict[Hashable, int]:
        """Factors :meth:`near_isotropic` would use; see :func:`xiso.near_isotropic_factors`."""
        return resample.near_isotropic_factors(
            self._obj, rounding=rounding, target=target, dims=dims, spacing=spacing
        )

    def near_isotropic(
        self,
        *,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
        rounding: str = "pow2",
        target: Any = None,
        method: str = "mean",
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
    ) -> T:
        """Make voxels near-isotropic; see :func:`xiso.near_isotropic`."""
        return resample.near_isotropic(
            self._obj,
            dims=dims,
            spacing=spacing,
            rounding=rounding,
            target=target,
            method=method,
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
        )

    def downsample(
        self,
        factors: Mapping[Hashable, int] | None = None,
        /,
        *,
        method: str = "mean",
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
        **factors_kwargs: int,
    ) -> T:
        """Block-reduce by integer factors; see :func:`xiso.downsample`."""
        return resample.downsample(
            self._obj,
            factors,
            method=method,
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
            **factors_kwargs,
        )


@xr.register_dataarray_accessor("iso")
class IsoDataArrayAccessor(_IsoAccessor[xr.DataArray]):
    """``DataArray.iso``: near-isotropic resampling of labelled volumes."""


@xr.register_dataset_accessor("iso")
class IsoDatasetAccessor(_IsoAccessor[xr.Dataset]):
    """``Dataset.iso``: near-isotropic resampling of every spatial variable."""
