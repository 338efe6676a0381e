"""open_tiff: OME-TIFF, ImageJ hyperstacks and folders of planes, written by tifffile.

Expected coordinates are built here from the numbers handed to tifffile, never
from another xiso read.
"""

from __future__ import annotations

import pickle

import dask
import numpy as np
import pytest
import xarray as xr

tifffile = pytest.importorskip("tifffile")

import xiso  # noqa: E402
from xiso.io.tiff import TiffError  # noqa: E402


def _stack():
    return np.zeros((3, 4, 5), "uint8")


def _ramp(shape, dtype="uint16"):
    return (np.arange(np.prod(shape)) % 60000).astype(dtype).reshape(shape)


@pytest.fixture
def ome(tmp_path):
    data = _ramp((2, 3, 4, 5, 6))
    path = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        path,
        data,
        ome=True,
        metadata={
            "axes": "TCZYX",
            "PhysicalSizeZ": 2.0,
            "PhysicalSizeZUnit": "µm",
            "PhysicalSizeY": 250.0,
            "PhysicalSizeYUnit": "nm",
            "PhysicalSizeX": 250.0,
            "PhysicalSizeXUnit": "nm",
            "TimeIncrement": 1.5,
            "TimeIncrementUnit": "ms",
            "Channel": {"Name": ["DAPI", "GFP", "RFP"]},
        },
    )
    return path, data


def test_ome_tiff(ome):
    path, data = ome
    da = xiso.open_tiff(path)
    assert da.dims == ("t", "c", "z", "y", "x")
    assert da.name == "cells" and da.attrs["source"] == str(path)
    np.testing.assert_array_equal(da.z.values, np.arange(4) * 2.0)
    np.testing.assert_array_equal(da.y.values, np.arange(5) * 250.0)
    np.testing.assert_array_equal(da.t.values, np.arange(2) * 1.5)
    assert list(da.c.values) == ["DAPI", "GFP", "RFP"]
    assert {d: da[d].attrs.get("units") for d in da.dims} == {
        "t": "millisecond",
        "c": None,
        "z": "micrometer",
        "y": "nanometer",
        "x": "nanometer",
    }
    assert [da[d].attrs["type"] for d in da.dims] == ["time", "channel", "space", "space", "space"]
    assert da.iso.factors() == {"z": 1, "y": 8, "x": 8}  # 2 um over 250 nm
    np.testing.assert_array_equal(da.values, data)


def test_ome_dimension_order_is_followed(tmp_path):
    """tifffile writes DimensionOrder XYCZT for axes ZCYX: the dims follow it."""
    data = _ramp((4, 2, 5, 6))
    path = tmp_path / "zc.ome.tif"
    tifffile.imwrite(path, data, ome=True, metadata={"axes": "ZCYX", "PhysicalSizeZ": 3.0})
    with tifffile.TiffFile(path) as tif:
        assert 'DimensionOrder="XYCZT"' in tif.ome_metadata
    da = xiso.open_tiff(path, spacing={"y": 1.0, "x": 1.0})
    assert da.dims == ("z", "c", "y", "x")
    np.testing.assert_array_equal(da.z.values, np.arange(4) * 3.0)
    assert da.z.attrs["units"] == "micrometer"  # OME's default unit
    np.testing.assert_array_equal(da.values, data)


@pytest.fixture
def hyperstack(tmp_path):
    data = _ramp((3, 4, 2, 5, 6))
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),  # pixels per unit: x 0.25, y 0.5
        metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "um", "finterval": 0.5},
    )
    return path, data


def test_imagej_hyperstack(hyperstack):
    path, data = hyperstack
    da = xiso.open_tiff(path)
    assert da.dims == ("t", "z", "c", "y", "x")
    assert da.iso.spacing == {"z": 1.5, "y": 0.5, "x": 0.25}
    np.testing.assert_array_equal(da.x.values, np.arange(6) * 0.25)
    np.testing.assert_array_equal(da.t.values, np.arange(3) * 0.5)
    assert da.t.attrs == {"type": "time", "units": "second"}
    assert da.z.attrs == {"type": "space", "units": "micrometer"}
    np.testing.assert_array_equal(da.c.values, [0, 1])
    np.testing.assert_array_equal(da.values, data)


def test_imagej_calibrated_without_spacing_is_one(tmp_path):
    """ImageJ writes no spacing= when the voxel depth is 1 (in the calibration unit);
    without a unit (uncalibrated) the depth is unknown."""
    path = tmp_path / "ij.tif"
    data = np.zeros((3, 4, 5), "uint8")
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX", "unit": "nm"})
    assert xiso.open_tiff(path).iso.spacing == {"z": 1.0, "y": 1.0, "x": 1.0}
    assert xiso.open_tiff(path).z.attrs["units"] == "nanometer"
    tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0), metadata={"axes": "ZYX"})
    with pytest.raises(xiso.SpacingError, match="does not say the spacing of dimensions 'z', 'y',"):
        xiso.open_tiff(path)  # no unit: the resolution says nothing either


def test_imagej_micro_sign_escape(tmp_path):
    """ImageJ itself writes 'µm' as the characters \\u00B5m."""
    path = tmp_path / "ij.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 4, 5), "uint8"),
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"axes": "ZYX", "unit": "\\u00B5m", "spacing": 2.0},
    )
    da = xiso.open_tiff(path)
    assert da.z.attrs["units"] == "micrometer" and da.iso.spacing == {"z": 2.0, "y": 0.5, "x": 0.5}


def _planes(folder, n=12, names="img_{}.tif", **kwargs):
    folder.mkdir()
    for i in range(n):  # plane i holds the value i, so the order can be checked
        tifffile.imwrite(folder / names.format(i), np.full((5, 6), i, "uint16"), **kwargs)
    return folder


def test_folder_of_planes_natural_order(tmp_path):
    folder = _planes(tmp_path / "planes", resolution=(2.0, 2.0), resolutionunit="CENTIMETER")
    (folder / "notes.txt").write_text("not a plane")
    da = xiso.open_tiff(folder, spacing={"z": 1.25})
    assert da.dims == ("z", "y", "x") and da.name == "planes"
    # img_2 before img_10; the number takes the unit of y and x
    np.testing.assert_array_equal(da.values[:, 0, 0], np.arange(12))
    np.testing.assert_array_equal(da.z.values, np.arange(12) * 1.25)
    assert da.iso.spacing == {"z": 1.25, "y": 0.5, "x": 0.5}
    assert {da[d].attrs["units"] for d in da.dims} == {"centimeter"}
    same = xiso.open_tiff(tmp_path / "planes" / "img_*.tif", spacing={"z": 1.25})
    xr.testing.assert_identical(same.drop_attrs(), da.drop_attrs())


def test_folder_spacing_is_required(tmp_path):
    folder = _planes(tmp_path / "planes", n=3)
    with pytest.raises(
        xiso.SpacingError,
        match=r"'.*planes' does not say the spacing of dimensions 'z', 'y', 'x'; pass "
        r"spacing=\{'z': 2.0, 'y': 2.0, 'x': 2.0\}",
    ):
        xiso.open_tiff(folder)
    da = xiso.open_tiff(folder, spacing={"z": "2 um", "y": "500 nm", "x": "500 nm"})
    assert da.iso.spacing == {"z": 2.0, "y": 500.0, "x": 500.0}
    assert (da.z.attrs["units"], da.y.attrs["units"]) == ("micrometer", "nanometer")
    assert da.iso.factors() == {"z": 1, "y": 4, "x": 4}


@pytest.mark.parametrize(
    ("spacing", "error", "match"),
    [
        ({"z": -1.0}, xiso.SpacingError, "spacing of 'z' is -1.0; it must be positive"),
        ({"z": "2 parsnips"}, xiso.UnitError, "spacing of 'z' is '2 parsnips', which cannot"),
        ({"z": "2 kelvin"}, xiso.UnitError, "pass a length"),
        ({"z": [1]}, xiso.SpacingError, r"spacing of 'z' is \[1\]; pass a positive number"),
        ({"w": 1.0}, xiso.SpatialDimError, "spacing names 'w', which is not a dimension"),
        ({"z": "2 s"}, xiso.UnitError, "the unit 'second' of dimension 'z' is not a length"),
    ],
)
def test_bad_spacing(tmp_path, spacing, error, match):
    folder = _planes(tmp_path / "planes", n=2, resolution=(2.0, 2.0), resolutionunit=3)
    with pytest.raises(error, match=match):
        xiso.open_tiff(folder, spacing=spacing)


def test_spacing_of_a_channel_is_refused(ome):
    with pytest.raises(xiso.SpatialDimError, match="'c', which is neither a spatial dim nor"):
        xiso.open_tiff(ome[0], spacing={"c": 1.0})
    assert xiso.open_tiff(ome[0], spacing={"t": "2 min"}).t.attrs["units"] == "minute"


def test_single_file_without_spacing(tmp_path):
    path = tmp_path / "plain.tif"
    tifffile.imwrite(
        path, np.zeros((3, 4, 5), "uint8"), photometric="minisblack", metadata={"axes": "ZYX"}
    )
    with pytest.raises(xiso.SpacingError, match="pass spacing="):
        xiso.open_tiff(path)
    da = xiso.open_tiff(path, spacing={"z": 4, "y": 1, "x": 1})
    assert da.iso.spacing == {"z": 4.0, "y": 1.0, "x": 1.0} and "units" not in da.z.attrs


def test_bad_inputs(tmp_path):
    with pytest.raises(TiffError, match="no file, folder or glob match at"):
        xiso.open_tiff(tmp_path / "missing.tif")
    (tmp_path / "empty").mkdir()
    with pytest.raises(TiffError, match="holds no TIFF files"):
        xiso.open_tiff(tmp_path / "empty")
    (tmp_path / "fake.tif").write_bytes(b"not a tiff at all")
    with pytest.raises(TiffError, match=r"'.*fake.tif' is not a readable TIFF file"):
        xiso.open_tiff(tmp_path / "fake.tif")
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    tifffile.imwrite(
        stacks / "a.tif",
        np.zeros((3, 4, 5), "uint8"),
        photometric="minisblack",
        metadata={"axes": "ZYX"},
    )
    with pytest.raises(TiffError, match="has the axes 'ZYX'; open each multi-plane file"):
        xiso.open_tiff(stacks, spacing={"z": 1})
    assert issubclass(TiffError, xiso.XisoError)


def test_a_damaged_plane_is_named_when_computed(tmp_path):
    folder = _planes(tmp_path / "planes", n=3)
    plane = (folder / "img_1.tif").read_bytes()
    with tifffile.TiffFile(folder / "img_1.tif") as tif:
        (offset,) = tif.pages.first.dataoffsets
    (folder / "img_1.tif").write_bytes(plane[: offset + 4])  # the header, not the pixels
    da = xiso.open_tiff(folder, spacing={"z": 1, "y": 1, "x": 1})
    with pytest.raises(TiffError, match=r"reading '.*img_1.tif' at \[0:5, 0:6\] failed"):
        da.compute()


@pytest.mark.parametrize(
    ("plane", "found"),
    [
        (np.full((5, 6), -3, "int16"), r"\(5, 6\) int16"),  # the same itemsize
        (np.full((5, 6), 1.5, "float16"), r"\(5, 6\) float16"),
        (np.zeros((7, 7), "uint16"), r"\(7, 7\) uint16"),
    ],
)
def test_planes_that_differ_are_refused_at_open(tmp_path, plane, found):
    folder = _planes(tmp_path / "planes", n=12)
    tifffile.imwrite(folder / "img_10.tif", plane)
    tifffile.imwrite(folder / "img_11.tif", plane)
    with pytest.raises(
        TiffError,
        match=rf"'.*img_10.tif' is a {found} plane, but '.*img_0.tif' is a \(5, 6\) uint16 one; "
        r"every plane of '.*planes' must have the same shape and dtype",
    ):
        xiso.open_tiff(folder, spacing={"z": 1, "y": 1, "x": 1})
    (folder / "img_3.tif").write_bytes(b"not a tiff")
    with pytest.raises(TiffError, match=r"'.*img_3.tif', a plane of '.*planes', is not a readable"):
        xiso.open_tiff(folder, spacing={"z": 1, "y": 1, "x": 1})


def test_lazy_tiled_and_compressed(tmp_path, raise_if_dask_computes):
    data = _ramp((8, 64, 48))
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(
        path,
        data,
        tile=(16, 16),
        compression="zlib",
        imagej=False,
        resolution=(1.0, 1.0),
        resolutionunit="CENTIMETER",
        metadata={"axes": "ZYX"},
    )
    da = xiso.open_tiff(path, spacing={"z": 4})
    assert da.chunks == ((1,) * 8, (16,) * 4, (16,) * 3)  # as stored: one tile per chunk
    iso = da.iso.near_isotropic()  # lazy all the way
    assert xiso.open_tiff(path, spacing={"z": 4}).data.name != da.data.name
    rechunked = xiso.open_tiff(path, spacing={"z": 4}, chunks={"z": 4, "y": -1})
    assert rechunked.chunks == ((4, 4), (64,), (16,) * 3)
    with dask.config.set(scheduler="threads"):
        np.testing.assert_array_equal(da.values, data)
        expected = data.reshape(8, 16, 4, 12, 4).mean(axis=(2, 4))
        np.testing.assert_array_equal(iso.values, np.round(expected).astype("uint16"))


def test_pickles_for_distributed(ome):
    path, data = ome
    da = xiso.open_tiff(path)
    again = pickle.loads(pickle.dumps(da))
    np.testing.assert_array_equal(again.values, data)


@pytest.mark.parametrize("kind", ["ome", "imagej", "planes"])
def test_round_trip_through_ome_zarr(tmp_path, ome, hyperstack, kind):
    """TIFF -> to_ome_zarr -> open_ome_zarr gives the same coords, bit for bit."""
    if kind == "ome":
        da = xiso.open_tiff(ome[0])
        expected = {"t": np.arange(2) * 1.5, "z": np.arange(4) * 2.0, "x": np.arange(6) * 250.0}
    elif kind == "imagej":  # NGFF wants the order t, c, z, y, x
        da = xiso.open_tiff(hyperstack[0]).transpose("t", "c", "z", "y", "x")
        expected = {"t": np.arange(3) * 0.5, "z": np.arange(4) * 1.5, "x": np.arange(6) * 0.25}
    else:
        folder = _planes(tmp_path / "planes", n=5, resolution=(4.0, 4.0), resolutionunit=3)
        da = xiso.open_tiff(folder, spacing={"z": 0.75})
        expected = {"z": np.arange(5) * 0.75, "y": np.arange(5) * 0.25}
    xiso.to_ome_zarr(da, tmp_path / "out.ome.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "out.ome.zarr")
    assert back.dims == da.dims
    for dim, values in expected.items():
        np.testing.assert_array_equal(back[dim].values, values)
        assert back[dim].attrs["units"] == da[dim].attrs["units"]
    for dim in da.dims:
        np.testing.assert_array_equal(back[dim].values, da[dim].values)
    np.testing.assert_array_equal(back.values, da.values)


def test_imagej_units_of_each_axis(tmp_path):
    """ImageJ's unit is that of x (and of y, z unless yunit, zunit say another);
    finterval is in tunit."""
    path = tmp_path / "ij.tif"
    data = np.zeros((3, 4, 5, 6), "uint8")
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(1 / 0.25, 1 / 0.5),  # pixels per unit: x 0.25 um, y 0.5 mm
        metadata={
            "axes": "TZYX",
            "finterval": 0.5,
            "tunit": "ms",
            "spacing": 500,
            "unit": "um",
            "zunit": "nm",
            "yunit": "mm",
        },
    )
    da = xiso.open_tiff(path)
    np.testing.assert_array_equal(da.t.values, np.arange(3) * 0.5)
    assert {d: da[d].attrs["units"] for d in da.dims} == {
        "t": "millisecond",
        "z": "nanometer",
        "y": "millimeter",
        "x": "micrometer",
    }
    assert da.iso.spacing == {"z": 500.0, "y": 0.5, "x": 0.25}
    tifffile.imwrite(
        path,
        data[0],
        imagej=True,
        metadata={"axes": "ZYX", "spacing": 500, "unit": "um", "zunit": "nm"},
    )
    da = xiso.open_tiff(path)
    assert (da.z.attrs["units"], da.x.attrs["units"]) == ("nanometer", "micrometer")
    assert da.iso.spacing["z"] == 500.0


def _uncalibrated(path):
    tifffile.imwrite(
        path, np.zeros((3, 4, 5), "uint8"), photometric="minisblack", metadata={"axes": "ZYX"}
    )
    return path


def test_a_number_takes_the_unit_of_quantities_passed(tmp_path):
    path = _uncalibrated(tmp_path / "uncalibrated.tif")
    da = xiso.open_tiff(path, spacing={"z": 2, "y": "0.5 um", "x": "0.5 um"})
    assert {d: da[d].attrs["units"] for d in da.dims} == dict.fromkeys("zyx", "micrometer")
    assert da.iso.spacing == {"z": 2.0, "y": 0.5, "x": 0.5}
    assert da.iso.factors() == {"z": 1, "y": 4, "x": 4}
    with pytest.raises(xiso.UnitError, match=r"spacing of 'z' is 2, a number without unit, but"):
        xiso.open_tiff(path, spacing={"z": 2, "y": "0.5 um", "x": "500 nm"})


def test_a_unitless_step_among_units_is_refused_at_open(tmp_path):
    path = tmp_path / "ij.tif"  # ImageJ, uncalibrated: z is 2 (pixels)
    tifffile.imwrite(
        path, np.zeros((3, 4, 5), "uint8"), imagej=True, metadata={"axes": "ZYX", "spacing": 2.0}
    )
    with pytest.raises(
        xiso.UnitError,
        match=r"gives dimension 'z' a spacing without unit.*pass spacing=\{'z': '2 um'\}",
    ):
        xiso.open_tiff(path, spacing={"y": "0.5 um", "x": "0.5 um"})
    da = xiso.open_tiff(path, spacing={"z": "1 um", "y": "0.5 um", "x": "0.5 um"})
    assert da.z.attrs["units"] == "micrometer"


def test_an_unknown_ome_unit_can_be_replaced(tmp_path):
    path = tmp_path / "frames.ome.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 4, 5), "uint16"),
        ome=True,
        metadata={
            "axes": "ZYX",
            "PhysicalSizeZ": 2.0,
            "PhysicalSizeZUnit": "reference frame",
            "PhysicalSizeY": 0.5,
            "PhysicalSizeX": 0.5,
        },
    )
    with pytest.raises(
        xiso.UnitError,
        match=r"gives dimension 'z' the unit 'reference frame', which xiso cannot read; pass "
        r"spacing=\{'z': '2 um'\}",
    ):
        xiso.open_tiff(path)
    da = xiso.open_tiff(path, spacing={"z": "2 um"})
    assert {d: da[d].attrs["units"] for d in da.dims} == dict.fromkeys("zyx", "micrometer")
    assert da.iso.spacing == {"z": 2.0, "y": 0.5, "x": 0.5}


def _without_resolution_unit(path):
    """Rename the ResolutionUnit tag (296, SHORT, 1) of a tifffile file to a private one."""
    data = path.read_bytes()
    entry = (296).to_bytes(2, "little") + b"\x03\x00\x01\x00\x00\x00"
    assert data.count(entry) == 3  # one per page
    path.write_bytes(data.replace(entry, (65000).to_bytes(2, "little") + entry[2:]))
    with tifffile.TiffFile(path) as tif:
        assert "ResolutionUnit" not in tif.pages.first.tags
        assert tif.pages.first.tags["XResolution"].value == (72, 1)


@pytest.mark.parametrize("unit", ["INCH", "NONE", "missing"])
def test_a_resolution_in_inches_says_no_spacing(tmp_path, unit):
    """72 dpi is what editors (and tifffile) write, not a pixel size."""
    path = tmp_path / "plain.tif"
    tifffile.imwrite(
        path,
        np.zeros((3, 4, 5), "uint8"),
        photometric="minisblack",
        resolution=(72, 72),
        resolutionunit="INCH" if unit == "missing" else unit,
        metadata={"axes": "ZYX"},
    )
    if unit == "missing":
        _without_resolution_unit(path)
    with pytest.raises(
        xiso.SpacingError, match=r"does not say the spacing of dimensions 'z', 'y', 'x'"
    ):
        xiso.open_tiff(path)
    folder = _planes(tmp_path / "planes", n=2, resolution=(72, 72), resolutionunit="INCH")
    with pytest.raises(xiso.SpacingError, match=r"dimensions 'z', 'y', 'x'; pass spacing="):
        xiso.open_tiff(folder)
    tifffile.imwrite(  # ImageJ's own unit still calibrates the resolution
        path,
        np.zeros((3, 4, 5), "uint8"),
        imagej=True,
        resolution=(4.0, 4.0),
        metadata={"axes": "ZYX", "unit": "um", "spacing": 1.0},
    )
    assert xiso.open_tiff(path).iso.spacing == {"z": 1.0, "y": 0.25, "x": 0.25}
