import ast
import importlib
import inspect
import pydoc
import subprocess
import sys
from pathlib import Path

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from helpers import make_volume

import xiso


def test_import_raises_no_accessor_warning():
    code = "import xarray, xiso; assert hasattr(xarray.DataArray, 'iso')"
    done = subprocess.run(
        [sys.executable, "-W", "error::Warning", "-c", code], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_accessor_init_does_not_raise_on_bad_objects():
    da = xr.DataArray(np.zeros(3), dims="q")
    acc = da.iso  # nothing is read at construction
    with pytest.raises(xiso.SpatialDimError, match="'q'"):
        _ = acc.spacing


@pytest.mark.parametrize("kind", ["DataArray", "Dataset"])
def test_methods_and_twins_agree(kind):
    obj = make_volume(nz=16)
    if kind == "Dataset":
        obj = obj.to_dataset()
    a = obj.iso.near_isotropic()
    b = xiso.near_isotropic(obj)
    c = obj.iso.downsample(z=4)
    d = obj.iso.downsample({"z": 4})
    e = xiso.downsample(obj, {"z": 4})
    f = xiso.downsample(obj, z=4)
    for other in (b, c, d, e, f):
        xr.testing.assert_identical(a, other)
    assert obj.iso.factors() == xiso.near_isotropic_factors(obj) == {"z": 4, "y": 1, "x": 1}
    assert obj.iso.spatial_dims == ("z", "y", "x")
    assert obj.iso.spacing == {"z": 0.25, "y": 1.0, "x": 1.0}
    assert obj.iso.units == {"z": None, "y": None, "x": None}


def test_user_example():
    nz, ny, nx = 16, 8, 8
    vol = np.random.default_rng(1).random((nz, ny, nx))
    da = xr.DataArray(
        vol,
        dims=("z", "y", "x"),
        coords={"z": np.arange(nz) * 0.25, "y": np.arange(ny) * 1.0, "x": np.arange(nx) * 1.0},
    )
    iso = da.iso.near_isotropic()
    assert iso.iso.spacing == {"z": 1.0, "y": 1.0, "x": 1.0}
    np.testing.assert_allclose(iso.z.values[:2], [0.375, 1.375])
    ref = vol.reshape(nz // 4, 4, ny, nx).mean(axis=1)
    np.testing.assert_allclose(iso.values, ref)


def test_every_finer_dim_is_reduced():
    da = xr.DataArray(
        np.zeros((8, 8, 8)),
        dims=("z", "y", "x"),
        coords={"z": np.arange(8) * 4.0, "y": np.arange(8) * 2.0, "x": np.arange(8) * 1.0},
    )
    out = da.iso.near_isotropic()
    assert dict(out.sizes) == {"z": 8, "y": 4, "x": 2}
    assert out.iso.spacing == {"z": 4.0, "y": 4.0, "x": 4.0}


def test_non_spatial_dims_untouched():
    data = np.random.default_rng(0).integers(0, 50, (3, 2, 8, 4, 4)).astype("uint8")
    da = xr.DataArray(
        data,
        dims=("t", "c", "z", "y", "x"),
        coords={
            "t": [0.0, 1.0, 2.0],
            "c": ["dapi", "gfp"],
            "z": np.arange(8) * 0.5,
            "y": np.arange(4.0),
            "x": np.arange(4.0),
        },
        attrs={"long_name": "intensity"},
    )
    out = da.iso.near_isotropic()
    assert dict(out.sizes) == {"t": 3, "c": 2, "z": 4, "y": 4, "x": 4}
    xr.testing.assert_identical(out.c, da.c)
    xr.testing.assert_identical(out.t, da.t)
    assert out.attrs == da.attrs


def test_input_not_mutated(volume):
    before = volume.copy(deep=True)
    volume.iso.near_isotropic(method="median")
    xr.testing.assert_identical(volume, before)


def test_dask_backed_is_lazy(raise_if_dask_computes):
    da = make_volume(nz=16).chunk({"z": 3})
    out = da.iso.near_isotropic()
    assert isinstance(out.data, dsa.Array)
    _ = out.iso.spacing  # coordinates are numpy; reading them computes nothing


def test_near_isotropic_noop_and_dtype():
    da = make_volume(nz=4, dz=1.0)
    out = da.iso.near_isotropic()
    xr.testing.assert_identical(out, da)
    assert da.iso.near_isotropic(dtype="float32").dtype == np.float32
    with pytest.raises(xiso.OptionError, match="method='average'"):
        da.iso.near_isotropic(method="average")
    with pytest.raises(xiso.OptionError, match="boundary='wrap'"):
        da.iso.near_isotropic(boundary="wrap")


def test_factor_larger_than_dim():
    da = make_volume(nz=3, dz=0.25)
    match = (  # the message as blocks.py words it (being reworded: both forms)
        "dimension 'z' has length 3, smaller than its factor 4"
        "|factor of 4 for dimension 'z', which has only 3 samples"
    )
    with pytest.raises(xiso.FactorError, match=match):
        da.iso.near_isotropic()


def test_exact_boundary():
    da = make_volume(nz=10, dz=0.25)
    with pytest.raises(
        xiso.FactorError, match="dimension 'z' has length 10, which is not a multiple"
    ):
        da.iso.near_isotropic(boundary="exact")
    with pytest.warns(xiso.XisoWarning, match="drops 2 of the 10 samples of dimension 'z'"):
        assert da.iso.near_isotropic(boundary="trim").sizes["z"] == 2
    assert da.iso.near_isotropic(boundary="pad").sizes["z"] == 3


def test_both_mapping_and_kwargs(volume):
    with pytest.raises(xiso.OptionError, match="not both"):
        volume.iso.downsample({"z": 2}, y=2)
    with pytest.raises(xiso.FactorError, match="no factors given"):
        volume.iso.downsample()


@pytest.mark.parametrize("bad", [0, -2, 2.0, "4", True])
def test_bad_factor_values(volume, bad):
    with pytest.raises(xiso.FactorError, match="factor of dimension 'z'"):
        volume.iso.downsample(z=bad)


def test_errors_are_value_errors():
    assert issubclass(xiso.XisoError, ValueError)
    for name in (
        "SpatialDimError",
        "MissingCoordinateError",
        "SpacingError",
        "NonUniformSpacingError",
        "UnitError",
        "FactorError",
        "OptionError",
        "DtypeError",
    ):
        assert issubclass(getattr(xiso, name), xiso.XisoError)


def test_dtype_policy_when_nothing_is_reduced():
    da = make_volume(nz=4, dz=1.0, dtype="float64")
    da[:] = 1.5
    da[0, 0, 0] = -3.2
    out = da.iso.near_isotropic(dtype="uint8")  # isotropic: a cast only, still rounded
    assert out.dtype == np.uint8
    assert out.values[0, 0, 1] == 2 and out.values[0, 0, 0] == 0  # 1.5 -> 2 (even), clipped
    assert da.iso.downsample(z=1, dtype="uint8").dtype == np.uint8
    lazy = da.chunk({"z": 1}).iso.near_isotropic(dtype="uint8")
    np.testing.assert_array_equal(lazy.values, out.values)
    with pytest.raises(xiso.DtypeError, match="variable 'vol'"):
        da.astype(str).iso.near_isotropic()


def test_nan_into_an_integer_dtype_is_an_error():
    da = make_volume(nz=8, dtype="float32")
    da[:4] = np.nan
    with pytest.raises(xiso.DtypeError, match="NaN"):
        da.iso.near_isotropic(dtype="uint16")
    lazy = da.chunk({"z": 4}).iso.near_isotropic(dtype="uint16")  # lazy: raised on compute
    with pytest.raises(xiso.DtypeError, match="fillna"):
        lazy.compute()
    ok = da.fillna(0).iso.near_isotropic(dtype="uint16")
    assert ok.dtype == np.uint16


@pytest.mark.parametrize(("dz", "dyx"), [(1e-300, 1.0), (1e-30, 1e30)])
@pytest.mark.parametrize("kind", ["DataArray", "Dataset"])
def test_spacings_too_far_apart_are_a_factor_error(dz, dyx, kind):
    obj = make_volume(nz=8, ny=4, nx=4, dz=dz, dy=dyx, dx=dyx)
    obj = obj.to_dataset() if kind == "Dataset" else obj
    match = r"dimension 'z' is 1e-[0-9]+, .* times finer .*too far apart; check their units"
    with pytest.raises(xiso.FactorError, match=match):
        obj.iso.near_isotropic()
    with pytest.raises(xiso.FactorError, match=match):
        obj.iso.factors(rounding="int")


def _tree():
    fine = make_volume(nz=18, ny=4, nx=4, dz=0.25).to_dataset()  # pad: a partial z block
    coarse = make_volume(nz=8, ny=4, nx=4, dz=0.5, seed=1).to_dataset()
    return xr.DataTree.from_dict({"fine": fine, "coarse": coarse})


@pytest.mark.parametrize("kind", ["DataArray", "Dataset", "DataTree"])
def test_unknown_keyword_is_a_type_error(kind):
    obj = {"DataArray": make_volume(), "Dataset": make_volume().to_dataset(), "DataTree": _tree()}
    with pytest.raises(TypeError, match="unexpected keyword argument 'methd'"):
        obj[kind].iso.near_isotropic(methd="mode")


def test_tree_near_isotropic_options_reach_every_node():
    tree = _tree()
    out = tree.iso.near_isotropic(method="max", boundary="pad", dtype="float32", target=2.0)
    for path, f in (("fine", 8), ("coarse", 4)):
        vol = tree[path]["vol"].values
        ref = np.stack([vol[i : i + f].max(axis=0) for i in range(0, vol.shape[0], f)])
        ref = ref.reshape(ref.shape[0], 2, 2, 2, 2).max(axis=(2, 4))  # y, x: 1 -> 2 (target)
        got = out[path]["vol"]
        assert got.dtype == np.float32
        np.testing.assert_array_equal(got.values, ref.astype(np.float32))
    with pytest.raises(xiso.OptionError, match="method='average'"):
        tree.iso.near_isotropic(method="average")


def test_downsample_keyword_typo_is_an_error():
    for obj in (make_volume(), make_volume().to_dataset(), _tree()):
        with pytest.raises(xiso.FactorError, match="'methd'"):
            obj.iso.downsample(z=2, methd="mode")
        with pytest.raises(xiso.OptionError, match="not both"):
            obj.iso.downsample({"z": 2}, methd="mode")


def test_plain_functions_point_a_tree_to_its_accessor():
    tree = _tree()
    for call, func, method in (
        (lambda: xiso.near_isotropic(tree), "near_isotropic", "near_isotropic"),
        (lambda: xiso.near_isotropic_factors(tree), "near_isotropic_factors", "near_isotropic"),
        (lambda: xiso.downsample(tree, z=2), "downsample", "downsample"),
    ):
        match = rf"{func}\(\) takes a DataArray or Dataset, got a DataTree; use tree.iso.{method}"
        with pytest.raises(TypeError, match=match):
            call()


# --------------------------------------------------------------------------
# notebook-first: help text, repr, import cost, Dataset parity
# --------------------------------------------------------------------------
def _section(doc, title):
    """The lines of numpydoc section ``title`` of ``doc`` (cleaned)."""
    lines = inspect.cleandoc(doc).splitlines()
    start = lines.index(title) + 2
    end = next((i for i in range(start, len(lines) - 1) if set(lines[i + 1]) == {"-"}), len(lines))
    return lines[start:end]


def _twins():
    from xiso import blocks, io, plot

    pyramid_module = importlib.import_module("xiso.pyramid")  # xiso.pyramid is the function

    da, ds, tree = make_volume(), make_volume().to_dataset(), _tree()
    return [
        (da.iso.factors, blocks.near_isotropic_factors),
        (ds.iso.factors, blocks.near_isotropic_factors),
        (da.iso.near_isotropic, blocks.near_isotropic),
        (ds.iso.near_isotropic, blocks.near_isotropic),
        (da.iso.downsample, blocks.downsample),
        (ds.iso.downsample, blocks.downsample),
        (da.iso.pyramid, pyramid_module.pyramid),
        (da.iso.plot, plot.orthoviews),
        (da.iso.to_ome_zarr, io.to_ome_zarr),
        (tree.iso.near_isotropic, blocks.near_isotropic),
        (tree.iso.downsample, blocks.downsample),
        (tree.iso.to_ome_zarr, io.to_ome_zarr),
    ]


@pytest.mark.parametrize("index", range(12))
def test_help_shows_the_twins_documentation(index):
    method, twin = _twins()[index]
    text = pydoc.render_doc(method, renderer=pydoc.plaintext)
    doc = inspect.getdoc(method)
    assert "Parameters\n----------" in doc and "Parameters" in text
    for title in ("Returns", "Raises", "Examples"):  # the sections the twin has
        if title in inspect.getdoc(twin).splitlines():
            assert f"{title}\n{'-' * len(title)}" in doc and title in text
    params = "\n".join(_section(doc, "Parameters"))
    for name, p in inspect.signature(method).parameters.items():
        if p.kind is not p.VAR_KEYWORD:
            assert name in params, name
    assert not any(line.startswith("obj") for line in _section(doc, "Parameters"))
    assert "obj : " in inspect.getdoc(twin)
    # written once: the other sections are the twin's, line for line
    for title in ("Raises", "Notes"):
        if title in inspect.getdoc(twin).splitlines():
            assert _section(doc, title) == _section(twin.__doc__, title)
    tree_method = type(method.__self__).__name__ == "IsoDataTreeAccessor"
    if not tree_method and "Returns" in inspect.getdoc(twin).splitlines():
        assert _section(doc, "Returns") == _section(twin.__doc__, "Returns")
    assert method.__name__ in doc or twin.__name__ in doc


def test_help_of_near_isotropic():
    doc = inspect.getdoc(make_volume().iso.near_isotropic)
    assert doc.startswith(inspect.getdoc(xiso.near_isotropic).splitlines()[0])
    assert "``obj.iso.near_isotropic(...)`` is ``xiso.near_isotropic(obj, ...)``." in doc
    assert ">>> da.iso.near_isotropic().sizes" in doc  # the example in the accessor form
    assert "near_isotropic(da)" not in doc
    plot_doc = inspect.getdoc(make_volume().iso.plot)
    assert '>>> fig = vol.iso.plot(mode="mip")' in plot_doc


def test_accessor_doc_drops_parameters_from_shared_entries():
    from xiso._docgen import accessor_doc

    doc = accessor_doc(
        """Summary of ``obj``.

        Parameters
        ----------
        obj : DataArray
            The data.
        a, b
            Shared text.
        c : int
            More.

        Examples
        --------
        >>> f(x, c=1)
        >>> m.f(y)
        >>> g(f(z))
        """,
        "xiso.f",
        "meth",
        drop=("obj", "b", "c"),
    )
    assert doc.splitlines() == [
        "Summary of ``obj``.",
        "",
        "``obj.iso.meth(...)`` is ``xiso.f(obj, ...)``.",
        "",
        "Parameters",
        "----------",
        "a",
        "    Shared text.",
        "Examples",
        "--------",
        ">>> x.iso.meth(c=1)",
        ">>> y.iso.meth()",
        ">>> g(z.iso.meth())",
    ]


def test_tree_to_ome_zarr_takes_only_what_a_tree_uses(tmp_path):
    tree = make_volume(nz=8).iso.pyramid(min_size=2, levels=2)
    params = inspect.signature(tree.iso.to_ome_zarr).parameters
    assert list(params) == [
        "store",
        "version",
        "chunks",
        "shards",
        "compressor",
        "overwrite",
        "labels",
        "label",
        "storage_options",
        "progress",
        "resume",
    ]
    entries = _section(inspect.getdoc(tree.iso.to_ome_zarr), "Parameters")
    assert not any(line.startswith("levels") for line in entries)  # no levels= entry
    with pytest.raises(TypeError, match="unexpected keyword argument 'pyramid'"):
        tree.iso.to_ome_zarr(tmp_path / "t.zarr", pyramid=False)


def test_accessor_module_does_not_import_io_or_plot_at_top():
    tree = ast.parse(Path(xiso.accessor.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    names = {a.name for n in top for a in n.names} | {getattr(n, "module", None) for n in top}
    assert not names & {"io", "plot", "xiso.io", "xiso.plot"}, names


UM = ("um", "um", "um")


def test_repr_of_a_known_array():
    da = make_volume(units=UM)  # 16 x 6 x 5 uint16, z 0.25 um, y x 1 um
    assert repr(da.iso) == (
        "<DataArray.iso 'vol' (z: 16, y: 6, x: 5) uint16>\n"
        "  spatial dims  z, y, x\n"
        "  spacing       z 0.25 um, y 1 um, x 1 um\n"
        "  anisotropy    4 (coarsest y 1 um / finest z 0.25 um)\n"
        "  factors       z 4, y 1, x 1 (near_isotropic, rounding='pow2'; see .explain())\n"
        "  after         z 1 um, y 1 um, x 1 um; anisotropy 1\n"
        "  data          numpy"
    )
    html = da.iso._repr_html_()
    assert "<th style='text-align:left'>anisotropy</th>" in html
    assert (
        "4 (coarsest y 1 um / finest z 0.25 um)" in html
        and "&lt;DataArray.iso &#x27;vol&#x27;" in html
    )


def test_repr_rounds_for_reading_and_shows_dask_chunks():
    ds = make_volume(nz=10, dz=0.1 * 3, dy=1.2000000000000002, dx=1.2).to_dataset().chunk({"z": 4})
    assert repr(ds.iso) == (
        "<Dataset.iso (z: 10, y: 6, x: 5) 1 data variable>\n"
        "  spatial dims  z, y, x\n"
        "  spacing       z 0.3, y 1.2, x 1.2\n"
        "  anisotropy    4 (coarsest y 1.2 / finest z 0.3)\n"
        "  factors       z 4, y 1, x 1 (near_isotropic, rounding='pow2'; see .explain())\n"
        "  after         z 1.2, y 1.2, x 1.2; anisotropy 1\n"
        "  data vol      dask, chunks (4, 6, 5) (3 chunks)"
    )


def _bad_objects():
    vol = make_volume()
    return {
        "no spatial dim": xr.DataArray(np.zeros(3), dims="q"),
        "no coordinate": vol.drop_vars("z"),
        "non-uniform": vol.assign_coords(z=np.r_[0.0, 1.0, np.arange(3, 17.0)]),
        "bad unit": make_volume(units=("banana", "um", "um")),
        "some units": make_volume(units=("um", None, None)),
        "factor too large": make_volume(dz=1e-300),
        "string coordinate": vol.assign_coords(x=list("abcde")),
        "0-d": xr.DataArray(1.0),
        "empty dataset": xr.Dataset(),
    }


@pytest.mark.parametrize("case", list(_bad_objects()))
def test_repr_never_raises(case):
    obj = _bad_objects()[case]
    text = repr(obj.iso)
    html = obj.iso._repr_html_()
    assert text.startswith(f"<{type(obj).__name__}.iso") and "<table>" in html
    assert all(len(line.splitlines()) == 1 for line in text.splitlines())


def test_repr_says_why_in_one_line():
    bad = _bad_objects()
    assert (
        "  spacing       NonUniformSpacingError: the coordinate of dimension 'z' is not evenly"
        in (repr(bad["non-uniform"].iso))
    )
    assert "  spacing       MissingCoordinateError: dimension 'z' has no coordinate" in repr(
        bad["no coordinate"].iso
    )
    assert "  factors       FactorError: the spacing of dimension 'z' is 1e-300" in repr(
        bad["factor too large"].iso
    )
    assert "  spatial dims  SpatialDimError: found no spatial dimension among ('q',)" in repr(
        bad["no spatial dim"].iso
    )


def test_repr_never_raises_even_when_everything_fails(monkeypatch):
    import xiso.accessor as accessor

    def boom(obj):
        raise RuntimeError("broken\nsecond line")

    monkeypatch.setattr(accessor, "_title", boom)
    da = make_volume()
    assert repr(da.iso) == "<DataArray.iso>\n  error  RuntimeError: broken"
    assert "RuntimeError: broken" in da.iso._repr_html_()


@pytest.mark.parametrize("method", ["pyramid", "plot"])
def test_dataset_pyramid_and_plot_say_to_pick_a_variable(method):
    ds = make_volume().to_dataset()
    ds["lab"] = ds["vol"] > 500
    ds["t"] = ("t", [1.0, 2.0])
    match = (
        rf"Dataset.iso.{method}\(\) is not available: .* Pick one variable "
        rf"\(spatial variables: 'vol', 'lab'\): ds\['vol'\].iso.{method}\(...\)"
    )
    with pytest.raises(xiso.XisoError, match=match):
        getattr(ds.iso, method)(min_size=2) if method == "pyramid" else ds.iso.plot(mode="mip")
    with pytest.raises(xiso.XisoError, match=r'ds\["name"\].iso'):
        getattr(xr.Dataset({"q": ("q", [1, 2])}).iso, method)()
    # what to do instead works
    assert getattr(ds["vol"].iso, method).__doc__.count("Parameters") == 1


def test_generated_accessor_docs_are_current():
    """The accessor's docstrings are generated at development time from the
    twins' (``python -m xiso._docgen``); a twin's docstring edited without
    regenerating fails here, with the command to run."""
    from xiso import _accessor_docs, _docgen, accessor

    current = _docgen.TARGET.read_text(encoding="utf-8")
    assert _docgen.render(_docgen.accessor_docs()) == current, "run: python -m xiso._docgen"
    assert _docgen.main(["--check"]) == 0
    assert set(_accessor_docs.DOCS) == set(accessor._TWINS)  # none missing, none left over


def test_docgen_check_fails_on_a_stale_file_and_rewrites_it(tmp_path, monkeypatch, capsys):
    from xiso import _docgen

    stale = tmp_path / "_accessor_docs.py"
    current = _docgen.render(_docgen.accessor_docs())
    stale.write_text(current.replace("Block-reduce", "Reduce"), encoding="utf-8")
    monkeypatch.setattr(_docgen, "TARGET", stale)
    assert _docgen.main(["--check"]) == 1
    assert "is not current: run python -m xiso._docgen" in capsys.readouterr().err
    assert _docgen.main([]) == 0
    assert stale.read_text(encoding="utf-8") == current
    assert _docgen.main(["--check"]) == 0


def test_generated_docs_module_round_trips_every_text():
    """render() writes string literals that read back as the very texts, with
    backslashes and triple quotes."""
    from xiso import _docgen

    docs = {"A.x": 'line\\n with \\ and """ quotes\n', "A.y": 'ends with a quote "'}
    namespace: dict = {}
    exec(_docgen.render(docs), namespace)
    assert namespace["DOCS"] == docs


def test_import_parses_no_source():
    """The docstrings cost nothing at import: no source file is parsed (the
    twins in xiso.io and xiso.plot once were), yet help() has them in full."""
    code = (
        "import ast, json, xarray as xr\n"
        "calls = []\n"
        "parse = ast.parse\n"
        "ast.parse = lambda *a, **k: calls.append(a) or parse(*a, **k)\n"
        "import xiso\n"
        "docs = [xr.DataArray.iso.plot.__doc__, xr.DataArray.iso.to_ome_zarr.__doc__]\n"
        "print(json.dumps([len(calls), [d.count('Parameters\\n---') for d in docs]]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[-2] == "[0, [1, 1]]"


def test_accessor_to_ome_zarr_progress(tmp_path, capsys):
    import dask.array

    da = make_volume(nz=16, ny=8, nx=8)
    da = da.copy(data=dask.array.from_array(da.values, chunks=4))
    da.iso.to_ome_zarr(tmp_path / "quiet.zarr", pyramid=False)
    assert capsys.readouterr().err == ""
    da.iso.to_ome_zarr(tmp_path / "bar.zarr", pyramid=False, progress=True)
    assert "100%" in capsys.readouterr().err


def test_argument_errors_name_the_public_method(volume):
    """Python builds these messages from the method's code; they must not name
    the private base class."""
    with pytest.raises(TypeError, match=r"^iso\.near_isotropic\(\) takes 1 positional"):
        volume.iso.near_isotropic("z")
    with pytest.raises(TypeError, match=r"^iso\.near_isotropic\(\) takes 1 positional"):
        volume.to_dataset(name="v").iso.near_isotropic("z")
    with pytest.raises(TypeError, match=r"^iso\.factors\(\) got an unexpected keyword"):
        volume.iso.factors(methd="mode")


def test_help_lists_every_parameter_with_its_text():
    """near_isotropic's parameters are inlined from its two twins, written once."""
    doc = inspect.getdoc(xiso.near_isotropic)
    for name in ("dims", "spacing", "rounding", "target", "method", "boundary", "dtype", "skipna"):
        assert f"\n{name} : " in doc, name
    assert "As in :func:" not in doc
    assert "Round the spacing ratio to the nearest power of two" in doc  # from the factors
    assert "Trailing samples that do not fill a block" in doc  # from downsample
    accessor_doc = inspect.getdoc(xr.DataArray.iso.near_isotropic)
    assert "Round the spacing ratio to the nearest power of two" in accessor_doc


def test_shared_parameter_text_is_filled_in_once_each():
    """Parameters several functions take are written once in xiso._docs and
    appear, whole and once, in each docstring that names them; no field is
    left unfilled in any public docstring."""
    import re

    from xiso import _docs

    shared = {
        xiso.near_isotropic_factors: ("ROUNDING", "TARGET", "DIMS", "SPACING"),
        xiso.downsample: ("METHOD", "BOUNDARY", "DTYPE", "SKIPNA"),
        xiso.near_isotropic: (
            *("DIMS", "SPACING", "ROUNDING", "TARGET"),
            *("METHOD", "BOUNDARY", "DTYPE", "SKIPNA"),
        ),
        xiso.pyramid: ("DIMS", "SPACING"),
    }
    for func, names in shared.items():
        doc = inspect.getdoc(func)
        for name in names:
            assert doc.count(getattr(_docs, name)) == 1, (func.__name__, name)
        params = _section(doc, "Parameters")
        entries = [line.split(" : ")[0] for line in params if line and line[0] != " "]
        wanted = [name.lower() for name in names]
        assert [e for e in entries if e in wanted] == wanted  # each an entry, in this order
    field = re.compile(r"^\s*\{\w+\}\s*$", re.M)
    for name in xiso.__all__:
        value = getattr(xiso, name)
        if callable(value):
            assert not field.search(inspect.getdoc(value) or ""), name


def test_doc_fills_fields_at_column_0_and_refuses_a_missing_one():
    from xiso._docs import DIMS, doc

    def f():
        """Summary.

        Parameters
        ----------
        {dims}
        x : int
            More.
        """

    assert doc(dims=DIMS)(f).__doc__ == (
        f"Summary.\n\nParameters\n----------\n{DIMS}\nx : int\n    More."
    )
    with pytest.raises(KeyError, match=r"f's docstring has no field \{spacing\}"):
        doc(spacing="spacing : mapping")(f)


# public functions that have no Examples section yet (not to_ome_zarr's issue)
_NO_EXAMPLES_YET = {"open_ome_zarr", "open_ome_zarr_pyramid", "spacing_info", "spatial_dims"}


def test_public_functions_and_accessor_methods_have_examples():
    """Every public function and accessor method shows an example (their
    doctests run with the modules'); to_ome_zarr's writes and reads back."""
    from xiso import accessor

    docs = {n: getattr(xiso, n) for n in {*xiso.__all__, "open"} - _NO_EXAMPLES_YET}
    for cls in (accessor.IsoDataArrayAccessor, accessor.IsoDataTreeAccessor):
        docs |= {f"{cls.__name__}.{n}": getattr(cls, n) for n in dir(cls) if n[0] != "_"}
    missing = [
        name
        for name, value in docs.items()
        if callable(value) and not isinstance(value, type)
        if "Examples\n--------" not in (inspect.getdoc(value) or "")
    ]
    assert missing == []
    for func in (xiso.to_ome_zarr, xr.DataArray.iso.to_ome_zarr, xr.DataTree.iso.to_ome_zarr):
        examples = "\n".join(_section(inspect.getdoc(func), "Examples"))
        assert "tempfile.TemporaryDirectory()" in examples and "to_ome_zarr(" in examples
        assert "open_ome_zarr" in examples  # ... and reads it back


def test_repr_does_not_load_a_lazily_opened_array(tmp_path):
    da = make_volume()
    da.to_dataset().to_zarr(tmp_path / "a.zarr", zarr_format=2, consolidated=False)
    lazy = xr.open_zarr(tmp_path / "a.zarr", chunks=None, consolidated=False)["vol"]
    assert not lazy.variable._in_memory
    last = repr(lazy.iso).splitlines()[-1]
    assert last.endswith("data          lazy (not loaded; xarray reads it on first use)")
    assert not lazy.variable._in_memory


def test_bound_accessor_methods_and_results_pickle():
    import pickle

    da = make_volume()
    assert pickle.loads(pickle.dumps(da.iso.near_isotropic)) is not None
    assert pickle.loads(pickle.dumps(da.iso.near_isotropic())).identical(da.iso.near_isotropic())


def test_repr_says_when_near_isotropic_would_raise():
    da = make_volume(nz=4, dz=0.125)  # factor 8 for 4 planes
    with pytest.raises(xiso.FactorError):
        da.iso.near_isotropic()
    after = [line for line in repr(da.iso).splitlines() if line.strip().startswith("after")]
    assert after == [
        "  after         near_isotropic() would raise: z has 4 samples for a factor of 8 "
        "(see .explain())"
    ]
