"""Requests wait in our limiter, never in a connection pool: slots bound them, by priority.

The server here holds every request until the test lets one go, so what reached it and in
which order is decided by the client alone, with no wall time involved.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync.dr import DigitalRiverClient, FulfillmentCreate, FulfillmentItemCreate, RateBudget
from catalog_sync.dr.testing import FakeClock, settle

SLOTS = 6
CATALOG_CALLS = 50
CAPTURE = FulfillmentCreate(
    order_id="100", shipment_id="s1", items=[FulfillmentItemCreate(item_id="1", quantity=1)]
)


class HoldingServer:
    """Answers nothing until :meth:`let_one_go`; records each request as it arrives."""

    def __init__(self) -> None:
        self.arrived: list[str] = []
        self.at_server = 0
        self.most_at_server = 0
        self._gates: list[asyncio.Event] = []
        self._open = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.arrived.append(f"{request.method} {request.url.path}")
        self.at_server += 1
        self.most_at_server = max(self.most_at_server, self.at_server)
        if not self._open:
            gate = asyncio.Event()
            self._gates.append(gate)
            await gate.wait()
        self.at_server -= 1
        return httpx.Response(200, json=_answer(request))

    def let_one_go(self) -> None:
        """Answer the oldest request still held."""
        self._gates.pop(0).set()

    def let_all_go(self) -> None:
        """Answer everything held now and from now on."""
        self._open = True
        for gate in self._gates:
            gate.set()


def _answer(request: httpx.Request) -> dict[str, Any]:
    if request.url.path == "/fulfillments":
        return {"id": "ful_1", "orderId": "100", "shipmentId": "s1"}
    return {"data": [], "hasMore": False}


async def idle() -> None:
    """Let every task run until it blocks: 100 turns of the loop, no wall time."""
    for _ in range(100):
        await asyncio.sleep(0)


@pytest.fixture
async def held() -> AsyncIterator[tuple[DigitalRiverClient, HoldingServer]]:
    server = HoldingServer()
    clock = FakeClock(auto=True)
    client = DigitalRiverClient(
        base_url="https://api.example.test",
        api_key=SecretStr("sk_test_0123456789abcdef0123456789abcdef"),
        rate_limit=10_000,
        max_concurrency=SLOTS,
        transport=httpx.MockTransport(server),
        budget=RateBudget(10_000, clock=clock, sleep=clock.sleep),
    )
    yield client, server
    server.let_all_go()
    await client.aclose()


async def test_no_more_requests_reach_the_server_than_there_are_slots(
    held: tuple[DigitalRiverClient, HoldingServer],
) -> None:
    """Sixty event reads at once: six are at the server, the rest wait on our side."""
    client, server = held
    calls = [asyncio.create_task(client.list_events()) for _ in range(60)]
    await idle()
    assert len(server.arrived) == SLOTS
    server.let_all_go()
    await asyncio.gather(*calls)
    assert len(server.arrived) == 60
    assert server.most_at_server == SLOTS


async def test_a_capture_queued_after_catalog_calls_goes_out_first(
    held: tuple[DigitalRiverClient, HoldingServer],
) -> None:
    """Every slot held by event reads, 50 catalog calls queued, then a capture: the capture is
    the next request the server sees when a slot frees."""
    client, server = held
    reads = [asyncio.create_task(client.list_events()) for _ in range(SLOTS)]
    await settle(lambda: len(server.arrived) == SLOTS)
    writes = [asyncio.create_task(client.delete_sku(f"sku-{n}")) for n in range(CATALOG_CALLS)]
    await idle()
    capture = asyncio.create_task(client.create_fulfillment(CAPTURE))
    await idle()
    server.let_one_go()
    await settle(lambda: len(server.arrived) == SLOTS + 1)
    assert server.arrived[SLOTS] == "POST /fulfillments"
    server.let_all_go()
    await asyncio.gather(*reads, *writes, capture)
