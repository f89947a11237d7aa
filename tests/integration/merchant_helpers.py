"""Shared wiring of the merchant request tests: recorded orders, requests, transmit passes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, NamedTuple

from tests.integration.fulfillment_helpers import DIGITAL, Edge, edge, edge_settings, make_catalog

from catalog_sync.core.merchant_requests import Action, MerchantRequest
from catalog_sync.requests.log import Source, order_requests, submit_request
from catalog_sync.requests.transmitter import PassResult, RequestTransmitter
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import RecordedRequest
from catalog_sync.support.clock import stamp, utc_clock
from catalog_sync.support.settings import Settings


def drop(folder: Path, name: str, text: str) -> Path:
    """Write then rename a request file into place, as the documented drop does."""
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{name}.part"
    partial.write_text(text, encoding="utf-8")
    return partial.replace(folder / name)


async def recorded_order(e: Edge, sandbox: RunningSandbox, items: list[dict[str, Any]]) -> str:
    """Create an accepted order; wait until recorded and any physical line is at the fulfiller."""
    order_id = str(sandbox.create_order(items=items)["id"])

    def ready() -> bool:
        order = e.store.order(order_id)
        return order is not None and all(
            line.fo_item_id is not None for line in order.lines if line.physical
        )

    await e.settle(ready)
    return order_id


def line_ids(e: Edge, order_id: str) -> list[str]:
    """The order's line ids, in order."""
    order = e.store.order(order_id)
    assert order is not None
    return [line.line_id for line in order.lines]


def ask(
    e: Edge,
    order_id: str,
    action: Action,
    *,
    line_id: str | None = None,
    quantity: int | None = None,
    rid: str = "r1",
) -> RecordedRequest:
    """Record a CLI-style request now."""
    request = MerchantRequest(rid, order_id, action, line_id, quantity)
    return submit_request(e.store, request, Source(), stamp(utc_clock()))


async def transmit(e: Edge, settings: Settings) -> PassResult:
    """One ``orders transmit`` pass over the edge's store and handler."""
    return await RequestTransmitter(settings.merchant_requests, e.store, e.handler).transmit_once()


def log(e: Edge, order_id: str) -> dict[str, Any]:
    """The order's request section as ``orders show --json`` prints it."""
    order = e.store.order(order_id)
    assert order is not None
    return order_requests(e.store, order)


def line_statuses(e: Edge, order_id: str) -> list[tuple[str, str, str]]:
    """(request id, line id, status) of every request line of the order."""
    return [
        (r["request_id"], x["line_id"], x["status"])
        for r in log(e, order_id)["requests"]
        for x in r["lines"]
    ]


class DigitalOrder(NamedTuple):
    """An edge with a requests folder, and one recorded order of one digital line."""

    e: Edge
    settings: Settings
    requests: Path
    order_id: str
    line: str


@asynccontextmanager
async def digital_order(
    sandbox: RunningSandbox, tmp_path: Path, *, quantity: int
) -> AsyncIterator[DigitalOrder]:
    """The set-up of most request-file tests: catalog, folder (settle 0), edge, one order."""
    make_catalog(sandbox)
    requests = tmp_path / "requests"
    settings = edge_settings(sandbox, tmp_path, requests=requests, settle_ms=0)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": quantity}])
        (line,) = line_ids(e, order_id)
        yield DigitalOrder(e, settings, requests, order_id, line)
