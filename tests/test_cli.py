import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import xiso
from xiso.cli import main


@pytest.fixture
def source(tmp_path):
    da = xiso.data.lightsheet(shape=(32, 48, 40), seed=2)
    path = tmp_path / "in.ome.zarr"
    xiso.to_ome_zarr(da, path, pyramid=False, chunks=16)
    return da, path


def test_convert_matches_library(source, tmp_path, capsys):
    da, path = source
    out = tmp_path / "out.ome.zarr"
    assert main(["convert", str(path), str(out), "--levels", "2", "--min-size", "4"]) == 0
    assert "factors {'z': 4, 'y': 1, 'x': 1}" in capsys.readouterr().out
    back = xiso.open_ome_zarr(out)
    xr.testing.assert_allclose(back.compute().drop_attrs(), da.iso.near_isotropic().drop_attrs())
    assert len(xiso.open_ome_zarr_pyramid(out).children) == 2


def test_convert_options(source, tmp_path):
    da, path = source
    out = tmp_path / "o.zarr"
    code = main(
        [
            "convert", str(path), str(out), "--method", "max", "--no-pyramid",
            "--ngff-version", "0.4", "--target", "2 um", "--quiet",
        ]
    )  # fmt: skip
    assert code == 0
    back = xiso.open_ome_zarr(out)
    assert back.attrs["ngff_version"] == "0.4"
    assert len(xiso.open_ome_zarr_pyramid(out).children) == 1
    ref = da.values[:32].reshape(4, 8, 24, 2, 20, 2).max(axis=(1, 3, 5))
    np.testing.assert_array_equal(back.values, ref)


def test_user_errors_exit_1_with_one_line(source, tmp_path, capsys):
    _, path = source
    out = tmp_path / "o.zarr"
    assert main(["convert", str(path), str(out), "--quiet"]) == 0
    assert main(["convert", str(path), str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists" in err and "--overwrite" in err
    assert main(["convert", str(path), str(out), "--quiet", "--overwrite"]) == 0
    assert main(["convert", str(tmp_path / "missing.zarr"), str(tmp_path / "x.zarr")]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["convert", str(path), str(tmp_path / "y.zarr"), "--chunks", "big"]) == 1
    assert "--chunks" in capsys.readouterr().err
    assert main(["info", str(tmp_path)]) == 1  # a folder that is no OME-Zarr
    assert "error:" in capsys.readouterr().err


def test_non_uniform_input_is_a_user_error(tmp_path, capsys):
    import zarr

    da = xiso.data.lightsheet(shape=(16, 16, 16), seed=0)
    path = tmp_path / "a.zarr"
    xiso.to_ome_zarr(da, path, pyramid=False)
    with pytest.raises(xiso.XisoError):
        main(["--debug", "info", str(tmp_path / "nothing.zarr")])
    group = zarr.open_group(path, mode="a")
    attrs = group.attrs.asdict()
    attrs["ome"]["multiscales"][0]["axes"][0]["unit"] = "parsec-ish"
    group.attrs.put(attrs)
    assert main(["info", str(path)]) == 1
    assert "cannot be parsed" in capsys.readouterr().err


def test_bad_choice_is_usage_error(source, tmp_path):
    _, path = source
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(path), str(tmp_path / "o.zarr"), "--method", "avg"])
    assert exc.value.code == 2


def test_info_text_and_json(source, capsys):
    _, path = source
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "anisotropy:  4" in text and "z=0.25 micrometer" in text
    assert main(["info", str(path), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["near_isotropic_factors"] == {"z": 4, "y": 1, "x": 1}
    assert report["levels"][0]["shape"] == {"z": 32, "y": 48, "x": 40}
    assert report["axes"]["z"] == {"type": "space", "units": "micrometer"}


def test_demo_small(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--shape", "32", "64", "64", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "before" in text and "after" in text and "z=0.25 micrometer" in text
    back = xiso.open_ome_zarr(out / "lightsheet-iso.ome.zarr")
    assert back.sizes["z"] == 8


def test_version_and_help():
    done = subprocess.run(
        [sys.executable, "-m", "xiso", "--version"], capture_output=True, text=True
    )
    assert done.returncode == 0 and done.stdout.strip() == f"xiso {xiso.__version__}"
    done = subprocess.run([sys.executable, "-m", "xiso", "--help"], capture_output=True, text=True)
    assert "examples:" in done.stdout and "exit codes" in done.stdout


class _FakeTTY:
    """A stderr that says it is a terminal, to see the progress bar."""

    def __init__(self):
        self.parts = []

    def isatty(self):
        return True

    def write(self, text):
        self.parts.append(text)
        return len(text)

    def flush(self):
        pass


BAR = "100%|"  # what tqdm's text bar shows when a computation ends


def test_progress_bar_on_a_terminal_only(source, tmp_path, monkeypatch, capsys):
    _, path = source
    fake = _FakeTTY()
    monkeypatch.setattr(sys, "stderr", fake)
    assert main(["convert", str(path), str(tmp_path / "a.zarr")]) == 0
    assert BAR in "".join(fake.parts)
    fake.parts.clear()
    assert main(["convert", str(path), str(tmp_path / "b.zarr"), "--quiet"]) == 0
    assert "%|" not in "".join(fake.parts)
    monkeypatch.undo()
    assert main(["convert", str(path), str(tmp_path / "c.zarr")]) == 0  # not a TTY: no bar
    assert "%|" not in capsys.readouterr().err


def test_progress_option_forces_the_bar_when_stderr_is_no_terminal(source, tmp_path, capfd):
    _, path = source
    assert main(["convert", str(path), str(tmp_path / "a.zarr"), "--progress"]) == 0
    captured = capfd.readouterr()
    assert BAR in captured.err and "%|" not in captured.out  # the summary stays on stdout
    assert "factors" in captured.out
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--shape", "16", "32", "32", "--progress"]) == 0
    assert BAR in capfd.readouterr().err
    assert main(["demo", "--out", str(out), "--shape", "16", "32", "32"]) == 0
    assert "%|" not in capfd.readouterr().err


def test_quiet_and_progress_exclude_each_other(source, tmp_path, capsys):
    _, path = source
    with pytest.raises(SystemExit) as exc:
        main(["convert", str(path), str(tmp_path / "o.zarr"), "--quiet", "--progress"])
    assert exc.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_info_on_nested_level_paths(tmp_path, capsys):
    da = xiso.data.lightsheet(shape=(32, 32, 32), seed=1)
    tree = da.iso.pyramid(min_size=8, levels=3)
    nested = xr.DataTree.from_dict({f"s{k}/img": tree[k].to_dataset() for k in tree.children})
    xiso.to_ome_zarr(nested, tmp_path / "n.zarr")
    assert main(["info", str(tmp_path / "n.zarr"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [lv["path"] for lv in report["levels"]] == ["s0/img", "s1/img", "s2/img"]


@pytest.mark.parametrize("module", ["xarray", "zarr"])
def test_ctrl_c_while_the_command_imports_exits_130_with_one_line(tmp_path, module):
    """A KeyboardInterrupt raised while ``xiso`` is still importing ends the
    installed command with one line and exit 130: during ``import xiso`` (here
    when xarray is imported), and during the imports the command makes later,
    on first use (zarr: ``import xiso`` no longer imports it)."""
    import textwrap
    from pathlib import Path

    script = Path(sys.executable).with_name("xiso")
    if not script.exists():
        pytest.skip("the xiso command is not installed next to this Python")
    runner = textwrap.dedent(
        f"""
        import runpy, sys
        class Interrupt:
            def find_spec(self, name, path, target=None):
                if name == {module!r}:
                    raise KeyboardInterrupt
        sys.meta_path.insert(0, Interrupt())
        sys.argv = [{str(script)!r}, "info", "nothing.zarr"]
        runpy.run_path({str(script)!r}, run_name="__main__")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", runner], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 130
    assert result.stderr == "xiso: interrupted\n"
    # the same hook in a plain import (not the command) keeps the KeyboardInterrupt
    plain = runner.replace("runpy.run_path", "import xiso  #")
    result = subprocess.run(
        [sys.executable, "-c", plain], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    if module == "xarray":  # imported by import xiso
        assert result.returncode != 130 and "KeyboardInterrupt" in result.stderr
    else:  # not imported by import xiso
        assert result.returncode == 0, result.stderr


def test_demo_on_a_tiny_volume(tmp_path, capsys):
    """``xiso demo --shape 4 4 4``: z 0.25 becomes a single plane; the table and
    the picture are still made."""
    pytest.importorskip("matplotlib")
    out = tmp_path / "demo"
    assert main(["demo", "--shape", "4", "4", "4", "--out", str(out), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "z=1 x y=4 x x=4" in text and (out / "orthoviews.png").stat().st_size > 1000


def test_progress_with_a_scheduler_is_one_line_pointing_at_the_dashboard(source, tmp_path, capfd):
    distributed = pytest.importorskip("distributed")
    _, path = source
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, protocol="tcp", dashboard_address=None
    ) as cluster:
        args = ["convert", str(path), str(tmp_path / "a.zarr"), "--progress"]
        assert main([*args, "--scheduler", cluster.scheduler_address]) == 0
    err = capfd.readouterr().err
    assert "dask.distributed Client" in err and "%|" not in err
    assert xiso.open_ome_zarr(tmp_path / "a.zarr").sizes == {"z": 8, "y": 48, "x": 40}


def test_xiso_warnings_are_one_line_on_stderr(tmp_path, capsys):
    """A volume whose z length is not a multiple of the factor: the trim warning
    is one 'xiso: warning:' line, not Python's form pointing into the script,
    and it offers no boundary='pad', which the command has no option for (and
    which OME-Zarr could not store); Python's warning still does."""
    da = xiso.data.lightsheet(shape=(10, 16, 16), seed=0)
    xiso.to_ome_zarr(da, tmp_path / "in.zarr", pyramid=False)
    assert main(["convert", str(tmp_path / "in.zarr"), str(tmp_path / "out.zarr"), "--quiet"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "xiso: warning: near_isotropic drops 2 of the 10 samples of dimension 'z' (10 is not a "
        "multiple of the factor 4; the result has 2 samples covering 8): crop first"
    ]
    with pytest.warns(xiso.XisoWarning, match=r"8\): pass boundary='pad' to keep them, or crop"):
        da.iso.near_isotropic()


def test_convert_isotropic_and_spacing(source, tmp_path, capsys):
    da, path = source  # z 0.25, y = x 1 um
    out = tmp_path / "iso.ome.zarr"
    assert main(["convert", str(path), str(out), "--isotropic", "--no-pyramid"]) == 0
    assert "spacing z=1, y=1, x=1" in capsys.readouterr().out
    back = xiso.open_ome_zarr(out)
    np.testing.assert_array_equal(back.values, da.iso.isotropic().values)
    # z 0.25 -> 1 um is 4 whole samples: the block mean, written as one level
    np.testing.assert_array_equal(back.values, da.iso.downsample(z=4).values)
    out = tmp_path / "half.ome.zarr"
    code = main(
        ["convert", str(path), str(out), "--spacing", "0.75 um", "--method", "nearest", "--quiet"]
    )
    assert code == 0
    back = xiso.open_ome_zarr(out)
    assert back.sizes["z"] == round(32 * 0.25 / 0.75) and back.sizes["y"] == 64
    expected = da.iso.resample("0.75 um", method="nearest")
    np.testing.assert_array_equal(back.values, expected.values)


@pytest.mark.parametrize(
    "options, message",
    [
        (["--isotropic", "--method", "mode"], "--method mode reduces near-isotropic blocks"),
        (["--method", "cubic"], "--method cubic resamples onto an exact grid: add --isotropic"),
        (["--isotropic", "--target", "2 um"], "drop --target"),
        (["--spacing", "2 parsec"], "check the units"),
    ],
)
def test_convert_exact_option_errors(source, tmp_path, capsys, options, message):
    _, path = source
    assert main(["convert", str(path), str(tmp_path / "x.zarr"), *options]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "x.zarr").exists()


def test_oblique_nifti_on_the_command_line(tmp_path, capsys):
    nibabel = pytest.importorskip("nibabel")
    angle = np.deg2rad(20)
    affine = np.eye(4)
    affine[:2, :2] = [[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]]
    affine[2, 2] = 3.0
    path = tmp_path / "oblique.nii"
    nibabel.save(nibabel.Nifti1Image(np.zeros((4, 4, 3), "uint8"), affine), str(path))
    assert main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "(on the command line: --oblique ignore)" in err
    assert main(["info", "--oblique", "ignore", str(path)]) == 0
    capsys.readouterr()
    out = tmp_path / "o.zarr"
    assert main(["convert", "--quiet", "--oblique", "ignore", str(path), str(out)]) == 0
    assert xiso.open_ome_zarr(out).sizes["z"] == 3


def test_oblique_and_input_spacing_misuse(source, tmp_path, capsys):
    _, path = source
    assert main(["info", "--oblique", "ignore", str(path)]) == 1
    assert "--oblique is for NIfTI files" in capsys.readouterr().err
    assert main(["convert", "--input-spacing", "z=1", str(path), str(tmp_path / "x")]) == 1
    assert "whose spacing its own metadata gives" in capsys.readouterr().err


def test_input_spacing_twice_is_refused(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    tifffile.imwrite(tmp_path / "s.tif", np.zeros((3, 4, 4), "uint8"))
    twice = ["--input-spacing", "z=1", "--input-spacing", "z=2"]
    assert main(["info", *twice, str(tmp_path / "s.tif")]) == 1
    assert "names 'z' twice; give each dim once" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Ctrl-C: a real SIGINT to `python -m xiso convert` at several moments
# --------------------------------------------------------------------------
def _tree_digest(path):
    """Every file under ``path`` with its bytes' hash: what "untouched" means."""
    import hashlib

    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def interrupted_input(tmp_path_factory):
    """A 16 MiB input in chunks of 16 (some 3000 tasks, a few seconds of bar)."""
    folder = tmp_path_factory.mktemp("sigint")
    da = xiso.data.lightsheet(shape=(128, 256, 256), seed=1)
    xiso.to_ome_zarr(da, folder / "in.ome.zarr", pyramid=False, chunks=16)
    return da, folder / "in.ome.zarr"


def _imported(module):
    """The ``-X importtime`` line printed once ``module`` is imported."""
    return re.compile(rf"^import time:[^|]*\|[^|]*\| +{re.escape(module)}$", re.M)


# when to send SIGINT: a pattern in what the command has written to stderr
MOMENTS = {
    "importing xiso": _imported("xarray"),  # during `import xiso`
    "opening the input": _imported("zarr"),  # imported on first use: before the bar
    "bar shown": re.compile(r"\b0%\|"),
    "writing": re.compile(r"\| *([1-9]\d*)/(\d+) \["),  # some tasks done, not all
}


@pytest.mark.parametrize("moment", list(MOMENTS))
def test_ctrl_c_during_convert_exits_130_and_leaves_the_target(interrupted_input, tmp_path, moment):
    """SIGINT to ``python -m xiso convert --overwrite --progress`` while it
    imports, opens, shows its bar and writes: exit 130, one line, no
    traceback, and the existing output exactly as it was (issue 19, item 12:
    once 'TqdmCallback' object has no attribute 'pbar', exit 1; and a hang at
    exit after an interrupt while dask started its threads)."""
    import os
    import signal

    _, source = interrupted_input
    target = tmp_path / "out.ome.zarr"
    xiso.to_ome_zarr(xiso.data.lightsheet(shape=(8, 16, 16), seed=5), target, pyramid=False)
    before, listing = _tree_digest(target), sorted(os.listdir(tmp_path))
    command = [
        sys.executable, "-m", "xiso", "convert", str(source), str(target),
        "--overwrite", "--progress", "--chunks", "16",
    ]  # fmt: skip
    # imports are timed on stderr (-X importtime, as an environment variable:
    # the command knows itself by its argv)
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path, env=env
    )
    err = b""
    try:
        while not (found := MOMENTS[moment].search(err.decode(errors="replace"))):
            chunk = os.read(proc.stderr.fileno(), 65536)
            assert chunk, f"the command ended before {moment!r}: {err[-2000:]!r}"
            err += chunk
        assert moment != "writing" or found[1] != found[2], "the write ended before SIGINT"
        proc.send_signal(signal.SIGINT)
        out, rest = proc.communicate(timeout=120)
    finally:
        proc.kill()
    text = (err + rest).decode(errors="replace")
    lines = [
        line.strip()
        for line in re.split(r"[\r\n]", text)
        if line.strip() and not line.startswith("import time:") and "%|" not in line
    ]
    assert proc.returncode == 130, text[-2000:]
    assert lines == ["xiso: interrupted"], lines  # no traceback, no other message
    assert out == b""  # no summary
    assert _tree_digest(target) == before  # the old image, byte for byte
    # beside it, nothing but (rarely) the hidden temporary of the interrupted
    # write: dask threads still writing chunks when the interrupt unwinds can
    # recreate it after its removal (issue 19, item 10, in xiso.io; strict once
    # that is fixed); the next write to this path removes it
    new = set(os.listdir(tmp_path)) - set(listing)
    assert all(n.startswith(".out.ome.zarr.xiso-tmp-") for n in new), new
    assert set(listing) <= set(os.listdir(tmp_path))


# --------------------------------------------------------------------------
# a closed output pipe: `xiso info X | head -1`
# --------------------------------------------------------------------------
class _ClosedPipe:
    """A stdout whose reader has gone."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize("options", [[], ["--json"]])
def test_a_closed_output_pipe_ends_quietly_with_141(source, monkeypatch, capsys, options):
    """As cat or grep killed by SIGPIPE: nothing on stderr, status 128 + 13
    (was: 'xiso: error: [Errno 32] Broken pipe' and exit 1)."""
    _, path = source
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["info", str(path), *options]) == 141
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_info_into_a_pipe_closed_at_once(source):
    """The command's stdout is a pipe whose reader is gone before the command
    writes (``xiso info X | head -0``, or head done early): exit 141, nothing
    on stderr, also not from Python's flush at exit."""
    _, path = source
    proc = subprocess.Popen(
        [sys.executable, "-m", "xiso", "info", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # the reader goes away while the command starts
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 141 and err == b""


# --------------------------------------------------------------------------
# --boundary, and messages worded with the command's options
# --------------------------------------------------------------------------
@pytest.fixture
def ten_planes(tmp_path):
    """z: 10 samples of 0.25 um, y = x: 1 um; near_isotropic's z factor 4 leaves 2."""
    da = xiso.data.lightsheet(shape=(10, 16, 12), seed=4)
    xiso.to_ome_zarr(da, tmp_path / "ten.zarr", pyramid=False)
    return da, tmp_path / "ten.zarr"


def test_boundary_option(ten_planes, tmp_path, capsys):
    da, path = ten_planes
    out = tmp_path / "trim.zarr"
    args = ["convert", str(path), str(out), "--no-pyramid", "--quiet"]
    assert main([*args, "--boundary", "trim"]) == 0
    ref = da.values[:8].reshape(2, 4, 16, 12).mean(axis=1)  # the 2 last planes dropped
    np.testing.assert_allclose(xiso.open_ome_zarr(out).values, ref, rtol=0, atol=0.5)
    capsys.readouterr()
    assert main([*args[:2], str(tmp_path / "x.zarr"), "--boundary", "exact"]) == 1
    err = capsys.readouterr().err
    assert err == (
        "xiso: error: dimension 'z' has length 10, which is not a multiple of its factor 4; "
        "use --boundary trim, or crop 'z' first\n"
    )
    assert not (tmp_path / "x.zarr").exists()
    with pytest.raises(SystemExit) as exc:  # pad: no OME-Zarr can store its last block
        main([*args[:2], str(tmp_path / "x.zarr"), "--boundary", "pad"])
    assert exc.value.code == 2 and "invalid choice: 'pad'" in capsys.readouterr().err
    assert main([*args[:2], str(tmp_path / "x.zarr"), "--isotropic", "--boundary", "exact"]) == 1
    assert "drop --boundary" in capsys.readouterr().err
    # Python keeps its own words for the same error
    with pytest.raises(xiso.FactorError, match=r"use boundary='trim' or boundary='pad', or crop"):
        da.iso.near_isotropic(boundary="exact")


def test_warnings_name_the_commands_options(ten_planes, tmp_path, capsys):
    """What Python says as keywords (method='mean', target=1.5, rounding='pow2'),
    the command says as its options; clauses it has no option for are left out."""
    da, _ = ten_planes
    labels = (da[:8] > 300).astype("uint8").rename("cell_labels")
    xiso.to_ome_zarr(labels, tmp_path / "labels.zarr", pyramid=False)
    code = main(
        ["convert", str(tmp_path / "labels.zarr"), str(tmp_path / "a.zarr"), "--quiet",
         "--no-pyramid", "--method", "mean"]
    )  # fmt: skip
    assert code == 0
    assert capsys.readouterr().err.splitlines() == [
        "xiso: warning: the DataArray 'cell_labels' looks like a label image (an integer "
        "array whose name is 'cell_labels'); --method mean invents labels that do not "
        "exist: use --method mode (or --method nearest)"
    ]
    with pytest.warns(xiso.XisoWarning, match=r"method='mean' invents.*use method='mode' \(or"):
        labels.iso.near_isotropic(method="mean")
    xiso.to_ome_zarr(da[:8], tmp_path / "eight.zarr", pyramid=False)
    code = main(
        ["convert", str(tmp_path / "eight.zarr"), str(tmp_path / "b.zarr"), "--quiet",
         "--no-pyramid", "--target", "1.5"]
    )  # fmt: skip
    assert code == 0
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(
        "xiso: warning: --target 1.5 (1.5 micrometer) cannot be reached with power-of-two "
        "factors (--rounding pow2): it was rounded to factors"
    )
    assert err[0].endswith(
        "pass --rounding int or --target that is a power of two times each spacing to "
        "reach it exactly"
    )
    assert "=" not in err[0].split(": ", 2)[2].replace("factors {", "")  # no keyword=value


def test_options_named_in_messages_exist_in_the_parser():
    """Every Python keyword the command words as its own option is one of
    convert's options (a renamed option would silently fall back to Python)."""
    from xiso.cli import _SAME_AS_PYTHON, _subparser, build_parser

    convert = _subparser(build_parser(), "convert")
    dests = {a.dest for a in convert._actions if a.option_strings}
    assert set(_SAME_AS_PYTHON) <= dests


# --------------------------------------------------------------------------
# docs/cli.md: generated from the parser, and current against --help
# --------------------------------------------------------------------------
CLI_PAGE = Path(__file__).resolve().parent.parent / "docs" / "cli.md"


def test_docs_cli_options_are_current():
    """docs/cli.md holds what ``python -m xiso.cli --markdown docs/cli.md``
    writes today: regenerate it after a change to the parser."""
    from xiso.cli import with_current_options

    page = CLI_PAGE.read_text()
    assert with_current_options(page) == page, (
        "docs/cli.md is stale: run python -m xiso.cli --markdown docs/cli.md"
    )


@pytest.mark.parametrize("command", ["demo", "info", "convert"])
def test_docs_cli_names_every_option_and_choice_of_help(command, capsys):
    """Read from ``xiso COMMAND --help`` itself, not from the generator: every
    option and every choice (the methods) appears in docs/cli.md."""
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    help_text = capsys.readouterr().out
    options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", help_text)) - {"--help"}
    choices = {
        c for group in re.findall(r"--[a-z-]+ \{([^}]+)\}", help_text) for c in group.split(",")
    }
    page = CLI_PAGE.read_text()
    assert {"--quiet", "--progress"} <= options or command == "info"
    assert sorted(o for o in options if f"`{o}" not in page) == []
    assert sorted(c for c in choices if not re.search(rf"`{c}`|[{{,]{c}[,}}]", page)) == []
    if command == "convert":
        assert {"--boundary", "--isotropic", "--spacing", "--input-spacing"} <= options
        assert set(xiso.methods.TABLE) <= choices  # every method, in --help and the page


def test_convert_reads_whole_blocks_through_the_fast_engine(tmp_path, monkeypatch):
    """An OME-Zarr input with the default target and boundary is made
    near-isotropic as it is read (whole blocks per task, through xiso's fast
    chunk engine where installed), as ``open_ome_zarr(near_isotropic=True)``
    does; image and label image hold the block mean and mode of a numpy
    reference, and a label-like image name still picks mode."""
    from xiso.io import engine

    if not engine._installed("zarrista"):
        pytest.skip("zarrista not installed")
    rng = np.random.default_rng(3)
    values = rng.integers(0, 4000, (16, 8, 8)).astype(np.uint16)
    cells = rng.integers(0, 3, (16, 8, 8)).astype(np.uint16)
    coords = {d: (d, np.arange(n) * s, {"units": "micrometer"}) for d, n, s in
              zip("zyx", values.shape, (0.25, 1, 1))}  # fmt: skip
    image = xr.DataArray(values, dims=("z", "y", "x"), coords=coords, name="raw")
    src = tmp_path / "in.ome.zarr"
    xiso.to_ome_zarr(image, src, pyramid=False, chunks=4, labels={"cells": image.copy(data=cells)})
    reads = []
    original = engine.ZarristaRegions.__getitem__

    def counted(self, key):
        reads.append(key)
        return original(self, key)

    monkeypatch.setattr(engine.ZarristaRegions, "__getitem__", counted)
    out = tmp_path / "out.ome.zarr"
    assert main(["convert", str(src), str(out), "--no-pyramid", "--quiet"]) == 0
    assert len(reads) == 2 * 2 * 2  # image and label: each of their 16x4x4 blocks read once
    blocks = values.reshape(4, 4, 8, 8).astype(np.float64).mean(axis=1)
    np.testing.assert_array_equal(xiso.open_ome_zarr(out).values, np.round(blocks))
    four = cells.reshape(4, 4, 8, 8)
    counts = np.stack([(four == k).sum(axis=1) for k in range(3)])
    # mode; ties go to the smallest label, as scipy.stats.mode
    np.testing.assert_array_equal(
        xiso.open_ome_zarr(out, label="cells").values, counts.argmax(axis=0)
    )
    # a label-like name: the default method is mode, as on a plain open
    named = image.copy(data=cells).rename("cell_labels")
    xiso.to_ome_zarr(named, tmp_path / "named.ome.zarr", pyramid=False, chunks=4)
    args = ["convert", str(tmp_path / "named.ome.zarr"), str(tmp_path / "n.zarr"), "--quiet"]
    assert main([*args, "--no-pyramid"]) == 0
    np.testing.assert_array_equal(xiso.open_ome_zarr(tmp_path / "n.zarr").values, counts.argmax(0))
