"""Targets: what overwrite may replace, temporaries of killed writes, and what a
concurrent reader sees during a swap (local folders, fsspec memory://, store objects)."""

import errno
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import zarr
from iohelpers import image, poll_during_overwrites, run_script

import xiso
from xiso.cli import main
from xiso.io import targets


def _snapshot(root: Path) -> dict[str, bytes]:
    if root.is_file():
        return {"": root.read_bytes()}
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


# --------------------------------------------------------------------------
# overwrite replaces only a zarr hierarchy or an empty folder
# --------------------------------------------------------------------------
def _thesis(path: Path) -> None:
    path.mkdir()
    (path / "thesis.tex").write_text("\\chapter{Results}")
    (path / "figures").mkdir()
    (path / "figures" / "f1.pdf").write_bytes(b"%PDF-1.5 ...")


def _plain_file(path: Path) -> None:
    path.write_text("not a folder")


def _corrupt_zarr_json(path: Path) -> None:
    path.mkdir()
    (path / "zarr.json").write_text("{this is not json")


def _json_but_not_zarr(path: Path) -> None:
    path.mkdir()
    (path / "zarr.json").write_text(json.dumps({"hello": "world"}))


@pytest.mark.parametrize(
    "make, found",
    [
        (_thesis, r"a folder holding 'figures', 'thesis.tex' \(no zarr metadata"),
        (_plain_file, "a file"),
        (_corrupt_zarr_json, "a folder holding 'zarr.json'"),
        (_json_but_not_zarr, "a folder holding 'zarr.json'"),
    ],
)
@pytest.mark.parametrize("overwrite", [False, True])
def test_local_refuses_what_is_not_zarr(tmp_path, make, found, overwrite):
    target = tmp_path / "out.zarr"
    make(target)
    before = _snapshot(target)
    message = "replaces only a zarr hierarchy" if overwrite else "already exists"
    with pytest.raises(xiso.StoreExistsError, match=f"{message}.*{found}|{found}.*{message}"):
        xiso.to_ome_zarr(image(), target, pyramid=False, overwrite=overwrite)
    assert _snapshot(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]  # no temporaries


def test_cli_convert_refuses_a_folder_of_documents(tmp_path, capsys):
    source = tmp_path / "in.zarr"
    xiso.to_ome_zarr(image(), source, pyramid=False)
    target = tmp_path / "thesis"
    _thesis(target)
    before = _snapshot(target)
    assert main(["convert", str(source), str(target), "--overwrite", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "replaces only a zarr hierarchy" in err[0], err
    assert "thesis.tex" in err[0]
    assert _snapshot(target) == before


def _zarr_v2_group(path: Path) -> None:
    zarr.open_group(path, mode="w", zarr_format=2).create_array("a", shape=(2,), dtype="u1")


def _zarr_v3_array(path: Path) -> None:
    zarr.create_array(path, shape=(3, 3), dtype="f4", zarr_format=3)


def _empty_folder(path: Path) -> None:
    path.mkdir()


@pytest.mark.parametrize("make", [_zarr_v2_group, _zarr_v3_array, _empty_folder])
def test_local_overwrite_replaces_zarr_and_empty_folders(tmp_path, make):
    target = tmp_path / "out.zarr"
    make(target)
    with pytest.raises(xiso.StoreExistsError, match="already exists"):
        xiso.to_ome_zarr(image(), target, pyramid=False)
    xiso.to_ome_zarr(image(), target, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image().values)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.zarr"]


def test_memory_url_refuses_non_zarr_keys():
    fsspec = pytest.importorskip("fsspec")
    fs = fsspec.filesystem("memory")
    fs.pipe("/refuse/out.zarr/notes.txt", b"keep me")
    with pytest.raises(xiso.StoreExistsError, match=r"a prefix holding 'notes.txt'"):
        xiso.to_ome_zarr(image(), "memory://refuse/out.zarr", pyramid=False, overwrite=True)
    assert fs.cat("/refuse/out.zarr/notes.txt") == b"keep me"
    assert fs.find("/refuse") == ["/refuse/out.zarr/notes.txt"]


def test_store_object_refuses_non_zarr_keys():
    store = zarr.storage.MemoryStore()
    raw = store._store_dict
    zarr.storage.MemoryStore(raw)  # the same dict
    from zarr.core.buffer import default_buffer_prototype

    buffer = default_buffer_prototype().buffer.from_bytes(b"keep me")
    raw["notes.txt"] = buffer
    with pytest.raises(xiso.StoreExistsError, match="replaces only a zarr hierarchy"):
        xiso.to_ome_zarr(image(), store, pyramid=False, overwrite=True)
    assert list(raw) == ["notes.txt"] and raw["notes.txt"].to_bytes() == b"keep me"


def test_storage_options_only_for_urls(tmp_path):
    with pytest.raises(xiso.OptionError, match="storage_options apply to fsspec URLs"):
        xiso.to_ome_zarr(image(), tmp_path / "a.zarr", storage_options={"anon": True})
    with pytest.raises(xiso.OptionError, match="unknown URL protocol 'nosuch'"):
        xiso.to_ome_zarr(image(), "nosuch://a/b.zarr")
    with pytest.raises(xiso.OptionError, match="unknown URL protocol 'nosuch'"):
        xiso.open_ome_zarr("nosuch://a/b.zarr")
    with pytest.raises(xiso.OptionError, match="storage_options apply to fsspec URLs"):
        xiso.open_ome_zarr(zarr.storage.MemoryStore(), storage_options={"anon": True})


# --------------------------------------------------------------------------
# killed writes: hidden temporaries that the next write removes
# --------------------------------------------------------------------------
def test_killed_write_leaves_a_temporary_that_the_next_write_removes(tmp_path, capsys):
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    result = run_script(
        f"""
        import os, numpy as np, xiso
        from iohelpers import image, poll_during_overwrites, run_script
        def die(block, block_info=None):
            if block_info[0]["chunk-location"][0] == 2:
                os._exit(9)  # killed in the middle of the computation
            return block
        img = image(2).chunk({{"z": 4}})
        meta = np.empty((0, 0, 0), img.dtype)
        img = img.copy(data=img.data.map_blocks(die, meta=meta))
        xiso.to_ome_zarr(img, {str(target)!r}, pyramid=False, overwrite=True)
        """
    )
    assert result.returncode == 9, result.stderr
    hidden = [p for p in tmp_path.iterdir() if p.name != "img.zarr"]
    assert len(hidden) == 1 and hidden[0].name.startswith(".img.zarr.xiso-tmp-")
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image().values)
    # xiso info reports it
    assert main(["info", str(target)]) == 0
    out = capsys.readouterr().out
    assert "leftover: " in out and hidden[0].name in out and "its writer is gone" in out
    assert main(["info", str(target), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [lo["kind"] for lo in report["leftovers"]] == ["tmp"]
    assert report["leftovers"][0]["writer_dead"] and report["leftovers"][0]["bytes"] > 0
    # the next write to the target removes it
    xiso.to_ome_zarr(image(3), target, pyramid=False, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.zarr"]
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image(3).values)


def test_a_live_writers_temporary_is_left_alone(tmp_path):
    target = tmp_path / "img.zarr"
    live = tmp_path / f".img.zarr.xiso-tmp-{targets._HOST}-{os.getppid()}-0123abcd"
    live.mkdir()
    xiso.to_ome_zarr(image(), target, pyramid=False)
    assert live.exists()  # its writer (our parent process) is alive


def test_kill_between_the_two_renames_leaves_the_old_image_recoverable(tmp_path):
    """Where RENAME_EXCHANGE is missing the swap takes two renames; a kill between
    them leaves the old image aside, which the next write puts back in place."""
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    result = run_script(
        f"""
        import errno, os
        from pathlib import Path
        import xiso
        from xiso.io import targets
        from iohelpers import image, poll_during_overwrites, run_script
        def unsupported(a, b):
            raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")
        targets._exchange = unsupported
        real = Path.rename
        def rename(self, dest):
            out = real(self, dest)
            if ".xiso-old-" in Path(dest).name:
                os._exit(9)  # killed between the two renames
            return out
        Path.rename = rename
        xiso.to_ome_zarr(image(2), {str(target)!r}, pyramid=False, overwrite=True)
        """
    )
    assert result.returncode == 9, result.stderr
    assert not target.exists()
    aside = [p for p in tmp_path.iterdir() if ".xiso-old-" in p.name]
    assert len(aside) == 1
    with pytest.raises(xiso.OmeZarrError, match=r"set the previous image aside at .*xiso-old-"):
        xiso.open_ome_zarr(target)
    # the next write, even one that may not overwrite, first puts the old image back
    with (
        pytest.warns(UserWarning, match="restored the image"),
        pytest.raises(xiso.StoreExistsError, match="already exists"),
    ):
        xiso.to_ome_zarr(image(3), target, pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image().values)
    assert sorted(p.name for p in tmp_path.iterdir() if "tmp" not in p.name) == ["img.zarr"]
    assert [p.name for p in tmp_path.iterdir()] == ["img.zarr"]


def test_exchange_fallback_swaps(tmp_path, monkeypatch):
    def unsupported(a, b):
        raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")

    monkeypatch.setattr(targets, "_exchange", unsupported)
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    xiso.to_ome_zarr(image(2), target, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image(2).values)
    assert [p.name for p in tmp_path.iterdir()] == ["img.zarr"]


# --------------------------------------------------------------------------
# a reader polling the target during overwrites
# --------------------------------------------------------------------------
def test_local_reader_sees_old_or_new_never_neither(tmp_path):
    target = tmp_path / "img.zarr"
    images = [image(1, nz=32, n=32).chunk(8), image(7, nz=32, n=32).chunk(8)]
    xiso.to_ome_zarr(images[1], target, pyramid=False, chunks=8)

    def read_meta():
        try:
            return (target / "zarr.json").read_bytes()
        except FileNotFoundError:
            return None

    outcomes = poll_during_overwrites(
        read_meta,
        lambda: xiso.open_ome_zarr(target).values,
        lambda im: xiso.to_ome_zarr(im, target, pyramid=False, chunks=8, overwrite=True),
        images,
    )
    assert outcomes["none"] == 0, outcomes  # an image is always there
    assert outcomes["ok"] > 0, outcomes


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "two-renames"])
def test_local_swap_has_no_gap_a_polling_process_can_see(tmp_path, exchange):
    """Another process overwrites the image 40 times while this one checks, in a
    tight loop, that the root metadata exists. With RENAME_EXCHANGE it always
    does; the two-rename fallback (the control) shows the gap this catches."""
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    script = f"""
        import errno, xiso
        from xiso.io import targets
        from iohelpers import image, poll_during_overwrites, run_script
        if not {exchange}:
            def unsupported(a, b):
                raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")
            targets._exchange = unsupported
        for i in range(40):
            xiso.to_ome_zarr(image(i + 2), {str(target)!r}, pyramid=False, overwrite=True)
    """
    writer = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script)], cwd=Path(__file__).parent
    )
    meta = str(target / "zarr.json")
    missing = polls = 0
    while writer.poll() is None:
        polls += 1
        missing += not os.path.exists(meta)
    assert writer.returncode == 0 and polls > 1000
    if exchange:
        assert missing == 0
    else:
        assert missing > 0  # the poller does see a gap when there is one
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image(41).values)


# --------------------------------------------------------------------------
# edges found by review (each failed before its fix)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("url", ["memory://globs/img[1].zarr", "memory://globs/im?.zarr"])
def test_glob_characters_in_urls_are_refused(url):
    fsspec = pytest.importorskip("fsspec")
    xiso.to_ome_zarr(image(), "memory://globs/img1.zarr", pyramid=False, overwrite=True)
    with pytest.raises(xiso.OptionError, match="fsspec reads as a glob pattern"):
        xiso.to_ome_zarr(image(2), url, pyramid=False, overwrite=True)
    # the sibling the pattern matches is untouched
    np.testing.assert_array_equal(
        xiso.open_ome_zarr("memory://globs/img1.zarr").values, image().values
    )
    assert sorted(fsspec.filesystem("memory").ls("/globs", detail=False)) == ["/globs/img1.zarr"]


@pytest.mark.parametrize(
    "url, fix",
    [("memory://", "memory://image.ome.zarr"), ("s3://bucket", "s3://bucket/image.ome.zarr")],
)
def test_a_file_system_or_bucket_root_is_refused(url, fix):
    if url.startswith("s3"):
        pytest.importorskip("s3fs")
    with pytest.raises(xiso.OptionError, match=f"names no folder.*'{fix}'"):
        xiso.to_ome_zarr(image(), url, pyramid=False, overwrite=True)


def test_temporaries_of_a_sibling_with_a_similar_name_are_not_ours():
    fsspec = pytest.importorskip("fsspec")
    dead = f".img.xiso-v2.xiso-old-{targets._HOST}-999999-0123abcd"
    xiso.to_ome_zarr(image(7), f"memory://sim/{dead}", pyramid=False, overwrite=True)
    assert targets.resolve("memory://sim/img").leftovers() == []
    xiso.to_ome_zarr(image(), "memory://sim/img", pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr("memory://sim/img").values, image().values)
    assert f"/sim/{dead}" in fsspec.filesystem("memory").ls("/sim", detail=False)


def test_writers_in_another_pid_namespace_are_never_taken_for_dead(tmp_path):
    """Same hostname, other PID namespace (a container with the host's name):
    its pid means nothing here, so its temporary is left alone."""
    assert targets._HOST.rsplit("_", 1)[-1].isdigit()  # the namespace is part of the name
    host = targets._HOST.rsplit("_", 1)[0]
    other = tmp_path / f".img.zarr.xiso-tmp-{host}_1-999999-0123abcd"
    other.mkdir()
    ours_dead = tmp_path / f".img.zarr.xiso-tmp-{targets._HOST}-999999-0123abcd"
    ours_dead.mkdir()
    xiso.to_ome_zarr(image(), tmp_path / "img.zarr", pyramid=False)
    assert other.exists() and not ours_dead.exists()


def test_something_that_appears_just_before_the_swap_is_put_back(tmp_path, monkeypatch):
    """A folder of documents (or another writer's image) that appears between the
    last check and the exchange is exchanged back untouched, and the write fails."""
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    real = targets.LocalTarget._swap

    def appear_then_swap(self, tmp, overwrite):
        import shutil

        shutil.rmtree(target)
        _thesis(target)
        return real(self, tmp, overwrite)

    monkeypatch.setattr(targets.LocalTarget, "_swap", appear_then_swap)
    with pytest.raises(xiso.StoreExistsError, match=r"thesis\.tex"):
        xiso.to_ome_zarr(image(2), target, pyramid=False, overwrite=True)
    assert (target / "thesis.tex").read_text() == "\\chapter{Results}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.zarr"]


def test_a_store_object_swap_killed_before_any_image_leaves_nothing_behind():
    store = zarr.storage.MemoryStore()
    real = targets._KeyTarget._move_in
    calls = []

    def fail_once(self, source, keys):
        calls.append(source)
        if len(calls) == 1:
            raise OSError("the store went away")
        return real(self, source, keys)

    targets._KeyTarget._move_in = fail_once
    try:
        with pytest.raises(OSError, match="went away"):
            xiso.to_ome_zarr(image(), store, pyramid=False)
    finally:
        targets._KeyTarget._move_in = real
    assert list(store._store_dict) == []
    xiso.to_ome_zarr(image(), store, pyramid=False)
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, image().values)


# --------------------------------------------------------------------------
# writers on another host or PID namespace (issue 19, item 11): taken for dead
# once silent for XISO_STALE_AFTER seconds, refused while they live
# --------------------------------------------------------------------------
OTHER_HOST = "otherhost_4026531836"


def _killed_between_renames_on_another_host(target: Path) -> Path:
    """A swap by the real code, run as if on another host, killed between its
    two renames: the old image is aside, the target absent."""
    result = run_script(
        f"""
        import errno, os
        from pathlib import Path
        import xiso
        from xiso.io import targets
        from iohelpers import image
        targets._HOST = {OTHER_HOST!r}  # what a writer in another pod or container is
        def unsupported(a, b):
            raise OSError(errno.EINVAL, "no RENAME_EXCHANGE here")
        targets._exchange = unsupported
        real = Path.rename
        def rename(self, dest):
            out = real(self, dest)
            if ".xiso-old-" in Path(dest).name:
                os._exit(9)  # killed between the two renames
            return out
        Path.rename = rename
        xiso.to_ome_zarr(image(2), {str(target)!r}, pyramid=False, overwrite=True)
        """
    )
    assert result.returncode == 9, result.stderr
    (aside,) = [p for p in target.parent.iterdir() if ".xiso-old-" in p.name]
    assert f"-{OTHER_HOST}-" in aside.name and not target.exists()
    return aside


def _age(path: Path, seconds: float) -> None:
    then = os.stat(path).st_mtime - seconds
    os.utime(path, (then, then))


def _silence(folder: Path, seconds: float) -> None:
    """The temporaries of the other host's writer, as if it had been silent for ``seconds``."""
    for path in folder.iterdir():
        if f"-{OTHER_HOST}-" in path.name:
            _age(path, seconds)


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_swap_killed_on_another_host_is_repaired_once_stale(tmp_path, overwrite):
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    _killed_between_renames_on_another_host(target)
    _silence(tmp_path, targets.stale_after() + 60)  # its writer has been silent too long
    with pytest.raises(
        xiso.OmeZarrError,
        match=r"set the previous image aside at .*xiso-old-.*: the next write to this path "
        "puts it back",
    ):
        xiso.open_ome_zarr(target)
    if overwrite:  # the old image is put back first, then replaced
        with pytest.warns(UserWarning, match="restored the image"):
            xiso.to_ome_zarr(image(3), target, pyramid=False, overwrite=True)
        expected = image(3)
    else:
        with (
            pytest.warns(UserWarning, match="restored the image"),
            pytest.raises(xiso.StoreExistsError, match="already exists"),
        ):
            xiso.to_ome_zarr(image(3), target, pyramid=False)
        expected = image()
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, expected.values)
    assert [p.name for p in tmp_path.iterdir()] == ["img.zarr"]


def test_a_live_writer_on_another_host_is_refused_until_it_is_stale(tmp_path, monkeypatch):
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    aside = _killed_between_renames_on_another_host(target)
    # fresh: its writer may be swapping right now; nobody promises to put it back
    with pytest.raises(
        xiso.OmeZarrError,
        match=rf"its writer ran on another host or container \('{OTHER_HOST}', process \d+\) "
        r"and was last seen \d+ s ago; once it has been silent for 900 s \(XISO_STALE_AFTER\) "
        "it counts as dead and the next write puts it back",
    ):
        xiso.open_ome_zarr(target)
    for overwrite in (False, True):
        with pytest.raises(
            xiso.StoreExistsError,
            match=r"is being replaced by another write, .*xiso-old-.* Wait for that write to "
            "finish, or, if you know it was killed, set XISO_STALE_AFTER=0 and write again",
        ):
            xiso.to_ome_zarr(image(3), target, pyramid=False, overwrite=overwrite)
    assert aside.is_dir() and not target.exists()  # untouched
    # the user knows that writer is gone: take over at once
    monkeypatch.setenv("XISO_STALE_AFTER", "0")
    with pytest.warns(UserWarning, match="restored the image"):
        xiso.to_ome_zarr(image(3), target, pyramid=False, overwrite=True)
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image(3).values)
    assert [p.name for p in tmp_path.iterdir()] == ["img.zarr"]


def test_xiso_info_promises_what_the_next_write_does(tmp_path, capsys, monkeypatch):
    target = tmp_path / "img.zarr"
    xiso.to_ome_zarr(image(), target, pyramid=False)
    fresh = tmp_path / f".img.zarr.xiso-tmp-{OTHER_HOST}-4242-0123abcd"
    stale = tmp_path / f".img.zarr.xiso-tmp-{OTHER_HOST}-4343-0123abcd"
    fresh.mkdir()
    stale.mkdir()
    _age(stale, 901)
    assert main(["info", str(target), "--json"]) == 0
    report = {lo["where"]: lo for lo in json.loads(capsys.readouterr().out)["leftovers"]}
    assert not report[str(fresh)]["writer_dead"] and report[str(stale)]["writer_dead"]
    assert report[str(stale)]["next_write"] == "the next write to this path removes it"
    assert report[str(fresh)]["next_write"].startswith(
        f"its writer ran on another host or container ('{OTHER_HOST}', process 4242) and was "
        "last seen 0 s ago; once it has been silent for 900 s"
    )
    xiso.to_ome_zarr(image(2), target, pyramid=False, overwrite=True)
    assert fresh.is_dir() and not stale.exists()  # as promised
    monkeypatch.setenv("XISO_STALE_AFTER", "soon")
    with pytest.raises(xiso.OptionError, match="XISO_STALE_AFTER='soon' is not a number"):
        xiso.to_ome_zarr(image(2), target, pyramid=False, overwrite=True)


def test_a_writer_refreshes_its_temporary_while_it_computes(tmp_path, monkeypatch):
    """The heartbeat: a slow write touches its temporary, so a writer elsewhere
    never takes it for a dead one's."""
    import contextlib
    import threading
    import time

    monkeypatch.setattr(targets, "HEARTBEAT", 0.05)
    target = tmp_path / "img.zarr"
    times: set[float] = set()
    done = threading.Event()

    def slow(block):
        time.sleep(0.1)
        return block

    def watch():
        while not done.is_set():
            for p in tmp_path.iterdir():
                if ".xiso-tmp-" in p.name:
                    with contextlib.suppress(OSError):
                        times.add(p.stat().st_mtime)
                        _age(p, 3600)  # as if silent for an hour ...
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    img = image(2).chunk({"z": 1})
    img = img.copy(data=img.data.map_blocks(slow, meta=np.empty((0, 0, 0), img.dtype)))
    try:
        xiso.to_ome_zarr(img, target, pyramid=False)
    finally:
        done.set()
        watcher.join()
    # ... and each time the heartbeat made it fresh again (not only when it was made)
    assert sum(t > time.time() - 60 for t in times) >= 8, times
    assert any(t < time.time() - 60 for t in times), times  # seen between two beats
    np.testing.assert_array_equal(xiso.open_ome_zarr(target).values, image(2).values)
