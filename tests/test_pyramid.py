import threading

import dask.array as dsa
import numpy as np
import pytest
import xarray as xr

import xiso
from xiso.pyramid import pyramid_factors


def _vol(nz=64, ny=64, nx=64, dz=0.25, dtype="uint16", chunks=None):
    data = np.random.default_rng(0).integers(0, 5000, (nz, ny, nx)).astype(dtype)
    da = xr.DataArray(
        data,
        dims=("z", "y", "x"),
        name="img",
        coords={"z": np.arange(nz) * dz, "y": np.arange(ny) * 1.0, "x": np.arange(nx) * 1.0},
    )
    return da.chunk(chunks) if chunks else da


def test_factors_rule():
    steps = pyramid_factors({"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 512, "y": 256, "x": 256})
    # z to isotropy (512 -> 128), all (64, 128 -> 32, 64), then z stays at 32 while y, x go on
    zyx, yx = {"z": 2, "y": 2, "x": 2}, {"y": 2, "x": 2}
    assert steps == [{"z": 2}, {"z": 2}, zyx, zyx, yx]
    # finest first: z (0.25) and y (0.5) both below 1/sqrt(2) of x
    steps = pyramid_factors(
        {"z": 0.25, "y": 0.5, "x": 1.0}, {"z": 64, "y": 64, "x": 64}, min_size=8
    )
    assert steps[:3] == [{"z": 2, "y": 2}, {"z": 2}, {"z": 2, "y": 2, "x": 2}]
    classic = pyramid_factors(
        {"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 64, "y": 64, "x": 64}, near_isotropic=False
    )
    assert classic == [zyx]
    flat = pyramid_factors(
        {"z": 1.0, "y": 1.0, "x": 1.0}, {"z": 40, "y": 128, "x": 128}, near_isotropic=False
    )
    assert flat == [yx, yx]  # z (40) stops at once, y and x go on
    assert pyramid_factors({"z": 1.0}, {"z": 1024}, levels=3, min_size=1) == [{"z": 2}, {"z": 2}]
    assert pyramid_factors({"z": 1.0}, {"z": 16}, min_size=32) == []


@pytest.mark.parametrize("bad", [0, -1, 2.5])
def test_bad_levels(bad):
    with pytest.raises(xiso.OptionError, match="levels="):
        pyramid_factors({"z": 1.0}, {"z": 16}, levels=bad)
    with pytest.raises(xiso.OptionError, match="min_size="):
        pyramid_factors({"z": 1.0}, {"z": 16}, min_size=bad)


def test_levels_match_independent_reference():
    da = _vol()
    tree = da.iso.pyramid(min_size=8)
    names = list(tree.children)
    # z stops at 8 (min_size) at level 3; y and x go on halving to 8
    assert names == ["0", "1", "2", "3", "4", "5"]
    xr.testing.assert_identical(tree["0"]["img"], da)
    expected_shapes = [
        (64, 64, 64),
        (32, 64, 64),
        (16, 64, 64),
        (8, 32, 32),
        (8, 16, 16),
        (8, 8, 8),
    ]
    assert [tree[k]["img"].shape for k in names] == expected_shapes
    # level 1 from level 0, level 3 from level 2: reshape + mean, rounded half to even
    ref1 = np.round(da.values.reshape(32, 2, 64, 64).mean(axis=1, dtype=np.float64))
    np.testing.assert_array_equal(tree["1"]["img"].values, ref1.astype("uint16"))
    lvl2 = tree["2"]["img"].values.astype(np.float64)
    ref3 = np.round(lvl2.reshape(8, 2, 32, 2, 32, 2).mean(axis=(1, 3, 5)))
    np.testing.assert_array_equal(tree["3"]["img"].values, ref3.astype("uint16"))
    assert tree["3"]["img"].iso.spacing == {"z": 2.0, "y": 2.0, "x": 2.0}
    lvl3 = tree["3"]["img"].values.astype(np.float64)
    ref4 = np.round(lvl3.reshape(8, 16, 2, 16, 2).mean(axis=(2, 4)))
    np.testing.assert_array_equal(tree["4"]["img"].values, ref4.astype("uint16"))
    assert tree["5"]["img"].iso.spacing == {"z": 2.0, "y": 8.0, "x": 8.0}


def _reference_steps(spacing, sizes, min_size=32):
    """Independent statement of the rule: halve the finest halvable dims until
    near-isotropic, then every halvable dim, until none can be halved."""
    spacing, sizes, out = dict(spacing), dict(sizes), []
    while True:
        ok = {d for d in sizes if sizes[d] >= 2 * min_size}
        if not ok:
            return out
        top = max(spacing.values())
        fine = {d for d in ok if spacing[d] * 2**0.5 < top}
        step = fine or ok
        out.append(step)
        for d in step:
            spacing[d] *= 2
            sizes[d] //= 2


@pytest.mark.parametrize(
    ("spacing", "sizes"),
    [
        ({"z": 1.0, "y": 1.0, "x": 1.0}, {"z": 30, "y": 15000, "x": 15000}),  # ngff-zarr #48
        ({"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 4000, "y": 2000, "x": 2000}),
        ({"z": 4.0, "y": 1.0, "x": 1.0}, {"z": 40, "y": 3000, "x": 3000}),  # z coarser
        ({"z": 0.1, "y": 0.5, "x": 1.0}, {"z": 10, "y": 700, "x": 900}),
    ],
)
def test_every_shape_gets_a_pyramid(spacing, sizes):
    steps = pyramid_factors(spacing, sizes)
    assert [set(s) for s in steps] == _reference_steps(spacing, sizes)
    final = dict(sizes)
    for s in steps:
        for d, f in s.items():
            final[d] //= f
    for d, n in sizes.items():  # every dim that could be halved ends below 2 * min_size
        assert final[d] < 2 * 32 if n >= 2 * 32 else final[d] == n


def test_thin_slab_and_isotropy_then_on():
    slab = pyramid_factors({"z": 1.0, "y": 1.0, "x": 1.0}, {"z": 30, "y": 15000, "x": 15000})
    assert all(s == {"y": 2, "x": 2} for s in slab)
    assert 15000 // 2 ** len(slab) <= 2 * 32
    deep = pyramid_factors({"z": 0.25, "y": 1.0, "x": 1.0}, {"z": 4000, "y": 2000, "x": 2000})
    assert deep[:2] == [{"z": 2}, {"z": 2}]  # isotropic at level 2: 1000 x 2000 x 2000
    assert deep[2] == {"z": 2, "y": 2, "x": 2} and len(deep) > 3


def test_levels_argument_and_names():
    tree = _vol().rename(None).iso.pyramid(levels=2)
    assert list(tree.children) == ["0", "1"]
    assert list(tree["1"].data_vars) == ["image"]


def test_lazy_and_chained(raise_if_dask_computes):
    da = _vol(chunks={"z": 1})
    tree = da.iso.pyramid(min_size=8)
    lvl2 = tree["2"]["img"].data
    lvl1 = tree["1"]["img"].data
    # each level is computed from the previous one: level 1's output is in level 2's graph
    assert lvl1.name in dict(lvl2.__dask_graph__()).keys() or any(
        k[0] == lvl1.name for k in dict(lvl2.__dask_graph__()) if isinstance(k, tuple)
    )


def test_label_pyramid_never_invents_labels():
    rng = np.random.default_rng(1)
    labels = rng.choice(np.array([0, 3, 7, 250], dtype="uint8"), size=(32, 32, 32))
    da = xr.DataArray(
        labels,
        dims=("z", "y", "x"),
        name="lab",
        coords={"z": np.arange(32) * 0.5, "y": np.arange(32.0), "x": np.arange(32.0)},
    )
    tree = da.iso.pyramid(method="mode", min_size=2)
    for node in tree.children.values():
        assert set(np.unique(node["lab"].values)) <= {0, 3, 7, 250}


def _counted_source(base: np.ndarray) -> tuple[xr.DataArray, list]:
    """A dask-backed image of ``base`` (16^3 chunks, z spacing 0.25) that
    records the location of every chunk it loads."""
    calls: list = []
    lock = threading.Lock()

    def load(block_info=None):
        with lock:
            calls.append(block_info[None]["chunk-location"])
        return base[tuple(slice(a, b) for a, b in block_info[None]["array-location"])]

    src = dsa.map_blocks(load, dtype=base.dtype, chunks=((16,) * 4,) * 3)
    da = xr.DataArray(
        src,
        dims=("z", "y", "x"),
        name="img",
        coords={"z": np.arange(64) * 0.25, "y": np.arange(64.0), "x": np.arange(64.0)},
    )
    return da, calls


def test_pyramid_write_reads_source_once(tmp_path):
    base = np.random.default_rng(0).integers(0, 100, (64, 64, 64)).astype("uint16")
    da, calls = _counted_source(base)
    xiso.to_ome_zarr(da, tmp_path / "p.zarr", min_size=4, chunks=16)
    assert len(calls) == 64 and len(set(calls)) == 64
    back = xiso.open_ome_zarr_pyramid(tmp_path / "p.zarr")
    assert len(back.children) >= 4
    np.testing.assert_array_equal(back["0"]["img"].values, base)


def test_near_isotropic_pyramid_write_reads_source_once(tmp_path):
    """Case 4 of the benchmarks: the near-isotropic level and its halvings,
    all written in one pass that reads every source chunk once."""
    base = np.random.default_rng(1).integers(0, 2**16, (64, 64, 64)).astype("uint16")
    da, calls = _counted_source(base)
    xiso.to_ome_zarr(da.iso.near_isotropic(), tmp_path / "p.zarr", min_size=4, chunks=16)
    assert len(calls) == 64 and len(set(calls)) == 64
    back = xiso.open_ome_zarr_pyramid(tmp_path / "p.zarr")
    assert len(back.children) >= 3
    # level 0: exact z/4 means, rounded half to even (independent numpy reference)
    sums = base.reshape(16, 4, 64, 64).astype(np.uint64).sum(axis=1)
    np.testing.assert_array_equal(
        back["0"]["img"].values, np.round(sums / 4).astype("uint16"), strict=True
    )
    assert back["1"]["img"].shape == (8, 32, 32)


def test_pyramid_levels_keep_one_task_per_chunk():
    """Pyramid levels are not grouped (see xiso.reduce.group_counts): each
    chunk of a level comes from one chunk of the level above, so writing all
    levels streams chunk by chunk."""
    src = dsa.zeros((64, 64, 64), dtype="uint16", chunks=16)
    da = xr.DataArray(
        src,
        dims=("z", "y", "x"),
        name="img",
        coords={"z": np.arange(64) * 0.25, "y": np.arange(64.0), "x": np.arange(64.0)},
    )
    tree = da.iso.pyramid(min_size=4)
    assert tree["1"]["img"].chunks == ((8,) * 4, (16,) * 4, (16,) * 4)
    assert tree["2"]["img"].chunks == ((4,) * 4, (16,) * 4, (16,) * 4)
    # a plain downsample of the same data groups the small outputs
    assert da.iso.downsample(z=2).chunks == ((16,) * 2, (16,) * 4, (16,) * 4)
