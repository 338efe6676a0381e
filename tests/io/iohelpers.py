"""Helpers of the storage tests: small images (also imported by the processes the
tests start), a script runner, and a reader that polls a target during overwrites."""

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import xarray as xr

import xiso


def image(scale: int = 1, nz: int = 16, n: int = 8) -> xr.DataArray:
    data = (np.arange(nz * n * n, dtype="uint16").reshape(nz, n, n) * scale) % 60000
    return xr.DataArray(
        data,
        dims=("z", "y", "x"),
        coords={"z": np.arange(nz) * 0.25, "y": np.arange(n) * 1.0, "x": np.arange(n) * 1.0},
        name="img",
    )


def run_script(script: str, returncode: int | None = None) -> subprocess.CompletedProcess:
    """Run ``script`` in a new Python process (next to this module), checking its exit code."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent,
    )
    if returncode is not None:
        assert result.returncode == returncode, result.stderr
    return result


def write_id(group_json: bytes | None) -> str | None:
    if group_json is None:
        return None
    return json.loads(group_json)["attributes"]["xiso"]["write_id"]


def poll_during_overwrites(read_meta, open_values, write, images, rounds=6):
    """Overwrite the target ``rounds`` times, alternating ``images``, while a
    thread opens and reads it. Returns (reads that saw no image, consistent
    reads) and checks every consistent read is exactly one of ``images``.

    A read is consistent when the write id in the root metadata is the same
    before and after it (the protocol docs/ome-zarr.md describes)."""
    done = threading.Event()
    outcomes = {"none": 0, "ok": 0, "torn": 0}
    bad: list[str] = []
    expected = [im.values for im in images]

    def poll():
        while not done.is_set():
            before = write_id(read_meta())
            try:
                values = open_values()
            except xiso.OmeZarrError:
                outcomes["none"] += 1
                continue
            after = write_id(read_meta())
            if before is None or before != after:
                outcomes["torn"] += 1
                continue
            outcomes["ok"] += 1
            if not any(np.array_equal(values, e) for e in expected):
                bad.append(before)

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        for i in range(rounds):
            write(images[i % len(images)])
    finally:
        done.set()
        thread.join()
    assert not bad, f"{len(bad)} consistent reads were neither image"
    return outcomes
