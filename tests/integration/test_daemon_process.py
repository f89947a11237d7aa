"""``catalog-sync run`` as a process: signals, systemd notifications, lock, config, status."""

from __future__ import annotations

import json
import os
import shutil
import signal
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
from catalog_sync.state import open_state

TIMEOUT = 15.0


@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    """A daemon environment on a copy of the example catalogs."""
    shutil.copytree(EXAMPLE_CATALOGS, tmp_path / "catalogs")
    return daemon_env(base_url=sandbox.base_url, api_key=sandbox.api_key, workdir=tmp_path)


def cli(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run a ``catalog-sync`` command to completion."""
    return subprocess.run(
        [sys.executable, "-m", "catalog_sync", *args],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
        timeout=TIMEOUT,
    )


def pairs_tracked(tmp_path: Path) -> int | None:
    """Pairs in the state database once the start-up run finished."""
    state = tmp_path / "state" / "catalog-sync.db"
    if not state.exists():
        return None
    with open_state(state) as store:
        return store.count_pairs() if store.last_run() is not None else None


def started(env: Mapping[str, str], tmp_path: Path, *args: str) -> DaemonProcess:
    """A daemon past its start-up reconcile."""
    process = DaemonProcess(env, tmp_path / "daemon.log", args).start()
    try:
        wait_until(lambda: pairs_tracked(tmp_path), timeout=TIMEOUT, what="the start-up run")
    except TimeoutError:
        process.stop()
        raise
    return process


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A datagram socket playing systemd's notify socket."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(tmp_path / "notify.sock"))
        sock.settimeout(TIMEOUT)
        yield sock


def messages_until(sock: socket.socket, wanted: str) -> list[str]:
    """Every notify line received up to and including ``wanted``."""
    lines: list[str] = []
    while wanted not in lines:
        lines.extend(sock.recv(4096).decode().splitlines())
    return lines


def test_sigterm_exits_zero_with_state_committed(env: dict[str, str], tmp_path: Path) -> None:
    """SIGTERM stops the daemon with exit 0 and every applied pair recorded."""
    process = started(env, tmp_path)
    assert process.stop() == 0
    assert pairs_tracked(tmp_path) == 47


def test_systemd_receives_ready_watchdog_and_stopping(
    env: dict[str, str], tmp_path: Path, notify_socket: socket.socket
) -> None:
    """The notify socket gets READY=1, WATCHDOG=1 pings, a STATUS line and STOPPING=1."""
    env |= {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    with DaemonProcess(env, tmp_path / "daemon.log") as process:
        early = messages_until(notify_socket, "WATCHDOG=1")
        process.stop()
        late = messages_until(notify_socket, "STOPPING=1")
    assert "READY=1" in early + late
    assert any(line.startswith("STATUS=") for line in early + late)


def test_second_instance_is_refused_naming_the_first(env: dict[str, str], tmp_path: Path) -> None:
    """A second ``run`` on the same state exits 1 at once, naming the running pid."""
    with DaemonProcess(env, tmp_path / "daemon.log") as first:
        wait_until((tmp_path / "state" / "catalog-sync.db.lock").exists, timeout=TIMEOUT)
        wait_until(lambda: pairs_tracked(tmp_path), timeout=TIMEOUT)
        second = cli(env, "run")
        assert second.returncode == 1
        assert f"pid {first.pid}" in second.stderr


def test_bad_setting_is_named(env: dict[str, str]) -> None:
    """An invalid setting stops ``run`` with exit 2 and a message naming it."""
    result = cli(env | {"CATALOG_SYNC_DEBOUNCE_MS": "soon"}, "run")
    assert result.returncode == 2
    assert "debounce_ms" in result.stderr


def test_missing_catalogs_folder_is_named(env: dict[str, str], tmp_path: Path) -> None:
    """A catalogs folder that does not exist stops ``run`` with exit 2, naming the setting."""
    result = cli(env | {"CATALOG_SYNC_CATALOGS": str(tmp_path / "nowhere")}, "run")
    assert result.returncode == 2
    assert "catalogs:" in result.stderr


def test_status_json_has_every_section(env: dict[str, str], tmp_path: Path) -> None:
    """``status --json`` shows the last run, pairs, the optional sections and the report."""
    with started(env, tmp_path):
        result = cli(env, "status", "--json")
    document = json.loads(result.stdout)
    assert document["pairs_tracked"] == 47
    assert document["last_reconcile"]["counts"]["created"] == 47
    assert Path(document["newest_report"]["html"]).exists()
    assert {"events", "fulfillment_requests", "dead_letters"} <= document.keys()


def test_metrics_endpoint_serves_health_and_series(env: dict[str, str], tmp_path: Path) -> None:
    """``--metrics-port`` serves /healthz and the Prometheus series on loopback."""
    port = free_port()
    with started(env, tmp_path, "--metrics-port", str(port)):
        base = f"http://127.0.0.1:{port}"
        health = wait_until(lambda: _get(f"{base}/healthz"), timeout=TIMEOUT)
        metrics = httpx.get(f"{base}/metrics").text
    assert health.json()["ok"] is True
    assert 'catalog_sync_reconcile_runs_total{kind="reconcile"} 1.0' in metrics
    assert 'catalog_sync_writes_total{kind="create_pair"} 47.0' in metrics
    assert "catalog_sync_api_latency_seconds_bucket" in metrics


def test_sighup_with_a_bad_config_keeps_running(env: dict[str, str], tmp_path: Path) -> None:
    """A reload with an invalid file is refused loudly and the daemon keeps its configuration."""
    config = tmp_path / "catalog-sync.toml"
    config.write_text("audit_interval = 600\n", encoding="utf-8")
    with started(env, tmp_path, "--config", str(config)) as process:
        config.write_text("audit_interval = -1\n", encoding="utf-8")
        assert process.process is not None
        process.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reload failed" in process.output(), timeout=TIMEOUT)
        config.write_text("audit_interval = 900\n", encoding="utf-8")
        process.process.send_signal(signal.SIGHUP)
        wait_until(lambda: "configuration reloaded" in process.output(), timeout=TIMEOUT)
        assert process.process.poll() is None


def test_config_show_masks_the_key(env: dict[str, str], sandbox: RunningSandbox) -> None:
    """``config show`` prints the effective settings without the API key."""
    result = cli(env | {"CATALOG_SYNC_AUDIT_INTERVAL": "42"}, "config", "show", "--json")
    values = json.loads(result.stdout)
    assert values["audit_interval"] == 42.0
    assert values["api_key"] == "**********"
    assert sandbox.api_key not in result.stdout


def _get(url: str) -> httpx.Response | None:
    try:
        return httpx.get(url)
    except httpx.TransportError:
        return None


def test_config_show_hides_webhook_tokens(tmp_path: Path) -> None:
    """A token in a webhook URL's user part, path or query is not printed by config show."""
    env = {
        "CATALOG_SYNC_API_KEY": "sk_test_0123456789abcdef0123456789abcdef",
        "CATALOG_SYNC_NOTIFY_WEBHOOKS": '["https://bot:s3cret@hooks.example.com/x?token=abc123"]',
    }
    result = subprocess.run(
        [sys.executable, "-m", "catalog_sync", "config", "show"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "https://hooks.example.com/..." in result.stdout
    assert "s3cret" not in result.stdout
    assert "abc123" not in result.stdout
    assert "/x" not in result.stdout
