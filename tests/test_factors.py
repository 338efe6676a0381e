import math
import re
import sys
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import xiso
from xiso.factors import MAX_TARGET_RATIO, near_isotropic_factors


@pytest.mark.parametrize(
    ("spacing", "pow2", "integer"),
    [
        ({"z": 0.25, "y": 1.0, "x": 1.0}, (4, 1, 1), (4, 1, 1)),
        ({"z": 1.0, "y": 2.0, "x": 4.0}, (4, 2, 1), (4, 2, 1)),
        ({"z": 4.0, "y": 2.0, "x": 1.0}, (1, 2, 4), (1, 2, 4)),
        ({"z": 0.3, "y": 1.0, "x": 1.0}, (4, 1, 1), (3, 1, 1)),
        ({"z": 0.35, "y": 1.0, "x": 1.0}, (4, 1, 1), (3, 1, 1)),
        ({"z": 0.4, "y": 1.0, "x": 1.0}, (2, 1, 1), (2, 1, 1)),
        ({"z": 1.0, "y": 1.0, "x": 1.0}, (1, 1, 1), (1, 1, 1)),
        ({"z": 0.7, "y": 1.0, "x": 1.0}, (2, 1, 1), (1, 1, 1)),
        ({"z": 0.75, "y": 1.0, "x": 1.0}, (1, 1, 1), (1, 1, 1)),
        ({"z": 0.1, "y": 0.5, "x": 1.0}, (8, 2, 1), (10, 2, 1)),
    ],
)
def test_table(spacing, pow2, integer):
    assert tuple(near_isotropic_factors(spacing).values()) == pow2
    assert tuple(near_isotropic_factors(spacing, rounding="int").values()) == integer


def test_pow2_tie_goes_to_smaller():
    # ratio 2*sqrt(2) is exactly between 2 and 4 in log2
    s = {"z": 1 / (2 * math.sqrt(2)), "x": 1.0}
    assert near_isotropic_factors(s)["z"] == 2
    # just above the tie goes up
    s = {"z": 1 / (2 * math.sqrt(2) * 1.001), "x": 1.0}
    assert near_isotropic_factors(s)["z"] == 4


def test_int_tie_goes_to_smaller():
    assert near_isotropic_factors({"z": 0.4, "x": 1.0}, rounding="int")["z"] == 2  # 2.5
    assert near_isotropic_factors({"z": 1 / 3.5, "x": 1.0}, rounding="int")["z"] == 3


def test_float_noise_does_not_flip():
    assert near_isotropic_factors({"z": 0.25000000001, "x": 1.0})["z"] == 4
    assert near_isotropic_factors({"z": 0.2499999999, "x": 1.0})["z"] == 4


def test_target():
    assert near_isotropic_factors({"z": 0.5, "y": 0.5, "x": 0.5}, target=2.0) == {
        "z": 4,
        "y": 4,
        "x": 4,
    }
    # a target finer than the coarsest spacing is ignored
    assert near_isotropic_factors({"z": 0.25, "x": 1.0}, target=0.5) == {"z": 4, "x": 1}


def test_empty_and_top_level_twin():
    assert near_isotropic_factors({}) == {}
    assert xiso.near_isotropic_factors({"z": 0.25, "x": 1.0}) == {"z": 4, "x": 1}


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf"), "abc"])
def test_bad_spacing(bad):
    with pytest.raises(xiso.SpacingError, match="'z'"):
        near_isotropic_factors({"z": bad, "x": 1.0})


@pytest.mark.parametrize("bad", [0.0, -2.0, float("nan")])
def test_bad_target(bad):
    with pytest.raises(xiso.SpacingError, match="target"):
        near_isotropic_factors({"z": 1.0}, target=bad)


@pytest.mark.parametrize("rounding", ["pow2", "int"])
@pytest.mark.parametrize(
    ("spacing", "target", "match"),
    [
        ({"z": 1e-300, "y": 1.0}, None, r"'z' is 1e-300, 1e\+300 times finer than the coarsest "
         r"spacing 1.0 \(of 'y'\)"),
        ({"z": 1e-200, "y": 1e200}, None, r"'z' is 1e-200, inf times finer"),
        ({"x": 1e30, "y": 1e-30}, None, r"'y' is 1e-30, 1e\+60 times finer than the "
         r"coarsest spacing 1e\+30 \(of 'x'\)"),
        ({"z": 1e-10}, 1e300, r"'z' is 1e-10, inf times finer than the target 1e\+300"),
        ({"z": 1.0, "y": 1e-10}, 1e300, r"'z' is 1.0, 1e\+300 times finer than the target 1e\+300"),
        ({"z": 1.0, "y": 2.0**64}, None, r"'z' is 1.0, 1.84e\+19 times finer"),
    ],
)  # fmt: skip
def test_spacings_too_far_apart(spacing, target, match, rounding):
    with pytest.raises(xiso.FactorError, match=match + r".*too far apart; check their units"):
        near_isotropic_factors(spacing, target=target, rounding=rounding)


def test_largest_factor_is_the_largest_array_length():
    assert near_isotropic_factors({"z": 1.0, "y": 2.0**62}) == {"z": 2**62, "y": 1}
    assert near_isotropic_factors({"z": 1.0, "y": 2.0**62}, rounding="int")["z"] == 2**62
    with pytest.raises(xiso.FactorError, match=re.escape(f"({sys.maxsize})")):
        near_isotropic_factors({"z": 1.0, "y": 2.0**63})  # pow2: 2**63, one too many


def test_bad_rounding():
    with pytest.raises(xiso.OptionError, match="rounding='floor'"):
        near_isotropic_factors({"z": 1.0}, rounding="floor")


def _reference_pow2(ratio):
    # independent: compare log-distances of every candidate power of two
    best = None
    for k in range(0, 40):
        d = abs(math.log2(ratio) - k)
        if best is None or d < best[0] - 1e-9:
            best = (d, 2**k)
    return best[1]


@settings(max_examples=200)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=4))
def test_property_pow2(values):
    spacing = {f"d{i}": v for i, v in enumerate(values)}
    out = near_isotropic_factors(spacing)
    ref = max(values)
    for d, v in spacing.items():
        assert out[d] == _reference_pow2(ref / v)
        assert out[d] >= 1
    # the coarsest dim is never reduced
    assert out[max(spacing, key=spacing.get)] == 1


@settings(max_examples=200)
@given(st.lists(st.floats(0.01, 100.0), min_size=1, max_size=4))
def test_property_int(values):
    spacing = {f"d{i}": v for i, v in enumerate(values)}
    out = near_isotropic_factors(spacing, rounding="int")
    ref = max(values)
    for d, v in spacing.items():
        r = ref / v
        assert abs(out[d] - r) <= 0.5 + 1e-9
        assert out[d] >= 1


def test_pure_rule_neither_warns_nor_refuses_targets():
    """The target checks (XisoWarning, MAX_TARGET_RATIO) live in
    xiso.near_isotropic_factors, which knows units; the pure rule only computes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        spacing = {"z": 0.25, "y": 1.0}
        assert near_isotropic_factors(spacing, target=3.0) == {"z": 16, "y": 4}
        assert near_isotropic_factors(spacing, target=0.8) == {"z": 4, "y": 1}
        big = near_isotropic_factors(spacing, target=10 * MAX_TARGET_RATIO)
    assert big["y"] == 2**23  # log2(1e7) = 23.25
    with pytest.raises(xiso.FactorError, match=r"times the coarsest spacing"):
        xiso.near_isotropic_factors(spacing, target=10 * MAX_TARGET_RATIO)
