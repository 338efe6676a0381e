"""Which codec pipeline decodes and encodes the chunks of xiso's own zarr arrays.

zarr-python turns chunks into arrays through a *codec pipeline*, chosen by its
config key ``codec_pipeline.path`` when an array is opened or created (the
array keeps it for every later read and write). Two are used here:

``"zarr"``
    zarr-python's own ``BatchedCodecPipeline`` (numcodecs; decodes and encodes
    on about one core);
``"zarrs"``
    the Rust pipeline of the `zarrs <https://github.com/zarrs/zarrs-python>`_
    package (``pip install "xiso[fast]"``), which decodes and encodes the
    chunks of one read or write in parallel. It writes the same chunks (same
    keys, same decoded values) and the same metadata; on a 1 GiB conversion it
    took about 20 % less time (docs/performance.md, "Codec pipelines").

The engine is taken from the environment variable ``XISO_ZARR_ENGINE``
(``auto``, ``zarrs`` or ``zarr``; default ``auto``): ``auto`` uses zarrs when
it is installed, the array is on a local folder and the process's zarr config
still names zarr's default pipeline (a pipeline the user chose is left alone);
``zarrs`` asks for it (an error if it is not installed); ``zarr`` never uses it.

:func:`scoped` sets the key only while xiso opens or creates an array, under a
lock, and puts the previous value back on the way out, errors included: the
user's zarr config is never changed for their own arrays. (zarr's config is
one per process: another thread that opens an array in that same instant gets
the same pipeline, which writes the same bytes.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from typing import Any

from ..errors import OptionError

__all__ = ["ENGINES", "ENV", "engine", "pipeline_for", "scoped"]

ENV = "XISO_ZARR_ENGINE"
ENGINES = ("auto", "zarrs", "zarr")
ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"
_DEFAULT_PIPELINE = "zarr.core.codec_pipeline.BatchedCodecPipeline"
_LOCK = threading.RLock()


def engine() -> str:
    """The engine asked for by ``XISO_ZARR_ENGINE`` (``"auto"`` when unset)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in ENGINES:
        raise OptionError(
            f"{ENV}={value!r} is not one of {ENGINES!r}; unset it (auto: zarrs when "
            "installed) or set it to 'zarr' for zarr-python's own codec pipeline"
        )
    return value


def _zarrs_installed() -> bool:
    return importlib.util.find_spec("zarrs") is not None


def pipeline_for(store: Any) -> str | None:
    """The ``codec_pipeline.path`` to open or create arrays of ``store`` with,
    or None to leave zarr's config as it is."""
    import zarr

    wanted = engine()
    if wanted == "zarr":
        return None
    if wanted == "zarrs":
        if not _zarrs_installed():
            raise OptionError(
                f"{ENV}=zarrs but the zarrs package is not installed; "
                "pip install 'xiso[fast]' (or zarrs), or unset the variable"
            )
        return ZARRS_PIPELINE
    # auto: only where it was measured and tested, and never over a user's choice
    if zarr.config.get("codec_pipeline.path") != _DEFAULT_PIPELINE:
        return None
    if not isinstance(store, zarr.storage.LocalStore) or not _zarrs_installed():
        return None
    return ZARRS_PIPELINE


@contextlib.contextmanager
def scoped(store: Any) -> Iterator[None]:
    """Open or create arrays of ``store`` with xiso's engine inside this block;
    zarr's config is as it was once the block is left (errors included)."""
    path = pipeline_for(store)
    if path is None:
        yield
        return
    import zarr

    with _LOCK, zarr.config.set({"codec_pipeline.path": path}):
        yield
