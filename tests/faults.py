"""Faults of the filesystem for tests: a file or folder this process cannot write."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def unwritable(path: Path) -> Iterator[str]:
    """Make ``path`` unwritable for this process while the block runs; yields how.

    A plain user is stopped by the mode (read-only); root ignores modes, so for root the
    entry is made immutable (``chattr +i``), and the test is skipped where that is refused.
    """
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(mode & ~0o222)
        try:
            yield "read-only"
        finally:
            path.chmod(mode)
        return
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("root without chattr: nothing makes a file unwritable")
    made = subprocess.run([chattr, "+i", str(path)], capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip("root without CAP_LINUX_IMMUTABLE: nothing makes a file unwritable")
    try:
        yield "immutable"
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


@contextlib.contextmanager
def small_filesystem(folder: Path, size_kib: int) -> Iterator[Path]:
    """A filesystem of ``size_kib`` KiB mounted on ``folder`` while the block runs: a full disk.

    Mounting needs root (as CI runs); elsewhere the test is skipped with the reason.
    """
    mount, umount = shutil.which("mount"), shutil.which("umount")
    if os.geteuid() != 0 or mount is None or umount is None:
        pytest.skip("only root can mount the small filesystem that stands in for a full disk")
    folder.mkdir(parents=True, exist_ok=True)
    made = subprocess.run(
        [mount, "-t", "tmpfs", "-o", f"size={size_kib}k,mode=0700", "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip("this machine refuses to mount a tmpfs (no CAP_SYS_ADMIN)")
    try:
        yield folder
    finally:
        subprocess.run([umount, "-l", str(folder)], check=True)
