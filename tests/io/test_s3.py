"""Object storage: every write and read path against a real S3-compatible HTTP
server on 127.0.0.1 (moto's threaded server, started by the fixture), through
s3fs, as users reach S3, MinIO or Ceph."""

import json

import dask.array as dsa
import numpy as np
import pytest
from iohelpers import image, poll_during_overwrites, run_script

import xiso
from xiso.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _keys(fs, bucket_url):
    fs.invalidate_cache()
    return sorted(fs.find(bucket_url.removeprefix("s3://")))


def _cli_options(options):
    return [a for k, v in options.items() for a in ("--storage-option", f"{k}={v}")]


def test_write_read_overwrite(s3, raise_if_dask_computes):
    bucket, options, fs = s3
    url = f"{bucket}/img.ome.zarr"
    with pytest.raises(xiso.OmeZarrError, match="no zarr group"):
        xiso.open_ome_zarr(url, storage_options=options)
    with dsa_computes_allowed():
        xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    back = xiso.open_ome_zarr(url, storage_options=options)  # lazy: nothing computed
    assert isinstance(back.data, dsa.Array)
    with dsa_computes_allowed():
        np.testing.assert_array_equal(back.values, image().values)
        np.testing.assert_allclose(back.z.values, image().z.values)
        with pytest.raises(xiso.StoreExistsError, match="already exists"):
            xiso.to_ome_zarr(image(2), url, pyramid=False, storage_options=options)
        xiso.to_ome_zarr(image(2), url, storage_options=options, overwrite=True, min_size=4)
        tree = xiso.open_ome_zarr_pyramid(url, storage_options=options)
        assert len(tree.children) > 1
        np.testing.assert_array_equal(
            xiso.open_ome_zarr(url, storage_options=options).values, image(2).values
        )
    keys = _keys(fs, bucket)
    assert keys and all(k.split("/")[1] == "img.ome.zarr" for k in keys)  # no temporaries


class dsa_computes_allowed:
    """Run a block with the default scheduler inside a raise_if_dask_computes test."""

    def __enter__(self):
        import dask

        self._config = dask.config.set(scheduler="threads")
        self._config.__enter__()

    def __exit__(self, *exc):
        self._config.__exit__(*exc)


def test_near_isotropic_from_s3(s3):
    bucket, options, _ = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    iso = xiso.open_ome_zarr(url, near_isotropic=True, storage_options=options)
    assert iso.iso.spacing == {"z": 1.0, "y": 1.0, "x": 1.0}
    reference = image().values.reshape(4, 4, 8, 8).astype(np.float64).mean(axis=1)
    np.testing.assert_array_equal(iso.values, np.round(reference).astype(np.uint16))


def test_refuses_non_zarr_keys_byte_for_byte(s3):
    bucket, options, fs = s3
    prefix = bucket.removeprefix("s3://")
    fs.pipe(f"{prefix}/docs/thesis.tex", b"\\chapter{Results}")
    before = {k: fs.cat(k) for k in _keys(fs, bucket)}
    with pytest.raises(xiso.StoreExistsError, match=r"a prefix holding 'thesis.tex'"):
        xiso.to_ome_zarr(image(), f"{bucket}/docs", storage_options=options, overwrite=True)
    assert {k: fs.cat(k) for k in _keys(fs, bucket)} == before


def test_failing_computation_keeps_old_image_and_leaves_nothing(s3):
    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    before = {k: fs.cat(k) for k in _keys(fs, bucket)}

    def fail(block, block_info=None):
        if block_info[0]["chunk-location"][0] == 2:
            raise RuntimeError("the computation failed")
        return block

    bad = image(2).chunk({"z": 4})
    bad = bad.copy(data=bad.data.map_blocks(fail, meta=np.empty((0, 0, 0), bad.dtype)))
    with pytest.raises(RuntimeError, match="the computation failed"):
        xiso.to_ome_zarr(bad, url, pyramid=False, storage_options=options, overwrite=True)
    assert {k: fs.cat(k) for k in _keys(fs, bucket)} == before


def test_cli_info_and_convert_between_s3_and_local(s3, tmp_path, capsys):
    bucket, options, _ = s3
    source = f"{bucket}/in.zarr"
    xiso.to_ome_zarr(image(), source, pyramid=False, storage_options=options)
    assert main(["info", source, "--json", *_cli_options(options)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spacing"] == {"z": 0.25, "y": 1.0, "x": 1.0}
    assert report["leftovers"] == []
    local = tmp_path / "local.zarr"
    assert (
        main(["convert", source, str(local), "--quiet", "--no-pyramid", *_cli_options(options)])
        == 0
    )
    reference = np.round(image().values.reshape(4, 4, 8, 8).astype(np.float64).mean(axis=1))
    np.testing.assert_array_equal(xiso.open_ome_zarr(local).values, reference)
    back = f"{bucket}/back.zarr"
    assert (
        main(["convert", str(local), back, "--quiet", "--no-pyramid", *_cli_options(options)]) == 0
    )
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(back, storage_options=options).values, reference
    )
    # without the options the server is not reached: one line, exit 1
    assert main(["info", back, "--storage-option", "nonsense"]) == 1
    assert "--storage-option 'nonsense': write KEY=VALUE" in capsys.readouterr().err


def test_polling_reader_never_opens_a_partial_or_mixed_image(s3):
    """While a thread overwrites the image, another opens and reads it; a read
    whose write id is the same before and after is exactly the old or the new
    image. Reads that find no image are the documented gap of object stores."""
    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    images = [image(1, nz=16, n=16).chunk(4), image(5, nz=16, n=16).chunk(4)]
    expected = [im.values for im in images]
    xiso.to_ome_zarr(images[1], url, pyramid=False, chunks=4, storage_options=options)
    prefix = url.removeprefix("s3://")

    def read_meta():
        fs.invalidate_cache()
        try:
            return fs.cat(f"{prefix}/zarr.json")
        except FileNotFoundError:
            return None

    outcomes = poll_during_overwrites(
        read_meta,
        lambda: xiso.open_ome_zarr(url, storage_options=options).values,
        lambda im: xiso.to_ome_zarr(
            im, url, pyramid=False, chunks=4, storage_options=options, overwrite=True
        ),
        images,
        rounds=4,
    )
    assert outcomes["ok"] > 0, outcomes
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, expected[1]
    )


def test_killed_writes_on_s3_are_cleaned_up_or_restored(s3, capsys):
    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    # 1. killed during the computation: a hidden temporary is left
    script = f"""
        import os, numpy as np, xiso
        from iohelpers import image, poll_during_overwrites, run_script
        def die(block, block_info=None):
            if block_info[0]["chunk-location"][0] == 2:
                os._exit(9)
            return block
        img = image(2).chunk({{"z": 4}})
        img = img.copy(data=img.data.map_blocks(die, meta=np.empty((0, 0, 0), img.dtype)))
        xiso.to_ome_zarr(img, {url!r}, pyramid=False, overwrite=True, storage_options={options!r})
    """
    run_script(script, returncode=9)
    hidden = {k.split("/")[1] for k in _keys(fs, bucket)} - {"img.zarr"}
    assert len(hidden) == 1 and next(iter(hidden)).startswith(".img.zarr.xiso-tmp-")
    assert main(["info", url, *_cli_options(options)]) == 0
    assert "leftover: s3://" in capsys.readouterr().out
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image().values
    )
    # 2. killed in the middle of the swap, after the old image was removed: the
    # next write puts the old image back before anything else
    script = f"""
        import os, xiso
        from xiso.io import targets
        from iohelpers import image, poll_during_overwrites, run_script
        def die(self, source, keys):
            os._exit(9)
        targets._KeyTarget._move_in = die
        opts = {options!r}
        xiso.to_ome_zarr(image(3), {url!r}, pyramid=False, overwrite=True, storage_options=opts)
    """
    run_script(script, returncode=9)
    with pytest.raises(xiso.OmeZarrError, match="set the previous image aside"):
        xiso.open_ome_zarr(url, storage_options=options)
    with (
        pytest.warns(UserWarning, match="restored the image"),
        pytest.raises(xiso.StoreExistsError, match="already exists"),
    ):
        xiso.to_ome_zarr(image(4), url, pyramid=False, storage_options=options)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image().values
    )
    assert {k.split("/")[1] for k in _keys(fs, bucket)} == {"img.zarr"}


# --------------------------------------------------------------------------
# edges found by review (each failed before its fix)
# --------------------------------------------------------------------------
def test_ngff_04_swap_killed_between_its_metadata_deletes_restores_the_old_image(s3):
    """zarr v2 has two root metadata keys; a kill after the first is deleted must
    still count as an interrupted swap (the old image comes back)."""
    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, version="0.4", storage_options=options)
    script = f"""
        import os, xiso
        from xiso.io import targets
        from iohelpers import image
        real = targets.FsspecTarget._delete
        def delete(self, keys):
            keys = list(keys)
            real(self, keys)
            if "img.zarr/.zattrs" in keys:
                os._exit(9)
        targets.FsspecTarget._delete = delete
        opts = {options!r}
        xiso.to_ome_zarr(image(3), {url!r}, pyramid=False, version="0.4", overwrite=True,
                         storage_options=opts)
    """
    run_script(script, returncode=9)
    with (
        pytest.warns(UserWarning, match="restored the image"),
        pytest.raises(xiso.StoreExistsError),
    ):
        xiso.to_ome_zarr(image(4), url, pyramid=False, version="0.4", storage_options=options)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image().values
    )
    assert {k.split("/")[1] for k in _keys(fs, bucket)} == {"img.zarr"}


def test_a_failed_swap_is_restored_by_the_next_write_of_the_same_process(s3, monkeypatch):
    """The network drops during the swap and during its own undo: the old image
    stays aside, and this same process's next write puts it back first."""
    from xiso.io import targets

    bucket, options, _ = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    real = targets.FsspecTarget._copy
    calls = []

    def flaky(self, pairs):
        calls.append(len(pairs))
        if len(calls) > 1:  # after the backup copy, the network is gone
            raise ConnectionError("network unreachable")
        return real(self, pairs)

    monkeypatch.setattr(targets.FsspecTarget, "_copy", flaky)
    with pytest.raises(xiso.StorageError, match=f"cannot reach '{url}'.*network unreachable"):
        xiso.to_ome_zarr(image(2), url, pyramid=False, storage_options=options, overwrite=True)
    monkeypatch.undo()
    with pytest.raises(xiso.OmeZarrError, match="set the previous image aside"):
        xiso.open_ome_zarr(url, storage_options=options)
    with (
        pytest.warns(UserWarning, match="restored the image"),
        pytest.raises(xiso.StoreExistsError),
    ):
        xiso.to_ome_zarr(image(3), url, pyramid=False, storage_options=options)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image().values
    )


def test_a_first_write_killed_during_its_swap_is_cleaned_up(s3):
    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    script = f"""
        import os, xiso
        from xiso.io import targets
        from iohelpers import image
        real = targets.FsspecTarget._copy
        def copy(self, pairs):
            real(self, pairs)
            if any(b.startswith("img.zarr/") for _, b in pairs):
                os._exit(9)  # killed after the first keys reached the target
        targets.FsspecTarget._copy = copy
        xiso.to_ome_zarr(image(2), {url!r}, pyramid=False, storage_options={options!r})
    """
    run_script(script, returncode=9)
    assert any(k.split("/")[1] == "img.zarr" for k in _keys(fs, bucket))  # partial keys
    with pytest.warns(UserWarning, match="removed the partial image"):
        xiso.to_ome_zarr(image(3), url, pyramid=False, storage_options=options)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image(3).values
    )
    assert {k.split("/")[1] for k in _keys(fs, bucket)} == {"img.zarr"}


def test_stray_chunks_of_another_writer_never_show_through(s3, monkeypatch):
    """Another image lands at the target while a swap runs (copied there by
    another tool: an xiso write is refused meanwhile); chunks the new image does
    not store (all fill value) must read as fill value, not as its chunks."""
    import threading

    from xiso.io import targets

    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(1), url, pyramid=False, chunks=4, storage_options=options)
    a_image = image(2).copy()
    a_image[:4] = 0  # zarr stores no chunk for these
    paused, go = threading.Event(), threading.Event()
    real = targets._KeyTarget._move_in

    def move_in(self, source, keys):
        if threading.current_thread().name == "A" and not paused.is_set():
            paused.set()
            go.wait(60)
        return real(self, source, keys)

    monkeypatch.setattr(targets._KeyTarget, "_move_in", move_in)
    a = threading.Thread(
        name="A",
        target=lambda: xiso.to_ome_zarr(
            a_image, url, pyramid=False, chunks=4, storage_options=options, overwrite=True
        ),
    )
    a.start()
    assert paused.wait(60)
    with pytest.raises(xiso.StoreExistsError, match="is being replaced by another write"):
        xiso.to_ome_zarr(image(5), url, pyramid=False, chunks=4, storage_options=options)
    other = f"{bucket}/other.zarr"
    xiso.to_ome_zarr(image(5), other, pyramid=False, chunks=4, storage_options=options)
    fs.copy(other.removeprefix("s3://"), url.removeprefix("s3://"), recursive=True)
    assert fs.exists(f"{url.removeprefix('s3://')}/0/c/0/0/0")  # a chunk A does not store
    go.set()
    a.join()
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, a_image.values
    )


# --------------------------------------------------------------------------
# errors of the object store itself (issue 19, item 9): one StorageError, one
# line on the command line, naming the URL and what to check
# --------------------------------------------------------------------------
def _closed_port():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def no_aws_environment(monkeypatch, tmp_path):
    """No credentials anywhere botocore looks (environment, files, instance metadata)."""
    import os

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _broken(case, s3, s3_server):
    """(URL, storage options, what the message must say) of each broken store."""
    bucket, options, _ = s3
    endpoint, _ = s3_server
    once = {"config_kwargs": {"retries": {"max_attempts": 1}}}
    if case == "missing bucket":
        return "s3://xiso-no-such-bucket/img.zarr", options, "the bucket 'xiso-no-such-bucket'"
    if case == "wrong credentials":
        wrong = {**options, "key": "AKIAWRONGWRONGWRONG1", "secret": "wrong"}
        return f"{bucket}/img.zarr", wrong, "refused access .* check the credentials"
    if case == "unreachable endpoint":
        closed = f"http://127.0.0.1:{_closed_port()}"
        where = {**options, **once, "endpoint_url": closed}
        return f"{bucket}/img.zarr", where, f"cannot reach .*{closed}.* check endpoint_url"
    assert case == "no credentials"
    return f"{bucket}/img.zarr", {"endpoint_url": endpoint, "anon": False}, "no credentials"


def _checking_credentials(case):
    """The moto server takes any credentials unless told to check them."""
    import contextlib

    from moto.core.authorization import enable_iam_authentication

    return enable_iam_authentication() if case == "wrong credentials" else contextlib.nullcontext()


@pytest.mark.parametrize(
    "case", ["missing bucket", "wrong credentials", "unreachable endpoint", "no credentials"]
)
def test_store_errors_are_one_storage_error_naming_the_url(
    case, s3, s3_server, no_aws_environment, tmp_path, capsys
):
    bucket, good, _ = s3
    xiso.to_ome_zarr(image(), f"{bucket}/img.zarr", pyramid=False, storage_options=good)
    local = tmp_path / "in.zarr"
    xiso.to_ome_zarr(image(), local, pyramid=False)
    url, options, says = _broken(case, s3, s3_server)
    with _checking_credentials(case):
        _check_store_errors(url, options, says, local, capsys)


def _check_store_errors(url, options, says, local, capsys):
    import re
    import subprocess
    import sys

    with pytest.raises(xiso.StorageError, match=says) as caught:
        xiso.open_ome_zarr(url, storage_options=options)
    assert repr(url) in str(caught.value)
    out = url.replace("img.zarr", "out.zarr")
    with pytest.raises(xiso.StorageError, match=says) as caught:
        xiso.to_ome_zarr(image(2), out, pyramid=False, storage_options=options)
    assert repr(out) in str(caught.value)
    assert isinstance(caught.value, OSError)  # what `except OSError` caught before
    # the command line, in its own process: one line on stderr, exit 1
    flags = [a for k, v in options.items() for a in ("--storage-option", f"{k}={json.dumps(v)}")]
    result = subprocess.run(
        [sys.executable, "-m", "xiso", "info", url, *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("xiso: error: "), (
        result.stderr
    )
    assert repr(url) in result.stderr and re.search(says, result.stderr)
    assert main(["convert", str(local), out, "--quiet", *flags]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and repr(out) in err and re.search(says, err), err


# --------------------------------------------------------------------------
# a swap killed on another host or PID namespace (issue 19, item 11)
# --------------------------------------------------------------------------
def test_a_swap_killed_on_another_host_is_refused_while_fresh_and_repaired_once_stale(
    s3, monkeypatch
):
    import time

    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    script = f"""
        import os, xiso
        from xiso.io import targets
        from iohelpers import image
        targets._HOST = "otherhost_4026531836"  # a writer in another pod or container
        def die(self, source, keys):
            os._exit(9)  # killed after the old image was removed, before the new one
        targets._KeyTarget._move_in = die
        opts = {options!r}
        xiso.to_ome_zarr(image(3), {url!r}, pyramid=False, overwrite=True, storage_options=opts)
    """
    run_script(script, returncode=9)
    hidden = {k.split("/")[1] for k in _keys(fs, bucket)} - {"img.zarr"}
    assert {h.split("-")[1] for h in hidden} == {"tmp", "old"}, hidden
    assert all("-otherhost_4026531836-" in h for h in hidden)
    # fresh: that writer may still be swapping; nothing is promised or touched
    with pytest.raises(
        xiso.OmeZarrError,
        match=r"set the previous image aside at 's3://.*xiso-old-.*': its writer ran on another "
        r"host or container .* last seen \d+ s ago; once it has been silent for 900 s",
    ):
        xiso.open_ome_zarr(url, storage_options=options)
    before = {k: fs.cat(k) for k in _keys(fs, bucket)}
    with pytest.raises(
        xiso.StoreExistsError,
        match=r"is being replaced by another write.*set XISO_STALE_AFTER=0 and write again",
    ):
        xiso.to_ome_zarr(image(4), url, pyramid=False, storage_options=options, overwrite=True)
    assert {k: fs.cat(k) for k in _keys(fs, bucket)} == before
    # silent for longer than XISO_STALE_AFTER: taken for dead, the old image comes back
    monkeypatch.setenv("XISO_STALE_AFTER", "2")
    time.sleep(3)
    with pytest.raises(xiso.OmeZarrError, match="the next write to this path puts it back"):
        xiso.open_ome_zarr(url, storage_options=options)
    with (
        pytest.warns(UserWarning, match="restored the image"),
        pytest.raises(xiso.StoreExistsError, match="already exists"),
    ):
        xiso.to_ome_zarr(image(4), url, pyramid=False, storage_options=options)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image().values
    )
    assert {k.split("/")[1] for k in _keys(fs, bucket)} == {"img.zarr"}
    xiso.to_ome_zarr(image(4), url, pyramid=False, storage_options=options, overwrite=True)
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image(4).values
    )
    assert not [k for k in _keys(fs, bucket) if ".xiso-" in k]  # no marker in the image


def test_a_writer_keeps_its_copy_aside_alive_during_a_slow_swap(s3, monkeypatch):
    """While a swap runs, its copy of the old image is refreshed: a writer elsewhere
    sees a fresh sign of life however long the swap takes."""
    import threading
    import time

    from xiso.io import targets

    bucket, options, fs = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, storage_options=options)
    monkeypatch.setattr(targets, "HEARTBEAT", 0.2)
    real = targets._KeyTarget._move_in
    ages = []

    def slow_move_in(self, source, keys):
        if ".xiso-tmp-" in source:
            (old,) = [lo for lo in self.leftovers() if lo.kind == "old"]
            for _ in range(4):
                time.sleep(0.6)
                ages.append(self._age(old.handle))
        return real(self, source, keys)

    monkeypatch.setattr(targets._KeyTarget, "_move_in", slow_move_in)
    thread = threading.Thread(
        target=lambda: xiso.to_ome_zarr(
            image(2), url, pyramid=False, storage_options=options, overwrite=True
        )
    )
    thread.start()
    thread.join(120)
    assert len(ages) == 4 and max(ages) < 1.5, ages  # refreshed every 0.2 s, not once
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(url, storage_options=options).values, image(2).values
    )
    assert not [k for k in _keys(fs, bucket) if ".xiso-" in k]


def test_the_network_dropping_while_chunks_are_read_is_a_storage_error(s3, monkeypatch):
    """Not "the stored chunk is damaged": the store could not be reached."""
    import zarr
    from botocore.exceptions import EndpointConnectionError

    bucket, options, _ = s3
    url = f"{bucket}/img.zarr"
    xiso.to_ome_zarr(image(), url, pyramid=False, chunks=4, storage_options=options)
    lazy = xiso.open_ome_zarr(url, storage_options=options)

    async def unreachable(self, key, *args, **kwargs):
        raise EndpointConnectionError(endpoint_url=options["endpoint_url"])

    monkeypatch.setattr(zarr.storage.FsspecStore, "get", unreachable)
    with pytest.raises(
        xiso.StorageError, match=rf"cannot reach level '0' of '{url}' at \[.*check endpoint_url"
    ):
        np.asarray(lazy)
