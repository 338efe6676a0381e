"""Small images for the storage tests (imported by them and by the processes they start)."""

import numpy as np
import xarray as xr


def image(scale: int = 1, nz: int = 16, n: int = 8) -> xr.DataArray:
    data = (np.arange(nz * n * n, dtype="uint16").reshape(nz, n, n) * scale) % 60000
    return xr.DataArray(
        data,
        dims=("z", "y", "x"),
        coords={"z": np.arange(nz) * 0.25, "y": np.arange(n) * 1.0, "x": np.arange(n) * 1.0},
        name="img",
    )
