"""Soak of a multi-node deployment: three daemons on one PostgreSQL, the leader killed, frozen and
the database restarted, under API faults.

``python -m benchmarks.ha_soak [--kills 20] [--freezes 3] [--orders 8] [--lease 3] [--seed 1]``
starts a throwaway PostgreSQL server (tests/postgres_server.py), a sandbox and three
``catalog-sync run`` processes on one ``postgresql://`` state (``benchmarks/_cluster.py``).
20% of API calls fail (429 / 500 / 503, connection resets) or lose their answer after the write
was applied. Orders of two lines are shipped in parts and partly cancelled by the fulfiller
while, in a random order: the leader is killed with SIGKILL ``--kills`` times, each at a random
moment (after 1 to 40 API calls of its own), and started again (it comes back as a standby);
frozen with SIGSTOP ``--freezes`` times until another node has taken the lease, then woken with
SIGCONT; and PostgreSQL is restarted once. Then, faults off, every order is driven to complete.

The verdict is the single-node soak's (benchmarks/fulfillment_soak.py), read from the sandbox's
own fulfillments: captures + cancels equal each line's quantity, one fulfillment order per
order, one capture per shipment; and every event the sandbox lists is handled.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tests.postgres_server import PostgresServer, server_binaries

from benchmarks._cluster import Cluster, Node
from benchmarks.fulfillment_soak import advance, check, place_orders, verdict
from catalog_sync.demo.testing import wait_until
from catalog_sync.sandbox.testing import RunningSandbox, start_sandbox
from catalog_sync.state import open_state

#: 20% of API calls: 10% error statuses, 3% resets, 7% answers dropped after the write applied.
FAULTS: Final = {"rate": 0.10, "statuses": [429, 500, 503], "reset": 0.03, "after_commit": 0.07}
#: The daemons' settings besides the state: quick polls and retries, so a soak takes minutes.
DAEMON_SETTINGS: Final = {
    "CATALOG_SYNC_POLL_INTERVAL": "0.1",
    "CATALOG_SYNC_RATE_LIMIT": "500",
    "CATALOG_SYNC_RETRY_INITIAL_BACKOFF": "0.01",
    "CATALOG_SYNC_RETRY_MAX_BACKOFF": "0.05",
    "CATALOG_SYNC_HANDLER_MAX_ATTEMPTS": "30",
}
#: API calls a leader makes before it is disrupted: a random moment of its work.
_WORK_CALLS: Final = (1, 40)


@dataclass
class HaSoakResult:
    """What the soak did and which invariants failed (``problems`` empty: all held)."""

    orders: int
    kills: int = 0
    freezes: int = 0
    database_restarts: int = 0
    problems: list[str] = field(default_factory=list)


def _requests_seen(sandbox: RunningSandbox) -> int:
    """How many API requests the sandbox has logged (its stats: no log transferred)."""
    count: int = sandbox.admin.get("/_sandbox/stats").raise_for_status().json()["requests"]
    return count


def _work(leader: Node, sandbox: RunningSandbox, calls: int, timeout: float) -> None:
    """Let the leader make ``calls`` more API calls (or ``timeout`` seconds pass, or it stop
    leading): a random moment of its work."""
    target = _requests_seen(sandbox) + calls
    with contextlib.suppress(TimeoutError):
        wait_until(
            lambda: _requests_seen(sandbox) >= target or leader.role() != "leader",
            timeout=timeout,
            interval=0.05,
        )


def _freeze(cluster: Cluster, leader: Node, lease: float) -> None:
    """SIGSTOP the leader until another node leads (its lease ran out), then SIGCONT it."""
    leader.signal(signal.SIGSTOP)
    try:
        cluster.wait_leader(timeout=3 * lease + 30, besides=leader)
    finally:
        leader.signal(signal.SIGCONT)


def run_ha_soak(
    sandbox: RunningSandbox,
    server: PostgresServer,
    folder: Path,
    *,
    kills: int,
    freezes: int,
    orders: int,
    lease: float,
    seed: int,
) -> HaSoakResult:
    """Run the scenario against a reset sandbox and a new database; returns what failed."""
    rng = random.Random(seed)
    url = server.new_database()
    placed = place_orders(sandbox, rng, orders)
    progress = dict.fromkeys((o["id"] for o in placed), 0)
    steps = ["kill"] * kills + ["freeze"] * freezes
    rng.shuffle(steps)
    steps.insert(len(steps) // 2, "restart database")
    result = HaSoakResult(orders)
    settings = {**DAEMON_SETTINGS, "CATALOG_SYNC_LEASE_SECONDS": f"{lease:g}"}
    takeover = 3 * lease + 30
    with Cluster(url, sandbox.base_url, sandbox.api_key, folder, settings=settings) as cluster:
        sandbox.set_faults(**FAULTS, seed=seed)
        for step in steps:
            leader = cluster.wait_leader(timeout=takeover)
            advance(sandbox, url, placed, progress)
            _work(leader, sandbox, rng.randint(*_WORK_CALLS), timeout=3.0)
            if step == "kill":
                leader.kill()
                leader.start()
                result.kills += 1
            elif step == "freeze":
                _freeze(cluster, leader, lease)
                result.freezes += 1
            else:
                server.restart()
                result.database_restarts += 1
        sandbox.clear_faults()
        _finish(sandbox, url, placed, progress, timeout=120 + takeover)
    result.problems = check(sandbox, url, placed)
    return result


def _finish(
    sandbox: RunningSandbox,
    url: str,
    placed: list[dict[str, Any]],
    progress: dict[str, int],
    *,
    timeout: float,
) -> None:
    """Without faults: apply the remaining moves until every order is complete, nothing due."""

    def complete() -> bool:
        advance(sandbox, url, placed, progress)
        with open_state(url) as store:
            known = store.orders_by_id(progress)
            idle = store.inbox_counts()["received"] == 0
        states = {o.state for o in known.values()}
        return len(known) == len(placed) and states == {"complete"} and idle

    try:
        wait_until(complete, timeout=timeout, interval=0.2, what="every order to complete")
    except TimeoutError:
        return  # the check says which order did not settle


def main() -> None:
    """Run the soak and print its verdict; exit 1 if an invariant failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--freezes", type=int, default=3)
    parser.add_argument("--orders", type=int, default=8)
    parser.add_argument("--lease", type=float, default=3.0, help="CATALOG_SYNC_LEASE_SECONDS")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    binaries = server_binaries()
    if binaries is None:
        sys.exit("ha_soak: PostgreSQL server binaries not found; run scripts/system-deps.sh")
    server = PostgresServer(binaries)
    started = time.monotonic()
    try:
        with start_sandbox(rate_limit=0) as sandbox, tempfile.TemporaryDirectory() as folder:
            result = run_ha_soak(
                sandbox,
                server,
                Path(folder),
                kills=args.kills,
                freezes=args.freezes,
                orders=args.orders,
                lease=args.lease,
                seed=args.seed,
            )
    finally:
        server.stop()
    verdict(
        f"ha soak: 3 nodes, {result.kills} SIGKILLs, {result.freezes} SIGSTOPs past the lease, "
        f"{result.database_restarts} database restart, {result.orders} orders, "
        f"{time.monotonic() - started:.1f} s",
        result.problems,
    )


if __name__ == "__main__":
    main()
