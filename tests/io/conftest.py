"""Fixtures of the storage tests: an S3-compatible HTTP server on 127.0.0.1
(moto's threaded server, started here) and small images."""

import logging
import uuid

import pytest


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
