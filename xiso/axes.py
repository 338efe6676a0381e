"""Axis roles: which dimensions are space, time or channel, decided in one table.

A dimension's role is read from three sources, in the manner of cf-xarray's
``criteria.py``:

- its **name** (any case): ``x``, ``y``, ``z`` are space; ``t``, ``time`` are
  time; ``c``, ``ch``, ``channel``, ``channels`` are channel;
- the CF ``axis`` attr of its coordinate: ``X``, ``Y``, ``Z`` are space, ``T``
  is time;
- the NGFF ``type`` attr of its coordinate (``"space"``, ``"time"``,
  ``"channel"``, or any other type NGFF allows).

:data:`CRITERIA` holds the names and CF axes per role; :func:`has_role` says
whether any source gives a dim a role (what :func:`xiso.spatial_dims` asks),
:func:`axis_role` gives the one role of a dim (what the OME-Zarr writer asks:
an explicit NGFF ``type`` wins, then space, time and channel in that order).
:func:`spatial_letter` tells z, y and x apart (for orthogonal views and for
readers that name their axes by letter).

Examples
--------
>>> import numpy as np, xarray as xr
>>> from xiso.axes import axis_role, has_role
>>> da = xr.DataArray(np.zeros((2, 3, 4)), dims=("time", "depth", "c"),
...                   coords={"depth": ("depth", [0.0, 1.0, 2.0], {"axis": "Z"})})
>>> [axis_role(d, da.coords[d].attrs if d in da.coords else {}) for d in da.dims]
['time', 'space', 'channel']
>>> has_role("depth", {"axis": "Z"}, "space"), has_role("t", {}, "space")
(True, False)
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["CRITERIA", "ROLES", "Criteria", "axis_role", "has_role", "spatial_letter"]


@dataclass(frozen=True)
class Criteria:
    """What makes a dim have one role.

    Attributes
    ----------
    role : str
        The role, which is also its NGFF axis ``type``.
    names : frozenset of str
        Dimension names (compared in lower case).
    cf_axes : frozenset of str
        Values of the CF ``axis`` attr (compared in upper case).
    """

    role: str
    names: frozenset[str]
    cf_axes: frozenset[str]


CRITERIA: dict[str, Criteria] = {
    "space": Criteria("space", frozenset({"x", "y", "z"}), frozenset({"X", "Y", "Z"})),
    "time": Criteria("time", frozenset({"t", "time"}), frozenset({"T"})),
    "channel": Criteria("channel", frozenset({"c", "ch", "channel", "channels"}), frozenset()),
}
"""The axis criteria, one entry per role, in the order roles are tried."""

ROLES = tuple(CRITERIA)
"""The roles xiso knows: ``("space", "time", "channel")``."""


def _by_name_or_axis(dim: Hashable, attrs: Mapping[Any, Any], criteria: Criteria) -> bool:
    if isinstance(dim, str) and dim.lower() in criteria.names:
        return True
    axis = attrs.get("axis")
    return axis is not None and str(axis).upper() in criteria.cf_axes


def has_role(dim: Hashable, attrs: Mapping[Any, Any], role: str) -> bool:
    """Whether the name of ``dim``, the CF ``axis`` or the NGFF ``type`` in
    its coordinate ``attrs`` give it ``role``.

    Raises
    ------
    KeyError
        ``role`` is not one of :data:`ROLES`.
    """
    return _by_name_or_axis(dim, attrs, CRITERIA[role]) or attrs.get("type") == role


def axis_role(dim: Hashable, attrs: Mapping[Any, Any]) -> str | None:
    """The role of ``dim`` (its NGFF axis type): the NGFF ``type`` in its
    coordinate ``attrs`` when there is one (any string), else the first role of
    :data:`CRITERIA` that its name or CF ``axis`` gives, else None."""
    kind = attrs.get("type")
    if isinstance(kind, str):
        return kind
    for criteria in CRITERIA.values():
        if _by_name_or_axis(dim, attrs, criteria):
            return criteria.role
    return None


def spatial_letter(dim: Hashable, attrs: Mapping[Any, Any]) -> str | None:
    """``"z"``, ``"y"`` or ``"x"`` from the name of ``dim`` (any case) or its
    CF ``axis``; None when neither says.

    Examples
    --------
    >>> from xiso.axes import spatial_letter
    >>> spatial_letter("Z", {}), spatial_letter("depth", {"axis": "z"}), spatial_letter("c", {})
    ('z', 'z', None)
    """
    letters = CRITERIA["space"].names
    if isinstance(dim, str) and dim.lower() in letters:
        return dim.lower()
    axis = attrs.get("axis")
    if isinstance(axis, str) and axis.lower() in letters:
        return axis.lower()
    return None
