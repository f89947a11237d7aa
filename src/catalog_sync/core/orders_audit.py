"""The orders audit, decided purely: our ledger of one order against Digital River's own records.

Events are the daemon's only news, and they can be missed: one that expires before it is read
(they are kept 30 days, docs/digital-river-api.md §14.1), one never listed, a capture made by
another tool. What Digital River *holds* is the truth that money moved: the order and its state
(§9), its fulfillment orders found by ``upstreamId`` (§10), its fulfillments, which are the
captures and cancels (§13), and the shipments of its fulfillment orders (§12). This module
compares them with our ledger and says, per order line, what disagrees.

Three findings can be repaired safely, and only by the handler's own path: the audit hands the
edge the event Digital River would have sent (the shipment, the fulfillment order, the order),
and :func:`catalog_sync.core.fulfillment.decide` records the write under its natural key
(``capture:<shipment>``, the cumulative cancel vector, ``fo:<order>``), so a repair and a late
real event can never both land. The rest is for a person.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final, Literal, get_args

from catalog_sync.core.money_plan import line_amount, unit_prices
from catalog_sync.core.orders import (
    Intent,
    IntentKind,
    Order,
    claimed,
    pending_claimed,
    read_id,
)

FindingKind = Literal[
    "uncaptured_shipment",
    "over_captured",
    "over_settled",
    "uncancelled_charge",
    "missing_fulfillment_order",
    "order_not_complete",
    "ledger_mismatch",
]
#: Every finding kind, in the order reports list them.
FINDING_KINDS: Final[tuple[FindingKind, ...]] = get_args(FindingKind)
#: The kinds a repair may exist for (whether one does depends on our ledger: see each check).
REPAIRABLE_KINDS: Final[frozenset[FindingKind]] = frozenset(
    {"uncaptured_shipment", "uncancelled_charge", "missing_fulfillment_order"}
)
#: DR order states past ``complete`` / ``cancelled``: money moved on after the order was done.
_AFTER_DONE: Final = frozenset({"returned", "dispute"})
Obj = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class DrRecords:
    """What Digital River holds about one order, as the API's JSON objects."""

    order: Obj
    fulfillment_orders: Sequence[Obj] = ()
    fulfillments: Sequence[Obj] = ()
    shipments: Sequence[Obj] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """One disagreement, with the units and money it concerns.

    ``amount`` is the value of ``units`` of the line (its amount and tax per unit, as the money
    plan prices them), or of the order's lines for an order-level finding; None when unpriced.
    ``repair`` is the event that repairs it through the handler, None when it is for a person.
    """

    kind: FindingKind
    order_id: str
    line_id: str | None
    units: int
    amount: Decimal | None
    currency: str | None
    detail: str
    repair: Obj | None = None


@dataclass(frozen=True, slots=True)
class _Order:
    """One order's figures per line, read once from DR's records and our ledger."""

    order_id: str
    currency: str | None
    dr: DrRecords
    ours: Order | None
    intents: Sequence[Intent]
    quantities: Mapping[str, int]
    physical: frozenset[str]
    prices: Mapping[str, tuple[Decimal, int]]
    shipments: Sequence[Obj]
    shipped: Counter[str]
    captured: Counter[str]
    cancelled: Counter[str]
    fulfiller_cancelled: Counter[str]

    def finding(
        self,
        kind: FindingKind,
        line_id: str | None,
        units: int,
        detail: str,
        repair: Obj | None = None,
        *,
        amount: Decimal | None = None,
    ) -> Finding:
        value = amount if line_id is None else line_amount(self.prices, line_id, units)
        return Finding(kind, self.order_id, line_id, units, value, self.currency, detail, repair)

    def intent(self, key: str) -> Intent | None:
        return next((i for i in self.intents if i.key == key), None)


def audit_order(
    dr: DrRecords,
    ours: Order | None,
    intents: Sequence[Intent],
    *,
    physical_of: Mapping[str, bool],
    grace: timedelta,
    now: datetime,
) -> list[Finding]:
    """Return the findings for one order, in :data:`FINDING_KINDS` order.

    ``ours`` and ``intents`` are our record and ledger of the order (None and empty when we
    never recorded it); ``physical_of`` gives physical/digital of SKUs we hold no record of.
    Writes our ledger still has pending are in flight, not missing; a shipment, an accepted
    order and a finished order are given ``grace`` from their time before they count.
    """
    view = _view(dr, ours, intents, physical_of)
    findings = [
        *_uncaptured_shipments(view, grace, now),
        *_over_captured(view),
        *_over_settled(view),
        *_uncancelled_charges(view),
        *_missing_fulfillment_order(view, grace, now),
        *_order_not_complete(view, grace, now),
        *_ledger_mismatches(view),
    ]
    return sorted(findings, key=lambda f: FINDING_KINDS.index(f.kind))


def _view(
    dr: DrRecords, ours: Order | None, intents: Sequence[Intent], physical_of: Mapping[str, bool]
) -> _Order:
    order_id = read_id(dr.order, "id", "id")
    items = [i for i in dr.order.get("items") or () if isinstance(i, Mapping)]
    quantities = {str(i.get("id")): int(i.get("quantity") or 0) for i in items}
    physical = set()
    for item in items:
        line_id = str(item.get("id"))
        ours_line = ours.line(line_id) if ours is not None else None
        known = ours_line.physical if ours_line else physical_of.get(str(item.get("skuId")))
        if known:
            physical.add(line_id)
    shipments = [s for s in dr.shipments if _text(s.get("fulfillmentOrderUpstreamId")) == order_id]
    fos = [fo for fo in dr.fulfillment_orders if _text(fo.get("upstreamId")) == order_id]
    currency = dr.order.get("currency")
    return _Order(
        order_id=order_id,
        currency=currency if isinstance(currency, str) else None,
        dr=DrRecords(dr.order, fos, dr.fulfillments, shipments),
        ours=ours,
        intents=intents,
        quantities=quantities,
        physical=frozenset(physical),
        prices=unit_prices(dr.order),
        shipments=shipments,
        shipped=_sum(shipments, "fulfillmentOrderItemUpstreamId", "quantity"),
        captured=_sum(dr.fulfillments, "itemId", "quantity"),
        cancelled=_sum(dr.fulfillments, "itemId", "cancelQuantity"),
        fulfiller_cancelled=_sum(fos, "upstreamId", "cancelled"),
    )


def _uncaptured_shipments(view: _Order, grace: timedelta, now: datetime) -> Iterable[Finding]:
    """Shipments no fulfillment names, older than ``grace``: goods out, money not taken.

    Repaired by the shipment's own ``fulfillment_order.shipped`` unless our ledger already
    holds that capture (landed: a ledger mismatch; refused: for a person) or the line's units
    were captured some other way (a repair would capture them twice).
    """
    named = {_text(f.get("shipmentId")) for f in view.dr.fulfillments}
    for shipment in view.shipments:
        shipment_id = read_id(shipment, "id", "id")
        if shipment_id in named or not _older(shipment.get("createdTime"), grace, now):
            continue
        intent = view.intent(f"capture:{shipment_id}")
        if intent is not None and intent.status != "failed":
            continue  # in flight, or landed per our ledger (a ledger mismatch)
        units = _sum([shipment], "fulfillmentOrderItemUpstreamId", "quantity")
        open_units = all(view.shipped[li] - view.captured[li] >= n for li, n in units.items())
        fixable = view.ours is not None and intent is None and open_units
        repair = _event("fulfillment_order.shipped", f"capture:{shipment_id}", shipment)
        why = (
            "DR refused our capture"
            if intent is not None
            else "its units were captured without it"
            if not open_units
            else "order not recorded here"
            if view.ours is None
            else "its event never reached us"
        )
        for line_id, quantity in sorted(units.items()):
            yield view.finding(
                "uncaptured_shipment",
                line_id,
                quantity,
                f"shipment {shipment_id} shipped {quantity} unit(s), never captured ({why})",
                repair if fixable else None,
            )


def _over_captured(view: _Order) -> Iterable[Finding]:
    """Physical lines captured beyond what was shipped: customers paid for goods not sent."""
    for line_id in sorted(view.physical):
        extra = view.captured[line_id] - view.shipped[line_id]
        if extra > 0:
            yield view.finding(
                "over_captured",
                line_id,
                extra,
                f"captured {view.captured[line_id]}, shipped {view.shipped[line_id]}",
            )


def _over_settled(view: _Order) -> Iterable[Finding]:
    """Lines captured and cancelled beyond their quantity."""
    for line_id, quantity in sorted(view.quantities.items()):
        done = view.captured[line_id] + view.cancelled[line_id]
        if done > quantity:
            yield view.finding(
                "over_settled",
                line_id,
                done - quantity,
                f"captured {view.captured[line_id]} + cancelled {view.cancelled[line_id]}"
                f" of {quantity}",
            )


def _uncancelled_charges(view: _Order) -> Iterable[Finding]:
    """Units the fulfiller cancelled whose share of the charge is still authorised.

    Repaired by the fulfillment order's ``fulfillment_order.cancelled``: the handler cancels the
    cumulative count minus what our ledger already cancels (the trap of §14.4), so the repair
    moves exactly the missing units.
    """
    for fo in view.dr.fulfillment_orders:
        cancelled = _sum([fo], "upstreamId", "cancelled")
        gaps: dict[str, int] = {}
        for line_id, count in cancelled.items():
            in_flight = pending_claimed(line_id, view.intents, "cancel_charge")
            gap = count - view.cancelled[line_id] - in_flight
            if gap > 0:
                gaps[line_id] = gap
        if not gaps:
            continue
        covered = all(
            cancelled[li] - claimed(li, view.intents, ("cancel_charge",)) >= gap
            for li, gap in gaps.items()
        )
        fixable = view.ours is not None and covered
        vector = ",".join(f"{li}={cancelled[li]}" for li in sorted(cancelled))
        fo_id = read_id(fo, "id", "id")
        repair = _event("fulfillment_order.cancelled", f"cancel:{fo_id}:{vector}", fo)
        why = "order not recorded here" if view.ours is None else "its event never reached us"
        if not covered:
            why = "our ledger says it was cancelled"
        for line_id, gap in sorted(gaps.items()):
            yield view.finding(
                "uncancelled_charge",
                line_id,
                gap,
                f"the fulfiller cancelled {cancelled[line_id]} unit(s) on fulfillment order"
                f" {fo_id}, the charge only {view.cancelled[line_id]} ({why})",
                repair if fixable else None,
            )


def _missing_fulfillment_order(view: _Order, grace: timedelta, now: datetime) -> Iterable[Finding]:
    """An order accepted longer than ``grace`` ago, with physical lines and no fulfillment order.

    Repaired by the order's own ``order.accepted`` unless our ledger holds the fulfillment order
    already (in flight, or landed: a ledger mismatch) or DR refused it.
    """
    order = view.dr.order
    if order.get("state") != "accepted" or not view.physical or view.dr.fulfillment_orders:
        return
    transitions = order.get("stateTransitions")
    accepted = transitions.get("accepted") if isinstance(transitions, Mapping) else None
    if not _older(accepted or order.get("createdTime"), grace, now):
        return
    intent = view.intent(f"fo:{view.order_id}")
    if intent is not None and intent.status != "failed":
        return
    units = sum(view.quantities[li] for li in view.physical)
    amounts = [line_amount(view.prices, li, view.quantities[li]) for li in view.physical]
    total = None if None in amounts else sum((a for a in amounts if a is not None), Decimal(0))
    why = "DR refused ours" if intent is not None else "its order.accepted never reached us"
    yield view.finding(
        "missing_fulfillment_order",
        None,
        units,
        f"accepted with {len(view.physical)} physical line(s), no fulfillment order ({why})",
        None if intent is not None else _event("order.accepted", f"fo:{view.order_id}", order),
        amount=total,
    )


def _order_not_complete(view: _Order, grace: timedelta, now: datetime) -> Iterable[Finding]:
    """Every line captured or cancelled at DR for longer than ``grace``, the order not final."""
    if not view.quantities or any(
        view.captured[li] + view.cancelled[li] < q for li, q in view.quantities.items()
    ):
        return
    expected = "complete" if sum(view.captured.values()) else "cancelled"
    state = view.dr.order.get("state")
    times = [t for f in view.dr.fulfillments if (t := _time(f.get("createdTime"))) is not None]
    if state == expected or state in _AFTER_DONE or (times and max(times) > now - grace):
        return
    amounts = [line_amount(view.prices, li, n) for li, n in view.captured.items()]
    total = None if None in amounts else sum((a for a in amounts if a is not None), Decimal(0))
    yield view.finding(
        "order_not_complete",
        None,
        sum(view.quantities.values()),
        f"every line is captured or cancelled, the order is {state}, not {expected}",
        amount=total,
    )


def _ledger_mismatches(view: _Order) -> Iterable[Finding]:
    """Where our ledger and DR disagree, either way (writes in flight are not disagreements)."""
    ours = view.ours
    if ours is None:
        return
    for line in ours.lines:
        sides: tuple[tuple[IntentKind, int, int, str], ...] = (
            ("capture", view.captured[line.line_id], line.fulfilled, "captured"),
            ("cancel_charge", view.cancelled[line.line_id], line.cancelled, "cancelled"),
        )
        for kind, at_dr, confirmed, word in sides:
            in_flight = pending_claimed(line.line_id, view.intents, kind)
            if at_dr < confirmed:
                units, side = confirmed - at_dr, "our ledger"
            elif at_dr > confirmed + in_flight:
                units, side = at_dr - confirmed - in_flight, "DR (outside catalog-sync?)"
            else:
                continue
            yield view.finding(
                "ledger_mismatch",
                line.line_id,
                units,
                f"{word}: DR {at_dr}, our ledger {confirmed} (+{in_flight} in flight);"
                f" {side} has {units} more",
            )
    yield from _fulfillment_order_mismatch(view, ours)


def _fulfillment_order_mismatch(view: _Order, ours: Order) -> Iterable[Finding]:
    dr_ids = sorted(read_id(fo, "id", "id") for fo in view.dr.fulfillment_orders)
    intent = view.intent(f"fo:{view.order_id}")
    if len(dr_ids) > 1:
        detail = f"DR holds {len(dr_ids)} fulfillment orders ({', '.join(dr_ids)}): goods twice?"
    elif ours.fulfillment_order_id is not None and ours.fulfillment_order_id not in dr_ids:
        detail = f"our fulfillment order {ours.fulfillment_order_id} is not at DR"
    elif intent is not None and intent.status == "done" and not dr_ids:
        detail = "our ledger created a fulfillment order; DR holds none"
    elif dr_ids and ours.fulfillment_order_id is None and intent is None:
        detail = f"DR holds fulfillment order {dr_ids[0]}, our ledger none"
    else:
        return
    yield view.finding("ledger_mismatch", None, 0, detail)


def _event(kind: str, key: str, obj: Obj) -> Obj:
    """The event Digital River would have sent, named after the write it leads to."""
    return {"id": f"audit:{key}", "type": kind, "data": {"object": dict(obj)}}


def _sum(objs: Iterable[Obj], line_key: str, count_key: str) -> Counter[str]:
    """Per order line id, the sum of ``count_key`` over the ``items`` of ``objs``."""
    totals: Counter[str] = Counter()
    for obj in objs:
        for item in obj.get("items") or ():
            if isinstance(item, Mapping) and item.get(line_key) is not None:
                count = item.get(count_key)
                if isinstance(count, int) and not isinstance(count, bool):
                    totals[str(item[line_key])] += count
    return totals


def _text(value: object) -> str | None:
    """An id DR sends as text or a number, as text."""
    return None if value is None or isinstance(value, bool) else str(value)


def _time(value: object) -> datetime | None:
    """An API time (docs/digital-river-api.md §2) as a datetime, None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _older(value: object, grace: timedelta, now: datetime) -> bool:
    """Whether the time ``value`` is more than ``grace`` before ``now`` (unknown: it is)."""
    moment = _time(value)
    return moment is None or moment <= now - grace
