"""open_nifti and to_nifti, on the NIfTI and PAR/REC files nibabel ships.

Expected coordinates are written out from the files' headers (see nibabel's
tests/data/README and the header dumps in the comments), not taken from xiso.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings

import dask
import numpy as np
import pytest
import xarray as xr

nibabel = pytest.importorskip("nibabel")
from nibabel.testing import data_path  # noqa: E402

import xiso  # noqa: E402
from xiso.io.nifti import NiftiError  # noqa: E402


def shipped(name):
    return os.path.join(data_path, name)


def test_functional_4d_flipped_x(raise_if_dask_computes):
    # functional.nii: 17 x 21 x 3 x 20 int16, affine diag(-4, 4, 8) + (32, -40, 0),
    # xyzt_units mm/sec, TR 2 s, scaled by scl_slope/scl_inter
    da = xiso.open_nifti(shipped("functional.nii"))
    assert da.dims == ("t", "z", "y", "x") and da.shape == (20, 3, 21, 17)
    np.testing.assert_array_equal(da.x.values, 32.0 - 4.0 * np.arange(17))  # L: descending
    np.testing.assert_array_equal(da.y.values, -40.0 + 4.0 * np.arange(21))
    np.testing.assert_array_equal(da.z.values, 8.0 * np.arange(3))
    np.testing.assert_array_equal(da.t.values, 2.0 * np.arange(20))
    assert da.attrs["orientation"] == "LAS" and "affine" not in da.attrs
    assert {d: da[d].attrs.get("units") for d in da.dims} == {
        "t": "second",
        "z": "millimeter",
        "y": "millimeter",
        "x": "millimeter",
    }
    assert da.iso.spacing == {"z": 8.0, "y": 4.0, "x": 4.0}  # descending coords are fine
    assert da.iso.factors() == {"z": 1, "y": 2, "x": 2}
    with pytest.warns(xiso.XisoWarning, match="drops 1 of the 21 samples of dimension 'y'"):
        iso = da.iso.near_isotropic()  # still lazy
    assert iso.sizes == {"t": 20, "z": 3, "y": 10, "x": 8}


def test_values_are_nibabels_scaled_data():
    image = nibabel.load(shipped("functional.nii"))
    da = xiso.open_nifti(shipped("functional.nii"))
    expected = np.asarray(image.dataobj).transpose(3, 2, 1, 0)
    assert da.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(da.values, expected)


def test_big_endian_3d_and_chunks():
    # anatomical.nii: 33 x 41 x 25 big-endian int16, 2 mm, affine offsets (32, -40, -16)
    da = xiso.open_nifti(shipped("anatomical.nii"), chunks={"z": 10})
    assert da.dims == ("z", "y", "x") and da.dtype == np.dtype("int16")
    assert da.chunks == ((10, 10, 5), (41,), (33,))
    np.testing.assert_array_equal(da.z.values, -16.0 + 2.0 * np.arange(25))
    image = nibabel.load(shipped("anatomical.nii"))
    np.testing.assert_array_equal(da.values, np.asarray(image.dataobj).T)


def test_unknown_units_are_left_out():
    # standard.nii.gz: 4 x 5 x 7 uint8, affine diag(1, 3, 2), xyzt_units unknown
    da = xiso.open_nifti(shipped("standard.nii.gz"))
    assert da.attrs["orientation"] == "RAS"
    assert all("units" not in da[d].attrs for d in da.dims)
    assert da.iso.spacing == {"z": 2.0, "y": 3.0, "x": 1.0}


def test_oblique_is_refused_unless_ignored():
    with pytest.raises(NiftiError, match=r"example4d.nii.gz' is oblique .* oblique='ignore'"):
        xiso.open_nifti(shipped("example4d.nii.gz"))
    image = nibabel.load(shipped("example4d.nii.gz"))
    da = xiso.open_nifti(shipped("example4d.nii.gz"), oblique="ignore")
    norms = np.sqrt((np.asarray(image.affine)[:3, :3] ** 2).sum(axis=0))
    assert da.dims == ("t", "z", "y", "x") and da.shape == (2, 24, 96, 128)
    np.testing.assert_array_equal(da.x.values, norms[0] * np.arange(128))
    np.testing.assert_array_equal(da.z.values, norms[2] * np.arange(24))
    np.testing.assert_array_equal(np.array(da.attrs["affine"]), image.affine)
    with pytest.raises(xiso.OptionError, match="oblique='sideways'; pass 'raise'"):
        xiso.open_nifti(shipped("anatomical.nii"), oblique="sideways")


def test_par_rec_epi_phantom():
    """The 3.75 x 3.75 x 8 mm EPI phantom (PAR/REC, oblique, 3 dynamics)."""
    with pytest.raises(NiftiError, match="is oblique"):
        xiso.open_nifti(shipped("phantom_EPI_asc_CLEAR_2_1.PAR"))
    da = xiso.open_nifti(shipped("phantom_EPI_asc_CLEAR_2_1.PAR"), oblique="ignore")
    assert da.dims == ("t", "z", "y", "x") and da.shape == (3, 9, 64, 64)
    for dim, step in {"z": 8.0, "y": 3.75, "x": 3.75}.items():
        np.testing.assert_allclose(da[dim].values, step * np.arange(da.sizes[dim]), rtol=1e-6)
        assert da[dim].attrs["units"] == "millimeter"
    assert da.iso.factors() == {"z": 1, "y": 2, "x": 2}
    assert da.attrs["orientation"] == "LPS"


def test_bad_files(tmp_path):
    with pytest.raises(NiftiError, match="no file at"):
        xiso.open_nifti(tmp_path / "missing.nii")
    (tmp_path / "text.nii").write_text("not an image")
    with pytest.raises(NiftiError, match="cannot be read as a NIfTI"):
        xiso.open_nifti(tmp_path / "text.nii")
    nibabel.save(
        nibabel.Nifti1Image(np.zeros((2, 3, 4, 5, 6), "uint8"), np.eye(4)), tmp_path / "5d.nii"
    )
    with pytest.raises(NiftiError, match="is a 5-D Nifti1Image; xiso reads 3-D and 4-D"):
        xiso.open_nifti(tmp_path / "5d.nii")
    assert issubclass(NiftiError, xiso.XisoError)


def test_pickles(tmp_path):
    da = xiso.open_nifti(shipped("standard.nii.gz"))
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(da)).values, da.values)


def _volume(units="mm", t=None):
    coords = {
        "z": ("z", 10.0 + 3.0 * np.arange(4), {"units": units}),
        "y": ("y", 5.0 - 0.5 * np.arange(5), {"units": units}),  # descending: a flip
        "x": ("x", -8.0 + 0.25 * np.arange(6), {"units": units}),
    }
    dims = ("z", "y", "x")
    shape = (4, 5, 6)
    if t is not None:
        coords["t"] = ("t", 1.0 + 0.5 * np.arange(t), {"units": "second"})
        dims, shape = ("t", *dims), (t, *shape)
    data = np.arange(np.prod(shape), dtype="int16").reshape(shape)
    return xr.DataArray(data, dims=dims, coords=coords, name="vol")


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz"])
@pytest.mark.parametrize("t", [None, 3])
def test_to_nifti_round_trip(tmp_path, suffix, t):
    da = _volume(t=t)
    path = tmp_path / f"vol{suffix}"
    da.iso.to_nifti(path)
    image = nibabel.load(path)
    expected = np.array(
        [[0.25, 0, 0, -8.0], [0, -0.5, 0, 5.0], [0, 0, 3.0, 10.0], [0, 0, 0, 1]]
    )  # i, j, k = x, y, z
    np.testing.assert_array_equal(image.affine, expected)
    assert image.header.get_xyzt_units() == ("mm", "sec" if t else "unknown")
    back = xiso.open_nifti(path)
    assert back.dims == da.dims
    for dim in da.dims:
        np.testing.assert_array_equal(back[dim].values, da[dim].values)
    np.testing.assert_array_equal(back.values, da.values)
    assert back.attrs["orientation"] == "RPS"


@pytest.mark.parametrize(
    ("units", "nifti", "scale"),
    [("um", "micron", 1.0), ("micrometer", "micron", 1.0), ("nm", "mm", 1e-6)],
)
def test_to_nifti_units_converted(tmp_path, units, nifti, scale):
    path = tmp_path / "u.nii"
    xiso.to_nifti(_volume(units=units), path)
    image = nibabel.load(path)
    assert image.header.get_xyzt_units()[0] == nifti
    np.testing.assert_allclose(np.diag(image.affine)[:3], np.array([0.25, -0.5, 3.0]) * scale)


def test_to_nifti_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "vol.nii.gz"
    _volume().iso.to_nifti(path)
    before = path.read_bytes()
    with pytest.raises(xiso.StoreExistsError, match="exists; pass overwrite=True"):
        _volume().iso.to_nifti(path)

    def fail(image, filename):
        with open(filename, "wb") as f:
            f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(nibabel, "save", fail)
    with pytest.raises(OSError, match="disk full"):
        (_volume() * 2).iso.to_nifti(path, overwrite=True)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["vol.nii.gz"]
    monkeypatch.undo()
    (_volume() * 2).iso.to_nifti(path, overwrite=True)
    np.testing.assert_array_equal(xiso.open_nifti(path).values, _volume().values * 2)
    assert os.listdir(tmp_path) == ["vol.nii.gz"]


def test_to_nifti_errors(tmp_path):
    with pytest.raises(NiftiError, match=r"'.*vol.zarr' does not end in .nii or .nii.gz"):
        _volume().iso.to_nifti(tmp_path / "vol.zarr")
    with pytest.raises(xiso.SpatialDimError, match="NIfTI holds three spatial dims"):
        _volume().isel(z=0).iso.to_nifti(tmp_path / "v.nii")
    two = _volume(t=2).expand_dims(c=2)
    with pytest.raises(xiso.SpatialDimError, match=r"the others \('c', 't'\)"):
        two.iso.to_nifti(tmp_path / "v.nii")
    mixed = _volume()
    mixed.x.attrs.pop("units")
    with pytest.raises(NiftiError, match="set attrs\\['units'\\] on every spatial coordinate"):
        mixed.iso.to_nifti(tmp_path / "v.nii")
    (tmp_path / "dir.nii").mkdir()
    with pytest.raises(xiso.StoreExistsError, match="is a folder"):
        _volume().iso.to_nifti(tmp_path / "dir.nii")


@pytest.mark.parametrize("name", ["standard.nii.gz", "reoriented_anat_moved.nii", "functional.nii"])
def test_round_trip_through_ome_zarr(tmp_path, name):
    """nibabel's files -> to_ome_zarr -> open_ome_zarr: the same coords, bit for bit
    (NGFF scales are positive, so a flipped axis is sorted first)."""
    da = xiso.open_nifti(shipped(name))
    if da.x.values[-1] < da.x.values[0]:
        da = da.sortby("x")
        np.testing.assert_array_equal(da.x.values, -32.0 + 4.0 * np.arange(17))
    xiso.to_ome_zarr(da, tmp_path / "out.ome.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "out.ome.zarr")
    assert back.dims == da.dims
    for dim in da.dims:
        np.testing.assert_array_equal(back[dim].values, da[dim].values)
        assert back[dim].attrs.get("units") == da[dim].attrs.get("units")
    np.testing.assert_array_equal(back.values, da.values)


def test_without_nibabel(monkeypatch, tmp_path):
    monkeypatch.setitem(__import__("sys").modules, "nibabel", None)
    with pytest.raises(ModuleNotFoundError, match=r'pip install nibabel, .*"\.\[nifti\]" in a'):
        xiso.open_nifti(shipped("standard.nii.gz"))
    with pytest.raises(ModuleNotFoundError, match=r'pip install nibabel, .*"\.\[nifti\]" in a'):
        _volume().iso.to_nifti(tmp_path / "v.nii")


@pytest.mark.parametrize(
    "affine",
    [
        # ASR-like: i along y, j along z, k along x (a sagittal scan)
        [[0, 0, 1.0, -3.0], [1.5, 0, 0, 4.0], [0, 2.0, 0, 5.0], [0, 0, 0, 1]],
        # AIR-like: i along y, j along -z, k along x
        [[0, 0, 0.5, 0], [2.0, 0, 0, 0], [0, -3.0, 0, 7.0], [0, 0, 0, 1]],
        # i along z, j along x, k along -y
        [[0, 1.25, 0, 0], [0, 0, -1.0, 2.0], [4.0, 0, 0, 0], [0, 0, 0, 1]],
    ],
)
def test_to_nifti_keeps_a_permuted_affine(tmp_path, affine):
    """Voxel axes in another order than x, y, z (sagittal, coronal scans) write
    back the affine they were read with, with no stray diagonal 1."""
    affine = np.array(affine)
    data = np.arange(4 * 5 * 6, dtype="int16").reshape(4, 5, 6)
    nibabel.save(nibabel.Nifti1Image(data, affine), tmp_path / "s.nii")
    xiso.to_nifti(xiso.open_nifti(tmp_path / "s.nii"), tmp_path / "rt.nii")
    back = nibabel.load(tmp_path / "rt.nii")
    np.testing.assert_array_equal(back.affine, affine)
    np.testing.assert_array_equal(np.asarray(back.dataobj), data)


def test_header_without_its_image_file(tmp_path):
    """nibabel ships nifti1.hdr without its nifti1.img: open names the missing file."""
    with pytest.raises(NiftiError, match=r"points to the image file '.*nifti1.img', which does"):
        xiso.open_nifti(shipped("nifti1.hdr"))


def test_open_reads_no_voxel(tmp_path, monkeypatch):
    """The dtype after scaling comes from the header: nibabel's own arrays give it."""
    raw = np.arange(24, dtype="int16").reshape(2, 3, 4)
    cases = {"plain.nii": (None, None), "scaled.nii": (0.5, 10.0), "slope.nii": (2.0, 0.0)}
    for name, (slope, inter) in cases.items():
        image = nibabel.Nifti1Image(raw, np.eye(4))
        image.header.set_slope_inter(slope, inter)
        nibabel.save(image, tmp_path / name)
    expected = {n: np.asarray(nibabel.load(tmp_path / n).dataobj) for n in cases}
    par = shipped("phantom_EPI_asc_CLEAR_2_1.PAR")
    par_dtype = np.asarray(nibabel.load(par).dataobj).dtype
    reads = []
    real = nibabel.arrayproxy.ArrayProxy._get_unscaled
    monkeypatch.setattr(
        nibabel.arrayproxy.ArrayProxy,
        "_get_unscaled",
        lambda self, slicer: reads.append(slicer) or real(self, slicer),
    )
    for name in cases:
        da = xiso.open_nifti(tmp_path / name)
        assert da.dtype == expected[name].dtype, name
        assert reads == [], name
        np.testing.assert_array_equal(da.values, expected[name].T)
        reads.clear()
    assert xiso.open_nifti(par, oblique="ignore").dtype == par_dtype
    assert reads == []


def test_to_nifti_into_a_missing_folder(tmp_path):
    with pytest.raises(NiftiError, match=r"the folder '.*missing_dir' of '.*x.nii' does not exist"):
        xiso.to_nifti(_volume(), tmp_path / "missing_dir" / "x.nii")
    assert os.listdir(tmp_path) == []


# nibabel's scaled formats: MINC1, MINC2 (image range), AFNI (BRICK_FLOAT_FACS),
# MGH, NIfTI-2, PAR/REC with varying scales; unscaled ones as controls
SCALED = [
    "tiny.mnc",
    "small.mnc",
    "minc1_1_scale.mnc",
    "minc1_4d.mnc",
    "minc2_1_scale.mnc",
    "minc2_4d.mnc",
    "minc2-4d-d.mnc",
    "scaled+tlrc.HEAD",
    "example4d+orig.HEAD",
    "test.mgz",
    "phantom_varscale.PAR",
    "example_nifti2.nii.gz",
    "resampled_anat_moved.nii",
]


@pytest.mark.parametrize("name", SCALED)
def test_values_are_nibabels_for_every_format(name, raise_if_dask_computes):
    """np.asanyarray(image.dataobj) is the reference: same dtype (byte order
    aside), same values; the open stays lazy."""
    da = xiso.open_nifti(shipped(name), oblique="ignore")
    image = nibabel.load(shipped(name))
    expected = np.asanyarray(image.dataobj)
    assert da.dtype == expected.dtype.newbyteorder("=")
    assert da.shape == expected.shape[::-1]
    with dask.config.set(scheduler="sync"):
        got = da.values.transpose()
    np.testing.assert_array_equal(got, expected)


def test_scaled_minc_and_afni_are_not_zeros():
    """The issue's cases: tiny.mnc and scaled+tlrc.HEAD hold fractions in [0, 1)
    that a cast to the stored integers turned into zeros."""
    for name in ("tiny.mnc", "scaled+tlrc.HEAD"):
        expected = np.asanyarray(nibabel.load(shipped(name)).dataobj)
        assert expected.dtype.kind == "f" and np.count_nonzero(expected) > 0
        assert np.count_nonzero(xiso.open_nifti(shipped(name), oblique="ignore").values) > 0


def test_values_are_never_cast(monkeypatch):
    """Values of another dtype than the header said raise instead of being cast."""
    from xiso.io import nifti

    monkeypatch.setattr(nifti, "_scaled_dtype", lambda image, path: np.dtype("int16"))
    da = xiso.open_nifti(shipped("functional.nii"))  # float64 values (scl_slope)
    with pytest.raises(NiftiError, match=r"nibabel gives float64 values .* said int16"):
        da.compute()


# --------------------------------------------------------------------------
# descending axes (L, P, I): one behaviour from Python and the command line
# --------------------------------------------------------------------------
def _store_files(root):
    """{relative path: bytes} of every file of a local store, the group
    metadata parsed with its write id left out (it differs per write)."""
    out = {}
    for folder, _, files in os.walk(root):
        for f in files:
            path = os.path.join(folder, f)
            rel = os.path.relpath(path, root)
            with open(path, "rb") as fh:
                content = fh.read()
            if rel == "zarr.json":
                meta = json.loads(content)
                del meta["attributes"]["xiso"]["write_id"]
                content = meta
            out[rel] = content
    return out


@pytest.mark.parametrize("name", ["functional.nii", "anatomical.nii"])
@pytest.mark.parametrize(
    "grid, flags",
    [(lambda da: da.iso.near_isotropic(), []), (lambda da: da.iso.isotropic(), ["--isotropic"])],
    ids=["near_isotropic", "isotropic"],
)
def test_python_and_cli_write_the_same_store(tmp_path, name, grid, flags):
    """nibabel's LAS volumes: the Python path and ``xiso convert`` give the same
    store, chunk by chunk and in its metadata."""
    from xiso.cli import main

    da = xiso.open_nifti(shipped(name))
    assert da.attrs["orientation"] == "LAS" and da.x.values[-1] < da.x.values[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xiso.XisoWarning)  # the dropped edge is said
        grid(da).iso.to_ome_zarr(tmp_path / "python.ome.zarr", min_size=4)
        assert (
            main(
                [
                    "convert",
                    "--quiet",
                    "--min-size",
                    "4",
                    *flags,
                    shipped(name),
                    str(tmp_path / "cli.ome.zarr"),
                ]
            )
            == 0
        )
    python, cli = (
        _store_files(tmp_path / "python.ome.zarr"),
        _store_files(tmp_path / "cli.ome.zarr"),
    )
    assert sorted(python) == sorted(cli) and any("/c/" in k for k in python)
    for key in python:
        assert python[key] == cli[key], key


def test_trimmed_edge_is_the_files_last_voxel(tmp_path):
    """functional.nii: 17 x 21 x 3 x 20 voxels (i, j, k, t), 4 x 4 x 8 mm, x
    descending from 32. near_isotropic halves x and y, dropping the last i and
    j voxel as numpy would (the file's own order), whatever the direction;
    the store holds x ascending, each block at its centre."""
    from xiso.cli import main

    data = np.asanyarray(nibabel.load(shipped("functional.nii")).dataobj)  # (i, j, k, t)
    blocks = data[:16, :20].reshape(8, 2, 10, 2, 3, 20).mean(axis=(1, 3))
    expected = blocks[::-1].transpose(3, 2, 1, 0)  # (t, z, y, x), x ascending
    x_expected = (32.0 - 4.0 * np.arange(16)).reshape(8, 2).mean(axis=1)[::-1]
    assert x_expected[0] == -26.0  # the voxel at x = -32 (i = 16) is the one dropped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", xiso.XisoWarning)
        assert (
            main(
                [
                    "convert",
                    "--quiet",
                    "--no-pyramid",
                    shipped("functional.nii"),
                    str(tmp_path / "cli.ome.zarr"),
                ]
            )
            == 0
        )
        iso = xiso.open_nifti(shipped("functional.nii")).iso.near_isotropic()
        iso.iso.to_ome_zarr(tmp_path / "python.ome.zarr", pyramid=False)
    for store in ("cli.ome.zarr", "python.ome.zarr"):
        back = xiso.open_ome_zarr(tmp_path / store)
        np.testing.assert_array_equal(back.x.values, x_expected)
        np.testing.assert_array_equal(back.y.values, -38.0 + 8.0 * np.arange(10))
        np.testing.assert_allclose(back.values, expected, rtol=1e-12)
        assert back.attrs["orientation"] == "RAS"


def _codes_of(da):
    """NIfTI codes of the voxel axes (x, y, z here), from the coordinates alone."""
    pairs = {"x": "LR", "y": "PA", "z": "IS"}
    return "".join(pairs[d][int(da[d].values[-1] > da[d].values[0])] for d in ("x", "y", "z"))


def test_orientation_is_derived_from_the_data(tmp_path):
    """After a user's sortby the written orientation says R, as the data do."""
    da = xiso.open_nifti(shipped("anatomical.nii"))
    assert da.attrs["orientation"] == _codes_of(da) == "LAS"
    ras = da.sortby("x")
    assert _codes_of(ras) == "RAS"
    ras.iso.to_ome_zarr(tmp_path / "sorted.ome.zarr", pyramid=False)
    assert xiso.open_ome_zarr(tmp_path / "sorted.ome.zarr").attrs["orientation"] == "RAS"
    assert ras.iso.downsample(z=5).attrs["orientation"] == "RAS"  # xiso's grids derive it
    da.iso.to_ome_zarr(tmp_path / "las.ome.zarr", pyramid=False)
    back = xiso.open_ome_zarr(tmp_path / "las.ome.zarr")
    assert back.attrs["orientation"] == _codes_of(back) == "RAS"
    np.testing.assert_array_equal(back.values, da.values[:, :, ::-1])


def test_every_axis_flipped(tmp_path):
    """An LPI volume (all three axes descending) is stored RAS, each voxel at its
    coordinate; the label image beside it flips with it."""
    raw = np.arange(4 * 6 * 8, dtype="uint16").reshape(4, 6, 8)  # (i, j, k)
    affine = np.array([[-1.0, 0, 0, 5], [0, -2.0, 0, 20], [0, 0, -4.0, 40], [0, 0, 0, 1]])
    nibabel.save(nibabel.Nifti1Image(raw, affine), tmp_path / "lpi.nii")
    da = xiso.open_nifti(tmp_path / "lpi.nii")
    assert da.attrs["orientation"] == "LPI"
    seg = (da % 3).astype("uint8").rename("seg")
    da.iso.to_ome_zarr(tmp_path / "lpi.ome.zarr", pyramid=False, labels={"seg": seg})
    back = xiso.open_ome_zarr(tmp_path / "lpi.ome.zarr")
    np.testing.assert_array_equal(back.values, raw[::-1, ::-1, ::-1].T)
    np.testing.assert_array_equal(back.x.values, 5.0 - 1.0 * np.arange(4)[::-1])
    np.testing.assert_array_equal(back.z.values, 40.0 - 4.0 * np.arange(8)[::-1])
    assert back.attrs["orientation"] == "RAS"
    label = xiso.open_ome_zarr(tmp_path / "lpi.ome.zarr", label="seg")
    np.testing.assert_array_equal(label.values, raw[::-1, ::-1, ::-1].T % 3)


@pytest.mark.parametrize(
    "name",
    [
        "functional.nii",
        "anatomical.nii",
        "example4d.nii.gz",
        "standard.nii.gz",
        "phantom_EPI_asc_CLEAR_2_1.PAR",
        "small.mnc",
        "minc1_4d.mnc",
        "scaled+tlrc.HEAD",
    ],
)
def test_derived_orientation_is_nibabels(name):
    """The orientation follow_grid derives (from the coordinates, or the affine
    of an oblique image) is nibabel's aff2axcodes of the file."""
    from xiso.io.nifti import follow_grid

    da = xiso.open_nifti(shipped(name), oblique="ignore")
    expected = "".join(nibabel.aff2axcodes(nibabel.load(shipped(name)).affine))
    stripped = da.copy()
    stripped.attrs["orientation"] = "RAS" if expected != "RAS" else "LPI"  # stale on purpose
    assert follow_grid(da, stripped).attrs["orientation"] == expected


# --------------------------------------------------------------------------
# oblique="ignore": the affine stays the affine of the grid it sits on
# --------------------------------------------------------------------------
def _check_affine_of_grid(affine, da, source_affine):
    """``affine`` maps each voxel of ``da`` where the source affine puts the
    same point: the coordinates of an oblique image are the source's voxel
    index times the voxel size (from 0), so world = A @ (coord / size)."""
    affine = np.asarray(affine)
    sizes = np.sqrt((source_affine[:3, :3] ** 2).sum(axis=0))  # i, j, k = x, y, z here
    steps = [float(da[d].values[1] - da[d].values[0]) for d in ("x", "y", "z")]
    np.testing.assert_allclose(np.sqrt((affine[:3, :3] ** 2).sum(axis=0)), steps, rtol=1e-6)
    rng = np.random.default_rng(0)
    for _ in range(20):
        index = [int(rng.integers(da.sizes[d])) for d in ("x", "y", "z")]
        coords = np.array([da[d].values[i] for d, i in zip(("x", "y", "z"), index)])
        world = source_affine @ np.append(coords / sizes, 1.0)
        np.testing.assert_allclose(affine @ np.append(index, 1.0), world, rtol=0, atol=1e-5)


def test_oblique_affine_follows_the_grid(tmp_path):
    """example4d.nii.gz (rotated, 2 x 2 x 2.2 mm) resampled to 4 x 4 x 6 mm:
    attrs['affine'], the OME-Zarr's (every level) and the NIfTI's are the
    affine of their own grid, rotation kept."""
    source = np.asarray(nibabel.load(shipped("example4d.nii.gz")).affine)
    da = xiso.open_nifti(shipped("example4d.nii.gz"), oblique="ignore")
    _check_affine_of_grid(da.attrs["affine"], da, source)
    new = da.iso.resample({"z": 6.0, "y": 4.0, "x": 4.0})
    _check_affine_of_grid(new.attrs["affine"], new, source)
    assert new.attrs["orientation"] == "LAS"

    new.iso.to_ome_zarr(tmp_path / "o.ome.zarr", min_size=8)
    tree = xiso.open_ome_zarr_pyramid(tmp_path / "o.ome.zarr")
    assert len(tree.children) >= 2
    for level in range(len(tree.children)):
        back = xiso.open_ome_zarr(tmp_path / "o.ome.zarr", level=level)
        _check_affine_of_grid(back.attrs["affine"], back, source)

    with warnings.catch_warnings():
        warnings.simplefilter("error", xiso.XisoWarning)
        new.isel(t=0).iso.to_nifti(tmp_path / "o.nii.gz")
    _check_affine_of_grid(nibabel.load(tmp_path / "o.nii.gz").affine, new, source)

    half = xiso.pyramid(da, min_size=8)["1"].to_dataset()[da.name]  # x and y halved
    _check_affine_of_grid(half.attrs["affine"], half, source)


def test_stale_affine_warns_when_written(tmp_path):
    """A grid changed outside xiso (isel) leaves attrs['affine'] behind: to_nifti
    says so and writes the axis-aligned affine of the coordinates."""
    from xiso.errors import AffineWarning

    da = xiso.open_nifti(shipped("example4d.nii.gz"), oblique="ignore").isel(t=0)
    every_other = da.isel(x=slice(None, None, 2))
    with pytest.warns(
        AffineWarning,
        match=r"attrs\['affine'\] has voxel sizes \[2.0, .*"
        r"step by \[4.0, .*not the affine of this grid",
    ):
        every_other.iso.to_nifti(tmp_path / "stale.nii")
    written = nibabel.load(tmp_path / "stale.nii").affine
    steps = [every_other[d].values[1] - every_other[d].values[0] for d in ("x", "y", "z")]
    np.testing.assert_allclose(written[:3, :3], np.diag(steps))


def test_affine_dropped_when_the_grid_is_not_regular():
    """boundary='pad' makes the last block shorter: no affine fits, it is dropped."""
    from xiso.errors import AffineWarning

    da = xiso.open_nifti(shipped("example4d.nii.gz"), oblique="ignore")
    with pytest.warns(AffineWarning, match=r"attrs\['affine'\] .* is dropped.*'x' is not evenly"):
        padded = da.iso.downsample(x=3, boundary="pad")
    assert "affine" not in padded.attrs and padded.attrs["orientation"] == "LAS"
