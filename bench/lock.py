"""An exclusive lock on a run folder: one trainer or evaluator at a time.

The lock is `<run>/.lock`, held with flock(2) for as long as the process lives and holding the
holder's pid, host and start time. The kernel releases a flock on any exit, SIGKILL included,
so a lock is never held by a dead process; a lock file that still names a holder although no
process holds its flock was left by a process that died, and the next one takes it over and
says so. The file is emptied, never deleted, on release (deleting it would let two processes
lock two different files of the same name). A forked child (a DataLoader worker) closes its copy
of the lock's descriptor at once, so a killed holder's orphaned workers do not keep the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

LOCK_NAME = ".lock"
QUERY_RETRIES = 40
_HELD: set[int] = set()  # descriptors of the locks this process holds


def _close_held_in_child() -> None:
    """Point the child's copies at /dev/null: they stop holding the lock, and the numbers stay
    valid for the file objects that own them."""
    if not _HELD:
        return
    null = os.open(os.devnull, os.O_RDONLY)
    for fd in _HELD:
        os.dup2(null, fd)
    os.close(null)
    _HELD.clear()


os.register_at_fork(after_in_child=_close_held_in_child)


class LockError(RuntimeError):
    """The run folder is locked by a live process."""


def lock_file(folder: Path) -> Path:
    return Path(folder) / LOCK_NAME


def _read(handle: Any) -> dict[str, Any] | None:
    handle.seek(0)
    text = handle.read().decode(errors="replace").strip()
    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return {"pid": "?", "host": "?", "since": "?", "unreadable": text[:60]}


def describe(holder: dict[str, Any]) -> str:
    return f"pid {holder.get('pid')} on {holder.get('host')} (since {holder.get('since')})"


def _acquire(handle: Any, folder: Path) -> None:
    """flock LOCK_EX, retrying briefly while only a `holder()` query (empty file) is in the way."""
    for _ in range(QUERY_RETRIES):
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            found = _read(handle)
        if found is not None:
            raise LockError(f"{folder}: in use by {describe(found)} — another train or evaluate "
                            "is writing to this run; wait for it, or stop it first")
        time.sleep(0.05)
    raise LockError(f"{folder}: locked by a process that has not said who it is yet; try again")


@contextlib.contextmanager
def hold(folder: Path, note: Callable[[str], None] | None = None) -> Iterator[Path]:
    """Lock `folder` (created if needed) for the duration of the block, or raise LockError."""
    path = lock_file(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+b", buffering=0)  # noqa: SIM115 — held open for the whole block
    try:
        _acquire(handle, folder)
        stale = _read(handle)
        if stale is not None and note is not None:
            note(f"{path}: took over a stale lock of {describe(stale)}, which is no longer running")
        handle.seek(0)
        handle.truncate()
        with contextlib.suppress(OSError):  # a full disk: the flock excludes others all the same
            handle.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                                     "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}).encode())
        _HELD.add(handle.fileno())
        try:
            yield path
        finally:
            _HELD.discard(handle.fileno())
            with contextlib.suppress(OSError):
                handle.truncate(0)
    finally:
        handle.close()  # releases the flock


def holder(folder: Path) -> dict[str, Any] | None:
    """The live holder of `folder`'s lock (pid, host, since), or None when nobody holds it."""
    path = lock_file(folder)
    if not path.is_file():
        return None
    with open(path, "rb") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle) or {}
        return None
