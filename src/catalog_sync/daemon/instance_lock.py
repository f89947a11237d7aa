"""One writer per state database, enforced by an OS file lock on ``<state>.lock``.

Every command that writes to Digital River or moves the ledger holds this lock while it works:
the daemon for its whole life, ``events poll``, ``events replay``, ``orders transmit`` and
``reconcile`` for their run. Two processes sending from one ledger is how goods ship twice (each
reads the same due write, each sends it), so the second one is refused before it reads anything.

Only an SQLite state has this lock. A PostgreSQL state is shared by design: several daemons
on it are one deployment, and which of them works is decided by the leader lease in the
database (:mod:`catalog_sync.daemon.leadership`), so there the daemon's lock takes nothing and
a one-off command takes the lease instead (:mod:`catalog_sync.daemon.command_lease`).

``flock`` is released by the kernel when the holder dies, so a crashed process never leaves a
stale lock behind, unlike a PID file. The file names its holder (pid, then the command on the
second line) so that a refusal can say whether the daemon holds the state (it does the work
itself) or another command does (it will finish).
"""

from __future__ import annotations

import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

from catalog_sync.daemon.command_lease import CommandLease, LeaseHeldError
from catalog_sync.state import StateBackend, open_state, state_error
from catalog_sync.state.backends import HasStatePath
from catalog_sync.support.files import FILE_MODE, make_private_folder

#: The command recorded by the daemon; any other name is a one-off command.
DAEMON_COMMAND: Final = "run"
#: What a refused command tells the operator when the daemon holds the state.
DAEMON_DOES_IT: Final = "it does this work itself; stop it to run this by hand"
#: A hostile or damaged lock file never floods a message: only this much of it is read.
_READ_LIMIT: Final = 512
_COMMAND_LIMIT: Final = 80
_PID_DIGITS: Final = 9


class InstanceLockError(RuntimeError):
    """The lock of a state database could not be taken (the message says why)."""


class AlreadyRunningError(InstanceLockError):
    """Another process holds the lock of this state database."""

    def __init__(self, message: str, holder: LockHolder) -> None:
        """``holder`` lets a caller decide what to do instead (leave work to the daemon)."""
        super().__init__(message)
        self.holder = holder


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock, as its file says: pid and command, each ``None`` when unreadable."""

    pid: int | None
    command: str | None

    @property
    def is_daemon(self) -> bool:
        """Whether the holder is ``catalog-sync run``."""
        return self.command == DAEMON_COMMAND

    def describe(self) -> str:
        """E.g. ``the daemon (catalog-sync run, pid 4242)``."""
        pid = "pid unknown" if self.pid is None else f"pid {self.pid}"
        if self.is_daemon:
            return f"the daemon (catalog-sync run, {pid})"
        if self.command:
            return f"another command (catalog-sync {self.command}, {pid})"
        return f"another catalog-sync process ({pid})"

    @classmethod
    def parse(cls, data: bytes) -> LockHolder:
        """Read a lock file's content; anything unexpected becomes ``None``, never an error."""
        lines = [*data.decode("utf-8", errors="replace").splitlines(), "", ""]
        first = lines[0].strip()
        pid = (
            int(first)
            if first.isascii() and first.isdigit() and len(first) <= _PID_DIGITS
            else None
        )
        command = "".join(c for c in lines[1] if c.isascii() and c.isprintable())
        return cls(pid, command.strip()[:_COMMAND_LIMIT] or None)

    def render(self) -> bytes:
        """The lock file's content naming this holder."""
        return f"{self.pid or ''}\n{self.command or ''}\n".encode()


class InstanceLock:
    """An exclusive, non-blocking lock on ``<state>.lock`` that records its holder."""

    def __init__(
        self,
        state: Path | str | HasStatePath,
        *,
        command: str,
        beside_daemon: str = DAEMON_DOES_IT,
    ) -> None:
        """``state`` is a path, a URL or the settings (which know the URL's password): a path
        is locked; on a URL a one-off command holds the lease (see the module's docstring).
        ``command`` names the holder (:data:`DAEMON_COMMAND` for the daemon) in refusals;
        ``beside_daemon`` is what a refusal suggests when the daemon holds the state."""
        location = state if isinstance(state, Path | str) else state.state
        self._target = state
        self.state_path = location if isinstance(location, Path) else None
        self.path = None if self.state_path is None else lock_path(self.state_path)
        self._lease: tuple[StateBackend, CommandLease] | None = None
        self.command = command
        self._beside_daemon = beside_daemon
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise :class:`AlreadyRunningError` naming the holder."""
        if self.path is None or self.state_path is None:
            if self.command != DAEMON_COMMAND:
                self._take_lease()
            return
        fd = self._open(self.path, self.state_path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = LockHolder.parse(os.pread(fd, _READ_LIMIT, 0))
            os.close(fd)
            raise AlreadyRunningError(self._refusal(holder), holder) from None
        # Overwrite in place, then cut: the file is never empty while held, so a refused
        # process reading it in between still finds a pid.
        data = LockHolder(os.getpid(), self.command).render()
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        self._fd = fd

    def _take_lease(self) -> None:
        """A one-off command on a server's state: hold the leader lease, or be refused."""
        store = open_state(self._target)
        lease = CommandLease(store, self.command)
        try:
            lease.acquire()
        except LeaseHeldError as exc:
            store.close()
            # A daemon's lease bears its instance name; a command's ends in "(command)".
            holder = LockHolder(None, exc.holder if exc.holder.endswith(")") else DAEMON_COMMAND)
            message = f"{self.command} refused: {exc}; {self._beside_daemon}"
            raise AlreadyRunningError(message, holder) from None
        except BaseException:
            store.close()
            raise
        self._lease = (store, lease)

    def release(self) -> None:
        """Release the lock (also released by the kernel if the process dies)."""
        if self._lease is not None:
            store, lease = self._lease
            self._lease = None
            try:
                lease.release()
            finally:
                store.close()
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def _open(self, path: Path, state_path: Path) -> int:
        """Open (or create, ``0600``) the lock file; a link or a non-file is refused.

        The holder writes into this file, so following a planted link would overwrite
        whatever it points at; a FIFO would block the open.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
        try:
            make_private_folder(path.parent)
            fd = os.open(path, flags, FILE_MODE)
        except OSError as exc:
            if not (path.is_symlink() or path.exists()):
                # Nothing there and none can be made: a read-only folder, a file in the path.
                raise state_error(state_path, exc, f"create its lock file {path}") from exc
            raise InstanceLockError(
                f"cannot open the lock file {path}: {exc.strerror or exc}"
                f"{' (a symbolic link is not accepted)' if path.is_symlink() else ''}"
            ) from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise InstanceLockError(f"cannot use the lock file {path}: not a regular file")
        return fd

    def _refusal(self, holder: LockHolder) -> str:
        """One line: who holds the state database, and what to do."""
        where = f"the state database {self.state_path}"
        if self.command == DAEMON_COMMAND:
            return (
                f"cannot start: {holder.describe()} already holds {where}; stop it first or "
                "use another state file"
            )
        then = self._beside_daemon if holder.is_daemon else "wait for it to finish or stop it"
        return f"{self.command} refused: {holder.describe()} holds {where}; {then}"


def lock_path(state_path: Path) -> Path:
    """``<state>.lock`` beside the SQLite database."""
    return state_path.with_name(state_path.name + ".lock")
