"""Failover: how long captures stop when the leader dies, and PostgreSQL's speed next to SQLite's.

``python -m benchmarks.ha_failover [--kills 20] [--lease 15] [--orders 300] [--rounds 3]
[--strict]``

1. Failover time. Three ``catalog-sync run`` processes on one PostgreSQL state
   (``benchmarks/_cluster.py``, a throwaway server from tests/postgres_server.py). For each of
   ``--kills`` rounds: an order is placed and its fulfillment order created by the leader; then
   the leader is killed with SIGKILL and, at once, the order is shipped. *Failover time* = the
   sandbox's time of the first capture of that shipment (``POST /fulfillments`` answered 201,
   its request log) minus the moment of the kill, one machine clock: lease expiry, takeover,
   the new leader reading back unknown outcomes, polling the shipment event and capturing it.
   The killed node is started again (as a standby) before the next round.
   Target: median <= lease + 5 s.
2. Events per second. One daemon on SQLite, then one on PostgreSQL, ``--rounds`` times each,
   alternating (the median of each backend's runs counts: a machine busy with other work in
   one moment weighs on both alike). Each run handles the same backlog: ``--orders`` orders
   placed, fulfillment orders created and shipped (1 or 2 parts, as events_throughput queues
   them) while the daemon is frozen (SIGSTOP), then it is woken and timed until every event
   is handled (state read twice a second). Target: PostgreSQL within 2x of SQLite's events/s,
   measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from tests.postgres_server import PostgresServer, server_binaries

from benchmarks._cluster import Cluster
from benchmarks._common import Check, table
from benchmarks.events_throughput import events_of, queue_orders
from catalog_sync.demo.testing import wait_until
from catalog_sync.sandbox.testing import RunningSandbox, create_pair, start_sandbox
from catalog_sync.state import open_state

PRODUCT: Final = "failover-1"
#: Settings of every daemon measured: quick polls, no rate limit in the way.
DAEMON_SETTINGS: Final = {"CATALOG_SYNC_POLL_INTERVAL": "0.2", "CATALOG_SYNC_RATE_LIMIT": "100000"}
#: The lease of the throughput daemons: never runs out while one is frozen for the backlog.
THROUGHPUT_LEASE: Final = "600"


def _fulfillment_order(sandbox: RunningSandbox, order_id: str) -> str | None:
    with sandbox.api() as api:
        found = api.get("/fulfillment-orders", params={"upstreamIds": order_id}).json()
    data: list[dict[str, Any]] = found.get("data", [])
    return str(data[0]["id"]) if data else None


def _capture_time(sandbox: RunningSandbox, order_id: str) -> datetime | None:
    """When the sandbox answered the first capture of ``order_id`` (201), or ``None`` yet."""
    for entry in sandbox.requests():
        body = entry.get("body")
        if (entry["method"], entry["path"], entry["status"]) == ("POST", "/fulfillments", 201) and (
            isinstance(body, dict) and body.get("orderId") == order_id
        ):
            return datetime.fromisoformat(str(entry["time"]))
    return None


def _one_failover(cluster: Cluster, sandbox: RunningSandbox, lease: float) -> float:
    """Kill the leader with a shipment due; seconds until the new leader's capture landed."""
    leader = cluster.wait_leader(timeout=3 * lease + 30)
    order = sandbox.create_order(items=[{"skuId": PRODUCT, "quantity": 1}])
    fo_id = wait_until(
        lambda: _fulfillment_order(sandbox, order["id"]),
        timeout=3 * lease + 30,
        what="the fulfillment order",
    )
    sandbox.clear_requests()
    killed_at = time.time()
    leader.kill()
    sandbox.admin.post(f"/_sandbox/fulfillment-orders/{fo_id}/ship", json={}).raise_for_status()
    captured = wait_until(
        lambda: _capture_time(sandbox, order["id"]),
        timeout=3 * lease + 60,
        interval=0.05,
        what="the new leader's capture",
    )
    leader.start()
    return captured.timestamp() - killed_at


def measure_failovers(
    sandbox: RunningSandbox, url: str, folder: Path, *, kills: int, lease: float
) -> list[float]:
    """Failover seconds of ``kills`` rounds on a three-node cluster."""
    with sandbox.api() as api:
        create_pair(api, PRODUCT)
    settings = {**DAEMON_SETTINGS, "CATALOG_SYNC_LEASE_SECONDS": f"{lease:g}"}
    times = []
    with Cluster(url, sandbox.base_url, sandbox.api_key, folder, settings=settings) as cluster:
        for n in range(kills):
            times.append(_one_failover(cluster, sandbox, lease))
            print(f"failover {n + 1}/{kills}: {times[-1]:.2f} s", flush=True)
    return times


def _handled(location: Path | str) -> int:
    with open_state(location) as store:
        counts = store.inbox_counts()
    return counts["handled"] + counts["ignored"]


def events_per_second(
    sandbox: RunningSandbox, location: Path | str, folder: Path, orders: int
) -> float:
    """Events/s of one daemon on ``location`` working off a backlog of ``orders`` orders."""
    settings = {**DAEMON_SETTINGS, "CATALOG_SYNC_LEASE_SECONDS": THROUGHPUT_LEASE}
    cluster = Cluster(
        str(location), sandbox.base_url, sandbox.api_key, folder, size=1, settings=settings
    )
    with cluster:
        [node] = cluster.nodes
        cluster.wait_leader(timeout=60)
        asyncio.run(queue_orders(sandbox.base_url, sandbox.api_key, 1))
        warm = wait_until(
            lambda: (n := _handled(location)) >= events_of(1) and n,
            timeout=60,
            what="the warm-up order",
        )
        node.signal(signal.SIGSTOP)
        asyncio.run(queue_orders(sandbox.base_url, sandbox.api_key, orders))
        target = warm + events_of(orders)
        started = time.monotonic()
        node.signal(signal.SIGCONT)
        wait_until(lambda: _handled(location) >= target, timeout=600, interval=0.5)
        seconds = time.monotonic() - started
    return events_of(orders) / seconds


def compare_backends(
    sandbox: RunningSandbox, server: PostgresServer, folder: Path, orders: int, rounds: int
) -> tuple[float, float]:
    """Median events/s of SQLite and of PostgreSQL over ``rounds`` alternating runs each, so
    a machine busy with other work in one moment weighs on both alike."""
    runs: dict[str, list[float]] = {"sqlite": [], "postgresql": []}
    for n in range(rounds):
        for backend, runs_of in runs.items():
            sandbox.reset()
            name = f"{backend}-{n}"
            location = folder / f"{name}.db" if backend == "sqlite" else server.new_database()
            runs_of.append(events_per_second(sandbox, location, folder / name, orders))
            print(f"events/s {backend} run {n + 1}/{rounds}: {runs_of[-1]:.0f}", flush=True)
    return statistics.median(runs["sqlite"]), statistics.median(runs["postgresql"])


def report(failovers: Sequence[float], lease: float, sqlite: float, postgres: float) -> list[Check]:
    """The two targets as PASS/FAIL lines."""
    median = statistics.median(failovers)
    return [
        Check(
            "failover median",
            f"{median:.1f} s (max {max(failovers):.1f} s, {len(failovers)} kills,"
            f" lease {lease:g} s)",
            f"<= lease + 5 s = {lease + 5:g} s",
            median <= lease + 5,
        ),
        Check(
            "PostgreSQL events/s",
            f"{postgres:.0f} (SQLite {sqlite:.0f}, {sqlite / postgres:.2f}x)",
            "within 2x of SQLite",
            2 * postgres >= sqlite,
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run both measurements, print the figures and the targets' verdicts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--lease", type=float, default=15.0, help="CATALOG_SYNC_LEASE_SECONDS")
    parser.add_argument("--orders", type=int, default=300, help="backlog of the events/s runs")
    parser.add_argument("--rounds", type=int, default=3, help="events/s runs per backend")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    binaries = server_binaries()
    if binaries is None:
        sys.exit("ha_failover: PostgreSQL server binaries not found; run scripts/system-deps.sh")
    server = PostgresServer(binaries)
    try:
        with start_sandbox(rate_limit=0) as sandbox, tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            failovers = measure_failovers(
                sandbox,
                server.new_database(),
                folder / "cluster",
                kills=args.kills,
                lease=args.lease,
            )
            sqlite, postgres = compare_backends(sandbox, server, folder, args.orders, args.rounds)
    finally:
        server.stop()
    print(
        table(
            ["measure", "value"],
            [
                [
                    "failover median / max",
                    f"{statistics.median(failovers):.1f} s / {max(failovers):.1f} s",
                ],
                ["events/s SQLite", f"{sqlite:.0f}"],
                ["events/s PostgreSQL", f"{postgres:.0f}"],
            ],
        )
    )
    checks = report(failovers, args.lease, sqlite, postgres)
    for check in checks:
        print(check.line())
    return 1 if args.strict and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
