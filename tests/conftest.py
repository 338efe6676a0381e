import logging
import math
import uuid

import dask
import numpy as np
import pytest
import xarray as xr


class RaiseOnCompute:
    """A dask scheduler that fails the test if anything is computed."""

    def __call__(self, dsk, keys, **kwargs):
        raise AssertionError("dask computed something on a path that must stay lazy")


@pytest.fixture
def raise_if_dask_computes():
    with dask.config.set(scheduler=RaiseOnCompute()):
        yield


def make_volume(nz=16, ny=6, nx=5, dz=0.25, dy=1.0, dx=1.0, dtype="uint16", units=None, seed=0):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 1000, size=(nz, ny, nx)).astype(dtype)
    coords = {
        "z": ("z", np.arange(nz) * dz),
        "y": ("y", np.arange(ny) * dy),
        "x": ("x", np.arange(nx) * dx),
    }
    da = xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="vol", attrs={"a": 1})
    if units is not None:
        for d, u in zip(("z", "y", "x"), units):
            if u is not None:
                da[d].attrs["units"] = u
    return da


@pytest.fixture
def volume():
    return make_volume()


def block_values(x: np.ndarray, block, boundary):
    """Independent reference helper: (output shape, [(output index, valid values
    of the block)]) by reshape + mask, for the block reductions under test."""
    x = np.asarray(x)
    nd = x.ndim
    if boundary == "trim":
        x = x[tuple(slice(0, n // b * b) for n, b in zip(x.shape, block))]
    out_shape = tuple(-(-n // b) for n, b in zip(x.shape, block))
    pad = [(0, (-n) % b) for n, b in zip(x.shape, block)]
    xp = np.pad(x, pad) if x.dtype.kind != "U" else np.pad(x, pad, constant_values="")
    valid = np.pad(np.ones(x.shape, dtype=bool), pad, constant_values=False)
    split = []
    for n, b in zip(xp.shape, block):
        split += [n // b, b]
    order = [2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)]
    k = math.prod(block)
    xb = xp.reshape(split).transpose(order).reshape((*out_shape, k))
    vb = valid.reshape(split).transpose(order).reshape((*out_shape, k))
    return out_shape, [(idx, xb[idx][vb[idx]]) for idx in np.ndindex(*out_shape)]


# --------------------------------------------------------------------------
# object storage: an S3-compatible HTTP server on 127.0.0.1 (moto's threaded
# server, started here; tests/io/)
# --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def s3_server():
    """(endpoint URL, storage options) of a moto S3 server on a free loopback port."""
    pytest.importorskip("s3fs")
    server_module = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    options = {"endpoint_url": endpoint, "key": "testing", "secret": "testing"}
    yield endpoint, options
    server.stop()


@pytest.fixture
def s3(s3_server):
    """(bucket URL, storage options, s3fs file system) of a fresh bucket."""
    import s3fs

    _, options = s3_server
    fs = s3fs.S3FileSystem(**options)
    bucket = f"xiso-{uuid.uuid4().hex[:12]}"
    fs.mkdir(bucket)
    yield f"s3://{bucket}", options, fs
    fs.rm(bucket, recursive=True)
