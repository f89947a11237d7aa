"""One writer per state database: who holds it, and what a refused process is told."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from catalog_sync.daemon.instance_lock import (
    DAEMON_COMMAND,
    AlreadyRunningError,
    InstanceLock,
    InstanceLockError,
    LockHolder,
    lock_path,
)

HOLD = (
    "import sys; from pathlib import Path;"
    " from catalog_sync.daemon.instance_lock import InstanceLock;"
    " l = InstanceLock(Path(sys.argv[1]), command=sys.argv[2]); l.acquire();"
    " print('held', flush=True); sys.stdin.read()"
)


def _hold(state: Path, command: str) -> subprocess.Popen[str]:
    """A child process holding the lock of ``state`` as ``command`` until killed."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state), command],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "held"
    return holder


def _refusal(state: Path, command: str) -> AlreadyRunningError:
    with pytest.raises(AlreadyRunningError) as caught:
        InstanceLock(state, command=command).acquire()
    return caught.value


def test_second_holder_is_refused_with_the_pid(tmp_path: Path) -> None:
    """A second lock on the same state names the process that holds it."""
    state = tmp_path / "s.db"
    with _hold(state, DAEMON_COMMAND) as holder:
        assert f"pid {holder.pid}" in str(_refusal(state, "events poll"))
        holder.kill()


def test_lock_is_free_after_holder_dies(tmp_path: Path) -> None:
    """The kernel releases the lock when its holder is killed."""
    state = tmp_path / "s.db"
    with _hold(state, "events poll --loop") as holder:
        holder.kill()
        holder.wait()
    with InstanceLock(state, command="orders transmit"):
        assert LockHolder.parse(lock_path(state).read_bytes()) == LockHolder(
            os.getpid(), "orders transmit"
        )


def test_a_command_refused_by_the_daemon_is_told_the_daemon_does_the_work(
    tmp_path: Path,
) -> None:
    """Held by ``run``: the refusal names the daemon, its pid, and says it does the work."""
    state = tmp_path / "s.db"
    with InstanceLock(state, command=DAEMON_COMMAND):
        refusal = _refusal(state, "orders transmit")
    assert refusal.holder.is_daemon
    assert str(refusal).startswith(
        f"orders transmit refused: the daemon (catalog-sync run, pid {os.getpid()}) holds"
    )
    assert "it does this work itself" in str(refusal)


def test_a_command_refused_by_another_command_is_told_to_wait(tmp_path: Path) -> None:
    """Held by a one-off command: the refusal names that command and its pid."""
    state = tmp_path / "s.db"
    with InstanceLock(state, command="events poll --loop"):
        refusal = _refusal(state, "events poll --loop")
    assert not refusal.holder.is_daemon
    assert f"another command (catalog-sync events poll --loop, pid {os.getpid()})" in str(refusal)
    assert "wait for it to finish" in str(refusal)


def test_the_daemon_refused_by_a_command_cannot_start(tmp_path: Path) -> None:
    """``run`` while a command holds the state: it does not start, and says who holds it."""
    state = tmp_path / "s.db"
    with InstanceLock(state, command="reconcile --prune"):
        refusal = _refusal(state, DAEMON_COMMAND)
    assert str(refusal).startswith(
        f"cannot start: another command (catalog-sync reconcile --prune, pid {os.getpid()})"
    )


def test_the_refusal_is_one_line(tmp_path: Path) -> None:
    """The message a refused command prints fits on one line."""
    state = tmp_path / "s.db"
    with InstanceLock(state, command=DAEMON_COMMAND):
        assert "\n" not in str(_refusal(state, "reconcile"))


def test_lock_file_is_private(tmp_path: Path) -> None:
    """The lock file is created readable and writable by its owner only."""
    state = tmp_path / "s.db"
    with InstanceLock(state, command="events poll"):
        assert stat.S_IMODE(lock_path(state).stat().st_mode) == 0o600


def test_a_link_planted_as_the_lock_file_is_refused_and_its_target_kept(
    tmp_path: Path,
) -> None:
    """A symbolic link at ``<state>.lock`` is not followed, so its target is never written."""
    state = tmp_path / "s.db"
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n", encoding="utf-8")
    (tmp_path / "s.db.lock").symlink_to(target)
    with pytest.raises(InstanceLockError, match="symbolic link"):
        InstanceLock(state, command="events poll").acquire()
    assert target.read_text(encoding="utf-8") == "keep me\n"


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_lock_path_that_is_no_regular_file_is_refused(tmp_path: Path, kind: str) -> None:
    """A directory or a FIFO at ``<state>.lock`` is a clear error, never a hang."""
    state = tmp_path / "s.db"
    path = tmp_path / "s.db.lock"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)
    with pytest.raises(InstanceLockError, match=r"s\.db\.lock"):
        InstanceLock(state, command="events poll").acquire()
