"""The money plan: what the handler's decisions would send, priced, with nothing written."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings
from tests.unit.core.test_fulfillment import (
    ORDER,
    PHYSICAL,
    event,
    fo_obj,
    order_obj,
    shipment,
)

from catalog_sync.core.fulfillment import decide
from catalog_sync.core.money_plan import MoneyPlan, plan_json_schema, plan_money
from catalog_sync.core.orders import Intent, Order

#: L1: 3 tents at 100.00 + 20.00 tax; L2: 2 e-books; L3: 1 tent.
API_ORDER = order_obj()


def plan(
    events: Sequence[Mapping[str, Any]],
    *,
    order: Order | None = None,
    intents: Sequence[Intent] = (),
    api_orders: Mapping[str, Mapping[str, Any]] | None = None,
    recordable: Sequence[str] = (),
) -> MoneyPlan:
    """Plan ``events`` over one order's record and ledger, the order known to the API."""
    return plan_money(
        "inbox",
        events,
        orders={} if order is None else {ORDER: order},
        ledgers={ORDER: list(intents)} if intents else {},
        physical_of=PHYSICAL,
        api_orders={ORDER: API_ORDER} if api_orders is None else api_orders,
        recordable=recordable,
    )


def recorded_order() -> tuple[Order, list[Intent]]:
    """The order as the handler records it on ``order.accepted``, with its fulfillment order."""
    decision = decide(event("order.accepted", API_ORDER), None, [], physical_of=PHYSICAL)
    assert decision.order is not None
    return decision.order, list(decision.intents)


def test_accepted_order_plans_its_fulfillment_order() -> None:
    """``order.accepted``: one fulfillment order with the physical lines and their units."""
    result = plan([event("order.accepted", API_ORDER)])
    (fo,) = result.fulfillment_orders
    assert fo.order_id == ORDER
    assert [(x.line_id, x.units) for x in fo.lines] == [("L1", 3), ("L3", 1)]
    assert result.would_move


def test_shipment_plans_a_capture_priced_from_the_line() -> None:
    """A shipment of 2 of L1's 3 units captures 2 x (100.00 + 20.00 tax) / 3 = 80.00 EUR."""
    order, intents = recorded_order()
    result = plan(
        [event("fulfillment_order.shipped", shipment("sh-1", {"L1": 2}))],
        order=order,
        intents=[_done(i) for i in intents],
    )
    (capture,) = result.captures
    assert (capture.order_id, capture.units, capture.amount, capture.currency) == (
        ORDER,
        2,
        Decimal("80.00"),
        "EUR",
    )
    assert [(x.line_id, x.units, x.amount) for x in capture.lines] == [("L1", 2, Decimal("80.00"))]


def test_totals_add_captures_and_cancels_per_currency() -> None:
    """Totals: units and amounts captured and charge-cancelled, one row per currency."""
    order, intents = recorded_order()
    events = [
        event("fulfillment_order.shipped", shipment("sh-1", {"L1": 1})),
        event(
            "fulfillment_order.cancelled",
            fo_obj("cancelled", {"L1": {"quantity": 3, "cancelled": 2}}),
        ),
    ]
    result = plan(events, order=order, intents=[_done(i) for i in intents])
    (total,) = result.totals
    assert (total.currency, total.captured_units, total.captured_amount) == (
        "EUR",
        1,
        Decimal("40.00"),
    )
    assert (total.cancelled_units, total.cancelled_amount) == (2, Decimal("80.00"))


def test_a_replayed_shipment_plans_nothing() -> None:
    """A shipment whose capture the ledger already holds moves nothing (the natural key)."""
    order, intents = recorded_order()
    shipped = event("fulfillment_order.shipped", shipment("sh-1", {"L1": 2}))
    first = decide(shipped, order, intents)
    result = plan(
        [shipped], order=first.order, intents=[_done(i) for i in (*intents, *first.intents)]
    )
    assert result.captures == ()
    assert not result.would_move


def test_writes_recorded_and_not_yet_sent_are_in_the_plan() -> None:
    """A pending intent in the ledger goes out next: planned, marked as recorded."""
    order, intents = recorded_order()
    result = plan([], order=order, intents=intents)
    (fo,) = result.fulfillment_orders
    assert fo.recorded
    assert result.would_move


def test_an_order_seen_first_by_a_later_event_is_recorded_from_the_api() -> None:
    """A shipment of an order never seen accepted: recorded from GET, as the handler does."""
    result = plan(
        [event("fulfillment_order.shipped", shipment("sh-1", {"L3": 1}))], recordable=[ORDER]
    )
    assert [c.after for c in result.status_changes][:1] == ["accepted"]
    assert [(c.order_id, c.units) for c in result.captures] == [(ORDER, 1)]
    assert len(result.fulfillment_orders) == 1


def test_an_order_not_recordable_leaves_the_event_deferred() -> None:
    """Without the order at the API, the event waits (deferred) and nothing is planned."""
    result = plan([event("fulfillment_order.shipped", shipment("sh-1", {"L3": 1}))], api_orders={})
    assert [e.status for e in result.events] == ["deferred"]
    assert not result.would_move


def test_an_order_placed_before_the_start_point_is_ignored_as_the_handler_does() -> None:
    """Its later events are ignored, not recorded from the API: nothing is planned."""
    shipped = event("fulfillment_order.shipped", shipment("sh-1", {"L1": 1}))
    result = plan_money(
        "api",
        [shipped],
        orders={},
        ledgers={},
        physical_of=PHYSICAL,
        api_orders={ORDER: API_ORDER},
        before_start=[ORDER],
    )
    assert [e.status for e in result.events] == ["ignored"]
    assert not result.would_move


def test_a_line_without_an_amount_is_unpriced_not_guessed() -> None:
    """A line whose amount is missing: units planned, amount None, counted as unpriced."""
    order, intents = recorded_order()
    bare = {**API_ORDER, "items": [{**x, "amount": None} for x in API_ORDER["items"]]}
    result = plan(
        [event("fulfillment_order.shipped", shipment("sh-1", {"L1": 1}))],
        order=order,
        intents=[_done(i) for i in intents],
        api_orders={ORDER: bare},
    )
    (capture,) = result.captures
    assert capture.amount is None
    assert result.totals[0].unpriced_units == 1


def test_an_unreadable_event_is_reported_not_raised() -> None:
    """An event without ``data.object`` is listed as unreadable; the rest are still planned."""
    result = plan(
        [{"id": "bad", "type": "fulfillment_order.shipped"}, event("order.accepted", API_ORDER)]
    )
    assert [e.status for e in result.events] == ["unreadable", "handled"]
    assert len(result.fulfillment_orders) == 1


def test_status_changes_name_before_and_after() -> None:
    """A shipment moves the order accepted -> in_progress (no fulfillment order event yet)."""
    order, intents = recorded_order()
    result = plan(
        [event("fulfillment_order.shipped", shipment("sh-1", {"L1": 1}))],
        order=order,
        intents=[_done(i) for i in intents],
    )
    assert [(c.before, c.after) for c in result.status_changes] == [("accepted", "in_progress")]


def test_schema_describes_the_plan_document() -> None:
    """The published schema names every section of ``--json``."""
    props = plan_json_schema()["properties"]
    assert {"fulfillment_orders", "captures", "cancels", "status_changes", "totals"} <= set(props)


@fuzz_settings
@given(
    amount=st.one_of(
        st.none(),
        st.booleans(),
        st.text(),
        st.floats(),
        st.integers(min_value=-(10**30), max_value=10**30),
    ),
    quantity=st.one_of(st.none(), st.booleans(), st.integers(min_value=-5, max_value=10**20)),
)
def test_any_line_amount_prices_or_leaves_unpriced(amount: object, quantity: object) -> None:
    """Hostile amounts and quantities (NaN, huge, text, booleans) never break the plan."""
    order, intents = recorded_order()
    odd = {
        **API_ORDER,
        "items": [{**x, "amount": amount, "quantity": quantity} for x in API_ORDER["items"]],
    }
    result = plan(
        [event("fulfillment_order.shipped", shipment("sh-1", {"L1": 1}))],
        order=order,
        intents=[_done(i) for i in intents],
        api_orders={ORDER: odd},
    )
    (capture,) = result.captures
    assert capture.amount is None or capture.amount.is_finite()
    assert MoneyPlan.model_validate_json(result.model_dump_json()) == result


def _done(intent: Intent) -> Intent:
    """The intent after it landed at DR."""
    return replace(intent, status="done")
