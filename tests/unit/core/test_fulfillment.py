"""The distributed-model handlers: what each DR event decides for an order and its ledger."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_sync.core.fulfillment import (
    LINE_TRANSITIONS,
    ORDER_TRANSITIONS,
    Decision,
    decide,
    line_state_after,
    order_id_of,
    order_state_after,
)
from catalog_sync.core.merchant_requests import (
    Action,
    MerchantRequest,
    RequestRefusedError,
    accept_request,
)
from catalog_sync.core.orders import (
    FoState,
    Intent,
    LedgerError,
    MalformedEventError,
    Order,
    UnknownProductKindError,
    claimed,
    fail_intent,
    intent_from_json,
    line_quantities,
    open_quantity,
    order_from_json,
    settle,
    to_json,
)

ORDER = "240110200336"
FO = 830512
PHYSICAL = {"TENT-2P": True, "STOVE": True, "EBOOK-1": False}
JSON = dict[str, Any]

# ------------------------------------------------------------------ DR payload builders


def line(line_id: str, sku: str, quantity: int, amount: float = 100.0) -> JSON:
    """An OrderItem (docs/digital-river-api.md §9.2)."""
    return {
        "id": line_id,
        "skuId": sku,
        "quantity": quantity,
        "amount": amount,
        "state": "created",
        "tax": {"rate": 0.2, "amount": round(amount * 0.2, 2)},
        "productDetails": {"id": sku, "name": sku.title(), "countryOfOrigin": "VN"},
    }


DEFAULT_LINES = (line("L1", "TENT-2P", 3), line("L2", "EBOOK-1", 2), line("L3", "TENT-2P", 1))


def order_obj(*items: JSON) -> JSON:
    """An Order in state accepted (docs/digital-river-api.md §9.2), physical and digital lines."""
    return {
        "id": ORDER,
        "checkoutId": "chk-9d1f",
        "createdTime": "2024-01-10T20:03:36Z",
        "currency": "EUR",
        "locale": "fr_FR",
        "email": "order@example.org",
        "state": "accepted",
        "shipTo": {
            "address": {
                "line1": "1 rue Haute",
                "city": "Lyon",
                "postalCode": "69001",
                "country": "FR",
            },
            "name": "Ada Lovelace",
        },
        "billTo": {
            "address": {"country": "FR"},
            "phone": "+33 4 00 00 00",
            "email": "b@example.org",
        },
        "shippingChoice": {"amount": 5.0, "serviceLevel": "SG", "shippingTerms": "DDP"},
        "items": list(items or DEFAULT_LINES),
        "liveMode": False,
    }


_ids = itertools.count(1)


def event(kind: str, obj: Mapping[str, Any], event_id: str | None = None) -> JSON:
    """An Event (docs/digital-river-api.md §14.2) around ``obj``."""
    return {
        "id": event_id or f"3f6c1a0e-0000-4000-8000-{next(_ids):012d}",
        "type": kind,
        "data": {"object": dict(obj), "previousAttributes": {}},
        "liveMode": False,
        "createdTime": "2024-01-10T20:05:00.123456Z",
        "digitalriverVersion": "2021-12-13",
    }


def fo_obj(state: str, lines: Mapping[str, Mapping[str, int]], **extra: Any) -> JSON:
    """A fulfillment order (docs/digital-river-api.md §10.3): integer ids, five counters a line."""
    items = []
    for n, (line_id, counters) in enumerate(lines.items()):
        quantity = counters.get("quantity", 1)
        item: JSON = {"id": 9000 + n, "upstreamId": line_id, "inventoryItemId": "TENT-2P"}
        item["quantity"] = quantity
        for name in ("pending", "backordered", "shipped", "cancelled", "returned"):
            item[name] = counters.get(name, 0)
        item["state"] = state
        item |= extra.get("per_item", {}).get(line_id, {})
        items.append(item)
    return {"id": FO, "upstreamId": ORDER, "currency": "EUR", "state": state, "items": items}


def shipment(shipment_id: str, quantities: Mapping[str, int], fo_item: int = 9000) -> JSON:
    """A Shipment, the object of ``fulfillment_order.shipped`` (docs/digital-river-api.md §12)."""
    return {
        "id": shipment_id,
        "fulfillmentOrderId": str(FO),
        "fulfillmentOrderUpstreamId": ORDER,
        "trackingCompany": "La Poste",
        "trackingNumber": "6A123456789",
        "trackingUrl": "https://track.example/6A123456789",
        "items": [
            {
                "id": f"{shipment_id}-{n}",
                "fulfillmentOrderItemId": str(fo_item + n),
                "fulfillmentOrderItemUpstreamId": line_id,
                "inventoryItemId": "TENT-2P",
                "quantity": quantity,
            }
            for n, (line_id, quantity) in enumerate(quantities.items())
        ],
        "liveMode": False,
    }


def cancellation(upstream: str, state: str, asked: Mapping[str, tuple[int, int]]) -> JSON:
    """A fulfillment cancellation (docs/digital-river-api.md §11) with quantityAccepted."""
    return {
        "id": "fc-77",
        "fulfillmentOrderId": str(FO),
        "upstreamId": upstream,
        "state": state,
        "items": [
            {
                "fulfillmentOrderItemId": "9000",
                "fulfillmentOrderItemUpstreamId": line_id,
                "quantity": quantity,
                "quantityAccepted": accepted,
                "state": state,
            }
            for line_id, (quantity, accepted) in asked.items()
        ],
    }


def charge(state: str, captures: Sequence[JSON]) -> JSON:
    """A Charge, the object of ``order.charge.*`` events (docs/digital-river-api.md §14.3)."""
    return {
        "id": "chg-1",
        "orderId": ORDER,
        "currency": "EUR",
        "state": state,
        "captures": list(captures),
    }


# ------------------------------------------------------------------ a tiny edge


class Ledger:
    """Applies decisions the way the edge does, so a test can play a sequence of events."""

    def __init__(self) -> None:
        self.order: Order | None = None
        self.intents: list[Intent] = []
        self.decisions: list[Decision] = []

    def feed(self, evt: Mapping[str, Any]) -> Decision:
        """Decide ``evt`` and record the decision."""
        decision = decide(evt, self.order, self.intents, physical_of=PHYSICAL)
        self.record(decision.order, decision.intents, decision.updated_intents)
        self.decisions.append(decision)
        return decision

    def record(
        self, order: Order | None, new: Sequence[Intent], updated: Sequence[Intent] = ()
    ) -> None:
        """Store an order snapshot, new intents and replaced intents."""
        if order is not None:
            self.order = order
        keys = {i.key for i in self.intents}
        assert not any(i.key in keys for i in new), "a natural key was recorded twice"
        by_key = {i.key: i for i in updated}
        self.intents = [by_key.get(i.key, i) for i in self.intents] + list(new)

    def request(self, request: MerchantRequest) -> tuple[Intent, ...]:
        """Accept a merchant request and record its intents."""
        assert self.order is not None
        new = accept_request(self.order, self.intents, request)
        self.record(None, new)
        return new

    def settle(self, key: str) -> None:
        """Mark an intent landed, as the edge does on 201 or read-back."""
        assert self.order is not None
        intent = next(i for i in self.intents if i.key == key)
        self.order, done = settle(self.order, intent)
        self.record(None, (), (done,))

    @property
    def live(self) -> Order:
        """The order, which must exist."""
        assert self.order is not None
        return self.order

    def intent(self, key: str) -> Intent:
        """The intent with ``key``."""
        return next(i for i in self.intents if i.key == key)


def accepted(*items: JSON) -> Ledger:
    """A ledger after ``order.accepted``."""
    ledger = Ledger()
    ledger.feed(event("order.accepted", order_obj(*items)))
    return ledger


def pending(ledger: Ledger, lines: Sequence[str] = ("L1", "L3")) -> Ledger:
    """The ledger after ``fulfillment_order.pending`` for ``lines``."""
    quantities = {"L1": 3, "L3": 1}
    counters = {name: {"quantity": quantities[name], "pending": quantities[name]} for name in lines}
    ledger.feed(event("fulfillment_order.pending", fo_obj("pending", counters)))
    return ledger


# ------------------------------------------------------------------ order.accepted


def test_accepted_records_every_line_with_its_kind_and_open_quantity() -> None:
    """order.accepted records each line by its id, physical or digital, wholly open."""
    ledger = accepted()
    got = [
        (ln.line_id, ln.sku_id, ln.physical, open_quantity(ln, ledger.intents))
        for ln in ledger.live.lines
    ]
    assert got == [
        ("L1", "TENT-2P", True, 3),
        ("L2", "EBOOK-1", False, 2),
        ("L3", "TENT-2P", True, 1),
    ]


def test_accepted_maps_the_fulfillment_order_body_as_reference_10_2() -> None:
    """The fulfillment order carries upstreamId, currency, time, ship-to and the physical lines."""
    body = accepted().intent(f"fo:{ORDER}").body
    assert body == {
        "upstreamId": ORDER,
        "currency": "EUR",
        "upstreamOrderTime": "2024-01-10T20:03:36Z",
        "shipTo": order_obj()["shipTo"],
        "shippingChoice": {"id": "SG"},
        "locale": "fr_FR",
        "email": "b@example.org",
        "name": "Ada Lovelace",
        "phone": "+33 4 00 00 00",
        "reservationId": "chk-9d1f",
        "items": [
            {
                "inventoryItemId": "TENT-2P",
                "quantity": 3,
                "upstreamId": "L1",
                "tax": {"amount": 20.0},
                "total": 100.0,
            },
            {
                "inventoryItemId": "TENT-2P",
                "quantity": 1,
                "upstreamId": "L3",
                "tax": {"amount": 20.0},
                "total": 100.0,
            },
        ],
    }


def test_a_digital_only_order_gets_no_fulfillment_order() -> None:
    """Digital lines are never sent to the fulfiller, so a digital order creates nothing."""
    ledger = accepted(line("D1", "EBOOK-1", 1))
    assert ledger.intents == []
    assert ledger.decisions[-1].status == "handled"


def test_a_repeated_accepted_event_adds_nothing() -> None:
    """A second order.accepted (duplicate delivery) neither re-records nor re-creates."""
    ledger = accepted()
    again = ledger.feed(event("order.accepted", order_obj()))
    assert (again.order, again.intents) == (None, ())


def test_an_order_with_a_sku_of_unknown_kind_is_refused() -> None:
    """A SKU neither known physical nor digital cannot be routed: the handler fails loudly."""
    with pytest.raises(UnknownProductKindError, match="MYSTERY"):
        decide(
            event("order.accepted", order_obj(line("L9", "MYSTERY", 1))),
            None,
            [],
            physical_of=PHYSICAL,
        )


# ------------------------------------------------------------------ pending / backordered


def test_pending_stores_fulfillment_order_and_line_ids_as_strings() -> None:
    """Integer ids (docs/digital-river-api.md §10.3) are kept as strings, each on its own line."""
    order = pending(accepted()).live
    assert order.fulfillment_order_id == str(FO)
    assert [(ln.line_id, ln.fo_item_id, ln.fo_state) for ln in order.lines] == [
        ("L1", "9000", "pending"),
        ("L2", None, None),
        ("L3", "9001", "pending"),
    ]
    assert order.state == "fulfillment_ordered"


def test_backorder_notifies_once_per_total_backordered() -> None:
    """A backorder notifies; the same totalBackordered again is a repeat and stays silent."""
    ledger = pending(accepted())
    extra = {"per_item": {"L1": {"ordered": 3, "backordered": 2, "totalBackordered": 2}}}
    evt = fo_obj("pending", {"L1": {"quantity": 3, "backordered": 2, "pending": 1}}, **extra)
    first = ledger.feed(event("fulfillment_order.backordered", evt))
    second = ledger.feed(event("fulfillment_order.backordered", evt))
    assert [n.kind for n in first.notifications] == ["backorder"]
    assert first.notifications[0].line_ids == ("L1",)
    assert second.notifications == ()
    assert ledger.live.lines[0].fo_state == "backordered"


# ------------------------------------------------------------------ shipped


def test_shipped_captures_exactly_the_shipment_with_tracking() -> None:
    """The capture body follows docs/digital-river-api.md §14.4 and claims the units shipped."""
    ledger = pending(accepted())
    decision = ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 2})))
    (intent,) = decision.intents
    assert (intent.key, intent.kind) == ("capture:shp-1", "capture")
    assert intent.body == {
        "orderId": ORDER,
        "shipmentId": "shp-1",
        "trackingCompany": "La Poste",
        "trackingNumber": "6A123456789",
        "trackingUrl": "https://track.example/6A123456789",
        "items": [{"itemId": "L1", "shipmentItemId": "shp-1-0", "quantity": 2}],
        "metadata": {"catalogSyncIntent": "capture:shp-1"},
    }
    assert [(c.line_id, c.quantity, c.target) for c in intent.lines] == [("L1", 2, 2)]


def test_a_duplicate_shipment_never_captures_twice() -> None:
    """The shipment id is the natural key: a redelivered shipped event adds no intent."""
    ledger = pending(accepted())
    evt = event("fulfillment_order.shipped", shipment("shp-1", {"L1": 2}))
    ledger.feed(evt)
    assert ledger.feed(evt).intents == ()
    assert claimed("L1", ledger.intents) == 2


def test_shipped_before_pending_is_captured_and_pending_does_not_regress() -> None:
    """A shipment listed before its pending event captures; the late pending changes no state."""
    ledger = accepted()
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 3})))
    assert [i.key for i in ledger.intents] == [f"fo:{ORDER}", "capture:shp-1"]
    assert ledger.live.lines[0].fo_item_id == "9000"
    pending(ledger)
    assert ledger.live.lines[0].fo_state == "shipped"
    assert ledger.live.state == "in_progress"


def test_partial_shipments_each_capture_their_own_quantity() -> None:
    """Two shipments of one line capture 1 then 2, with cumulative targets 1 then 3."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 1})))
    ledger.settle("capture:shp-1")
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-2", {"L1": 2})))
    second = ledger.intent("capture:shp-2")
    assert [(c.quantity, c.target) for c in second.lines] == [(2, 3)]
    assert line_quantities(ledger.live.lines[0], ledger.intents).open == 0


def test_a_shipment_larger_than_the_line_is_an_error() -> None:
    """Shipping more than a line's quantity is a surfaced error and records nothing."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L3": 1}, fo_item=9001)))
    decision = ledger.feed(
        event("fulfillment_order.shipped", shipment("shp-2", {"L3": 1}, fo_item=9001))
    )
    assert decision.status == "error"
    assert "exceed" in decision.summary
    assert decision.intents == ()


def test_a_shipment_of_a_digital_line_is_an_error() -> None:
    """A shipment naming a digital line is not ours to capture: surfaced, nothing recorded."""
    decision = pending(accepted()).feed(
        event("fulfillment_order.shipped", shipment("s", {"L2": 1}))
    )
    assert (decision.status, decision.intents) == ("error", ())


# ------------------------------------------------------------------ cancelled


def cancelled_event(counters: Mapping[str, int]) -> JSON:
    """A fulfillment_order.cancelled event with cumulative ``cancelled`` per line."""
    sizes = {"L1": 3, "L3": 1}
    lines = {
        k: {"quantity": sizes[k], "cancelled": v, "pending": sizes[k] - v}
        for k, v in counters.items()
    }
    return event("fulfillment_order.cancelled", fo_obj("cancelled", lines))


def test_cumulative_cancels_cancel_exactly_the_difference() -> None:
    """Cumulative 1, then 1 again (duplicate), then 3 cancel 1, nothing, then 2."""
    ledger = pending(accepted())
    sent = [ledger.feed(cancelled_event({"L1": c})).intents for c in (1, 1, 3)]
    quantities = [
        [item["cancelQuantity"] for i in batch for item in i.body["items"]] for batch in sent
    ]
    assert quantities == [[1], [], [2]]
    assert claimed("L1", ledger.intents, ("cancel_charge",)) == 3


def test_cancel_body_follows_reference_14_4_with_a_cumulative_key() -> None:
    """The charge cancel names the order line and the delta; its key is the cumulative vector."""
    (intent,) = pending(accepted()).feed(cancelled_event({"L1": 2, "L3": 1})).intents
    assert intent.key == f"cancel:{ORDER}:L1=2,L3=1"
    assert intent.body == {
        "orderId": ORDER,
        "items": [{"itemId": "L1", "cancelQuantity": 2}, {"itemId": "L3", "cancelQuantity": 1}],
        "metadata": {"catalogSyncIntent": f"cancel:{ORDER}:L1=2,L3=1"},
    }
    assert [(c.line_id, c.target) for c in intent.lines] == [("L1", 2), ("L3", 1)]


def test_lines_sharing_a_sku_are_cancelled_apart() -> None:
    """L1 and L3 share TENT-2P; cancelling L3 leaves every unit of L1 open."""
    ledger = pending(accepted())
    ledger.feed(cancelled_event({"L1": 0, "L3": 1}))
    assert [open_quantity(ln, ledger.intents) for ln in ledger.live.lines] == [3, 2, 0]


def test_cancelling_more_than_remains_is_an_error() -> None:
    """A cumulative cancel above what shipments left on the line is surfaced, not trimmed."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 3})))
    decision = ledger.feed(cancelled_event({"L1": 1}))
    assert (decision.status, decision.intents) == ("error", ())


# ------------------------------------------------------------------ cancels asked of the fulfiller


def cancel_request(quantity: int = 2) -> MerchantRequest:
    """A merchant cancelling ``quantity`` units of L1 (a physical line with the fulfiller)."""
    return MerchantRequest("r1", ORDER, "cancel", "L1", quantity, reason="customer asked")


def test_the_cancelled_event_moves_units_from_the_request_to_the_charge_cancel() -> None:
    """Units asked of the fulfiller are held once: the cancelled event's claim replaces them."""
    ledger = pending(accepted())
    ledger.request(cancel_request())
    ledger.feed(cancelled_event({"L1": 2}))
    assert claimed("L1", ledger.intents, ("fulfiller_cancel",)) == 0
    assert claimed("L1", ledger.intents) == 2


def test_a_partly_accepted_cancellation_reopens_the_refused_units() -> None:
    """quantityAccepted 1 of 2: the refused unit is open again, and a notification says so."""
    ledger = pending(accepted())
    ledger.request(cancel_request())
    upstream = f"{ORDER}~r1"
    decision = ledger.feed(
        event(
            "fulfillment_cancellation.accepted", cancellation(upstream, "accepted", {"L1": (2, 1)})
        )
    )
    ledger.feed(cancelled_event({"L1": 1}))
    assert [n.kind for n in decision.notifications] == ["cancellation_refused"]
    assert open_quantity(ledger.live.lines[0], ledger.intents) == 2


def test_a_replayed_rejection_releases_nothing_more() -> None:
    """A rejected cancellation releases its units once, however often it is delivered."""
    ledger = pending(accepted())
    ledger.request(cancel_request(1))
    ledger.request(MerchantRequest("r2", ORDER, "cancel", "L1", 1))
    evt = event(
        "fulfillment_cancellation.rejected", cancellation(f"{ORDER}~r1", "rejected", {"L1": (1, 0)})
    )
    ledger.feed(evt)
    replay = ledger.feed(evt)
    assert replay.updated_intents == ()
    assert claimed("L1", ledger.intents, ("fulfiller_cancel",)) == 1


def test_a_shipment_overtaking_a_requested_cancel_takes_the_units() -> None:
    """The fulfiller shipped units we asked it to cancel: capture them, shrink the request."""
    ledger = pending(accepted())
    ledger.request(cancel_request(2))
    decision = ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 3})))
    assert [n.kind for n in decision.notifications] == ["shipped_over_cancel"]
    assert claimed("L1", ledger.intents) == 3


def test_a_cancellation_of_someone_else_is_ignored() -> None:
    """A cancellation whose upstreamId is not one of our requests changes nothing."""
    ledger = pending(accepted())
    decision = ledger.feed(
        event(
            "fulfillment_cancellation.accepted",
            cancellation(f"{ORDER}~zz", "accepted", {"L1": (1, 1)}),
        )
    )
    assert decision.status == "ignored"


# ------------------------------------------------------------------ order and charge events


def test_a_failed_capture_notifies_once() -> None:
    """order.charge.capture.failed notifies with DR's reason; a replay adds nothing."""
    ledger = pending(accepted())
    failed = {
        "id": "cap-1",
        "state": "failed",
        "failureCode": "failed-request",
        "failureMessage": "expired",
    }
    evt = event("order.charge.capture.failed", charge("failed", [failed]))
    first, second = ledger.feed(evt), ledger.feed(evt)
    assert [n.kind for n in first.notifications] == ["capture_failed"]
    assert "failed-request: expired" in first.notifications[0].message
    assert (second.notifications, ledger.live.capture_failures) == ((), ("cap-1",))


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("order.fulfilled", "fulfilled"),
        ("order.complete", "complete"),
        ("order.cancelled", "cancelled"),
    ],
)
def test_order_events_move_the_order_state(kind: str, expected: str) -> None:
    """order.fulfilled / complete / cancelled set our order's state."""
    ledger = accepted()
    ledger.feed(event(kind, order_obj() | {"state": expected}))
    assert ledger.live.state == expected


def test_a_stale_order_event_leaves_the_state() -> None:
    """order.fulfilled listed after order.complete does not move the order back."""
    ledger = accepted()
    ledger.feed(event("order.complete", order_obj()))
    decision = ledger.feed(event("order.fulfilled", order_obj()))
    assert (decision.order, ledger.live.state) == (None, "complete")


def test_fulfillment_created_marks_the_order_in_progress() -> None:
    """fulfillment.created (a Fulfillment with orderDetails) moves an ordered order on."""
    ledger = pending(accepted())
    obj = {
        "id": "ful_1",
        "orderId": ORDER,
        "items": [{"itemId": "L1", "quantity": 1, "cancelQuantity": 0}],
    }
    ledger.feed(event("fulfillment.created", obj))
    assert ledger.live.state == "in_progress"


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("order.cancelled", "ignored"),
        ("fulfillment_order.shipped", "deferred"),
        ("fulfillment_cancellation.accepted", "ignored"),
        ("sku.updated", "ignored"),
    ],
)
def test_events_about_unknown_orders(kind: str, status: str) -> None:
    """Unknown orders: state events are not ours, fulfillment events wait for order.accepted."""
    objects = {
        "order.cancelled": order_obj(),
        "fulfillment_order.shipped": shipment("s", {"L1": 1}),
        "fulfillment_cancellation.accepted": cancellation(f"{ORDER}~r", "accepted", {"L1": (1, 1)}),
        "sku.updated": {"id": "TENT-2P"},
    }
    assert decide(event(kind, objects[kind]), None, []).status == status


def test_a_malformed_event_names_its_field() -> None:
    """A shipment item without quantity raises MalformedEventError naming the field."""
    bad = shipment("shp-1", {"L1": 1})
    del bad["items"][0]["quantity"]
    ledger = pending(accepted())
    with pytest.raises(MalformedEventError, match=r"data\.object\.items\[0\]\.quantity"):
        ledger.feed(event("fulfillment_order.shipped", bad))


@pytest.mark.parametrize(
    ("kind", "obj", "expected"),
    [
        ("order.accepted", order_obj(), ORDER),
        ("fulfillment_order.pending", fo_obj("pending", {"L1": {}}), ORDER),
        ("fulfillment_order.shipped", shipment("s", {"L1": 1}), ORDER),
        ("fulfillment.created", {"id": "ful_1", "orderId": ORDER}, ORDER),
        ("order.charge.capture.complete", charge("complete", []), ORDER),
        ("fulfillment_cancellation.rejected", cancellation(f"{ORDER}~r1", "rejected", {}), ORDER),
        ("fulfillment_cancellation.rejected", cancellation("theirs", "rejected", {}), None),
        ("sku.created", {"id": "TENT-2P"}, None),
    ],
)
def test_order_id_of_each_event_type(kind: str, obj: JSON, expected: str | None) -> None:
    """order_id_of finds the order where each event type keeps it."""
    assert order_id_of(event(kind, obj)) == expected


# ------------------------------------------------------------------ state tables

ORDER_STATES = (
    "accepted",
    "fulfillment_ordered",
    "in_progress",
    "fulfilled",
    "complete",
    "cancelled",
)
FO_STATES: tuple[FoState | None, ...] = (None, "pending", "backordered", "shipped", "cancelled")


@pytest.mark.parametrize(
    ("current", "proposed"), list(itertools.product(ORDER_STATES, ORDER_STATES))
)
def test_order_state_table(current: str, proposed: str) -> None:
    """Every order-state pair either moves (listed in the table) or leaves the state unchanged."""
    expected = proposed if (current, proposed) in ORDER_TRANSITIONS else current
    assert order_state_after(current, proposed) == expected


@pytest.mark.parametrize(("current", "proposed"), list(itertools.product(FO_STATES, FO_STATES[1:])))
def test_line_state_table(current: FoState | None, proposed: FoState) -> None:
    """Every fulfiller line-state pair moves forward only; terminal cancelled never changes."""
    expected = proposed if (current, proposed) in LINE_TRANSITIONS else current
    assert line_state_after(current, proposed) == expected
    assert ("cancelled", proposed) not in LINE_TRANSITIONS


# ------------------------------------------------------------------ ledger and storage


def test_settle_moves_the_counters_exactly_once() -> None:
    """A landed capture adds its units to fulfilled; settling it again is refused."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 2})))
    ledger.settle("capture:shp-1")
    assert ledger.live.lines[0].fulfilled == 2
    with pytest.raises(LedgerError):
        settle(ledger.live, ledger.intent("capture:shp-1"))


def test_a_failed_intent_releases_its_units_and_lowers_later_targets() -> None:
    """Failing the first capture reopens its units and makes the next capture's target exact."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 1})))
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-2", {"L1": 2})))
    ledger.record(None, (), fail_intent(ledger.intent("capture:shp-1"), ledger.intents))
    assert ledger.intent("capture:shp-2").lines[0].target == 2
    assert open_quantity(ledger.live.lines[0], ledger.intents) == 1


def test_entities_round_trip_through_json() -> None:
    """Orders and intents stored as JSON come back equal."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 2})))
    stored = [to_json(i) for i in ledger.intents]
    assert [intent_from_json(s) for s in stored] == ledger.intents
    assert order_from_json(to_json(ledger.live)) == ledger.live


def test_a_corrupt_stored_order_fails_loudly() -> None:
    """A stored order with a wrong type is refused, never half-loaded."""
    broken = to_json(accepted().live) | {"lines": [{"line_id": "L1"}]}
    with pytest.raises(ValueError, match="sku_id"):
        order_from_json(broken)


def test_to_json_refuses_what_is_not_an_entity() -> None:
    """Only our dataclasses are stored: anything else is a programming error."""
    with pytest.raises(TypeError):
        to_json({"not": "an entity"})


def test_line_quantities_show_capturing_and_cancelling() -> None:
    """orders show: pending captures and cancels are visible apart from confirmed counters."""
    ledger = pending(accepted())
    ledger.feed(event("fulfillment_order.shipped", shipment("shp-1", {"L1": 1})))
    ledger.request(cancel_request(1))
    view = line_quantities(replace(ledger.live.lines[0]), ledger.intents)
    assert (view.open, view.capturing, view.cancelling, view.fulfilled) == (1, 1, 1, 0)


# ------------------------------------------------------------------ properties

SKUS = ("TENT-2P", "STOVE", "EBOOK-1")
ACTIONS: tuple[Action, ...] = ("fulfill", "cancel")


@st.composite
def orders(draw: st.DrawFn) -> tuple[JSON, ...]:
    """1-4 order lines over few SKUs, so lines often share one."""
    count = draw(st.integers(1, 4))
    return tuple(
        line(f"L{n}", draw(st.sampled_from(SKUS)), draw(st.integers(1, 4))) for n in range(count)
    )


def fulfiller_events(data: st.DataObject, items: Sequence[JSON]) -> JSON:
    """A shipped or cancelled event the fulfiller might send for the physical lines."""
    physical = [i for i in items if PHYSICAL[i["skuId"]]]
    if not physical:
        return event("sku.updated", {"id": "TENT-2P"})
    if data.draw(st.booleans()):
        item = data.draw(st.sampled_from(physical))
        number = data.draw(st.integers(0, 3))
        return event(
            "fulfillment_order.shipped",
            shipment(f"shp-{number}-{item['id']}", {item["id"]: data.draw(st.integers(1, 4))}),
        )
    cumulative = {
        i["id"]: {"quantity": i["quantity"], "cancelled": data.draw(st.integers(0, i["quantity"]))}
        for i in physical
    }
    return event("fulfillment_order.cancelled", fo_obj("cancelled", cumulative))


def merchant_request(data: st.DataObject, items: Sequence[JSON], number: int) -> MerchantRequest:
    """A fulfil or cancel, order or line level, with or without a quantity."""
    action: Action = data.draw(st.sampled_from(ACTIONS))
    if data.draw(st.booleans()):
        return MerchantRequest(f"r{number}", ORDER, action)
    target = data.draw(st.sampled_from(list(items)))["id"]
    return MerchantRequest(
        f"r{number}", ORDER, action, target, data.draw(st.none() | st.integers(1, 4))
    )


def resolution(data: st.DataObject, ledger: Ledger) -> JSON | None:
    """The fulfiller's answer to one of our cancellations, accepting some of what was asked."""
    asked = [i for i in ledger.intents if i.kind == "fulfiller_cancel"]
    if not asked:
        return None
    intent = data.draw(st.sampled_from(asked))
    items = {
        item["fulfillmentOrderItemUpstreamId"]: (
            item["quantity"],
            data.draw(st.integers(0, item["quantity"])),
        )
        for item in intent.body["items"]
    }
    state = data.draw(st.sampled_from(["accepted", "rejected"]))
    return event(
        f"fulfillment_cancellation.{state}", cancellation(intent.body["upstreamId"], state, items)
    )


def step(data: st.DataObject, ledger: Ledger, items: Sequence[JSON], number: int) -> JSON | None:
    """Play one random step; return the event fed, if any."""
    choice = data.draw(
        st.sampled_from(["fulfiller", "fulfiller", "request", "settle", "fail", "resolve"])
    )
    pending_intents = [
        i for i in ledger.intents if i.status == "pending" and i.kind != "create_fulfillment_order"
    ]
    if choice == "request":
        with contextlib.suppress(RequestRefusedError):
            ledger.request(merchant_request(data, items, number))
        return None
    if choice in {"settle", "fail"} and pending_intents:
        intent = data.draw(st.sampled_from(pending_intents))
        if choice == "settle":
            ledger.settle(intent.key)
        elif intent.kind != "cancel_charge":
            ledger.record(None, (), fail_intent(intent, ledger.intents))
        return None
    evt = resolution(data, ledger) if choice == "resolve" else fulfiller_events(data, items)
    if evt is not None:
        ledger.feed(evt)
    return evt


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=orders(), data=st.data())
def test_claims_never_exceed_a_line_and_replays_add_nothing(
    items: tuple[JSON, ...], data: st.DataObject
) -> None:
    """Random shipments, cumulative cancels, requests and answers never over-claim a line."""
    ledger = accepted(*items)
    if data.draw(st.booleans()):
        counters = {i["id"]: {"quantity": i["quantity"]} for i in items if PHYSICAL[i["skuId"]]}
        ledger.feed(event("fulfillment_order.pending", fo_obj("pending", counters)))
    seen: list[JSON] = []
    for number in range(data.draw(st.integers(1, 12))):
        evt = step(data, ledger, items, number)
        if evt is not None and ledger.decisions[-1].status == "handled":
            seen.append(evt)
        for ln in ledger.live.lines:
            assert 0 <= claimed(ln.line_id, ledger.intents) <= ln.quantity
        replay_now = data.draw(st.booleans())
        if seen and replay_now:
            replay = ledger.feed(data.draw(st.sampled_from(seen)))
            assert replay.intents == ()
