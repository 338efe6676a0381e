"""The table of methods (xiso/methods.py) against the kernels that compute them."""

from __future__ import annotations

import numpy as np
import pytest

import xiso
from xiso import grid, methods, reduce
from xiso.cli import build_parser
from xiso.errors import DtypeError, OptionError


def test_every_block_method_has_a_kernel_and_every_kernel_an_entry():
    assert set(reduce.KERNELS) == set(methods.names("block"))
    assert xiso.METHODS == methods.names("block")


@pytest.mark.parametrize("name", methods.names("grid"))
def test_every_grid_method_has_a_plan(name):
    plan = grid.plan_axis(
        5, 2, grid.centred_start(5, 2, grid.as_fraction(2.5)), grid.as_fraction(2.5), name
    )
    assert plan.method == name and plan.n_out == 2
    with pytest.raises(ValueError, match="unknown method"):
        grid.plan_axis(5, 2, grid.as_fraction(0), grid.as_fraction(2.5), "mean")


def test_label_safe_methods_never_invent_a_value():
    rng = np.random.default_rng(0)
    labels = rng.choice(np.array([3, 7, 11], dtype="uint16"), size=(12, 6))
    for name, m in methods.TABLE.items():
        if "block" in m.operations:
            out = reduce.block_reduce(labels, {0: 4, 1: 3}, method=name)
            assert set(np.unique(out)) <= {3, 7, 11} or not m.label_safe, name
    out = xiso.resample(
        __import__("xarray").DataArray(
            labels, dims=("z", "y"), coords={"z": np.arange(12.0), "y": np.arange(6.0)}
        ),
        {"z": 2.5, "y": 1.5},
        method="nearest",
    )
    assert set(np.unique(out.values)) <= {3, 7, 11}


def test_errors_name_the_operation_that_has_the_method():
    with pytest.raises(
        OptionError,
        match=r"one of \('nearest', 'area', 'linear', 'cubic'\) \('mode' is a method of downsample",
    ):
        methods.get("mode", "grid")
    with pytest.raises(OptionError, match="'area' is a method of resample"):
        xiso.downsample(
            __import__("xarray").DataArray(np.zeros(4), dims="z", coords={"z": np.arange(4.0)}),
            z=2,
            method="area",
        )
    with pytest.raises(DtypeError, match="cannot resample data of dtype <U1; use method='nearest'"):
        methods.get("area", "grid").output_dtype(np.dtype("U1"), operation="grid")
    assert methods.get("mean", "block").output_dtype(">u2") == np.dtype("uint16")


def test_cli_choices_come_from_the_table():
    parser = build_parser()
    convert = next(
        a
        for a in parser._subparsers._group_actions[0].choices["convert"]._actions
        if a.dest == "method"
    )
    assert list(convert.choices) == list(methods.TABLE)
