"""A one-off writing command on a PostgreSQL state holds the deployment's leader lease.

With SQLite the file's lock keeps ``events poll``, ``orders transmit``, ``reconcile`` and
``events replay`` from running beside the daemon. A PostgreSQL state has no such file, and
any number of daemons on other hosts may share it; so such a command takes the leader lease
itself, under its own name, for as long as it runs: while any instance leads, it is refused
naming the leader (as the file lock names the daemon); while it runs, every daemon stands by.
A thread renews the lease every third of its duration and the lease is released at the end.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Final, Self

from catalog_sync.state import StateBackend, StateError
from catalog_sync.support.logs import get_logger

log = get_logger("leadership")

#: The lease a one-off command holds; renewed every third of it while the command runs.
COMMAND_LEASE_SECONDS: Final = 15.0


class LeaseHeldError(RuntimeError):
    """Another instance holds the lease; the message names it."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


class CommandLease:
    """The leader lease, held by one command for its duration."""

    def __init__(self, store: StateBackend, command: str) -> None:
        """``store`` is the command's own connection to the state (closed by the caller)."""
        self._store = store
        self.name = f"{socket.gethostname()}-{os.getpid()} ({command})"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._epoch: int | None = None

    def acquire(self) -> None:
        """Take the lease, or raise :class:`LeaseHeldError` naming the instance holding it."""
        lease = self._store.take_lease(self.name, COMMAND_LEASE_SECONDS)
        if not lease.held_by(self.name):
            holder = lease.holder or "another instance"
            raise LeaseHeldError(f"{holder} leads the deployment on this state", holder)
        self._epoch = lease.epoch
        self._thread = threading.Thread(target=self._renew, name="command-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and end the term, so a standby daemon takes over at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._epoch is not None:
            self._store.release_lease(self.name, self._epoch)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _renew(self) -> None:
        while not self._stop.wait(COMMAND_LEASE_SECONDS / 3):
            try:
                self._store.take_lease(self.name, COMMAND_LEASE_SECONDS)
            except StateError as exc:
                log.warning("lease not renewed", instance=self.name, error=str(exc))
