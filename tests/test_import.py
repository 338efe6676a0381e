"""``import xiso`` is cheap: it registers the ``.iso`` accessors and imports
what needs zarr, pydantic, matplotlib or distributed only on first use (PEP
562). Which modules are loaded is checked in fresh processes; how long the
import takes is measured by ``benchmarks/import_time.py``, never asserted."""

import json
import subprocess
import sys

import pytest

import xiso

HEAVY = [
    "zarr",
    "numcodecs",
    "pydantic",
    "ome_zarr_models",
    "fsspec",
    "matplotlib",
    "dask.distributed",
    "distributed",
    "tqdm",
    "pint",
    "xiso.io",
    "xiso.plot",
    "xiso.data",
]


def _fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints a JSON value last."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_import_xiso_loads_no_heavy_module():
    loaded = _fresh(
        "import json, sys, xarray as xr, xiso\n"
        "assert hasattr(xr.DataArray, 'iso') and hasattr(xr.Dataset, 'iso')\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    assert loaded == []


@pytest.mark.parametrize(
    ("name", "module"),
    [
        ("to_ome_zarr", "zarr"),
        ("open_ome_zarr", "zarr"),
        ("open_ome_zarr_pyramid", "zarr"),
        ("plot", "xiso.plot"),
        ("data", "xiso.data"),
    ],
)
def test_lazy_names_are_imported_on_first_use(name, module):
    before, after, kind = _fresh(
        "import json, sys, xiso\n"
        f"before = {module!r} in sys.modules\n"
        f"value = xiso.{name}\n"
        f"print(json.dumps([before, {module!r} in sys.modules, type(value).__name__]))"
    )
    assert (before, after) == (False, True)
    assert kind == ("module" if name in ("plot", "data") else "function")


def test_reader_errors_live_in_errors_and_stay_where_they_were():
    """TiffError, NiftiError and FormatError are xiso.errors classes: catching
    them needs no reader (xiso.io stays unimported), and the old homes re-export them."""
    loaded, module = _fresh(
        "import json, sys, xiso\n"
        "kinds = [xiso.TiffError, xiso.NiftiError, xiso.FormatError]\n"
        "print(json.dumps(['xiso.io' in sys.modules, sorted({k.__module__ for k in kinds})]))"
    )
    assert (loaded, module) == (False, ["xiso.errors"])
    from xiso import errors
    from xiso.io import formats, nifti, tiff

    assert tiff.TiffError is errors.TiffError is xiso.io.TiffError
    assert nifti.NiftiError is errors.NiftiError is xiso.io.NiftiError
    assert formats.FormatError is errors.FormatError is xiso.io.FormatError
    assert issubclass(errors.TiffError, xiso.XisoError)


def test_the_usual_numpy_workflow_stays_light():
    """Spacing, factors and near_isotropic on a numpy-backed array with units."""
    loaded = _fresh(
        "import json, sys, numpy as np, xarray as xr, xiso\n"
        "c = lambda d, s: (d, np.arange(8) * s, {'units': 'micrometer'})\n"
        "da = xr.DataArray(np.zeros((8, 8, 8)), dims=('z', 'y', 'x'),"
        " coords={'z': c('z', 0.25), 'y': c('y', 1.0), 'x': c('x', 1.0)})\n"
        "da.iso.spacing, da.iso.factors(), da.iso.near_isotropic()\n"
        f"print(json.dumps([m for m in {HEAVY[:-4]!r} if m in sys.modules]))"
    )
    assert loaded == []


def test_public_names_resolve_and_are_listed():
    assert set(xiso._LAZY) <= set(xiso.__all__) | {"open"}
    assert set(xiso.__all__) <= set(dir(xiso))
    for name in xiso.__all__:
        assert getattr(xiso, name) is not None
    namespace: dict = {}
    exec("from xiso import *", namespace)
    assert set(xiso.__all__) <= set(namespace)
    assert xiso.to_ome_zarr is xiso.io.to_ome_zarr and xiso.plot is sys.modules["xiso.plot"]
    assert callable(xiso.pyramid)  # the function, not the module xiso.pyramid


def test_star_import_keeps_the_builtin_open():
    """``from xiso import *`` must not shadow ``open``; ``xiso.open`` stays."""
    import builtins

    namespace: dict = {}
    exec("from xiso import *\nresult = open", namespace)
    assert namespace["result"] is builtins.open
    assert "open" not in namespace and "open" not in xiso.__all__
    assert xiso.open is sys.modules["xiso.io"].open and "open" in dir(xiso)


def test_dir_lists_the_public_names_only():
    """Tab completion on ``xiso.`` shows what users call, not the modules
    xiso's ``__init__`` uses nor its submodules (which ``import xiso`` loads)."""
    import types

    names = dir(xiso)
    assert names == sorted(names)
    assert set(names) == {*xiso.__all__, "open"}
    assert not {"os", "sys", "importlib", "version", "TYPE_CHECKING", "Any"} & set(names)
    submodules = {n for n in vars(xiso) if isinstance(vars(xiso)[n], types.ModuleType)}
    assert {"accessor", "blocks", "exact", "errors"} <= submodules  # they are there ...
    assert not (submodules - {"data", "plot"}) & set(names)  # ... but not listed


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'xiso' has no attribute 'nope'"):
        xiso.nope  # noqa: B018
    assert not hasattr(xiso, "nope")


def test_lazy_names_are_typed():
    """mypy and IDEs see the lazy names through the TYPE_CHECKING block."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(xiso))
    typed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for stmt in node.body:
                typed.update(a.asname or a.name for a in stmt.names)
    assert set(xiso._LAZY) == typed


def test_what_the_resamplers_import_is_a_runtime_dependency():
    """xiso.grid and xiso.interp import scipy on first use: a plain
    ``pip install xiso`` must bring it (it once came only with the test extras)."""
    from importlib.metadata import requires

    plain = [r.split(";")[0] for r in requires("xiso") or [] if "extra ==" not in r]
    names = {r.split(">")[0].split("=")[0].split("[")[0].strip().lower() for r in plain}
    assert {"scipy", "numpy", "tifffile"} <= names


def _small_store(path) -> str:
    import numpy as np
    import xarray as xr

    # attrs beyond NGFF's units: xiso keeps them in its own record of each coordinate
    coords = {
        d: (d, np.arange(8) * s, {"units": "micrometer", "long_name": f"{d} position"})
        for d, s in zip("zyx", (0.25, 1, 1))
    }
    da = xr.DataArray(np.zeros((8, 8, 8), "uint8"), dims=("z", "y", "x"), coords=coords)
    xiso.to_ome_zarr(da, path / "a.ome.zarr", labels={"cells": xr.zeros_like(da)})
    return str(path / "a.ome.zarr")


def test_opening_an_image_validates_without_ome_zarr_models(tmp_path):
    """Metadata in the plain form (what xiso writes) is checked without
    ome-zarr-models and pydantic (about 0.3 s to import), and the lazy opens
    (reduced too) build their coordinates without xarray importing pint to
    check their type."""
    store = _small_store(tmp_path)
    loaded = _fresh(
        "import json, sys, xiso\n"
        f"da = xiso.open_ome_zarr({store!r})\n"
        f"xiso.open_ome_zarr({store!r}, label='cells')\n"
        f"xiso.open_ome_zarr({store!r}, near_isotropic=True)\n"
        "heavy = ('ome_zarr_models', 'pydantic', 'pint')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    assert loaded == []


def test_xiso_info_imports_no_dask(tmp_path):
    """``xiso info`` reads metadata only: no dask (which imports scipy), pint,
    pydantic or ome-zarr-models; a lazy open still gives dask arrays."""
    store = _small_store(tmp_path)
    loaded = _fresh(
        "import contextlib, io, json, sys\n"
        "from xiso.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        f"    assert main(['info', {store!r}]) == 0\n"
        "assert 'cells' in out.getvalue() and 'z=0.25' in out.getvalue()\n"
        "heavy = ('dask', 'scipy', 'pint', 'pydantic', 'ome_zarr_models')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    assert loaded == []
    kind = _fresh(
        f"import json, xiso\nda = xiso.open_ome_zarr({store!r})\n"
        "print(json.dumps(type(da.data).__module__))"
    )
    assert kind.startswith("dask.array")


def test_io_imports_no_resampling_module():
    """The edge reads and writes what it is given: no module of :mod:`xiso.io`
    imports a reduction or resampling module (:mod:`xiso.compose` makes the
    pyramid, the label levels and the (near-)isotropic opens)."""
    import ast
    import pathlib

    compute = {"blocks", "exact", "pyramid", "reduce", "interp"}
    found = []
    for path in sorted(pathlib.Path(xiso.__file__).parent.joinpath("io").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 2:
                names = {node.module} if node.module else {a.name for a in node.names}
                found += [f"{path.name}: {name}" for name in sorted(names & compute)]
    assert found == []


def test_a_lazy_open_and_xiso_info_import_only_what_reading_needs(tmp_path):
    """A lazy open (reduced too) imports neither the writer (``xiso.io.write``,
    its progress records ``xiso.io.resume``), nor the NIfTI module for an
    image without NIfTI attrs, nor the package metadata (which imports the
    email parser): ``xiso.__version__`` is read on first use, and is then the
    installed version. ``xiso info`` neither (but the resume module, whose
    ``COMMAND`` every command sets)."""
    from importlib.metadata import version

    store = _small_store(tmp_path)
    unwanted = ("xiso.io.write", "xiso.io.resume", "xiso.io.nifti", "email.policy")
    loaded, found = _fresh(
        "import json, sys, xiso\n"
        f"da = xiso.open_ome_zarr({store!r}, near_isotropic=True)\n"
        "assert type(da.data).__module__.startswith('dask.array')\n"
        f"loaded = [m for m in {unwanted!r} if m in sys.modules]\n"
        "print(json.dumps([loaded, xiso.__version__]))"
    )
    assert loaded == []
    assert found == version("xiso")
    loaded = _fresh(
        "import contextlib, io, json, sys\n"
        "from xiso.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['info', {store!r}]) == 0\n"
        f"print(json.dumps([m for m in {unwanted!r} if m in sys.modules]))"
    )
    assert loaded == ["xiso.io.resume"]


def test_a_conversion_imports_neither_ome_zarr_models_nor_distributed(tmp_path):
    """The whole OME-Zarr -> near-isotropic OME-Zarr job in a fresh process:
    the metadata it writes (the plain form) is built without ome-zarr-models
    and pydantic, and the write picks dask's threaded scheduler without dask's
    import of distributed (no client can exist when nothing imported it):
    about 0.3 s each of a whole conversion. The output holds the block means."""
    import numpy as np
    import xarray as xr

    means = np.random.default_rng(0).integers(10, 60000, (2, 8, 8)).astype(np.uint16)
    offsets = np.array([-3, 3, -7, 7])[None, :, None, None]  # each block of 4 sums to 0
    values = (means[:, None].astype(np.int64) + offsets).reshape(8, 8, 8).astype(np.uint16)
    coords = {
        d: (d, np.arange(8) * s, {"units": "micrometer", "long_name": d})
        for d, s in zip("zyx", (0.25, 1, 1))
    }
    store = str(tmp_path / "src.ome.zarr")
    xiso.to_ome_zarr(xr.DataArray(values, dims=("z", "y", "x"), coords=coords), store)
    out = str(tmp_path / "iso.ome.zarr")
    loaded = _fresh(
        "import json, sys, xiso\n"
        f"iso = xiso.open_ome_zarr({store!r}, near_isotropic=True)\n"
        f"xiso.to_ome_zarr(iso, {out!r}, pyramid=False)\n"
        "heavy = ('ome_zarr_models', 'pydantic', 'distributed', 'pint')\n"
        "print(json.dumps([m for m in heavy if m in sys.modules]))"
    )
    assert loaded == []
    back = xiso.open_ome_zarr(out)
    assert back.sizes == {"z": 2, "y": 8, "x": 8}
    np.testing.assert_array_equal(back.values, means)
    assert back.z.attrs["long_name"] == "z"


def test_a_client_still_gets_the_write(tmp_path):
    """With distributed imported and a client active, the write is left to the
    client, as dask would choose it (the control of the test above)."""
    store = _small_store(tmp_path)
    out = str(tmp_path / "iso.ome.zarr")
    options = _fresh(
        "import json, xiso\n"
        "from distributed import Client\n"
        "from xiso.io import write\n"
        "with Client(processes=False, n_workers=1, dashboard_address=None):\n"
        f"    iso = xiso.open_ome_zarr({store!r}, near_isotropic=True)\n"
        "    options = write._store_options([iso.data])\n"
        f"    xiso.to_ome_zarr(iso, {out!r}, pyramid=False)\n"
        "print(json.dumps(sorted(options)))"
    )
    assert options == []  # none of xiso's threaded-scheduler options
    assert xiso.open_ome_zarr(out).sizes["z"] == 2
