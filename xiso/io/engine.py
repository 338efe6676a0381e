"""Which engine decodes and encodes the chunks of xiso's own zarr arrays.

zarr-python reads and writes chunks through a *codec pipeline*, chosen by its
config key ``codec_pipeline.path`` when an array is opened or created (the
array keeps it for every later read and write). xiso always opens and creates
its arrays with zarr-python (so the metadata is zarr-python's), and moves the
chunks of the arrays it reads and writes with one of three engines:

``"zarr"``
    zarr-python's own ``BatchedCodecPipeline`` (numcodecs);
``"zarrs"``
    the Rust pipeline of the `zarrs <https://github.com/zarrs/zarrs-python>`_
    package, still behind zarr-python's array layer (its event loop, indexing
    and buffers), which decodes and encodes the chunks of one call in parallel;
``"zarrista"``
    `zarrista <https://developmentseed.org/zarrista>`_, a synchronous zarr
    implementation on the same Rust crate (what ngff-zarr writes with): the
    regions of a zarr v3 array on a local folder are read and written through
    it directly, without zarr-python's array layer. It writes the same chunks
    (same keys, same decoded values) and zarr-python writes the metadata;
    on the 1 GiB conversion of docs/performance.md it took about 15 % less
    time than zarrs behind zarr-python.

Both are dependencies of xiso where they have wheels (Linux x86_64 and aarch64,
macOS, Windows x64); elsewhere xiso's ``fast`` extra builds them (``pip install
".[fast]"`` in a clone of xiso), and without them ``auto`` is zarr-python's
pipeline. The engine is taken from the
environment variable ``XISO_ZARR_ENGINE`` (``auto``, ``zarrista``, ``zarrs``
or ``zarr``; default ``auto``). ``auto`` takes, for each array, the first that
applies: zarrista (installed, a zarr v3 array of fixed-size numbers on a local
folder), then zarrs (installed, a local folder), then zarr-python; and it
takes neither accelerated engine when the process's zarr config names a codec
pipeline other than zarr's default (a pipeline the user chose is left alone).
``zarrista`` and ``zarrs`` ask for that engine (an error if it is not
installed); an array zarrista cannot serve (zarr v2, remote stores) then goes
through zarr-python as with ``auto``. ``zarr`` uses neither.

:func:`scoped` sets zarrs' pipeline only while xiso opens or creates an array,
under a lock, and puts the previous value back on the way out, errors
included: the user's zarr config is never changed for their own arrays.
(zarr's config is one per process: another thread that opens an array in that
same instant gets the same pipeline, which writes the same bytes.)
:func:`regions` gives the object xiso's dask graphs read from and store into:
the zarr array itself, or a :class:`ZarristaRegions` of it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..errors import OmeZarrError, OptionError

__all__ = ["ENGINES", "ENV", "ZarristaRegions", "engine", "pipeline_for", "regions", "scoped"]

ENV = "XISO_ZARR_ENGINE"
ENGINES = ("auto", "zarrista", "zarrs", "zarr")
ZARRS_PIPELINE = "zarrs.ZarrsCodecPipeline"
_DEFAULT_PIPELINE = "zarr.core.codec_pipeline.BatchedCodecPipeline"
_LOCK = threading.RLock()


def engine() -> str:
    """The engine asked for by ``XISO_ZARR_ENGINE`` (``"auto"`` when unset)."""
    value = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if value not in ENGINES:
        raise OptionError(
            f"{ENV}={value!r} is not one of {ENGINES!r}; unset it (auto: zarrista or "
            "zarrs where installed) or set it to 'zarr' for zarr-python's own codec pipeline"
        )
    return value


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _zarrs_installed() -> bool:
    return _installed("zarrs")


def _require(name: str) -> None:
    if not _installed(name):
        from ..errors import install_hint

        raise OptionError(
            f"{ENV}={name} but the {name} package is not installed; "
            f"{install_hint('fast', name)}; or unset the variable"
        )


def _users_pipeline() -> bool:
    """Whether the process's zarr config names a pipeline other than zarr's default."""
    import zarr

    with _LOCK:  # not the value scoped() sets for a moment in another thread
        return zarr.config.get("codec_pipeline.path") != _DEFAULT_PIPELINE


def pipeline_for(store: Any) -> str | None:
    """The ``codec_pipeline.path`` to open or create arrays of ``store`` with,
    or None to leave zarr's config as it is."""

    wanted = engine()
    if wanted == "zarr":
        return None
    if wanted == "zarrs":
        _require("zarrs")
        return ZARRS_PIPELINE
    if wanted == "zarrista":
        _require("zarrista")
    # auto (and zarrista's fallback): only where it was measured and tested,
    # and never over a user's choice
    if _users_pipeline() or not _rust_may_serve(store) or not _zarrs_installed():
        return None
    return ZARRS_PIPELINE


def _rust_may_serve(store: Any) -> bool:
    """Whether zarrs (alone or under zarrista) may move the chunks of ``store``:
    a local folder, and zarr not asked to write chunks equal to the fill value
    (zarrs drops them all the same)."""
    import zarr

    return isinstance(store, zarr.storage.LocalStore) and not zarr.config.get(
        "array.write_empty_chunks", False
    )


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


_FIXED_KINDS = "biuf"  # bool, integers, floats: what zarrista hands back as plain arrays


def _zarrista_applies(array: Any) -> bool:
    wanted = engine()
    if wanted in ("zarr", "zarrs"):
        return False
    if wanted == "zarrista":
        _require("zarrista")
    elif _users_pipeline() or not _installed("zarrista"):
        return False
    # the array's own write_empty_chunks, as well as the config's (_rust_may_serve)
    write_empty = getattr(getattr(array, "config", None), "write_empty_chunks", False)
    return (
        _rust_may_serve(array.store)
        and not write_empty
        and array.metadata.zarr_format == 3
        and np.dtype(array.dtype).kind in _FIXED_KINDS
    )


def regions(array: Any) -> Any:
    """What xiso reads regions of ``array`` from and stores regions into:
    a :class:`ZarristaRegions` where the engine is zarrista, else ``array``.

    zarrista opens the array here: one it cannot serve (a codec it does not
    know, e.g. numcodecs' lz4 or delta) goes through zarr-python under
    ``auto``, and raises OptionError under ``XISO_ZARR_ENGINE=zarrista``.
    """
    if not _zarrista_applies(array):
        return array
    view = ZarristaRegions(array)
    try:
        view._zarrista()
    except Exception as err:
        if engine() == "zarrista":
            raise OptionError(
                f"{ENV}=zarrista, but zarrista cannot read or write the array "
                f"{array.path!r} of {str(array.store.root)!r}: {err}; unset the variable "
                "(auto then uses zarr-python for it) or set it to 'zarrs'"
            ) from err
        return array
    return view


class ZarristaRegions:
    """Reads and writes regions (tuples of slices) of the zarr v3 ``array`` (on
    a local folder) through zarrista.

    It pickles as the zarr array: a dask worker opens zarrista's view of it
    itself, once. Selections other than unit-step slices (integers, steps,
    arrays) go through the zarr array.
    """

    def __init__(self, array: Any) -> None:
        self.array = array
        self.shape, self.dtype, self.ndim = array.shape, np.dtype(array.dtype), array.ndim
        self._lock = threading.Lock()
        self._view: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"array": self.array}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["array"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"ZarristaRegions({self.array!r})"

    def _zarrista(self) -> Any:
        with self._lock:
            if self._view is None:
                import zarrista

                store = zarrista.store.FilesystemStore(str(self.array.store.root))
                view = zarrista.Array.open(store, "/" + self.array.path)
                if tuple(view.shape) != tuple(self.shape):
                    raise OmeZarrError(self._changed(f"shape {tuple(view.shape)}"))
                self._view = view
            return self._view

    def _changed(self, now: str) -> str:
        return (
            f"the array {self.array.path!r} of {str(self.array.store.root)!r} changed since "
            f"it was opened (now {now}, was shape {self.shape} and {self.dtype}); open it again"
        )

    def _plain(self, key: Any) -> tuple[slice, ...] | None:
        """``key`` as one non-empty unit-step slice per axis, or None."""
        key = key if isinstance(key, tuple) else (key,)
        if len(key) != self.ndim:
            return None
        out = []
        for k, n in zip(key, self.shape):
            if not isinstance(k, slice) or k.step not in (None, 1):
                return None
            start, stop, _ = k.indices(n)
            if stop <= start:
                return None
            out.append(slice(start, stop))
        return tuple(out)

    def __getitem__(self, key: Any) -> np.ndarray:
        plain = self._plain(key)
        if plain is None:
            return np.asarray(self.array[key])
        out = np.asarray(self._zarrista()[plain].to_numpy())
        if out.dtype != self.dtype:
            raise OmeZarrError(self._changed(str(out.dtype)))
        return out

    def __setitem__(self, key: Any, value: Any) -> None:
        plain = self._plain(key)
        if plain is None:
            self.array[key] = value
            return
        self._zarrista()[plain] = _canonical(value, self.dtype)


def _canonical(value: Any, dtype: np.dtype) -> np.ndarray:
    """``value`` as zarrista takes it: native byte order and C order with the
    strides of C order on every axis (numpy calls an array C-contiguous
    whatever the strides of its length-1 axes, which zarrista checks too)."""
    value = np.ascontiguousarray(np.asarray(value, dtype=dtype.newbyteorder("=")))
    strides, step = [], value.itemsize
    for n in reversed(value.shape):
        strides.append(step)
        step *= n
    if value.strides != tuple(reversed(strides)):
        value = value.copy()
    return value
