"""The test suite's PostgreSQL server helper: where it finds the server, and what it does without.

The PostgreSQL tests must never pass by not running: without binaries they skip on a
workstation, saying why, and fail in CI.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.postgres_server import require_binaries, server_binaries


def _install(root: Path, version: str) -> Path:
    """A fake Debian install of ``version``: executable ``pg_ctl`` and ``initdb``."""
    folder = root / version / "bin"
    folder.mkdir(parents=True)
    for tool in ("pg_ctl", "initdb"):
        (folder / tool).write_text("#!/bin/sh\n")
        (folder / tool).chmod(0o755)
    return folder


def test_debians_folder_is_searched_when_path_has_no_server(tmp_path: Path) -> None:
    """Debian keeps the binaries off PATH; they are found under its versioned folder."""
    folder = _install(tmp_path, "15")
    assert server_binaries(path=str(tmp_path / "empty"), debian_root=tmp_path) == folder


def test_the_newest_debian_version_is_taken_by_number(tmp_path: Path) -> None:
    """Version 15 wins over 9, though "9" sorts after "15" as text."""
    _install(tmp_path, "9")
    newest = _install(tmp_path, "15")
    assert server_binaries(path=str(tmp_path / "empty"), debian_root=tmp_path) == newest


def test_no_server_anywhere_is_none(tmp_path: Path) -> None:
    """Nothing on PATH, nothing under Debian's folder: no binaries."""
    assert server_binaries(path=str(tmp_path / "empty"), debian_root=tmp_path) is None


def test_missing_binaries_fail_in_ci() -> None:
    """In CI a missing server is a failure, never a skip."""
    with pytest.raises(pytest.fail.Exception, match="system-deps"):
        require_binaries(None, ci=True)


def test_missing_binaries_skip_with_the_reason_elsewhere() -> None:
    """On a workstation the tests skip, saying how to install the server."""
    with pytest.raises(pytest.skip.Exception, match="system-deps"):
        require_binaries(None, ci=False)
