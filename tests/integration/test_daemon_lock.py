"""Commands beside a running daemon: writers are refused or leave the work to it, readers work.

One ``catalog-sync run`` process (on a sandbox of its own, so no other test's orders reach it)
serves the whole module; each command runs as the operator would run it, as a process.
"""

from __future__ import annotations

import functools
import json
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tests.integration.fulfillment_helpers import dr_fulfillments, line_totals

from catalog_sync.daemon.instance_lock import InstanceLock, LockHolder
from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.demo.walkthrough import EXAMPLE_CATALOGS
from catalog_sync.sandbox.testing import RunningSandbox, start_sandbox
from catalog_sync.state import open_state

TIMEOUT = 60.0
PHYSICAL_SKU = "TC-TENT-2P-GRN"


@dataclass(frozen=True)
class Running:
    """The module's daemon, its environment and its sandbox."""

    env: dict[str, str]
    daemon: DaemonProcess
    sandbox: RunningSandbox

    @property
    def names_the_daemon(self) -> str:
        """How a refusal names this daemon."""
        return f"the daemon (catalog-sync run, pid {self.daemon.pid})"


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


def _pairs_tracked(state: Path) -> int:
    if not state.exists():
        return 0
    with open_state(state) as store:
        return store.count_pairs() if store.last_run() is not None else 0


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A daemon past its start-up reconcile of the example catalog, polling every 0.2 s."""
    workdir = tmp_path_factory.mktemp("daemon")
    shutil.copytree(EXAMPLE_CATALOGS, workdir / "catalogs")
    with start_sandbox() as sandbox:
        env = daemon_env(
            base_url=sandbox.base_url,
            api_key=sandbox.api_key,
            workdir=workdir,
            extra={
                "CATALOG_SYNC_POLL_INTERVAL": "0.2",
                "CATALOG_SYNC_REQUESTS": str(workdir / "requests"),
            },
        )
        state = workdir / "state" / "catalog-sync.db"
        with DaemonProcess(env, workdir / "daemon.log") as daemon:
            wait_until(lambda: _pairs_tracked(state) == 47, timeout=TIMEOUT, what="start-up")
            yield Running(env, daemon, sandbox)


def _fulfillment_orders(sandbox: RunningSandbox, order_id: str) -> list[dict[str, Any]]:
    with sandbox.api() as api:
        found = api.get("/fulfillment-orders", params={"upstreamIds": order_id, "limit": "100"})
        data: list[dict[str, Any]] = found.raise_for_status().json()["data"]
    return data


def _some_fulfillment_orders(sandbox: RunningSandbox, order_id: str) -> list[dict[str, Any]] | None:
    """The order's fulfillment orders, ``None`` while there is none (for :func:`wait_until`)."""
    return _fulfillment_orders(sandbox, order_id) or None


def _some_fulfillments(sandbox: RunningSandbox, order_id: str) -> list[dict[str, Any]] | None:
    """The order's captures and cancels, ``None`` while there is none."""
    return dr_fulfillments(sandbox, order_id) or None


WRITERS = [
    ("events", "poll"),
    ("events", "poll", "--loop"),
    ("events", "replay", "--since", "2020-01-01"),
    ("orders", "transmit"),
    ("reconcile",),
    ("reconcile", "--audit"),
    ("reconcile", "--prune"),
]


@pytest.mark.parametrize("args", WRITERS, ids=" ".join)
def test_a_writing_command_is_refused_naming_the_daemon(
    running: Running, args: tuple[str, ...]
) -> None:
    """Exit 1 and one line on stderr naming the daemon's pid; nothing is done."""
    result = cli(running.env, *args)
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert running.names_the_daemon in line
    assert line.startswith(f"catalog-sync: {' '.join(args[:2])}")


READERS = [
    ("status",),
    ("status", "--json"),
    ("orders", "list"),
    ("events", "list"),
    ("events", "retry", "--all"),
    ("config", "show"),
    ("validate",),
    ("plan",),
    ("plan", "--audit"),
    ("reconcile", "--dry-run"),
    ("orders", "report"),
    ("report-schema",),
]


@pytest.mark.parametrize("args", READERS, ids=" ".join)
def test_a_reading_command_works_beside_the_daemon(running: Running, args: tuple[str, ...]) -> None:
    """Commands that write nothing remotely and move no ledger run as usual (exit 0)."""
    result = cli(running.env, *args)
    assert result.returncode == 0, result.stderr
    assert "refused" not in result.stderr


def test_run_beside_events_poll_loop_ships_every_order_once(running: Running) -> None:
    """The double-shipping setup (``run`` + ``events poll --loop`` on one state): the poller
    refuses at once, and each of 20 orders gets one fulfillment order and one capture of its
    2 units."""
    sandbox = running.sandbox
    poller = subprocess.Popen(  # started before the orders exist, as an operator would
        [sys.executable, "-m", "catalog_sync", "events", "poll", "--loop"],
        env=running.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    orders = [sandbox.create_order([{"skuId": PHYSICAL_SKU, "quantity": 2}]) for _ in range(20)]
    _out, err = poller.communicate(timeout=TIMEOUT)
    assert poller.returncode == 1
    assert running.names_the_daemon in err
    for order in orders:
        [fo] = wait_until(
            functools.partial(_some_fulfillment_orders, sandbox, order["id"]),
            timeout=TIMEOUT,
            what="the fulfillment order",
        )
        sandbox.admin.post(f"/_sandbox/fulfillment-orders/{fo['id']}/ship").raise_for_status()
    line_of = {order["id"]: order["items"][0]["id"] for order in orders}
    for order_id, line in line_of.items():
        wait_until(
            functools.partial(_some_fulfillments, sandbox, order_id),
            timeout=TIMEOUT,
            what="the capture",
        )
        assert len(_fulfillment_orders(sandbox, order_id)) == 1
        assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (2, 0)}


def test_a_cancel_with_transmit_beside_the_daemon_is_recorded_and_sent_by_it(
    running: Running,
) -> None:
    """``orders cancel --transmit`` records (exit 0), says the daemon sends it, and it does."""
    sandbox = running.sandbox
    order = sandbox.create_order([{"skuId": PHYSICAL_SKU, "quantity": 2}])
    line = order["items"][0]["id"]
    wait_until(
        functools.partial(_some_fulfillment_orders, sandbox, order["id"]),
        timeout=TIMEOUT,
        what="the fulfillment order",
    )
    result = cli(
        running.env, "orders", "cancel", order["id"], "--item", line, "--quantity", "1",
        "--transmit",
    )  # fmt: skip
    assert result.returncode == 0
    assert f"not transmitted here: {running.names_the_daemon} sends it" in result.stdout
    wait_until(
        lambda: line_totals(dr_fulfillments(sandbox, order["id"])) == {line: (0, 1)},
        timeout=TIMEOUT,
        what="the cancellation",
    )
    shown = json.loads(cli(running.env, "orders", "show", order["id"], "--json").stdout)
    assert [x["status"] for r in shown["requests"] for x in r["lines"]] == ["Completed"]


# -- without a daemon: one-off writers exclude each other, and the daemon waits for them ----
@pytest.fixture
def env(sandbox: RunningSandbox, tmp_path: Path) -> dict[str, str]:
    """A daemon environment (no daemon running) on the session's sandbox."""
    shutil.copytree(EXAMPLE_CATALOGS, tmp_path / "catalogs")
    return daemon_env(base_url=sandbox.base_url, api_key=sandbox.api_key, workdir=tmp_path)


def test_two_event_poll_loops_on_one_state_do_not_run_together(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The second ``events poll --loop`` exits 1 naming the first, which keeps running."""
    lock = tmp_path / "state" / "catalog-sync.db.lock"
    with subprocess.Popen(
        [sys.executable, "-m", "catalog_sync", "events", "poll", "--loop"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as first:
        try:
            wait_until(
                lambda: lock.exists() and LockHolder.parse(lock.read_bytes()).pid == first.pid,
                timeout=TIMEOUT,
                what="the first poller's lock",
            )
            second = cli(env, "events", "poll", "--loop")
            assert first.poll() is None
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(TIMEOUT)
    assert second.returncode == 1
    assert f"another command (catalog-sync events poll --loop, pid {first.pid})" in second.stderr


def test_the_daemon_does_not_start_while_a_command_holds_the_state(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``run`` exits 1 at once, naming the command that holds the state database."""
    state = tmp_path / "state" / "catalog-sync.db"
    with InstanceLock(state, command="orders transmit"):
        result = cli(env, "run")
    assert result.returncode == 1
    assert "cannot start: another command (catalog-sync orders transmit, pid" in result.stderr
    assert "daemon started" not in result.stdout
