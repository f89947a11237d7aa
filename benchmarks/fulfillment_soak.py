"""Soak: faults on every API call and the handler killed with SIGKILL, over and over.

``python -m benchmarks.fulfillment_soak [--cycles 25] [--orders 8] [--seed 1]`` starts a
sandbox, places orders, then repeats: start ``catalog-sync events poll --loop`` in a
subprocess, let it work a random number of API calls, SIGKILL it, and move the fulfiller on
(partial shipment, a cancellation, the rest). 20% of API calls fail (429 / 500 / 503 / resets)
or lose their answer after the write was applied. At the end, with faults off, every order
must have captures + cancels equal to its quantities at the sandbox, one fulfillment order,
one capture per shipment, and every event handled. The test suite runs a reduced version.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn

import httpx

from catalog_sync.fulfillment.poller import EVENT_TYPES
from catalog_sync.sandbox.testing import RunningSandbox, create_pair, start_sandbox
from catalog_sync.state import open_state

PRODUCT: Final = "soak-1"
FAULTS: Final = {
    "rate": 0.15,
    "statuses": [429, 500, 503],
    "reset": 0.03,
    "after_commit": 0.1,
}
#: Fulfiller moves applied to each order, one per cycle once its fulfillment order exists.
_MOVES: Final = ("ship_one", "cancel_one", "ship_rest")
_WAIT_STEP: Final = 0.02


@dataclass
class SoakResult:
    """What the soak checked; ``problems`` is empty when all invariants hold."""

    cycles: int
    orders: int
    kills: int = 0
    problems: list[str] = field(default_factory=list)


def _env(sandbox: RunningSandbox, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_STATE": str(state),
        "CATALOG_SYNC_POLL_INTERVAL": "0.1",
        "CATALOG_SYNC_RATE_LIMIT": "500",
        "CATALOG_SYNC_RETRY_INITIAL_BACKOFF": "0.01",
        "CATALOG_SYNC_RETRY_MAX_BACKOFF": "0.05",
        "CATALOG_SYNC_HANDLER_MAX_ATTEMPTS": "30",
    }


def _start(sandbox: RunningSandbox, state: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "catalog_sync", "events", "poll", "--loop"],
        env=_env(sandbox, state),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _run_for(proc: subprocess.Popen[bytes], sandbox: RunningSandbox, calls: int) -> None:
    """Let the handler make ``calls`` more API calls (or 3 s pass), then SIGKILL it."""
    target = len(sandbox.requests()) + calls
    deadline = time.monotonic() + 3.0
    while len(sandbox.requests()) < target and time.monotonic() < deadline:
        try:
            proc.wait(timeout=_WAIT_STEP)
        except subprocess.TimeoutExpired:
            continue
        break
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _move(sandbox: RunningSandbox, fo_id: str, line_id: str, move: str) -> None:
    paths = {"ship_one": "ship", "cancel_one": "cancel", "ship_rest": "ship"}
    body: dict[str, Any] = {"trackingNumber": f"T-{move}"}
    if move != "ship_rest":
        body["items"] = [{"itemId": line_id, "quantity": 1}]
    sandbox.admin.post(f"/_sandbox/fulfillment-orders/{fo_id}/{paths[move]}", json=body)


def run_soak(
    sandbox: RunningSandbox, folder: Path, *, cycles: int, orders: int, seed: int
) -> SoakResult:
    """Run the scenario against a reset sandbox; returns the invariants that failed."""
    rng = random.Random(seed)
    state = folder / "soak.db"
    placed = place_orders(sandbox, rng, orders)
    progress = dict.fromkeys((o["id"] for o in placed), 0)
    sandbox.set_faults(**FAULTS, seed=seed)
    result = SoakResult(cycles, orders)
    for _ in range(cycles):
        _run_for(_start(sandbox, state), sandbox, rng.randint(1, 40))
        result.kills += 1
        advance(sandbox, state, placed, progress)
    sandbox.clear_faults()
    _finish(sandbox, state, placed, progress)
    result.problems = check(sandbox, state, placed)
    return result


def place_orders(sandbox: RunningSandbox, rng: random.Random, orders: int) -> list[dict[str, Any]]:
    """The soak's product and ``orders`` orders of two lines each (3-5 and 1-2 units)."""
    with sandbox.api() as api:
        create_pair(api, PRODUCT)
    return [
        sandbox.create_order(
            items=[
                {"skuId": PRODUCT, "quantity": rng.randint(3, 5)},
                {"skuId": PRODUCT, "quantity": rng.randint(1, 2)},
            ]
        )
        for _ in range(orders)
    ]


def advance(
    sandbox: RunningSandbox,
    state: Path | str,
    placed: list[dict[str, Any]],
    progress: dict[str, int],
) -> None:
    """Move each order whose fulfillment order we know one step along the fulfiller's path:
    ship one unit, cancel one, ship the rest (one move per call)."""
    if isinstance(state, Path) and not state.exists():
        return
    with open_state(state) as store:
        known = store.orders_by_id(progress)
    for order in placed:
        ours = known.get(order["id"])
        step = progress[order["id"]]
        if ours is None or ours.fulfillment_order_id is None or step >= len(_MOVES):
            continue
        _move(sandbox, ours.fulfillment_order_id, order["items"][0]["id"], _MOVES[step])
        progress[order["id"]] = step + 1


def _finish(
    sandbox: RunningSandbox, state: Path, placed: list[dict[str, Any]], progress: dict[str, int]
) -> None:
    """Without faults or kills: apply the remaining moves and let every order complete."""
    proc = _start(sandbox, state)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            advance(sandbox, state, placed, progress)
            with open_state(state) as store:
                states = {o.state for o in store.orders_by_id(progress).values()}
                idle = store.inbox_counts()["received"] == 0
            if states == {"complete"} and len(progress) == len(placed) and idle:
                return
            try:
                proc.wait(timeout=0.2)
            except subprocess.TimeoutExpired:
                continue
            proc = _start(sandbox, state)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def check(sandbox: RunningSandbox, state: Path | str, placed: list[dict[str, Any]]) -> list[str]:
    """Every invariant of the fulfillment ledger, asserted at the sandbox; returns what failed."""
    problems: list[str] = []
    with sandbox.api() as api, open_state(state) as store:
        problems.extend(p for order in placed for p in _check_order(api, order))
        handled = {
            e.id for e in store.inbox_events(limit=1_000_000) if e.status in {"handled", "ignored"}
        }
        problems.extend(
            f"event {event['id']} ({event['type']}) not handled"
            for event in _all(api, "/events", {"types": ",".join(EVENT_TYPES)})
            if event["id"] not in handled
        )
    return problems


def _check_order(api: httpx.Client, order: dict[str, Any]) -> list[str]:
    problems: list[str] = []
    fos = _all(api, "/fulfillment-orders", {"upstreamIds": order["id"]})
    if len(fos) != 1:
        problems.append(f"order {order['id']}: {len(fos)} fulfillment orders")
    found = _all(api, "/fulfillments", {"orderId": order["id"]})
    per_shipment = Counter(f.get("shipmentId") for f in found if f.get("shipmentId"))
    problems.extend(
        f"order {order['id']}: shipment {s} captured {n} times"
        for s, n in per_shipment.items()
        if n > 1
    )
    for line in order["items"]:
        done = sum(
            i["quantity"] + i["cancelQuantity"]
            for f in found
            for i in f["items"]
            if i["itemId"] == line["id"]
        )
        if done != line["quantity"]:
            problems.append(
                f"order {order['id']} line {line['id']}: {done} of {line['quantity']} settled"
            )
    return problems


def _all(api: httpx.Client, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = {**params, "limit": "100"}
    while True:
        page = api.get(path, params=query).raise_for_status().json()
        found.extend(page["data"])
        if not page["hasMore"]:
            return found
        query["startingAfter"] = page["data"][-1]["id"]


def main() -> None:
    """Run the soak and print its verdict; exit 1 if an invariant failed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=25)
    parser.add_argument("--orders", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    import tempfile  # noqa: PLC0415 - only the script needs it

    with start_sandbox() as sandbox, tempfile.TemporaryDirectory() as folder:
        started = time.monotonic()
        result = run_soak(
            sandbox, Path(folder), cycles=args.cycles, orders=args.orders, seed=args.seed
        )
    seconds = time.monotonic() - started
    verdict(
        f"soak: {result.kills} SIGKILLs, {result.orders} orders, {seconds:.1f} s", result.problems
    )


def verdict(summary: str, problems: list[str]) -> NoReturn:
    """Print ``summary`` with the number of problems, each problem, and exit 1 if any."""
    print(f"{summary}, {len(problems)} problems")
    for problem in problems:
        print(f"  {problem}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
