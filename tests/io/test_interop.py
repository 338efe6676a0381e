"""Interoperability of :mod:`xiso.ome_zarr` with ome-zarr-py and ngff-zarr.

Part 1 writes stores with :func:`xiso.to_ome_zarr` (NGFF 0.4 on zarr v2 and
NGFF 0.5 on zarr v3; 3-D ``zyx`` and 4-D ``czyx`` with string channel labels)
and reads them back with ome-zarr-py's ``Reader`` and with
``ngff_zarr.from_ngff_zarr``. Expected per-level ``scale`` and ``translation``
are computed here from the xarray coordinates of the levels xiso writes
(scale = coordinate step, translation = first coordinate) and, independently,
from the block-mean convention (a level reduced by ``F`` from level 0 has
scale ``s0 * F`` and origin ``t0 + (F - 1) * s0 / 2``).

Part 2 writes stores with ome-zarr-py (``write_image``, ``write_multiscale``)
and ngff-zarr (``to_ngff_image`` -> ``to_multiscales`` -> ``to_ngff_zarr``)
and reads them with :func:`xiso.open_ome_zarr` /
:func:`xiso.open_ome_zarr_pyramid`. Expected coordinates are
``translation + index * scale`` from the values passed to the peer library.

Both peer libraries were checked to read *and* write both NGFF 0.4 and 0.5
(ome-zarr-py 0.18, ngff-zarr 0.50), so no version combination is skipped for
lack of support. ``ome_zarr.writer.write_image`` in ome-zarr-py 0.18 ignores
its deprecated ``coordinate_transformations`` argument; that test verifies the
behaviour at run time and skips with the reason, and explicit transforms are
exercised through ``write_multiscale`` instead.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
import zarr

import xiso
from xiso.data import lightsheet

VERSIONS = ("0.4", "0.5")
SPATIAL = ("z", "y", "x")
ATOL = 1e-12


@pytest.fixture
def ome_zarr_mod():
    return pytest.importorskip("ome_zarr")


@pytest.fixture
def ngff_zarr_mod():
    return pytest.importorskip("ngff_zarr")


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _volume(kind: str) -> xr.DataArray:
    """A 32x64x64 volume with a non-zero origin; 'czyx' adds two labelled channels."""
    vol = lightsheet(shape=(32, 64, 64), seed=0)
    # shift the origin so the level-0 translation is non-trivial
    vol = vol.assign_coords(z=vol.z + 10.0, y=vol.y - 3.0, x=vol.x + 7.5)
    for d in SPATIAL:
        vol[d].attrs.update({"units": "micrometer"})
    if kind == "zyx":
        return vol
    other = lightsheet(shape=(32, 64, 64), seed=1).assign_coords(z=vol.z, y=vol.y, x=vol.x)
    da = xr.concat([vol, other], dim="c")
    da = da.assign_coords(c=("c", np.array(["DAPI", "GFP"])))
    da = da.transpose("c", "z", "y", "x")
    da.name = vol.name
    return da


def _expected_transform(level: xr.DataArray) -> tuple[list[float], list[float]]:
    """(scale, translation) implied by the coordinates: step and first value."""
    scale, translation = [], []
    for d in level.dims:
        values = np.asarray(level[d].values)
        if values.dtype.kind not in "iuf":  # channel labels: identity
            scale.append(1.0)
            translation.append(0.0)
            continue
        scale.append(float(values[1] - values[0]))
        translation.append(float(values[0]))
    return scale, translation


def _xiso_levels(da: xr.DataArray) -> list[xr.DataArray]:
    """The levels to_ome_zarr(da, min_size=4, levels=4) writes, computed in memory."""
    tree = xiso.pyramid(da, min_size=4, levels=4)
    return [tree[k][da.name] for k in tree.children]


def _write_xiso(da: xr.DataArray, tmp_path: Path, version: str) -> Path:
    store = tmp_path / f"xiso-{version}.zarr"
    xiso.to_ome_zarr(da, store, version=version, min_size=4, levels=4)
    return store


def _ct_vectors(transforms: list[dict]) -> tuple[list[float], list[float]]:
    scale = next(t["scale"] for t in transforms if t["type"] == "scale")
    translation = next(
        (t["translation"] for t in transforms if t["type"] == "translation"),
        [0.0] * len(scale),
    )
    return [float(v) for v in scale], [float(v) for v in translation]


def _check_level_convention(levels: list[xr.DataArray]) -> None:
    """Level k of a block-mean pyramid: scale s0*F, origin t0 + (F-1)*s0/2."""
    base = levels[0]
    for level in levels:
        for d in SPATIAL:
            factor = base.sizes[d] // level.sizes[d]
            s0 = float(base[d].values[1] - base[d].values[0])
            t0 = float(base[d].values[0])
            want = t0 + (factor - 1) * s0 / 2 + np.arange(level.sizes[d]) * s0 * factor
            np.testing.assert_allclose(level[d].values, want, rtol=0, atol=ATOL)


def _check_xiso_coords(
    da: xr.DataArray,
    dims: tuple[str, ...],
    shape: tuple[int, ...],
    scale: dict[str, float],
    translation: dict[str, float],
    units: dict[str, str] | None = None,
) -> None:
    """dims, shape and coord = translation + index * scale for every spatial dim."""
    assert da.dims == dims
    assert da.shape == shape
    for d, n in zip(dims, shape):
        if d not in scale:
            continue
        want = translation[d] + np.arange(n) * scale[d]
        np.testing.assert_allclose(da[d].values, want, rtol=0, atol=ATOL, err_msg=d)
        assert da[d].attrs.get("type") == "space"
        if units is not None and d in units:
            assert da[d].attrs.get("units") == units[d], d


# ==========================================================================
# Part 1: xiso writes, ome-zarr-py and ngff-zarr read
# ==========================================================================
@pytest.mark.parametrize("kind", ["zyx", "czyx"])
@pytest.mark.parametrize("version", VERSIONS)
def test_xiso_store_read_by_ome_zarr_py(ome_zarr_mod, tmp_path, version, kind):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Multiscales, Reader

    da = _volume(kind)
    levels = _xiso_levels(da)
    # z is halved alone until near-isotropic, then all spatial dims together
    spatial_shapes = [tuple(lv.sizes[d] for d in SPATIAL) for lv in levels]
    assert spatial_shapes == [(32, 64, 64), (16, 64, 64), (8, 64, 64), (4, 32, 32)]
    _check_level_convention(levels)
    store = _write_xiso(da, tmp_path, version)

    location = parse_url(str(store))
    assert location is not None, "ome-zarr-py does not see a zarr group"
    assert location.version == version
    nodes = list(Reader(location)())
    node = next(n for n in nodes if any(isinstance(s, Multiscales) for s in n.specs))
    meta = node.metadata

    assert [a["name"] for a in meta["axes"]] == list(da.dims)
    for ax in meta["axes"]:
        if ax["name"] in SPATIAL:
            assert ax["type"] == "space"
            assert ax["unit"] == "micrometer"
        else:
            assert ax["type"] == "channel"
    if kind == "czyx":
        assert meta["channel_names"] == ["DAPI", "GFP"]

    transforms = meta["coordinateTransformations"]
    assert len(node.data) == len(levels) == len(transforms)
    for level, data, ct in zip(levels, node.data, transforms):
        assert tuple(data.shape) == level.shape
        scale, translation = _ct_vectors(ct)
        want_scale, want_translation = _expected_transform(level)
        np.testing.assert_allclose(scale, want_scale, rtol=0, atol=ATOL)
        np.testing.assert_allclose(translation, want_translation, rtol=0, atol=ATOL)
        got = np.asarray(data)
        assert got.dtype == level.dtype
        np.testing.assert_array_equal(got, level.values)
    np.testing.assert_array_equal(np.asarray(node.data[0]), da.values)


@pytest.mark.parametrize("kind", ["zyx", "czyx"])
@pytest.mark.parametrize("version", VERSIONS)
def test_xiso_store_read_by_ngff_zarr(ngff_zarr_mod, tmp_path, version, kind):
    import ngff_zarr as nz

    da = _volume(kind)
    levels = _xiso_levels(da)
    store = _write_xiso(da, tmp_path, version)

    ms = nz.from_ngff_zarr(str(store))
    assert len(ms.images) == len(levels)
    for level, image in zip(levels, ms.images):
        assert tuple(image.dims) == level.dims
        assert tuple(image.data.shape) == level.shape
        want_scale, want_translation = _expected_transform(level)
        np.testing.assert_allclose(
            [image.scale[d] for d in level.dims], want_scale, rtol=0, atol=ATOL
        )
        np.testing.assert_allclose(
            [image.translation[d] for d in level.dims], want_translation, rtol=0, atol=ATOL
        )
        for d in SPATIAL:
            assert image.axes_units[d] == "micrometer"
        got = np.asarray(image.data)
        assert got.dtype == level.dtype
        np.testing.assert_array_equal(got, level.values)
    if kind == "czyx":
        labels = [c.label for c in ms.metadata.omero.channels]
        assert labels == ["DAPI", "GFP"]


@pytest.mark.parametrize("version", VERSIONS)
def test_xiso_store_validates_with_ngff_zarr_schema(ngff_zarr_mod, tmp_path, version):
    """ngff-zarr's JSON-schema validation of the metadata xiso writes."""
    pytest.importorskip("jsonschema", reason="ngff-zarr validation needs jsonschema")
    import ngff_zarr as nz

    store = _write_xiso(_volume("czyx"), tmp_path, version)
    ms = nz.from_ngff_zarr(str(store), validate=True)
    assert len(ms.images) >= 3


# ==========================================================================
# Part 2: ome-zarr-py / ngff-zarr write, xiso reads
# ==========================================================================
def _ome_zarr_format(version: str):
    from ome_zarr.format import FormatV04, FormatV05

    return {"0.4": FormatV04(), "0.5": FormatV05()}[version]


def _raw(store: Path, path: str) -> np.ndarray:
    """A level's stored pixels, read with zarr alone (no OME metadata)."""
    return np.asarray(zarr.open_group(store, mode="r")[path][...])


def _rng_data(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(42).integers(0, 4000, size=shape).astype("uint16")


UNITS = {"z": "micrometer", "y": "micrometer", "x": "micrometer"}


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_write_image_scale_read_by_xiso(ome_zarr_mod, tmp_path, version):
    """write_image with a physical ``scale`` and a pyramid; ome-zarr-py puts
    level k at scale s0 * f and translation (f - 1) * s0 / 2."""
    from ome_zarr.scale import Methods
    from ome_zarr.writer import write_image

    data = _rng_data((32, 64, 64))
    s0 = {"z": 0.5, "y": 0.25, "x": 0.25}
    store = tmp_path / f"oz-image-{version}.zarr"
    write_image(
        data,
        str(store),
        scale_factors=[2, 4],  # y and x only (ome-zarr-py leaves z alone)
        method=Methods.NEAREST,
        fmt=_ome_zarr_format(version),
        axes=list(SPATIAL),
        scale=s0,
        axes_units=UNITS,
    )
    factors = [
        {"z": 1, "y": 1, "x": 1},
        {"z": 1, "y": 2, "x": 2},
        {"z": 1, "y": 4, "x": 4},
    ]
    paths = ["s0", "s1", "s2"]
    tree = xiso.open_ome_zarr_pyramid(store)
    for i, (path, f) in enumerate(zip(paths, factors)):
        shape = tuple(n // f[d] for n, d in zip(data.shape, SPATIAL))
        scale = {d: s0[d] * f[d] for d in SPATIAL}
        translation = {d: (f[d] - 1) * s0[d] / 2 for d in SPATIAL}
        for da in (xiso.open_ome_zarr(store, level=i), tree[path]["image"]):
            _check_xiso_coords(da, SPATIAL, shape, scale, translation, UNITS)
            assert da.attrs["ngff_version"] == version
            np.testing.assert_array_equal(da.values, _raw(store, path))
        if i == 0:
            np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, data)


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_write_image_czyx_labels_read_by_xiso(ome_zarr_mod, tmp_path, version):
    """4-D write_image with omero channel labels -> xiso's c coordinate."""
    from ome_zarr.scale import Methods
    from ome_zarr.writer import write_image

    data = _rng_data((2, 32, 64, 64))
    s0 = {"z": 0.5, "y": 0.25, "x": 0.25}
    window = {"min": 0, "max": 4000, "start": 0, "end": 4000}
    omero = {
        "channels": [
            {"label": "DAPI", "color": "0000FF", "window": window},
            {"label": "GFP", "color": "00FF00", "window": window},
        ]
    }
    store = tmp_path / f"oz-czyx-{version}.zarr"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "no scale for axis c"
        write_image(
            data,
            str(store),
            scale_factors=[2],
            method=Methods.NEAREST,
            fmt=_ome_zarr_format(version),
            axes=["c", *SPATIAL],
            scale=s0,
            axes_units=UNITS,
            omero=omero,
        )
    dims = ("c", *SPATIAL)
    for i, f in enumerate(({"z": 1, "y": 1, "x": 1}, {"z": 1, "y": 2, "x": 2})):
        da = xiso.open_ome_zarr(store, level=i)
        shape = (2, *(n // f[d] for n, d in zip(data.shape[1:], SPATIAL)))
        scale = {d: s0[d] * f[d] for d in SPATIAL}
        translation = {d: (f[d] - 1) * s0[d] / 2 for d in SPATIAL}
        _check_xiso_coords(da, dims, shape, scale, translation, UNITS)
        assert list(da["c"].values) == ["DAPI", "GFP"]
        assert da["c"].attrs.get("type") == "channel"
        np.testing.assert_array_equal(da.values, _raw(store, f"s{i}"))
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, data)


# explicit per-level transforms: z scale 0.5 translation 10.0 etc.
EXPLICIT_SCALE = [[0.5, 0.25, 0.25], [0.5, 0.5, 0.5]]
EXPLICIT_TRANSLATION = [[10.0, -3.0, 7.5], [10.0, -2.875, 7.625]]


def _explicit_transforms() -> list[list[dict]]:
    return [
        [{"type": "scale", "scale": list(s)}, {"type": "translation", "translation": list(t)}]
        for s, t in zip(EXPLICIT_SCALE, EXPLICIT_TRANSLATION)
    ]


def _explicit_pyramid() -> list[np.ndarray]:
    data = _rng_data((32, 64, 64))
    return [data, data[:, ::2, ::2].copy()]


def _check_explicit(store: Path, pyramid: list[np.ndarray], paths: list[str], name: str | None):
    tree = xiso.open_ome_zarr_pyramid(store)
    for i, (path, data) in enumerate(zip(paths, pyramid)):
        scale = dict(zip(SPATIAL, EXPLICIT_SCALE[i]))
        translation = dict(zip(SPATIAL, EXPLICIT_TRANSLATION[i]))
        single = xiso.open_ome_zarr(store, level=i)
        by_path = xiso.open_ome_zarr(store, level=path)
        var = name if name is not None else single.name
        for da in (single, by_path, tree[path][var]):
            _check_xiso_coords(da, SPATIAL, data.shape, scale, translation, UNITS)
            np.testing.assert_array_equal(da.values, data)


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_write_image_coordinate_transformations(ome_zarr_mod, tmp_path, version):
    """write_image with explicit coordinate_transformations, if ome-zarr-py honours them."""
    from ome_zarr.scale import Methods
    from ome_zarr.writer import write_image

    pyramid = _explicit_pyramid()
    store = tmp_path / f"oz-ct-{version}.zarr"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        write_image(
            pyramid[0],
            str(store),
            scale_factors=[2],
            method=Methods.NEAREST,
            fmt=_ome_zarr_format(version),
            axes=list(SPATIAL),
            axes_units=UNITS,
            coordinate_transformations=_explicit_transforms(),
        )
    attrs = zarr.open_group(store, mode="r").attrs.asdict()
    ms = (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]
    stored = [_ct_vectors(d["coordinateTransformations"]) for d in ms["datasets"]]
    if stored != list(zip(EXPLICIT_SCALE, EXPLICIT_TRANSLATION)):
        deprecated = any("coordinate_transformations" in str(w.message) for w in caught)
        pytest.skip(
            f"ome-zarr-py {ome_zarr_mod.__version__}: write_image ignores its deprecated "
            f"coordinate_transformations argument (DeprecationWarning raised: {deprecated}); "
            f"it stored (scale, translation) {stored} instead of the ones passed; explicit "
            "transforms are tested through write_multiscale"
        )
    _check_explicit(store, pyramid, [d["path"] for d in ms["datasets"]], None)


def _write_multiscale(store: Path, version: str, **name: str) -> list:
    """Write the explicit pyramid with ome-zarr-py's write_multiscale (explicit
    per-level transforms); return the pyramid written."""
    from ome_zarr.writer import write_multiscale

    fmt = _ome_zarr_format(version)
    pyramid = _explicit_pyramid()
    group = zarr.open_group(store, mode="w", zarr_format=fmt.zarr_format)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        write_multiscale(
            pyramid,
            group,
            fmt=fmt,
            axes=[{"name": d, "type": "space", "unit": UNITS[d]} for d in SPATIAL],
            coordinate_transformations=_explicit_transforms(),
            **name,
        )
    return pyramid


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_write_multiscale_explicit_transforms(ome_zarr_mod, tmp_path, version):
    """write_multiscale with explicit per-level scale and translation."""
    store = tmp_path / f"oz-ms-{version}.zarr"
    pyramid = _write_multiscale(store, version, name="oz")
    _check_explicit(store, pyramid, ["s0", "s1"], "oz")
    assert xiso.open_ome_zarr(store).name == "oz"
    assert xiso.open_ome_zarr(store).attrs["ngff_version"] == version


@pytest.mark.parametrize("version", VERSIONS)
def test_ome_zarr_write_multiscale_default_name_pyramid(ome_zarr_mod, tmp_path, version):
    """write_multiscale without ``name`` stores the group name ``"/"`` as the
    multiscale name (valid NGFF: the name is a free string). Every level must
    still open, one by one and as a pyramid."""
    store = tmp_path / f"oz-noname-{version}.zarr"
    pyramid = _write_multiscale(store, version)
    attrs = zarr.open_group(store, mode="r").attrs.asdict()
    ms = (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]
    assert ms["name"] == "/"  # what ome-zarr-py writes; documents the input

    tree = xiso.open_ome_zarr_pyramid(store)
    for i, path in enumerate(["s0", "s1"]):
        (var,) = tree[path].data_vars
        da = tree[path][var]
        scale = dict(zip(SPATIAL, EXPLICIT_SCALE[i]))
        translation = dict(zip(SPATIAL, EXPLICIT_TRANSLATION[i]))
        _check_xiso_coords(da, SPATIAL, pyramid[i].shape, scale, translation, UNITS)
        np.testing.assert_array_equal(da.values, pyramid[i])


def _ngff_zarr_store(tmp_path: Path, version: str, kind: str):
    import ngff_zarr as nz

    s0 = {"z": 0.5, "y": 0.25, "x": 0.25}
    t0 = {"z": 10.0, "y": -3.0, "x": 7.5}
    if kind == "zyx":
        data, dims = _rng_data((32, 64, 64)), list(SPATIAL)
    else:
        data, dims = _rng_data((2, 32, 64, 64)), ["c", *SPATIAL]
    image = nz.to_ngff_image(data, dims=dims, scale=s0, translation=t0, axes_units=UNITS, name="nz")
    ms = nz.to_multiscales(image, scale_factors=[2, 4], method=nz.Methods.DASK_BIN_SHRINK)
    store = tmp_path / f"nz-{kind}-{version}.zarr"
    nz.to_ngff_zarr(str(store), ms, version=version)
    return store, data, dims, s0, t0


@pytest.mark.parametrize("kind", ["zyx", "czyx"])
@pytest.mark.parametrize("version", VERSIONS)
def test_ngff_zarr_store_read_by_xiso(ngff_zarr_mod, tmp_path, version, kind):
    """ngff-zarr puts level k at scale s0 * f and translation t0 + (f - 1) * s0 / 2."""
    store, data, dims, s0, t0 = _ngff_zarr_store(tmp_path, version, kind)
    attrs = zarr.open_group(store, mode="r").attrs.asdict()
    ms = (attrs["ome"] if version == "0.5" else attrs)["multiscales"][0]
    paths = [d["path"] for d in ms["datasets"]]
    assert len(paths) == 3

    tree = xiso.open_ome_zarr_pyramid(store)
    for i, (path, f) in enumerate(zip(paths, (1, 2, 4))):
        shape = tuple(n if d == "c" else n // f for n, d in zip(data.shape, dims))
        scale = {d: s0[d] * f for d in SPATIAL}
        translation = {d: t0[d] + (f - 1) * s0[d] / 2 for d in SPATIAL}
        single = xiso.open_ome_zarr(store, level=i)
        assert single.name == "nz"
        assert single.attrs["ngff_version"] == version
        for da in (single, xiso.open_ome_zarr(store, level=path), tree[path]["nz"]):
            _check_xiso_coords(da, tuple(dims), shape, scale, translation, UNITS)
            np.testing.assert_array_equal(da.values, _raw(store, path))
    np.testing.assert_array_equal(xiso.open_ome_zarr(store).values, data)


@pytest.mark.parametrize("version", VERSIONS)
def test_ngff_zarr_store_pyramid_round_trips_through_xiso(ngff_zarr_mod, tmp_path, version):
    """to_ome_zarr documents that it takes the DataTree open_ome_zarr_pyramid returns.
    ngff-zarr names its levels 'scale0/nz', 'scale1/nz', ... (paths with '/')."""
    store, *_ = _ngff_zarr_store(tmp_path, version, "zyx")
    tree = xiso.open_ome_zarr_pyramid(store)
    out = tmp_path / f"rewritten-{version}.zarr"
    xiso.to_ome_zarr(tree, out, version=version)

    back = xiso.open_ome_zarr_pyramid(out)
    for (_, original), (_, rewritten) in zip(
        sorted(_leaf_arrays(tree).items()), sorted(_leaf_arrays(back).items())
    ):
        assert rewritten.dims == original.dims
        assert rewritten.shape == original.shape
        for d in SPATIAL:
            np.testing.assert_allclose(rewritten[d].values, original[d].values, atol=ATOL)
        np.testing.assert_array_equal(rewritten.values, original.values)
    assert len(_leaf_arrays(back)) == 3


def _leaf_arrays(tree: xr.DataTree) -> dict[str, xr.DataArray]:
    out = {}
    for node in tree.subtree:
        for var in node.data_vars.values():
            out[node.path] = var
    return out
