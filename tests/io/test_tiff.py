"""open_tiff: OME-TIFF, ImageJ hyperstacks and folders of planes, written by tifffile.

Expected coordinates are built here from the numbers handed to tifffile, never
from another xiso read.
"""

from __future__ import annotations

import re
import warnings

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
        ({"z": "-2 um"}, xiso.SpacingError, "spacing of 'z' is '-2 um'; it must be positive"),
        ({"z": "2 furlong"}, xiso.UnitError, "spacing of 'z' is '2 furlong'; pass a length"),
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
    with pytest.raises(
        TiffError,
        match=r"'.*img_1.tif', a plane of '.*planes', is truncated or damaged: its tifffile "
        r"shape metadata says 1 plane \(one plane\), but only 0 can be found in the file",
    ):
        xiso.open_tiff(folder, spacing={"z": 1, "y": 1, "x": 1})
    (folder / "img_1.tif").write_bytes(plane)
    da = xiso.open_tiff(folder, spacing={"z": 1, "y": 1, "x": 1})
    (folder / "img_1.tif").write_bytes(plane[: offset + 4])  # cut after the open
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


# --------------------------------------------------------------------------
# a stack cut short (a copy that did not finish) is refused at open
# --------------------------------------------------------------------------
_CUT_SHAPE = (6, 3, 16, 20)  # z, c, y, x: 18 planes of 320 bytes


def _cut_stack(tmp_path, kind):
    """A ZCYX uint8 stack as tifffile writes it: 'imagej', 'ome' (tifffile puts
    the OME-XML at the end of the file) or 'ome-front' (the OME-XML in the first
    header, before the pixels, as other writers do)."""
    data = _ramp(_CUT_SHAPE, "uint8")
    path = tmp_path / ("stack.tif" if kind == "imagej" else "stack.ome.tif")
    if kind == "imagej":
        metadata = {"axes": "ZCYX", "spacing": 2.0, "unit": "um"}
        tifffile.imwrite(path, data, imagej=True, resolution=(2.0, 2.0), metadata=metadata)
    elif kind == "ome":
        metadata = {
            "axes": "ZCYX",
            "PhysicalSizeZ": 2.0,
            "PhysicalSizeY": 0.5,
            "PhysicalSizeX": 0.5,
        }
        tifffile.imwrite(path, data, ome=True, metadata=metadata)
    else:
        ome = tifffile.OmeXml()
        ome.addimage(
            data.dtype,
            _CUT_SHAPE,
            (18, 1, 1, 16, 20, 1),
            axes="ZCYX",
            PhysicalSizeZ=2.0,
            PhysicalSizeY=0.5,
            PhysicalSizeX=0.5,
        )
        tifffile.imwrite(
            path, data, description=ome.tostring(), metadata=None, photometric="minisblack"
        )
    with tifffile.TiffFile(path) as tif:
        assert tif.is_ome == kind.startswith("ome") and tif.is_imagej == (kind == "imagej")
    return path, data


def _pages_before(path, cut):
    """How many pages of an intact file lie, header and pixels, before byte
    ``cut``, up to the first that does not (a reader follows the header chain)."""
    with tifffile.TiffFile(path) as tif:
        count = 0
        for page in tif.pages:
            header_end = page.offset + 2 + 12 * len(page.tags) + 4  # classic TIFF
            pixels_end = max(o + n for o, n in zip(page.dataoffsets, page.databytecounts))
            if max(header_end, pixels_end) > cut:
                break
            count += 1
    return count


def _layout(path):
    """(first pixel byte, bytes per plane, file size) of an intact file."""
    with tifffile.TiffFile(path) as tif:
        page = tif.pages.first
        return page.dataoffsets[0], page.nbytes, path.stat().st_size


def _cut(path, cut):
    cut_path = path.with_name("cut_" + path.name)
    cut_path.write_bytes(path.read_bytes()[:cut])
    return cut_path


def _convert_refused(capsys, path, tmp_path, match):
    """`xiso convert` exits 1 with one line naming the file, and writes nothing."""
    from xiso.cli import main

    out = tmp_path / "out.ome.zarr"
    capsys.readouterr()
    assert main(["convert", str(path), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert re.match(rf"xiso: error: .*{match}", err), err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir() if "out" in p.name) == []


@pytest.mark.parametrize("planes_kept", [0, 1, 7, 11, 17])
def test_a_cut_imagej_stack_is_refused(tmp_path, capsys, planes_kept):
    """ImageJ's metadata says 18 planes; a cut inside plane k leaves k whole."""
    path, _ = _cut_stack(tmp_path, "imagej")
    first, plane, _ = _layout(path)
    cut = first + planes_kept * plane + plane // 2 if planes_kept < 17 else first + 18 * plane - 1
    cut_path = _cut(path, cut)
    message = (
        rf"'.*cut_stack.tif' is truncated or damaged: its ImageJ metadata says 18 planes "
        rf"\(slices=6, channels=3\), but only {planes_kept} can be found in the file "
        rf"\({cut} bytes.*; copy it again from its source"
    )
    with pytest.raises(TiffError, match=message):
        xiso.open_tiff(cut_path)
    with pytest.raises(TiffError, match=message):
        xiso.open(cut_path)
    _convert_refused(capsys, cut_path, tmp_path, message)


def test_an_imagej_stack_cut_after_its_pixels_is_read_exactly_or_refused(tmp_path):
    """ImageJ's planes follow its first header; tifffile writes the later
    headers after the pixels. A cut among those loses no pixel: the stack is
    read exactly (with a warning where tifffile sees the damage), or, where
    tifffile cannot parse what is left, refused; never read otherwise."""
    path, data = _cut_stack(tmp_path, "imagej")
    first, plane, size = _layout(path)
    outcomes = set()
    for cut in range(first + 18 * plane, size, 23):
        cut_path = _cut(path, cut)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                da = xiso.open_tiff(cut_path)
        except TiffError as err:
            assert re.match(r"'.*cut_stack.tif' is not a readable TIFF file .*cut short", str(err))
            outcomes.add("refused")
            continue
        assert da.sizes == {"z": 6, "c": 3, "y": 16, "x": 20}
        np.testing.assert_array_equal(da.values, data)
        for warning in caught:
            assert issubclass(warning.category, xiso.XisoWarning)
            assert re.match(
                rf"'.*cut_stack.tif' is damaged \({cut} bytes; tifffile: .*\), but all 18 "
                r"planes its ImageJ metadata says \(z=6, c=3\) are in the file and are read",
                str(warning.message),
            )
        outcomes.add("warned" if caught else "read")
    assert outcomes == {"refused", "warned", "read"}  # each path is taken


@pytest.mark.parametrize("where", [0.05, 0.3, 0.6, 0.95, 0.999])
def test_a_cut_ome_tiff_without_its_xml_is_refused(tmp_path, capsys, where):
    """tifffile writes the OME-XML last: a cut file is a plain TIFF of the pages
    left, whose z and c cannot be told apart, so it is refused (not read as z)."""
    path, _ = _cut_stack(tmp_path, "ome")
    cut = int(path.stat().st_size * where)
    cut_path = _cut(path, cut)
    found = _pages_before(path, cut)
    with tifffile.TiffFile(cut_path) as tif:
        assert not tif.is_ome  # what tifffile alone sees
    message = (
        rf"'.*cut_stack.ome.tif' is truncated or damaged \({cut} bytes; tifffile: TiffTag 270 "
        rf".*\): {found} planes? found, and no metadata that xiso can read says how many"
    )
    with pytest.raises(TiffError, match=message):
        xiso.open_tiff(cut_path)
    _convert_refused(capsys, cut_path, tmp_path, message)


@pytest.mark.parametrize("where", [0.05, 0.3, 0.6])
def test_a_cut_ome_tiff_with_its_xml_is_refused(tmp_path, capsys, where):
    path, _ = _cut_stack(tmp_path, "ome-front")
    size = path.stat().st_size
    cut = int(size * where)
    cut_path = _cut(path, cut)
    with tifffile.TiffFile(path) as tif:
        xml_end = tif.pages.first.tags["ImageDescription"].valueoffset + len(tif.ome_metadata)
    if cut < xml_end:
        message = rf"truncated or damaged \({cut} bytes.*\): 0 planes found, and no metadata"
    else:
        found = _pages_before(path, cut)
        message = (
            rf"'.*cut_stack.ome.tif' is truncated or damaged: its OME-XML says 18 planes "
            rf"\(z=6, c=3\), but only {found} can be found in the file \({cut} bytes"
        )
    with pytest.raises(TiffError, match=message):
        xiso.open_tiff(cut_path)
    _convert_refused(capsys, cut_path, tmp_path, message)


def test_an_ome_tiff_cut_among_its_headers_is_refused(tmp_path):
    path, _ = _cut_stack(tmp_path, "ome-front")
    with tifffile.TiffFile(path) as tif:
        last = tif.pages[-1].offset
    with pytest.raises(TiffError, match=r"'.*cut_stack.ome.tif' is not a readable TIFF file.*cut"):
        xiso.open_tiff(_cut(path, last + 5))  # inside the last header


def _next_header_past_the_end(path):
    """Point the last page's next-header offset past the end of the file (a
    damaged file whose every plane is there)."""
    raw = bytearray(path.read_bytes())
    with tifffile.TiffFile(path) as tif:
        page = tif.pages[-1]
        at = page.offset + 2 + 12 * len(page.tags)
    assert raw[at : at + 4] == bytes(4)  # the end of the chain
    raw[at : at + 4] = (len(raw) + 1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))


def test_a_damaged_stack_with_every_plane_warns(tmp_path):
    path, data = _cut_stack(tmp_path, "ome")
    _next_header_past_the_end(path)
    with pytest.warns(
        xiso.XisoWarning,
        match=r"'.*stack.ome.tif' is damaged \(\d+ bytes; tifffile: invalid page offset \d+\), "
        r"but all 18 planes its OME-XML says \(z=6, c=3\) are in the file and are read",
    ):
        da = xiso.open_tiff(path)
    np.testing.assert_array_equal(da.values, data)


def test_a_plain_stack_whose_pixels_are_cut_is_refused(tmp_path):
    """Without ImageJ or OME metadata only the page headers say the planes: a
    cut inside the pixels of page 2 leaves its header but not its pixels."""
    data = _ramp((4, 32, 32))
    path = tmp_path / "tiled.tif"
    tifffile.imwrite(path, data, tile=(16, 16), metadata=None, photometric="minisblack")
    with tifffile.TiffFile(path) as tif:
        pages = [
            (
                p.offset,
                min(p.dataoffsets),
                max(o + n for o, n in zip(p.dataoffsets, p.databytecounts)),
            )
            for p in tif.pages
        ]
    header, pixels, end = pages[2]
    assert header < pixels < end  # header, then pixels, page by page
    with pytest.raises(
        TiffError, match=r"truncated or damaged \(\d+ bytes.*\): 2 planes found, and no metadata"
    ):
        xiso.open_tiff(_cut(path, (pixels + end) // 2), spacing={"z": 1, "y": 1, "x": 1})
    da = xiso.open_tiff(path, spacing={"z": 1, "y": 1, "x": 1})  # the control: whole
    np.testing.assert_array_equal(da.values, data)


# --------------------------------------------------------------------------
# an OME PhysicalSize that is no positive number is refused at open
# --------------------------------------------------------------------------
_BAD_SIZES = [0.0, -2.0, -0.0, float("nan"), float("inf"), float("-inf"), "NaN", "INF", "two"]


def _ome_with(path, **sizes):
    """A ZYX OME-TIFF (4 planes holding 0..3) with the PhysicalSize* given."""
    data = np.broadcast_to(np.arange(4, dtype="uint16")[:, None, None], (4, 5, 6)).copy()
    metadata = {"axes": "ZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 0.5, "PhysicalSizeX": 0.5}
    tifffile.imwrite(path, data, ome=True, metadata={**metadata, **sizes})
    with tifffile.TiffFile(path) as tif:  # tifffile wrote what it was given
        for key, value in sizes.items():
            assert f'{key}="{value}"' in tif.ome_metadata
    return data


@pytest.mark.parametrize("value", _BAD_SIZES)
def test_a_physical_size_that_is_no_positive_number_is_refused(tmp_path, capsys, value):
    path = tmp_path / "bad.ome.tif"
    data = _ome_with(path, PhysicalSizeZ=value)
    message = (
        rf"'.*bad.ome.tif' gives PhysicalSizeZ='{re.escape(str(value))}', but the OME schema "
        r"requires a positive number; xiso does not guess the spacing of 'z': pass "
        r"spacing=\{'z': 2.0\} \(a number in micrometer, the unit the file gives, or a "
        r"quantity such as '2 um'\)"
    )
    with pytest.raises(xiso.SpacingError, match=message):
        xiso.open_tiff(path)
    with pytest.raises(xiso.SpacingError, match=message):
        xiso.open(path)
    # what the error asks for opens it, planes in the stored order
    da = xiso.open_tiff(path, spacing={"z": 1.5})
    np.testing.assert_array_equal(da.z.values, np.arange(4) * 1.5)
    assert da.z.attrs["units"] == "micrometer"
    np.testing.assert_array_equal(da.values, data)

    from xiso.cli import main

    out = tmp_path / "out.ome.zarr"
    capsys.readouterr()
    assert main(["convert", str(path), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1
    assert re.match(rf"xiso: error: {message}; on the command line: --input-spacing z=2.0$", err)
    assert not out.exists()
    assert main(["convert", str(path), str(out), "--quiet", "--input-spacing", "z=1.5"]) == 0
    back = xiso.open_ome_zarr(out)
    np.testing.assert_array_equal(back.z.values, np.arange(4) * 1.5)
    np.testing.assert_array_equal(back.values[:, 0, 0], np.arange(4))  # not reversed


@pytest.mark.parametrize("letter", ["X", "Y"])
@pytest.mark.parametrize("value", [0.0, -0.5, float("nan"), float("inf")])
def test_a_bad_physical_size_of_y_or_x_is_refused(tmp_path, letter, value):
    path = tmp_path / "bad.ome.tif"
    _ome_with(path, **{f"PhysicalSize{letter}": value, f"PhysicalSize{letter}Unit": "nm"})
    dim = letter.lower()
    with pytest.raises(
        xiso.SpacingError,
        match=rf"gives PhysicalSize{letter}='{value}', but the OME schema requires a positive "
        rf"number; xiso does not guess the spacing of '{dim}': pass spacing=\{{'{dim}': 2.0\}} "
        r"\(a number in nanometer, the unit the file gives",
    ):
        xiso.open_tiff(path)
    da = xiso.open_tiff(path, spacing={dim: 250})  # a number: in the file's unit for that dim
    assert da[dim].attrs["units"] == "nanometer" and da.iso.spacing[dim] == 250.0


@pytest.mark.parametrize("value", [0.0, -2.0, float("nan")])
def test_an_imagej_spacing_that_is_no_positive_number_is_refused(tmp_path, value):
    path = tmp_path / "ij.tif"
    data = np.broadcast_to(np.arange(4, dtype="uint8")[:, None, None], (4, 5, 6)).copy()
    tifffile.imwrite(
        path,
        data,
        imagej=True,
        resolution=(2.0, 2.0),
        metadata={"axes": "ZYX", "spacing": value, "unit": "um"},
    )
    with pytest.raises(
        xiso.SpacingError,
        match=rf"'.*ij.tif' gives the ImageJ spacing={value!r} \(the voxel depth\), which is no "
        r"positive number; xiso does not guess the spacing of 'z': pass spacing=\{'z': 2.0\}",
    ):
        xiso.open_tiff(path)
    da = xiso.open_tiff(path, spacing={"z": 2})
    np.testing.assert_array_equal(da.z.values, np.arange(4) * 2.0)
    np.testing.assert_array_equal(da.values, data)


# --------------------------------------------------------------------------
# lazy TIFFs do not hold their files open
# --------------------------------------------------------------------------
_MANY_OPENS = """
import pickle, resource, sys

import numpy as np, tifffile, xiso

low = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_NOFILE, (low, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
paths = sorted(open(sys.argv[1]).read().split())
arrays = [xiso.open_tiff(p) for p in paths]  # lazy: nothing read yet
assert len(arrays) >= 2 * low
for path, da in zip(paths, arrays):
    np.testing.assert_array_equal(da.values, tifffile.imread(path))
again = pickle.loads(pickle.dumps(arrays[0]))  # its file long closed by now
np.testing.assert_array_equal(again.values, tifffile.imread(paths[0]))
print("ok", len(arrays))
"""


def test_many_lazy_tiffs_under_a_low_open_file_limit(tmp_path):
    """Twice as many lazy TIFFs as the process may open files, each computed
    afterwards: at most xarray's file cache (``file_cache_maxsize``, 128) is
    open at a time, and each file is reopened when read. The limit is the
    cache and a margin (below macOS's default of 256, to keep the test short)."""
    import subprocess
    import sys

    resource = pytest.importorskip("resource")
    low = xr.get_options()["file_cache_maxsize"] + 32
    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < low:  # pragma: no cover
        pytest.skip(f"the hard limit of open files is below {low}")
    paths = []
    for i in range(2 * low + 4):
        path = tmp_path / f"stack_{i:04d}.tif"
        tifffile.imwrite(  # each file its own values
            path,
            (np.arange(2 * 3 * 4, dtype="uint16") * (i + 1)).reshape(2, 3, 4),
            imagej=True,
            resolution=(1.0, 1.0),
            metadata={"axes": "ZYX", "spacing": 1.0, "unit": "um"},
        )
        paths.append(str(path))
    (tmp_path / "paths.txt").write_text("\n".join(paths))
    done = subprocess.run(
        [sys.executable, "-c", _MANY_OPENS, str(tmp_path / "paths.txt"), str(low)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["ok", str(2 * low + 4)]


def test_a_lazy_tiff_closes_its_file_when_dropped(tmp_path, raise_if_dask_computes):
    import gc

    psutil = pytest.importorskip("psutil")
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, _ramp((3, 4, 5)), imagej=True, metadata={"axes": "ZYX"})

    def open_here():
        return [f for f in psutil.Process().open_files() if f.path == str(path)]

    da = xiso.open_tiff(path, spacing={"z": 1, "y": 1, "x": 1})
    assert len(open_here()) <= 1
    del da
    gc.collect()
    assert open_here() == []


@pytest.mark.parametrize("kind", ["imagej", "ome"])
def test_convert_of_a_cut_stack_says_one_line_in_a_real_process(tmp_path, kind):
    """In its own process (where pytest's log capture does not hide what
    tifffile logs on stderr), with the spacing an earlier error asked for."""
    import subprocess
    import sys

    path, _ = _cut_stack(tmp_path, kind)
    cut_path = _cut(path, path.stat().st_size * 6 // 10)
    out = tmp_path / "out.ome.zarr"
    spacing = ["--input-spacing", "z=2", "--input-spacing", "y=0.5", "--input-spacing", "x=0.5"]
    done = subprocess.run(
        [sys.executable, "-m", "xiso", "convert", str(cut_path), str(out), "--quiet", *spacing],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert re.fullmatch(
        r"xiso: error: '.*cut_stack.*' is truncated or damaged[^\n]*\n", done.stderr
    )
    assert not out.exists()
