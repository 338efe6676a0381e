"""What goes through OME-Zarr comes back: coordinates NGFF cannot express,
coordinate attrs, image attrs, the multiscale type and metadata, the 0.4 layout.

Expected values are written out here as numpy arrays (the reference), not
taken from another xiso write.
"""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pytest
import xarray as xr
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import xiso
from xiso.io import ngff

VERSIONS = ("0.4", "0.5")


def _image(extra_dims=(), coords=None, attrs=None, name="img", shape=(4, 6, 5)):
    """A z/y/x uint16 image (z 0.5 um, y/x 1 um) with ``extra_dims`` = ((dim, n), ...) first."""
    dims = [d for d, _ in extra_dims] + ["z", "y", "x"]
    full = tuple(n for _, n in extra_dims) + shape
    data = np.arange(np.prod(full), dtype="uint16").reshape(full)
    base = {
        "z": ("z", np.arange(shape[0]) * 0.5, {"units": "micrometer"}),
        "y": ("y", np.arange(shape[1]) * 1.0, {"units": "micrometer"}),
        "x": ("x", np.arange(shape[2]) * 1.0, {"units": "micrometer"}),
    }
    return xr.DataArray(
        data, dims=dims, coords={**base, **(coords or {})}, name=name, attrs=attrs or {}
    )


def _group_attrs(path):
    return zarr.open_group(path, mode="r").attrs.asdict()


def _xiso_block(path):
    return _group_attrs(path)["xiso"]


def _multiscale(path):
    attrs = _group_attrs(path)
    return (attrs["ome"] if "ome" in attrs else attrs)["multiscales"][0]


def _write_read(da, tmp_path, version, **kwargs):
    store = tmp_path / f"img-{version}.zarr"
    xiso.to_ome_zarr(da, store, version=version, pyramid=False, **kwargs)
    return xiso.open_ome_zarr(store).compute(), store


def _assert_coord(back, name, values, dtype, attrs, dims=None):
    """``back[name]`` has exactly these values (NaN == NaN, NaT == NaT), dtype and attrs."""
    got = back.coords[name]
    assert got.dtype == np.dtype(dtype), (name, got.dtype)
    np.testing.assert_array_equal(got.values, np.asarray(values, dtype=dtype))
    assert got.attrs == attrs, (name, got.attrs)
    if dims is not None:
        assert got.dims == dims


# --------------------------------------------------------------------------
# dimension coordinates of axes other than space
# --------------------------------------------------------------------------
CHANNEL_CASES = {
    "int wavelengths": (np.array([405, 488, 561]), "int64"),
    "uint8": (np.array([1, 2, 250], dtype="uint8"), "uint8"),
    "float32 with NaN and inf": (np.array([0.5, np.nan, np.inf], dtype="float32"), "float32"),
    "bool": (np.array([True, False, True]), "bool"),
    "fixed-width str": (np.array(["DAPI", "GFP", "mCherry"]), "<U7"),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(CHANNEL_CASES))
def test_channel_coordinate_values_dtype_and_attrs(tmp_path, version, case):
    values, dtype = CHANNEL_CASES[case]
    attrs = {"long_name": "excitation", "units": "nm"}
    da = _image([("c", 3)], coords={"c": ("c", values, attrs)})
    back, store = _write_read(da, tmp_path, version)
    # the channel axis keeps its NGFF type; every attr of the coordinate comes back
    _assert_coord(back, "c", values, dtype, {"type": "channel", **attrs})
    np.testing.assert_array_equal(back.values, da.values)
    assert np.dtype(_xiso_block(store)["coords"]["c"]["dtype"]) == np.dtype(dtype)


@pytest.mark.parametrize("version", VERSIONS)
def test_object_channel_labels_go_through_omero_only(tmp_path, version):
    labels = np.array(["DAPI", "GFP"], dtype=object)
    da = _image([("c", 2)], coords={"c": ("c", labels)})
    back, store = _write_read(da, tmp_path, version)
    _assert_coord(back, "c", labels, object, {"type": "channel"})
    assert "coords" not in _xiso_block(store)  # omero gives them back exactly
    omero = _group_attrs(store).get("ome", _group_attrs(store))["omero"]
    assert [ch["label"] for ch in omero["channels"]] == ["DAPI", "GFP"]


TIME_CASES = {
    "datetime64[ns]": np.array(
        ["2024-03-01T10:00:00.000000001", "NaT", "2024-03-02T00:00:00"], dtype="datetime64[ns]"
    ),
    "datetime64[s]": np.array(
        ["1969-07-20T20:17:40", "2000-01-01T00:00:00", "2038-01-19T03:14:08"],
        dtype="datetime64[s]",
    ),
    "timedelta64[ms] with NaT": np.array([0, 1500, "NaT"], dtype="timedelta64[ms]"),
    "timedelta64[ns]": np.array([0, 2**62, -5], dtype="timedelta64[ns]"),
    "irregular float": np.array([0.0, 0.1, 5.0]),
    "descending float": np.array([3.0, 2.0, 1.0]),
    "uniform int": np.array([0, 10, 20], dtype="int32"),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(TIME_CASES))
def test_time_coordinate_values_dtype_and_attrs(tmp_path, version, case):
    values = TIME_CASES[case]
    da = _image([("t", 3)], coords={"t": ("t", values, {"long_name": "acquisition"})})
    back, _ = _write_read(da, tmp_path, version)
    _assert_coord(back, "t", values, values.dtype, {"type": "time", "long_name": "acquisition"})
    np.testing.assert_array_equal(back.values, da.values)


@pytest.mark.parametrize("version", VERSIONS)
def test_datetimes_are_stored_as_iso_strings(tmp_path, version):
    t = np.array(["2024-03-01T10:00:00", "2024-03-01T10:00:30"], dtype="datetime64[ns]")
    da = _image([("t", 2)], coords={"t": t})
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", version=version, pyramid=False)
    assert _xiso_block(tmp_path / "a.zarr")["coords"]["t"] == {
        "values": ["2024-03-01T10:00:00.000000000", "2024-03-01T10:00:30.000000000"],
        "dtype": "datetime64[ns]",
    }


@pytest.mark.parametrize("version", VERSIONS)
def test_uniform_float_time_needs_no_record(tmp_path, version):
    """What the NGFF transform gives back exactly is not stored twice."""
    da = _image([("t", 3)], coords={"t": ("t", np.array([1.0, 3.0, 5.0]), {"units": "second"})})
    back, store = _write_read(da, tmp_path, version)
    _assert_coord(back, "t", [1.0, 3.0, 5.0], "float64", {"type": "time", "units": "second"})
    assert "coords" not in _xiso_block(store)
    ms = _multiscale(store)
    assert ms["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 2.0
    assert ms["axes"][0] == {"name": "t", "type": "time", "unit": "second"}


@pytest.mark.parametrize("version", VERSIONS)
def test_single_time_point_keeps_its_value(tmp_path, version):
    da = _image([("t", 1)], coords={"t": ("t", np.array([12.5]))})
    back, _ = _write_read(da, tmp_path, version)
    _assert_coord(back, "t", [12.5], "float64", {"type": "time"})


@pytest.mark.parametrize("version", VERSIONS)
def test_five_dims_time_and_channel(tmp_path, version):
    t = np.array(["2024-01-01", "2024-01-01T00:00:02", "2024-01-01T00:00:05"], dtype="M8[ns]")
    c = np.array([405.0, 488.0])
    da = _image([("t", 3), ("c", 2)], coords={"t": t, "c": c})
    back, _ = _write_read(da, tmp_path, version)
    _assert_coord(back, "t", t, "datetime64[ns]", {"type": "time"})
    _assert_coord(back, "c", c, "float64", {"type": "channel"})
    np.testing.assert_array_equal(back.z.values, [0.0, 0.5, 1.0, 1.5])
    np.testing.assert_array_equal(back.values, da.values)


# --------------------------------------------------------------------------
# space axes: values from the transforms, attrs from the xiso block
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_space_coordinates_keep_their_attrs_not_a_second_copy(tmp_path, version):
    da = _image()
    da["z"].attrs.update(long_name="depth", axis="Z", units="um")
    back, store = _write_read(da, tmp_path, version)
    # units normalised by NGFF, everything else as given
    _assert_coord(
        back,
        "z",
        [0.0, 0.5, 1.0, 1.5],
        "float64",
        {"type": "space", "units": "micrometer", "long_name": "depth", "axis": "Z"},
    )
    assert back.z.encoding["spacing"] == 0.5
    assert _xiso_block(store)["coords"] == {"z": {"attrs": {"long_name": "depth", "axis": "Z"}}}


# --------------------------------------------------------------------------
# coordinates that are not dimensions
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_scalar_and_auxiliary_coordinates(tmp_path, version):
    da = _image(
        [("c", 3)],
        coords={
            "c": np.array(["a", "b", "c"], dtype=object),
            "laser_mw": ("c", np.array([1.5, 2.0, 0.25], dtype="float32"), {"units": "mW"}),
            "stage": 7,
            "acquired": np.datetime64("2024-05-06T07:08:09", "s"),
        },
    )
    back, _ = _write_read(da, tmp_path, version)
    _assert_coord(back, "laser_mw", [1.5, 2.0, 0.25], "float32", {"units": "mW"}, dims=("c",))
    _assert_coord(back, "stage", 7, "int64", {}, dims=())
    _assert_coord(back, "acquired", np.datetime64("2024-05-06T07:08:09"), "M8[s]", {}, dims=())
    assert set(back.coords) == {"c", "z", "y", "x", "laser_mw", "stage", "acquired"}


@pytest.mark.parametrize("version", VERSIONS)
def test_coordinate_along_space_axes_is_refused(tmp_path, version):
    da = _image().assign_coords(depth_index=("z", np.arange(4)))
    with pytest.raises(xiso.OmeZarrError, match=r"'depth_index' lies along the space dims \('z',"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", version=version, pyramid=False)
    assert not (tmp_path / "a.zarr").exists()


@pytest.mark.parametrize("version", VERSIONS)
def test_coordinate_values_without_json_form_are_refused(tmp_path, version):
    da = _image([("c", 2)], coords={"c": np.array([1 + 2j, 3j])})
    with pytest.raises(xiso.OmeZarrError, match=r"coordinate 'c' has dtype complex128.*drop_vars"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", version=version, pyramid=False)
    mixed = _image([("c", 2)], coords={"c": np.array(["a", 1], dtype=object)})
    with pytest.raises(xiso.OmeZarrError, match=r"coordinate 'c' has dtype object"):
        xiso.to_ome_zarr(mixed, tmp_path / "a.zarr", version=version, pyramid=False)
    assert not (tmp_path / "a.zarr").exists()


# --------------------------------------------------------------------------
# pyramids: every level gets the stored coordinates
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_pyramid_levels_all_restore_coordinates(tmp_path, version):
    c = np.array([405, 488])
    da = _image([("c", 2)], coords={"c": c, "run": "r1"}, shape=(16, 16, 16))
    xiso.to_ome_zarr(da, tmp_path / "p.zarr", version=version, min_size=4, levels=3)
    tree = xiso.open_ome_zarr_pyramid(tmp_path / "p.zarr")
    assert len(tree.children) == 3
    for node in tree.children.values():
        level = node["img"]
        _assert_coord(level, "c", c, "int64", {"type": "channel"})
        _assert_coord(level, "run", "r1", "<U2", {}, dims=())


# --------------------------------------------------------------------------
# image attrs
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_attrs_with_an_exact_json_form_are_converted(tmp_path, version):
    attrs = {
        "count": np.int32(3),
        "gain": np.float32(0.5),
        "flag": np.bool_(True),
        "lut": np.array([[1, 2], [3, 4]], dtype="uint8"),
        "pair": (1, "a"),
        "nested": {"k": [np.int64(5), (2.5, None)]},
        "label": np.str_("x"),
    }
    back, _ = _write_read(_image(attrs=attrs), tmp_path, version)
    expected = {
        "count": 3,
        "gain": 0.5,
        "flag": True,
        "lut": [[1, 2], [3, 4]],
        "pair": [1, "a"],
        "nested": {"k": [5, [2.5, None]]},
        "label": "x",
        "ngff_version": version,
    }
    assert back.attrs == expected
    assert [type(back.attrs[k]) for k in ("count", "gain", "flag")] == [int, float, bool]


ATTR_PROBLEMS = {
    "datetime": (
        {"acquired": __import__("datetime").datetime(2024, 1, 2, 3, 4)},
        r"'acquired' \(a datetime\.datetime\)",
    ),
    "set": ({"tags": {"a", "b"}}, r"'tags' \(a set\)"),
    "object": ({"owner": object()}, r"'owner' \(a object\)"),
    "nan": ({"offset": float("nan")}, r"'offset' \(nan, which JSON has no number for\)"),
    "nested": ({"meta": {"when": np.datetime64("2024-01-01")}}, r"'meta'\['when'\] \(a numpy"),
    "int key": ({"d": {1: "one"}}, r"'d' \(key 1 is a int, not a str\)"),
    "datetime array": (
        {"times": np.array(["2024-01-01"], dtype="M8[D]")},
        r"'times' \(a numpy\.ndarray of datetime64\[D\]\)",
    ),
}


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", list(ATTR_PROBLEMS))
def test_attrs_without_json_form_are_refused_by_name(tmp_path, version, case):
    attrs, message = ATTR_PROBLEMS[case]
    da = _image(attrs={"fine": 1, **attrs})
    with pytest.raises(xiso.OmeZarrError, match=f"attrs of the image cannot be stored.*{message}"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr", version=version)
    assert not (tmp_path / "a.zarr").exists()  # refused before anything was written


def test_attr_refusal_names_every_attr_and_the_fix(tmp_path):
    da = _image(attrs={"a": {1, 2}, "ok": 1, "b": __import__("datetime").date(2024, 1, 1)})
    with pytest.raises(
        xiso.OmeZarrError,
        match=r"'a' \(a set\); 'b' \(a datetime\.date\)\. Convert .*isoformat.*attrs\.pop\('a'\)",
    ):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr")
    da.attrs[("not", "str")] = 1
    del da.attrs["a"], da.attrs["b"]
    with pytest.raises(xiso.OmeZarrError, match=r"\('not', 'str'\) \(its name is a tuple"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr")


def test_coordinate_attrs_without_json_form_are_refused(tmp_path):
    da = _image([("c", 2)], coords={"c": ("c", [1, 2], {"seen": {"x"}})})
    with pytest.raises(xiso.OmeZarrError, match=r"attrs of the coordinate 'c' .*'seen' \(a set\)"):
        xiso.to_ome_zarr(da, tmp_path / "a.zarr")


# --------------------------------------------------------------------------
# reading records another tool changed
# --------------------------------------------------------------------------
def _edit_xiso(path, func):
    group = zarr.open_group(path, mode="a")
    attrs = group.attrs.asdict()
    func(attrs["xiso"]["coords"])
    group.attrs.put(attrs)


BROKEN_RECORDS = {
    "too few values": (lambda c: c["c"].update(values=[1, 2]), r"2 values for shape \(3,\)"),
    "bad dtype": (lambda c: c["c"].update(dtype="no-such"), r"data type 'no-such' not understood"),
    "unknown dim": (lambda c: c.update(q={"values": [1]}), r"no dimension 'q'"),
    "aux on unknown dim": (
        lambda c: c.update(w={"dims": ["q"], "values": [1], "dtype": "int64"}),
        r"dims \['q'\] are not among",
    ),
    "not an object": (lambda c: c.update(c=[1, 2, 3]), r"it is a list, not an object"),
    "values on a space axis": (
        lambda c: c.update(z={"values": [0, 1, 2, 3], "dtype": "int64"}),
        r"space axis come from the NGFF transforms",
    ),
    "attrs not an object": (lambda c: c["c"].update(attrs=[1]), r"attrs are a list"),
}


@pytest.mark.parametrize("case", list(BROKEN_RECORDS))
def test_broken_record_warns_and_ngff_coordinate_stays(tmp_path, case):
    edit, message = BROKEN_RECORDS[case]
    da = _image([("c", 3)], coords={"c": np.array([405, 488, 561])})
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", pyramid=False)
    _edit_xiso(tmp_path / "a.zarr", edit)
    with pytest.warns(xiso.XisoWarning, match=f"stored in .* does not fit.*{message}") as record:
        back = xiso.open_ome_zarr(tmp_path / "a.zarr")
    assert record[0].filename == __file__  # points at the caller, not into xiso
    if case not in ("values on a space axis", "unknown dim", "aux on unknown dim"):
        _assert_coord(back, "c", [0, 1, 2], "int64", {"type": "channel"})
    np.testing.assert_array_equal(back.values, da.values)


def test_intact_store_reads_without_warnings(tmp_path):
    da = _image([("c", 3)], coords={"c": np.array([405, 488, 561])})
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", min_size=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xiso.open_ome_zarr_pyramid(tmp_path / "a.zarr")


# --------------------------------------------------------------------------
# values: any array of a stored dtype survives strict JSON
# --------------------------------------------------------------------------
NUMBERS = ["bool", "int8", "uint16", "int64", "uint64", "float16", "float32", "float64"]
TIMES = ["datetime64[ns]", "datetime64[s]", "datetime64[D]", "timedelta64[us]"]
STORED_DTYPES = st.sampled_from([*NUMBERS, *TIMES, "<U3"])


@settings(max_examples=150)
@given(data=st.data(), dtype=STORED_DTYPES)
def test_values_survive_strict_json(data, dtype):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=4))
    if np.dtype(dtype).kind in "Mm":  # any int64 count, NaT included
        counts = data.draw(hnp.arrays("int64", shape))
        values = counts.astype(dtype)
    else:
        values = data.draw(hnp.arrays(dtype, shape))
    text = json.dumps(ngff.encode_values("v", values), allow_nan=False)
    back = ngff.decode_values(json.loads(text), values.shape)
    assert back.dtype == values.dtype
    np.testing.assert_array_equal(back, values)  # NaN == NaN, NaT == NaT here


# --------------------------------------------------------------------------
# NGFF multiscale type and metadata
# --------------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_multiscale_type_and_metadata(tmp_path, version):
    from ome_zarr_models.v04.image import ImageAttrs as Attrs04
    from ome_zarr_models.v05.image import ImageAttrs as Attrs05

    labels = _image(shape=(32, 16, 16)).astype("uint32").rename("labels")
    xiso.to_ome_zarr(labels, tmp_path / "l.zarr", version=version, method="mode", min_size=4)
    ms = _multiscale(tmp_path / "l.zarr")
    assert ms["type"] == "mode"
    meta = ms["metadata"]
    assert meta["method"] == "xiso.pyramid" and meta["kwargs"] == {"method": "mode"}
    assert meta["version"] == xiso.__version__
    # level shapes as stored, ratio to the level before (independent of the scales)
    group = zarr.open_group(tmp_path / "l.zarr", mode="r")
    shapes = [group[d["path"]].shape for d in ms["datasets"]]
    expected = [[1, 1, 1]] + [
        [a // b for a, b in zip(prev, cur)] for prev, cur in itertools.pairwise(shapes)
    ]
    assert meta["factors"] == expected == [[1, 1, 1], [2, 1, 1], [2, 2, 2], [2, 2, 2]]
    attrs = _group_attrs(tmp_path / "l.zarr")
    model = (
        Attrs05.model_validate(attrs["ome"])
        if version == "0.5"
        else Attrs04.model_validate({"multiscales": attrs["multiscales"]})
    )
    assert model.multiscales[0].type == "mode"
    assert model.multiscales[0].metadata["factors"] == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_datatree_type_is_known_from_pyramid_or_a_read(tmp_path, version):
    da = _image(shape=(16, 16, 16))
    tree = da.iso.pyramid(method="max", min_size=4, levels=3)  # its levels record the method
    xiso.to_ome_zarr(tree, tmp_path / "p.zarr", version=version)
    assert _multiscale(tmp_path / "p.zarr")["type"] == "max"
    for node in tree.subtree:  # a tree built by hand does not say how its levels were made
        for variable in node.data_vars.values():
            variable.encoding.clear()
    xiso.to_ome_zarr(tree, tmp_path / "t.zarr", version=version)
    ms = _multiscale(tmp_path / "t.zarr")
    assert "type" not in ms
    assert ms["metadata"]["factors"] == [[1, 1, 1], [2, 1, 1], [2, 2, 2]]
    assert "kwargs" not in ms["metadata"]
    # a pyramid read from a store that names its type writes it again
    xiso.to_ome_zarr(da, tmp_path / "m.zarr", version=version, method="max", min_size=4)
    opened = xiso.open_ome_zarr_pyramid(tmp_path / "m.zarr")
    assert opened["1"]["img"].encoding[ngff.DOWNSCALING_TYPE] == "max"
    xiso.to_ome_zarr(opened, tmp_path / "again.zarr", version=version)
    assert _multiscale(tmp_path / "again.zarr")["type"] == "max"


@pytest.mark.parametrize("version", VERSIONS)
def test_unnamed_image_is_named_image(tmp_path, version):
    back, store = _write_read(_image(name=None), tmp_path, version)
    assert _multiscale(store)["name"] == "image"
    assert back.name == "image"


# --------------------------------------------------------------------------
# NGFF 0.4 layout: "/" dimension separator, nested chunk keys
# --------------------------------------------------------------------------
def test_ngff_04_uses_slash_separated_chunk_keys(tmp_path):
    da = _image([("c", 2)], coords={"c": np.array([1, 2])}, shape=(8, 8, 8))
    xiso.to_ome_zarr(da, tmp_path / "a.zarr", version="0.4", chunks=4, min_size=4)
    for level in ("0", "1"):
        zarray = json.loads((tmp_path / "a.zarr" / level / ".zarray").read_text())
        assert zarray["dimension_separator"] == "/"
        assert zarray["zarr_format"] == 2
    chunk_files = sorted(
        p.relative_to(tmp_path / "a.zarr" / "0").as_posix()
        for p in (tmp_path / "a.zarr" / "0").rglob("*")
        if p.is_file() and not p.name.startswith(".")
    )
    # c chunks of 1, z/y/x chunks of 4: 2 * 2 * 2 * 2 nested files
    assert len(chunk_files) == 16
    assert "0/0/0/0" in chunk_files and "1/1/1/1" in chunk_files
    assert not any("." in f for f in chunk_files)
    back = xiso.open_ome_zarr(tmp_path / "a.zarr")
    np.testing.assert_array_equal(back.values, da.values)
    level1 = xiso.open_ome_zarr(tmp_path / "a.zarr", level=1)
    ref = da.values.reshape(2, 4, 2, 8, 8).astype(float).mean(axis=2)  # z halved alone
    assert level1.shape == (2, 4, 8, 8)
    np.testing.assert_array_equal(level1.values, np.round(ref).astype("uint16"))
