"""The ``.iso`` accessors on DataArray, Dataset and DataTree.

Each method checks nothing itself and calls one function of the layers below;
``__init__`` only stores the object (xarray hides errors raised there).

Docstrings are not written here: each method's is its plain-function twin's
(``da.iso.near_isotropic`` has :func:`xiso.near_isotropic`'s), so ``help()``
and Jupyter's Shift-Tab show the full text where the user is. :func:`_from_twin`
names the twin; the text is generated at development time into
:mod:`xiso._accessor_docs` (``python -m xiso._docgen``), so importing xiso
parses no source. :mod:`xiso.io` and :mod:`xiso.plot` are imported only
inside the methods that need them (``import xiso`` stays cheap).
"""

from __future__ import annotations

import functools
import html
import warnings
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Literal, NoReturn, TypeVar

import xarray as xr

from . import _accessor_docs, blocks, exact, labelled
from . import pyramid as _pyramid
from .errors import UnknownOptionError, XisoError, XisoWarning
from .explain import Explanation, explain, format_number
from .spacing import spatial_dims, to_common_unit

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["IsoDataArrayAccessor", "IsoDataTreeAccessor", "IsoDatasetAccessor"]

T = TypeVar("T", xr.DataArray, xr.Dataset)
F = TypeVar("F", bound=Callable[..., Any])

# --------------------------------------------------------------------------
# docstrings: the twins', generated into _accessor_docs at development time
# --------------------------------------------------------------------------
# method's qualified name -> (twin, public name, dropped parameters, replaced
# sections), what ``python -m xiso._docgen`` builds each docstring from
_TWINS: dict[str, tuple[Callable[..., Any] | tuple[str, str], str, tuple[str, ...], Any]] = {}


# the methods that return a new (lazy, on dask) object: asked for a progress bar,
# they say where progress is shown instead of Python's bare TypeError
_LAZY_RESULTS = frozenset(
    "near_isotropic downsample upsample resample isotropic resample_like pyramid".split()
)


def _refuse_progress(method: F) -> F:
    """``method``, refusing ``progress=`` with a message that says where the
    progress of a computation is shown (a dim named ``progress`` that a
    method takes as ``**factors`` is still a factor: a whole number)."""

    @functools.wraps(method)
    def checked(self: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("progress"), bool):
            raise UnknownOptionError(
                f"iso.{method.__name__}() has no progress option: on dask-backed data "
                "it only plans the work (the result is lazy), on numpy data it is done "
                "at once. A bar shows where the work is done: "
                "to_ome_zarr(..., progress=True), the `xiso convert` command, or "
                "`with xiso.progress_bar(): result.compute()` around your own computation"
            )
        return method(self, *args, **kwargs)

    return checked  # type: ignore[return-value]


def _from_twin(
    twin: Callable[..., Any] | tuple[str, str],
    public: str,
    *,
    drop: Iterable[str] = ("obj",),
    replace: Mapping[str, str | Callable[..., Any]] | None = None,
) -> Callable[[F], F]:
    """Give the decorated accessor method the docstring of its plain-function
    twin ``public`` (e.g. ``"xiso.near_isotropic"``).

    ``twin`` is the function, or (module, name) of one not to import here
    (:mod:`xiso.io` and :mod:`xiso.plot` are imported on first use). The text
    is not made here: ``python -m xiso._docgen`` writes it into
    :mod:`xiso._accessor_docs` from these arguments (see
    :func:`xiso._docgen.accessor_doc`: ``drop`` parameters leave, ``replace``
    gives new text, or a function whose docstring it is, for whole
    sections), and tests/test_accessor.py checks that it is current. Those
    that return a new object refuse ``progress=`` (see :func:`_refuse_progress`).
    """

    def decorate(method: F) -> F:
        key = method.__qualname__
        _TWINS[key] = (twin, public, tuple(drop), dict(replace or {}))
        method.__doc__ = _accessor_docs.DOCS.get(key, f"See :func:`{public}`.")
        # Python names the method in argument errors by its qualified name:
        # 'iso.near_isotropic()', not the private '_IsoAccessor.near_isotropic()'
        # (so an unbound method cannot be pickled by reference; bound ones and
        # results can)
        name = f"iso.{method.__name__}"
        method.__qualname__ = name
        method.__code__ = method.__code__.replace(co_qualname=name)
        return _refuse_progress(method) if method.__name__ in _LAZY_RESULTS else method

    return decorate


# --------------------------------------------------------------------------
# the repr: what the accessor sees, one fact per row, never raising
# --------------------------------------------------------------------------
def _reason(err: Exception) -> str:
    """The first line of an error, for a one-line row."""
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}" if text else type(err).__name__


def _backing(variable: xr.Variable) -> str:
    """numpy, or dask with its chunk shape, or lazy, or the array type (read
    without touching ``.data``, which would load a lazily opened array)."""
    data: Any = variable._data
    if hasattr(data, "dask") and hasattr(data, "chunksize"):
        chunks = tuple(int(c) for c in data.chunksize)
        return f"dask, chunks {chunks} ({data.npartitions} chunks)"
    if not variable._in_memory:
        return "lazy (not loaded; xarray reads it on first use)"
    kind = type(data)
    return "numpy" if kind.__module__ == "numpy" else f"{kind.__module__}.{kind.__qualname__}"


def _summary_rows(obj: xr.DataArray | xr.Dataset) -> list[tuple[str, str]]:
    """(label, value) rows describing ``obj`` for the accessor's repr."""
    rows: list[tuple[str, str]] = []
    try:
        dims = spatial_dims(obj)
    except Exception as err:
        return [("spatial dims", _reason(err))]
    rows.append(("spatial dims", ", ".join(str(d) for d in dims)))
    rows += _spacing_rows(obj)
    if isinstance(obj, xr.DataArray):
        rows.append(("data", _backing(obj.variable)))
    else:
        for name, var in obj.data_vars.items():
            rows.append((f"data {name}", _backing(var.variable)))
    return rows


def _spacing_rows(obj: xr.DataArray | xr.Dataset) -> list[tuple[str, str]]:
    """Spacing, anisotropy, and the factors of near_isotropic() with the spacing they give."""
    try:
        info = labelled.spacing_info(obj)
    except Exception as err:
        return [("spacing", _reason(err))]
    rows = [("spacing", ", ".join(f"{d} {_num(s, info.units[d])}" for d, s in info.native.items()))]
    try:
        sizes = {d: obj.sizes[d] for d in info.native}
        report = explain(info.native, sizes, common=info.common, units=info.units, unit=info.unit)
    except Exception as err:
        return [*rows, ("factors", _reason(err))]
    finest = min(report.dims, key=lambda d: d.common_spacing)
    coarsest = f"{report.coarsest_dim} {_num(report.coarsest, info.unit)}"
    rows.append(
        (
            "anisotropy",
            f"{format_number(report.anisotropy)} (coarsest {coarsest} / finest "
            f"{finest.dim} {_num(finest.common_spacing, info.unit)})",
        )
    )
    factors = ", ".join(f"{d.dim} {d.factor}" for d in report.dims)
    rows.append(("factors", f"{factors} (near_isotropic, rounding='pow2'; see .explain())"))
    short = [d for d in report.dims if d.factor > d.size]
    if short:  # near_isotropic() refuses these: say so instead of a result
        what = ", ".join(f"{d.dim} has {d.size} samples for a factor of {d.factor}" for d in short)
        rows.append(("after", f"near_isotropic() would raise: {what} (see .explain())"))
        return rows
    after = ", ".join(f"{d.dim} {_num(d.new_spacing, info.unit)}" for d in report.dims)
    rows.append(("after", f"{after}; anisotropy {format_number(report.residual_anisotropy)}"))
    return rows


def _num(value: float, unit: str | None) -> str:
    return format_number(value) if unit is None else f"{format_number(value)} {unit}"


def _title(obj: xr.DataArray | xr.Dataset) -> str:
    kind = type(obj).__name__
    sizes = ", ".join(f"{d}: {n}" for d, n in obj.sizes.items())
    if isinstance(obj, xr.DataArray):
        name = "" if obj.name is None else f" {obj.name!r}"
        return f"<{kind}.iso{name} ({sizes}) {obj.dtype}>"
    n = len(obj.data_vars)
    return f"<{kind}.iso ({sizes}) {n} data variable{'' if n == 1 else 's'}>"


def _safe_rows(obj: Any) -> tuple[str, list[tuple[str, str]]]:
    try:
        return _title(obj), _summary_rows(obj)
    except Exception as err:  # a repr never raises
        return f"<{type(obj).__name__}.iso>", [("error", _reason(err))]


def _text(title: str, rows: list[tuple[str, str]]) -> str:
    width = max(len(label) for label, _ in rows)
    return "\n".join([title, *(f"  {label.ljust(width)}  {value}" for label, value in rows)])


# --------------------------------------------------------------------------
# the accessors
# --------------------------------------------------------------------------
class _IsoAccessor(Generic[T]):
    """Shared implementation of the DataArray and Dataset accessors."""

    def __init__(self, obj: T) -> None:
        self._obj: T = obj

    def __repr__(self) -> str:
        title, rows = _safe_rows(self._obj)
        return _text(title, rows)

    def _repr_html_(self) -> str:
        title, rows = _safe_rows(self._obj)
        esc = html.escape
        body = "".join(
            f"<tr><th style='text-align:left'>{esc(label)}</th>"
            f"<td style='text-align:left'>{esc(value)}</td></tr>"
            for label, value in rows
        )
        return f"<div><p><code>{esc(title)}</code></p><table>{body}</table></div>"

    @property
    def spatial_dims(self) -> tuple[Hashable, ...]:
        """The spatial dims: x, y, z (any case) and CF/NGFF-tagged dims.

        Dims named x, y or z (any case), and dims whose coordinate has attrs
        ``axis`` in X/Y/Z (CF) or ``type == "space"`` (NGFF), in the order of
        the object's dims. ``obj.iso.spatial_dims`` is
        ``xiso.spatial_dims(obj)``.

        Returns
        -------
        tuple
            The spatial dim names.

        Raises
        ------
        SpatialDimError
            No dim is spatial.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> xr.DataArray(np.zeros((2, 3, 4)), dims=("c", "y", "x")).iso.spatial_dims
        ('y', 'x')
        """
        return spatial_dims(self._obj)

    @property
    def spacing(self) -> dict[Hashable, float]:
        """Spacing of each spatial dim, in its coordinate's own unit.

        ``obj.iso.spacing`` is ``xiso.spacing_info(obj).native``: read from
        each 1-D coordinate, which must be evenly spaced.

        Returns
        -------
        dict
            Spatial dim -> spacing (see :attr:`units` for the units).

        Raises
        ------
        SpatialDimError, MissingCoordinateError, SpacingError, NonUniformSpacingError, UnitError
            No spatial dim, a dim without coordinate, an uneven or non-finite
            coordinate, or units that cannot be compared.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> da = xr.DataArray(np.zeros((4, 2)), dims=("z", "x"),
        ...                   coords={"z": np.arange(4) * 0.25, "x": [0.0, 1.0]})
        >>> da.iso.spacing
        {'z': 0.25, 'x': 1.0}
        """
        return labelled.spacing_info(self._obj).native

    @property
    def units(self) -> dict[Hashable, str | None]:
        """Unit of each spatial dim's coordinate (None where it has none).

        ``obj.iso.units`` is ``xiso.spacing_info(obj).units``: the coordinate
        attrs ``units`` (or ``unit``), parsed with pint.

        Returns
        -------
        dict
            Spatial dim -> unit string, or None.

        Raises
        ------
        SpatialDimError, MissingCoordinateError, SpacingError, NonUniformSpacingError, UnitError
            As :attr:`spacing`.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> da = xr.DataArray(np.zeros((4, 2)), dims=("z", "x"),
        ...                   coords={"z": ("z", np.arange(4) * 250.0, {"units": "nm"}),
        ...                           "x": ("x", [0.0, 1.0], {"units": "um"})})
        >>> da.iso.units
        {'z': 'nm', 'x': 'um'}
        """
        return labelled.spacing_info(self._obj).units

    @_from_twin(
        blocks.near_isotropic_factors,
        "xiso.near_isotropic_factors",
        replace={  # the twin's examples pass a mapping of spacings, which needs no accessor
            "Examples": """
            >>> import numpy as np, xarray as xr
            >>> da = xr.DataArray(np.zeros((8, 2, 2)), dims=("z", "y", "x"),
            ...                   coords={"z": np.arange(8) * 0.25, "y": [0.0, 1.0],
            ...                           "x": [0.0, 1.0]})
            >>> da.iso.factors()
            {'z': 4, 'y': 1, 'x': 1}
            >>> da.iso.factors(target=2.0)
            {'z': 8, 'y': 2, 'x': 2}
            """
        },
    )
    def factors(
        self,
        *,
        rounding: str = "pow2",
        target: Any = None,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
    ) -> dict[Hashable, int]:
        return blocks.near_isotropic_factors(
            self._obj, rounding=rounding, target=target, dims=dims, spacing=spacing
        )

    def explain(
        self,
        *,
        rounding: str = "pow2",
        target: Any = None,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
    ) -> Explanation:
        """Why :meth:`factors` (and :meth:`near_isotropic`) pick their factors.

        Per spatial dim: its spacing, the ratio of the reference spacing (the
        coarsest, or ``target``) to it, the rounding rule, the factor, the
        spacing it gives, and the samples ``boundary="trim"`` drops at the
        end; then the anisotropy before and after, and what became of
        ``target`` (used, rounded, or ignored because it is not coarser than
        the coarsest spacing).

        Parameters
        ----------
        rounding, target, dims, spacing
            As in :meth:`factors`.

        Returns
        -------
        Explanation
            A frozen dataclass (see :mod:`xiso.explain`): ``print()`` shows a
            text table, Jupyter an HTML table, ``.to_dict()`` gives the numbers.

        Raises
        ------
        XisoError
            As :meth:`factors`.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> da = xr.DataArray(np.zeros((10, 4, 4)), dims=("z", "y", "x"),
        ...                   coords={"z": np.arange(10) * 0.25, "y": np.arange(4.0),
        ...                           "x": np.arange(4.0)})
        >>> e = da.iso.explain()
        >>> e.factors, e.dropped
        ({'z': 4, 'y': 1, 'x': 1}, {'z': 2, 'y': 0, 'x': 0})
        >>> print(e)
        near_isotropic factors, rounding='pow2' (nearest power of 2 in log2; ties to the smaller)
        reference: the coarsest spacing 1 (of 'y')
        dim  size  spacing  ratio  rounding  factor  new spacing  new size  trim drops
        z      10  0.25         4  pow2           4  1                   2           2
        y       4  1            1  pow2           1  1                   4           0
        x       4  1            1  pow2           1  1                   4           0
        anisotropy: 4 -> 1 (coarsest / finest spacing)
        """
        info = labelled.spacing_info(self._obj, dims=dims, spacing=spacing)
        with warnings.catch_warnings():  # what the warnings say is in the explanation
            warnings.simplefilter("ignore", XisoWarning)
            # refuses what near_isotropic refuses (e.g. a target in the wrong unit)
            blocks.near_isotropic_factors(
                self._obj, rounding=rounding, target=target, dims=dims, spacing=spacing
            )
        return explain(
            info.native,
            {d: self._obj.sizes[d] for d in info.native},
            common=info.common,
            units=info.units,
            unit=info.unit,
            rounding=rounding,
            target=None if target is None else to_common_unit(target, info),
        )

    @_from_twin(blocks.near_isotropic, "xiso.near_isotropic")
    def near_isotropic(
        self,
        *,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
        rounding: str = "pow2",
        target: Any = None,
        method: str | None = None,
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
    ) -> T:
        return blocks.near_isotropic(
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

    @_from_twin(blocks.downsample, "xiso.downsample")
    def downsample(
        self,
        factors: Mapping[Hashable, int] | None = None,
        /,
        *,
        method: str | None = None,
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
        **factors_kwargs: int,
    ) -> T:
        return blocks.downsample(
            self._obj,
            factors,
            method=method,
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
            **factors_kwargs,
        )

    @_from_twin(exact.upsample, "xiso.upsample")
    def upsample(
        self,
        factors: Mapping[Hashable, int] | None = None,
        /,
        *,
        method: str | None = None,
        dtype: Any = None,
        **factors_kwargs: int,
    ) -> T:
        return exact.upsample(self._obj, factors, method=method, dtype=dtype, **factors_kwargs)

    @_from_twin(exact.resample, "xiso.resample")
    def resample(
        self,
        spacing: Any,
        *,
        dims: Iterable[Hashable] | None = None,
        method: str | None = None,
        dtype: Any = None,
        antialias: bool = True,
        skipna: bool | None = None,
    ) -> T:
        return exact.resample(
            self._obj,
            spacing,
            dims=dims,
            method=method,
            dtype=dtype,
            antialias=antialias,
            skipna=skipna,
        )

    @_from_twin(exact.isotropic, "xiso.isotropic")
    def isotropic(
        self,
        *,
        spacing: Any = None,
        dims: Iterable[Hashable] | None = None,
        method: str | None = None,
        dtype: Any = None,
        antialias: bool = True,
        skipna: bool | None = None,
    ) -> T:
        return exact.isotropic(
            self._obj,
            spacing=spacing,
            dims=dims,
            method=method,
            dtype=dtype,
            antialias=antialias,
            skipna=skipna,
        )

    @_from_twin(exact.resample_like, "xiso.resample_like")
    def resample_like(
        self,
        other: xr.DataArray | xr.Dataset,
        *,
        method: str = "linear",
        dtype: Any = None,
        antialias: bool = True,
        skipna: bool | None = None,
    ) -> T:
        return exact.resample_like(
            self._obj, other, method=method, dtype=dtype, antialias=antialias, skipna=skipna
        )


@xr.register_dataarray_accessor("iso")
class IsoDataArrayAccessor(_IsoAccessor[xr.DataArray]):
    """``DataArray.iso``: near-isotropic resampling of labelled volumes."""

    @_from_twin(_pyramid.pyramid, "xiso.pyramid")
    def pyramid(
        self,
        *,
        levels: int | None = None,
        min_size: int = 32,
        method: str | None = None,
        near_isotropic: bool = True,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
    ) -> xr.DataTree:
        return _pyramid.pyramid(
            self._obj,
            levels=levels,
            min_size=min_size,
            method=method,
            near_isotropic=near_isotropic,
            dims=dims,
            spacing=spacing,
        )

    @_from_twin(("plot", "orthoviews"), "xiso.plot.orthoviews")
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
        from . import plot

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

    @_from_twin(("compose", "to_ome_zarr"), "xiso.to_ome_zarr")
    def to_ome_zarr(
        self,
        store: Any,
        *,
        pyramid: bool = True,
        levels: int | None = None,
        version: str = "0.5",
        chunks: Any = None,
        shards: Any = "auto",
        compressor: Any = None,
        overwrite: bool = False,
        method: str | None = None,
        min_size: int = 32,
        labels: Mapping[str, xr.DataArray | xr.DataTree] | None = None,
        label: bool | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        progress: bool = False,
        resume: bool = False,
    ) -> None:
        from . import io

        io.to_ome_zarr(
            self._obj,
            store,
            pyramid=pyramid,
            levels=levels,
            version=version,
            chunks=chunks,
            shards=shards,
            compressor=compressor,
            overwrite=overwrite,
            method=method,
            min_size=min_size,
            labels=labels,
            label=label,
            storage_options=storage_options,
            progress=progress,
            resume=resume,
        )

    @_from_twin(("plan", "plan"), "xiso.plan")
    def plan(
        self,
        *,
        pyramid: bool = True,
        levels: int | None = None,
        version: str = "0.5",
        chunks: Any = None,
        shards: Any = "auto",
        method: str | None = None,
        min_size: int = 32,
        label: bool | None = None,
        **options: Any,
    ) -> Any:
        from .plan import plan

        return plan(
            self._obj,
            pyramid=pyramid,
            levels=levels,
            version=version,
            chunks=chunks,
            shards=shards,
            method=method,
            min_size=min_size,
            label=label,
            **options,
        )

    @_from_twin(("io.nifti", "to_nifti"), "xiso.to_nifti")
    def to_nifti(self, path: str | Path, *, overwrite: bool = False) -> None:
        from . import io

        io.to_nifti(self._obj, path, overwrite=overwrite)


def _one_variable(ds: xr.Dataset, method: str, why: str) -> XisoError:
    """The error of a DataArray-only method called on a Dataset: it names the
    variables that have a spatial dim, to pick one."""
    try:
        dims = set(spatial_dims(ds))
        names = [n for n, v in ds.data_vars.items() if dims & set(v.dims)]
    except Exception:  # no spatial dim at all: the example stays generic
        names = []
    pick = f"ds[{names[0]!r}]" if names else 'ds["name"]'
    among = f" (spatial variables: {', '.join(map(repr, names))})" if names else ""
    return XisoError(
        f"Dataset.iso.{method}() is not available: {why}. Pick one variable{among}: "
        f"{pick}.iso.{method}(...)"
    )


@xr.register_dataset_accessor("iso")
class IsoDatasetAccessor(_IsoAccessor[xr.Dataset]):
    """``Dataset.iso``: near-isotropic resampling of every spatial variable."""

    def pyramid(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available on a Dataset: build the pyramid of one variable.

        A pyramid (and the OME-Zarr image :meth:`DataArray.iso.to_ome_zarr`
        writes from it) holds one image. Use ``ds["name"].iso.pyramid()``;
        to reduce every variable with the same factors use
        :meth:`near_isotropic` or :meth:`downsample`. The arguments are those
        of :meth:`DataArray.iso.pyramid` and are not looked at.

        Raises
        ------
        XisoError
            Always; the message names the variables to pick from.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({"vol": (("z", "x"), np.zeros((4, 2)))})
        >>> ds.iso.pyramid()
        Traceback (most recent call last):
        ...
        xiso.errors.XisoError: Dataset.iso.pyramid() is not available: ...ds['vol'].iso.pyramid(...)
        """
        raise _one_variable(self._obj, "pyramid", "a pyramid holds one image, a DataArray")

    def plot(self, *args: Any, **kwargs: Any) -> NoReturn:
        """Not available on a Dataset: draw one variable.

        :func:`xiso.plot.orthoviews` draws one volume with one colour scale.
        Use ``ds["name"].iso.plot()``, or :func:`xiso.plot.compare` for two
        volumes side by side. The arguments are those of
        :meth:`DataArray.iso.plot` and are not looked at.

        Raises
        ------
        XisoError
            Always; the message names the variables to pick from.

        Examples
        --------
        >>> import numpy as np, xarray as xr
        >>> ds = xr.Dataset({"vol": (("z", "y", "x"), np.zeros((4, 2, 2)))})
        >>> ds.iso.plot()
        Traceback (most recent call last):
        ...
        xiso.errors.XisoError: Dataset.iso.plot() is not available: ...: ds['vol'].iso.plot(...)
        """
        raise _one_variable(self._obj, "plot", "orthogonal views draw one volume, a DataArray")


_TREE_RETURNS = """
DataTree
    A new tree of the same shape; every node reduced as described above.
"""


@xr.register_datatree_accessor("iso")
class IsoDataTreeAccessor:
    """``DataTree.iso``: apply xiso to every node, and write pyramids."""

    def __init__(self, obj: xr.DataTree) -> None:
        self._obj: xr.DataTree = obj

    @_from_twin(
        blocks.near_isotropic,
        "xiso.near_isotropic",
        replace={
            "": blocks.tree_near_isotropic,
            "Returns": _TREE_RETURNS,
            "Examples": """
            >>> import numpy as np, xarray as xr
            >>> def level(n, dz):
            ...     return xr.Dataset({"v": (("z", "x"), np.zeros((n, 2)))},
            ...                       coords={"z": np.arange(n) * dz, "x": [0.0, 1.0]})
            >>> tree = xr.DataTree.from_dict({"fine": level(8, 0.25), "coarse": level(8, 0.5)})
            >>> out = tree.iso.near_isotropic()
            >>> dict(out["fine"].sizes), dict(out["coarse"].sizes)
            ({'z': 2, 'x': 2}, {'z': 4, 'x': 2})
            """,
        },
    )
    def near_isotropic(
        self,
        *,
        dims: Iterable[Hashable] | None = None,
        spacing: Mapping[Hashable, Any] | None = None,
        rounding: str = "pow2",
        target: Any = None,
        method: str | None = None,
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
    ) -> xr.DataTree:
        return blocks.tree_near_isotropic(
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

    @_from_twin(
        blocks.downsample,
        "xiso.downsample",
        replace={
            "": blocks.tree_downsample,
            "Returns": _TREE_RETURNS,
            "Examples": """
            >>> import numpy as np, xarray as xr
            >>> ds = xr.Dataset({"v": (("z", "x"), np.zeros((8, 2)))},
            ...                 coords={"z": np.arange(8) * 0.25, "x": [0.0, 1.0]})
            >>> tree = xr.DataTree.from_dict({"a": ds, "b": ds.isel(z=0)})
            >>> out = tree.iso.downsample(z=4)
            >>> dict(out["a"].sizes), dict(out["b"].sizes)
            ({'z': 2, 'x': 2}, {'x': 2})
            """,
        },
    )
    def downsample(
        self,
        factors: Mapping[Hashable, int] | None = None,
        /,
        *,
        method: str | None = None,
        boundary: str = "trim",
        dtype: Any = None,
        skipna: bool | None = None,
        **factors_kwargs: int,
    ) -> xr.DataTree:
        return blocks.tree_downsample(
            self._obj,
            labelled.merge_factors(factors, factors_kwargs),
            method=method,
            boundary=boundary,
            dtype=dtype,
            skipna=skipna,
        )

    @_from_twin(
        ("compose", "to_ome_zarr"),
        "xiso.to_ome_zarr",
        drop=("obj", "pyramid", "levels", "min_size", "method"),
        replace={
            "": """
            Write the tree (one child node per level) as OME-Zarr.

            The tree is a pyramid as :meth:`DataArray.iso.pyramid` or
            :func:`xiso.open_ome_zarr_pyramid` return it; its levels are written
            as they are (nothing is reduced), and so are the label images below
            its ``labels`` node (``labels/<name>/<path>``).
            """,
            "Examples": """
            Write a tiny image's pyramid to a temporary folder, and read it back:

            >>> import tempfile
            >>> import numpy as np, xarray as xr
            >>> import xiso
            >>> da = xr.DataArray(np.arange(64, dtype="uint8").reshape(4, 4, 4),
            ...                   dims=("z", "y", "x"), name="img",
            ...                   coords={"z": np.arange(4) * 2.0, "y": np.arange(4.0),
            ...                           "x": np.arange(4.0)})
            >>> tree = da.iso.pyramid(min_size=2)
            >>> with tempfile.TemporaryDirectory() as tmp:
            ...     tree.iso.to_ome_zarr(f"{tmp}/img.zarr")
            ...     back = xiso.open_ome_zarr_pyramid(f"{tmp}/img.zarr").load()
            >>> [dict(back[level]["img"].sizes) for level in back.children]
            [{'z': 4, 'y': 4, 'x': 4}, {'z': 4, 'y': 2, 'x': 2}, {'z': 2, 'y': 2, 'x': 2}]
            >>> back["1"]["img"].equals(tree["1"]["img"])
            True
            """,
        },
    )
    def to_ome_zarr(
        self,
        store: Any,
        *,
        version: str = "0.5",
        chunks: Any = None,
        shards: Any = "auto",
        compressor: Any = None,
        overwrite: bool = False,
        labels: Mapping[str, xr.DataArray | xr.DataTree] | None = None,
        label: bool | str | None = None,
        storage_options: Mapping[str, Any] | None = None,
        progress: bool = False,
        resume: bool = False,
    ) -> None:
        from . import io

        io.to_ome_zarr(
            self._obj,
            store,
            version=version,
            chunks=chunks,
            shards=shards,
            compressor=compressor,
            overwrite=overwrite,
            labels=labels,
            label=label,
            storage_options=storage_options,
            progress=progress,
            resume=resume,
        )

    @_from_twin(
        ("plan", "plan"),
        "xiso.plan",
        drop=("obj", "pyramid", "levels", "min_size", "method", "label"),
        replace={
            "": """
            What :meth:`DataTree.iso.to_ome_zarr` would write for this pyramid.

            Its levels are planned as they are (nothing is reduced), with the
            layout of level 0; nothing is computed.
            """
        },
    )
    def plan(
        self, *, version: str = "0.5", chunks: Any = None, shards: Any = "auto", **options: Any
    ) -> Any:
        from .plan import plan

        return plan(self._obj, version=version, chunks=chunks, shards=shards, **options)
