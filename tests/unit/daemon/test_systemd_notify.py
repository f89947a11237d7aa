"""The notify protocol reaches a socket the way systemd's does."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from catalog_sync.daemon.systemd_notify import SystemdNotifier, watchdog_interval


def test_ready_sends_ready_and_status(tmp_path: Path) -> None:
    """READY=1 and STATUS arrive in one datagram on the notify socket."""
    path = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(path)
        SystemdNotifier(path).ready("3 pairs in sync")
        assert server.recv(4096).decode().splitlines() == ["READY=1", "STATUS=3 pairs in sync"]


def test_without_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside systemd the notifier is disabled and calls are harmless."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SystemdNotifier()
    notifier.watchdog()
    assert not notifier.enabled


def test_watchdog_interval_is_half_of_watchdog_sec(monkeypatch: pytest.MonkeyPatch) -> None:
    """With WatchdogSec=30s the daemon pings every 15 s."""
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    assert watchdog_interval() == 15.0


def test_watchdog_for_another_pid_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    """A watchdog meant for another process is not ours to ping."""
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.setenv("WATCHDOG_PID", "1")
    assert watchdog_interval() is None
