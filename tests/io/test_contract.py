"""The reader contract of :mod:`xiso.io.read`, checked for every reader.

One class, :class:`ReaderContract`, has one test per promise of the
contract; each ``Test*`` subclass writes a small real file with that
format's own writer (xiso's ``to_ome_zarr``, tifffile, nibabel) and says,
from what it handed the writer, what reading it must give. This is xarray's
``DatasetIOBase`` pattern (``xarray/tests/test_backends.py``). What only one
format has (OME-Zarr label images and xiso's records, TIFF damage at open,
NIfTI scaling and oblique affines) is tested in that format's own file.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
import zarr
from dask.core import flatten

import xiso
from xiso.encodings import DOWNSCALING
from xiso.spacing import coordinate_step

tifffile = pytest.importorskip("tifffile")
nibabel = pytest.importorskip("nibabel")

# the region a read error names: [start:stop, ...] over the dims of the chunk read
REGION = r"\[\d+:\d+(, \d+:\d+)*\]"


@dataclass
class Axis:
    """What the coordinate of one dim must be."""

    values: Any
    attrs: dict[str, Any]
    spacing: float | None = None  # encoding["spacing"]; None: not recorded


@dataclass
class Written:
    """A file as its writer was given it: what reading it must give."""

    path: Path
    values: np.ndarray  # in the order of ``dims``
    dims: tuple[str, ...]
    axes: dict[str, Axis]
    name: str | None
    attrs: dict[str, Any]
    chunks: tuple[int, ...]  # the dask chunk shape by default (the stored object)
    error: type[xiso.XisoError]  # what an unreadable chunk raises
    where: str  # a regex of the file or array that error names
    encoding: dict[str, Any] = field(default_factory=dict)


def _ramp(shape: tuple[int, ...], dtype: str = "uint16") -> np.ndarray:
    return (np.arange(np.prod(shape)) * 7 % 60000).astype(dtype).reshape(shape)


def _truncate(path: Path, size: int) -> None:
    with open(path, "r+b") as f:
        f.truncate(size)


class ReaderContract:
    """The promises of the reader contract (:mod:`xiso.io.read`). A subclass
    provides ``written`` (a fixture), ``open`` and ``damage``."""

    @pytest.fixture
    def written(self, tmp_path: Path) -> Written:
        raise NotImplementedError

    def open(self, path: Path, **kwargs: Any) -> xr.DataArray:
        raise NotImplementedError

    def damage(self, written: Written) -> None:
        """Make every stored pixel unreadable (the metadata left as it is)."""
        raise NotImplementedError

    # -- dims and data ------------------------------------------------------
    def test_dims_are_the_axes_in_stored_order(self, written):
        da = self.open(written.path)
        assert da.dims == written.dims
        assert da.shape == written.values.shape

    def test_values_and_dtype(self, written):
        da = self.open(written.path)
        assert da.dtype == written.values.dtype
        np.testing.assert_array_equal(da.values, written.values)

    # -- coordinates --------------------------------------------------------
    def test_one_coordinate_per_dim(self, written):
        da = self.open(written.path)
        for dim in da.dims:
            expected = written.axes[dim]
            assert da[dim].dims == (dim,)
            if expected.attrs["type"] in ("space", "time"):
                # float64 translation + index * step (0..n-1 without a step), exactly
                assert da[dim].dtype == np.float64, dim
            np.testing.assert_array_equal(da[dim].values, expected.values, err_msg=dim)

    def test_units_and_type_attrs(self, written):
        da = self.open(written.path)
        assert {d: da[d].attrs for d in da.dims} == {d: written.axes[d].attrs for d in da.dims}

    def test_spacing_record(self, written):
        """The step is recorded, so a one-sample axis keeps its spacing."""
        da = self.open(written.path)
        for dim in da.dims:
            assert da[dim].encoding.get("spacing") == written.axes[dim].spacing, dim
            if written.axes[dim].spacing is not None:
                one = da.isel({dim: [1]})
                assert coordinate_step(one, dim) == written.axes[dim].spacing, dim

    # -- laziness -----------------------------------------------------------
    def test_nothing_is_read_until_computed(self, written, raise_if_dask_computes):
        """Opened, then every pixel made unreadable: the open did not read
        them, and computing raises the reader's error naming file and region."""
        da = self.open(written.path)
        assert isinstance(da.data, dsa.Array)
        self.damage(written)
        with dask.config.set(scheduler="synchronous"):
            with pytest.raises(written.error, match=rf"reading {written.where} at {REGION}"):
                da.compute()

    def test_chunked_as_stored(self, written, raise_if_dask_computes):
        da = self.open(written.path)
        assert da.chunks == dsa.core.normalize_chunks(written.chunks, da.shape)

    def test_chunks_option(self, written, raise_if_dask_computes):
        da = self.open(written.path, chunks={"y": 2})
        axis = written.dims.index("y")
        expected = list(dsa.core.normalize_chunks(written.chunks, da.shape))
        expected[axis] = dsa.core.normalize_chunks(2, (da.shape[axis],))[0]
        assert da.chunks == tuple(expected)
        with pytest.raises(xiso.OptionError, match="chunks names \\['w'\\], which are not"):
            self.open(written.path, chunks={"w": 2})

    def test_a_dask_name_per_open(self, written, raise_if_dask_computes):
        one, two = self.open(written.path), self.open(written.path)
        assert one.data.name != two.data.name
        keys = [set(flatten(da.data.__dask_keys__())) for da in (one, two)]
        assert not keys[0] & keys[1]

    def test_pickles_without_its_values(self, written):
        """For dask.distributed: the lazy array pickles, and the unpickled one
        reads the file again (the values are not in the pickle)."""
        da = self.open(written.path)
        again = pickle.loads(pickle.dumps(da))
        assert isinstance(again.data, dsa.Array)
        with dask.config.set(scheduler="synchronous"):
            np.testing.assert_array_equal(again.values, written.values)
        later = pickle.loads(pickle.dumps(da))
        self.damage(written)
        with dask.config.set(scheduler="synchronous"):
            with pytest.raises(written.error, match=rf"reading {written.where} at {REGION}"):
                later.compute()

    # -- name, attrs, encoding ----------------------------------------------
    def test_name(self, written):
        assert self.open(written.path).name == written.name

    def test_attrs(self, written):
        assert self.open(written.path).attrs == written.attrs

    def test_encoding(self, written):
        assert self.open(written.path).encoding == written.encoding


# --------------------------------------------------------------------------
# OME-Zarr, written by xiso
# --------------------------------------------------------------------------
class TestOmeZarr(ReaderContract):
    @pytest.fixture
    def written(self, tmp_path):
        shape = (2, 3, 4, 5, 6)
        values = _ramp(shape)
        axes = {
            "t": Axis(10.0 + np.arange(2) * 1.5, {"type": "time", "units": "second"}, 1.5),
            "c": Axis(["DAPI", "GFP", "RFP"], {"type": "channel"}),
            "z": Axis(2.0 + np.arange(4) * 2.0, {"type": "space", "units": "micrometer"}, 2.0),
            "y": Axis(np.arange(5) * 0.25, {"type": "space", "units": "micrometer"}, 0.25),
            "x": Axis(-1.0 + np.arange(6) * 0.25, {"type": "space", "units": "micrometer"}, 0.25),
        }
        coords = {
            d: (d, a.values, {"units": a.attrs["units"]} if "units" in a.attrs else {})
            for d, a in axes.items()
        }
        user = {"lab": "cells", "n": 3}
        da = xr.DataArray(values, dims=tuple(axes), coords=coords, name="cells", attrs=user)
        path = tmp_path / "cells.ome.zarr"
        xiso.to_ome_zarr(da, path, chunks=(1, 1, 2, 5, 6))
        # what the format itself records, read from the store's own JSON
        ome = json.loads((path / "zarr.json").read_text())["attributes"]["ome"]
        level = zarr.open_array(path / "0", mode="r")
        encoding: dict[str, Any] = {"chunks": level.chunks}
        if level.shards is not None:
            encoding["shards"] = level.shards
        if "type" in ome["multiscales"][0]:
            encoding[DOWNSCALING] = ome["multiscales"][0]["type"]
        return Written(
            path=path,
            values=values,
            dims=tuple(axes),
            axes=axes,
            name="cells",
            attrs={**user, "ngff_version": ome["version"], "omero": ome["omero"]},
            chunks=level.shards or level.chunks,  # a task per stored object
            error=xiso.OmeZarrError,
            where=r"level '0' of '.*cells.ome.zarr'",
            encoding=encoding,
        )

    def open(self, path, **kwargs):
        return xiso.open_ome_zarr(path, **kwargs)

    def damage(self, written):
        files = [p for p in (written.path / "0" / "c").rglob("*") if p.is_file()]
        assert files
        for p in files:
            p.write_bytes(b"\x00 not a chunk")


# --------------------------------------------------------------------------
# TIFF, written by tifffile
# --------------------------------------------------------------------------
class _Tiff(ReaderContract):
    def open(self, path, **kwargs):
        return xiso.open_tiff(path, **kwargs)

    def damage(self, written):
        with tifffile.TiffFile(written.path) as tif:
            first = min(tif.pages.first.dataoffsets)
        _truncate(written.path, first)  # the headers before the first pixel stay


class TestOmeTiff(_Tiff):
    @pytest.fixture
    def written(self, tmp_path):
        values = _ramp((2, 3, 4, 16, 24))  # more than the 8 KiB a buffered file holds
        path = tmp_path / "cells.ome.tif"
        tifffile.imwrite(
            path,
            values,
            ome=True,
            metadata={
                "axes": "TCZYX",
                "Name": "well A1",
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
        return Written(
            path=path,
            values=values,
            dims=("t", "c", "z", "y", "x"),
            axes={  # TIFF has no origin: every axis starts at 0
                "t": Axis(np.arange(2) * 1.5, {"type": "time", "units": "millisecond"}, 1.5),
                "c": Axis(["DAPI", "GFP", "RFP"], {"type": "channel"}),
                "z": Axis(np.arange(4) * 2.0, {"type": "space", "units": "micrometer"}, 2.0),
                "y": Axis(np.arange(16) * 250.0, {"type": "space", "units": "nanometer"}, 250.0),
                "x": Axis(np.arange(24) * 250.0, {"type": "space", "units": "nanometer"}, 250.0),
            },
            name="cells",
            attrs={"ome_image_name": "well A1", "source": str(path)},
            chunks=(1, 1, 1, 16, 24),  # one page per chunk
            error=xiso.TiffError,
            where=r"'.*cells.ome.tif'",
        )


class TestImageJTiff(_Tiff):
    @pytest.fixture
    def written(self, tmp_path):
        values = _ramp((3, 4, 2, 16, 24))
        path = tmp_path / "hyper.tif"
        tifffile.imwrite(
            path,
            values,
            imagej=True,
            resolution=(1 / 0.25, 1 / 0.5),  # pixels per unit: x 0.25, y 0.5
            metadata={"axes": "TZCYX", "spacing": 1.5, "unit": "um"},  # no finterval
        )
        return Written(
            path=path,
            values=values,
            dims=("t", "z", "c", "y", "x"),
            axes={
                "t": Axis(np.arange(3.0), {"type": "time"}),  # no step: 0..n-1, no units
                "z": Axis(np.arange(4) * 1.5, {"type": "space", "units": "micrometer"}, 1.5),
                "c": Axis(np.arange(2), {"type": "channel"}),  # ImageJ names no channel
                "y": Axis(np.arange(16) * 0.5, {"type": "space", "units": "micrometer"}, 0.5),
                "x": Axis(np.arange(24) * 0.25, {"type": "space", "units": "micrometer"}, 0.25),
            },
            name="hyper",
            attrs={"source": str(path)},
            chunks=(1, 1, 1, 16, 24),
            error=xiso.TiffError,
            where=r"'.*hyper.tif'",
        )


class TestTiffPlanes(_Tiff):
    """A folder of 2-D planes: one z stack, its z spacing passed at open."""

    @pytest.fixture
    def written(self, tmp_path):
        values = _ramp((3, 5, 6))
        folder = tmp_path / "planes"
        folder.mkdir()
        for i, plane in enumerate(values):  # 250 pixels per centimeter
            tifffile.imwrite(
                folder / f"img_{i}.tif", plane, resolution=(250.0, 250.0), resolutionunit=3
            )
        cm = {"type": "space", "units": "centimeter"}
        return Written(
            path=folder,
            values=values,
            dims=("z", "y", "x"),
            axes={
                "z": Axis(np.arange(3) * 0.5, cm, 0.5),  # a number: the unit of y and x
                "y": Axis(np.arange(5) * 0.004, cm, 0.004),
                "x": Axis(np.arange(6) * 0.004, cm, 0.004),
            },
            name="planes",
            attrs={"source": str(folder)},
            chunks=(1, 5, 6),
            error=xiso.TiffError,
            where=r"'.*img_\d.tif'",
        )

    def open(self, path, **kwargs):
        return xiso.open_tiff(path, spacing={"z": 0.5}, **kwargs)

    def damage(self, written):
        for plane in written.path.iterdir():
            with tifffile.TiffFile(plane) as tif:
                first = min(tif.pages.first.dataoffsets)
            _truncate(plane, first)


# --------------------------------------------------------------------------
# NIfTI, written by nibabel
# --------------------------------------------------------------------------
class TestNifti(ReaderContract):
    """A 4-D NIfTI-1 whose x axis is flipped (L): its coordinate descends."""

    @pytest.fixture
    def written(self, tmp_path):
        voxels = _ramp((4, 5, 3, 2), "int16")  # (i, j, k, t), as nibabel holds it
        affine = np.array([[-2.0, 0, 0, 10.0], [0, 3.0, 0, -5.0], [0, 0, 4.0, 1.0], [0, 0, 0, 1]])
        image = nibabel.Nifti1Image(voxels, affine)
        image.header.set_xyzt_units("mm", "msec")
        image.header.set_zooms((2.0, 3.0, 4.0, 20.0))
        image.header["toffset"] = 5.0
        path = tmp_path / "head.nii"
        nibabel.save(image, path)
        mm = {"type": "space", "units": "millimeter"}
        return Written(
            path=path,
            values=voxels.transpose(3, 2, 1, 0),  # the voxel axes slowest first
            dims=("t", "z", "y", "x"),
            axes={
                "t": Axis(5.0 + np.arange(2) * 20.0, {"type": "time", "units": "millisecond"}, 20),
                "z": Axis(1.0 + np.arange(3) * 4.0, mm, 4.0),
                "y": Axis(-5.0 + np.arange(5) * 3.0, mm, 3.0),
                "x": Axis(10.0 - np.arange(4) * 2.0, mm, 2.0),  # descending; the step's size
            },
            name="head",
            attrs={"orientation": "".join(nibabel.aff2axcodes(affine)), "source": str(path)},
            chunks=(1, 3, 5, 4),  # no stored chunks: whole volumes of one time point
            error=xiso.NiftiError,
            where=r"'.*head.nii'",
        )

    def open(self, path, **kwargs):
        return xiso.open_nifti(path, **kwargs)

    def damage(self, written):
        header = nibabel.load(written.path).header
        _truncate(written.path, int(header["vox_offset"]))


def test_every_reader_is_checked():
    """Each reader xiso.open picks from (xiso.io.formats.FORMATS) has a contract class."""
    from xiso.io.formats import FORMATS

    checked = {"ome-zarr": [TestOmeZarr], "tiff": [TestOmeTiff, TestImageJTiff, TestTiffPlanes]}
    checked["nifti"] = [TestNifti]
    assert set(checked) == set(FORMATS)
    assert all(issubclass(c, ReaderContract) for cs in checked.values() for c in cs)
