"""The shared labelled layer (xiso/labelled.py) and the rules that exist once:
the default method (xiso.methods.default_method), the rule of a factor
(xiso.factors.check_factor) and the reading of a coordinate's step
(xiso.spacing.signed_step), each error worded where it is raised."""

from __future__ import annotations

import ast
import pathlib
import warnings

import numpy as np
import pytest
import xarray as xr

import xiso
from xiso import labelled
from xiso.methods import default_method
from xiso.reduce import block_reduce

PACKAGE = pathlib.Path(xiso.__file__).parent

# what io/ and pyramid.py may still take from blocks: the reductions themselves
# (compute leaves io/ in its own step), never its helpers
REDUCTIONS = {"near_isotropic", "near_isotropic_factors", "reduce_checked", "downsample"}


def imported_from_blocks(path: pathlib.Path) -> set[str]:
    """The names ``path`` imports from xiso.blocks (anywhere in the module)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("blocks"):
            names |= {alias.name for alias in node.names}
    return names


@pytest.mark.parametrize("module", ["exact.py", "plan.py", "plot.py", "io/ngff.py"])
def test_these_modules_do_not_import_blocks(module):
    assert imported_from_blocks(PACKAGE / module) == set()


@pytest.mark.parametrize("module", ["pyramid.py", "io/read.py", "io/labels.py", "io/write.py"])
def test_io_and_pyramid_take_only_the_reductions_from_blocks(module):
    assert imported_from_blocks(PACKAGE / module) <= REDUCTIONS


def test_exact_does_not_reword_other_modules_errors():
    source = (PACKAGE / "exact.py").read_text()
    for pattern in ("str(err)", "in str(", ".args[0]", ".replace("):
        assert pattern not in source


# --------------------------------------------------------------------------
# errors worded where they are raised (the old rewording by message text got
# these wrong: they all said "a single sample and no recorded spacing")
# --------------------------------------------------------------------------
def volume(z):
    return xr.DataArray(
        np.zeros((len(z), 3)), dims=("z", "y"), coords={"z": z, "y": np.arange(3.0)}
    )


@pytest.mark.parametrize(
    ("z", "error", "match"),
    [
        (list("abcd"), xiso.SpacingError, r"'z' has dtype <U1, not a number, so it has no grid"),
        ([0.0, 1.0, np.nan, 3.0], xiso.SpacingError, r"'z' holds nan at position 2"),
        ([1.0, 1.0, 1.0, 1.0], xiso.SpacingError, r"'z' has a step of 0\.0"),
        ([5.0], xiso.SpacingError, r"'z' has 1 sample\(s\) and no recorded spacing.*single"),
        ([0.0, 1.0, 3.0, 4.0], xiso.NonUniformSpacingError, "no grid to resample from"),
    ],
)
@pytest.mark.parametrize("call", ["resample", "isotropic", "resample_like"])
def test_resampling_errors_say_what_was_found(z, error, match, call):
    da = volume(z)
    run = {
        "resample": lambda: xiso.resample(da, 0.5),
        "isotropic": lambda: xiso.isotropic(da, spacing=0.5),
        "resample_like": lambda: xiso.resample_like(da, volume(np.arange(8) * 0.5)),
    }[call]
    with pytest.raises(error, match=match) as caught:
        run()
    assert "pass spacing=" not in str(caught.value)  # there, spacing= is the output's


@pytest.mark.parametrize(
    ("z", "match"),
    [
        (list("abcd"), r"has dtype <U1, not a number, so the upsampled samples cannot be placed"),
        ([0.0, 1.0, np.nan, 3.0], r"holds nan at position 2.*cannot be placed"),
        ([1.0, 1.0, 1.0, 1.0], r"'z' has a step of 0\.0"),
    ],
)
def test_upsample_errors_say_what_was_found(z, match):
    with pytest.raises(xiso.SpacingError, match=match) as caught:
        xiso.upsample(volume(z), z=2)
    assert "pass spacing=" not in str(caught.value)


def test_reading_a_spacing_still_offers_spacing_instead():
    with pytest.raises(xiso.SpacingError, match=r"not a number; pass spacing=\{'z': step\}"):
        xiso.spacing_info(volume(list("abcd")))
    with pytest.raises(xiso.MissingCoordinateError, match=r"or pass spacing=\{'z': step\}"):
        xiso.spacing_info(volume([0.0, 1.0]).drop_vars("z"))
    with pytest.raises(xiso.MissingCoordinateError, match="new samples are placed") as caught:
        xiso.resample_like(volume([0.0, 1.0]).drop_vars("z"), volume([0.0, 0.5]))
    assert "pass spacing=" not in str(caught.value)


def test_a_spacing_asked_for_is_called_a_spacing():
    da = volume([0.0, 1.0, 2.0])
    with pytest.raises(xiso.UnitError, match=r"^spacing 'abc' cannot be parsed"):
        xiso.resample(da, "abc")
    with pytest.raises(xiso.UnitError, match=r"^target 'abc' cannot be parsed"):
        xiso.near_isotropic(da, target="abc")


# --------------------------------------------------------------------------
# the default method: one rule
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("operation", "labels", "boolean", "finer", "expected"),
    [
        ("block", False, False, False, "mean"),
        ("block", True, False, False, "mode"),
        ("block", False, True, False, "mean"),
        ("grid", False, False, False, "area"),
        ("grid", False, False, True, "linear"),
        ("grid", True, False, True, "nearest"),
        ("grid", False, True, False, "nearest"),
    ],
)
def test_default_method_rule(operation, labels, boolean, finer, expected):
    got = default_method(operation, labels=labels, boolean=boolean, finer=finer)
    assert got == expected


def test_default_method_of_an_unknown_operation():
    with pytest.raises(ValueError, match="operation='upsample' is not one of"):
        default_method("upsample", labels=False)


def labels_volume():
    rng = np.random.default_rng(0)
    values = rng.choice(np.array([1, 9, 40], dtype="uint16"), size=(8, 64, 64))
    coords = {"z": np.arange(8.0), "y": np.arange(64.0), "x": np.arange(64.0)}
    return xr.DataArray(values, dims=("z", "y", "x"), coords=coords, name="labels")


def mode_of_blocks(x, f):
    """The most frequent value of each block of ``f`` along axis 0 (ties to the
    smallest), by counting in Python."""
    out = np.empty((x.shape[0] // f, *x.shape[1:]), x.dtype)
    for i in range(out.shape[0]):
        block = x[i * f : (i + 1) * f]
        for idx in np.ndindex(block.shape[1:]):
            values, counts = np.unique(block[(slice(None), *idx)], return_counts=True)
            out[(i, *idx)] = values[np.argmax(counts)]
    return out


def test_every_entry_point_applies_the_default_to_label_images():
    da = labels_volume()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and none of them warns
        down = xiso.downsample(da, z=2)
        tree = xiso.pyramid(da, min_size=32, levels=2)
        up = xiso.upsample(da, z=2)
        fine = xiso.resample(da, {"z": 0.5})
    np.testing.assert_array_equal(down.values, mode_of_blocks(da.values, 2))
    assert tree["1"]["labels"].encoding["ngff_downscaling_type"] == "mode"
    np.testing.assert_array_equal(up.values, np.repeat(da.values, 2, axis=0))
    np.testing.assert_array_equal(fine.values, np.repeat(da.values, 2, axis=0))
    planned = xiso.plan(da, label=True, min_size=32)
    assert [level.method for level in planned.levels[1:]] == ["mode"]
    intensities = xiso.plan(da.astype("float32").rename("image"), min_size=32)
    assert [level.method for level in intensities.levels[1:]] == ["mean"]


# --------------------------------------------------------------------------
# factors: one rule, for dims and axes
# --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("factor", "length", "boundary", "match"),
    [
        (0, 4, "trim", "is 0; it must be an integer >= 1"),
        (True, 4, "trim", "is True; it must be an integer >= 1"),
        (1.5, 4, "trim", "is 1.5; it must be an integer >= 1"),
        (5, 4, "trim", "has length 4, smaller than its factor 5; use a factor of at most 4"),
        (2, 0, "trim", r"has length 0, smaller than its factor 2; use a factor of 1 \(or none\)"),
        (3, 4, "exact", "has length 4, which is not a multiple of its factor 3"),
    ],
)
def test_one_factor_rule_for_dims_and_axes(factor, length, boundary, match):
    da = xr.DataArray(np.zeros(length), dims="z")
    with pytest.raises(xiso.FactorError, match=f"dimension 'z' {match}|factor of dimension 'z' "):
        xiso.downsample(da, z=factor, boundary=boundary)
    with pytest.raises(xiso.FactorError, match=f"axis 0 {match}|factor of axis 0 "):
        block_reduce(np.zeros(length), {0: factor}, boundary=boundary)


def test_factors_fit_any_length_when_upsampling():
    da = xr.DataArray(np.zeros(2), dims="z")
    assert labelled.integer_factors(da, {"z": np.int64(7)}) == {"z": 7}
    with pytest.raises(xiso.FactorError, match="not a dimension of this object"):
        labelled.integer_factors(da, {"q": 2})


@pytest.mark.parametrize("func", ["downsample", "upsample"])
def test_merged_factors_are_worded_for_their_function(func):
    with pytest.raises(xiso.FactorError, match=rf"^{func}\(\) takes the factors as a mapping"):
        labelled.merge_factors([2], {}, func)
    with pytest.raises(xiso.FactorError, match=rf"no factors given; pass e\.g\. {func}\(z=4\)"):
        labelled.merge_factors(None, {}, func)
    with pytest.raises(xiso.OptionError, match="not both"):
        labelled.merge_factors({"z": 2}, {"y": 2}, func)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (xiso.downsample, r"use tree\.iso\.downsample"),
        (xiso.near_isotropic, r"use tree\.iso\.near_isotropic"),
        (xiso.upsample, r"upsample each node with tree\.map_over_datasets"),
        (xiso.resample, r"resample its nodes with tree\.map_over_datasets"),
        (xiso.isotropic, r"ds\.iso\.isotropic"),
    ],
)
def test_a_tree_is_refused_with_what_to_do_instead(call, match):
    tree = xr.DataTree.from_dict({"a": xr.Dataset({"v": ("z", np.zeros(4))})})
    args = {xiso.resample: (1.0,)}.get(call, ())
    kwargs = {"z": 2} if call in (xiso.downsample, xiso.upsample) else {}
    refused = r"takes a DataArray or Dataset, got a DataTree; .*"
    with pytest.raises(TypeError, match=refused + match):
        call(tree, *args, **kwargs)
