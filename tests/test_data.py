"""Tests of xiso.data: the synthetic lightsheet volume is deterministic (also
across numbers of threads) and has the character it promises."""

import warnings

import numpy as np
import pytest

from xiso import data
from xiso.errors import OptionError


def test_lightsheet_is_deterministic_for_a_seed():
    a = data.lightsheet(shape=(70, 24, 20), seed=3)
    b = data.lightsheet(shape=(70, 24, 20), seed=3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, data.lightsheet(shape=(70, 24, 20), seed=4))


def test_lightsheet_does_not_depend_on_the_number_of_threads(monkeypatch):
    many = data.lightsheet(shape=(100, 40, 30), seed=1)  # 4 slabs of z planes
    monkeypatch.setattr(data.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    one = data.lightsheet(shape=(100, 40, 30), seed=1)
    np.testing.assert_array_equal(many, one)


def test_lightsheet_layout():
    vol = data.lightsheet(shape=(8, 6, 4), seed=0, chunks=4)
    assert vol.dtype == np.uint16 and vol.dims == ("z", "y", "x") and vol.name == "lightsheet"
    assert vol.chunks == ((4, 4), (4, 2), (4,))
    np.testing.assert_array_equal(vol.z, np.arange(8) * 0.25)
    assert vol.z.attrs == {"units": "micrometer", "axis": "Z"}
    assert vol.attrs["source"] == "xiso.data.lightsheet"


def test_lightsheet_character():
    """Nuclei brighter than the background; the background is ~90-130 counts
    with shot + read noise (std sqrt(mean + 9)); blobs are longer along z in
    voxels (z spacing 0.25, PSF elongated along z)."""
    shape = (128, 64, 64)
    vol = data.lightsheet(shape=shape, seed=0).values.astype(np.float64)
    labels = data.lightsheet_labels(shape=shape, seed=0).values
    assert vol[labels > 0].mean() > 2 * vol[labels == 0].mean()
    back = vol[labels == 0]
    assert 90 <= np.median(back) <= 200
    # noise: neighbours along x differ by ~sqrt(2) sigma where sigma = sqrt(mean + 9)
    sigma = np.sqrt(np.median(back) + 9)
    dx = np.diff(vol, axis=2)[labels[:, :, 1:] == 0]
    assert 0.7 * sigma < np.median(np.abs(dx)) / 0.6745 / np.sqrt(2) < 2 * sigma

    def neighbour_correlation(axis):
        a = np.moveaxis(vol, axis, 0)
        return np.corrcoef(a[1:].ravel(), a[:-1].ravel())[0, 1]

    # finely sampled and blurred along z: neighbours along z are more alike
    assert neighbour_correlation(0) > neighbour_correlation(2) > 0.5


@pytest.mark.parametrize("shape", [(1, 1, 1), (33, 5, 7)])
def test_lightsheet_small_and_odd_shapes(shape):
    vol = data.lightsheet(shape=shape, seed=2)
    assert vol.shape == shape and int(vol.min()) >= 0


@pytest.mark.parametrize("make", [data.lightsheet, data.lightsheet_labels])
@pytest.mark.parametrize("chunks", [(32, 256, 256), [4, 5, 6]])
def test_chunks_as_a_sequence_is_per_dim_and_warns_nothing(make, chunks):
    """A (z, y, x) sequence, as the docstring allows, raises no FutureWarning of
    xarray's (it deprecates dimension-order tuples) and chunks each dim."""
    shape = (40, 12, 9)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        vol = make(shape=shape, seed=0, chunks=chunks)
    # dask's rule, written out: full blocks of c, then the remainder
    expected = tuple(
        tuple([min(c, n)] * (n // min(c, n)) + ([n % min(c, n)] if n % min(c, n) else []))
        for c, n in zip(chunks, shape)
    )
    assert vol.chunks == expected
    np.testing.assert_array_equal(vol.values, make(shape=shape, seed=0).values)


def test_chunks_sequence_of_the_wrong_length_is_refused():
    with pytest.raises(OptionError, match=r"one entry per dim \('z', 'y', 'x'\), got \(4, 4\)"):
        data.lightsheet(shape=(8, 8, 8), chunks=(4, 4))
