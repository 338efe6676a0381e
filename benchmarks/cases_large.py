"""Group ``large`` (opt-in: ``run.py --large``): the OME-Zarr job of case 3 on
4x the input, out of core (case 6), against its own I/O and codec floors.
"""

from __future__ import annotations

from collections.abc import Callable

from cases_base import Case, Ctx, describe_store
from cases_zarr import (
    describe_xiso_zarr,
    run_codec_floor,
    run_xiso_zarr,
    run_zarr_floor,
    setup_codec_floor,
    setup_xiso_zarr,
    setup_zarr_floor,
)


def _large(fn: Callable[..., dict]) -> Callable[[Ctx], dict]:
    return lambda ctx: fn(ctx, large=True)


CASES: list[Case] = [
    # out of core, 4x the input, reference: its own I/O floor
    Case(
        "zarr-io-floor-large",
        "large",
        "plain zarr I/O floor, 4x input",
        _large(setup_zarr_floor),
        run_zarr_floor,
        describe_store,
        inputs=("large",),
        large=True,
    ),
    Case(
        "codec-floor-large",
        "large",
        "codec floor (raw chunk files + zstd), 4x input",
        _large(setup_codec_floor),
        run_codec_floor,
        describe_store,
        inputs=("large",),
        large=True,
    ),
    Case(
        "xiso-zarr-large",
        "large",
        "xiso OME-Zarr -> near-isotropic OME-Zarr, 4x input",
        _large(setup_xiso_zarr),
        run_xiso_zarr,
        describe_xiso_zarr,
        number="6",
        inputs=("large",),
        large=True,
    ),
]
