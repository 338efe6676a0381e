"""Progress of dask computations: one bar for the Python API, notebooks and the CLI.

:func:`progress_bar` is the single implementation: ``to_ome_zarr(progress=True)``
and the ``xiso`` command use it, and so can any ``.compute()``::

    with xiso.progress_bar():
        iso.compute()

It is a :class:`tqdm.dask.TqdmCallback` on :mod:`tqdm.auto`'s choice of bar: a
widget in Jupyter when ipywidgets is installed; otherwise a text bar, on stderr
in a terminal and on stdout in a Jupyter kernel (where stderr is drawn as an
error), without the ``TqdmWarning: IProgress not found`` that ``tqdm.auto``
shows in a kernel without ipywidgets.

A dask.distributed ``Client`` runs tasks on its workers, where local dask
callbacks never fire; then :func:`progress_bar` prints one line saying so
(with the dashboard address, which shows the progress of every computation)
and shows no bar. Following futures with ``distributed.progress`` instead
would need every computing call to go through ``client.compute``, which a
context manager around ``.compute()`` cannot do.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any, TextIO

__all__ = ["progress_bar", "work"]

# a bar is already shown: nested progress_bar() calls (to_ome_zarr(progress=True)
# inside `with progress_bar():`) add no second bar
_ACTIVE: ContextVar[bool] = ContextVar("xiso_progress_active", default=False)


class _Work:
    """One job of several computations, shown as one bar counted in its units
    of work (see :func:`work`)."""

    def __init__(self, total: int, done: int, unit: str) -> None:
        self.total, self.unit = int(total), unit
        self.done = float(done)  # units done, the computation running included
        self.end = float(done)  # where the computation running now ends
        self.per_task = 0.0  # units per task of the computation running now
        self.pbar: Any = None

    def start(self, make_bar: Any, tasks: int) -> Any:
        """The bar (made once, for the first computation), for a computation of
        ``tasks`` tasks that does the units of the current :meth:`step`."""
        if self.pbar is None:
            self.pbar = make_bar(total=self.total, initial=round(self.done), unit=self.unit)
        self.per_task = (self.end - self.done) / tasks if tasks else 0.0
        return self.pbar

    def advance(self, units: float) -> None:
        self.done = min(self.done + units, self.end)
        self._show()

    def _show(self) -> None:
        if self.pbar is not None and round(self.done) > self.pbar.n:
            self.pbar.update(round(self.done) - self.pbar.n)

    @contextlib.contextmanager
    def step(self, units: int) -> Iterator[None]:
        """The computation run inside the block does ``units`` units of the job."""
        self.end = self.done + units
        try:
            yield
        finally:
            self.per_task = 0.0
        self.done = self.end  # all of them, whatever the rounding per task
        self._show()


# the job whose computations share one bar (see work())
_WORK: ContextVar[_Work | None] = ContextVar("xiso_progress_work", default=None)


@contextlib.contextmanager
def work(total: int, done: int = 0, unit: str = "unit") -> Iterator[_Work]:
    """Inside the block, the computations of one job share one bar.

    The bar counts the job's ``total`` units of work (say the chunks or shards
    a write stores), of which ``done`` were done before (the part of a resumed
    write that the killed write had done, shown as done); each computation is
    run inside ``with job.step(n):``, the ``n`` units it does, and moves the
    bar on evenly over its tasks. Without a bar (no :func:`progress_bar`, or a
    dask.distributed client) it shows nothing. The bar closes with the block.

    Examples
    --------
    >>> import io, xiso
    >>> from xiso.progress import progress_bar, work
    >>> da = xiso.data.lightsheet(shape=(16, 32, 32), chunks=8)
    >>> out = io.StringIO()
    >>> with progress_bar(file=out), work(total=3, unit="pass") as job:
    ...     for _ in range(3):
    ...         with job.step(1):
    ...             total = da.sum().compute()
    >>> out.getvalue().count("100%"), "3/3" in out.getvalue()
    (1, True)
    """
    job = _Work(total, done, unit)
    token = _WORK.set(job)
    try:
        yield job
    finally:
        _WORK.reset(token)
        if job.pbar is not None:
            job.pbar.close()


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


@functools.cache
def _callback_class() -> Any:
    """:class:`tqdm.dask.TqdmCallback` made safe for a computation that ends
    before its bar exists.

    dask calls a callback's ``_finish`` in a ``finally``, also when the graph's
    ordering (before ``_start_state`` makes the bar) is interrupted by Ctrl-C
    or fails; tqdm's own ``_finish`` then raises ``AttributeError: 'TqdmCallback'
    object has no attribute 'pbar'``, which hides the ``KeyboardInterrupt``.
    """
    from tqdm.dask import TqdmCallback
    from tqdm.std import tqdm as text_bar

    class Callback(TqdmCallback):
        pbar: Any = None  # no bar before the first _start_state, none after _finish
        job: _Work | None = None  # the job whose bar this computation moves on

        def _start_state(self, *args: Any, **kwargs: Any) -> None:
            # an interrupt while tqdm draws the new bar leaves it unassigned and
            # half made (its close() then ends no line): end its line, so that
            # what follows ("xiso: interrupted") starts on a line of its own
            before = set(text_bar._instances)
            try:
                state = args[1] if len(args) > 1 else kwargs["state"]
                keys = ("ready", "waiting", "running", "finished")
                tasks = sum(len(state[k]) for k in keys)
                self.job = _WORK.get()
                if self.job is not None:  # one bar for the job, in its units
                    self.pbar = self.job.start(self.tqdm_class, tasks)
                else:
                    self.pbar = self.tqdm_class(total=tasks)
            except BaseException:
                for bar in set(text_bar._instances) - before:
                    drawn = hasattr(bar, "sp") and not hasattr(bar, "last_print_t")
                    with contextlib.suppress(Exception):
                        bar.close()
                        if drawn and not _is_widget(type(bar)):
                            bar.fp.write("\n")
                raise

        def _posttask(self, *args: Any, **kwargs: Any) -> None:
            if self.job is not None:
                self.job.advance(self.job.per_task)
            elif self.pbar is not None:
                self.pbar.update()

        def _finish(self, *args: Any, **kwargs: Any) -> None:
            pbar, self.pbar = self.pbar, None
            if self.job is not None:  # the job's bar closes with the job
                self.job = None
            elif pbar is not None:
                pbar.close()

    return Callback


def _bar_class() -> Any:
    """:mod:`tqdm.auto`'s bar, without the ``TqdmWarning`` it shows in a Jupyter
    kernel that lacks ipywidgets (it then falls back to the text bar, which is
    what xiso shows there, quietly)."""
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


def _is_widget(bar: type) -> bool:
    """Whether a tqdm class is tqdm.notebook's widget (tqdm.auto subclasses it)."""
    return any(cls.__module__ == "tqdm.notebook" for cls in bar.__mro__)


def _text_in_kernel(bar: Any) -> bool:
    """A text bar in a Jupyter kernel (tqdm.auto's test), which draws stderr as
    an error: such a bar goes to stdout."""
    return not _is_widget(bar) and "ipykernel.zmqshell" in sys.modules


@contextlib.contextmanager
def progress_bar(*, file: TextIO | None = None, **tqdm_options: Any) -> Iterator[None]:
    """Show a progress bar for every dask computation run inside the block.

    Parameters
    ----------
    file : file-like, optional
        Where a text bar is written (default: ``sys.stderr``, or ``sys.stdout``
        in a Jupyter kernel without ipywidgets). A notebook widget ignores it.
    **tqdm_options
        Passed to :class:`tqdm.auto.tqdm`, e.g. ``desc="writing"`` or
        ``mininterval=1``.

    Notes
    -----
    One bar per computation (``.compute()``, ``dask.array.store``, ...), in
    tasks, or one per job of several computations run inside :func:`work`, in
    the job's units (``to_ome_zarr`` counts the chunks or shards it stores,
    in one bar however many computations it takes); nothing is computed by
    entering the block. Inside another
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
        bar = _bar_class()
        if file is None and _text_in_kernel(bar):
            file = sys.stdout
        if file is not None:
            tqdm_options["file"] = file
        with _callback_class()(tqdm_class=bar, **tqdm_options):
            yield
    finally:
        _ACTIVE.reset(token)
