"""The docstrings of the ``.iso`` accessor methods: their twins', generated.

Written by ``python -m xiso._docgen`` from the plain-function twins'
docstrings and the ``_from_twin`` decorators of :mod:`xiso.accessor`; do not
edit by hand. tests/test_accessor.py checks that it is current.
"""

from __future__ import annotations

# the method's qualified name in xiso.accessor -> its docstring
DOCS: dict[str, str] = {
    "_IsoAccessor.factors": """\
Per-dimension factors that make ``obj`` near-isotropic.

``obj`` is either a mapping of spacings (all in one unit; the pure rule of
:func:`xiso.factors.near_isotropic_factors`) or a DataArray / Dataset whose
spacing is read from its coordinates, units aware.

``obj.iso.factors(...)`` is ``xiso.near_isotropic_factors(obj, ...)``.

Parameters
----------
rounding : {"pow2", "int"}, default "pow2"
    Round the spacing ratio to the nearest power of two (in log2) or to the
    nearest integer; ties go to the smaller factor.
target : float or str, optional
    A coarser reference spacing; a number is in the unit of the coarsest
    dimension, a string such as ``"2 um"`` is converted.
dims : list of dims, optional
    The spatial dims (default: x, y, z and CF/NGFF-tagged dims).
spacing : mapping, optional
    Spacing per dim where the coordinates do not give it.

Returns
-------
dict
    Spatial dim -> integer factor >= 1.

Raises
------
FactorError
    ``target`` is more than :data:`xiso.factors.MAX_TARGET_RATIO` times
    the coarsest spacing (a unit mistake such as ``"2 parsecs"``).

Warns
-----
XisoWarning
    ``target`` is finer than the coarsest spacing (it is ignored), or the
    rounded factors do not give every dim exactly the target spacing.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((8, 2, 2)), dims=("z", "y", "x"),
...                   coords={"z": np.arange(8) * 0.25, "y": [0.0, 1.0],
...                           "x": [0.0, 1.0]})
>>> da.iso.factors()
{'z': 4, 'y': 1, 'x': 1}
>>> da.iso.factors(target=2.0)
{'z': 8, 'y': 2, 'x': 2}
""",
    "_IsoAccessor.near_isotropic": """\
Downsample the finer spatial dims of ``obj`` so its voxels are near-isotropic.

The factors come from :func:`near_isotropic_factors` (spacing read from the
coordinates, units aware); the reduction is :func:`downsample`.

``obj.iso.near_isotropic(...)`` is ``xiso.near_isotropic(obj, ...)``.

Parameters
----------
dims : list of dims, optional
    The spatial dims (default: x, y, z and CF/NGFF-tagged dims).
spacing : mapping, optional
    Spacing per dim where the coordinates do not give it.
rounding : {"pow2", "int"}, default "pow2"
    Round the spacing ratio to the nearest power of two (in log2) or to the
    nearest integer; ties go to the smaller factor.
target : float or str, optional
    A coarser reference spacing; a number is in the unit of the coarsest
    dimension, a string such as ``"2 um"`` is converted.
method : {"mean", "median", "min", "max", "mode", "nearest"}, optional
    ``mode`` is the most frequent value per block (ties to the smallest),
    for label images; ``nearest`` takes the sample at offset
    ``(f - 1) // 2`` of each block. Default: ``mode`` for a variable that
    :func:`looks_like_labels` (a label image read back from OME-Zarr is
    one), else ``mean``.
boundary : {"trim", "pad", "exact"}, default "trim"
    Trailing samples that do not fill a block are dropped (``trim``),
    reduced as a partial block over the valid samples (``pad``), or
    refused with :class:`~xiso.errors.FactorError` (``exact``).
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer
    means and medians are rounded to nearest (ties to even), never
    truncated. A float dtype returns the unrounded result. Results are
    in native byte order (big-endian ``>u2`` input gives ``uint16``).
skipna : bool, optional
    Ignore NaN in float data; default True for floats, as in xarray.

Returns
-------
DataArray or Dataset
    Spatial spacing now near the coarsest input spacing; coordinates at
    block centres; attrs, names and non-spatial dims untouched.

Raises
------
FactorError
    A spatial dim is shorter than its factor (the message says how to
    leave it alone), or the target is absurdly coarse.

Warns
-----
XisoWarning
    As :func:`near_isotropic_factors` and :func:`downsample` do.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((8, 2, 2)), dims=("z", "y", "x"),
...                   coords={"z": np.arange(8) * 0.25, "y": [0.0, 1.0], "x": [0.0, 1.0]})
>>> da.iso.near_isotropic().sizes
Frozen({'z': 2, 'y': 2, 'x': 2})
""",
    "_IsoAccessor.downsample": """\
Block-reduce ``obj`` by integer factors per dimension.

``obj.iso.downsample(...)`` is ``xiso.downsample(obj, ...)``.

Parameters
----------
factors : mapping of dim to int, optional
    Factor per dimension; or pass them as keyword arguments (``z=4``).
method : {"mean", "median", "min", "max", "mode", "nearest"}, optional
    ``mode`` is the most frequent value per block (ties to the smallest),
    for label images; ``nearest`` takes the sample at offset
    ``(f - 1) // 2`` of each block. Default: ``mode`` for a variable that
    :func:`looks_like_labels` (a label image read back from OME-Zarr is
    one), else ``mean``.
boundary : {"trim", "pad", "exact"}, default "trim"
    Trailing samples that do not fill a block are dropped (``trim``),
    reduced as a partial block over the valid samples (``pad``), or
    refused with :class:`~xiso.errors.FactorError` (``exact``).
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer
    means and medians are rounded to nearest (ties to even), never
    truncated. A float dtype returns the unrounded result. Results are
    in native byte order (big-endian ``>u2`` input gives ``uint16``).
skipna : bool, optional
    Ignore NaN in float data; default True for floats, as in xarray.

Returns
-------
DataArray or Dataset
    A new object; reduced dims have block-centre coordinates, all attrs,
    names and non-reduced dims are kept.

Raises
------
FactorError
    A factor is not an integer >= 1, names an unknown dimension, exceeds the
    dimension's length, or does not divide it with ``boundary="exact"``.
OptionError
    ``method`` or ``boundary`` is not a documented value.
DtypeError
    ``method`` cannot reduce a variable's dtype, or ``dtype`` is not a
    data type.

Warns
-----
XisoWarning
    ``boundary="trim"`` drops samples (one warning naming every such dim
    and how many), or a variable that :func:`looks_like_labels` is reduced
    with ``mean`` / ``median`` or cast to a float ``dtype``.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.arange(8, dtype="uint16"), dims="z",
...                   coords={"z": np.arange(8) * 0.25})
>>> out = da.iso.downsample(z=4)
>>> out.values, out.z.values
(array([2, 6], dtype=uint16), array([0.375, 1.375]))
""",
    "_IsoAccessor.upsample": """\
Upsample ``obj`` by integer factors per dimension: the inverse grid of :func:`downsample`.

Each sample of a dim upsampled by ``f`` becomes ``f`` samples that split
its cell evenly: a sample at ``c`` with spacing ``s`` gives samples at
``c + (k - (f - 1) / 2) * s / f``, ``k = 0 .. f - 1``. So
``downsample(upsample(obj, z=f), z=f)`` has ``obj``'s coordinates again:
exactly for power-of-two factors (a cell's last coordinate may be moved
by a few ulps for that), within an ulp or two for other factors. That
grid is the exact grid of spacing ``s / f`` centred on the field of view:
the values are those of :func:`resample` onto ``s / f``.

``obj.iso.upsample(...)`` is ``xiso.upsample(obj, ...)``.

Parameters
----------
factors : mapping of dim to int, optional
    Factor per dimension; or pass them as keyword arguments (``z=4``).
method : {"linear", "nearest"}, optional
    ``linear`` interpolates between the two neighbouring input samples;
    beyond the first and last input sample the edge sample is kept.
    Integers of every dtype are interpolated exactly (the weights are
    fractions over ``2 f``) and rounded once; floats in float64.
    ``nearest`` repeats each sample ``f`` times and never invents a
    value. Default, per variable: ``nearest`` for what looks like a
    label image and for booleans (masks), else ``linear`` (as
    :func:`resample`).
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer results
    are rounded to nearest (ties to even) and clipped, never truncated. A
    float dtype returns the unrounded result. Results are in native byte
    order.

Returns
-------
DataArray or Dataset
    A new object; upsampled dims have the coordinates above (their
    ``encoding["spacing"]`` is ``s / f``), non-index coordinates along
    them are repeated; all attrs, names and other dims are kept.

Raises
------
FactorError
    A factor is not an integer >= 1 or names an unknown dimension.
OptionError
    ``method`` is not a documented value.
DtypeError
    ``method`` cannot upsample a variable's dtype, or ``dtype`` is not a
    data type.
SpacingError
    The index coordinate of an upsampled dim is not numeric, or has a
    single sample and no recorded spacing.
NonUniformSpacingError
    The index coordinate of an upsampled dim is not evenly spaced.

Warns
-----
XisoWarning
    A variable that looks like a label image is interpolated with
    ``linear`` or cast to a float ``dtype``.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.array([0, 4], dtype="uint16"), dims="z", coords={"z": [0.0, 1.0]})
>>> out = da.iso.upsample(z=2)
>>> out.values, out.z.values
(array([0, 1, 3, 4], dtype=uint16), array([-0.25,  0.25,  0.75,  1.25]))
""",
    "_IsoAccessor.resample": """\
Resample spatial dims of ``obj`` to exactly ``spacing``, on a grid centred
on the field of view (the grid is drawn in the docs' concepts page, "Exact
resampling": ``n' = max(1, round(n s / s'))`` samples, centred).

``obj.iso.resample(...)`` is ``xiso.resample(obj, ...)``.

Parameters
----------
spacing : number, str, quantity or mapping
    The new spacing: a number in the unit of the coarsest spatial
    coordinate (the unit :func:`xiso.spacing_info` reports), a quantity
    such as ``"1 um"``, or a mapping of dim to either for per-dim spacings.
dims : iterable of hashable, optional
    The dims to resample (with a scalar ``spacing``); default: all spatial
    dims. With a mapping, its keys are the dims.
method : {"area", "nearest", "linear", "cubic"}, optional
    ``area`` averages the input over each new cell, weighting every input
    cell by its overlap (exact on integers up to 32 bits; the total is
    kept where ``n' s' = n s``; the block mean where the ratio is a whole
    number); ``nearest`` takes the input sample whose cell holds the new
    centre (on an edge, the lower coordinate) and never invents a value;
    ``linear`` and ``cubic`` interpolate (B-spline order 1 and 3, as
    ``scipy.ndimage``) after a Gaussian anti-aliasing prefilter along the
    reduced dims. Default, per variable: ``nearest`` for what looks like a
    label image and for booleans (masks), else ``linear`` if a dim is made
    finer, else ``area``.
dtype : dtype, optional
    Output dtype of the resampled data variables; by default the input's
    (integers rounded half to even and clipped, never truncated).
antialias : bool, default True
    ``linear`` and ``cubic``: smooth each reduced dim first by a Gaussian
    of ``sigma = (ratio - 1) / 2`` input samples, as scikit-image does.
skipna : bool, optional
    ``area`` on floats: average the non-NaN inputs of each cell (default
    True for floats, as :func:`downsample`).

Returns
-------
DataArray or Dataset
    A new object; resampled dims have the new coordinates (their
    ``encoding["spacing"]`` is the new spacing); non-index coordinates
    along them take the nearest sample's value; attrs, names and other
    dims are kept.

Raises
------
SpatialDimError
    A dim is not spatial or has no coordinate.
FactorError
    The spacing is not positive, or absurdly far from the data's.
OptionError, DtypeError
    An unknown method, or a dtype the method cannot compute.
UnitError
    The spacing's unit is not a length, or the coordinates have none.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.arange(10.0), dims="z", coords={"z": np.arange(10) * 0.3})
>>> out = da.iso.resample(1.0)
>>> out.z.values  # 3 samples of 1.0 centred on the 3.0 field of view
array([0.35, 1.35, 2.35])
>>> out.values    # each the average over its cell, weighted by overlap
array([1.2, 4.5, 7.8])
""",
    "_IsoAccessor.isotropic": """\
Resample every spatial dim of ``obj`` to one spacing, exactly: the
coarsest input spacing, or ``spacing``.

The exact sibling of :func:`near_isotropic`, which can only reach whole
multiples of the input spacing: z 0.3 / y, x 1.0 becomes z, y, x 1.0 here
(1.2 there). It is :func:`resample` with one spacing for all spatial dims;
dims already at that spacing are left exactly as they are.

``obj.iso.isotropic(...)`` is ``xiso.isotropic(obj, ...)``.

Parameters
----------
spacing : number, str or quantity, optional
    The common spacing; default: the coarsest spatial spacing.
dims, method, dtype, antialias, skipna
    As in :func:`resample`.

Returns
-------
DataArray or Dataset
    As :func:`resample`.

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((10, 3), "uint16"), dims=("z", "y"),
...                   coords={"z": np.arange(10) * 0.3, "y": [0.0, 1.0, 2.0]})
>>> da.iso.isotropic().sizes
Frozen({'z': 3, 'y': 3})
""",
    "_IsoAccessor.resample_like": """\
Resample ``obj`` onto the spatial coordinates of ``other``: for example a
segmentation made at isotropic spacing back onto the original grid.

Every spatial dim of ``obj`` that ``other`` has a coordinate for gets
``other``'s coordinate (values, attrs and units, so that the two align);
other dims are untouched. Positions outside ``obj``'s samples take the
edge sample's value: there is no NaN at the borders (unlike
``interp_like``).

``obj.iso.resample_like(...)`` is ``xiso.resample_like(obj, ...)``.

Parameters
----------
other : DataArray or Dataset
    The object whose evenly spaced coordinates give the new grid (units
    are converted: nm against µm is fine).
method : {"linear", "cubic", "nearest", "area"}, default "linear"
    As in :func:`resample`; ``nearest`` for label images.
dtype, antialias, skipna
    As in :func:`resample`.

Returns
-------
DataArray or Dataset
    As :func:`resample`, with ``other``'s coordinates.

Raises
------
SpatialDimError
    ``other`` shares no spatial dim with a coordinate.
NonUniformSpacingError
    A coordinate of ``other`` is not evenly spaced.

Examples
--------
>>> import numpy as np, xarray as xr
>>> fine = xr.DataArray(np.arange(10.0), dims="z", coords={"z": np.arange(10) * 0.3})
>>> coarse = fine.iso.isotropic(spacing=1.0)
>>> back = coarse.iso.resample_like(fine)
>>> bool((back.z == fine.z).all()), back.sizes["z"]
(True, 10)
""",
    "IsoDataArrayAccessor.pyramid": """\
A multiscale pyramid of ``obj`` as a DataTree with one node per level.

``obj.iso.pyramid(...)`` is ``xiso.pyramid(obj, ...)``.

Parameters
----------
levels : int, optional
    Number of levels, level 0 included (default: as many as ``min_size``
    allows).
min_size : int, default 32
    No spatial dim is halved below this many samples.
method : str, optional
    Reduction of each step; default ``"mode"`` for what
    :func:`~xiso.labelled.looks_like_labels` (label images), else ``"mean"``.
near_isotropic : bool, default True
    Halve the finest dims first until near-isotropic; False halves all
    spatial dims at every level.
dims : list of dims, optional
    The spatial dims (default: x, y, z and CF/NGFF-tagged dims).
spacing : mapping, optional
    Spacing per dim where the coordinates do not give it.

Returns
-------
DataTree
    Children ``"0"``, ``"1"``, ... each holding the level as a Dataset
    with one variable named like ``obj`` (``"image"`` when unnamed).

Examples
--------
>>> import numpy as np, xarray as xr
>>> da = xr.DataArray(np.zeros((64, 64, 64), "uint8"), dims=("z", "y", "x"), name="img",
...                   coords={"z": np.arange(64) * 0.5, "y": np.arange(64.0),
...                           "x": np.arange(64.0)})
>>> tree = da.iso.pyramid(min_size=16)
>>> [dict(tree[k]["img"].sizes) for k in tree.children]
[{'z': 64, 'y': 64, 'x': 64}, {'z': 32, 'y': 64, 'x': 64}, {'z': 16, 'y': 32, 'x': 32},
 {'z': 16, 'y': 16, 'x': 16}]
""",
    "IsoDataArrayAccessor.plot": """\
Draw the XY, XZ and YZ views of a volume at its true physical aspect.

XY (looking down z) is at the top left, XZ below it (sharing x), YZ to its
right (sharing y). Image extents come from the coordinates, and all panels
have ``aspect="equal"`` at one common scale, so lengths are true in every
direction whatever the voxel size.

``obj.iso.plot(...)`` is ``xiso.plot.orthoviews(obj, ...)``.

Parameters
----------
mode : {"slice", "mip"}, default "slice"
    ``"slice"`` draws the central slice along each dim (position
    ``n // 2``) or those chosen with ``index``; ``"mip"`` draws maximum
    intensity projections over each dim (NaN ignored).
index : mapping of dim to int, optional
    Integer positions, as in ``obj.isel``: of the slices (spatial dims,
    ``mode="slice"`` only; negative counts from the end) and of the
    non-spatial dims to draw.
ax : Axes, optional
    Draw into the area of this Axes: it is removed and the three panels
    are placed, centred, in its box. By default a new figure sized to
    the volume's physical extent, made with ``matplotlib.figure.Figure``
    rather than pyplot: in Jupyter it is shown once, as the cell's result,
    and no pyplot figure is left open (``plt.close`` is not needed).
cmap : str or Colormap, default "gray"
    Colormap of all panels.
title : str, optional
    Title above the panels; by default the array's name (``""`` for none).
robust : bool, default True
    Color limits at the 2nd and 98th percentiles of the drawn views (all
    three together) rather than their minimum and maximum.
vmin, vmax : float, optional
    Color limits; override ``robust``.

Returns
-------
Figure
    The figure. The panel Axes are labelled ``"xy"``, ``"xz"`` and ``"yz"``
    (``ax.get_label()``) and added in that order; each panel title says
    which slice (in coordinate units) or projection it shows.

Raises
------
SpatialDimError
    ``obj`` does not have exactly three spatial dims, or ``index`` names an
    unknown dim.
MissingCoordinateError, SpacingError, NonUniformSpacingError, UnitError
    A spatial dim has no coordinate, a single sample whose spacing was
    not recorded (one left by :func:`xiso.downsample` or read from
    OME-Zarr is), an uneven or non-finite coordinate, or units that are
    not lengths or not given on every dim.
OptionError
    ``mode`` is unknown, an ``index`` position is out of range or not an
    integer, a non-spatial dim is not chosen, ``mode="mip"`` has a spatial
    ``index``, or ``vmin > vmax``.
DtypeError
    The data is not real numbers (complex, strings, ...).
ImportError
    matplotlib is not installed (``pip install matplotlib``).

Notes
-----
With dask-backed input only the 2-D views are computed (together, in one
``dask.compute``): three planes in ``"slice"`` mode, one pass over the data
in ``"mip"`` mode. Data units come from the coordinates: the extent of a
panel along a dim with coordinate ``c`` and step ``s`` is
``c[0] - s/2`` to ``c[-1] + s/2``; as ``origin="upper"``,
``AxesImage.get_extent()`` is ``(left, right, bottom, top)`` =
``(col[0] - s/2, col[-1] + s/2, row[-1] + s/2, row[0] - s/2)``.
Add a colorbar with ``fig.colorbar(fig.axes[0].images[0], ax=fig.axes)``;
save with ``fig.savefig("views.png")``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import xiso.data, xiso.plot
>>> vol = xiso.data.lightsheet(shape=(32, 16, 16), seed=0)  # z 0.25 µm, y x 1 µm
>>> fig = vol.iso.plot(mode="mip")
>>> xy, xz, yz = fig.axes
>>> xz.get_label(), xz.get_title()
('xz', 'max over y')
>>> xz.images[0].get_extent()  # x from -0.5 to 15.5 µm; z from 7.875 (bottom) to -0.125 µm
[-0.5, 15.5, 7.875, -0.125]
""",
    "IsoDataArrayAccessor.to_ome_zarr": """\
Write a DataArray (optionally as a pyramid) or a DataTree as OME-Zarr.

``obj.iso.to_ome_zarr(...)`` is ``xiso.to_ome_zarr(obj, ...)``.

Parameters
----------
store : str, Path, fsspec URL or zarr store
    Where to write.
pyramid : bool, default True
    For a DataArray: write a near-isotropic pyramid (see
    :func:`xiso.pyramid`), else only level 0.
levels, min_size
    Passed to :func:`xiso.pyramid`.
method : str, optional
    The reduction of the pyramid, passed to :func:`xiso.pyramid`: by
    default ``"mode"`` for a label image, ``"mean"`` otherwise. A label
    image takes only ``"mode"`` or ``"nearest"``.
version : {"0.5", "0.4"}
    NGFF 0.5 on zarr v3, or NGFF 0.4 on zarr v2.
chunks : int or mapping, optional
    Chunk edge of every spatial dim, or per dim (a mapping). By default one
    power-of-two edge, the largest whose chunk holds at most 4 MiB (uint16
    3-D: 128^3); other dims 1. The same at every level, so chunks align
    with the pyramid. See :mod:`xiso.layout`.
shards : "auto", None, int or mapping, default "auto"
    zarr v3 shards (NGFF 0.5): the shard edge of every spatial dim, or
    per dim, each a whole multiple of its chunk edge; ``None`` for one
    file per chunk. ``"auto"`` shards an image whose level 0 holds more
    than 1024 chunks, with shards of at most 64 MiB, and leaves a smaller
    one (or NGFF 0.4) unsharded. Every level has the same chunk and shard
    shape, and exactly one task writes each shard, whatever the dask
    chunks of ``obj``. :func:`xiso.plan` shows the layout before any work.
compressor : codec, optional
    A zarr codec (default: zarr's default, zstd).
overwrite : bool, default False
    Replace what is at ``store``, if it is a zarr hierarchy or an empty
    folder; without it anything at ``store`` raises.
labels : mapping of str to DataArray or DataTree, optional
    Label images (segmentations) to write below the image as NGFF
    ``labels/<name>``, each an integer DataArray on the image's grid (the
    image's dims in its order, the same space coordinates; other dims of
    the same length or of length 1). Their levels are made here to match
    the image's, each reduced with ``mode`` by the factors between the
    image's levels; a DataTree gives its levels as they are. The
    ``image-label`` metadata gets ``source`` (the image) and what the
    label's ``attrs["image-label"]`` holds, e.g. ``{"colors":
    [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}``; a label image that
    names no ``colors`` gets one for each value found in its level 0 as
    it is written (0 transparent; none listed past
    :data:`xiso.io.labels.LISTED_COLORS` values: viewers such as napari
    draw a value without a listed colour transparent). A DataTree
    ``obj`` writes the label images below its ``labels`` node too.
label : bool or str, optional
    ``True``: ``obj`` is a label image written by itself (an image group
    with ``image-label`` metadata and no source; levels reduced with
    ``mode``). A name such as ``"nuclei"``: add ``obj`` as the label
    image ``labels/<name>`` of the image stored at ``store``, with the
    image's levels and NGFF version (see :func:`add_label`: the image's
    levels, attributes and other labels stay as they are, byte for byte;
    ``overwrite=True`` replaces a label image of that name). Default:
    ``True`` when ``obj`` carries ``attrs["image-label"]`` (a label image
    that :func:`open_ome_zarr` read), else ``False``.
storage_options : mapping, optional
    Passed to fsspec for a URL (e.g. ``{"endpoint_url": ...}`` for ``s3://``).
progress : bool, default False
    Show a progress bar of the computation and write (a widget in Jupyter,
    text on stderr otherwise; see :func:`xiso.progress.progress_bar`).
resume : bool, default False
    Pick up the unfinished write of this same job that a killed or
    interrupted write left beside the target (its hidden temporary): what
    it wrote whole (a shard, or a chunk without shards) is kept and only
    the rest is written, then swapped in as usual. The same job means the
    same source (metadata, coordinates and a content sample) and the same
    options (levels, method, dtype, chunks, shards, version, codec); an
    unfinished write of another job is refused with
    :class:`~xiso.errors.ResumeError`. With nothing to resume it writes as
    usual. Without it, a dead writer's temporary is removed. See
    docs/scale.md, "When a conversion is killed".

Raises
------
StoreExistsError
    Something is at ``store`` and ``overwrite`` is False, or it is not a
    zarr hierarchy or an empty folder (then nothing is touched); with
    ``label="name"``, the image already has a label image of that name.
OmeZarrError
    ``obj`` is a Dataset (pick one variable, or stack them as channels);
    the image cannot be written as NGFF (dims, units, spacing); an attr
    (of the image or a coordinate) or coordinate values have no exact JSON
    form (a datetime or set attr, NaN, complex values...: the message
    names each and how to fix it); a coordinate that is no dimension lies
    along a space axis; a label image off the image's grid, with another
    number of levels, a bad name or invalid ``image-label`` attrs; no
    image at ``store`` for ``label="name"``. All before anything is
    computed or written.
DtypeError
    A label image whose dtype NGFF does not allow (it wants int8 ...
    uint64).
OptionError
    A bad ``version``, ``method`` (``"mean"`` for a label image),
    ``chunks`` or URL.

Notes
-----
Nothing is dropped silently: what :func:`open_ome_zarr` would not give
back from NGFF alone goes to ``attributes["xiso"]`` of the image group,
or the write is refused. The image attrs go there as JSON, converting
only what has an exact JSON form (numpy numbers, booleans and strings and
arrays of them become numbers, booleans, strings and lists; tuples
become lists); anything else raises rather than being dropped or turned
into text that reads back as another type. Coordinates of axes other
than space (channel wavelengths, datetime64 or irregular times) are
recorded with values and dtype when the NGFF transforms or omero labels
do not give them back exactly; coordinate attrs, scalar coordinates and
coordinates along those axes always; space axes come from the NGFF
transforms (see :mod:`xiso.io.ngff` and docs/ome-zarr.md).

NGFF scales are positive, so a descending spatial coordinate (a NIfTI
``L``, ``P`` or ``I`` axis) is written reversed, each sample keeping its
coordinate, before any pyramid level is made (the same from Python and
``xiso convert``); ``attrs["orientation"]`` and ``attrs["affine"]`` are
derived again from what is written.

The multiscale ``type`` is ``method`` for a DataArray; for a DataTree it
is the type recorded when its levels were read, else left out.
``metadata`` holds the factors of each level over the previous one and
the xiso version. An unnamed image is named ``"image"``.

The image (with its label images) is written to a hidden temporary
location and swapped in at the end; a failure leaves the target as it
was. What is atomic on which storage is described in
:mod:`xiso.io.targets` and docs/scale.md.

Examples
--------
Write a tiny image and its pyramid to a temporary folder, and read them back:

>>> import tempfile
>>> import numpy as np, xarray as xr
>>> import xiso
>>> da = xr.DataArray(np.arange(64, dtype="uint8").reshape(4, 4, 4), dims=("z", "y", "x"),
...                   name="img", coords={"z": np.arange(4) * 2.0, "y": np.arange(4.0),
...                                       "x": np.arange(4.0)})
>>> with tempfile.TemporaryDirectory() as tmp:
...     da.iso.to_ome_zarr(f"{tmp}/img.zarr", min_size=2)
...     back = xiso.open_ome_zarr(f"{tmp}/img.zarr").load()
...     tree = xiso.open_ome_zarr_pyramid(f"{tmp}/img.zarr").load()
>>> back.equals(da), back.iso.spacing
(True, {'z': 2.0, 'y': 1.0, 'x': 1.0})
>>> [dict(tree[level]["img"].sizes) for level in tree.children]
[{'z': 4, 'y': 4, 'x': 4}, {'z': 4, 'y': 2, 'x': 2}, {'z': 2, 'y': 2, 'x': 2}]
""",
    "IsoDataArrayAccessor.plan": """\
What :func:`xiso.to_ome_zarr` would write for ``obj`` with these options.

Takes the options of :func:`xiso.to_ome_zarr`; those that do not change
what is written (``compressor``, ``overwrite``, ``storage_options``,
``progress``, ``labels``) are accepted and ignored. Nothing is computed:
a lazy image of any size plans from its sizes, spacing and dtype.

``obj.iso.plan(...)`` is ``xiso.plan(obj, ...)``.

Parameters
----------
pyramid, levels, version, chunks, shards, method, min_size, label
    As in :func:`xiso.to_ome_zarr`.

Returns
-------
Plan
    ``plan.levels``: one :class:`LevelPlan` per level; ``plan.nbytes``
    and ``plan.files``: the totals; ``print(plan)``: a table.

Examples
--------
A lazy 4 TiB acquisition, planned without computing anything:

>>> import dask.array as dsa, numpy as np, xarray as xr, xiso
>>> big = xr.DataArray(dsa.zeros((8192, 16384, 16384), dtype="uint16", chunks=512),
...                    dims=("z", "y", "x"), name="acquisition",
...                    coords={d: (d, np.arange(n) * s, {"units": "micrometer"}) for d, n, s
...                            in [("z", 8192, 0.25), ("y", 16384, 1.0), ("x", 16384, 1.0)]})
>>> p = big.iso.plan()
>>> len(p.levels), p.layout
(12, Layout(chunks=(128, 128, 128), shards=(256, 256, 512)))
>>> p.levels[0].files, str(p.levels[2].spacing["z"]), p.levels[2].method
(65536, '1 µm', 'mean')
>>> print(xiso.plan(big[:128, :256, :256], min_size=64))
OME-Zarr 0.5 plan for 'acquisition': uint16, dims (z, y, x), 4 levels, unsharded
level  shape            spacing                chunks           shards       size  files  method
-----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
0      128 x 256 x 256  0.25 µm x 1 µm x 1 µm  128 x 128 x 128  -        16.0 MiB      4  -
1      64 x 256 x 256   0.5 µm x 1 µm x 1 µm   64 x 128 x 128   -         8.0 MiB      4  mean
2      64 x 128 x 128   0.5 µm x 2 µm x 2 µm   64 x 128 x 128   -         2.0 MiB      1  mean
3      64 x 64 x 64     0.5 µm x 4 µm x 4 µm   64 x 64 x 64     -       512.0 KiB      1  mean
-----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
total                                                                    26.5 MiB     10
""",
    "IsoDataArrayAccessor.to_nifti": """\
Write a 3-D or 4-D DataArray as a NIfTI-1 file, the affine from its coordinates.

``obj.iso.to_nifti(...)`` is ``xiso.to_nifti(obj, ...)``.

Parameters
----------
path : str or Path
    A file name ending in ``.nii`` or ``.nii.gz`` (compressed).
overwrite : bool, default False
    Replace an existing file. The file is written beside the target and
    moved over it in one step (``os.replace``), so a failed write leaves
    the old file as it was.

Notes
-----
The voxel axes (i, j, k) are the spatial dims in reverse order (what
:func:`open_nifti` reads back as the same dims). Each runs along the world
axis its name or CF ``axis`` says (x, y, z; else i, j, k along x, y, z),
by the signed step of its coordinate from its first value, so descending
coordinates are flips. Spatial units become NIfTI's (meter, mm, micron;
other lengths are converted to mm); the 4th axis steps by its coordinate's
step in sec, msec or usec, from ``toffset``. An oblique image's affine
(``attrs["affine"]``, which :func:`open_nifti` keeps with
``oblique="ignore"`` and xiso's resampling moves onto each new grid) is
written instead, rotation and origin included, when its voxel sizes are
the coordinates' steps; otherwise (the grid was changed outside xiso) the
axis-aligned affine of the coordinates is written with an
:class:`~xiso.errors.AffineWarning`.

Raises
------
SpatialDimError
    Not three spatial dims, or more than one other dim.
NiftiError
    A path not ending in .nii or .nii.gz, a folder that does not exist,
    units on some spatial coordinates only, or data nibabel cannot store.
StoreExistsError
    The file exists and ``overwrite`` is False, or the path is a folder.
SpacingError
    A spatial coordinate that is missing, uneven or not numeric.

Examples
--------
>>> import numpy as np, xarray as xr, xiso
>>> da = xr.DataArray(np.zeros((3, 4, 5), "int16"), dims=("z", "y", "x"),
...                   coords={d: (d, np.arange(n) * s, {"units": "mm"})
...                           for d, n, s in (("z", 3, 4.0), ("y", 4, 2.0), ("x", 5, 2.0))})
>>> path = getfixture("tmp_path") / "out.nii.gz"
>>> da.iso.to_nifti(path)
>>> xiso.open_nifti(path).iso.spacing
{'z': 4.0, 'y': 2.0, 'x': 2.0}
""",
    "IsoDataTreeAccessor.near_isotropic": """\
:func:`near_isotropic` on every node of a DataTree.

Each node holding data gets its own factors (pyramid levels differ). A node
holding only coordinates that its children share is reduced with the
factors of the data below it, which must then agree. The options are those
of :func:`near_isotropic`; any other keyword is a TypeError.

``obj.iso.near_isotropic(...)`` is ``xiso.near_isotropic(obj, ...)``.

Parameters
----------
dims : list of dims, optional
    The spatial dims (default: x, y, z and CF/NGFF-tagged dims).
spacing : mapping, optional
    Spacing per dim where the coordinates do not give it.
rounding : {"pow2", "int"}, default "pow2"
    Round the spacing ratio to the nearest power of two (in log2) or to the
    nearest integer; ties go to the smaller factor.
target : float or str, optional
    A coarser reference spacing; a number is in the unit of the coarsest
    dimension, a string such as ``"2 um"`` is converted.
method : {"mean", "median", "min", "max", "mode", "nearest"}, optional
    ``mode`` is the most frequent value per block (ties to the smallest),
    for label images; ``nearest`` takes the sample at offset
    ``(f - 1) // 2`` of each block. Default: ``mode`` for a variable that
    :func:`looks_like_labels` (a label image read back from OME-Zarr is
    one), else ``mean``.
boundary : {"trim", "pad", "exact"}, default "trim"
    Trailing samples that do not fill a block are dropped (``trim``),
    reduced as a partial block over the valid samples (``pad``), or
    refused with :class:`~xiso.errors.FactorError` (``exact``).
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer
    means and medians are rounded to nearest (ties to even), never
    truncated. A float dtype returns the unrounded result. Results are
    in native byte order (big-endian ``>u2`` input gives ``uint16``).
skipna : bool, optional
    Ignore NaN in float data; default True for floats, as in xarray.

Returns
-------
DataTree
    A new tree of the same shape; every node reduced as described above.

Raises
------
FactorError
    A spatial dim is shorter than its factor (the message says how to
    leave it alone), or the target is absurdly coarse.

Warns
-----
XisoWarning
    As :func:`near_isotropic_factors` and :func:`downsample` do.

Examples
--------
>>> import numpy as np, xarray as xr
>>> def level(n, dz):
...     return xr.Dataset({"v": (("z", "x"), np.zeros((n, 2)))},
...                       coords={"z": np.arange(n) * dz, "x": [0.0, 1.0]})
>>> tree = xr.DataTree.from_dict({"fine": level(8, 0.25), "coarse": level(8, 0.5)})
>>> out = tree.iso.near_isotropic()
>>> dict(out["fine"].sizes), dict(out["coarse"].sizes)
({'z': 2, 'x': 2}, {'z': 4, 'x': 2})
""",
    "IsoDataTreeAccessor.downsample": """\
:func:`downsample` on every node of a DataTree that has a named dim.

``obj.iso.downsample(...)`` is ``xiso.downsample(obj, ...)``.

Parameters
----------
factors : mapping of dim to int, optional
    Factor per dimension; or pass them as keyword arguments (``z=4``).
method : {"mean", "median", "min", "max", "mode", "nearest"}, optional
    ``mode`` is the most frequent value per block (ties to the smallest),
    for label images; ``nearest`` takes the sample at offset
    ``(f - 1) // 2`` of each block. Default: ``mode`` for a variable that
    :func:`looks_like_labels` (a label image read back from OME-Zarr is
    one), else ``mean``.
boundary : {"trim", "pad", "exact"}, default "trim"
    Trailing samples that do not fill a block are dropped (``trim``),
    reduced as a partial block over the valid samples (``pad``), or
    refused with :class:`~xiso.errors.FactorError` (``exact``).
dtype : dtype, optional
    Output dtype of the data variables that have a dim in ``factors`` (a
    factor of 1 included). By default the input dtype: integer
    means and medians are rounded to nearest (ties to even), never
    truncated. A float dtype returns the unrounded result. Results are
    in native byte order (big-endian ``>u2`` input gives ``uint16``).
skipna : bool, optional
    Ignore NaN in float data; default True for floats, as in xarray.

Returns
-------
DataTree
    A new tree of the same shape; every node reduced as described above.

Raises
------
FactorError
    A factor is not an integer >= 1, names an unknown dimension, exceeds the
    dimension's length, or does not divide it with ``boundary="exact"``.
OptionError
    ``method`` or ``boundary`` is not a documented value.
DtypeError
    ``method`` cannot reduce a variable's dtype, or ``dtype`` is not a
    data type.

Warns
-----
XisoWarning
    ``boundary="trim"`` drops samples (one warning naming every such dim
    and how many), or a variable that :func:`looks_like_labels` is reduced
    with ``mean`` / ``median`` or cast to a float ``dtype``.

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"v": (("z", "x"), np.zeros((8, 2)))},
...                 coords={"z": np.arange(8) * 0.25, "x": [0.0, 1.0]})
>>> tree = xr.DataTree.from_dict({"a": ds, "b": ds.isel(z=0)})
>>> out = tree.iso.downsample(z=4)
>>> dict(out["a"].sizes), dict(out["b"].sizes)
({'z': 2, 'x': 2}, {'x': 2})
""",
    "IsoDataTreeAccessor.to_ome_zarr": """\
Write the tree (one child node per level) as OME-Zarr.

The tree is a pyramid as :meth:`DataArray.iso.pyramid` or
:func:`xiso.open_ome_zarr_pyramid` return it; its levels are written
as they are (nothing is reduced), and so are the label images below
its ``labels`` node (``labels/<name>/<path>``).

``obj.iso.to_ome_zarr(...)`` is ``xiso.to_ome_zarr(obj, ...)``.

Parameters
----------
store : str, Path, fsspec URL or zarr store
    Where to write.
version : {"0.5", "0.4"}
    NGFF 0.5 on zarr v3, or NGFF 0.4 on zarr v2.
chunks : int or mapping, optional
    Chunk edge of every spatial dim, or per dim (a mapping). By default one
    power-of-two edge, the largest whose chunk holds at most 4 MiB (uint16
    3-D: 128^3); other dims 1. The same at every level, so chunks align
    with the pyramid. See :mod:`xiso.layout`.
shards : "auto", None, int or mapping, default "auto"
    zarr v3 shards (NGFF 0.5): the shard edge of every spatial dim, or
    per dim, each a whole multiple of its chunk edge; ``None`` for one
    file per chunk. ``"auto"`` shards an image whose level 0 holds more
    than 1024 chunks, with shards of at most 64 MiB, and leaves a smaller
    one (or NGFF 0.4) unsharded. Every level has the same chunk and shard
    shape, and exactly one task writes each shard, whatever the dask
    chunks of ``obj``. :func:`xiso.plan` shows the layout before any work.
compressor : codec, optional
    A zarr codec (default: zarr's default, zstd).
overwrite : bool, default False
    Replace what is at ``store``, if it is a zarr hierarchy or an empty
    folder; without it anything at ``store`` raises.
labels : mapping of str to DataArray or DataTree, optional
    Label images (segmentations) to write below the image as NGFF
    ``labels/<name>``, each an integer DataArray on the image's grid (the
    image's dims in its order, the same space coordinates; other dims of
    the same length or of length 1). Their levels are made here to match
    the image's, each reduced with ``mode`` by the factors between the
    image's levels; a DataTree gives its levels as they are. The
    ``image-label`` metadata gets ``source`` (the image) and what the
    label's ``attrs["image-label"]`` holds, e.g. ``{"colors":
    [{"label-value": 1, "rgba": [255, 0, 0, 255]}]}``; a label image that
    names no ``colors`` gets one for each value found in its level 0 as
    it is written (0 transparent; none listed past
    :data:`xiso.io.labels.LISTED_COLORS` values: viewers such as napari
    draw a value without a listed colour transparent). A DataTree
    ``obj`` writes the label images below its ``labels`` node too.
label : bool or str, optional
    ``True``: ``obj`` is a label image written by itself (an image group
    with ``image-label`` metadata and no source; levels reduced with
    ``mode``). A name such as ``"nuclei"``: add ``obj`` as the label
    image ``labels/<name>`` of the image stored at ``store``, with the
    image's levels and NGFF version (see :func:`add_label`: the image's
    levels, attributes and other labels stay as they are, byte for byte;
    ``overwrite=True`` replaces a label image of that name). Default:
    ``True`` when ``obj`` carries ``attrs["image-label"]`` (a label image
    that :func:`open_ome_zarr` read), else ``False``.
storage_options : mapping, optional
    Passed to fsspec for a URL (e.g. ``{"endpoint_url": ...}`` for ``s3://``).
progress : bool, default False
    Show a progress bar of the computation and write (a widget in Jupyter,
    text on stderr otherwise; see :func:`xiso.progress.progress_bar`).
resume : bool, default False
    Pick up the unfinished write of this same job that a killed or
    interrupted write left beside the target (its hidden temporary): what
    it wrote whole (a shard, or a chunk without shards) is kept and only
    the rest is written, then swapped in as usual. The same job means the
    same source (metadata, coordinates and a content sample) and the same
    options (levels, method, dtype, chunks, shards, version, codec); an
    unfinished write of another job is refused with
    :class:`~xiso.errors.ResumeError`. With nothing to resume it writes as
    usual. Without it, a dead writer's temporary is removed. See
    docs/scale.md, "When a conversion is killed".

Raises
------
StoreExistsError
    Something is at ``store`` and ``overwrite`` is False, or it is not a
    zarr hierarchy or an empty folder (then nothing is touched); with
    ``label="name"``, the image already has a label image of that name.
OmeZarrError
    ``obj`` is a Dataset (pick one variable, or stack them as channels);
    the image cannot be written as NGFF (dims, units, spacing); an attr
    (of the image or a coordinate) or coordinate values have no exact JSON
    form (a datetime or set attr, NaN, complex values...: the message
    names each and how to fix it); a coordinate that is no dimension lies
    along a space axis; a label image off the image's grid, with another
    number of levels, a bad name or invalid ``image-label`` attrs; no
    image at ``store`` for ``label="name"``. All before anything is
    computed or written.
DtypeError
    A label image whose dtype NGFF does not allow (it wants int8 ...
    uint64).
OptionError
    A bad ``version``, ``method`` (``"mean"`` for a label image),
    ``chunks`` or URL.

Notes
-----
Nothing is dropped silently: what :func:`open_ome_zarr` would not give
back from NGFF alone goes to ``attributes["xiso"]`` of the image group,
or the write is refused. The image attrs go there as JSON, converting
only what has an exact JSON form (numpy numbers, booleans and strings and
arrays of them become numbers, booleans, strings and lists; tuples
become lists); anything else raises rather than being dropped or turned
into text that reads back as another type. Coordinates of axes other
than space (channel wavelengths, datetime64 or irregular times) are
recorded with values and dtype when the NGFF transforms or omero labels
do not give them back exactly; coordinate attrs, scalar coordinates and
coordinates along those axes always; space axes come from the NGFF
transforms (see :mod:`xiso.io.ngff` and docs/ome-zarr.md).

NGFF scales are positive, so a descending spatial coordinate (a NIfTI
``L``, ``P`` or ``I`` axis) is written reversed, each sample keeping its
coordinate, before any pyramid level is made (the same from Python and
``xiso convert``); ``attrs["orientation"]`` and ``attrs["affine"]`` are
derived again from what is written.

The multiscale ``type`` is ``method`` for a DataArray; for a DataTree it
is the type recorded when its levels were read, else left out.
``metadata`` holds the factors of each level over the previous one and
the xiso version. An unnamed image is named ``"image"``.

The image (with its label images) is written to a hidden temporary
location and swapped in at the end; a failure leaves the target as it
was. What is atomic on which storage is described in
:mod:`xiso.io.targets` and docs/scale.md.

Examples
--------
Write a tiny image's pyramid to a temporary folder, and read it back:

>>> import tempfile
>>> import numpy as np, xarray as xr
>>> import xiso
>>> da = xr.DataArray(np.arange(64, dtype="uint8").reshape(4, 4, 4),
...                   dims=("z", "y", "x"), name="img",
...                   coords={"z": np.arange(4) * 2.0, "y": np.arange(4.0),
...                           "x": np.arange(4.0)})
>>> tree = da.iso.pyramid(min_size=2)
>>> with tempfile.TemporaryDirectory() as tmp:
...     tree.iso.to_ome_zarr(f"{tmp}/img.zarr")
...     back = xiso.open_ome_zarr_pyramid(f"{tmp}/img.zarr").load()
>>> [dict(back[level]["img"].sizes) for level in back.children]
[{'z': 4, 'y': 4, 'x': 4}, {'z': 4, 'y': 2, 'x': 2}, {'z': 2, 'y': 2, 'x': 2}]
>>> back["1"]["img"].equals(tree["1"]["img"])
True
""",
    "IsoDataTreeAccessor.plan": """\
What :meth:`DataTree.iso.to_ome_zarr` would write for this pyramid.

Its levels are planned as they are (nothing is reduced), with the
layout of level 0; nothing is computed.

``obj.iso.plan(...)`` is ``xiso.plan(obj, ...)``.

Parameters
----------
version, chunks, shards
    As in :func:`xiso.to_ome_zarr`.

Returns
-------
Plan
    ``plan.levels``: one :class:`LevelPlan` per level; ``plan.nbytes``
    and ``plan.files``: the totals; ``print(plan)``: a table.

Examples
--------
A lazy 4 TiB acquisition, planned without computing anything:

>>> import dask.array as dsa, numpy as np, xarray as xr, xiso
>>> big = xr.DataArray(dsa.zeros((8192, 16384, 16384), dtype="uint16", chunks=512),
...                    dims=("z", "y", "x"), name="acquisition",
...                    coords={d: (d, np.arange(n) * s, {"units": "micrometer"}) for d, n, s
...                            in [("z", 8192, 0.25), ("y", 16384, 1.0), ("x", 16384, 1.0)]})
>>> p = big.iso.plan()
>>> len(p.levels), p.layout
(12, Layout(chunks=(128, 128, 128), shards=(256, 256, 512)))
>>> p.levels[0].files, str(p.levels[2].spacing["z"]), p.levels[2].method
(65536, '1 µm', 'mean')
>>> print(xiso.plan(big[:128, :256, :256], min_size=64))
OME-Zarr 0.5 plan for 'acquisition': uint16, dims (z, y, x), 4 levels, unsharded
level  shape            spacing                chunks           shards       size  files  method
-----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
0      128 x 256 x 256  0.25 µm x 1 µm x 1 µm  128 x 128 x 128  -        16.0 MiB      4  -
1      64 x 256 x 256   0.5 µm x 1 µm x 1 µm   64 x 128 x 128   -         8.0 MiB      4  mean
2      64 x 128 x 128   0.5 µm x 2 µm x 2 µm   64 x 128 x 128   -         2.0 MiB      1  mean
3      64 x 64 x 64     0.5 µm x 4 µm x 4 µm   64 x 64 x 64     -       512.0 KiB      1  mean
-----  ---------------  ---------------------  ---------------  ------  ---------  -----  ------
total                                                                    26.5 MiB     10
""",
}
