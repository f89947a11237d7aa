"""Merchant fulfil / cancel requests: routing, acceptance, refusals and the status table."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import replace

import pytest

from catalog_sync.core.merchant_requests import (
    REQUEST_TRANSITIONS,
    Action,
    InvalidTransitionError,
    MerchantRequest,
    RequestRefusedError,
    RequestState,
    RequestStatus,
    Trigger,
    accept_request,
    order_request_status,
    request_state_after,
    route,
)
from catalog_sync.core.orders import Intent, Order, OrderLine, Origin, open_quantity, settle

ORDER = "240110200336"
#: A physical line the fulfiller acknowledged, and a digital line.
PHYSICAL = OrderLine("P1", "TENT-2P", 2, physical=True, fo_item_id="9000", fo_state="pending")
DIGITAL = OrderLine("D1", "EBOOK-1", 5, physical=False)
MIXED = Order(
    ORDER, "fulfillment_ordered", "EUR", (PHYSICAL, DIGITAL), fulfillment_order_id="830512"
)


def request(
    action: Action = "fulfill",
    line_id: str | None = None,
    quantity: int | None = None,
    rid: str = "r1",
) -> MerchantRequest:
    """A request on the test order."""
    return MerchantRequest(rid, ORDER, action, line_id, quantity)


def fo_intent(*line_ids: str) -> Intent:
    """The create-fulfillment-order intent recorded on order.accepted for ``line_ids``."""
    items = [{"upstreamId": line_id} for line_id in line_ids]
    return Intent(
        f"fo:{ORDER}", "create_fulfillment_order", ORDER, {"items": items}, (), Origin.event("e0")
    )


def items_of(intents: Sequence[Intent]) -> list[tuple[str, list[dict[str, object]]]]:
    """(kind, body items) of each intent."""
    return [(i.kind, i.body["items"]) for i in intents]


def test_order_level_fulfil_of_a_digital_order() -> None:
    """Every digital line's open quantity goes in one POST /fulfillments with quantity."""
    order = Order(ORDER, "accepted", "EUR", (DIGITAL, replace(DIGITAL, line_id="D2", quantity=1)))
    (intent,) = accept_request(order, [], request("fulfill"))
    assert (intent.key, intent.kind, intent.origin) == (
        "request:r1:capture",
        "capture",
        Origin.request("r1"),
    )
    assert intent.body == {
        "orderId": ORDER,
        "items": [{"itemId": "D1", "quantity": 5}, {"itemId": "D2", "quantity": 1}],
        "metadata": {"catalogSyncIntent": "request:r1:capture"},
    }


def test_order_level_cancel_of_a_mixed_order_routes_each_line() -> None:
    """Physical lines are cancelled through the fulfiller; digital lines directly."""
    intents = accept_request(MIXED, [], replace(request("cancel"), reason="customer asked"))
    assert [i.kind for i in intents] == ["fulfiller_cancel", "cancel_charge"]
    assert intents[0].body == {
        "fulfillmentOrderId": "830512",
        "upstreamId": f"{ORDER}~r1",
        "reason": "customer asked",
        "items": [
            {
                "fulfillmentOrderItemId": "9000",
                "fulfillmentOrderItemUpstreamId": "P1",
                "quantity": 2,
            }
        ],
    }
    assert intents[1].body["items"] == [{"itemId": "D1", "cancelQuantity": 5}]


def test_a_digital_line_fulfilled_in_part_cancelled_in_part_and_the_rest_later() -> None:
    """D1 of 5: fulfil 2, cancel 1, then an order-level fulfil takes exactly the 2 left."""
    ledger: list[Intent] = []
    for req in (request("fulfill", "D1", 2, "r1"), request("cancel", "D1", 1, "r2")):
        ledger += accept_request(MIXED, ledger, req)
    rest = accept_request(MIXED, ledger, request("fulfill", rid="r3"))
    assert items_of(ledger + list(rest)) == [
        ("capture", [{"itemId": "D1", "quantity": 2}]),
        ("cancel_charge", [{"itemId": "D1", "cancelQuantity": 1}]),
        ("capture", [{"itemId": "D1", "quantity": 2}]),
    ]
    assert [c.target for i in (*ledger, *rest) for c in i.lines] == [2, 1, 4]


def test_fulfilling_a_physical_line_is_refused() -> None:
    """A physical line is captured when DR ships it, never by hand."""
    with pytest.raises(RequestRefusedError, match="captured when Digital River ships it"):
        accept_request(MIXED, [], request("fulfill", "P1"))


def test_asking_more_than_is_open_is_refused() -> None:
    """Over-quantity is refused with the open count, and nothing is returned to record."""
    ledger = list(accept_request(MIXED, [], request("fulfill", "D1", 4)))
    with pytest.raises(RequestRefusedError, match="asked to cancel 2 unit\\(s\\), 1 open of 5"):
        accept_request(MIXED, ledger, request("cancel", "D1", 2, "r2"))


def test_a_line_request_without_quantity_takes_all_open() -> None:
    """--item without --quantity takes the whole open quantity and leaves nothing open."""
    (intent,) = accept_request(MIXED, [], request("cancel", "P1"))
    assert open_quantity(PHYSICAL, [intent]) == 0


def test_requests_claim_units_at_once() -> None:
    """A settled fulfil moves the counter; its units stay claimed, so nothing is open twice."""
    (intent,) = accept_request(MIXED, [], request("fulfill", "D1"))
    order, done = settle(MIXED, intent)
    assert (order.line("D1"), open_quantity(DIGITAL, [done])) == (replace(DIGITAL, fulfilled=5), 0)


@pytest.mark.parametrize(
    ("req", "message"),
    [
        (request("cancel", None, 1), "needs a line"),
        (request("cancel", "X9"), "no line X9"),
        (request("cancel", "D1", 0), "asked to cancel 0"),
        (MerchantRequest("r1", "999", "cancel"), "not 2401"),
    ],
)
def test_malformed_requests_are_refused(req: MerchantRequest, message: str) -> None:
    """Quantity without line, unknown line, zero units and a wrong order are refused."""
    with pytest.raises(RequestRefusedError, match=message):
        accept_request(MIXED, [], req)


def test_a_finished_order_refuses_requests() -> None:
    """DR refuses writes on fulfilled, complete or cancelled orders: so do we, up front."""
    with pytest.raises(RequestRefusedError, match="already complete"):
        accept_request(replace(MIXED, state="complete"), [], request("cancel"))


def test_an_order_with_nothing_open_refuses_an_order_level_request() -> None:
    """Order-level fulfil of an order whose only digital line is claimed is refused."""
    ledger = accept_request(MIXED, [], request("fulfill", "D1"))
    with pytest.raises(RequestRefusedError, match="nothing open to fulfill"):
        accept_request(MIXED, ledger, request("fulfill", rid="r2"))


def test_a_request_id_is_accepted_once() -> None:
    """The same request id twice is refused, so a re-read request file records nothing new."""
    ledger = accept_request(MIXED, [], request("fulfill", "D1", 1))
    with pytest.raises(RequestRefusedError, match="already accepted"):
        accept_request(MIXED, ledger, request("fulfill", "D1", 1))


def test_a_physical_line_not_yet_acknowledged_by_the_fulfiller_is_refused() -> None:
    """Sent to the fulfiller but no line id known yet: a charge cancel now would be wrong."""
    line = replace(PHYSICAL, fo_item_id=None, fo_state=None)
    with pytest.raises(RequestRefusedError, match="not acknowledged"):
        route(MIXED, line, "cancel", [fo_intent("P1")])


def test_a_physical_line_never_sent_to_the_fulfiller_is_cancelled_directly() -> None:
    """A physical line in no fulfillment order has only a charge to cancel."""
    line = replace(PHYSICAL, fo_item_id=None, fo_state=None)
    assert route(MIXED, line, "cancel", [fo_intent("P7")]) == "charge_cancel"


def test_order_request_status_completes_only_when_every_line_is_settled() -> None:
    """Open until every unit of every line is fulfilled or cancelled at DR."""
    partly = replace(MIXED, lines=(replace(PHYSICAL, cancelled=2), replace(DIGITAL, fulfilled=4)))
    done = replace(
        MIXED, lines=(replace(PHYSICAL, cancelled=2), replace(DIGITAL, fulfilled=4, cancelled=1))
    )
    assert (order_request_status(partly), order_request_status(done)) == ("Open", "Completed")


# ------------------------------------------------------------------ the status table

STATUSES: tuple[RequestStatus, ...] = ("Open", "Reprocess", "Completed", "Failed")
TRIGGERS: tuple[Trigger, ...] = (
    "succeeded",
    "retryable_failure",
    "retries_exhausted",
    "permanent_failure",
    "retry_requested",
)


@pytest.mark.parametrize(("status", "trigger"), list(itertools.product(STATUSES, TRIGGERS)))
def test_status_table(status: RequestStatus, trigger: Trigger) -> None:
    """Every (status, trigger) either moves as the table says or is refused."""
    state = RequestState(status, attempts=2)
    outcome = "retryable_failure" if trigger == "retries_exhausted" else trigger
    limit = 3 if trigger == "retries_exhausted" else 10
    expected = REQUEST_TRANSITIONS.get((status, trigger))
    if expected is None:
        with pytest.raises(InvalidTransitionError):
            request_state_after(state, outcome, limit=limit)
    else:
        assert request_state_after(state, outcome, limit=limit).status == expected


def test_retryable_failures_count_attempts_then_fail_with_the_message() -> None:
    """Open -> Reprocess -> Reprocess -> Failed at the limit, keeping the API's message."""
    state = RequestState()
    for message in ("503 once", "503 twice", "503 thrice"):
        state = request_state_after(state, "retryable_failure", limit=3, message=message)
    assert state == RequestState("Failed", 3, "503 thrice")


def test_a_merchant_retry_reopens_a_failed_request_with_fresh_attempts() -> None:
    """orders retry: Failed -> Reprocess, attempts start again, the last message stays visible."""
    failed = RequestState("Failed", 8, "400 invalid_parameter")
    assert request_state_after(failed, "retry_requested", limit=8) == RequestState(
        "Reprocess", 0, "400 invalid_parameter"
    )


def test_a_completed_request_never_moves() -> None:
    """Completed is terminal: a late failure report for it is a programming error."""
    with pytest.raises(InvalidTransitionError):
        request_state_after(RequestState("Completed"), "permanent_failure", limit=8)
