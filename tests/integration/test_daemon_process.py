"""``catalog-sync run`` as a process: signals, systemd notifications, lock, config, status."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.demo.walkthrough import EXAMPLE_CATALOGS
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import InboxEvent, open_state

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


# -- SIGHUP: each test observes what a reload changes, never only that it was logged ----------
#: Generous: a reload's effect must show within it even on a loaded machine.
EFFECT_TIMEOUT = 60.0
#: A physical product of the example catalogs: its order gets a fulfillment order.
TENT = "TC-TENT-2P-GRN"
#: An event about an order Digital River does not know: deferred and retried until dead.
STUCK = {
    "id": "stuck-1",
    "type": "fulfillment_order.pending",
    "liveMode": False,
    "data": {"object": {"id": "fo-none", "upstreamId": "order-nobody-placed"}},
}


def _state(tmp_path: Path) -> Path:
    return tmp_path / "state" / "catalog-sync.db"


def polled_once(tmp_path: Path) -> bool:
    """Whether the poller has finished a pass (it is then asleep until the next)."""
    with open_state(_state(tmp_path)) as store:
        return store.event_cursor().last_poll_at is not None


def inbox_event(tmp_path: Path, event_id: str) -> InboxEvent | None:
    """The inbox row of ``event_id`` as the daemon last committed it."""
    with open_state(_state(tmp_path)) as store:
        return store.inbox_event(event_id)


def fulfillment_order_of(sandbox: RunningSandbox, order_id: str) -> dict[str, Any] | None:
    """The fulfillment order the daemon created for ``order_id``, once it has."""
    with sandbox.api() as api:
        found = api.get("/fulfillment-orders", params={"upstreamIds": order_id})
        data: list[dict[str, Any]] = found.json()["data"]
    return data[0] if data else None


def reload(process: DaemonProcess, config: Path, text: str) -> None:
    """Rewrite the config file and send SIGHUP."""
    config.write_text(text, encoding="utf-8")
    assert process.process is not None
    process.process.send_signal(signal.SIGHUP)


def test_sighup_with_a_bad_config_keeps_the_running_configuration(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A reload with an invalid file is refused loudly and none of it is applied.

    The refused file also asks for an hourly poll: had that part been taken, the order placed
    afterwards would not be handled within the deadline.
    """
    config = tmp_path / "catalog-sync.toml"
    config.write_text("poll_interval = 0.2\n", encoding="utf-8")
    with started(env, tmp_path, "--config", str(config)) as process:
        reload(process, config, "poll_interval = 3600\naudit_interval = -1\n")
        wait_until(lambda: "configuration reload failed" in process.output(), timeout=TIMEOUT)
        order = sandbox.create_order([{"skuId": TENT, "quantity": 1}])
        wait_until(
            lambda: fulfillment_order_of(sandbox, order["id"]),
            timeout=EFFECT_TIMEOUT,
            what="the order to be handled at the running poll interval",
        )
        assert process.process is not None
        assert process.process.poll() is None


def test_sighup_applies_a_shorter_poll_interval_to_a_sleeping_poller(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Asleep on an hourly poll, the daemon handles a new order soon after SIGHUP asks for 0.2 s.

    Nothing but the poll reads events, so under the old interval the fulfillment order could
    not appear before the deadline.
    """
    config = tmp_path / "catalog-sync.toml"
    config.write_text("poll_interval = 3600\n", encoding="utf-8")
    with started(env, tmp_path, "--config", str(config)) as process:
        wait_until(lambda: polled_once(tmp_path), timeout=TIMEOUT, what="the first poll")
        order = sandbox.create_order([{"skuId": TENT, "quantity": 1}])
        reload(process, config, "poll_interval = 0.2\n")
        wait_until(
            lambda: fulfillment_order_of(sandbox, order["id"]),
            timeout=EFFECT_TIMEOUT,
            what="the order to be handled at the new poll interval",
        )


def test_sighup_applies_a_lower_handler_max_attempts(
    env: dict[str, str], tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """An event failing under 1000 allowed tries is a dead letter soon after SIGHUP allows 2.

    With doubling waits, 1000 tries would keep it retrying for days.
    """
    config = tmp_path / "catalog-sync.toml"
    config.write_text("poll_interval = 0.2\nhandler_max_attempts = 1000\n", encoding="utf-8")
    with started(env, tmp_path, "--config", str(config)) as process:
        sandbox.admin.post("/_sandbox/events", json=STUCK).raise_for_status()

        def tried() -> bool:
            row = inbox_event(tmp_path, "stuck-1")
            return row is not None and row.attempts >= 1

        wait_until(tried, timeout=EFFECT_TIMEOUT, what="a first failed try")
        reload(process, config, "poll_interval = 0.2\nhandler_max_attempts = 2\n")
        wait_until(
            lambda: getattr(inbox_event(tmp_path, "stuck-1"), "status", None) == "dead",
            timeout=EFFECT_TIMEOUT,
            what="the event to become a dead letter",
        )
    row = inbox_event(tmp_path, "stuck-1")
    assert row is not None
    tries = re.search(r"\(after (\d+) attempts\)", row.last_error or "")
    assert tries is not None
    assert int(tries.group(1)) < 1000


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


def test_the_daemon_writes_the_day_s_activity_report(env: dict[str, str], tmp_path: Path) -> None:
    """Beside the reconcile reports, ``activity-<today>.json`` and its page, for today (UTC)."""
    first_day = datetime.now(UTC).date()
    process = started(env, tmp_path)
    try:
        latest = tmp_path / "reports" / "activity-latest.json"
        wait_until(latest.exists, timeout=TIMEOUT, what="the activity report")
        report = json.loads(latest.read_text())
    finally:
        process.stop()
    days = {f"{day:%Y-%m-%d}" for day in (first_day, datetime.now(UTC).date())}  # midnight
    assert (
        latest.resolve().name == f"activity-{report['since'][:10]}.json",
        report["since"][:10] in days,
        (tmp_path / "reports" / "activity-latest.html").resolve().exists(),
    ) == (True, True, True)
