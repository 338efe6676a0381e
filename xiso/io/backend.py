"""The ``"ome-zarr"`` engine of xarray: ``xr.open_dataarray(path, engine="ome-zarr")``.

Registered through the ``xarray.backends`` entry point of the package, so
xarray finds it without ``import xiso``::

    xr.open_dataarray("image.ome.zarr", engine="ome-zarr")             # level 0
    xr.open_dataarray("image.ome.zarr", engine="ome-zarr", level=1)
    xr.open_dataarray("image.ome.zarr", engine="ome-zarr", near_isotropic=True)
    xr.open_dataarray("image.ome.zarr", engine="ome-zarr", label="nuclei")
    xr.open_datatree("image.ome.zarr", engine="ome-zarr")              # every level and label

``open_dataset`` returns a Dataset whose one variable is the image as
:func:`xiso.open_ome_zarr` opens it, named like the image (its multiscale
name, ``"image"`` when unnamed; the label name for a label image);
``open_datatree`` returns :func:`xiso.open_ome_zarr_pyramid`'s tree. The
backend keywords are those of these functions: ``level``, ``label``,
``near_isotropic``, ``method``, ``rounding``, ``storage_options``.

Nothing is read when opening. As with xarray's own engines, the stored
arrays are handed to xarray lazily indexed: ``chunks=None`` (the default)
reads what is indexed when it is indexed, ``chunks={}`` gives dask arrays in
the stored chunks (the ``preferred_chunks`` encoding), ``chunks=...`` others.
With ``near_isotropic=True`` the variable is the lazy reduction; xarray wraps
it, so it is computed when first read (``chunks={}`` keeps it on dask).

xarray imports this module whenever it lists its engines (any
``open_dataset`` call of any engine), so it imports nothing heavy: the
reader is imported when a store is opened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

import xarray as xr
from xarray.backends import BackendArray, BackendEntrypoint
from xarray.core import indexing

if TYPE_CHECKING:
    import zarr

__all__ = ["OmeZarrBackendEntrypoint"]

# what guess_can_open takes for an OME-Zarr image (a trailing slash allowed)
SUFFIXES = (".ome.zarr",)


def _location(filename_or_obj: Any) -> Any:
    """A path as text (``os.PathLike`` too); store objects as they are."""
    if isinstance(filename_or_obj, os.PathLike):
        return os.fspath(filename_or_obj)
    return filename_or_obj


class _StoredLevel(BackendArray):
    """A stored level as xarray's lazily indexed backend array: xarray reads
    only what is indexed, and makes dask chunks of it when asked (``chunks=``)."""

    def __init__(self, array: zarr.Array, where: str) -> None:
        from .read import _Level

        self.level = _Level(array, where)
        self.shape = tuple(array.shape)
        self.dtype = array.dtype

    def __getitem__(self, key: indexing.ExplicitIndexer) -> Any:
        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.BASIC, self.level.__getitem__
        )


def _lazy(da: xr.DataArray, array: zarr.Array, where: str) -> xr.DataArray:
    """``da`` with its dask data replaced by the stored array seen through
    xarray's lazy indexing; the stored chunks are its preferred chunks."""
    data = indexing.LazilyIndexedArray(_StoredLevel(array, where))
    encoding = {**da.encoding, "preferred_chunks": dict(zip(da.dims, array.chunks))}
    out = xr.DataArray(data, dims=da.dims, coords=da.coords, name=da.name, attrs=da.attrs)
    out.encoding = encoding
    return out


def _no_drop(drop_variables: str | Iterable[str] | None) -> None:
    from ..errors import OptionError

    if drop_variables:
        raise OptionError(
            f"drop_variables={drop_variables!r}: an OME-Zarr image opens as one variable "
            "(the image); select coordinates to drop after opening (.drop_vars(...))"
        )


class OmeZarrBackendEntrypoint(BackendEntrypoint):
    """Open OME-Zarr images (NGFF 0.4 and 0.5) with :mod:`xiso`: lazy, labelled,
    physical coordinates with units; label images; every level as a DataTree."""

    description = (
        "OME-Zarr images (NGFF 0.4, 0.5) with physical coordinates, levels and label images (xiso)"
    )
    open_dataset_parameters: ClassVar[tuple | None] = (
        "filename_or_obj",
        "drop_variables",
        "level",
        "label",
        "near_isotropic",
        "method",
        "rounding",
        "storage_options",
    )
    supports_groups = True

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True for a path or URL that ends in ``.ome.zarr`` (with or without ``/``)."""
        location = _location(filename_or_obj)
        if not isinstance(location, str):
            return False
        return location.rstrip("/").lower().endswith(SUFFIXES)

    def open_dataset(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        level: int | str = 0,
        label: str | None = None,
        near_isotropic: bool = False,
        method: str | None = None,
        rounding: str = "pow2",
        storage_options: Mapping[str, Any] | None = None,
    ) -> xr.Dataset:
        """One level of the image (or of the label image ``label``) as a Dataset
        of one variable; see :func:`xiso.open_ome_zarr` for the keywords."""
        from ..compose import open_ome_zarr
        from .read import open_level

        _no_drop(drop_variables)
        store = _location(filename_or_obj)
        if near_isotropic:  # a reduction: dask-backed, computed when read
            da = open_ome_zarr(
                store,
                level=level,
                label=label,
                near_isotropic=True,
                method=method,
                rounding=rounding,
                storage_options=storage_options,
            )
        else:
            da, array = open_level(store, level=level, label=label, storage_options=storage_options)
            da = _lazy(da, array, f"level {level!r} of {store!r}")
        name = da.name if da.name is not None else "image"
        return da.to_dataset(name=name, promote_attrs=True)

    def open_datatree(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        label: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> xr.DataTree:
        """Every level of the image and of its label images (``labels/<name>/<path>``);
        see :func:`xiso.open_ome_zarr_pyramid`."""
        from ..errors import OptionError
        from .read import pyramid_levels

        _no_drop(drop_variables)
        if kwargs:
            raise OptionError(
                f"open_datatree(engine='ome-zarr') takes label= and storage_options=, not "
                f"{sorted(kwargs)!r}: it opens every level; open one level with "
                "xr.open_dataarray(path, engine='ome-zarr', level=..., near_isotropic=...)"
            )
        store = _location(filename_or_obj)
        levels = pyramid_levels(store, label=label, storage_options=storage_options, dask=False)
        return xr.DataTree.from_dict(
            {
                path: _lazy(da, array, f"node {path!r} of {store!r}").to_dataset()
                for path, (da, array) in levels.items()
            }
        )

    def open_groups_as_dict(
        self,
        filename_or_obj: Any,
        *,
        drop_variables: str | Iterable[str] | None = None,
        label: str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, xr.Dataset]:
        """The nodes of :meth:`open_datatree` by path (``xr.open_groups``)."""
        tree = self.open_datatree(
            filename_or_obj,
            drop_variables=drop_variables,
            label=label,
            storage_options=storage_options,
            **kwargs,
        )
        return {node.path: node.to_dataset() for node in tree.subtree}
