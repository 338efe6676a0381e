"""Every bad store or argument at the edge gives one XisoError that names the
path or dim and the fix (and one line, exit 1, on the command line)."""

import json
import shutil

import numpy as np
import pytest
import zarr
from iohelpers import image

import xiso
from xiso.cli import main


@pytest.fixture
def stores(tmp_path):
    xiso.to_ome_zarr(image(), tmp_path / "v5.zarr", pyramid=False, chunks=4)
    xiso.to_ome_zarr(image(), tmp_path / "v4.zarr", pyramid=False, chunks=4, version="0.4")
    return tmp_path


def _edit(path, name, change):
    meta = json.loads((path / name).read_text())
    change(meta)
    (path / name).write_text(json.dumps(meta))


def _copy(stores, source, name):
    shutil.copytree(stores / source, stores / name)
    return stores / name


def _expect(store, error, match, capsys):
    with pytest.raises(error, match=match):
        xiso.open_ome_zarr(store)
    assert main(["info", str(store)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xiso: error: "), err


def test_a_level_path_or_plain_array_is_not_an_image(stores, capsys):
    _expect(stores / "v5.zarr" / "0", xiso.OmeZarrError, "is a zarr array .* not an OME", capsys)
    zarr.create_array(stores / "plain.zarr", shape=(2, 2), dtype="u1")
    _expect(
        stores / "plain.zarr", xiso.OmeZarrError, "pass the group that holds the levels", capsys
    )


@pytest.mark.parametrize("source, name", [("v5.zarr", "zarr.json"), ("v4.zarr", ".zattrs")])
def test_invalid_json_metadata(stores, source, name, capsys):
    store = _copy(stores, source, "bad.zarr")
    (store / name).write_text("{oops")
    _expect(store, xiso.OmeZarrError, "cannot be read .*JSONDecodeError.*damaged", capsys)


@pytest.mark.parametrize(
    "multiscales, match",
    [
        ({"not": "a list"}, "multiscales"),
        ([1, 2], "multiscales/0"),
        ([], "multiscales"),
        ([{"version": "0.4", "axes": [{"name": n, "type": "space"} for n in "zyx"]}], "datasets"),
        (
            [
                {
                    "version": "0.4",
                    "axes": [{"name": n, "type": "space"} for n in "zyx"],
                    "datasets": [5],
                }
            ],
            "datasets/0",
        ),
    ],
)
def test_malformed_ngff_04_multiscales(stores, multiscales, match, capsys):
    store = _copy(stores, "v4.zarr", "bad.zarr")
    _edit(store, ".zattrs", lambda meta: meta.update(multiscales=multiscales))
    _expect(store, xiso.OmeZarrError, f"OME-Zarr metadata of .* is invalid: .*{match}", capsys)


@pytest.mark.parametrize("path", [".", "..", "0/.."])
def test_dataset_paths_outside_the_group(stores, path, capsys):
    store = _copy(stores, "v5.zarr", "bad.zarr")

    def change(meta):
        meta["attributes"]["ome"]["multiscales"][0]["datasets"][0]["path"] = path

    _edit(store, "zarr.json", change)
    _expect(store, xiso.OmeZarrError, f"level at path '{path}'; NGFF dataset paths must", capsys)


@pytest.mark.parametrize("chunks", [0, {"z": 0}, (4, -2, 4)])
def test_bad_chunks(stores, chunks):
    with pytest.raises(xiso.OptionError, match=r"gives dimension '[zy]' a chunk length of -?[02]"):
        xiso.open_ome_zarr(stores / "v5.zarr", chunks=chunks)


def test_unknown_method_even_without_levels(tmp_path):
    with pytest.raises(xiso.OptionError, match=r"method='avg' is not one of \('mean'"):
        xiso.to_ome_zarr(image(), tmp_path / "a.zarr", pyramid=False, method="avg")
    assert not (tmp_path / "a.zarr").exists()


@pytest.mark.parametrize("source", ["v5.zarr", "v4.zarr"])
def test_corrupt_chunk_during_convert_names_array_and_chunk(stores, source, tmp_path, capsys):
    store = stores / source
    chunk = store / "0" / ("c/1/0/1" if source == "v5.zarr" else "1/0/1")
    assert chunk.is_file()
    chunk.write_bytes(b"\x00garbage, not zstd")
    with pytest.raises(
        xiso.OmeZarrError, match=r"level '0' of .* \[4:8, 0:4, 4:8\] \(chunk 1/0/1\)"
    ):
        np.asarray(xiso.open_ome_zarr(store))
    out = tmp_path / "out.zarr"
    assert main(["convert", str(store), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(chunk 1/0/1" in err and "damaged" in err, err
    assert not out.exists() and [p.name for p in tmp_path.iterdir() if "out" in p.name] == []
    np.testing.assert_array_equal(  # the rest of the store still reads
        xiso.open_ome_zarr(store).isel(z=slice(0, 4)).values, image().values[:4]
    )


# --------------------------------------------------------------------------
# a full disk (issue 19, item 10): one StorageError, nothing left behind
# --------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MiB file system (tmpfs), mounted for this test."""
    import shutil as sh
    import subprocess
    import sys

    if not sys.platform.startswith("linux") or sh.which("mount") is None:
        pytest.skip("a small file system is mounted with Linux's mount")
    disk = tmp_path / "small"
    disk.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 2 MiB tmpfs (needs root): {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _too_large(chunks):
    """3 MiB of random uint16 (zstd cannot make it fit 2 MiB), chunked for dask."""
    data = np.random.default_rng(19).integers(0, 2**16, (96, 128, 128), dtype=np.uint16)
    da = image(nz=96, n=128).copy(data=data).assign_coords(z=np.arange(96.0))  # isotropic
    return da.chunk(chunks) if chunks else da


@pytest.mark.parametrize("engine", ["zarr", "zarrs", "zarrista"])
def test_a_full_disk_is_one_error_and_leaves_nothing_behind(
    engine, small_disk, tmp_path, monkeypatch, capsys
):
    if engine != "zarr":
        pytest.importorskip(engine)
    monkeypatch.setenv("XISO_ZARR_ENGINE", engine)
    target = small_disk / "img.zarr"
    # the threads of dask's scheduler and of the in-memory writer race the cleanup:
    # several rounds of each
    for round, chunks in enumerate([16, 16, 16, None, 32, 16, 16, 16, None, 16]):
        with pytest.raises(
            xiso.StorageError, match=rf"no space left on device while writing '{target}'"
        ) as caught:
            xiso.to_ome_zarr(_too_large(chunks), target, pyramid=round % 2 == 0, chunks=16)
        assert "os error 28" in str(caught.value) or "Errno 28" in str(caught.value)
        assert isinstance(caught.value, OSError)
        assert sorted(p.name for p in small_disk.iterdir()) == [], round
    source = tmp_path / "in.zarr"
    xiso.to_ome_zarr(_too_large(None), source, pyramid=False, chunks=32)
    for _ in range(2):
        assert main(["convert", str(source), str(target), "--quiet"]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("xiso: error: no space left"), err
        assert sorted(p.name for p in small_disk.iterdir()) == []
    # the disk is empty again: a small image fits and reads back
    xiso.to_ome_zarr(image(), target, pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image().values)
