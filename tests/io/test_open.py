"""xiso.open picks the reader; xiso info and xiso convert take TIFF and NIfTI input."""

from __future__ import annotations

import gzip
import json
import os
import shutil

import numpy as np
import pytest
import xarray as xr

tifffile = pytest.importorskip("tifffile")
nibabel = pytest.importorskip("nibabel")
from nibabel.testing import data_path  # noqa: E402

import xiso  # noqa: E402
from xiso.cli import main  # noqa: E402
from xiso.io.formats import FormatError, format_of, ngff_order  # noqa: E402


@pytest.fixture
def files(tmp_path):
    """One input of each kind, with the data each holds."""
    data = np.arange(4 * 8 * 8, dtype="uint16").reshape(4, 8, 8)
    out = {"data": data}
    out["tif"] = tmp_path / "stack.ome.tif"
    tifffile.imwrite(
        out["tif"],
        data,
        ome=True,
        metadata={"axes": "ZYX", "PhysicalSizeZ": 2.0, "PhysicalSizeY": 0.5, "PhysicalSizeX": 0.5},
    )
    out["nii"] = tmp_path / "head.nii.gz"
    nibabel.save(nibabel.Nifti1Image(data.T, np.diag([0.5, 0.5, 2.0, 1.0])), out["nii"])
    out["planes"] = tmp_path / "planes"
    out["planes"].mkdir()
    for i, plane in enumerate(data):
        tifffile.imwrite(out["planes"] / f"p{i}.tif", plane)
    out["zarr"] = tmp_path / "img.ome.zarr"
    xiso.to_ome_zarr(xiso.open_tiff(out["tif"]), out["zarr"], pyramid=False)
    return out


def test_open_picks_the_reader(files):
    data = files["data"]
    for key in ("tif", "nii", "zarr"):
        da = xiso.open(files[key])
        assert da.dims == ("z", "y", "x"), key
        assert da.iso.spacing == {"z": 2.0, "y": 0.5, "x": 0.5}, key
        np.testing.assert_array_equal(da.values, data)
    da = xiso.open(files["planes"], spacing={"z": 2, "y": 0.5, "x": 0.5})
    np.testing.assert_array_equal(da.values, data)
    glob = xiso.open(str(files["planes"] / "p*.tif"), spacing={"z": 2, "y": 0.5, "x": 0.5})
    xr.testing.assert_identical(glob.drop_attrs(), da.drop_attrs())


def test_content_decides_without_a_suffix(files, tmp_path):
    shutil.copy(files["tif"], tmp_path / "no_suffix_tiff")
    with gzip.open(files["nii"]) as f:
        (tmp_path / "no_suffix_nifti").write_bytes(f.read())
    shutil.copy(files["nii"], tmp_path / "gzipped_nifti.bin")
    assert format_of(tmp_path / "no_suffix_tiff") == "tiff"
    assert format_of(tmp_path / "no_suffix_nifti") == "nifti"
    assert format_of(tmp_path / "gzipped_nifti.bin") == "nifti"
    assert format_of(os.path.join(data_path, "phantom_EPI_asc_CLEAR_2_1.PAR")) == "nifti"
    assert format_of("s3://bucket/image.ome.zarr") == "ome-zarr"


def test_unknown_input(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    accepted = r"xiso opens an OME-Zarr image group .* a TIFF file .* a NIfTI file"
    with pytest.raises(FormatError, match=r"'.*notes.txt' is in no format xiso reads.*" + accepted):
        xiso.open(tmp_path / "notes.txt")
    (tmp_path / "folder").mkdir()
    with pytest.raises(FormatError, match=r"is no zarr group and holds no TIFF files; " + accepted):
        xiso.open(tmp_path / "folder")
    with pytest.raises(FormatError, match=r"no file or folder at '.*picture.png'"):
        xiso.open(tmp_path / "picture.png")
    with pytest.raises(xiso.OmeZarrError, match="no zarr group at"):
        xiso.open(tmp_path / "missing.ome.zarr")
    assert issubclass(FormatError, xiso.XisoError)


def test_keywords_the_reader_does_not_take(files):
    with pytest.raises(
        xiso.OptionError,
        match=r"open_nifti \(the reader of nifti input '.*head.nii.gz'\) does not take "
        r"spacing=; it takes oblique, chunks",
    ):
        xiso.open(files["nii"], spacing={"z": 1})


def test_ngff_order():
    da = xr.DataArray(np.zeros((2, 3, 4, 5, 6)), dims=("t", "z", "c", "y", "x"))
    assert ngff_order(da).dims == ("t", "c", "z", "y", "x")
    same = xr.DataArray(np.zeros((2, 3)), dims=("y", "x"))
    assert ngff_order(same) is same


@pytest.mark.parametrize("key", ["tif", "nii"])
def test_cli_convert_and_info(files, tmp_path, capsys, key):
    out = tmp_path / f"{key}.ome.zarr"
    assert main(["convert", "--quiet", str(files[key]), str(out)]) == 0
    back = xiso.open_ome_zarr(out)
    assert back.iso.spacing == {"z": 2.0, "y": 2.0, "x": 2.0}
    expected = files["data"].reshape(4, 2, 4, 2, 4).mean(axis=(2, 4))
    np.testing.assert_array_equal(back.values, np.round(expected).astype("uint16"))
    capsys.readouterr()
    assert main(["info", "--json", str(files[key])]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == {"tif": "tiff", "nii": "nifti"}[key]
    assert report["spacing"] == {"z": 2.0, "y": 0.5, "x": 0.5}
    assert report["near_isotropic_factors"] == {"z": 1, "y": 4, "x": 4}
    assert report["labels"] == [] and report["leftovers"] == []
    assert main(["info", str(files[key])]) == 0
    assert f"({report['format'].upper()}, name " in capsys.readouterr().out


def test_cli_hyperstack_goes_to_ngff_order(tmp_path):
    """An ImageJ hyperstack is TZCYX; NGFF wants TCZYX: convert reorders it."""
    path = tmp_path / "hyper.tif"
    data = np.arange(2 * 4 * 3 * 4 * 4, dtype="uint8").reshape(2, 4, 3, 4, 4)
    tifffile.imwrite(
        path, data, imagej=True, resolution=(1.0, 1.0), metadata={"axes": "TZCYX", "unit": "um"}
    )
    assert main(["convert", "--quiet", "--no-pyramid", str(path), str(tmp_path / "o.zarr")]) == 0
    back = xiso.open_ome_zarr(tmp_path / "o.zarr")
    assert back.dims == ("t", "c", "z", "y", "x")
    np.testing.assert_array_equal(back.values, data.transpose(0, 2, 1, 3, 4))


def test_cli_errors_are_one_line(files, tmp_path, capsys):
    assert main(["convert", str(files["planes"]), str(tmp_path / "o.zarr")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("xiso: error: '") and "does not say the spacing of dimensions" in err
    assert "on the command line: --input-spacing z=2.0 --input-spacing y=2.0" in err
    pattern = str(files["planes"] / "p*.tif")
    assert main(["info", pattern]) == 1
    assert "does not say the spacing" in capsys.readouterr().err
    assert main(["convert", "--level", "1", str(files["tif"]), str(tmp_path / "o.zarr")]) == 1
    assert "--level 1: the input is TIFF, which has one level" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["info", str(tmp_path / "notes.txt")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is in no format xiso reads" in err
    assert not (tmp_path / "o.zarr").exists()


def test_cli_converts_a_flipped_nifti(tmp_path):
    """An L (right-to-left) x axis has descending coordinates, which NGFF cannot
    scale: convert reverses it, each voxel keeping its world coordinate."""
    data = np.arange(8 * 8 * 4, dtype="int16").reshape(8, 8, 4)  # (i, j, k) = (x, y, z)
    affine = np.array([[-2.0, 0, 0, 0], [0, 2.0, 0, 10], [0, 0, 4.0, 20], [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(data, affine), tmp_path / "las.nii")
    out = tmp_path / "las.ome.zarr"
    assert main(["convert", "--quiet", "--no-pyramid", str(tmp_path / "las.nii"), str(out)]) == 0
    back = xiso.open_ome_zarr(out)
    np.testing.assert_array_equal(back.x.values, -13.0 + 4.0 * np.arange(4))  # block centres
    np.testing.assert_array_equal(back.y.values, 11.0 + 4.0 * np.arange(4))
    np.testing.assert_array_equal(back.z.values, 20.0 + 4.0 * np.arange(4))
    zyx = data.T[:, :, ::-1]  # x ascending: the last voxel (x = -14) first
    expected = zyx.reshape(4, 4, 2, 4, 2).mean(axis=(2, 4))
    np.testing.assert_array_equal(back.values, np.round(expected).astype("int16"))
    assert back.attrs["orientation"] == "RAS"


def test_cli_input_spacing(files, tmp_path, capsys):
    """A folder of planes says no z spacing: --input-spacing gives it."""
    out = tmp_path / "o.zarr"
    code = main(
        [
            "convert",
            "--quiet",
            "--no-pyramid",
            "--input-spacing",
            "z=2.5",
            "--input-spacing",
            "y=0.5",
            "--input-spacing",
            "x=0.5",
            str(files["planes"]),
            str(out),
        ]
    )
    assert code == 0
    back = xiso.open_ome_zarr(out)
    expected = xiso.open(
        files["planes"], spacing={"z": 2.5, "y": 0.5, "x": 0.5}
    ).iso.near_isotropic()
    np.testing.assert_array_equal(back.z.values, expected.z.values)
    np.testing.assert_array_equal(back.values, expected.values)
    spacing = ["--input-spacing", "z=2.5", "--input-spacing", "y=0.5", "--input-spacing", "x=0.5"]
    assert main(["info", *spacing, str(files["planes"])]) == 0
    assert "z=2.5" in capsys.readouterr().out
    assert main(["convert", "--input-spacing", "z", str(files["planes"]), str(tmp_path / "x")]) == 1
    assert "write DIM=VALUE" in capsys.readouterr().err
    assert main(["convert", "--input-spacing", "z=1", str(out), str(tmp_path / "y")]) == 1
    assert "whose spacing its own metadata gives" in capsys.readouterr().err


def test_info_refuses_planes_that_differ(files, capsys):
    """The planes' headers are checked at open, so `xiso info` fails as convert would."""
    tifffile.imwrite(files["planes"] / "p9.tif", np.full((8, 8), -3, "int16"))
    spacing = ["--input-spacing", "z=2", "--input-spacing", "y=0.5", "--input-spacing", "x=0.5"]
    assert main(["info", *spacing, str(files["planes"])]) == 1
    err = capsys.readouterr().err
    assert "p9.tif' is a (8, 8) int16 plane, but" in err and "p0.tif' is a (8, 8) uint16" in err
    with pytest.raises(xiso.io.tiff.TiffError, match="must have the same shape and dtype"):
        xiso.open(files["planes"], spacing={"z": 2, "y": 0.5, "x": 0.5})
