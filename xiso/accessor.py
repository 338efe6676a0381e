"""The ``.iso`` accessors on DataArray and Dataset.

Each method checks nothing itself and calls one function of the layers below;
``__init__`` only stores the object (xarray hides errors raised there).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

import xarray as xr

from . import io, plot, resample
from . import pyramid as _pyramid
from .spacing import spatial_dims

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["IsoDataArrayAccessor", "IsoDataTreeAccessor", "IsoDatasetAccessor"]

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

    def pyramid(
        self,
        *,
        levels: int | None = None,
        min_size: int = 32,
        method: str = "mean",
        near_isotropic: bool = True,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
    ) -> xr.DataTree:
        """A multiscale pyramid as a DataTree; see :func:`xiso.pyramid`."""
        return _pyramid.pyramid(
            self._obj,
            levels=levels,
            min_size=min_size,
            method=method,
            near_isotropic=near_isotropic,
            dims=dims,
            spacing=spacing,
        )

    def plot(
        self,
        *,
        mode: Literal["slice", "mip"] = "slice",
        index: Mapping[Hashable, int] | None = None,
        ax: Axes | None = None,
        cmap: Any = "gray",
        title: str | None = None,
        robust: bool = True,
        vmin: float | None = None,
        vmax: float | None = None,
    ) -> Figure:
        """Orthogonal views at true physical aspect; see :func:`xiso.plot.orthoviews`."""
        return plot.orthoviews(
            self._obj,
            mode=mode,
            index=index,
            ax=ax,
            cmap=cmap,
            title=title,
            robust=robust,
            vmin=vmin,
            vmax=vmax,
        )

    def to_ome_zarr(
        self,
        store: Any,
        *,
        pyramid: bool = True,
        levels: int | None = None,
        version: str = "0.5",
        chunks: Any = None,
        compressor: Any = None,
        overwrite: bool = False,
        method: str = "mean",
        min_size: int = 32,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        """Write as OME-Zarr (a pyramid by default); see :func:`xiso.to_ome_zarr`."""
        io.to_ome_zarr(
            self._obj,
            store,
            pyramid=pyramid,
            levels=levels,
            version=version,
            chunks=chunks,
            compressor=compressor,
            overwrite=overwrite,
            method=method,
            min_size=min_size,
            storage_options=storage_options,
        )


@xr.register_dataset_accessor("iso")
class IsoDatasetAccessor(_IsoAccessor[xr.Dataset]):
    """``Dataset.iso``: near-isotropic resampling of every spatial variable."""


@xr.register_datatree_accessor("iso")
class IsoDataTreeAccessor:
    """``DataTree.iso``: apply xiso to every node, and write pyramids."""

    def __init__(self, obj: xr.DataTree) -> None:
        self._obj: xr.DataTree = obj

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
    ) -> xr.DataTree:
        """:func:`xiso.near_isotropic` on every node.

        See :func:`xiso.resample.tree_near_isotropic`.
        """
        return resample.tree_near_isotropic(
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
    ) -> xr.DataTree:
        """:func:`xiso.downsample` on every node that has one of the named dims."""
        return resample.tree_downsample(
            self._obj,
            resample.merge_factors(factors, factors_kwargs),
            method=method,
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
        )

    def to_ome_zarr(self, store: Any, **kwargs: Any) -> None:
        """Write the tree (one child per level) as OME-Zarr; see :func:`xiso.to_ome_zarr`."""
        io.to_ome_zarr(self._obj, store, **kwargs)
