"""Progress of dask computations: one bar for the Python API, notebooks and the CLI.

:func:`progress_bar` is the single implementation: ``to_ome_zarr(progress=True)``
and the ``xiso`` command use it, and so can any ``.compute()``::

    with xiso.progress_bar():
        iso.compute()

It is a :class:`tqdm.dask.TqdmCallback` on :mod:`tqdm.auto`: a widget in
Jupyter when ipywidgets is installed, text on stderr otherwise.

A dask.distributed ``Client`` runs tasks on its workers, where local dask
callbacks never fire; then :func:`progress_bar` prints one line saying so
(with the dashboard address, which shows the progress of every computation)
and shows no bar. Following futures with ``distributed.progress`` instead
would need every computing call to go through ``client.compute``, which a
context manager around ``.compute()`` cannot do.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO

__all__ = ["progress_bar"]

# a bar is already shown: nested progress_bar() calls (to_ome_zarr(progress=True)
# inside `with progress_bar():`) add no second bar
_ACTIVE: ContextVar[bool] = ContextVar("xiso_progress_active", default=False)


def _distributed_client() -> Any:
    """The dask.distributed Client that dask uses by default, or None."""
    if "distributed" not in sys.modules:  # never imported: no client can exist
        return None
    from dask.base import get_scheduler
    from distributed import Client

    client = getattr(get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


def _dashboard(client: Any) -> str | None:
    try:
        if "dashboard" not in client.scheduler_info().get("services", {}):
            return None
        return str(client.dashboard_link)
    except Exception:  # a closed or unreachable client: say nothing about the dashboard
        return None


@contextlib.contextmanager
def progress_bar(*, file: TextIO | None = None, **tqdm_options: Any) -> Iterator[None]:
    """Show a progress bar for every dask computation run inside the block.

    Parameters
    ----------
    file : file-like, optional
        Where a text bar is written (default: ``sys.stderr`` at the time the
        bar starts). A notebook widget ignores it.
    **tqdm_options
        Passed to :class:`tqdm.auto.tqdm`, e.g. ``desc="writing"`` or
        ``mininterval=1``.

    Notes
    -----
    One bar per computation (``.compute()``, ``dask.array.store``, ...), in
    tasks; nothing is computed by entering the block. Inside another
    ``progress_bar`` block it adds nothing. With a dask.distributed
    ``Client`` as the default scheduler it prints one line pointing at the
    client's dashboard instead of a bar (local callbacks do not see the
    workers' tasks).

    Examples
    --------
    >>> import io, xiso
    >>> from xiso.progress import progress_bar
    >>> da = xiso.data.lightsheet(shape=(16, 32, 32), chunks=8)
    >>> out = io.StringIO()
    >>> with progress_bar(file=out):
    ...     iso = da.iso.near_isotropic().compute()
    >>> "100%" in out.getvalue()
    True
    """
    if _ACTIVE.get():
        yield
        return
    token = _ACTIVE.set(True)
    try:
        client = _distributed_client()
        if client is not None:
            dashboard = _dashboard(client)
            where = f" at {dashboard}" if dashboard else ""
            print(
                "xiso: no progress bar: a dask.distributed Client runs the tasks; "
                f"its dashboard{where} shows their progress",
                file=file if file is not None else sys.stderr,
            )
            yield
            return
        from tqdm.auto import tqdm
        from tqdm.dask import TqdmCallback

        if file is not None:
            tqdm_options["file"] = file
        with TqdmCallback(tqdm_class=tqdm, **tqdm_options):
            yield
    finally:
        _ACTIVE.reset(token)
