"""The daemon's metrics port: bound before anything starts, and not exhausted by idle clients."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx
import pytest

from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.demo.walkthrough import EXAMPLE_CATALOGS
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.metrics import LOOPBACK

TIMEOUT = 60.0


@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    """A daemon environment on a copy of the example catalogs."""
    shutil.copytree(EXAMPLE_CATALOGS, tmp_path / "catalogs")
    return daemon_env(base_url=sandbox.base_url, api_key=sandbox.api_key, workdir=tmp_path)


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port another socket listens on."""
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        yield busy.getsockname()[1]


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket playing systemd's notify socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify.sock"))
        sock.setblocking(False)
        yield sock


def run_to_end(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``catalog-sync run ARGS`` to completion (it should not get far)."""
    return subprocess.run(
        [sys.executable, "-m", "catalog_sync", "run", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )


def _received(sock: socket.socket) -> list[str]:
    """Every notify line queued on the socket (the process has exited: nothing more comes)."""
    lines: list[str] = []
    while True:
        try:
            lines.extend(sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            return lines


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_busy_metrics_port_stops_the_start_with_one_line(
    env: dict[str, str],
    busy_port: int,
    notify_socket: socket.socket,
    tmp_path: Path,
    how: str,
) -> None:
    """Exit 2, one line naming the setting, before "daemon started" and before READY=1."""
    env["NOTIFY_SOCKET"] = str(tmp_path / "notify.sock")
    if how == "option":
        result = run_to_end(env, "--metrics-port", str(busy_port))
    else:
        result = run_to_end(env | {"CATALOG_SYNC_METRICS_PORT": str(busy_port)})
    assert result.returncode == 2
    [line] = result.stderr.splitlines()
    assert line.startswith("catalog-sync: configuration error: metrics_port:")
    assert f"{LOOPBACK}:{busy_port}" in line
    assert "daemon started" not in result.stdout
    assert "READY=1" not in _received(notify_socket)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
    return port


def _healthz(port: int) -> httpx.Response | None:
    try:
        return httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=TIMEOUT)
    except httpx.TransportError:
        return None


def _closed_by_server(sock: socket.socket) -> bool:
    """Block (up to the timeout) until the server closes ``sock``."""
    try:
        return sock.recv(1) == b""
    except ConnectionError:
        return True


def test_healthz_answers_beside_hundreds_of_idle_connections_which_get_closed(
    env: dict[str, str], tmp_path: Path
) -> None:
    """220 connections that send nothing leave /healthz answering 200; each is closed by the
    daemon (pushed out by newer ones, or at the read timeout)."""
    port = _free_port()
    with DaemonProcess(env, tmp_path / "daemon.log", ("--metrics-port", str(port))):
        wait_until(lambda: _healthz(port), timeout=TIMEOUT, what="the metrics endpoint")
        idle = [socket.create_connection((LOOPBACK, port), timeout=TIMEOUT) for _ in range(220)]
        try:
            health = _healthz(port)
            assert health is not None
            assert health.status_code == 200
            assert all(_closed_by_server(sock) for sock in idle)
        finally:
            for sock in idle:
                sock.close()
