"""Where an image is written: one interface for local folders, fsspec URLs and
zarr store objects.

A :class:`Target` says what is at a location (:meth:`Target.inspect`), which
hidden temporaries earlier writes left beside it (:meth:`Target.leftovers`),
and replaces it with a freshly written image (:meth:`Target.replace`):

1. temporaries of writers that are known to be dead are removed, and an old
   image that a killed swap left aside is put back in place;
2. what is at the target is checked: without ``overwrite`` it must be absent;
   with it, it must be a zarr hierarchy (zarr v2 or v3 metadata at its root)
   or an empty folder. Anything else raises :class:`StoreExistsError` and is
   not touched;
3. the image is written to a hidden temporary location (the computation,
   where failures happen, never touches the target);
4. the target is checked again and the new image is swapped in.

What the swap guarantees depends on the storage:

local folder
    ``renameat2(RENAME_EXCHANGE)`` (Linux) exchanges the two folders in one
    step: a reader opening the target sees the old image or the new one, never
    neither. Elsewhere two renames are used; a kill between them leaves the
    old image at ``.NAME.xiso-old-*``, and the next write to the target puts it
    back first.
fsspec URL (object stores) and zarr store objects
    There is no rename: keys are copied (server-side on S3). The old image is
    first copied aside, then deleted root metadata first, then the new keys are
    copied in with the root metadata last. Between the first delete and the
    last copy no image is visible at the target (opening it fails); a reader
    never opens a partial or mixed image. If the swap fails, the old image is
    restored from its copy.

Every write records a fresh ``write_id`` in the group attributes (under
``xiso``), so a reader can tell whether the image changed while it read.

When is a writer dead? Hidden temporaries are named after their writer's host,
PID namespace and process id. On the same host and namespace, the process is
asked (it is gone, or it runs). Elsewhere (another machine, container, pod or
CI runner) it cannot be asked, so a writer shows it lives: while it writes and
swaps, it refreshes its temporaries every :data:`HEARTBEAT` seconds (the
modification time of a local folder, an empty ``.xiso-alive`` key in an object
store). A temporary of another host that has shown no sign of life for
:func:`stale_after` seconds (``XISO_STALE_AFTER``, default 900) counts as
left by a dead writer, and the next write cleans it up or puts the image it
holds back.

Errors of the storage itself (an object store that cannot be reached, refuses
the credentials or has no such bucket; a full disk) are raised as
:class:`~xiso.StorageError`, one line naming the place and what to check
(:func:`storage_errors`).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import json
import os
import re
import shutil
import socket
import sys
import threading
import time
import uuid
import warnings
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import (
    OmeZarrError,
    OptionError,
    ResumeError,
    StorageError,
    StoreExistsError,
    XisoError,
)

__all__ = [
    "HEARTBEAT",
    "is_remote",
    "STALE_ENV",
    "Found",
    "Leftover",
    "Location",
    "Target",
    "resolve",
    "stale_after",
    "storage_errors",
    "storage_problem",
]

# the metadata keys at the root of a zarr hierarchy (v3, then v2)
ROOT_METADATA = ("zarr.json", ".zgroup", ".zarray", ".zattrs", ".zmetadata")
# written last and removed first: the keys a reader needs to see an image
_VISIBLE = ("zarr.json", ".zattrs")
# the marker of a backup of a target that held nothing
_ABSENT = ".xiso-absent"
# the key a writer rewrites in its temporaries of an object store while it runs
_ALIVE = ".xiso-alive"
# what a write records in its temporary so that a killed write can resume
# (xiso.io.resume): the job, and one key per unit written whole
JOB_KEY = ".xiso-job.json"
PROGRESS = ".xiso-progress"
# the hidden markers inside a temporary (never part of an image)
_MARKERS = (_ABSENT, _ALIVE, JOB_KEY)
# seconds between two signs of life of a writer (see the module docstring)
HEARTBEAT = 60.0
STALE_ENV = "XISO_STALE_AFTER"
_STALE_DEFAULT = 900.0
# where fsspec file systems give a key's modification time
_TIME_KEYS = ("LastModified", "mtime", "modified", "updated", "last_modified", "created")
# characters fsspec reads as glob patterns when it deletes or lists paths
_GLOB = set("*?[]")
# object stores whose first path element is a bucket (no image at a bucket's root)
_BUCKETS = {"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "adl", "oss", "r2"}


def _machine() -> str:
    """This host and PID namespace: processes elsewhere cannot be checked for life."""
    host = re.sub(r"[^A-Za-z0-9]", "_", socket.gethostname()) or "host"
    try:
        return f"{host}_{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return host


_HOST = _machine()
_HIDDEN = re.compile(r"xiso-(?P<kind>tmp|old)-(?P<host>[A-Za-z0-9_]+)-(?P<pid>\d+)-[0-9a-f]{8}")
# the temporaries this process is writing or swapping right now
_ACTIVE: set[str] = set()


@dataclass(frozen=True)
class Location:
    """What zarr opens to write or read: a store (path, URL or store object), a
    path inside it, and fsspec storage options."""

    store: Any
    path: str = ""
    storage_options: dict[str, Any] | None = None
    resumed: bool = False  # a killed write's temporary, picked up again


@dataclass(frozen=True)
class Found:
    """What is at a target: ``kind`` is ``"absent"``, ``"empty"`` (an empty
    folder), ``"zarr"`` (a zarr hierarchy) or ``"other"``; ``detail`` says it
    in words."""

    kind: str
    detail: str


@dataclass(frozen=True)
class Leftover:
    """A hidden temporary beside (or inside) a target, left by a write."""

    where: str
    kind: str  # "tmp" (a write in progress or killed) or "old" (an image set aside)
    dead: bool  # its writer is gone (see the module docstring: When is a writer dead?)
    nbytes: int
    handle: Any = None  # the path or key prefix, for the target itself
    host: str = ""  # the writer's host and PID namespace, as in the name
    pid: int = 0
    age: float | None = None  # seconds since its writer's last sign of life, if known
    restores: bool = False  # an image set aside where the target shows none: put back

    @property
    def foreign(self) -> bool:
        """Whether its writer ran on another host or PID namespace (cannot be asked)."""
        return self.host != _HOST or os.name == "nt"

    @property
    def next_write(self) -> str:
        """What the next write to the target does with it, in words."""
        action = "puts it back" if self.restores else "removes it"
        if self.dead:
            return f"the next write to this path {action}"
        if not self.foreign:
            return f"its writer (process {self.pid} on this host) still runs; it is left alone"
        seen = "at an unknown time" if self.age is None else f"{self.age:.0f} s ago"
        return (
            f"its writer ran on another host or container ({self.host!r}, process "
            f"{self.pid}) and was last seen {seen}; once it has been silent for "
            f"{stale_after():.0f} s ({STALE_ENV}) it counts as dead and the next write "
            f"{action}"
        )


def stale_after() -> float:
    """Seconds without a sign of life after which a writer on another host or
    PID namespace counts as dead (environment variable ``XISO_STALE_AFTER``,
    default 900; 0 takes over at once, for when you know the writer is gone)."""
    text = os.environ.get(STALE_ENV, "").strip()
    if not text:
        return _STALE_DEFAULT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise OptionError(
            f"{STALE_ENV}={text!r} is not a number of seconds >= 0; unset it (default "
            f"{_STALE_DEFAULT:.0f}) or set it to e.g. 3600"
        )
    return value


def _writer_dead(match: re.Match[str], age: float | None) -> bool:
    """Whether the writer of a hidden temporary is gone; ``age``: the seconds
    since its last sign of life (None when unknown)."""
    host, pid = match["host"], int(match["pid"])
    if match.group(0) in _ACTIVE:
        return False  # this process writes (or resumes) it right now
    if host != _HOST or os.name == "nt":
        # another machine or PID namespace: its pid means nothing here
        return age is not None and age >= stale_after()
    if pid == os.getpid():
        return match.group(0) not in _ACTIVE  # ours, from a write that has ended
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _leftover(
    where: str,
    match: re.Match[str],
    nbytes: int,
    handle: Any,
    age: float | None,
    image_missing: Callable[[], bool],
) -> Leftover:
    return Leftover(
        where,
        match["kind"],
        _writer_dead(match, age),
        nbytes,
        handle,
        match["host"],
        int(match["pid"]),
        age,
        match["kind"] == "old" and image_missing(),
    )


# --------------------------------------------------------------------------
# errors of the storage itself
# --------------------------------------------------------------------------
_NO_SPACE = re.compile(r"no space left on device|disk quota exceeded|os error (28|122)\b", re.I)
_NO_CREDENTIALS = {
    "NoCredentialsError",
    "PartialCredentialsError",
    "CredentialRetrievalError",
    "NoAuthTokenError",
    "TokenRetrievalError",
    "UnauthorizedSSOTokenError",
    "DefaultCredentialsError",  # google.auth
    "ClientAuthenticationError",  # azure
}
_UNREACHABLE = {
    "EndpointConnectionError",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ConnectionClosedError",
    "ProxyConnectionError",
    "SSLError",
    "ClientConnectorError",
    "ClientConnectionError",
    "ServerDisconnectedError",
    "ServerTimeoutError",
    "ClientOSError",
}
_NO_BUCKET = re.compile(r"no ?such ?bucket|bucket does not exist|bucket not found", re.I)
_REFUSED = re.compile(
    r"forbidden|access ?denied|invalidaccesskeyid|signaturedoesnotmatch|\b403\b", re.I
)


def _causes(err: BaseException) -> Iterator[BaseException]:
    """``err`` and the errors it was raised from."""
    seen: list[BaseException] = []
    current: BaseException | None = err
    while current is not None and all(current is not e for e in seen) and len(seen) < 8:
        seen.append(current)
        yield current
        current = current.__cause__


def _error_code(err: BaseException) -> str | None:
    """The error code an object store answered with (botocore's ``response``)."""
    for cause in _causes(err):
        response = getattr(cause, "response", None)
        if isinstance(response, Mapping) and isinstance(response.get("Error"), Mapping):
            code = response["Error"].get("Code")
            return None if code is None else str(code)
    return None


def _said(err: BaseException) -> str:
    text = " ".join(str(err).split()) or "no message"
    text = text if len(text) <= 160 else text[:157] + "..."
    return f"{err.__class__.__name__}: {text}"


def storage_problem(
    err: BaseException, where: str, *, remote: bool, endpoint: str | None = None
) -> StorageError | None:
    """``err`` as a :class:`StorageError` naming ``where`` and what to check,
    or None when it is no failure of the storage itself.

    ``remote``: ``where`` is an object store (credentials, endpoint, bucket and
    network are checked too); a full disk is recognised everywhere, whichever
    engine wrote (Python's ``OSError``, zarrs' and zarrista's ``os error 28``).
    """
    for cause in _causes(err):
        if isinstance(cause, XisoError):
            return None  # xiso has said it already
        names = {cls.__name__ for cls in type(cause).__mro__}
        said = _said(cause)
        if (
            isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT)
        ) or _NO_SPACE.search(str(cause)):
            return StorageError(
                f"no space left on device while writing {where} ({said}); free space or "
                "write to another disk, then write again (the target was left as it was)"
            )
        if not remote:
            continue
        at = f" at endpoint {endpoint!r}" if endpoint else ""
        if names & _NO_CREDENTIALS:
            return StorageError(
                f"no credentials to access {where}{at} ({said}); check the credentials: set "
                "them in the environment (for s3:// AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY, or AWS_PROFILE), pass key and secret as storage "
                "options, or anon=true for a public bucket"
            )
        if names & _UNREACHABLE or isinstance(cause, (ConnectionError, TimeoutError)):
            return StorageError(
                f"cannot reach {where}{at} ({said}); check endpoint_url in the storage "
                "options (or the default endpoint of the protocol) and the network"
            )
        if isinstance(cause, PermissionError) or (
            "ClientError" in names and _REFUSED.search(str(cause))
        ):
            return StorageError(
                f"{where}{at} refused access ({said}); check the credentials (key and "
                "secret, or the profile) and that they may read and write this bucket"
            )
        if "NoSuchBucket" in names or (
            isinstance(cause, FileNotFoundError) and _NO_BUCKET.search(str(cause))
        ):
            bucket = re.match(r"'?[\w+.-]+://([^/']*)", where)
            name = f" {bucket[1]!r}" if bucket else ""
            return StorageError(
                f"the bucket{name} of {where} does not exist{at} ({said}); check the bucket "
                "name and endpoint_url, or create the bucket"
            )
    return None


def is_remote(store: Any) -> bool:
    """Whether ``store`` (a path, URL or zarr store) is an object store behind fsspec."""
    return _is_url(store) or type(store).__name__ == "FsspecStore"


@contextlib.contextmanager
def storage_errors(store: Any, storage_options: Mapping[str, Any] | None = None) -> Iterator[None]:
    """Raise what the storage of ``store`` fails with as one :class:`StorageError`
    (see :func:`storage_problem`); anything else passes through unchanged."""
    try:
        yield
    except Exception as err:
        where = repr(store) if isinstance(store, str) else repr(str(store))
        endpoint = (storage_options or {}).get("endpoint_url")
        problem = storage_problem(
            err,
            where,
            remote=is_remote(store),
            endpoint=None if endpoint is None else str(endpoint),
        )
        if problem is None:
            raise
        raise problem from err


class _Heartbeat:
    """A thread that shows the writer lives: it touches each registered
    temporary now and every :data:`HEARTBEAT` seconds until it is dropped."""

    def __init__(self, touch: Callable[[Any], None]) -> None:
        self._touch = touch
        self._handles: list[Any] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xiso-heartbeat", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._done.set()
        self._thread.join()
        with self._lock:
            self._handles.clear()

    def add(self, handle: Any) -> None:
        with self._lock:
            self._handles.append(handle)
            self._beat(handle)

    def drop(self, handle: Any) -> None:
        """Stop touching ``handle``; once this returns it is never touched again."""
        with self._lock:
            self._handles = [h for h in self._handles if h != handle]

    def _beat(self, handle: Any) -> None:
        with contextlib.suppress(Exception):  # the write itself reports a broken storage
            self._touch(handle)

    def _run(self) -> None:
        while not self._done.wait(HEARTBEAT):
            with self._lock:
                for handle in self._handles:
                    self._beat(handle)


def _hidden_suffix(kind: str) -> str:
    """A fresh temporary's suffix, registered as in use until :func:`_release`."""
    suffix = f"xiso-{kind}-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    _ACTIVE.add(suffix)
    return suffix


def _release(name: Any) -> None:
    """The temporary ``name`` (a path or key prefix) is no longer in use."""
    match = _HIDDEN.search(str(name))
    if match:
        _ACTIVE.discard(match.group(0))


def _zarr_root(read: Callable[[str], bytes | None]) -> str | None:
    """'a zarr v3 group' (etc.) when valid zarr metadata is at the root, else None."""
    for key, version in (("zarr.json", 3), (".zgroup", 2), (".zarray", 2)):
        raw = read(key)
        if raw is None:
            continue
        try:
            meta = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(meta, dict) or meta.get("zarr_format") != version:
            return None
        node = meta.get("node_type", "array" if key == ".zarray" else "group")
        return f"a zarr v{version} {node}"
    return None


def _describe(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in sorted(names)[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"a folder holding {shown}{more} (no zarr metadata at its root)"


class Target(ABC):
    """A place to write an image to (see the module docstring)."""

    where: str
    _beat: _Heartbeat | None = None

    @abstractmethod
    def inspect(self) -> Found:
        """What is at the target now."""

    @abstractmethod
    def leftovers(self) -> list[Leftover]:
        """Hidden temporaries of earlier writes to this target."""

    @abstractmethod
    def location(self) -> Location:
        """Where zarr opens the target."""

    @abstractmethod
    def _temporary(self, kind: str) -> Any:
        """A fresh hidden temporary beside (or inside) the target."""

    @abstractmethod
    def _write_location(self, tmp: Any) -> Location:
        """Where zarr writes the temporary ``tmp``."""

    @abstractmethod
    def _recover(self, leftover: Leftover) -> None:
        """Remove a dead writer's leftover, or put an image set aside back."""

    @abstractmethod
    def _swap(self, tmp: Any, overwrite: bool) -> None:
        """Move the complete image at ``tmp`` to the target (see the module docstring)."""

    @abstractmethod
    def _complete(self, tmp: Any) -> bool:
        """Whether the temporary ``tmp`` still holds the root of a zarr hierarchy."""

    @abstractmethod
    def _discard(self, tmp: Any) -> None:
        """Remove the temporary ``tmp`` (whatever it holds)."""

    @abstractmethod
    def inside(self, path: str) -> Target:
        """The target of the group at ``path`` (e.g. ``"labels/nuclei"``) inside this one.

        It is replaced as any target is (a hidden temporary beside it, then the
        swap), so writing it leaves everything else at this target as it was."""

    @abstractmethod
    def read_key(self, key: str) -> bytes | None:
        """The value of ``key`` (relative to the target, e.g. ``"labels/zarr.json"``)."""

    @abstractmethod
    def put_key(self, key: str, value: bytes) -> None:
        """Write one small object (a metadata file) whole: a reader sees the old
        value or the new one, never a part (a temporary file renamed over it on a
        local folder; a single PUT on an object store)."""

    @abstractmethod
    def _touch(self, tmp: Any) -> None:
        """Give the temporary ``tmp`` a fresh sign of its writer's life."""

    @abstractmethod
    def _image_missing(self) -> bool:
        """Whether no image is visible at the target (a swap may have set it aside)."""

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """Failures of the storage as one :class:`StorageError` naming the target."""
        yield

    def _alive(self, tmp: Any) -> None:
        """Show that this write lives by touching ``tmp`` until :meth:`_silent`."""
        if self._beat is not None:
            self._beat.add(tmp)

    def _silent(self, tmp: Any) -> None:
        """Stop touching ``tmp`` (before it is removed or moved)."""
        if self._beat is not None:
            self._beat.drop(tmp)

    def check(self, overwrite: bool) -> None:
        """Raise :class:`StoreExistsError` unless the target may be written."""
        found = self.inspect()
        if found.kind == "absent":
            return
        if not overwrite:
            raise StoreExistsError(
                f"{self.where} already exists; pass overwrite=True to replace it, or choose "
                f"another path (it is {found.detail})"
            )
        if found.kind not in ("zarr", "empty"):
            raise StoreExistsError(
                f"{self.where} is {found.detail}; overwrite=True replaces only a zarr "
                "hierarchy or an empty folder, so nothing was touched: remove it yourself "
                "or choose another path"
            )

    def prepare(self, overwrite: bool) -> None:
        """Clean up after writers that died (see :meth:`leftovers`), then :meth:`check`.

        An image that a live writer has set aside, where the target shows no
        image, means that writer is swapping right now: refused, saying when a
        write may take over if that writer was killed.
        """
        with self._errors():
            for leftover in self.leftovers():
                if leftover.dead:
                    self._recover(leftover)
                elif leftover.kind == "old" and self._image_missing():
                    raise StoreExistsError(
                        f"{self.where} is being replaced by another write, which set the "
                        f"previous image aside at {leftover.where!r}; "
                        f"{leftover.next_write}. Wait for that write to finish"
                        + (
                            f", or, if you know it was killed, set {STALE_ENV}=0 and write again"
                            if leftover.foreign
                            else ""
                        )
                    )
            self.check(overwrite)

    def replace(
        self,
        write: Callable[[Location], None],
        overwrite: bool,
        job: Mapping[str, Any] | None = None,
        resume: bool = False,
    ) -> None:
        """Write the image with ``write`` to a temporary, then swap it in.

        While it writes and swaps, a heartbeat refreshes its temporaries (see
        the module docstring); whatever fails, the temporary is removed after
        ``write`` has returned or raised (``write`` must stop its own threads
        before it raises), except when it was killed or interrupted: then a
        write with ``resume=True`` of the same ``job`` (a JSON record that
        ``write`` stores in the temporary as :data:`JOB_KEY`) picks it up
        again, and ``write`` gets a :class:`Location` with ``resumed=True``.
        A killed write of another job is refused with :class:`ResumeError`.
        A target that cannot hold a temporary is written in place
        (:meth:`_write_in_place`).
        """
        if self._write_in_place(write, overwrite):
            return
        with self._errors():
            tmp = self._resumable(job) if resume and job is not None else None
            self.prepare(overwrite)
            resumed = tmp is not None
            tmp = tmp if tmp is not None else self._temporary("tmp")
            interrupted = False
            try:
                with _Heartbeat(self._touch) as self._beat:
                    self._alive(tmp)
                    location = self._write_location(tmp)
                    self._write_temporary(write, dataclasses.replace(location, resumed=resumed))
                    if not self._complete(tmp):
                        raise OmeZarrError(
                            f"the temporary copy of the image for {self.where} vanished while "
                            "it was written (another process removed it); nothing was "
                            "replaced: write again"
                        )
                    self.check(overwrite)  # something may have appeared while we computed
                    self._strip(tmp)
                    self._swap(tmp, overwrite)
            except (KeyboardInterrupt, ResumeError):
                interrupted = True  # Ctrl-C (SIGINT), or the wrong source: kept, to resume
                raise
            except BaseException:
                with contextlib.suppress(Exception):
                    self._discard(tmp)
                raise
            finally:
                self._beat = None
                _release(tmp)
                if interrupted and job is not None:
                    with contextlib.suppress(Exception):
                        if self._read_in(tmp, JOB_KEY) is None:
                            self._discard(tmp)  # nothing to resume from

    def _write_in_place(self, write: Callable[[Location], None], overwrite: bool) -> bool:
        """Where the target cannot hold a temporary, check it may be written,
        run ``write`` on the target itself and return True; else return False
        (every target but a store that cannot list or delete keys)."""
        return False

    def _write_temporary(self, write: Callable[[Location], None], location: Location) -> None:
        """Run ``write`` on the temporary at ``location``."""
        write(location)

    def _read_in(self, tmp: Any, key: str) -> bytes | None:
        """The value of ``key`` inside the temporary ``tmp``, None if absent."""
        raise NotImplementedError

    def _count_in(self, tmp: Any, prefix: str) -> int:
        """How many keys the temporary ``tmp`` holds under ``prefix``."""
        raise NotImplementedError

    def resumable(self) -> list[tuple[Leftover, dict[str, Any], int]]:
        """The unfinished writes beside the target that ``resume=True`` can pick
        up: (leftover, its job, units recorded)."""
        out = []
        for leftover in self.leftovers():
            if leftover.kind != "tmp":
                continue
            raw = self._read_in(leftover.handle, JOB_KEY)
            try:
                job = json.loads(raw) if raw is not None else None
            except ValueError:
                job = None
            if isinstance(job, dict):
                out.append((leftover, job, self._count_in(leftover.handle, PROGRESS)))
        return out

    @abstractmethod
    def _strip(self, tmp: Any) -> None:
        """Remove what a write recorded to resume (:data:`JOB_KEY`, :data:`PROGRESS`)
        from the complete temporary ``tmp`` before it is swapped in."""

    def _claim(self, leftover: Leftover) -> Any:
        """Take the temporary of a dead writer over for this write."""
        raise NotImplementedError

    def _resumable(self, job: Mapping[str, Any]) -> Any | None:
        """The temporary of a killed write of ``job``, taken over; None if there is none.

        A killed write of another job is refused (:class:`ResumeError`, naming
        what differs); a write of this job that still runs, too.
        """
        from .resume import differences

        for leftover in self.leftovers():
            if leftover.kind != "tmp":
                continue
            raw = self._read_in(leftover.handle, JOB_KEY)
            if raw is None:
                continue
            try:
                found = json.loads(raw)
            except ValueError:
                continue
            differ = differences(found, job)
            if differ:
                raise ResumeError(
                    f"resume=True, but the unfinished write at {leftover.where!r} is of another "
                    f"job: {'; '.join(differ)}. To start over, write again without "
                    "resume=True (xiso convert without --resume): a dead writer's temporary "
                    "is then removed"
                )
            if not leftover.dead:
                raise StoreExistsError(
                    f"resume=True, but the write of this job at {leftover.where!r} still "
                    f"runs ({leftover.next_write}); wait for it, or stop it and resume"
                )
            return self._claim(leftover)
        return None


# --------------------------------------------------------------------------
# local folders
# --------------------------------------------------------------------------
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> None:
    """Swap two paths atomically (Linux ``renameat2``); OSError where unsupported."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, "RENAME_EXCHANGE is Linux only")
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        raise OSError(errno.ENOSYS, "renameat2 is not available")
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(a))


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def _tree_size(path: Path) -> int:
    if not path.is_dir():
        return path.stat().st_size if path.exists() else 0
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _folder_age(path: Path) -> float | None:
    """Seconds since ``path`` (a folder) was last modified or touched."""
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except OSError:
        return None


def _inspect_folder(path: Path) -> Found:
    if not os.path.lexists(path):
        return Found("absent", "nothing")
    if not path.is_dir():
        return Found("other", "a file")
    names = os.listdir(path)
    if not names:
        return Found("empty", "an empty folder")

    def read(key: str) -> bytes | None:
        try:
            return (path / key).read_bytes()
        except OSError:
            return None

    kind = _zarr_root(read)
    return Found("zarr", kind) if kind else Found("other", _describe(names))


class LocalTarget(Target):
    """A folder on a local (or mounted) file system."""

    def __init__(self, path: Path, within: Path | None = None) -> None:
        path = Path(os.path.abspath(path))
        if path.is_symlink():  # replace what the link points to, keep the link
            path = path.resolve()
        self.path = path
        self.where = repr(str(path))
        # the target this one is inside of: folders made between them are removed
        # again when a write fails
        self.within = within

    def location(self) -> Location:
        return Location(str(self.path))

    def inspect(self) -> Found:
        return _inspect_folder(self.path)

    def leftovers(self) -> list[Leftover]:
        prefix = f".{self.path.name}."
        out = []
        with contextlib.suppress(OSError):
            for entry in os.scandir(self.path.parent):
                match = _HIDDEN.fullmatch(entry.name[len(prefix) :])
                if entry.name.startswith(prefix) and match:
                    path = Path(entry.path)
                    out.append(
                        _leftover(
                            entry.path,
                            match,
                            _tree_size(path),
                            path,
                            _folder_age(path),
                            self._image_missing,
                        )
                    )
        return out

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        with storage_errors(str(self.path)):
            yield

    def _touch(self, tmp: Path) -> None:
        os.utime(tmp)  # a folder's modification time is its writer's sign of life

    def _image_missing(self) -> bool:
        return self.inspect().kind in ("absent", "empty")

    def _temporary(self, kind: str) -> Path:
        return self.path.with_name(f".{self.path.name}.{_hidden_suffix(kind)}")

    def _read_in(self, tmp: Path, key: str) -> bytes | None:
        try:
            return (Path(tmp) / key).read_bytes()
        except OSError:
            return None

    def _count_in(self, tmp: Path, prefix: str) -> int:
        return sum(len(files) for _, _, files in os.walk(Path(tmp) / prefix))

    def _strip(self, tmp: Path) -> None:
        # the progress first: a kill in between leaves a job whose units are
        # not recorded, which a resume writes again (never trusts)
        shutil.rmtree(Path(tmp) / PROGRESS, ignore_errors=True)
        (Path(tmp) / JOB_KEY).unlink(missing_ok=True)

    def _claim(self, leftover: Leftover) -> Path:
        # renamed to this process's name: no other write takes it for a dead one's
        mine = self._temporary("tmp")
        os.rename(leftover.handle, mine)
        return mine

    def _write_location(self, tmp: Path) -> Location:
        return Location(str(tmp))

    def _complete(self, tmp: Path) -> bool:
        return _inspect_folder(tmp).kind == "zarr"

    def _recover(self, leftover: Leftover) -> None:
        aside = leftover.handle
        if leftover.kind == "old" and self._image_missing():
            if os.path.lexists(self.path):
                self.path.rmdir()
            aside.rename(self.path)  # a swap was killed between its two renames
            warnings.warn(
                f"restored the image at {self.where} that an interrupted write had set aside "
                f"at {str(aside)!r}",
                stacklevel=4,
            )
        else:
            _remove(aside)

    def _swap(self, tmp: Path, overwrite: bool) -> None:
        if not os.path.lexists(self.path):
            try:  # fails on a non-empty folder that appeared meanwhile, never replaces it
                tmp.rename(self.path)
            except OSError as err:
                raise StoreExistsError(
                    f"{self.where} appeared while xiso was writing ({err.strerror}); nothing "
                    "was replaced: write again with overwrite=True, or choose another path"
                ) from None
            return
        try:
            _exchange(tmp, self.path)  # tmp now holds what was at the target
            found = _inspect_folder(tmp)
            if not overwrite or found.kind not in ("zarr", "empty"):
                # it changed since the check: put it back, untouched
                _exchange(tmp, self.path)
                self.check(overwrite)
                raise StoreExistsError(f"{self.where} changed while xiso was writing")
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EXDEV):
                raise
            aside = self._temporary("old")
            self.path.rename(aside)
            # its own time is the old image's, which a writer elsewhere would take for
            # a dead writer's: touch it now
            self._alive(aside)
            try:
                tmp.rename(self.path)
            except BaseException:
                aside.rename(self.path)
                raise
            finally:
                self._silent(aside)
                _release(aside)  # from here on, a leftover of a finished write
            tmp = aside
        try:
            _remove(tmp)
        except OSError as err:  # the new image is in place; only the old copy is left
            warnings.warn(
                f"could not remove the replaced image at {str(tmp)!r}: {err}", stacklevel=4
            )

    def _discard(self, tmp: Path) -> None:
        if os.path.lexists(tmp):
            _remove(tmp)
        folder = tmp.parent
        while self.within is not None and folder != self.within and self.within in folder.parents:
            try:
                folder.rmdir()  # only an empty folder the write made (e.g. labels/)
            except OSError:
                break
            folder = folder.parent

    def inside(self, path: str) -> LocalTarget:
        return LocalTarget(self.path / path, within=self.path)

    def read_key(self, key: str) -> bytes | None:
        try:
            return (self.path / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put_key(self, key: str, value: bytes) -> None:
        final = self.path / key
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{_hidden_suffix('tmp')}")
        try:
            with open(tmp, "wb") as file:
                file.write(value)
                file.flush()
                os.fsync(file.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        finally:
            _release(tmp)


# --------------------------------------------------------------------------
# key-value targets: fsspec URLs and zarr store objects
# --------------------------------------------------------------------------
def _visibility(key: str, root: str) -> int:
    """0 for chunks and array metadata, 1 for root metadata, 2 for the keys
    that make the image visible (written last, removed first)."""
    name = key[len(root) :]
    if name in _VISIBLE:
        return 2
    return 1 if name in ROOT_METADATA else 0


class _KeyTarget(Target):
    """A target in a key-value store; subclasses give the five key operations.

    Keys are relative to one root. The image is the keys under ``self.prefix``
    (``""`` for a whole store) that are not hidden temporaries.
    """

    prefix: str

    @abstractmethod
    def _list(self, prefix: str) -> list[str]:
        """Every key under ``prefix`` (recursively)."""

    @abstractmethod
    def _read(self, key: str) -> bytes | None:
        """The value of ``key``, None if absent."""

    @abstractmethod
    def _copy(self, pairs: list[tuple[str, str]]) -> None:
        """Copy values (the pairs may be copied concurrently)."""

    @abstractmethod
    def _delete(self, keys: Iterable[str]) -> None:
        """Delete keys."""

    @abstractmethod
    def _write(self, key: str) -> None:
        """Write an empty value at ``key`` (a marker)."""

    @abstractmethod
    def _hidden_prefixes(self) -> list[str]:
        """The prefixes of hidden temporaries that belong to this target."""

    def _image_keys(self) -> list[str]:
        hidden = tuple(self._hidden_prefixes())
        return [k for k in self._list(self.prefix) if not (hidden and k.startswith(hidden))]

    def inspect(self) -> Found:
        keys = self._image_keys()
        if not keys:
            return Found("absent", "nothing")
        kind = _zarr_root(lambda key: self._read(self.prefix + key))
        if kind:
            return Found("zarr", kind)
        tops = sorted({k[len(self.prefix) :].split("/", 1)[0] for k in keys})
        return Found("other", _describe(tops).replace("a folder", "a prefix"))

    def leftovers(self) -> list[Leftover]:
        out = []
        with self._errors():
            for hidden in self._hidden_prefixes():
                match = _HIDDEN.search(hidden.rstrip("/"))
                if match:
                    out.append(
                        _leftover(
                            self._name(hidden),
                            match,
                            self._size(hidden),
                            hidden,
                            self._age(hidden),
                            self._image_missing,
                        )
                    )
        return out

    def _name(self, prefix: str) -> str:
        return prefix

    def _size(self, prefix: str) -> int:
        return 0

    def _age(self, prefix: str) -> float | None:
        """Seconds since the last sign of life of the writer of ``prefix``, if known."""
        return None

    def _touch(self, tmp: str) -> None:
        self._write(tmp + _ALIVE)

    def _read_in(self, tmp: str, key: str) -> bytes | None:
        return self._read(tmp + key)

    def _count_in(self, tmp: str, prefix: str) -> int:
        return len(self._list(tmp + prefix + "/"))

    def _strip(self, tmp: str) -> None:
        pass  # the swap copies neither in (see _move_in); the temporary goes after it

    def _claim(self, leftover: Leftover) -> str:
        # no rename in a key-value store (a copy of every key): the temporary
        # keeps its name and counts as this process's while it writes
        match = _HIDDEN.search(str(leftover.handle).rstrip("/"))
        if match:
            _ACTIVE.add(match.group(0))
        return str(leftover.handle)

    def _image_missing(self) -> bool:
        return not self._visible()

    def _move_in(self, source: str, keys: list[str]) -> None:
        """Copy ``keys`` (under ``source``) to the target, the visible metadata last.

        Before the visible metadata, every key at the target that is not part
        of the new image is deleted (a chunk the new image does not store
        reads as its fill value, never as a stray chunk of another image)."""
        keys = [
            k
            for k in keys
            if k[len(source) :] not in _MARKERS and not k[len(source) :].startswith(PROGRESS)
        ]
        wanted = {self.prefix + k[len(source) :] for k in keys}
        for level in (0, 1, 2):
            if level == 2:
                self._delete([k for k in self._image_keys() if k not in wanted])
            pairs = [
                (k, self.prefix + k[len(source) :]) for k in keys if _visibility(k, source) == level
            ]
            if pairs:
                self._copy(pairs)

    def _remove_image(self, keys: list[str]) -> None:
        """Delete the image's ``keys``, the visible metadata first."""
        for level in (2, 1, 0):
            chosen = [k for k in keys if _visibility(k, self.prefix) == level]
            if chosen:
                self._delete(chosen)

    def _complete(self, tmp: str) -> bool:
        return _zarr_root(lambda k: self._read(tmp + k)) is not None

    def _swap(self, tmp: str, overwrite: bool) -> None:
        old = self._image_keys()
        new = self._list(tmp)
        # the old image is copied aside first (a marker when there was none), so
        # that a swap that fails or is killed can be undone; the copy is kept
        # alive (see the module docstring) until it is removed
        backup = self._temporary("old")
        try:
            self._alive(backup)
            if old:
                self._copy([(k, backup + k[len(self.prefix) :]) for k in old])
            else:
                self._write(backup + _ABSENT)
            try:
                self._remove_image(old)
                self._move_in(tmp, new)
            except BaseException:
                self._move_in(backup, self._list(backup))
                self._silent(backup)
                self._delete(self._list(backup))
                raise
            self._silent(tmp)
            self._delete(self._list(tmp))
            self._silent(backup)
            self._delete(self._list(backup))
        finally:
            _release(backup)

    def _visible(self) -> bool:
        """Whether the target has the metadata that makes an image visible."""
        return any(self._read(self.prefix + k) is not None for k in _VISIBLE)

    def _recover(self, leftover: Leftover) -> None:
        hidden = leftover.handle
        if leftover.kind == "old" and not self._visible():
            # a swap was killed after removing the old image's visible metadata
            # and before writing the new one: put the old image back
            kept = self._list(hidden)
            self._remove_image(self._image_keys())
            self._move_in(hidden, kept)
            what = (
                "removed the partial image that an interrupted write had left"
                if [k for k in kept if k[len(hidden) :] not in _MARKERS] == []
                else "restored the image that an interrupted write had set aside"
            )
            warnings.warn(f"{what} at {self.where}", stacklevel=4)
        self._delete(self._list(hidden))

    def _discard(self, tmp: str) -> None:
        self._delete(self._list(tmp))


class FsspecTarget(_KeyTarget):
    """A folder on an fsspec file system (``s3://``, ``gs://``, ``memory://``, ...).

    Temporaries are hidden siblings ``.NAME.xiso-*``; keys are relative to the
    parent folder.
    """

    def __init__(self, url: str, storage_options: Mapping[str, Any] | None) -> None:
        import fsspec

        self.url = url
        self.storage_options = dict(storage_options or {})
        protocol = url.split("://", 1)[0]
        try:
            fs, path = fsspec.core.url_to_fs(url, **self.storage_options)
        except ValueError as err:
            if "protocol" not in str(err).lower():
                raise
            raise OptionError(
                f"unknown URL protocol {protocol!r} in {url!r}; use a local path or one of "
                f"fsspec's protocols (s3://, gs://, az://, https://, memory://, ...), "
                "installing its package (e.g. s3fs for s3://)"
            ) from None
        except ImportError as err:
            from ..errors import install_hint

            raise OptionError(
                f"{url!r} needs a package that is not installed: {err}; install it (for "
                f"s3://: {install_hint('s3', 's3fs')})"
            ) from None
        self.fs = fs
        self.protocol = protocol
        path = path.rstrip("/")
        self.parent, _, self.name = path.rpartition("/")
        self.prefix = f"{self.name}/"
        self.where = repr(url)
        if _GLOB & set(path):
            raise OptionError(
                f"{url!r} holds {''.join(sorted(_GLOB & set(path)))!r}, which fsspec reads as "
                "a glob pattern (a delete could reach other images); choose a name without "
                "*, ?, [ or ]"
            )
        if not self.name.strip("/") or (protocol in _BUCKETS and not self.parent):
            raise OptionError(
                f"{url!r} names no folder inside a bucket or file system; write to a folder "
                f"such as '{url if url.endswith('/') else url + '/'}image.ome.zarr'"
            )

    def location(self) -> Location:
        return Location(self.url, "", self.storage_options)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        with storage_errors(self.url, self.storage_options):
            yield

    def probe(self) -> None:
        """Read the root metadata once, so that a store that cannot be reached
        (credentials, endpoint, bucket) fails here with one :class:`StorageError`
        before zarr sends many requests at once. A refused read is left to
        zarr (a bucket that may not be listed answers 403 for a missing key)."""
        with self._errors():
            try:
                self._read(self.prefix + "zarr.json")
            except PermissionError as err:
                if _error_code(err) in ("AccessDenied", None):
                    return  # maybe only this key: zarr asks for the others
                raise  # InvalidAccessKeyId, SignatureDoesNotMatch, ...: the credentials

    def _age(self, prefix: str) -> float | None:
        """From the time of its ``.xiso-alive`` key, else of its newest key."""
        import datetime

        times = []
        try:
            times.append(self.fs.modified(self._full(prefix + _ALIVE)))
        except Exception:  # no such key, or a file system without times
            with contextlib.suppress(Exception):
                found = self.fs.find(self._full(prefix.rstrip("/")), detail=True)
                for info in found.values():
                    stamp = next((info[k] for k in _TIME_KEYS if info.get(k)), None)
                    times.append(stamp)
        seconds = []
        now = time.time()
        for stamp in times:
            if isinstance(stamp, datetime.datetime):
                if stamp.tzinfo is None:
                    stamp = stamp.replace(tzinfo=datetime.UTC)
                seconds.append(now - stamp.timestamp())
            elif isinstance(stamp, (int, float)):
                seconds.append(now - float(stamp))
        return max(0.0, min(seconds)) if seconds else None

    def _full(self, key: str) -> str:
        return f"{self.parent}/{key}" if self.parent else key

    def _key(self, full: str) -> str:
        full = full.split("://", 1)[-1].lstrip("/") if "://" in full else full
        parent = self.parent.lstrip("/")
        return full.lstrip("/")[len(parent) + 1 :] if parent else full.lstrip("/")

    def _list(self, prefix: str) -> list[str]:
        self.fs.invalidate_cache()
        try:
            found = self.fs.find(self._full(prefix.rstrip("/")))
        except FileNotFoundError:
            return []
        keys = [self._key(p) for p in found]
        return [k for k in keys if k.startswith(prefix)]

    def _read(self, key: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(self._full(key)))
        except (FileNotFoundError, IsADirectoryError):
            return None

    def _copy(self, pairs: list[tuple[str, str]]) -> None:
        if pairs:
            self.fs.copy([self._full(a) for a, _ in pairs], [self._full(b) for _, b in pairs])

    def _delete(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            self.fs.rm([self._full(k) for k in keys])
        self.fs.invalidate_cache()

    def _write(self, key: str) -> None:
        self.fs.pipe_file(self._full(key), b"")

    def _hidden_prefixes(self) -> list[str]:
        self.fs.invalidate_cache()
        try:
            names = self.fs.ls(self.parent or "", detail=False)
        except FileNotFoundError as err:
            if _NO_BUCKET.search(str(err)):
                raise  # not a missing folder: a missing bucket (StorageError, via _errors)
            return []
        start = f".{self.name}."
        out = []
        for full in names:
            base = full.rstrip("/").rpartition("/")[2]
            if base.startswith(start) and _HIDDEN.fullmatch(base[len(start) :]):
                out.append(f"{base}/")
        return out

    def inspect(self) -> Found:
        with self._errors():
            self.fs.invalidate_cache()
            full = self._full(self.name)
            if self.fs.isfile(full):
                return Found("other", "a file")
            if not self._list(self.prefix) and self.fs.isdir(full):
                return Found("empty", "an empty folder")
            return super().inspect()

    def _name(self, prefix: str) -> str:
        return f"{self.protocol}://{self._full(prefix.rstrip('/'))}"

    def _temporary(self, kind: str) -> str:
        return f".{self.name}.{_hidden_suffix(kind)}/"

    def _write_location(self, tmp: str) -> Location:
        return Location(
            f"{self.protocol}://{self._full(tmp.rstrip('/'))}", "", self.storage_options
        )

    def _size(self, prefix: str) -> int:
        try:
            return int(self.fs.du(self._full(prefix.rstrip("/"))))
        except (FileNotFoundError, OSError):
            return 0

    def inside(self, path: str) -> FsspecTarget:
        return FsspecTarget(f"{self.url.rstrip('/')}/{path}", self.storage_options)

    def read_key(self, key: str) -> bytes | None:
        return self._read(self.prefix + key)

    def put_key(self, key: str, value: bytes) -> None:
        self.fs.pipe_file(self._full(self.prefix + key), value)  # one PUT
        self.fs.invalidate_cache()


class StoreTarget(_KeyTarget):
    """A whole zarr store object (MemoryStore, a dict, ...); temporaries live
    under hidden prefixes ``.xiso-*`` inside it. With ``prefix`` (``"a/b/"``,
    see :meth:`Target.inside`), the group at that prefix, with temporaries
    ``a/.b.xiso-*`` beside it."""

    def __init__(self, store: Any, prefix: str = "") -> None:
        from zarr.core.sync import sync

        if isinstance(store, dict):
            import zarr

            store = zarr.storage.MemoryStore(store)
        if hasattr(store, "_ensure_open"):
            sync(store._ensure_open())
        path = str(getattr(store, "path", ""))
        if _GLOB & set(path):
            raise OptionError(
                f"{store!r} has a path holding {''.join(sorted(_GLOB & set(path)))!r}, which "
                "fsspec reads as a glob pattern (a delete could reach other images); choose a "
                "name without *, ?, [ or ]"
            )
        self.store = store
        self.prefix = prefix
        self.where = repr(store) if not prefix else f"{prefix.rstrip('/')!r} in {store!r}"

    def location(self) -> Location:
        return Location(self.store, self.prefix.rstrip("/"))

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        with storage_errors(self.store):
            yield

    def check(self, overwrite: bool) -> None:
        if getattr(self.store, "read_only", False):
            raise OmeZarrError(f"{self.where} is read-only; open it writable or write elsewhere")
        super().check(overwrite)

    def _write_in_place(self, write: Callable[[Location], None], overwrite: bool) -> bool:
        store = self.store
        listing = getattr(store, "supports_listing", False)
        if listing and getattr(store, "supports_deletes", False):
            return False
        self.prepare(overwrite)
        if self._list("") if listing else True:
            raise OmeZarrError(
                f"{self.where} cannot list or delete keys, so xiso cannot write it safely "
                "unless it is empty; write to a new store (or a local path) instead"
            )
        write(Location(store))
        return True

    def _write_temporary(self, write: Callable[[Location], None], location: Location) -> None:
        # zarr writes the metadata of missing parent groups (an empty root
        # group); remove what it created, so the store holds no new image
        parts = location.path.split("/")[:-1]
        parents = ["/".join(parts[:i]) + "/" * (i > 0) for i in range(len(parts) + 1)]
        keys = [p + k for p in parents for k in ROOT_METADATA]
        before = {k for k in keys if self._read(k) is not None}
        try:
            write(location)
        finally:
            self._delete(k for k in keys if k not in before and self._read(k))

    def _sync(self, coroutine: Any) -> Any:
        from zarr.core.sync import sync

        return sync(coroutine)

    def _list(self, prefix: str) -> list[str]:
        async def collect() -> list[str]:
            return [key async for key in self.store.list_prefix(prefix)]

        return list(self._sync(collect()))

    def _read(self, key: str) -> bytes | None:
        import zarr

        value = self._sync(
            self.store.get(key, prototype=zarr.core.buffer.default_buffer_prototype())
        )
        return None if value is None else bytes(value.to_bytes())

    def _copy(self, pairs: list[tuple[str, str]]) -> None:
        import zarr

        prototype = zarr.core.buffer.default_buffer_prototype()
        for source, destination in pairs:
            value = self._sync(self.store.get(source, prototype=prototype))
            self._sync(self.store.set(destination, value))

    def _delete(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._sync(self.store.delete(key))

    def _write(self, key: str) -> None:
        import zarr

        empty = zarr.core.buffer.default_buffer_prototype().buffer.from_bytes(b"")
        self._sync(self.store.set(key, empty))

    def _beside(self) -> tuple[str, str]:
        """(the prefix temporaries live under, the start of their names): the
        store's root and ``.`` for a whole store, ``a/`` and ``.b.`` for ``a/b/``."""
        parent, _, name = self.prefix.rstrip("/").rpartition("/")
        return (f"{parent}/" if parent else ""), (f".{name}." if name else ".")

    def _hidden_prefixes(self) -> list[str]:
        parent, start = self._beside()
        tops = {
            k[len(parent) :].split("/", 1)[0]
            for k in self._list(parent)
            if k[len(parent) :].startswith(start)
        }
        return [f"{parent}{t}/" for t in sorted(tops) if _HIDDEN.fullmatch(t[len(start) :])]

    def _temporary(self, kind: str) -> str:
        parent, start = self._beside()
        return f"{parent}{start}{_hidden_suffix(kind)}/"

    def _write_location(self, tmp: str) -> Location:
        return Location(self.store, tmp.rstrip("/"))

    def inside(self, path: str) -> StoreTarget:
        return StoreTarget(self.store, prefix=f"{self.prefix}{path.strip('/')}/")

    def read_key(self, key: str) -> bytes | None:
        return self._read(self.prefix + key)

    def put_key(self, key: str, value: bytes) -> None:
        import zarr

        buffer = zarr.core.buffer.default_buffer_prototype().buffer.from_bytes(value)
        self._sync(self.store.set(self.prefix + key, buffer))


def _is_url(store: Any) -> bool:
    return isinstance(store, str) and "://" in store and not store.startswith("file://")


def resolve(store: Any, storage_options: Mapping[str, Any] | None = None) -> Target:
    """The target for a path, URL or zarr store object."""
    import zarr

    if storage_options is not None and not _is_url(store):
        raise OptionError(
            f"storage_options apply to fsspec URLs (such as 's3://bucket/image.zarr'), "
            f"not to {store!r}; drop them or pass a URL"
        )
    if isinstance(store, zarr.storage.LocalStore):
        if store.read_only:
            raise OmeZarrError(f"{store!r} is read-only; open it writable or write elsewhere")
        return LocalTarget(Path(store.root))
    if isinstance(store, (str, os.PathLike)) and not _is_url(store):
        return LocalTarget(Path(os.fspath(store).removeprefix("file://")))
    if _is_url(store):
        return FsspecTarget(store, storage_options)
    return StoreTarget(store)
