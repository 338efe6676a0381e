"""The table of axis criteria (xiso.axes) and the modules that decide roles with it."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import xiso
from xiso.axes import CRITERIA, ROLES, axis_role, has_role, spatial_letter
from xiso.io import ngff


@pytest.mark.parametrize(
    ("dim", "attrs", "role"),
    [
        ("x", {}, "space"),
        ("Z", {}, "space"),
        ("depth", {"axis": "Z"}, "space"),
        ("depth", {"axis": "y"}, "space"),
        ("d", {"type": "space"}, "space"),
        ("t", {}, "time"),
        ("Time", {}, "time"),
        ("when", {"axis": "T"}, "time"),
        ("c", {}, "channel"),
        ("Channels", {}, "channel"),
        ("ch", {}, "channel"),
        ("wavelength", {}, None),
        ("x", {"type": "channel"}, "channel"),  # an explicit NGFF type wins
        ("c", {"type": "angle"}, "angle"),  # any NGFF type
        (3, {}, None),  # dims are hashables, not only strings
    ],
)
def test_axis_role(dim, attrs, role):
    assert axis_role(dim, attrs) == role


def test_has_role_is_any_criterion():
    """spatial_dims takes a dim as spatial when its name, CF axis or NGFF type says so
    (so a dim named 'x' with another NGFF type is still spatial, as before)."""
    assert has_role("x", {"type": "channel"}, "space")
    assert has_role("q", {"type": "space"}, "space")
    assert not has_role("q", {"axis": "T"}, "space")
    assert has_role("q", {"axis": "T"}, "time")
    with pytest.raises(KeyError):
        has_role("q", {}, "colour")


def test_roles_and_letters():
    assert ROLES == ("space", "time", "channel")
    assert set(CRITERIA["space"].names) == {"x", "y", "z"}
    assert [spatial_letter(d, {}) for d in ("Z", "y", "x", "t")] == ["z", "y", "x", None]
    assert spatial_letter("row", {"axis": "Y"}) == "y"


def test_spatial_dims_and_ngff_types_agree_with_the_table():
    da = xr.DataArray(
        np.zeros((2, 3, 4, 5, 6)),
        dims=("when", "c", "depth", "y", "col"),
        coords={
            "when": ("when", np.arange(2.0), {"axis": "T"}),
            "depth": ("depth", np.arange(4.0), {"axis": "Z"}),
            "col": ("col", np.arange(6.0), {"type": "space"}),
        },
    )
    assert xiso.spatial_dims(da) == ("depth", "y", "col")
    assert ngff.axis_types(da) == ["time", "channel", "space", "space", "space"]
