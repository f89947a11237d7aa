"""Backends and sample data for the storage contract tests.

Every backend the state can be opened on is one entry of :data:`BACKENDS`: a function from the
test's temporary folder to a fresh, empty location (a path, or a URL of a new database). The
contract tests run once per entry, so a new backend is proven by adding its entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final

from tests.postgres_server import new_postgres_database

from catalog_sync.core.merchant_requests import MerchantRequest, accept_request
from catalog_sync.core.orders import Intent, IntentKind, LineClaim, Order, OrderLine, Origin
from catalog_sync.state import (
    InboxEvent,
    LedgerReader,
    LedgerWrites,
    RecordedRequest,
    RequestClaims,
    RequestLineRecord,
    RequestRecord,
    StateBackend,
)

#: Where a state is: an SQLite path or a PostgreSQL URL (what ``open_state`` takes).
StateLocation = Path | str
#: Backend name -> a fresh, empty location under the test's temporary folder.
BACKENDS: Final[Mapping[str, Callable[[Path], StateLocation]]] = {
    "sqlite": lambda folder: folder / "state.db",
    "postgresql": new_postgres_database,
}

NOW: Final = "2026-01-01T00:00:00.000000Z"
LATER: Final = "2026-01-01T00:00:10.000000Z"
LATEST: Final = "2026-01-01T00:01:00.000000Z"

Claim = Callable[[LedgerReader], tuple[RequestClaims, RecordedRequest]]


def an_order(order_id: str = "o1", quantity: int = 2, state: str = "accepted") -> Order:
    """An accepted order of one digital line ``L1``."""
    return Order(order_id, state, "USD", (OrderLine("L1", "sku-1", quantity, physical=False),))


#: The event the intents of these tests were decided on, unless a test says otherwise.
AN_EVENT = Origin.event("e1")


def an_intent(
    order_id: str = "o1",
    key: str = "capture:s1",
    *,
    quantity: int = 1,
    kind: IntentKind = "capture",
    origin: Origin = AN_EVENT,
) -> Intent:
    """A pending intent claiming ``quantity`` units of line ``L1``."""
    claims = (LineClaim("L1", quantity, quantity),)
    return Intent(key, kind, order_id, {"orderId": order_id}, claims, origin)


def an_event(
    event_id: str = "e1",
    created: str = NOW,
    *,
    kind: str = "order.complete",
    status: str = "received",
    answer_to: str | None = None,
) -> InboxEvent:
    """An inbox event with a small payload."""
    payload = {"id": event_id, "type": kind, "data": {"object": {"id": "o1"}}}
    return InboxEvent(event_id, kind, created, payload, status, answer_to=answer_to)


def store_order(store: StateBackend, order: Order, now: str = NOW) -> None:
    """Record an order (as the handler does when an order is accepted)."""
    store.commit_ledger(LedgerWrites(orders={order.order_id: order}), now)


def fulfil_request(order_id: str, request_id: str, quantity: int) -> Claim:
    """A claim of ``quantity`` units of line ``L1`` for a merchant fulfil, decided by the core.

    It reads the order and its ledger through the reader, as the request log does, so it is
    refused (``RequestRefusedError``) when the units are no longer open.
    """

    def decide(reader: LedgerReader) -> tuple[RequestClaims, RecordedRequest]:
        order = reader.order(order_id)
        assert order is not None
        request = MerchantRequest(request_id, order_id, "fulfill", "L1", quantity)
        intents = accept_request(order, [e.intent for e in reader.ledger(order_id)], request)
        record = RequestRecord(request_id, order_id, "fulfill", "L1", quantity, "cli", None, NOW)
        lines = tuple(
            RequestLineRecord(request_id, c.line_id, c.quantity, "digital_fulfill", i.key)
            for i in intents
            for c in i.lines
        )
        recorded = RecordedRequest(record, lines, intents)
        claims = RequestClaims(requests=(recorded,), history=((order_id, f"request {request_id}"),))
        return claims, recorded

    return decide


def claimed_units(store: StateBackend, order_id: str = "o1") -> int:
    """Units of line ``L1`` held by the order's live intents."""
    return sum(e.intent.claim("L1") for e in store.ledger(order_id))
