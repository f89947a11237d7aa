"""Request statuses, derived purely from what the request log and the ledger know.

``line_state`` replays those facts through the request-status table; ``request_status`` takes
the least advanced line; ``fulfiller_answer`` reads the fulfiller's answer to a cancellation.
No storage is involved: the facts are plain values here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from catalog_sync.core.merchant_requests import (
    ROUTE_OF_KIND,
    MerchantRequest,
    accept_request,
    awaited_answer,
    fulfiller_answer,
    is_open_request,
    line_state,
    request_status,
)
from catalog_sync.core.orders import (
    INTENT_STATUSES,
    Intent,
    IntentStatus,
    Order,
    OrderLine,
    Origin,
)

INTENT = Intent("request:r1:capture", "capture", "100", {}, (), Origin.request("r1"))


@dataclass(frozen=True)
class _Line:
    """A request line as the request log knows it."""

    retries: int = 0
    retried_message: str | None = None


@dataclass(frozen=True)
class _Write:
    """The write carrying a line, as the ledger knows it."""

    intent: Intent
    attempts: int = 0
    parked: bool = False
    last_error: str | None = None
    reference: str | None = None


def write(
    *,
    status: IntentStatus = "pending",
    attempts: int = 0,
    parked: bool = False,
    error: str | None = None,
    reference: str | None = None,
) -> _Write:
    """The write of the test request in ``status``."""
    intent = Intent(INTENT.key, INTENT.kind, "100", {}, (), INTENT.origin, status=status)
    return _Write(intent, attempts, parked and status == "pending", error, reference)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        (write(), ("Open", 0, None)),
        (write(attempts=2, error="503"), ("Reprocess", 2, "503")),
        (write(attempts=3, parked=True, error="503"), ("Failed", 3, "503")),
        (write(status="failed", error="400 bad"), ("Failed", 1, "400 bad")),
        (write(status="done", attempts=1, reference="ful_1"), ("Completed", 1, "landed as ful_1")),
    ],
)
def test_line_state_follows_the_ledger(
    facts: _Write, expected: tuple[str, int, str | None]
) -> None:
    """Open, Reprocess with attempts, Failed (exhausted or refused), Completed."""
    state = line_state(_Line(), facts)
    assert (state.status, state.attempts, state.message) == expected


def test_a_merchant_retry_shows_reprocess_with_the_cleared_message() -> None:
    """After ``orders retry`` the fresh intent's line is Reprocess, keeping the old message."""
    state = line_state(_Line(retries=1, retried_message="400 bad"), write())
    assert (state.status, state.message) == ("Reprocess", "400 bad")


def test_a_line_whose_write_is_gone_is_open() -> None:
    """A line pointing at no write in the ledger is still Open, not an error."""
    assert line_state(_Line(), None).status == "Open"


def test_a_request_is_as_far_as_its_least_advanced_line() -> None:
    """One Failed line makes the request Failed; all Completed makes it Completed."""
    done = line_state(_Line(), write(status="done"))
    failed = line_state(_Line(), write(status="failed"))
    assert (request_status([done, failed]), request_status([done, done])) == (
        "Failed",
        "Completed",
    )


@pytest.mark.parametrize("status", INTENT_STATUSES)
@pytest.mark.parametrize("parked", [False, True])
def test_an_open_request_is_one_not_completed(status: IntentStatus, parked: bool) -> None:
    """The one "open request" rule and the request statuses agree for every intent status."""
    shown = request_status([line_state(_Line(), write(status=status, parked=parked))])
    assert is_open_request([status]) == (shown != "Completed")


def test_every_route_is_recorded_with_the_kind_of_its_write() -> None:
    """The route shown for a line is the one its request was sent by."""
    lines = (
        OrderLine("D1", "d-1", 2, physical=False),
        OrderLine("P1", "p-1", 2, physical=True, fo_item_id="9"),
    )
    order = Order("100", "accepted", "USD", lines, fulfillment_order_id="fo-1")
    intents = accept_request(order, [], MerchantRequest("r1", "100", "cancel"))
    assert {ROUTE_OF_KIND[i.kind] for i in intents} == {"charge_cancel", "fulfiller_cancel"}


def _cancellation(**fields: Any) -> Intent:
    body = {"upstreamId": "100~r1", "items": []}
    return Intent("request:r1:fulfiller_cancel", "fulfiller_cancel", "100", body, (), **fields)


def test_only_a_landed_fulfiller_cancellation_awaits_an_answer() -> None:
    """The fulfiller answers cancellations it received; nothing else waits for it."""
    assert awaited_answer(_cancellation(origin=Origin.request("r1"), status="done")) == "100~r1"
    assert awaited_answer(_cancellation(origin=Origin.request("r1"))) is None
    assert awaited_answer(INTENT) is None


def _answer(state: str, accepted: int) -> dict[str, Any]:
    items = [{"fulfillmentOrderItemUpstreamId": "P1", "quantityAccepted": accepted}]
    return {"data": {"object": {"state": state, "items": items}}}


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (None, "awaiting the fulfiller"),
        ({"data": "nothing"}, "awaiting the fulfiller"),
        (_answer("rejected", 0), "rejected by the fulfiller: 2 unit(s) open again"),
        (_answer("accepted", 1), "partly accepted: 1 of 2; 1 unit(s) open again"),
        (_answer("accepted", 2), "accepted by the fulfiller"),
    ],
)
def test_the_fulfillers_answer_is_told_per_line(answer: dict[str, Any] | None, shown: str) -> None:
    """No answer yet, a refusal, a partial and a full acceptance each read as such."""
    assert fulfiller_answer(answer, "P1", 2) == shown
