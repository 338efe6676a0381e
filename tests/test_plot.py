"""Tests of xiso.plot: drawn extents and aspect ratios checked against the
coordinates, values against numpy, dask laziness, and the error paths."""

import re
import sys

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xiso
import xiso.data
from xiso import plot

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
mimage = pytest.importorskip("matplotlib.image")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def vol():
    """Anisotropic demo volume: 64 x 32 x 32 samples, z 0.25 µm, y x 1 µm,
    so 16 x 32 x 32 µm."""
    return xiso.data.lightsheet(shape=(64, 32, 32), seed=0)


# --- independent references -------------------------------------------------

# panel -> (row dim, column dim, dim it looks along)
PANEL_DIMS = {"xy": ("y", "x", "z"), "xz": ("z", "x", "y"), "yz": ("y", "z", "x")}


def step(da, dim):
    return float(np.mean(np.diff(da[dim].values.astype(float))))


def edges(da, dim):
    c = da[dim].values.astype(float)
    s = step(da, dim)
    return c[0] - s / 2, c[-1] + s / 2


def length(da, dim):
    return da.sizes[dim] * abs(step(da, dim))


def expected_extent(da, panel):
    row, col, _ = PANEL_DIMS[panel]
    left, right = edges(da, col)
    top, bottom = edges(da, row)  # first row at the top (origin="upper")
    return (left, right, bottom, top)


def panels(fig, start=0):
    """The three panel Axes of the layout starting at fig.axes[start]."""
    axes = fig.axes[start : start + 3]
    assert [ax.get_label() for ax in axes] == ["xy", "xz", "yz"]
    return dict(zip(["xy", "xz", "yz"], axes))


def box(fig, ax):
    fig.canvas.draw()
    return ax.get_window_extent()


def check_geometry(fig, axes, da):
    """Extents equal the coordinate ranges, data aspect is equal, and the
    drawn boxes have the physical width/height ratio; returns pixels per unit."""
    scales = []
    for panel, ax in axes.items():
        row, col, _ = PANEL_DIMS[panel]
        np.testing.assert_allclose(ax.images[0].get_extent(), expected_extent(da, panel))
        assert ax.get_aspect() in ("equal", 1.0)
        bb = box(fig, ax)
        phys_w, phys_h = length(da, col), length(da, row)
        assert bb.width / bb.height == pytest.approx(phys_w / phys_h, rel=0.02)
        scales += [bb.width / phys_w, bb.height / phys_h]
    # one scale (pixels per unit of length) for every panel and direction
    assert max(scales) == pytest.approx(min(scales), rel=0.02)
    return float(np.mean(scales))


def image(ax):
    return np.asarray(ax.images[0].get_array())


# --- rendering and geometry --------------------------------------------------


@pytest.mark.parametrize("mode", ["slice", "mip"])
def test_png_is_written(vol, mode, tmp_path):
    fig = plot.orthoviews(vol, mode=mode)
    path = tmp_path / f"{mode}.png"
    fig.savefig(path, dpi=50)
    assert path.is_file()
    pixels = mimage.imread(path)
    w, h = fig.get_size_inches() * 50
    assert pixels.shape == (round(h), round(w), 4)
    assert pixels[..., :3].std() > 0  # something was drawn


@pytest.mark.parametrize("mode", ["slice", "mip"])
def test_extents_and_aspect_follow_coordinates(vol, mode):
    fig = plot.orthoviews(vol, mode=mode)
    axes = panels(fig)
    check_geometry(fig, axes, vol)
    # the concrete numbers: x, y from -0.5 to 31.5 µm, z from -0.125 to 15.875 µm
    assert axes["xz"].images[0].get_extent() == pytest.approx([-0.5, 31.5, 15.875, -0.125])
    assert axes["yz"].images[0].get_extent() == pytest.approx([-0.125, 15.875, 31.5, -0.5])


def test_anisotropic_aspect_true_before_and_after_near_isotropic(vol):
    iso = vol.iso.near_isotropic()
    assert iso.sizes["z"] == 16 and step(iso, "z") == pytest.approx(1.0)
    boxes = {}
    for name, da in (("before", vol), ("after", iso)):
        fig = plot.orthoviews(da)
        axes = panels(fig)
        check_geometry(fig, axes, da)
        xz = box(fig, axes["xz"])
        # 16 µm of z over 32 µm of x, whether drawn from 64 or 16 rows
        assert xz.height / xz.width == pytest.approx(16 / 32, rel=0.02)
        yz = box(fig, axes["yz"])
        assert yz.width / yz.height == pytest.approx(16 / 32, rel=0.02)
        boxes[name] = (xz.width, xz.height)
    assert image(panels(plot.orthoviews(vol))["xz"]).shape == (64, 32)
    assert image(panels(plot.orthoviews(iso))["xz"]).shape == (16, 32)
    # the same physical volume gives the same figure layout
    np.testing.assert_allclose(boxes["before"], boxes["after"], rtol=0.02)


def test_labels_show_units(vol):
    axes = panels(plot.orthoviews(vol))
    assert axes["xy"].get_ylabel() == "y [µm]"
    assert axes["xz"].get_xlabel() == "x [µm]"
    assert axes["xz"].get_ylabel() == "z [µm]"
    assert axes["yz"].get_xlabel() == "z [µm]"
    assert axes["xy"].get_title() == "z = 8 µm"  # central slice 32 of 64, at 32 * 0.25


def test_labels_without_units():
    da = xr.DataArray(
        np.zeros((4, 3, 2)),
        dims=("z", "y", "x"),
        coords={"z": np.arange(4) * 0.5, "y": np.arange(3.0), "x": np.arange(2.0)},
    )
    axes = panels(plot.orthoviews(da))
    assert axes["xz"].get_xlabel() == "x"
    assert axes["xz"].get_ylabel() == "z"
    assert axes["xy"].get_title() == "z = 1"


def test_mixed_units_are_converted():
    """z in nm, y and x in µm: drawn in µm, so the aspect stays true."""
    da = xiso.data.lightsheet(shape=(16, 8, 8), seed=0)
    da = da.assign_coords(z=("z", da.z.values * 1000, {"units": "nm"}))
    fig = plot.orthoviews(da)
    axes = panels(fig)
    assert axes["xz"].get_ylabel() == "z [µm]"
    assert axes["xz"].images[0].get_extent() == pytest.approx([-0.5, 7.5, 3.875, -0.125])
    xz = box(fig, axes["xz"])
    assert xz.height / xz.width == pytest.approx(4 / 8, rel=0.02)


def test_descending_coordinate():
    da = xiso.data.lightsheet(shape=(8, 6, 4), seed=0)
    da = da.isel(y=slice(None, None, -1))  # y from 5 down to 0
    fig = plot.orthoviews(da)
    axes = panels(fig)
    check_geometry(fig, axes, da)
    assert axes["xy"].images[0].get_extent() == pytest.approx([-0.5, 3.5, -0.5, 5.5])


def test_into_given_axes(vol):
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 5))
    area = left.get_position()
    out = plot.orthoviews(vol, ax=left, title="")
    assert out is fig
    assert left not in fig.axes and right in fig.axes
    axes = panels(fig, start=1)
    check_geometry(fig, axes, vol)
    for ax in axes.values():  # the panels fill the area of the Axes they replace
        pos = ax.get_position()
        assert area.x0 - 1e-9 <= pos.x0 and pos.x1 <= area.x1 + 1e-9
        assert area.y0 - 1e-9 <= pos.y0 and pos.y1 <= area.y1 + 1e-9


def test_titles(vol):
    fig = plot.orthoviews(vol)
    assert [t.get_text() for t in fig.texts] == ["lightsheet"]  # the name by default
    fig = plot.orthoviews(vol, title="")
    assert fig.texts == []
    fig = plot.orthoviews(vol, mode="mip", title="MIP")
    assert [t.get_text() for t in fig.texts] == ["MIP"]
    assert [ax.get_title() for ax in fig.axes] == ["max over z", "max over y", "max over x"]


# --- values ------------------------------------------------------------------


def test_slice_values(vol):
    v = vol.values
    axes = panels(plot.orthoviews(vol))
    np.testing.assert_array_equal(image(axes["xy"]), v[32, :, :])
    np.testing.assert_array_equal(image(axes["xz"]), v[:, 16, :])
    np.testing.assert_array_equal(image(axes["yz"]), v[:, :, 16].T)


def test_slice_index(vol):
    v = vol.values
    axes = panels(plot.orthoviews(vol, index={"z": 3, "y": -1, "x": np.int64(0)}))
    np.testing.assert_array_equal(image(axes["xy"]), v[3, :, :])
    np.testing.assert_array_equal(image(axes["xz"]), v[:, 31, :])
    np.testing.assert_array_equal(image(axes["yz"]), v[:, :, 0].T)
    assert axes["xy"].get_title() == "z = 0.75 µm"
    assert axes["xz"].get_title() == "y = 31 µm"


def test_mip_values(vol):
    v = vol.values
    axes = panels(plot.orthoviews(vol, mode="mip"))
    np.testing.assert_array_equal(image(axes["xy"]), v.max(axis=0))
    np.testing.assert_array_equal(image(axes["xz"]), v.max(axis=1))
    np.testing.assert_array_equal(image(axes["yz"]), v.max(axis=2).T)


def test_mip_ignores_nan():
    v = np.arange(24, dtype=float).reshape(2, 3, 4)
    v[1, 0, 0] = np.nan
    da = xiso.data.lightsheet(shape=(2, 3, 4)).copy(data=v)
    axes = panels(plot.orthoviews(da, mode="mip"))
    np.testing.assert_array_equal(image(axes["xy"]), np.nanmax(v, axis=0))


def test_dims_found_by_name_in_any_order(vol):
    v = vol.values
    axes = panels(plot.orthoviews(vol.transpose("x", "z", "y"), mode="mip"))
    np.testing.assert_array_equal(image(axes["xy"]), v.max(axis=0))
    np.testing.assert_array_equal(image(axes["xz"]), v.max(axis=1))
    np.testing.assert_array_equal(image(axes["yz"]), v.max(axis=2).T)


def test_bool_volume():
    da = xiso.data.lightsheet_labels(shape=(8, 8, 8), seed=0) > 0
    axes = panels(plot.orthoviews(da, mode="mip"))
    np.testing.assert_array_equal(image(axes["xy"]), da.values.max(axis=0))


# --- color limits --------------------------------------------------------------


def test_robust_color_limits(vol):
    v = vol.values.astype(float)
    views = [v[32], v[:, 16], v[:, :, 16]]
    values = np.concatenate([w.ravel() for w in views])
    fig = plot.orthoviews(vol)
    lo, hi = np.percentile(values, [2, 98])
    for ax in fig.axes:
        assert ax.images[0].get_clim() == pytest.approx((lo, hi))
    fig = plot.orthoviews(vol, robust=False)
    assert fig.axes[0].images[0].get_clim() == (values.min(), values.max())
    fig = plot.orthoviews(vol, vmin=100, vmax=200)
    assert fig.axes[2].images[0].get_clim() == (100, 200)
    fig = plot.orthoviews(vol, vmax=5000)
    assert fig.axes[1].images[0].get_clim() == pytest.approx((lo, 5000))


# --- extra dims ----------------------------------------------------------------


def test_extra_dims_chosen_with_index(vol):
    stack = xr.concat([vol, vol + 1, vol + 2], dim="t").expand_dims(c=1)
    assert stack.dims == ("c", "t", "z", "y", "x")
    with pytest.raises(xiso.OptionError, match=r"dimension 't' has 3 samples .* index=\{'t': k\}"):
        plot.orthoviews(stack)
    axes = panels(plot.orthoviews(stack, mode="mip", index={"t": 2}))  # 'c' has length 1
    np.testing.assert_array_equal(image(axes["xy"]), vol.values.max(axis=0) + 2)
    axes = panels(plot.orthoviews(stack, index={"t": -2, "z": 0}))
    np.testing.assert_array_equal(image(axes["xy"]), vol.values[0] + 1)


# --- dask ----------------------------------------------------------------------


class RecordingArray:
    """A numpy-like array that counts the elements read from it."""

    def __init__(self, values):
        self.values = values
        self.shape, self.dtype, self.ndim = values.shape, values.dtype, values.ndim
        self.read = 0

    def __getitem__(self, key):
        out = self.values[key]
        self.read += out.size
        return out


@pytest.mark.parametrize("mode", ["slice", "mip"])
def test_dask_input_reads_only_what_it_draws(vol, mode):
    source = RecordingArray(vol.values)
    lazy = vol.copy(data=dsa.from_array(source, chunks=(16, 8, 8)))
    fig = plot.orthoviews(lazy, mode=mode)
    reference = plot.orthoviews(vol, mode=mode)
    for ax, ref in zip(fig.axes, reference.axes):
        np.testing.assert_array_equal(image(ax), image(ref))
    check_geometry(fig, panels(fig), vol)
    if mode == "slice":  # three planes, not the volume
        assert 0 < source.read < vol.size // 3
    else:  # the three projections share one pass over the data
        assert source.read == vol.size


# --- compare -------------------------------------------------------------------


def test_compare(vol, tmp_path):
    iso = vol.iso.near_isotropic()
    fig = plot.compare(vol, iso, title="near_isotropic")
    assert len(fig.axes) == 6
    before, after = panels(fig, 0), panels(fig, 3)
    assert [t.get_text() for t in fig.texts] == ["before", "after", "near_isotropic"]
    scale_before = check_geometry(fig, before, vol)
    scale_after = check_geometry(fig, after, iso)
    assert scale_before == pytest.approx(scale_after, rel=0.02)  # one scale for both
    # the two layouts are side by side, not overlapping
    assert box(fig, before["yz"]).x1 < box(fig, after["xy"]).x0
    clims = {ax.images[0].get_clim() for ax in fig.axes}
    assert len(clims) == 1  # same color limits
    views = [image(ax).astype(float).ravel() for ax in fig.axes]
    assert clims.pop() == pytest.approx(tuple(np.percentile(np.concatenate(views), [2, 98])))
    # 'after' shows the planes nearest to those of 'before'
    assert before["xy"].get_title() == "z = 8 µm"
    assert after["xy"].get_title() == "z = 8.375 µm"  # block 8: mean of z 8, 8.25, 8.5, 8.75
    np.testing.assert_array_equal(image(after["xy"]), iso.values[8])
    fig.savefig(tmp_path / "compare.png", dpi=40)
    assert mimage.imread(tmp_path / "compare.png").ndim == 3


def test_compare_mip_and_index(vol):
    iso = vol.iso.near_isotropic()
    fig = plot.compare(vol, iso, mode="mip", titles=("a", "b"))
    np.testing.assert_array_equal(image(fig.axes[4]), iso.values.max(axis=1))
    fig = plot.compare(vol, iso, index={"z": 5})  # z = 1.25 µm; nearest in iso: 1.375
    np.testing.assert_array_equal(image(fig.axes[0]), vol.values[5])
    np.testing.assert_array_equal(image(fig.axes[3]), iso.values[1])


def _voxels_in(axis_limits, centres, step):
    """Positions of the samples whose voxel lies inside the axis limits."""
    lo, hi = sorted(axis_limits)
    return np.flatnonzero((centres - step / 2 >= lo - 1e-9) & (centres + step / 2 <= hi + 1e-9))


@pytest.mark.parametrize("mode", ["slice", "mip"])
def test_compare_zoom_shows_the_voxels(vol, mode):
    """zoom= adds one x-z panel per volume below the layouts: the same window in
    both, on the coarse voxel edges, drawn with nearest pixels at true aspect, so
    a pixel of the picture is one voxel (0.25 x 1 um before, 1 x 1 um after)."""
    iso = vol.iso.near_isotropic()
    fig = plot.compare(vol, iso, mode=mode, zoom=6)
    assert len(fig.axes) == 8
    assert [ax.get_label() for ax in fig.axes[6:]] == ["xz zoom", "xz zoom"]
    zoom_before, zoom_after = fig.axes[6:]
    assert zoom_before.get_title() == "the box, enlarged: voxels z 0.25 µm, x 1 µm"
    assert zoom_after.get_title() == "the box, enlarged: voxels z 1 µm, x 1 µm"
    # one window: 6 um of x and z on the edges of the 1 um voxels of `after`,
    # centred on the volume (x 0..32 um, z 0..16 um) within a voxel
    (x0, x1), (z1, z0) = zoom_after.get_xlim(), zoom_after.get_ylim()
    assert zoom_before.get_xlim() == (x0, x1) and zoom_before.get_ylim() == (z1, z0)
    assert (x1 - x0, z1 - z0) == pytest.approx((6.0, 6.0))
    iso_z_edges = float(iso.z[0]) - 0.5 + np.arange(iso.sizes["z"] + 1)
    assert np.isclose(iso_z_edges, z0).any() and np.isclose(iso_z_edges, z1).any()
    assert abs((x0 + x1) / 2 - 15.5) <= 0.5 and abs((z0 + z1) / 2 - 7.875) <= 0.5
    for ax, da in ((zoom_before, vol), (zoom_after, iso)):
        shown = ax.images[0]
        assert shown.get_interpolation() == "nearest" and ax.get_aspect() in ("equal", 1.0)
        # the voxels inside the window, from the data (independently of xiso)
        dz = float(da.z[1] - da.z[0])
        rows = _voxels_in((z0, z1), da.z.values, dz)
        cols = _voxels_in((x0, x1), da.x.values, 1.0)
        view = da.values.max(axis=1) if mode == "mip" else da.values[:, da.sizes["y"] // 2, :]
        np.testing.assert_array_equal(image(ax), view[np.ix_(rows, cols)])
        # a pixel of the image is a voxel: width / columns = dx, height / rows = dz
        left, right, bottom, top = shown.get_extent()
        nrows, ncols = image(ax).shape
        assert ((right - left) / ncols, (bottom - top) / nrows) == pytest.approx((1.0, dz))
    assert image(zoom_before).shape == (24, 6) and image(zoom_after).shape == (6, 6)
    # the zoom panels are below the layouts, side by side, in the window's colour
    assert box(fig, zoom_before).y1 < box(fig, fig.axes[1]).y0
    assert box(fig, zoom_before).x1 < box(fig, zoom_after).x0
    # and a box on each XZ panel shows the window
    for xz in (fig.axes[1], fig.axes[4]):
        (patch,) = xz.patches
        assert (patch.get_x(), patch.get_y()) == pytest.approx((x0, z0))
        assert (patch.get_width(), patch.get_height()) == pytest.approx((6.0, 6.0))


def test_compare_zoom_larger_than_the_volume_shows_all_of_it():
    before = xiso.data.lightsheet(shape=(8, 4, 6), seed=0)
    after = before.iso.near_isotropic()
    fig = plot.compare(before, after, zoom=100)
    zoom_before, zoom_after = fig.axes[6:]
    assert image(zoom_after).shape == (2, 6) and image(zoom_before).shape == (8, 6)
    assert zoom_after.get_xlim() == pytest.approx((-0.5, 5.5))
    assert sorted(zoom_after.get_ylim()) == pytest.approx([-0.125, 1.875])


def test_compare_without_zoom_has_no_zoom_panels(vol):
    fig = plot.compare(vol, vol.iso.near_isotropic())
    assert [ax.get_label() for ax in fig.axes] == ["xy", "xz", "yz"] * 2
    assert not any(ax.patches for ax in fig.axes)


@pytest.mark.parametrize("zoom", [0, -2.0, float("nan"), float("inf"), True, "big"])
def test_compare_zoom_must_be_a_positive_length(vol, zoom):
    with pytest.raises(xiso.OptionError, match=rf"zoom={zoom!r}; pass the side of the zoom"):
        plot.compare(vol, vol, zoom=zoom)


# --- errors ----------------------------------------------------------------------


def test_error_mode(vol):
    with pytest.raises(xiso.OptionError, match=r"mode='max' is not supported; use 'slice'"):
        plot.orthoviews(vol, mode="max")
    with pytest.raises(xiso.OptionError, match=r"mode='max'"):
        plot.compare(vol, vol, mode="max")


def test_error_not_three_spatial_dims(vol):
    with pytest.raises(xiso.SpatialDimError, match=r"exactly three spatial dims .*\('y', 'x'\)"):
        plot.orthoviews(vol.isel(z=0))


def test_error_missing_coordinate(vol):
    with pytest.raises(xiso.MissingCoordinateError, match=r"dimension 'z' has no coordinate"):
        plot.orthoviews(vol.drop_vars("z"))


def test_error_spacing(vol):
    with pytest.raises(xiso.SpacingError, match=r"dimension 'z' has 1 sample"):
        plot.orthoviews(vol.isel(z=[3]))
    uneven = vol.assign_coords(x=("x", np.arange(32) ** 1.5, {"units": "um"}))
    with pytest.raises(xiso.NonUniformSpacingError, match=r"dimension 'x' is not evenly spaced"):
        plot.orthoviews(uneven)


def test_error_units(vol):
    no_unit = vol.assign_coords(z=("z", vol.z.values))
    with pytest.raises(xiso.UnitError, match=r"\['z'\] have none"):
        plot.orthoviews(no_unit)


def test_error_index(vol):
    with pytest.raises(xiso.OptionError, match=r"index of 'z' is 64, outside its 64 samples"):
        plot.orthoviews(vol, index={"z": 64})
    with pytest.raises(xiso.OptionError, match=r"index of 'y' is 1.5; pass an integer"):
        plot.orthoviews(vol, index={"y": 1.5})
    with pytest.raises(xiso.OptionError, match=r"index of 'y' is True"):
        plot.orthoviews(vol, index={"y": True})
    with pytest.raises(xiso.SpatialDimError, match=r"index names 'w', which is not a dimension"):
        plot.orthoviews(vol, index={"w": 0})
    with pytest.raises(xiso.OptionError, match=r"position for 'z', but mode='mip'"):
        plot.orthoviews(vol, mode="mip", index={"z": 0})


def test_error_color_limits(vol):
    with pytest.raises(xiso.OptionError, match=r"vmin=10.0 > vmax=5.0"):
        plot.orthoviews(vol, vmin=10, vmax=5)


def test_error_input_types(vol):
    with pytest.raises(TypeError, match=r"pick one variable, e.g. ds\['lightsheet'\]"):
        plot.orthoviews(vol.to_dataset())
    with pytest.raises(TypeError, match=r"expected an xarray DataArray, got ndarray"):
        plot.orthoviews(vol.values)
    with pytest.raises(xiso.DtypeError, match=r"dtype complex128"):
        plot.orthoviews(vol.astype(complex))
    with pytest.raises(xiso.OptionError, match=r"titles='ab'; pass two titles"):
        plot.compare(vol, vol, titles="ab")


def test_error_without_matplotlib(vol, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install matplotlib, .*"\.\[plot\]" in a clone'):
        plot.orthoviews(vol)
    with pytest.raises(ImportError, match=r'pip install matplotlib, .*"\.\[plot\]" in a clone'):
        plot.compare(vol, vol)


# --- tiny volumes ----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "dask"])
@pytest.mark.parametrize("mode", ["slice", "mip"])
def test_compare_tiny_volume_with_a_single_z_sample(mode, backend, tmp_path):
    # the CLI demo with --shape 4 4 4: z 0.25 µm becomes one sample of 1 µm at 0.375
    before = xiso.data.lightsheet(shape=(4, 4, 4), seed=0)
    after = before.iso.near_isotropic()
    assert after.sizes["z"] == 1 and float(after.z[0]) == 0.375
    if backend == "dask":
        before, after = before.chunk(2), after.chunk(2)
    fig = plot.compare(before, after, mode=mode)
    first, second = panels(fig, 0), panels(fig, 3)
    z_edges = (0.375 - 0.5, 0.375 + 0.5)  # one voxel of 1 µm around its centre
    assert second["xz"].images[0].get_extent() == pytest.approx([-0.5, 3.5, z_edges[1], z_edges[0]])
    assert second["yz"].images[0].get_extent() == pytest.approx([*z_edges, 3.5, -0.5])
    check_geometry(fig, first, before)
    # one scale for both layouts: the single z voxel is as tall as four of 0.25 µm
    xz_before, xz_after = box(fig, first["xz"]), box(fig, second["xz"])
    assert xz_after.height == pytest.approx(xz_before.height, rel=0.02)
    assert xz_after.width == pytest.approx(xz_before.width, rel=0.02)
    values = after.values
    if mode == "mip":
        np.testing.assert_array_equal(image(second["xz"]), values.max(axis=1))
        np.testing.assert_array_equal(image(second["yz"]), values.max(axis=2).T)
    else:
        np.testing.assert_array_equal(image(second["xy"]), values[0])
        np.testing.assert_array_equal(image(second["xz"]), values[:, 2, :])
    fig.savefig(tmp_path / "tiny.png", dpi=30)
    assert mimage.imread(tmp_path / "tiny.png").ndim == 3


def test_orthoviews_of_a_single_voxel():
    one = xiso.data.lightsheet(shape=(4, 4, 4), seed=0).iso.downsample(z=4, y=4, x=4)
    assert one.iso.spacing == {"z": 1.0, "y": 4.0, "x": 4.0}
    fig = plot.orthoviews(one)
    axes = panels(fig)
    # centres 0.375 (z) and 1.5 (y, x); voxels of 1 and 4 µm
    assert axes["xy"].images[0].get_extent() == pytest.approx([-0.5, 3.5, 3.5, -0.5])
    assert axes["xz"].images[0].get_extent() == pytest.approx([-0.5, 3.5, 0.875, -0.125])
    assert axes["yz"].images[0].get_extent() == pytest.approx([-0.125, 0.875, 3.5, -0.5])
    assert [image(ax).shape for ax in axes.values()] == [(1, 1)] * 3


@pytest.mark.parametrize("draw", ["orthoviews", "compare", "accessor"])
def test_no_pyplot_figure_stays_open_and_the_figure_still_renders(vol, draw):
    """A Jupyter cell ending in ``da.iso.plot()`` shows the returned Figure; a
    figure left open in pyplot was shown a second time by the inline backend."""
    import io

    plt.close("all")
    small = vol.isel(z=slice(0, 16), y=slice(0, 8), x=slice(0, 8))
    if draw == "orthoviews":
        fig = plot.orthoviews(small)
    elif draw == "compare":
        fig = plot.compare(small, small.iso.near_isotropic())
    else:
        fig = small.iso.plot()
    assert plt.get_fignums() == []
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=50)
    image = mimage.imread(io.BytesIO(buf.getvalue()))
    width, height = fig.get_size_inches() * 50
    assert image.shape[:2] == (round(height), round(width))
    assert image[..., :3].std() > 0  # something was drawn


def test_a_figure_at_the_end_of_a_notebook_cell_shows_once_as_a_picture():
    """In a fresh kernel, a cell ending in a plot shows one PNG (a Figure made
    without pyplot showed none; an open pyplot figure showed two)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    source = "import xiso\nda = xiso.data.lightsheet(shape=(16, 32, 32), seed=0)\nda.iso.plot()"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    pictures = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(pictures) == 1, [(o.output_type, list(o.get("data", {}))) for o in outputs]


# --- the demo's picture and table ------------------------------------------------


def test_demo_draws_the_voxels_and_times_write_and_conversion_apart(tmp_path, capsys, monkeypatch):
    """``xiso demo``: the picture has the zoom panels (flat voxels before, cubic
    after), and the table times the write of the input and the conversion in two
    labelled columns, each on its own row."""
    from xiso.cli import main

    drawn = []

    def compare(*args, **kwargs):
        drawn.append(real(*args, **kwargs))
        return drawn[-1]

    real = plot.compare
    monkeypatch.setattr(plot, "compare", compare)
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--shape", "32", "64", "64", "--quiet"]) == 0
    (fig,) = drawn
    assert [ax.get_label() for ax in fig.axes] == ["xy", "xz", "yz"] * 2 + ["xz zoom"] * 2
    assert [ax.get_title() for ax in fig.axes[6:]] == [
        "the box, enlarged: voxels z 0.25 µm, x 1 µm",
        "the box, enlarged: voxels z 1 µm, x 1 µm",
    ]
    # a window of 10 voxels of 1 um
    assert np.diff(fig.axes[7].get_xlim()) == pytest.approx(10.0)
    assert (out / "orthoviews.png").stat().st_size > 1000
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.split()[:1] == ["shape"])
    assert header.split()[-2:] == ["write", "convert"]
    write, convert = header.index("write"), header.index("convert")
    rows = {line.split()[0]: line for line in lines if line.split()[:1] in (["before"], ["after"])}
    seconds = r"\d+\.\d\d s"
    assert re.fullmatch(seconds, rows["before"][write:convert].strip())
    assert rows["before"][convert:].strip() == ""
    assert rows["after"][write:convert].strip() == ""
    assert re.fullmatch(seconds, rows["after"][convert:].strip())
    assert any(line.startswith("write: ") and "convert: " in line for line in lines)
