"""One daemon per state database, enforced by an OS file lock.

``flock`` is released by the kernel when the holder dies, so a crashed daemon never leaves a
stale lock behind, unlike a PID file.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO, Self

from catalog_sync.private_files import FILE_MODE, make_private_folder
from catalog_sync.state import state_error


class AlreadyRunningError(RuntimeError):
    """Another process holds the lock of this state database."""


class InstanceLock:
    """An exclusive, non-blocking lock on ``<state>.lock`` that records the holder's pid."""

    def __init__(self, state_path: Path) -> None:
        self._state = state_path
        self.path = state_path.with_name(state_path.name + ".lock")
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock or raise :class:`AlreadyRunningError` naming the holder.

        The lock file is created private (0600) beside the state; one that cannot be created
        is a :class:`StateError` (read-only or immutable folder, a file in the path).
        """
        try:
            make_private_folder(self.path.parent)
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        except OSError as exc:
            raise state_error(self._state, exc, f"create its lock file {self.path}") from exc
        handle = os.fdopen(descriptor, "r+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunningError(
                f"another catalog-sync (pid {holder}) is running on this state database "
                f"(lock {self.path}); stop it first or use another state file"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        """Release the lock (also released by the kernel if the process dies)."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()
