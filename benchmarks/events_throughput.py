"""Events throughput: how fast queued Digital River events become captures.

``python -m benchmarks.events_throughput [--orders 10000] [--live-orders 1000] [--quick]
[--strict]``

The sandbox runs in its own process (its CPU is not ours); poller and handler run as the
daemon runs them: two tasks, woken by each other, no rate limit unless stated, default
concurrency. Each run first handles one warm-up order, so the poller has its cursor: a
running daemon meeting a burst, not a first start walking 30 days of history.

1. Rate limit off: ``--orders`` orders' worth of events are queued (accepted, fulfillment
   order pending, shipped in one or two parts), then poller and handler run until every
   shipment is captured and every event (including the ones our captures cause) is handled.
   *events/s* = events handled / (last ``handled_at`` - first poll), both our clock.
   *capture lag* = sandbox time of the ``fulfillment.created`` event of a capture minus that
   of its ``fulfillment_order.shipped`` event, or of the first poll when the shipment was
   queued before it (microsecond stamps, one clock). Baseline: the same on a tenth of the
   orders with a handler batch of ONE event, in the same run.
2. Live limit (250/s, sandbox and client): a producer process places ``--live-orders``
   orders at ``--flow`` orders per second (its own key, so none of our budget) while poller
   and handler run; then again while a catalog reconcile of ``--pairs`` pairs runs on the
   SAME client (one rate budget), already writing when the orders start. This pair of runs
   is made ``--rounds`` times (3); in every round the capture lag p99 with the reconcile must
   stay within 2x of the run without, with zero 429s. The reconcile's API calls during the
   run are printed, to show it really competed, and so is where captures waited: p99 of the
   seconds each ``POST /fulfillments`` spent in the limiter (rate budget), waiting for a
   connection slot, and at the server (the client's ``on_timing``). ``--busy-cores N`` keeps N
   other processes spinning during the live runs: a loaded machine, where a slowed sandbox
   queues whatever we send.

``--strict`` exits with status 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import multiprocessing
import sqlite3
import statistics
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import httpx
from pydantic import SecretStr

from benchmarks._common import BenchmarkError, Check, SandboxProcess, sandbox_process, table
from benchmarks.catalog_reconcile import write_catalog
from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler
from catalog_sync.dr import CallTiming, DigitalRiverClient
from catalog_sync.fulfillment.handler import FulfillmentHandler
from catalog_sync.fulfillment.poller import EventPoller
from catalog_sync.sandbox.testing import fulfillment_order_body, item_body, new_test_key, sku_body
from catalog_sync.state import StateBackend, open_state
from catalog_sync.support import logs
from catalog_sync.support.clock import parse_stamp
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import Settings

PRODUCT: Final = "bench-1"
LIVE_RATE: Final = 250.0
_PREP_CONCURRENCY: Final = 32
_CATALOG: Final = frozenset({"skus", "inventory-items"})
#: The reconcile competing with the live runs is a 100,000-pair initial sync.
DEFAULT_PAIRS: Final = 100_000
ROUNDS: Final = 3
_CAPTURE: Final = ("POST", "/fulfillments")


@dataclass(frozen=True)
class CaptureWaits:
    """p99 seconds the run's captures spent in each place (``CallTiming`` of the client)."""

    limiter: float
    slot: float
    server: float

    @classmethod
    def of(cls, timings: Sequence[CallTiming]) -> CaptureWaits:
        """The p99 of each part over ``timings`` (zeros when there were none)."""
        if not timings:
            return cls(0.0, 0.0, 0.0)
        return cls(
            _p99([t.limiter for t in timings]),
            _p99([t.slot for t in timings]),
            _p99([t.server for t in timings]),
        )

    def text(self) -> str:
        """``limiter / slot / server`` in milliseconds."""
        return f"{1000 * self.limiter:.0f} / {1000 * self.slot:.0f} / {1000 * self.server:.0f}"


@dataclass(frozen=True)
class Run:
    """One measured handling run."""

    label: str
    orders: int
    events: int
    seconds: float
    api_calls: int
    catalog_calls: int
    lag_median: float
    lag_p99: float
    rate_limited: int
    waits: CaptureWaits

    @property
    def events_per_second(self) -> float:
        """Events handled per wall second."""
        return self.events / self.seconds if self.seconds else 0.0


def shipments_of(orders: int) -> int:
    """How many shipments (captures to expect) :func:`queue_orders` makes for ``orders``."""
    return sum(_parts(n) for n in range(orders))


def events_of(orders: int) -> int:
    """The events :func:`queue_orders`' orders cause once handled.

    ``order.accepted``, ``fulfillment_order.pending``, ``order.fulfilled`` and
    ``order.complete`` per order; ``fulfillment_order.shipped``, ``fulfillment.created`` and
    ``order.charge.capture.complete`` per shipment (the last three after our capture).
    """
    return 4 * orders + 3 * shipments_of(orders)


def _parts(n: int) -> int:
    """Order ``n`` has 1 + n % 3 units; every other multi-unit order ships in two parts."""
    return 2 if n % 3 and n % 2 else 1


async def queue_orders(
    base_url: str, key: str, orders: int, *, per_second: float | None = None
) -> None:
    """Place ``orders`` orders, create their fulfillment orders, ship them (1 or 2 parts).

    ``per_second`` paces the orders (a steady flow while the handler runs); without it they
    are placed as fast as the sandbox takes them (a queued backlog).
    """
    headers = {"Authorization": f"Bearer {key}"}
    # Idle connections are dropped before the sandbox's 5 s keep-alive ends: a request
    # must never race the server closing its connection (a paced flow leaves them idle).
    limits = httpx.Limits(max_connections=_PREP_CONCURRENCY, keepalive_expiry=1.0)
    async with httpx.AsyncClient(
        base_url=base_url, headers=headers, timeout=120, limits=limits
    ) as api:
        (await api.put(f"/skus/{PRODUCT}", json=sku_body())).raise_for_status()
        item = {"id": PRODUCT, **item_body()}
        if (await api.get(f"/inventory-items/{PRODUCT}")).status_code == httpx.codes.NOT_FOUND:
            (await api.post("/inventory-items", json=item)).raise_for_status()
        gate = asyncio.Semaphore(_PREP_CONCURRENCY)
        loop = asyncio.get_running_loop()
        start = loop.time()

        async def one(n: int) -> None:
            if per_second:
                await asyncio.sleep(max(0.0, start + n / per_second - loop.time()))
            async with gate:
                quantity = 1 + n % 3
                body = {"items": [{"skuId": PRODUCT, "quantity": quantity}]}
                order = (await api.post("/_sandbox/orders", json=body)).raise_for_status().json()
                fo_body = fulfillment_order_body(order)
                fo = (await api.post("/fulfillment-orders", json=fo_body)).raise_for_status().json()
                ship = f"/_sandbox/fulfillment-orders/{fo['id']}/ship"
                if _parts(n) == 2:
                    part = {"items": [{"itemId": order["items"][0]["id"], "quantity": 1}]}
                    (await api.post(ship, json={**part, "trackingNumber": "P1"})).raise_for_status()
                (await api.post(ship, json={"trackingNumber": "P2"})).raise_for_status()

        await asyncio.gather(*(one(n) for n in range(orders)))


def _produce(base_url: str, key: str, orders: int, per_second: float) -> None:
    """Entry point of the producer process (the flow of new orders is not our CPU either)."""
    asyncio.run(queue_orders(base_url, key, orders, per_second=per_second))


async def handle_all(
    sb: SandboxProcess,
    key: str,
    folder: Path,
    *,
    label: str,
    orders: int,
    rate: float | None,
    batch: int = 2000,
    catalog_pairs: int = 0,
    flow: float | None = None,
) -> Run:
    """Handle ``orders`` orders' events as a running daemon would; measure at the sandbox.

    First one warm-up order is polled and handled, so the poller has its cursor (a daemon
    that is already running, not a first start walking 30 days of history). Then, without
    ``flow``, the orders are queued before the clock starts (a backlog); with ``flow``, a
    producer process places ``flow`` orders per second (its own key: none of our budget).
    """
    state_file = folder / f"{label}.db"
    settings = Settings(
        api_key=SecretStr(key),
        api_base=sb.base_url,
        state=state_file,
        rate_limit=rate or 100_000,
        poll_interval=0.05,
    )
    async with DigitalRiverClient.from_settings(settings.api) as client:
        with open_state(settings) as store:
            handler = FulfillmentHandler(
                settings.fulfillment, client, store, Notifier(), batch_size=batch
            )
            poller = EventPoller(
                settings.events, client, store, Notifier(), on_new=handler.wake.set
            )
            warm_up = await _warm_up(sb, key, store, poller, handler)
            if flow is None:
                await queue_orders(sb.base_url, key, orders)
            reconcile = None
            if catalog_pairs:
                reconcile = asyncio.create_task(_reconcile(client, folder, label, catalog_pairs))
                await _until_writing(client, reconcile)
            sb.clear_requests()
            before = Counter(client.stats.calls)
            limited_before = client.stats.rate_limited
            captures: list[CallTiming] = []
            client.on_timing.append(_collect_captures(captures))
            stop = asyncio.Event()
            tasks = [asyncio.create_task(poller.run(stop)), asyncio.create_task(handler.run(stop))]
            if reconcile is not None:
                tasks.append(reconcile)
            started = datetime.now(UTC)
            producer = None
            if flow:
                producer = multiprocessing.get_context("spawn").Process(
                    target=_produce, args=(sb.base_url, new_test_key(), orders, flow)
                )
                producer.start()
            await _until_done(store, events_of(orders) + warm_up, producer)
            if producer is not None:
                producer.join()
            stop.set()
            await asyncio.gather(*tasks[:2])
            for task in tasks[2:]:
                task.cancel()
            await asyncio.gather(*tasks[2:], return_exceptions=True)
            counts = store.inbox_counts()
            events = counts["handled"] + counts["ignored"] - warm_up
            last = _last_handled(state_file)
        rate_limited = client.stats.rate_limited - limited_before
        calls = Counter(client.stats.calls)
        calls.subtract(before)
        catalog = sum(n for (_, kind), n in calls.items() if kind in _CATALOG)
    lags = await _capture_lags(sb, key, started)
    print(f"{label}: {events} events in {(last - started).total_seconds():.1f} s", flush=True)
    return Run(
        label,
        orders,
        events,
        (last - started).total_seconds(),
        sum(calls.values()) - catalog,
        catalog,
        statistics.median(lags),
        _p99(lags),
        rate_limited,
        CaptureWaits.of(captures),
    )


async def _warm_up(
    sb: SandboxProcess,
    key: str,
    store: StateBackend,
    poller: EventPoller,
    handler: FulfillmentHandler,
) -> int:
    """Handle one order completely (cursor set, SKU kind known); returns the events handled."""
    await queue_orders(sb.base_url, key, 1)
    while True:
        new = (await poller.poll_once()).new
        await handler.drain()
        if not new and store.captures_done() and store.count_pending_intents() == 0:
            counts = store.inbox_counts()
            return counts["handled"] + counts["ignored"]


async def _until_done(
    store: StateBackend, events: int, producer: multiprocessing.process.BaseProcess | None
) -> None:
    """Wait (a cheap count, twice a second) until ``events`` events are handled."""
    while True:
        await asyncio.sleep(0.5)
        if producer is not None and producer.exitcode:
            raise BenchmarkError(f"the order producer failed (exit code {producer.exitcode})")
        counts = store.inbox_counts()
        if counts["handled"] + counts["ignored"] >= events:
            return


def _last_handled(path: Path) -> datetime:
    """When the last event was handled (our clock), read straight from the state file."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        (last,) = db.execute("SELECT max(handled_at) FROM inbox").fetchone()
    return parse_stamp(str(last))


def _collect_captures(into: list[CallTiming]) -> Callable[[CallTiming], None]:
    """An ``on_timing`` observer keeping the timings of captures (``POST /fulfillments``)."""

    def collect(timing: CallTiming) -> None:
        if (timing.method, timing.template) == _CAPTURE:
            into.append(timing)

    return collect


async def _until_writing(client: DigitalRiverClient, reconcile: asyncio.Task[None]) -> None:
    """Wait until the reconcile sends catalog writes: measure against its writing, not its
    reading and planning of the catalog."""
    while not any(method != "GET" and kind in _CATALOG for method, kind in client.stats.calls):
        if reconcile.done():
            reconcile.result()
            raise BenchmarkError("the reconcile ended before it wrote anything")
        await asyncio.sleep(0.1)


async def _reconcile(client: DigitalRiverClient, folder: Path, label: str, pairs: int) -> None:
    """A full catalog reconcile on the same client: the rate budget's other customer.

    The catalog is written once per benchmark; each run starts from its own empty state.
    """
    catalogs = folder / f"catalogs-{pairs}"
    if not catalogs.exists():
        catalogs.mkdir()
        write_catalog(catalogs / "catalog.csv", pairs)
    with open_state(folder / f"reconcile-{label}.db") as store:
        reconciler = Reconciler(client, store, catalogs=catalogs, reports=folder / "reports")
        await reconciler.run(ReconcileOptions())


async def _capture_lags(sb: SandboxProcess, key: str, started: datetime) -> list[float]:
    """Seconds from each shipment to its capture, as the sandbox saw them.

    From the ``fulfillment_order.shipped`` event (or the first poll, for events queued before
    it: their wait in the backlog says nothing about us) to the capture's
    ``fulfillment.created`` event; both are microsecond stamps of the one sandbox clock
    (resources only carry whole seconds, too coarse for a lag).
    """
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=sb.base_url, headers=headers, timeout=120) as api:
        shipped = {
            e["data"]["object"]["id"]: max(_time(e["createdTime"]), started)
            for e in await _all(api, "/events", {"types": "fulfillment_order.shipped"})
        }
        captured = {
            e["data"]["object"].get("shipmentId"): _time(e["createdTime"])
            for e in await _all(api, "/events", {"types": "fulfillment.created"})
        }
    return [
        (captured[shipment] - moment).total_seconds()
        for shipment, moment in shipped.items()
        if shipment in captured and captured[shipment] >= started
    ]


async def _all(api: httpx.AsyncClient, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query = {**params, "limit": "100"}
    while True:
        page = (await api.get(path, params=query)).raise_for_status().json()
        found.extend(page["data"])
        if not page["hasMore"]:
            return found
        query["startingAfter"] = page["data"][-1]["id"]


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _spin() -> None:
    """Entry point of a busy-core process: burn CPU until terminated."""
    while True:
        pass


@contextlib.contextmanager
def busy_cores(count: int) -> Iterator[None]:
    """Keep ``count`` processes spinning for the block (other load on the machine)."""
    spinners = [multiprocessing.get_context("spawn").Process(target=_spin) for _ in range(count)]
    for spinner in spinners:
        spinner.start()
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.terminate()
            spinner.join()


async def measure(
    orders: int, live_orders: int, pairs: int, flow: float, *, busy: int = 0, rounds: int = ROUNDS
) -> list[Run]:
    """Every run of the benchmark, in order: one-by-one, batched, then ``rounds`` live pairs."""
    runs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        folder = Path(tmp)
        with sandbox_process(rate_limit=0) as sb:
            for label, size, batch in (
                ("one-by-one", max(1, orders // 10), 1),
                ("batched", orders, 2000),
            ):
                sb.reset()
                key = new_test_key()
                runs.append(
                    await handle_all(
                        sb, key, folder, label=label, orders=size, rate=None, batch=batch
                    )
                )
        with sandbox_process(rate_limit=LIVE_RATE) as sb, busy_cores(busy):
            for round_no in range(1, rounds + 1):
                for label, catalog in (("live", 0), ("live+reconcile", pairs)):
                    sb.reset()
                    runs.append(
                        await handle_all(
                            sb,
                            new_test_key(),
                            folder,
                            label=f"{label} #{round_no}",
                            orders=live_orders,
                            rate=LIVE_RATE,
                            catalog_pairs=catalog,
                            flow=flow,
                        )
                    )
    return runs


def report(runs: Sequence[Run]) -> list[Check]:
    """Print the table and the verdicts: the live rounds are the runs after the first two."""
    header = ["run", "orders", "events", "wall s", "events/s", "API calls/event"]
    header += ["catalog calls", "capture lag median s", "capture lag p99 s", "429s"]
    header += ["capture p99 ms: limiter / slot / server"]
    rows = [
        [
            r.label,
            str(r.orders),
            str(r.events),
            f"{r.seconds:.1f}",
            f"{r.events_per_second:.0f}",
            f"{r.api_calls / max(r.events, 1):.2f}",
            str(r.catalog_calls),
            f"{r.lag_median:.2f}",
            f"{r.lag_p99:.2f}",
            str(r.rate_limited),
            r.waits.text(),
        ]
        for r in runs
    ]
    print(table(header, rows))
    base, batched, *live_runs = runs
    speedup = batched.events_per_second / max(base.events_per_second, 1e-9)
    limited = sum(r.rate_limited for r in live_runs)
    checks = [
        Check(
            "events/s without a limit",
            f"{batched.events_per_second:.0f} ({speedup:.1f}x one-by-one)",
            ">= 1000",
            batched.events_per_second >= 1000,
        )
    ]
    for alone, mixed in zip(live_runs[::2], live_runs[1::2], strict=True):
        checks.append(
            Check(
                f"capture lag p99 with a reconcile ({mixed.label}, {mixed.catalog_calls:,} "
                "catalog calls)",
                f"{mixed.lag_p99:.2f} s vs {alone.lag_p99:.2f} s alone",
                "<= 2x",
                mixed.lag_p99 <= 2 * max(alone.lag_p99, 0.05),
            )
        )
    checks.append(Check("429s at the live limit", str(limited), "0", limited == 0))
    return checks


def main(argv: Sequence[str] | None = None) -> int:
    """Run, print, exit 1 if a target was missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--live-orders", type=int, default=1000)
    parser.add_argument(
        "--pairs", type=int, default=DEFAULT_PAIRS, help="catalog size of the reconcile"
    )
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="live pairs of runs (alone, with reconcile)"
    )
    parser.add_argument(
        "--flow", type=float, default=50.0, help="orders per second placed in the live runs"
    )
    parser.add_argument(
        "--busy-cores", type=int, default=0, help="processes spinning during the live runs"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    args = parser.parse_args(argv)
    logs.configure(level=logging.ERROR)
    if args.quick:
        args.orders, args.live_orders, args.pairs, args.rounds = 200, 50, 100, 1
    runs = asyncio.run(
        measure(
            args.orders,
            args.live_orders,
            args.pairs,
            args.flow,
            busy=args.busy_cores,
            rounds=args.rounds,
        )
    )
    checks = report(runs)
    for check in checks:
        print(check.line())
    return 1 if args.strict and not all(c.passed for c in checks) else 0


if __name__ == "__main__":
    raise SystemExit(main())
