"""Fixtures and settings shared by the tests; helpers live in ``helpers.py``,
independent references in ``reference.py``, hypothesis strategies in ``strategies.py``."""

import logging
import uuid

import dask
import pytest
from helpers import RaiseOnCompute, make_volume
from hypothesis import HealthCheck, settings

# the one hypothesis profile: no per-example deadline (dask and the first numba
# call are slow on a shared machine), and no health check on slow or large draws;
# tests set only how many examples they draw
settings.register_profile(
    "xiso",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("xiso")


@pytest.fixture
def raise_if_dask_computes():
    with dask.config.set(scheduler=RaiseOnCompute()):
        yield


@pytest.fixture
def volume():
    return make_volume()


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
