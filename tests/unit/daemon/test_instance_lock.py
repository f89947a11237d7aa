"""One daemon per state database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from catalog_sync.instance_lock import AlreadyRunningError, InstanceLock

HOLD = "import sys, time; from pathlib import Path; from catalog_sync.instance_lock import InstanceLock; l = InstanceLock(Path(sys.argv[1])); l.acquire(); print('held', flush=True); sys.stdin.read()"  # noqa: E501


def test_second_holder_is_refused_with_the_pid(tmp_path: Path) -> None:
    """A second lock on the same state names the process that holds it."""
    state = tmp_path / "s.db"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunningError, match=f"pid {holder.pid}"):
            InstanceLock(state).acquire()
        holder.kill()


def test_lock_is_free_after_holder_dies(tmp_path: Path) -> None:
    """The kernel releases the lock when its holder is killed."""
    state = tmp_path / "s.db"
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, str(state)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        holder.stdout.readline()
        holder.kill()
        holder.wait()
    with InstanceLock(state) as lock:
        assert lock.path.read_text().strip() == str(os.getpid())
