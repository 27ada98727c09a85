"""One writer at a time: OS file locks under ``<warehouse>/_state/locks/``.

Every command that writes a table (``patches build``, ``labels build``, ``models build``) holds the
lock of each table it writes for its whole run; a second run fails at once with
:class:`~s2lake.errors.LockedError` (exit code 3) naming the holder, instead of racing it.

Written by hand on ``fcntl.flock`` (and not with ``filelock``, which is not a dependency) because the
loser must say who holds the lock: the holder's pid, start time and command are kept in the lock
file itself. The kernel drops a ``flock`` when its process dies, kill -9 included, so a crashed run
never leaves a stale lock behind; the file that stays is only a record of the last holder.

Object stores have no such locks: there the tables rely on Delta's optimistic concurrency
(:mod:`s2lake.tables.store` rejects a commit whose read version is stale).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from s2lake.errors import LockedError
from s2lake.warehouse import STATE_DIR, Warehouse

LOCKS_DIR = "locks"


@contextmanager
def hold(path: Path, subject: str, command: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) or raise :class:`LockedError` at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _describe(handle.read())
        handle.close()
        raise LockedError(
            f"another run holds the lock on {subject} ({holder})",
            where=str(path),
            fix="wait for it to finish or stop it; the lock is released automatically when that process ends",
        ) from None
    try:
        handle.seek(0)
        handle.truncate()
        since = datetime.now(UTC).isoformat(timespec="seconds")
        handle.write(json.dumps({"pid": os.getpid(), "since": since, "command": command}))
        handle.flush()
        yield
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def _describe(record: str) -> str:
    """The holder as the lock file records it; a run that has just taken the lock may not have written it yet."""
    try:
        holder = json.loads(record)
        return f"pid {holder['pid']}, since {holder['since']}: s2lake {holder['command']}"
    except (ValueError, KeyError, TypeError):
        return f"pid {record.strip()}" if record.strip().isdigit() else "holder not recorded yet"


def lock_path(warehouse: Warehouse, name: str) -> Path:
    return Path(warehouse.root) / STATE_DIR / LOCKS_DIR / f"{name}.lock"


@contextmanager
def table_locks(warehouse: Warehouse, tables: Iterable[str], command: str) -> Iterator[None]:
    """Hold the writer lock of every table in ``tables`` (local warehouses; a no-op on object stores).

    Locks are taken in name order, so two commands wanting overlapping sets cannot deadlock (and,
    being non-blocking, the later one fails at once anyway).
    """
    with ExitStack() as stack:
        if warehouse.is_local:
            for name in sorted(set(tables)):
                stack.enter_context(hold(lock_path(warehouse, name), f"table `{name}`", command))
        yield
