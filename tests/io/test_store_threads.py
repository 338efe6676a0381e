"""How many threads xiso's OME-Zarr writes compute on (``write._store_options``).

The threads are observed, not the options: every chunk of the source sleeps a
little, so that all threads the scheduler has are busy at once, and the names
of the threads that ran the chunks are counted.
"""

from __future__ import annotations

import threading
import time

import dask
import dask.array as dsa
import numpy as np
import pytest
import xarray as xr
from dask.system import CPU_COUNT

import xiso

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _image(n_chunks: int, seen: set[str]) -> xr.DataArray:
    def slow(block: np.ndarray) -> np.ndarray:
        seen.add(threading.current_thread().name)
        time.sleep(0.05)
        return block

    data = dsa.ones((n_chunks * 4, 8, 8), chunks=(4, 8, 8), dtype="uint16").map_blocks(
        slow, meta=np.empty((0, 0, 0), dtype="uint16")
    )
    coords = {d: np.arange(n, dtype=float) for d, n in zip("zyx", data.shape)}
    return xr.DataArray(data, dims=("z", "y", "x"), coords=coords, name="image")


def _threads_used(tmp_path, **config) -> tuple[set[str], np.ndarray]:
    seen: set[str] = set()
    image = _image(3 * (CPU_COUNT + 1), seen)
    with dask.config.set(**config):
        xiso.to_ome_zarr(image, tmp_path / "out.ome.zarr", pyramid=False, chunks=(4, 8, 8))
    return seen, xiso.open_ome_zarr(tmp_path / "out.ome.zarr").values


def test_default_threaded_scheduler_gets_one_thread_more_than_cores(tmp_path):
    seen, values = _threads_used(tmp_path)
    assert len(seen) == CPU_COUNT + 1
    assert (values == 1).all()


@pytest.mark.parametrize(
    ("config", "expected"),
    [({"num_workers": 1}, 1), ({"num_workers": 2}, 2), ({"scheduler": "sync"}, 1)],
)
def test_a_users_choice_of_workers_or_scheduler_is_kept(tmp_path, config, expected):
    seen, values = _threads_used(tmp_path, **config)
    assert len(seen) == expected
    assert (values == 1).all()


def test_a_users_pool_is_kept(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="users-pool") as pool:
        seen, values = _threads_used(tmp_path, pool=pool)
    assert all(name.startswith("users-pool") for name in seen)
    assert len(seen) == 1
    assert (values == 1).all()


@pytest.mark.parametrize("fit", [1, 2])
def test_threads_are_capped_where_their_units_would_not_fit_in_memory(tmp_path, monkeypatch, fit):
    """On a machine whose memory holds the units (``UNIT_COPIES`` each) of only
    ``fit`` threads in its half, the write runs on that many, however many
    cores; the values are written whole."""
    from xiso.io import write

    if CPU_COUNT + 1 <= fit:
        pytest.skip("the cap would not show on so few cores")
    unit_bytes = 4 * 8 * 8 * 2  # one chunk (4, 8, 8) of uint16
    memory = 2 * fit * write.UNIT_COPIES * unit_bytes
    monkeypatch.setattr(write, "_physical_memory", lambda: memory)
    seen, values = _threads_used(tmp_path)
    assert len(seen) == fit
    assert (values == 1).all()


def test_threads_are_not_capped_where_the_memory_is_unknown(tmp_path, monkeypatch):
    from xiso.io import write

    monkeypatch.setattr(write, "_physical_memory", lambda: None)
    seen, _ = _threads_used(tmp_path)
    assert len(seen) == CPU_COUNT + 1
