"""The orders audit, pure: histories built with the handler's own decisions, then compared.

A history is what the daemon would have recorded (``decide``, then each write landing as DR
answers it) and what DR then holds; events can vanish on the way. The audit must find exactly
what vanished, and its repairs, decided again by ``decide``, must bring DR and our ledger level.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings
from tests.unit.core.test_fulfillment import FO, ORDER, PHYSICAL, event, fo_obj, order_obj, shipment

from catalog_sync.core.fulfillment import decide
from catalog_sync.core.orders import Intent, Order, fail_intent, settle
from catalog_sync.core.orders_audit import DrRecords, Finding, audit_order

JSON = dict[str, Any]
THEN = "2024-01-10T21:00:00Z"
NOW = datetime(2024, 1, 11, tzinfo=UTC)
GRACE = timedelta(hours=1)
#: Physical lines of ``order_obj()`` and their quantities (L2 is a digital line).
PHYSICAL_LINES = {"L1": 3, "L3": 1}


@dataclass
class History:
    """Our record and ledger of the order, and what DR holds, kept in step."""

    order: Order
    intents: list[Intent]
    dr_order: JSON = field(default_factory=order_obj)
    fulfillments: list[JSON] = field(default_factory=list)
    shipments: list[JSON] = field(default_factory=list)
    fulfillment_orders: list[JSON] = field(default_factory=list)

    def see(self, payload: Mapping[str, Any]) -> None:
        """The handler decides ``payload``; each new write then lands at DR."""
        decision = decide(payload, self.order, self.intents, physical_of=PHYSICAL)
        if decision.order is not None:
            self.order = decision.order
        self.intents += [i for i in decision.intents if i.key not in self.keys()]
        for intent in decision.intents:
            self.land(intent)

    def keys(self) -> set[str]:
        return {i.key for i in self.intents}

    def land(self, intent: Intent) -> None:
        """DR accepts the write: a fulfillment for a capture or cancel, settled in our ledger."""
        current = next(i for i in self.intents if i.key == intent.key)
        if current.status != "pending":
            return
        reference = str(FO) if intent.kind == "create_fulfillment_order" else None
        self.order, done = settle(self.order, current, reference)
        self.intents = [done if i.key == done.key else i for i in self.intents]
        if intent.kind in {"capture", "cancel_charge"}:
            self.fulfillments.append(dr_fulfillment(intent))

    def audit(self, grace: timedelta = GRACE) -> list[Finding]:
        records = DrRecords(
            self.dr_order, self.fulfillment_orders, self.fulfillments, self.shipments
        )
        return audit_order(
            records, self.order, self.intents, physical_of=PHYSICAL, grace=grace, now=NOW
        )


def dr_fulfillment(intent: Intent, created: str = THEN) -> JSON:
    """The fulfillment DR records for one of our capture or cancel writes."""
    items = [
        {
            "itemId": item["itemId"],
            "quantity": item.get("quantity", 0),
            "cancelQuantity": item.get("cancelQuantity", 0),
        }
        for item in intent.body["items"]
    ]
    body = {"id": f"ful_{intent.key}", "createdTime": created, "orderId": ORDER, "items": items}
    if "shipmentId" in intent.body:
        body["shipmentId"] = intent.body["shipmentId"]
    return body


def accepted_history() -> History:
    """The order accepted and its fulfillment order created, both known to DR and to us."""
    history = History(*_recorded())
    history.see(event("order.accepted", history.dr_order))
    history.fulfillment_orders = [fo_obj("pending", _counters({}, {}))]
    return history


def _recorded() -> tuple[Order, list[Intent]]:
    decision = decide(event("order.accepted", order_obj()), None, [], physical_of=PHYSICAL)
    assert decision.order is not None
    return decision.order, []


def _counters(shipped: Mapping[str, int], cancelled: Mapping[str, int]) -> dict[str, JSON]:
    return {
        line_id: {
            "quantity": quantity,
            "shipped": shipped.get(line_id, 0),
            "cancelled": cancelled.get(line_id, 0),
            "pending": quantity - shipped.get(line_id, 0) - cancelled.get(line_id, 0),
        }
        for line_id, quantity in PHYSICAL_LINES.items()
    }


@dataclass(frozen=True)
class LinePlan:
    """What happens to one physical line, and which of its events vanish."""

    shipped: int
    cancelled: int
    ship_seen: bool
    cancel_seen: bool


@st.composite
def line_plans(draw: st.DrawFn) -> dict[str, LinePlan]:
    plans = {}
    for line_id, quantity in PHYSICAL_LINES.items():
        shipped = draw(st.integers(0, quantity))
        cancelled = draw(st.integers(0, quantity - shipped))
        plans[line_id] = LinePlan(shipped, cancelled, draw(st.booleans()), draw(st.booleans()))
    return plans


def lived(plans: Mapping[str, LinePlan]) -> History:
    """A history where the fulfiller shipped and cancelled per ``plans`` and some events vanished.

    One shipment per shipped line; the fulfiller's cancellation is one event per line (each
    with the order's cumulative counters so far), in line order.
    """
    history = accepted_history()
    cancelled: dict[str, int] = {}
    for n, (line_id, plan) in enumerate(plans.items()):
        if plan.shipped:
            parcel = {**shipment(f"S{line_id}", {line_id: plan.shipped}, 9000 + n)}
            parcel["createdTime"] = THEN
            history.shipments.append(parcel)
            if plan.ship_seen:
                history.see(event("fulfillment_order.shipped", parcel))
        if plan.cancelled:
            cancelled[line_id] = plan.cancelled
            fo = fo_obj("pending", _counters({}, cancelled))
            if plan.cancel_seen:
                history.see(event("fulfillment_order.cancelled", fo))
    shipped = {line_id: plan.shipped for line_id, plan in plans.items()}
    history.fulfillment_orders = [fo_obj("pending", _counters(shipped, cancelled))]
    return history


def missed(plans: Mapping[str, LinePlan]) -> dict[str, set[tuple[str, int]]]:
    """The units the audit must find: per kind, (line, units)."""
    return {
        "uncaptured_shipment": {
            (line_id, p.shipped) for line_id, p in plans.items() if p.shipped and not p.ship_seen
        },
        "uncancelled_charge": {
            (line_id, p.cancelled)
            for line_id, p in plans.items()
            if p.cancelled and not _cancel_covered(plans, line_id)
        },
    }


def _cancel_covered(plans: Mapping[str, LinePlan], line_id: str) -> bool:
    """A line's cancel reaches the charge when its event, or a later line's, was seen: each
    event carries the cumulative counters of every line so far (docs/digital-river-api.md §14.4)."""
    names = list(plans)
    later = names[names.index(line_id) :]
    return any(plans[name].cancelled and plans[name].cancel_seen for name in later)


def found(findings: Sequence[Finding]) -> dict[str, set[tuple[str, int]]]:
    out: dict[str, set[tuple[str, int]]] = {}
    for finding in findings:
        assert finding.line_id is not None, finding
        out.setdefault(finding.kind, set()).add((finding.line_id, finding.units))
    return out


@fuzz_settings
@given(line_plans())
def test_the_audit_finds_exactly_the_money_whose_events_vanished(
    plans: dict[str, LinePlan],
) -> None:
    """Every uncaptured shipment and uncancelled charge, with its units, and nothing else."""
    expected = {kind: units for kind, units in missed(plans).items() if units}
    assert found(lived(plans).audit()) == expected


@fuzz_settings
@given(line_plans())
def test_every_finding_of_a_vanished_event_carries_its_repair(
    plans: dict[str, LinePlan],
) -> None:
    """What vanished is repairable: each finding names the event that repairs it."""
    assert all(f.repair is not None for f in lived(plans).audit())


@fuzz_settings
@given(line_plans())
def test_repairs_decided_twice_land_once_and_leave_nothing_to_find(
    plans: dict[str, LinePlan],
) -> None:
    """The repairs through the handler's decision (twice, as a replay would) level DR and us."""
    history = lived(plans)
    repairs = {f.repair["id"]: f.repair for f in history.audit() if f.repair is not None}
    writes_before = len(history.fulfillments)
    for _ in range(2):
        for repair in repairs.values():
            history.see(repair)
    expected_writes = len({r["id"] for r in repairs.values()})
    assert (len(history.fulfillments) - writes_before, history.audit()) == (expected_writes, [])


def test_findings_are_priced_in_the_orders_currency() -> None:
    """A finding's amount is its units at the line's amount and tax per unit."""
    history = lived({"L1": LinePlan(2, 0, ship_seen=False, cancel_seen=True)})
    (finding,) = history.audit()
    assert (finding.units, finding.amount, finding.currency) == (2, Decimal("80.00"), "EUR")


def test_a_shipment_within_the_grace_period_is_not_yet_a_finding() -> None:
    """The daemon may simply not have captured it yet."""
    history = lived({"L1": LinePlan(1, 0, ship_seen=False, cancel_seen=True)})
    assert history.audit(grace=timedelta(days=1)) == []


def test_a_capture_in_flight_is_not_a_finding() -> None:
    """A capture our ledger holds and has not yet seen land is neither missing nor a mismatch."""
    history = accepted_history()
    parcel = {**shipment("S1", {"L1": 2}), "createdTime": THEN}
    history.shipments.append(parcel)
    decision = decide(event("fulfillment_order.shipped", parcel), history.order, history.intents)
    history.intents += decision.intents
    assert history.audit() == []


def test_a_refused_capture_is_reported_without_a_repair() -> None:
    """DR refused our capture: deciding the shipment again would only be refused again."""
    history = accepted_history()
    parcel = {**shipment("S1", {"L1": 2}), "createdTime": THEN}
    history.shipments.append(parcel)
    decision = decide(event("fulfillment_order.shipped", parcel), history.order, history.intents)
    history.intents += fail_intent(decision.intents[0], decision.intents)
    (finding,) = history.audit()
    assert (finding.kind, finding.repair) == ("uncaptured_shipment", None)


def test_a_capture_outside_catalog_sync_is_over_captured_and_a_mismatch() -> None:
    """Units captured with no shipment: more captured than shipped, and more than we know."""
    history = accepted_history()
    history.fulfillments.append(
        {"id": "ful_x", "orderId": ORDER, "items": [{"itemId": "L1", "quantity": 2}]}
    )
    assert [(f.kind, f.line_id, f.units) for f in history.audit()] == [
        ("over_captured", "L1", 2),
        ("ledger_mismatch", "L1", 2),
    ]


def test_captured_and_cancelled_beyond_the_quantity_is_over_settled() -> None:
    """A line of 1 captured once and cancelled once."""
    history = lived({"L3": LinePlan(1, 0, ship_seen=True, cancel_seen=True)})
    history.fulfillments.append(
        {"id": "ful_y", "orderId": ORDER, "items": [{"itemId": "L3", "cancelQuantity": 1}]}
    )
    kinds = [(f.kind, f.line_id, f.units) for f in history.audit()]
    assert ("over_settled", "L3", 1) in kinds


def test_an_accepted_order_we_never_saw_gets_its_fulfillment_order_by_repair() -> None:
    """No record here, no fulfillment order at DR: the repair is the order's own acceptance."""
    records = DrRecords(order_obj())
    (finding,) = audit_order(records, None, [], physical_of=PHYSICAL, grace=GRACE, now=NOW)
    assert finding.repair is not None
    decision = decide(finding.repair, None, [], physical_of=PHYSICAL)
    assert (finding.kind, finding.units, [i.kind for i in decision.intents]) == (
        "missing_fulfillment_order",
        4,
        ["create_fulfillment_order"],
    )


def test_a_fulfillment_order_dr_refused_is_reported_without_a_repair() -> None:
    """Our ledger's fulfillment order failed: the order is reported, not sent again."""
    order, _ = _recorded()
    decision = decide(event("order.accepted", order_obj()), order, [], physical_of=PHYSICAL)
    failed = fail_intent(decision.intents[0], decision.intents)
    (finding,) = audit_order(
        DrRecords(order_obj()), order, failed, physical_of=PHYSICAL, grace=GRACE, now=NOW
    )
    assert (finding.kind, finding.repair) == ("missing_fulfillment_order", None)


def test_an_order_whose_lines_are_all_done_but_not_complete_is_found() -> None:
    """Every line captured or cancelled for longer than the grace, and DR still says fulfilled."""
    history = lived(
        {"L1": LinePlan(3, 0, True, True), "L3": LinePlan(0, 1, ship_seen=True, cancel_seen=True)}
    )
    history.fulfillments.append(
        {
            "id": "ful_d",
            "createdTime": THEN,
            "orderId": ORDER,
            "items": [{"itemId": "L2", "quantity": 2}],
        }
    )
    history.dr_order = {**history.dr_order, "state": "fulfilled"}
    kinds = [(f.kind, f.units) for f in history.audit() if f.kind == "order_not_complete"]
    assert kinds == [("order_not_complete", 6)]


def test_a_capture_our_ledger_has_and_dr_has_not_is_a_mismatch() -> None:
    """Our ledger says captured; DR holds no such fulfillment."""
    history = lived({"L1": LinePlan(2, 0, ship_seen=True, cancel_seen=True)})
    history.fulfillments.clear()
    assert [(f.kind, f.line_id, f.units) for f in history.audit()] == [("ledger_mismatch", "L1", 2)]


def test_two_fulfillment_orders_for_one_order_are_a_mismatch() -> None:
    """DR holds a second fulfillment order for the order: goods may ship twice."""
    history = accepted_history()
    history.fulfillment_orders.append({**fo_obj("pending", _counters({}, {})), "id": FO + 1})
    (finding,) = history.audit()
    assert (finding.kind, finding.line_id) == ("ledger_mismatch", None)
