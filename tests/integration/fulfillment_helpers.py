"""Shared wiring of the fulfillment integration tests: settings, the in-process edge, waiting."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from catalog_sync.dr import DigitalRiverClient, RetryPolicy
from catalog_sync.fulfillment.handler import FulfillmentHandler
from catalog_sync.fulfillment.poller import EventPoller
from catalog_sync.sandbox.testing import RunningSandbox, create_pair
from catalog_sync.state import StateBackend, open_state
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.notifications import JsonlSink, Notifier
from catalog_sync.support.settings import Settings

PHYSICAL = "w-1"
DIGITAL = "d-1"


def edge_settings(
    sandbox: RunningSandbox, folder: Path, state: Path | str | None = None, **extra: Any
) -> Settings:
    """Settings pointing at the sandbox, notifications under ``folder``, the state at ``state``
    (the ``state_location`` fixture: either backend) or in ``folder``."""
    return Settings(
        api_key=sandbox.api_key,
        api_base=sandbox.base_url,
        state=folder / "state.db" if state is None else state,
        rate_limit=2000,
        poll_interval=0.2,
        notify_jsonl=folder / "notify.jsonl",
        retry_initial_backoff=0.01,
        retry_max_backoff=0.05,
        **extra,
    )


def make_catalog(sandbox: RunningSandbox) -> None:
    """One physical and one digital product."""
    with sandbox.api() as api:
        create_pair(api, PHYSICAL)
        create_pair(api, DIGITAL, taxCode="4512.100_A")


@dataclass
class Edge:
    """The poller and handler of one state database, in this process."""

    store: StateBackend
    poller: EventPoller
    handler: FulfillmentHandler

    async def settle(self, done: Callable[[], bool], within: float = 30.0) -> None:
        """Poll and handle until ``done()`` holds; fail after ``within`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not done():
            assert loop.time() < deadline, "the edge did not reach the expected state in time"
            await self.poller.poll_once()
            await self.handler.drain()


@asynccontextmanager
async def edge(
    settings: Settings, metrics: Metrics | None = None, *, retry_base: float = 0.01
) -> AsyncIterator[Edge]:
    """The edge of ``settings`` (exporting to ``metrics`` if given); handler retries wait
    ``retry_base`` first (fast by default)."""
    notifier = Notifier([JsonlSink(settings.notify.jsonl or Path("notify.jsonl"))])
    fast = replace(settings.fulfillment, retry_base=retry_base)
    with open_state(settings) as store:
        async with DigitalRiverClient.from_settings(settings.api) as client:
            client.retry = RetryPolicy(attempts=6, initial_backoff=0.01, max_backoff=0.05)
            handler = FulfillmentHandler(fast, client, store, notifier, metrics=metrics)
            poller = EventPoller(settings.events, client, store, notifier, on_new=handler.wake.set)
            yield Edge(store, poller, handler)


def dr_fulfillments(sandbox: RunningSandbox, order_id: str) -> list[dict[str, Any]]:
    """The order's fulfillments as the sandbox holds them (``GET /fulfillments?orderId=``)."""
    with sandbox.api() as api:
        found: list[dict[str, Any]] = []
        after: str | None = None
        while True:
            params = {"orderId": order_id, "limit": "100"}
            if after:
                params["startingAfter"] = after
            page = api.get("/fulfillments", params=params).raise_for_status().json()
            found.extend(page["data"])
            if not page["hasMore"]:
                return found
            after = page["data"][-1]["id"]


def line_totals(fulfillments: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """(captured, cancelled) per order line over fulfillments."""
    totals: dict[str, tuple[int, int]] = {}
    for f in fulfillments:
        for item in f["items"]:
            cap, can = totals.get(item["itemId"], (0, 0))
            totals[item["itemId"]] = (cap + item["quantity"], can + item["cancelQuantity"])
    return totals


def admin_post(sandbox: RunningSandbox, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """POST to the sandbox's admin API; returns the JSON answer."""
    response: httpx.Response = sandbox.admin.post(path, json=body)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def posts(sandbox: RunningSandbox, path: str) -> list[dict[str, object]]:
    """The POST requests the sandbox received on ``path``, oldest first."""
    return [r for r in sandbox.requests() if r["method"] == "POST" and r["path"] == path]


@contextmanager
def events_poll_loop(env: Mapping[str, str], log: Path) -> Iterator[None]:
    """``catalog-sync events poll --loop`` in a child process, stopped with SIGTERM."""
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "catalog_sync", "events", "poll", "--loop"],
            env=dict(env),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
