"""Orthogonal views of 3-D volumes, drawn at their true physical aspect.

:func:`orthoviews` draws the classic orthogonal layout of a volume with
spatial dims z, y and x::

    +---------+-----+
    |   XY    | YZ  |      XY: looking down z (rows y, columns x)
    |         |     |      YZ: rows y (shared with XY), columns z
    +---------+-----+
    |   XZ    |            XZ: rows z, columns x (shared with XY)
    +---------+

Every panel is an image whose extent comes from the coordinates: along a dim
with coordinate values ``c[0] ... c[-1]`` and (signed) step ``s`` the image
spans ``c[0] - s/2`` to ``c[-1] + s/2``, the outer edges of the first and last
voxels. Rows are drawn top-down (``origin="upper"``, the image convention), so
y grows downwards in XY and YZ, and z grows away from XY: downwards in XZ,
rightwards in YZ. Panels have ``aspect="equal"`` in data units and are laid
out at one common scale (inches per unit of length), so a micrometre is as
long in every direction and on every panel: an anisotropic volume looks the
same shape before and after :func:`xiso.near_isotropic`, only its voxels
differ. Coordinates in different length units (z in nm, y and x in µm) are
converted to the unit of the coarsest dim first.

:func:`compare` draws two volumes side by side at the same scale and with the
same color limits, e.g. a volume and its near-isotropic version.

matplotlib is an optional dependency (``pip install matplotlib``, or xiso's
``plot`` extra: ``pip install ".[plot]"`` in a clone of xiso); it is imported
only when a function of this module is called. To save a figure use
``fig.savefig(path, dpi=...)``.
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import xarray as xr

from .axes import spatial_letter
from .errors import (
    DtypeError,
    OptionError,
    SpatialDimError,
)
from .labelled import spacing_info
from .spacing import spatial_dims
from .units import convert, symbol

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["MODES", "PANELS", "compare", "orthoviews"]

MODES = ("slice", "mip")
"""The values of ``mode``: the central (or chosen) slice, or the maximum projection."""

PANELS = ("xy", "xz", "yz")
"""The labels of the panel Axes (``ax.get_label()``), in the order they are added."""

_ROLES = ("z", "y", "x")
# panel -> (row role, column role, role the panel looks along)
_PANEL_AXES = {"xy": ("y", "x", "z"), "xz": ("z", "x", "y"), "yz": ("y", "z", "x")}

# layout, in inches
_PANEL_SIZE = 5.5  # the longer side of the panel block of a new figure
_COMPARE_PANEL_SIZE = 4.5  # the same, per layout, in compare()
_COL_GAP = 0.12  # between XY and YZ (YZ's y tick labels are hidden)
_ROW_GAP = 0.35  # between XY and XZ (room for XZ's title)
_MARGIN_LEFT = 0.85  # y tick labels and label
_MARGIN_RIGHT = 0.5  # room for a narrow YZ panel's title and label
_MARGIN_BOTTOM = 0.65  # x tick labels and label
_MARGIN_TOP = 0.35  # panel titles
_TITLE_HEIGHT = 0.35  # a layout title, above the panel titles
_COMPARE_GAP = 0.5  # between the two layouts of compare(), beside their margins
_ZOOM_SIZE = 3.0  # the longer side of a zoom panel of compare()
_ZOOM_COLOR = "#ff9f1c"  # the zoom window's box on the XZ panel and the zoom panel's frame


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError as err:
        from .errors import install_hint

        raise ImportError(
            "xiso.plot needs matplotlib, an optional dependency of xiso; "
            + install_hint("plot", "matplotlib")
        ) from err


@dataclass(frozen=True)
class _Axis:
    """One spatial dim as drawn: coordinates in the display unit."""

    dim: Hashable
    coords: np.ndarray
    step: float  # signed
    unit: str | None

    @property
    def edges(self) -> tuple[float, float]:
        """Outer edges of the first and last voxels."""
        return (
            float(self.coords[0] - self.step / 2),
            float(self.coords[-1] + self.step / 2),
        )

    @property
    def length(self) -> float:
        """Physical length: number of samples times the spacing."""
        return float(self.coords.size * abs(self.step))

    @property
    def symbol(self) -> str | None:
        """The unit as a short symbol ("micrometer" -> "µm") for labels."""
        if self.unit is None:
            return None
        return symbol(self.unit)

    @property
    def label(self) -> str:
        return f"{self.dim} [{self.symbol}]" if self.unit else str(self.dim)

    def describe(self, value: float) -> str:
        unit = f" {self.symbol}" if self.unit else ""
        return f"{self.dim} = {value:.4g}{unit}"


@dataclass(frozen=True)
class _Views:
    """The three 2-D images of a volume, ready to draw."""

    axes: dict[str, _Axis]  # role -> axis
    images: dict[str, np.ndarray]  # panel -> (rows, columns)
    titles: dict[str, str]  # panel -> short description
    positions: dict[str, float]  # role -> slice position (display unit); slice mode only

    def extent(self, panel: str) -> tuple[float, float, float, float]:
        row, col, _ = _PANEL_AXES[panel]
        left, right = self.axes[col].edges
        top, bottom = self.axes[row].edges  # origin="upper": the first row is at the top
        return (left, right, bottom, top)

    def size(self, panel: str) -> tuple[float, float]:
        """Physical (width, height) of a panel."""
        row, col, _ = _PANEL_AXES[panel]
        return self.axes[col].length, self.axes[row].length


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise OptionError(
            f"mode={mode!r} is not supported; use 'slice' (the central slice, or those "
            "chosen with index=) or 'mip' (maximum intensity projections)"
        )


def _roles(obj: xr.DataArray) -> dict[str, Hashable]:
    """Map 'z', 'y', 'x' to the spatial dims of ``obj``."""
    spatial = spatial_dims(obj)
    if len(spatial) != 3:
        raise SpatialDimError(
            f"orthoviews needs exactly three spatial dims (z, y, x); found {spatial!r} "
            f"among the dims {tuple(obj.dims)!r}. Draw 2-D images with obj.plot.imshow(), "
            "or name the three spatial dims z, y and x"
        )

    def role(dim: Hashable) -> str | None:
        return spatial_letter(dim, obj.coords[dim].attrs if dim in obj.coords else {})

    found = {role(d): d for d in spatial}
    if set(found) == set(_ROLES):
        return {r: found[r] for r in _ROLES}
    # roles cannot be told from names or CF axis attrs: take the dims in order (z, y, x)
    return dict(zip(_ROLES, spatial))


def _position(dim: Hashable, value: Any, n: int) -> int:
    try:
        if isinstance(value, bool):
            raise TypeError
        k = operator.index(value)
    except TypeError:
        raise OptionError(
            f"index of {dim!r} is {value!r}; pass an integer position from 0 to {n - 1} "
            f"(select by coordinate value with obj.sel({dim}=..., method='nearest') first)"
        ) from None
    if not -n <= k < n:
        raise OptionError(
            f"index of {dim!r} is {k}, outside its {n} samples; pass a position from "
            f"0 to {n - 1} (or from -{n} to -1, counted from the end)"
        )
    return k % n


def _select_extra(
    obj: xr.DataArray, roles: Mapping[str, Hashable], index: Mapping[Hashable, Any]
) -> xr.DataArray:
    """Reduce ``obj`` to its three spatial dims: extra dims are taken from ``index``
    or, when they have length 1, at their only position."""
    spatial = set(roles.values())
    for key in index:
        if key not in obj.dims:
            raise SpatialDimError(
                f"index names {key!r}, which is not a dimension of this array (its dims "
                f"are {tuple(obj.dims)!r}); use existing dimension names"
            )
    selection: dict[Hashable, int] = {}
    for dim in obj.dims:
        if dim in spatial:
            continue
        n = obj.sizes[dim]
        if dim in index:
            selection[dim] = _position(dim, index[dim], n)
        elif n == 1:
            selection[dim] = 0
        else:
            raise OptionError(
                f"dimension {dim!r} has {n} samples and is not spatial; choose one with "
                f"index={{{dim!r}: k}} or select it first (obj.isel({dim}=k) or "
                f"obj.sel({dim}=...))"
            )
    return obj.isel(selection) if selection else obj


def _axes(obj: xr.DataArray, roles: Mapping[str, Hashable]) -> dict[str, _Axis]:
    """The coordinates of the spatial dims, in one display unit.

    :func:`xiso.spacing_info` validates them (present, numeric, finite, evenly
    spaced, consistent length units), gives their spacing (also of a dim with
    a single sample, e.g. a volume reduced to one z plane, from its recorded
    spacing) and the conversion to the unit of the coarsest dim.
    """
    info = spacing_info(obj, dims=tuple(roles.values()))
    out: dict[str, _Axis] = {}
    for role, dim in roles.items():
        values = np.asarray(obj.coords[dim].values, dtype=np.float64)
        sign = -1.0 if values[-1] < values[0] else 1.0  # signed step: keeps the order
        scale = info.common[dim] / info.native[dim]
        out[role] = _Axis(dim, values * scale, sign * info.common[dim], info.unit)
    return out


def _compute(arrays: Sequence[xr.DataArray]) -> list[np.ndarray]:
    """Compute 2-D views together, so dask reads shared chunks once."""
    import dask

    datas = [a.data for a in arrays]
    if any(a.chunks is not None for a in arrays):
        datas = list(dask.compute(*datas))
    out = []
    for d in datas:
        image = np.asarray(d)
        out.append(image.astype(np.uint8) if image.dtype == bool else image)
    return out


def _views(
    obj: xr.DataArray,
    mode: str,
    index: Mapping[Hashable, Any] | None,
    at: Mapping[str, tuple[float, str | None]] | None = None,
) -> _Views:
    """Select and compute the three views. ``at`` (compare() only) gives slice
    positions by role as (coordinate value, unit), taken at the nearest sample."""
    if isinstance(obj, xr.Dataset):
        raise TypeError(
            "orthoviews draws a DataArray, not a Dataset; pick one variable, e.g. "
            f"ds[{next(iter(obj.data_vars), 'name')!r}] (its variables are "
            f"{list(obj.data_vars)!r})"
        )
    if not isinstance(obj, xr.DataArray):
        raise TypeError(f"expected an xarray DataArray, got {type(obj).__name__}")
    if obj.dtype.kind not in "biuf":
        raise DtypeError(
            f"orthoviews draws real numbers; this array has dtype {obj.dtype}. Convert it "
            "first, e.g. abs(obj) or obj.real for complex data"
        )
    _check_mode(mode)
    index = dict(index or {})
    roles = _roles(obj)
    spatial_index = [d for d in roles.values() if d in index]
    if mode == "mip" and spatial_index:
        raise OptionError(
            f"index gives a position for {spatial_index[0]!r}, but mode='mip' projects over "
            "the whole of each spatial dim; use mode='slice', or give index= only for "
            "non-spatial dims"
        )
    vol = _select_extra(obj, roles, index)
    axes = _axes(vol, roles)
    positions: dict[str, float] = {}
    arrays: dict[str, xr.DataArray] = {}
    titles: dict[str, str] = {}
    for panel, (row, col, along) in _PANEL_AXES.items():
        dim = roles[along]
        if mode == "mip":
            view = vol.max([dim])
            titles[panel] = f"max over {dim}"
        else:
            k = _slice_index(axes[along], index.get(dim), None if at is None else at.get(along))
            view = vol.isel({dim: k})
            positions[along] = float(axes[along].coords[k])
            titles[panel] = axes[along].describe(positions[along])
        arrays[panel] = view.transpose(roles[row], roles[col])
    images = dict(zip(arrays, _compute(list(arrays.values()))))
    return _Views(axes, images, titles, positions)


def _slice_index(axis: _Axis, index: Any, at: tuple[float, str | None] | None) -> int:
    n = axis.coords.size
    if index is not None:
        return _position(axis.dim, index, n)
    if at is None:
        return n // 2
    value, unit = at
    if unit is not None and axis.unit is not None and unit != axis.unit:
        value = convert(value, unit, axis.unit)
    return int(np.argmin(np.abs(axis.coords - value)))


def _color_limits(
    images: Sequence[np.ndarray], robust: bool, vmin: float | None, vmax: float | None
) -> tuple[float, float]:
    lo: float
    hi: float
    if vmin is not None and vmax is not None:
        lo, hi = float(vmin), float(vmax)
    else:
        values = np.concatenate([np.asarray(im, dtype=np.float64).ravel() for im in images])
        values = values[np.isfinite(values)]
        if values.size == 0:
            lo, hi = 0.0, 1.0
        elif robust:
            lo, hi = (float(v) for v in np.percentile(values, [2.0, 98.0]))
        else:
            lo, hi = float(values.min()), float(values.max())
        lo = lo if vmin is None else float(vmin)
        hi = hi if vmax is None else float(vmax)
    if not lo <= hi:
        raise OptionError(
            f"the color limits would be vmin={lo!r} > vmax={hi!r}; pass vmin <= vmax "
            "(give both when setting one outside the data range)"
        )
    return lo, hi


def _block_size(views: _Views) -> tuple[float, float]:
    """Physical (width, height) of the panel block, without gaps."""
    x, y, z = (views.axes[r].length for r in ("x", "y", "z"))
    return x + z, y + z


def _parent_size(parent: Figure | SubFigure) -> tuple[float, float]:
    """Size of a Figure or SubFigure in inches."""
    dpi = parent.dpi
    return parent.bbox.width / dpi, parent.bbox.height / dpi


def _draw(
    parent: Figure | SubFigure,
    rect: tuple[float, float, float, float],
    views: _Views,
    scale: float | None,
    *,
    cmap: Any,
    vmin: float,
    vmax: float,
    title: str | None,
) -> list[Axes]:
    """Draw the three panels in ``rect`` (left, bottom, width, height; inches in
    ``parent``), centred, at ``scale`` inches per unit of length (default: fit)."""
    fig_w, fig_h = _parent_size(parent)
    left, bottom, width, height = rect
    phys_w, phys_h = _block_size(views)
    if scale is None:
        scale = min((width - _COL_GAP) / phys_w, (height - _ROW_GAP) / phys_h)
        if scale <= 0:
            raise OptionError(
                "the Axes given as ax= is too small to hold the three panels; pass a larger "
                "Axes or leave ax=None for a new figure"
            )
    block_w = scale * phys_w + _COL_GAP
    block_h = scale * phys_h + _ROW_GAP
    x0 = left + (width - block_w) / 2
    y0 = bottom + (height - block_h) / 2
    (xw, yh), (_, zh), (zw, _) = views.size("xy"), views.size("xz"), views.size("yz")

    def frac(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        return (x / fig_w, y / fig_h, w / fig_w, h / fig_h)

    top_row = y0 + scale * zh + _ROW_GAP
    boxes = {
        "xy": frac(x0, top_row, scale * xw, scale * yh),
        "xz": frac(x0, y0, scale * xw, scale * zh),
        "yz": frac(x0 + scale * xw + _COL_GAP, top_row, scale * zw, scale * yh),
    }
    xy = parent.add_axes(boxes["xy"], label="xy")
    panels = {
        "xy": xy,
        "xz": parent.add_axes(boxes["xz"], label="xz", sharex=xy),
        "yz": parent.add_axes(boxes["yz"], label="yz", sharey=xy),
    }
    # if matplotlib ever shrinks a box, keep the panels aligned and together
    anchors = {"xy": "SE", "xz": "NE", "yz": "SW"}
    for panel, ax in panels.items():
        ax.imshow(
            views.images[panel],
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            origin="upper",
            extent=views.extent(panel),
            aspect="equal",
        )
        ax.set_anchor(anchors[panel])
        ax.set_title(views.titles[panel], fontsize="small")
    a = views.axes
    panels["xy"].set_ylabel(a["y"].label)
    panels["xy"].tick_params(labelbottom=False)
    panels["xz"].set_xlabel(a["x"].label)
    panels["xz"].set_ylabel(a["z"].label)
    panels["yz"].set_xlabel(a["z"].label)
    panels["yz"].tick_params(labelleft=False)
    if title:
        parent.text(
            (x0 + block_w / 2) / fig_w,
            (y0 + block_h + _MARGIN_TOP) / fig_h,
            title,
            ha="center",
            va="bottom",
            fontsize="large",
        )
    return [panels[p] for p in PANELS]


def _new_figure_size(block: tuple[float, float], titled: bool) -> tuple[float, float]:
    width, height = block
    top = _MARGIN_TOP + (_TITLE_HEIGHT if titled else 0.0)
    return (
        _MARGIN_LEFT + width + _MARGIN_RIGHT,
        _MARGIN_BOTTOM + height + top,
    )


def _default_title(obj: Any, title: str | None) -> str | None:
    if title is not None:
        return title
    name = getattr(obj, "name", None)
    return None if name is None else str(name)


def orthoviews(
    obj: xr.DataArray,
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
    """Draw the XY, XZ and YZ views of a volume at its true physical aspect.

    XY (looking down z) is at the top left, XZ below it (sharing x), YZ to its
    right (sharing y). Image extents come from the coordinates, and all panels
    have ``aspect="equal"`` at one common scale, so lengths are true in every
    direction whatever the voxel size.

    Parameters
    ----------
    obj : DataArray
        A volume with three spatial dims (see :func:`xiso.spatial_dims`),
        numpy- or dask-backed. Which is z, y and x is read from the dim names
        (any case) or the CF ``axis`` attrs, else from their order in
        ``obj.dims``. Other dims (channel, time, ...) must be chosen with
        ``index`` unless they have length 1; nothing is averaged or picked
        silently.
    mode : {"slice", "mip"}, default "slice"
        ``"slice"`` draws the central slice along each dim (position
        ``n // 2``) or those chosen with ``index``; ``"mip"`` draws maximum
        intensity projections over each dim (NaN ignored).
    index : mapping of dim to int, optional
        Integer positions, as in ``obj.isel``: of the slices (spatial dims,
        ``mode="slice"`` only; negative counts from the end) and of the
        non-spatial dims to draw.
    ax : Axes, optional
        Draw into the area of this Axes: it is removed and the three panels
        are placed, centred, in its box. By default a new figure sized to
        the volume's physical extent, made with ``matplotlib.figure.Figure``
        rather than pyplot: in Jupyter it is shown once, as the cell's result,
        and no pyplot figure is left open (``plt.close`` is not needed).
    cmap : str or Colormap, default "gray"
        Colormap of all panels.
    title : str, optional
        Title above the panels; by default the array's name (``""`` for none).
    robust : bool, default True
        Color limits at the 2nd and 98th percentiles of the drawn views (all
        three together) rather than their minimum and maximum.
    vmin, vmax : float, optional
        Color limits; override ``robust``.

    Returns
    -------
    Figure
        The figure. The panel Axes are labelled ``"xy"``, ``"xz"`` and ``"yz"``
        (``ax.get_label()``) and added in that order; each panel title says
        which slice (in coordinate units) or projection it shows.

    Raises
    ------
    SpatialDimError
        ``obj`` does not have exactly three spatial dims, or ``index`` names an
        unknown dim.
    MissingCoordinateError, SpacingError, NonUniformSpacingError, UnitError
        A spatial dim has no coordinate, a single sample whose spacing was
        not recorded (one left by :func:`xiso.downsample` or read from
        OME-Zarr is), an uneven or non-finite coordinate, or units that are
        not lengths or not given on every dim.
    OptionError
        ``mode`` is unknown, an ``index`` position is out of range or not an
        integer, a non-spatial dim is not chosen, ``mode="mip"`` has a spatial
        ``index``, or ``vmin > vmax``.
    DtypeError
        The data is not real numbers (complex, strings, ...).
    ImportError
        matplotlib is not installed (``pip install matplotlib``).

    Notes
    -----
    With dask-backed input only the 2-D views are computed (together, in one
    ``dask.compute``): three planes in ``"slice"`` mode, one pass over the data
    in ``"mip"`` mode. Data units come from the coordinates: the extent of a
    panel along a dim with coordinate ``c`` and step ``s`` is
    ``c[0] - s/2`` to ``c[-1] + s/2``; as ``origin="upper"``,
    ``AxesImage.get_extent()`` is ``(left, right, bottom, top)`` =
    ``(col[0] - s/2, col[-1] + s/2, row[-1] + s/2, row[0] - s/2)``.
    Add a colorbar with ``fig.colorbar(fig.axes[0].images[0], ax=fig.axes)``;
    save with ``fig.savefig("views.png")``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import xiso.data, xiso.plot
    >>> vol = xiso.data.lightsheet(shape=(32, 16, 16), seed=0)  # z 0.25 µm, y x 1 µm
    >>> fig = xiso.plot.orthoviews(vol, mode="mip")
    >>> xy, xz, yz = fig.axes
    >>> xz.get_label(), xz.get_title()
    ('xz', 'max over y')
    >>> xz.images[0].get_extent()  # x from -0.5 to 15.5 µm; z from 7.875 (bottom) to -0.125 µm
    [-0.5, 15.5, 7.875, -0.125]
    """
    _require_matplotlib()
    views = _views(obj, mode, index)
    lo, hi = _color_limits(list(views.images.values()), robust, vmin, vmax)
    title = _default_title(obj, title)
    if ax is None:
        phys_w, phys_h = _block_size(views)
        scale = _PANEL_SIZE / max(phys_w, phys_h)
        block = (scale * phys_w + _COL_GAP, scale * phys_h + _ROW_GAP)
        fig = _new_figure(_new_figure_size(block, bool(title)))
        rect = (_MARGIN_LEFT, _MARGIN_BOTTOM, *block)
        _draw(fig, rect, views, scale, cmap=cmap, vmin=lo, vmax=hi, title=title)
        return fig
    parent = ax.figure
    if parent is None:
        raise OptionError("the Axes given as ax= does not belong to a figure")
    fig_w, fig_h = _parent_size(parent)
    pos = ax.get_position()
    rect = (pos.x0 * fig_w, pos.y0 * fig_h, pos.width * fig_w, pos.height * fig_h)
    ax.remove()
    _draw(parent, rect, views, None, cmap=cmap, vmin=lo, vmax=hi, title=title)
    return _root_figure(parent)


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A figure made by pyplot and closed at once.

    Jupyter displays the Figure a cell returns; an open pyplot figure would
    also be shown by the inline backend at the end of the cell, so it appeared
    twice. A figure made without pyplot shows no picture in a fresh kernel
    (IPython's inline backend registers its Figure formatter only when pyplot
    makes a figure). Made by pyplot and closed, it is shown once, where it is
    returned (or displayed), and ``fig.savefig`` works as usual.
    """
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    plt.close(fig)
    return fig


def _root_figure(parent: Figure | SubFigure) -> Figure:
    from matplotlib.figure import Figure

    current: Any = parent
    while not isinstance(current, Figure):
        current = current.figure
    return current


def compare(
    before: xr.DataArray,
    after: xr.DataArray,
    *,
    mode: Literal["slice", "mip"] = "slice",
    titles: Sequence[str] = ("before", "after"),
    index: Mapping[Hashable, int] | None = None,
    cmap: Any = "gray",
    robust: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
    title: str | None = None,
    zoom: float | None = None,
) -> Figure:
    """Draw the orthogonal views of two volumes side by side, at one scale.

    Typically a volume and its :func:`xiso.near_isotropic` version: both
    layouts use the same length scale (inches per unit) and the same color
    limits, so differences in shape or brightness are real.

    Parameters
    ----------
    before, after : DataArray
        Two volumes, as for :func:`orthoviews`.
    mode : {"slice", "mip"}, default "slice"
        As in :func:`orthoviews`. In ``"slice"`` mode the slices are chosen on
        ``before`` (central, or ``index``) and ``after`` shows its samples
        nearest in coordinate to the same positions, so both show the same
        physical planes even when their sizes differ.
    titles : pair of str, default ("before", "after")
        Titles of the two layouts.
    index : mapping of dim to int, optional
        Positions in ``before`` (spatial dims, ``"slice"`` mode) and of the
        non-spatial dims of both.
    cmap, robust, vmin, vmax
        As in :func:`orthoviews`; the color limits are computed from the views
        of both volumes together.
    title : str, optional
        Title of the whole figure.
    zoom : float, optional
        Also draw, below each layout, a square window of the XZ view this
        long (in the unit of the axis labels), enlarged and with nearest
        pixels: one rectangle per voxel, at true aspect, so that the voxel
        shape shows (flat along z before :func:`xiso.near_isotropic`, square
        after), which the layouts, drawn at true physical size, cannot show.
        The window is centred on the volumes, on voxel edges of the coarser
        one, and at most as large as its extent; both panels share color
        limits (computed from the two windows, as ``robust``, ``vmin`` and
        ``vmax`` say). A box on each XZ panel shows the window; the zoom
        panels' titles give the voxel size along z and x.

    Returns
    -------
    Figure
        A new figure; its Axes are the panels of ``before`` (labelled ``"xy"``,
        ``"xz"``, ``"yz"``), then those of ``after``; with ``zoom``, then the
        zoom panels of ``before`` and ``after`` (labelled ``"xz zoom"``).

    Raises
    ------
    OptionError
        ``titles`` is not two strings, ``zoom`` is not a positive length, or
        as in :func:`orthoviews`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import xiso.data, xiso.plot
    >>> vol = xiso.data.lightsheet(shape=(32, 16, 16), seed=0)
    >>> fig = xiso.plot.compare(vol, vol.iso.near_isotropic())
    >>> [ax.images[0].get_array().shape for ax in fig.axes]
    [(16, 16), (32, 16), (16, 32), (16, 16), (8, 16), (16, 8)]
    >>> fig = xiso.plot.compare(vol, vol.iso.near_isotropic(), mode="mip", zoom=4)
    >>> [ax.get_title() for ax in fig.axes if ax.get_label() == "xz zoom"]
    ['the box, enlarged: voxels z 0.25 µm, x 1 µm', 'the box, enlarged: voxels z 1 µm, x 1 µm']
    >>> [ax.images[0].get_array().shape for ax in fig.axes[6:]]  # 4 µm of z and x
    [(16, 4), (4, 4)]
    """
    _require_matplotlib()
    if isinstance(titles, str) or len(titles) != 2:
        raise OptionError(
            f"titles={titles!r}; pass two titles, one per volume, e.g. ('before', 'after')"
        )
    _check_zoom(zoom)
    first = _views(before, mode, index)
    spatial = {a.dim for a in first.axes.values()}
    extra_index = {k: v for k, v in (index or {}).items() if k not in spatial}
    at = {role: (value, first.axes[role].unit) for role, value in first.positions.items()}
    second = _views(after, mode, extra_index, at=at if mode == "slice" else None)
    lo, hi = _color_limits([*first.images.values(), *second.images.values()], robust, vmin, vmax)
    sizes = [_block_size(first), _block_size(second)]
    scale = _COMPARE_PANEL_SIZE / max(max(w, h) for w, h in sizes)
    blocks = [(scale * w + _COL_GAP, scale * h + _ROW_GAP) for w, h in sizes]
    titled = any(bool(t) for t in titles)
    top = _MARGIN_TOP + (_TITLE_HEIGHT if titled else 0.0) + (_TITLE_HEIGHT if title else 0.0)
    height = max(h for _, h in blocks)
    widths = [_MARGIN_LEFT + w + _MARGIN_RIGHT for w, _ in blocks]
    # the zoom panels, with their title and x label, go below the layouts
    below = 0.0 if zoom is None else _ZOOM_SIZE + _MARGIN_TOP + _MARGIN_BOTTOM
    fig = _new_figure((sum(widths) + _COMPARE_GAP, _MARGIN_BOTTOM + below + height + top))
    left = 0.0
    layouts = []
    for views, (w, _), side_title, total in zip(
        (first, second), blocks, titles, (widths[0] + _COMPARE_GAP, widths[1])
    ):
        rect = (left + _MARGIN_LEFT, _MARGIN_BOTTOM + below, w, height)
        panels = _draw(
            fig, rect, views, scale, cmap=cmap, vmin=lo, vmax=hi, title=side_title or None
        )
        layouts.append((left + _MARGIN_LEFT, w, panels[PANELS.index("xz")]))
        left += total
    if zoom is not None:
        _draw_zoom(fig, layouts, (first, second), float(zoom), cmap, robust, vmin, vmax)
    if title:
        fig.suptitle(title)
    return fig


def _check_zoom(zoom: Any) -> None:
    if zoom is None:
        return
    try:
        if isinstance(zoom, bool):
            raise TypeError
        side = float(zoom)
    except (TypeError, ValueError):
        side = float("nan")
    if not (np.isfinite(side) and side > 0):
        raise OptionError(
            f"zoom={zoom!r}; pass the side of the zoom window as a positive number in the "
            "unit of the axis labels (e.g. zoom=16 for 16 µm), or leave it None"
        )


def _zoom_range(axes: Sequence[_Axis], side: float) -> tuple[float, float]:
    """The range of the zoom window along one role: about ``side`` long, centred
    on the first volume, on the voxel edges of the coarser one, inside its extent."""
    coarse = max(axes, key=lambda a: abs(a.step))
    step = abs(coarse.step)
    start = min(coarse.edges)
    count = coarse.coords.size
    n = max(1, min(count, round(side / step)))
    centre = sum(axes[0].edges) / 2
    first = min(max(round((centre - start) / step - n / 2), 0), count - n)
    return start + first * step, start + (first + n) * step


def _zoom_crop(
    views: _Views, window: Mapping[str, tuple[float, float]]
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The part of the XZ view whose voxels meet the window, and its extent."""
    keep = {}
    for role, (lo, hi) in window.items():
        axis = views.axes[role]
        half = abs(axis.step) / 2
        tolerance = 1e-9 * abs(axis.step)
        inside = (axis.coords + half > lo + tolerance) & (axis.coords - half < hi - tolerance)
        keep[role] = np.flatnonzero(inside)
    z, x = views.axes["z"], views.axes["x"]
    image = views.images["xz"][np.ix_(keep["z"], keep["x"])]
    zc, xc = z.coords[keep["z"]], x.coords[keep["x"]]
    extent = (
        float(xc[0] - x.step / 2),
        float(xc[-1] + x.step / 2),
        float(zc[-1] + z.step / 2),
        float(zc[0] - z.step / 2),
    )
    return image, extent


def _draw_zoom(
    fig: Figure,
    layouts: Sequence[tuple[float, float, Axes]],
    views: Sequence[_Views],
    side: float,
    cmap: Any,
    robust: bool,
    vmin: float | None,
    vmax: float | None,
) -> None:
    """One zoom panel below each layout (see ``zoom`` in :func:`compare`); a box
    on each XZ panel shows where the window is."""
    from matplotlib.patches import Rectangle

    window = {role: _zoom_range([v.axes[role] for v in views], side) for role in ("z", "x")}
    crops = [_zoom_crop(v, window) for v in views]
    lo, hi = _color_limits([image for image, _ in crops], robust, vmin, vmax)
    (z0, z1), (x0, x1) = window["z"], window["x"]
    scale = _ZOOM_SIZE / max(z1 - z0, x1 - x0)
    fig_w, fig_h = _parent_size(fig)
    for (left, width, xz), view, (image, extent) in zip(layouts, views, crops):
        xz.add_patch(
            Rectangle((x0, z0), x1 - x0, z1 - z0, fill=False, edgecolor=_ZOOM_COLOR, lw=1.5)
        )
        w, h = scale * (x1 - x0), scale * (z1 - z0)
        box = ((left + (width - w) / 2) / fig_w, _MARGIN_BOTTOM / fig_h, w / fig_w, h / fig_h)
        ax = fig.add_axes(box, label="xz zoom")
        ax.imshow(
            image,
            cmap=cmap,
            vmin=lo,
            vmax=hi,
            origin="upper",
            extent=extent,
            aspect="equal",
            interpolation="nearest",
        )
        z, x = view.axes["z"], view.axes["x"]
        # the window in the orientation of the extent (origin="upper": z[0] at the top)
        ax.set_xlim((x0, x1) if x.step > 0 else (x1, x0))
        ax.set_ylim((z1, z0) if z.step > 0 else (z0, z1))
        unit = f" {x.symbol}" if x.unit else ""
        ax.set_title(
            f"the box, enlarged: voxels {z.dim} {abs(z.step):.4g}{unit}, "
            f"{x.dim} {abs(x.step):.4g}{unit}",
            fontsize="small",
        )
        ax.set_xlabel(x.label)
        ax.set_ylabel(z.label)
        for spine in ax.spines.values():
            spine.set_edgecolor(_ZOOM_COLOR)
            spine.set_linewidth(1.5)
