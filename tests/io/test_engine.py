"""The chunk engines of xiso's own arrays (xiso/io/engine.py): zarrs and zarrista
write the same chunks and metadata as zarr-python's pipeline, and zarr's config
is left as the user had it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import xiso
from xiso.errors import OptionError
from xiso.io import engine

METADATA = ("zarr.json", ".zarray", ".zattrs", ".zgroup")
PLAIN = "zarr.core.codec_pipeline.BatchedCodecPipeline"


def _volume(dtype: str = "uint16", nz: int = 40, ny: int = 20, nx: int = 24) -> xr.DataArray:
    rng = np.random.default_rng(3)
    data = rng.integers(0, 3000, size=(nz, ny, nx)).astype(dtype)
    data[:16, :16, :16] = 0  # whole chunks equal to the fill value: not written
    coords = {
        "z": ("z", np.arange(nz) * 0.25, {"units": "micrometer"}),
        "y": ("y", np.arange(ny) * 1.0, {"units": "micrometer"}),
        "x": ("x", np.arange(nx) * 1.0, {"units": "micrometer"}),
    }
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="vol", attrs={"a": 1})


def _without_write_id(node):
    """Metadata JSON without the write id (a fresh uuid per write)."""
    if isinstance(node, dict):
        return {k: _without_write_id(v) for k, v in node.items() if k != "write_id"}
    if isinstance(node, list):
        return [_without_write_id(v) for v in node]
    return node


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def assert_same_store(a: Path, b: Path) -> None:
    """The same files, the same metadata (write id aside) and, for every chunk
    of every array, the same decoded values (read with zarr's own pipeline)."""
    assert _files(a) == _files(b)
    for name in sorted(_files(a)):
        if Path(name).name in METADATA:
            left, right = (json.loads((root / name).read_text()) for root in (a, b))
            assert _without_write_id(left) == _without_write_id(right), name
    with zarr.config.set({"codec_pipeline.path": PLAIN}):
        arrays = [path for path, _ in zarr.open_group(a, mode="r").members(max_depth=None)]
        checked = 0
        for path in arrays:
            left, right = (zarr.open_group(root, mode="r")[path] for root in (a, b))
            if not isinstance(left, zarr.Array):
                continue
            assert type(left._async_array.codec_pipeline).__name__ == "BatchedCodecPipeline"
            assert left.metadata == right.metadata
            ranges = [range(0, n, c) for n, c in zip(left.shape, left.chunks)]
            for origin in np.ndindex(*(len(r) for r in ranges)):
                region = tuple(
                    slice(r[i], r[i] + c) for r, i, c in zip(ranges, origin, left.chunks)
                )
                np.testing.assert_array_equal(left[region], right[region], err_msg=path)
                checked += 1
        assert checked > 0


CASES = {
    "one level": ({"pyramid": False, "chunks": 16}, "0.5", "uint16"),
    "pyramid": ({"pyramid": True, "chunks": 8, "min_size": 4}, "0.5", "uint16"),
    "ngff 0.4": ({"pyramid": True, "chunks": 16, "min_size": 4}, "0.4", "uint16"),
    "float32": ({"pyramid": False, "chunks": 16}, "0.5", "float32"),
}


def _count_writes(monkeypatch, which: str) -> list[int]:
    """Count the chunk writes that go through the accelerated engine ``which``."""
    calls: list[int] = []
    if which == "zarrs":
        import zarrs

        real_write = zarrs.ZarrsCodecPipeline.write

        async def counting(self, *args, _real=real_write, **kw):
            calls.append(1)
            return await _real(self, *args, **kw)

        monkeypatch.setattr(zarrs.ZarrsCodecPipeline, "write", counting)
    elif which == "zarrista":
        real_set = engine.ZarristaRegions.__setitem__

        def counting_set(self, key, value, _real=real_set):
            calls.append(1)
            return _real(self, key, value)

        monkeypatch.setattr(engine.ZarristaRegions, "__setitem__", counting_set)
    return calls


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("source", ["numpy", "ome-zarr"])
@pytest.mark.parametrize("fast", ["zarrs", "zarrista"])
def test_fast_engines_write_the_same_chunks_and_metadata(tmp_path, monkeypatch, name, source, fast):
    pytest.importorskip(fast)
    kwargs, version, dtype = CASES[name]
    image = _volume(dtype)
    if source == "ome-zarr":  # read through the engine too: the near-isotropic job
        monkeypatch.setenv(engine.ENV, "zarr")
        xiso.to_ome_zarr(image, tmp_path / "src", pyramid=False, chunks=16, version=version)
    outputs = {}
    for which in ("zarr", fast):
        monkeypatch.setenv(engine.ENV, which)
        calls = _count_writes(monkeypatch, which)
        obj = image
        if source == "ome-zarr":
            obj = xiso.open_ome_zarr(tmp_path / "src", near_isotropic=True)
        xiso.to_ome_zarr(obj, tmp_path / which, version=version, **kwargs)
        # the accelerated path ran, or not (zarrista serves zarr v3 only: NGFF 0.5)
        expected = which == "zarrs" or (which == "zarrista" and version == "0.5")
        assert bool(calls) == expected
        outputs[which] = tmp_path / which
        monkeypatch.undo()
    assert_same_store(outputs["zarr"], outputs[fast])


@pytest.mark.parametrize("fast", ["zarrs", "zarrista"])
def test_fast_engines_write_labels_the_same(tmp_path, monkeypatch, fast):
    pytest.importorskip(fast)
    image = _volume()
    labels = (image // 1000).astype("uint8").rename("cells")
    for which in ("zarr", fast):
        monkeypatch.setenv(engine.ENV, which)
        xiso.to_ome_zarr(image, tmp_path / which, chunks=8, min_size=4, labels={"cells": labels})
    assert_same_store(tmp_path / "zarr", tmp_path / fast)


def test_zarrista_regions_pickle_as_their_location(tmp_path, monkeypatch):
    pytest.importorskip("zarrista")
    import pickle

    monkeypatch.setenv(engine.ENV, "zarr")
    image = (_volume("int16") - 1500).astype("int16")  # negative values, a signed type
    xiso.to_ome_zarr(image, tmp_path / "src", pyramid=False, chunks=16)
    monkeypatch.setenv(engine.ENV, "zarrista")
    _, array = xiso.io.read.open_level(tmp_path / "src")
    regions = engine.regions(array)
    assert isinstance(regions, engine.ZarristaRegions)
    first = regions[0:16, 0:16, 0:16]  # opens zarrista's array
    again = pickle.loads(pickle.dumps(regions))
    np.testing.assert_array_equal(again[0:16, 0:16, 0:16], first)
    np.testing.assert_array_equal(again[:, :, :], image.values)
    # a step or an integer goes through zarr-python, with the same values
    np.testing.assert_array_equal(again[::2, 3, :], image.values[::2, 3, :])
    again[0:16, 0:16, 16:24] = np.full((16, 16, 8), -7, dtype="int16")
    assert (regions[0:16, 0:16, 16:24] == -7).all()


def test_auto_takes_zarrista_only_where_it_applies(tmp_path, monkeypatch):
    pytest.importorskip("zarrista")
    monkeypatch.delenv(engine.ENV, raising=False)
    v3 = zarr.create_array(tmp_path / "v3", shape=(4,), dtype="uint16", chunks=(2,))
    v2 = zarr.create_array(tmp_path / "v2", shape=(4,), dtype="uint16", chunks=(2,), zarr_format=2)
    memory = zarr.create_array(zarr.storage.MemoryStore(), shape=(4,), dtype="uint16")
    assert isinstance(engine.regions(v3), engine.ZarristaRegions)
    assert engine.regions(v2) is v2
    assert engine.regions(memory) is memory
    with zarr.config.set({"codec_pipeline.path": "some.other.Pipeline"}):
        assert engine.regions(v3) is v3  # a pipeline the user chose is left alone
    monkeypatch.setenv(engine.ENV, "zarrs")
    assert engine.regions(v3) is v3
    monkeypatch.setenv(engine.ENV, "zarr")
    assert engine.regions(v3) is v3
    monkeypatch.setenv(engine.ENV, "zarrista")
    monkeypatch.setattr(engine, "_installed", lambda name: False)
    with pytest.raises(OptionError, match=r"XISO_ZARR_ENGINE=zarrista but the zarrista package"):
        engine.regions(v3)


def test_reads_through_zarrs_give_the_stored_values(tmp_path, monkeypatch):
    pytest.importorskip("zarrs")
    image = _volume()
    monkeypatch.setenv(engine.ENV, "zarr")
    xiso.to_ome_zarr(image, tmp_path / "src", pyramid=False, chunks=16)
    monkeypatch.setenv(engine.ENV, "zarrs")
    _, array = xiso.io.read.open_level(tmp_path / "src")
    assert type(array._async_array.codec_pipeline).__name__ == "ZarrsCodecPipeline"
    back = xiso.open_ome_zarr(tmp_path / "src")
    np.testing.assert_array_equal(back.values, image.values)


def test_plain_engine_never_uses_zarrs(tmp_path, monkeypatch):
    monkeypatch.setenv(engine.ENV, "zarr")
    xiso.to_ome_zarr(_volume(), tmp_path / "out", pyramid=False, chunks=16)
    _, array = xiso.io.read.open_level(tmp_path / "out")
    assert type(array._async_array.codec_pipeline).__name__ == "BatchedCodecPipeline"
    np.testing.assert_array_equal(xiso.open_ome_zarr(tmp_path / "out").values, _volume().values)


def test_scoped_restores_zarr_config_even_on_error(monkeypatch):
    pytest.importorskip("zarrs")
    monkeypatch.setenv(engine.ENV, "zarrs")
    store = zarr.storage.LocalStore(".")
    before = zarr.config.get("codec_pipeline.path")
    with pytest.raises(RuntimeError, match="boom"):
        with engine.scoped(store):
            assert zarr.config.get("codec_pipeline.path") == engine.ZARRS_PIPELINE
            raise RuntimeError("boom")
    assert zarr.config.get("codec_pipeline.path") == before


def test_auto_leaves_a_users_pipeline_and_other_stores_alone(monkeypatch):
    monkeypatch.delenv(engine.ENV, raising=False)
    local = zarr.storage.LocalStore(".")
    assert engine.pipeline_for(zarr.storage.MemoryStore()) is None
    with zarr.config.set({"codec_pipeline.path": "some.other.Pipeline"}):
        assert engine.pipeline_for(local) is None
    if engine._zarrs_installed():
        assert engine.pipeline_for(local) == engine.ZARRS_PIPELINE
    monkeypatch.setattr(engine, "_zarrs_installed", lambda: False)
    assert engine.pipeline_for(local) is None


def test_bad_or_unavailable_engine_says_how_to_fix(monkeypatch):
    monkeypatch.setenv(engine.ENV, "rust")
    with pytest.raises(OptionError, match="XISO_ZARR_ENGINE='rust' is not one of"):
        engine.engine()
    monkeypatch.setenv(engine.ENV, "zarrs")
    monkeypatch.setattr(engine, "_installed", lambda name: False)
    with pytest.raises(OptionError, match=r'pip install zarrs, .*"\.\[fast\]" in a clone'):
        engine.pipeline_for(zarr.storage.LocalStore("."))


@pytest.mark.parametrize("method", ["mean", "median", "min", "max", "mode", "nearest"])
@pytest.mark.parametrize("dtype", ["uint16", "float32", "uint8"])
def test_near_isotropic_reads_through_zarrista_give_the_same_result(
    tmp_path, monkeypatch, method, dtype
):
    """zarrista's chunks are read-only views: every block reduction must only
    read them, and the result must be as through zarr-python, writable."""
    pytest.importorskip("zarrista")
    image = _volume(dtype)
    if dtype == "float32":
        image[3, 2, :5] = np.nan
    monkeypatch.setenv(engine.ENV, "zarr")
    xiso.to_ome_zarr(image, tmp_path / "src", pyramid=False, chunks=(8, 16, 16))
    expected = xiso.open_ome_zarr(tmp_path / "src", near_isotropic=True, method=method).values
    monkeypatch.setenv(engine.ENV, "zarrista")
    reads: list[int] = []
    real_get = engine.ZarristaRegions.__getitem__
    monkeypatch.setattr(
        engine.ZarristaRegions, "__getitem__", lambda self, k: reads.append(1) or real_get(self, k)
    )
    got = xiso.open_ome_zarr(tmp_path / "src", near_isotropic=True, method=method).values
    assert reads
    np.testing.assert_array_equal(got, expected)
    got[...] = 0  # the user's array is writable


def test_chunks_handed_to_the_user_are_writable(tmp_path, monkeypatch):
    """Plain opens, and near_isotropic with nothing to reduce, never hand out
    zarrista's read-only views."""
    pytest.importorskip("zarrista")
    monkeypatch.setenv(engine.ENV, "zarrista")
    iso = _volume().isel(z=slice(0, 16)).assign_coords(z=np.arange(16) * 1.0)
    iso.z.attrs["units"] = "micrometer"
    xiso.to_ome_zarr(iso, tmp_path / "iso", pyramid=False, chunks=16)
    for opened in (
        xiso.open_ome_zarr(tmp_path / "iso"),
        xiso.open_ome_zarr(tmp_path / "iso", near_isotropic=True),
    ):
        block = opened.data.blocks[0, 0, 0].compute()
        assert block.flags.writeable
        block[...] = 1


def test_auto_falls_back_where_zarrista_lacks_the_codec(tmp_path, monkeypatch):
    """numcodecs' lz4 is a zarr v3 codec zarrista does not know: auto writes and
    reads through zarr-python, an explicit zarrista says so."""
    pytest.importorskip("zarrista")
    import numcodecs.zarr3

    image = _volume()
    for which in ("zarr", "auto"):
        monkeypatch.setenv(engine.ENV, which)
        xiso.to_ome_zarr(
            image, tmp_path / which, pyramid=False, chunks=16, compressor=numcodecs.zarr3.LZ4()
        )
        near = xiso.open_ome_zarr(tmp_path / which, near_isotropic=True).values
        np.testing.assert_array_equal(
            near, xiso.open_ome_zarr(tmp_path / "zarr", near_isotropic=True).values
        )
    assert_same_store(tmp_path / "zarr", tmp_path / "auto")
    monkeypatch.setenv(engine.ENV, "zarrista")
    with pytest.raises(OptionError, match="zarrista cannot read or write the array"):
        xiso.open_ome_zarr(tmp_path / "zarr", near_isotropic=True)
    with pytest.raises(OptionError, match=r"numcodecs\.lz4"):
        xiso.to_ome_zarr(
            image, tmp_path / "z", pyramid=False, chunks=16, compressor=numcodecs.zarr3.LZ4()
        )
    assert not (tmp_path / "z").exists()


def test_write_empty_chunks_asked_of_zarr_is_honoured(tmp_path, monkeypatch):
    pytest.importorskip("zarrista")
    image = _volume()
    with zarr.config.set({"array.write_empty_chunks": True}):
        for which in ("zarr", "auto"):
            monkeypatch.setenv(engine.ENV, which)
            xiso.to_ome_zarr(image, tmp_path / which, pyramid=False, chunks=16)
    assert_same_store(tmp_path / "zarr", tmp_path / "auto")
    assert (tmp_path / "auto" / "0" / "c" / "0" / "0" / "0").is_file()  # the all-zero chunk


def test_another_threads_scoped_pipeline_is_not_taken_for_a_users(tmp_path, monkeypatch):
    """While one thread opens an array with zarrs' pipeline set for a moment,
    another thread's choice of engine waits for it instead of reading zarr's
    config in that moment as the user's."""
    pytest.importorskip("zarrista")
    pytest.importorskip("zarrs")
    import threading

    monkeypatch.delenv(engine.ENV, raising=False)
    v3 = zarr.create_array(tmp_path / "v3", shape=(4,), dtype="uint16", chunks=(2,))
    inside, leave = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.scoped(zarr.storage.LocalStore(tmp_path)):
            inside.set()
            leave.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    assert inside.wait(5)
    got: list = []
    chooser = threading.Thread(target=lambda: got.append(engine.regions(v3)))
    chooser.start()
    chooser.join(0.2)
    leave.set()
    holder.join(5)
    chooser.join(5)
    assert isinstance(got[0], engine.ZarristaRegions)


def test_a_store_rewritten_after_opening_is_an_error_not_a_cast(tmp_path, monkeypatch):
    pytest.importorskip("zarrista")
    import pickle

    monkeypatch.setenv(engine.ENV, "zarrista")
    xiso.to_ome_zarr(_volume(), tmp_path / "src", pyramid=False, chunks=16)
    _, array = xiso.io.read.open_level(tmp_path / "src")
    shipped = pickle.dumps(engine.regions(array))  # as to a dask worker
    xiso.to_ome_zarr(_volume("float32"), tmp_path / "src", pyramid=False, chunks=16, overwrite=True)
    with pytest.raises(xiso.errors.OmeZarrError, match="changed since it was opened"):
        pickle.loads(shipped)[0:16, 0:16, 0:16]


def test_without_the_fast_engines_auto_falls_back_to_zarr_python(tmp_path, monkeypatch):
    """Where zarrs and zarrista have no wheel, the default install lacks them:
    in a fresh process that cannot import them, ``auto`` writes and reduces
    through zarr-python's own pipeline, the same store and values as with them,
    and asking for one of them says how to install it."""
    import subprocess
    import sys

    monkeypatch.delenv(engine.ENV, raising=False)
    image = _volume()
    np.save(tmp_path / "image.npy", image.values)
    script = f"""
import importlib.machinery, importlib.metadata, json, sys
# as if not installed: no module to import, no distribution (and so no entry point
# of zarrs for zarr's registry of codec pipelines)
for name in ("zarrs", "zarrista"):
    sys.modules[name] = None
find = importlib.machinery.PathFinder.find_distributions
importlib.machinery.PathFinder.find_distributions = staticmethod(
    lambda *a, **k: (d for d in find(*a, **k) if d.name.lower() not in ("zarrs", "zarrista"))
)
for name in ("zarrs", "zarrista"):
    try:
        importlib.metadata.version(name)
        raise SystemExit(name + " is still seen")
    except importlib.metadata.PackageNotFoundError:
        pass
import numpy as np, xarray as xr, xiso
from xiso.io import engine
from xiso.io.read import open_level

c = lambda d, s, n: (d, np.arange(n) * s, {{"units": "micrometer"}})
data = np.load({str(tmp_path / "image.npy")!r})
image = xr.DataArray(data, dims=("z", "y", "x"), name="vol", attrs={{"a": 1}},
    coords={{"z": c("z", 0.25, 40), "y": c("y", 1.0, 20), "x": c("x", 1.0, 24)}})
path = {str(tmp_path / "plain")!r}
xiso.to_ome_zarr(image, path, pyramid=True, chunks=8, min_size=4)
_, array = open_level(path)
reduced = xiso.open_ome_zarr(path, near_isotropic=True).values
np.save({str(tmp_path / "reduced.npy")!r}, reduced)
regions = type(engine.regions(array)).__name__
try:
    import os
    os.environ[engine.ENV] = "zarrista"
    xiso.open_ome_zarr(path, near_isotropic=True)
    refused = ""
except xiso.OptionError as err:
    refused = str(err)
print(json.dumps({{
    "pipeline": type(array._async_array.codec_pipeline).__name__,
    "regions": regions,
    "zarrs": sys.modules.get("zarrs") is not None,
    "zarrista": sys.modules.get("zarrista") is not None,
    "refused": refused,
}}))
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found["pipeline"] == "BatchedCodecPipeline" and found["regions"] == "Array"
    assert not found["zarrs"] and not found["zarrista"]
    assert "XISO_ZARR_ENGINE=zarrista but the zarrista package is not installed" in found["refused"]
    assert 'pip install ".[fast]" in a clone' in found["refused"]
    # the same store as the engines of this process write (zarrista and zarrs where installed)
    xiso.to_ome_zarr(image, tmp_path / "default", pyramid=True, chunks=8, min_size=4)
    assert_same_store(tmp_path / "plain", tmp_path / "default")
    reduced = np.load(tmp_path / "reduced.npy")
    reference = image.values.reshape(10, 4, 20, 24).astype(np.float64).mean(axis=1)
    np.testing.assert_allclose(reduced, reference, atol=0.5)  # integers: rounded
    np.testing.assert_array_equal(
        reduced, xiso.open_ome_zarr(tmp_path / "default", near_isotropic=True).values
    )


# where zarrs 0.2.3 and zarrista 0.1.0 both have wheels on the package index (abi3,
# CPython 3.11+), as `pip download --only-binary=:all: --platform ...` found them
WHEELS = {
    ("CPython", "linux", "x86_64"): True,  # manylinux_2_28 and musllinux_1_2
    ("CPython", "linux", "aarch64"): True,
    ("CPython", "darwin", "arm64"): True,
    ("CPython", "darwin", "x86_64"): True,
    ("CPython", "win32", "AMD64"): True,
    ("CPython", "linux", "ppc64le"): False,  # zarrs only
    ("CPython", "win32", "ARM64"): False,
    ("CPython", "win32", "x86"): False,
    ("PyPy", "linux", "x86_64"): False,
}


@pytest.mark.parametrize(("platform", "has_wheels"), list(WHEELS.items()))
def test_the_fast_engines_are_default_dependencies_where_they_have_wheels(platform, has_wheels):
    """``pip install xiso`` brings zarrs and zarrista where both have wheels,
    and asks for neither elsewhere (pip would build them, which needs Rust);
    the ``fast`` extra asks for them everywhere."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    implementation, system, machine = platform
    environment = {
        "platform_python_implementation": implementation,
        "sys_platform": system,
        "platform_machine": machine,
    }
    default = {
        r.name: r
        for r in map(Requirement, project["dependencies"])
        if r.marker is None or r.marker.evaluate(environment)
    }
    assert (
        {"zarrs", "zarrista"} <= set(default)
        if has_wheels
        else not {"zarrs", "zarrista"} & set(default)
    )
    fast = {Requirement(r).name: Requirement(r) for r in project["optional-dependencies"]["fast"]}
    assert set(fast) == {"zarrs", "zarrista"} and all(r.marker is None for r in fast.values())
    if has_wheels:  # the same lower bounds either way
        assert {n: str(default[n].specifier) for n in fast} == {
            n: str(r.specifier) for n, r in fast.items()
        }
