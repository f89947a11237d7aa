"""What a Digital River event means for an order: the distributed-model handlers, decided purely.

:func:`decide` is a function of (event, our order, the order's ledger) and returns a
:class:`Decision`: a new order snapshot, new intents to record before anything is sent, intents
whose claims change, and notifications. Duplicates and replays add nothing because every write
has a natural key (``fo:<order>``, ``capture:<shipment>``, the cumulative cancel vector) and every
cancel is computed as a difference against the ledger, never taken from the event as is
(docs/digital-river-api.md §14.4). The edge records the decision in one transaction, then
sends.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from catalog_sync.core.orders import (
    INTENT_METADATA_KEY,
    FoState,
    Intent,
    IntentKind,
    LineClaim,
    Order,
    OrderLine,
    Origin,
    OverQuantityError,
    claimed,
    next_target,
    optional_count,
    order_from_api,
    read_count,
    read_id,
    read_list,
    read_map,
    read_str,
)

DecisionStatus = Literal["handled", "ignored", "deferred", "error"]
#: Where an event stands in the inbox: as received, after a handling attempt (a
#: :data:`DecisionStatus`), ``dead`` (unreadable, retries exhausted, or its write parked), or
#: ``before_start`` (created before the start point, ``events_start``: kept, never acted on).
InboxStatus = Literal["received", "handled", "ignored", "deferred", "error", "dead", "before_start"]
#: What moves an event between inbox statuses: the outcome of a handling attempt, a write of
#: its decision parked after its last retry, ``events retry`` (requeue), ``events replay``.
InboxTrigger = Literal[
    "handled", "ignored", "deferred", "error", "dead", "write_parked", "requeue", "replay"
]
NotificationKind = Literal[
    "backorder", "capture_failed", "cancellation_refused", "shipped_over_cancel"
]

#: Our order states (DR's own are in docs/digital-river-api.md §9.3). Each pair is an allowed move;
#: any other proposed move is a stale or out-of-order event and leaves the state unchanged.
ORDER_TRANSITIONS: Final[frozenset[tuple[str, str]]] = frozenset(
    {
        ("accepted", "fulfillment_ordered"),
        ("accepted", "in_progress"),
        ("accepted", "fulfilled"),
        ("accepted", "complete"),
        ("accepted", "cancelled"),
        ("fulfillment_ordered", "in_progress"),
        ("fulfillment_ordered", "fulfilled"),
        ("fulfillment_ordered", "complete"),
        ("fulfillment_ordered", "cancelled"),
        ("in_progress", "fulfilled"),
        ("in_progress", "complete"),
        ("in_progress", "cancelled"),
        ("fulfilled", "complete"),
    }
)

#: The fulfiller's line states, moved only forward: events arrive late and out of order
#: (docs/digital-river-api.md §14.1), so a ``pending`` seen after ``shipped`` is old news, not a
#: regression.
LINE_TRANSITIONS: Final[frozenset[tuple[FoState | None, FoState]]] = frozenset(
    {
        (None, "pending"),
        (None, "backordered"),
        (None, "shipped"),
        (None, "cancelled"),
        ("pending", "backordered"),
        ("pending", "shipped"),
        ("pending", "cancelled"),
        ("backordered", "shipped"),
        ("backordered", "cancelled"),
        ("shipped", "cancelled"),
    }
)

_ORDER_EVENT_STATES: Final = {
    "order.fulfilled": "fulfilled",
    "order.complete": "complete",
    "order.cancelled": "cancelled",
}
_CHARGE_EVENTS: Final = frozenset(
    {"order.charge.capture.complete", "order.charge.capture.failed", "order.charge.cancel.complete"}
)
_CANCELLATION_EVENTS: Final = frozenset(
    {
        "fulfillment_cancellation.created",
        "fulfillment_cancellation.accepted",
        "fulfillment_cancellation.rejected",
    }
)
#: Where each event type's object names the order (first matching prefix wins).
_ORDER_ID_FIELDS: Final = (
    ("order.charge.", "orderId"),
    ("order.", "id"),
    ("fulfillment_order.shipped", "fulfillmentOrderUpstreamId"),
    ("fulfillment_order.", "upstreamId"),
    ("fulfillment.created", "orderId"),
)
#: Separates order id and request id in a fulfillment cancellation's ``upstreamId``.
CANCELLATION_KEY_SEPARATOR: Final = "~"
#: The events carrying the fulfiller's answer to a cancellation we asked for.
CANCELLATION_ANSWERS: Final = frozenset(
    {"fulfillment_cancellation.accepted", "fulfillment_cancellation.rejected"}
)

# ------------------------------------------------------------------ the inbox statuses
#: Every inbox status, in the order ``status`` and ``events list`` show them.
INBOX_STATUSES: Final[tuple[InboxStatus, ...]] = (
    "received",
    "handled",
    "ignored",
    "deferred",
    "error",
    "dead",
    "before_start",
)
#: The statuses of an event still to be handled: the handler takes these when due, and the
#: event lag is the age of the oldest of them. The order is the one the state's partial index
#: of open events was created with.
INBOX_OPEN: Final[tuple[InboxStatus, ...]] = ("received", "deferred", "error")
#: A new event, or one sent back to be handled again (``events retry``, ``events replay``).
INBOX_RECEIVED: Final[InboxStatus] = "received"
#: A dead letter: unreadable, of the other mode, retries exhausted, or its write parked.
INBOX_DEAD: Final[InboxStatus] = "dead"
#: An event created before the start point a first start fixed (``events_start``): stored so
#: ``orders show`` and audits can read it, never handled; only ``events replay`` (an operator's
#: explicit choice) sends it to the handler.
INBOX_BEFORE_START: Final[InboxStatus] = "before_start"
#: The outcomes of a handling attempt: each is both the trigger and the status it leads to.
_ATTEMPT_OUTCOMES: Final[tuple[Literal["handled", "ignored", "deferred", "error", "dead"], ...]] = (
    "handled",
    "ignored",
    "deferred",
    "error",
    "dead",
)
#: The inbox machine as one table: (status, trigger) -> status; a move absent is not made.
INBOX_TRANSITIONS: Final[Mapping[tuple[InboxStatus, InboxTrigger], InboxStatus]] = {
    **{(status, trigger): trigger for status in INBOX_OPEN for trigger in _ATTEMPT_OUTCOMES},
    ("handled", "write_parked"): INBOX_DEAD,
    **{(status, "requeue"): INBOX_RECEIVED for status in (*INBOX_OPEN, INBOX_DEAD)},
    **{(status, "replay"): INBOX_RECEIVED for status in INBOX_STATUSES},
}


@dataclass(frozen=True, slots=True)
class Notification:
    """Something a person must hear about: backorders, capture failures."""

    kind: NotificationKind
    order_id: str
    message: str
    line_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Decision:
    """What one event changes. ``order`` is None when the order record does not change."""

    status: DecisionStatus
    summary: str
    order: Order | None = None
    intents: tuple[Intent, ...] = ()
    updated_intents: tuple[Intent, ...] = ()
    notifications: tuple[Notification, ...] = ()


def order_state_after(current: str, proposed: str) -> str:
    """Return ``proposed`` if the move is allowed, else ``current``: stale events change nothing."""
    return proposed if (current, proposed) in ORDER_TRANSITIONS else current


def line_state_after(current: FoState | None, proposed: FoState) -> FoState | None:
    """Return ``proposed`` if the fulfiller's line may move there, else ``current``."""
    return proposed if (current, proposed) in LINE_TRANSITIONS else current


def inbox_statuses_moved_by(trigger: InboxTrigger) -> tuple[InboxStatus, ...]:
    """Return the statuses ``trigger`` may move an event from (in :data:`INBOX_STATUSES` order)."""
    return tuple(s for s in INBOX_STATUSES if (s, trigger) in INBOX_TRANSITIONS)


def answered_upstream_id(event: Mapping[str, Any]) -> str | None:
    """Return the ``upstreamId`` of our cancellation an event answers, or None.

    Taken when the event is stored, so looking the answer up later needs no payload reading;
    tolerant, because unreadable events are stored too (as dead letters).
    """
    if event.get("type") not in CANCELLATION_ANSWERS:
        return None
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    upstream = obj.get("upstreamId") if isinstance(obj, Mapping) else None
    return upstream if isinstance(upstream, str) and upstream else None


def cancellation_upstream_id(order_id: str, request_id: str) -> str:
    """Return our fulfillment cancellation's ``upstreamId``; its events find the order by it."""
    return f"{order_id}{CANCELLATION_KEY_SEPARATOR}{request_id}"


def event_object(event: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``data.object`` of an event (docs/digital-river-api.md §14.2)."""
    return read_map(read_map(event, "data", "data"), "object", "data.object")


def order_id_of(event: Mapping[str, Any]) -> str | None:
    """Return the DR order an event is about, or None when it names none of ours."""
    kind = read_str(event, "type", "type")
    obj = event_object(event)
    if kind.startswith("fulfillment_cancellation."):
        upstream = obj.get("upstreamId")
        if isinstance(upstream, str) and CANCELLATION_KEY_SEPARATOR in upstream:
            return upstream.rpartition(CANCELLATION_KEY_SEPARATOR)[0] or None
        return None
    key = next((k for prefix, k in _ORDER_ID_FIELDS if kind.startswith(prefix)), None)
    return None if key is None else read_id(obj, key, f"data.object.{key}")


def decide(
    event: Mapping[str, Any],
    order: Order | None,
    intents: Sequence[Intent],
    *,
    physical_of: Mapping[str, bool] | None = None,
) -> Decision:
    """Return what ``event`` changes for ``order`` given the order's ledger ``intents``.

    ``physical_of`` (SKU id -> physical) is needed only to record an ``order.accepted`` order
    we do not have yet. Malformed payloads raise :class:`MalformedEventError`; rule violations (a
    shipment larger than a line) are ``error`` decisions, surfaced and retried by the edge;
    ``deferred`` means an earlier event (``order.accepted``) must be handled first.
    """
    kind = read_str(event, "type", "type")
    event_id = read_str(event, "id", "id")
    obj = event_object(event)
    if kind == "order.accepted":
        return _accepted(obj, order, intents, physical_of or {}, Origin.event(event_id))
    handler = _HANDLERS.get(kind)
    if handler is None:
        return Decision("ignored", f"{kind}: not a type this daemon acts on")
    if order is None:
        return _without_order(kind)
    try:
        return handler(_Context(kind, Origin.event(event_id), obj, order, tuple(intents)))
    except OverQuantityError as exc:
        return Decision("error", f"{kind}: {exc}")


def _without_order(kind: str) -> Decision:
    """Return the decision for an event about an order we have not recorded.

    Order state events of orders never accepted here (blocked, then cancelled) are not ours; a
    fulfillment event can only follow ``order.accepted``, which must have been listed late.
    """
    if kind in _ORDER_EVENT_STATES:
        return Decision("ignored", f"{kind}: order not tracked here")
    if kind in _CANCELLATION_EVENTS:
        return Decision("ignored", f"{kind}: not a cancellation of ours")
    return Decision("deferred", f"{kind}: order not recorded yet (waiting for order.accepted)")


# ------------------------------------------------------------------ handlers


@dataclass(frozen=True, slots=True)
class _Context:
    kind: str
    origin: Origin
    obj: Mapping[str, Any]
    order: Order
    intents: tuple[Intent, ...]


def _order_state(ctx: _Context) -> Decision:
    order = ctx.order
    state = order_state_after(order.state, _ORDER_EVENT_STATES[ctx.kind])
    if state == order.state:
        return Decision("handled", f"{ctx.kind}: order stays {order.state}")
    return _handled(ctx, replace(order, state=state), f"order {order.state} -> {state}")


def _accepted(
    obj: Mapping[str, Any],
    order: Order | None,
    intents: Sequence[Intent],
    physical_of: Mapping[str, bool],
    origin: Origin,
) -> Decision:
    new_order = order_from_api(obj, physical_of) if order is None else None
    current = new_order or order
    assert current is not None
    physical = [line for line in current.lines if line.physical]
    key = f"fo:{current.order_id}"
    if not physical or any(i.key == key for i in intents):
        what = "recorded" if new_order else "already recorded"
        detail = "no physical lines" if not physical else "fulfillment order already intended"
        return Decision("handled", f"order.accepted: order {what}; {detail}", new_order)
    intent = Intent(
        key=key,
        kind="create_fulfillment_order",
        order_id=current.order_id,
        body=fulfillment_order_body(obj, physical),
        lines=(),
        origin=origin,
    )
    summary = f"order.accepted: fulfillment order for {len(physical)} physical line(s)"
    return Decision("handled", summary, new_order, (intent,))


def fulfillment_order_body(obj: Mapping[str, Any], lines: Sequence[OrderLine]) -> dict[str, Any]:
    """Return the ``POST /fulfillment-orders`` body for physical lines.

    The mapping from the order is docs/digital-river-api.md §10.2; the flow it belongs to, §15.
    """
    ship_to = read_map(obj, "shipTo", "shipTo")
    bill_to_raw = obj.get("billTo")
    bill_to: Mapping[str, Any] = bill_to_raw if isinstance(bill_to_raw, Mapping) else {}
    choice = read_map(obj, "shippingChoice", "shippingChoice")
    body: dict[str, Any] = {
        "upstreamId": read_id(obj, "id", "id"),
        "currency": read_str(obj, "currency", "currency"),
        "upstreamOrderTime": read_str(obj, "createdTime", "createdTime"),
        "shipTo": dict(ship_to),
        "shippingChoice": {"id": read_str(choice, "serviceLevel", "shippingChoice.serviceLevel")},
    }
    if isinstance(obj.get("locale"), str):
        body["locale"] = obj["locale"]
    for name in ("email", "name", "phone"):
        value = (
            ship_to.get(name) or bill_to.get(name) or (obj.get(name) if name == "email" else None)
        )
        if isinstance(value, str) and value:
            body[name] = value
    if isinstance(obj.get("checkoutId"), str):
        body["reservationId"] = obj["checkoutId"]
    items_by_id = {read_id(i, "id", "items[].id"): i for i in read_list(obj, "items", "items")}
    body["items"] = [_fo_item(line, items_by_id[line.line_id]) for line in lines]
    return body


def _fo_item(line: OrderLine, item: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "inventoryItemId": line.sku_id,
        "quantity": line.quantity,
        "upstreamId": line.line_id,
    }
    tax = item.get("tax")
    if isinstance(tax, Mapping) and isinstance(tax.get("amount"), int | float):
        out["tax"] = {"amount": tax["amount"]}
    if isinstance(item.get("amount"), int | float):
        out["total"] = item["amount"]
    return out


def _fo_pending(ctx: _Context) -> Decision:
    order = _with_fo_id(ctx.order, ctx.obj)
    for n, item in enumerate(read_list(ctx.obj, "items", "data.object.items")):
        line = _line_of_fo_item(order, item, n)
        if line is None:
            return _unknown_line(ctx, item)
        order = order.with_line(_with_fo_item(line, item, n, "pending"))
    order = replace(order, state=order_state_after(order.state, "fulfillment_ordered"))
    return _handled(ctx, order, f"fulfillment order {order.fulfillment_order_id} pending")


def _fo_backordered(ctx: _Context) -> Decision:
    order = _with_fo_id(ctx.order, ctx.obj)
    backordered: list[str] = []
    for n, item in enumerate(read_list(ctx.obj, "items", "data.object.items")):
        line = _line_of_fo_item(order, item, n)
        if line is None:
            return _unknown_line(ctx, item)
        line = _with_fo_item(line, item, n, None)
        total = optional_count(item, "totalBackordered", f"data.object.items[{n}].totalBackordered")
        if total is not None and total > line.backordered_total:
            fo_state = line_state_after(line.fo_state, "backordered")
            line = replace(line, backordered_total=total, fo_state=fo_state)
            backordered.append(line.line_id)
        order = order.with_line(line)
    if not backordered:
        return _handled(ctx, order, "repeat (totalBackordered unchanged)")
    note = Notification(
        "backorder",
        order.order_id,
        f"order {order.order_id}: line(s) {', '.join(backordered)} backordered by the fulfiller",
        tuple(backordered),
    )
    return replace(
        _handled(ctx, order, f"line(s) {', '.join(backordered)} backordered"),
        notifications=(note,),
    )


def _shipped(ctx: _Context) -> Decision:
    shipment = ctx.obj
    shipment_id = read_id(shipment, "id", "data.object.id")
    order = _with_fo_id(ctx.order, shipment)
    per_line: dict[str, int] = {}
    body_items: list[dict[str, Any]] = []
    for n, item in enumerate(read_list(shipment, "items", "data.object.items")):
        path = f"data.object.items[{n}]"
        line_id = read_id(
            item, "fulfillmentOrderItemUpstreamId", f"{path}.fulfillmentOrderItemUpstreamId"
        )
        line = order.line(line_id)
        if line is None or not line.physical:
            return Decision(
                "error", f"{ctx.kind}: shipment {shipment_id} ships unknown line {line_id}"
            )
        fo_item = item.get("fulfillmentOrderItemId")
        if (
            line.fo_item_id is None
            and isinstance(fo_item, str | int)
            and not isinstance(fo_item, bool)
        ):
            line = replace(line, fo_item_id=str(fo_item))
        order = order.with_line(replace(line, fo_state=line_state_after(line.fo_state, "shipped")))
        quantity = read_count(item, "quantity", f"{path}.quantity")
        per_line[line_id] = per_line.get(line_id, 0) + quantity
        body_items.append(
            {
                "itemId": line_id,
                "shipmentItemId": read_id(item, "id", f"{path}.id"),
                "quantity": quantity,
            }
        )
    order = replace(order, state=order_state_after(order.state, "in_progress"))
    key = f"capture:{shipment_id}"
    if any(i.key == key for i in ctx.intents):
        return _handled(ctx, order, f"shipment {shipment_id} already captured (duplicate)")
    claims, updated = _claim_over_fulfiller_cancels(ctx, order, per_line, "capture")
    notes = (
        ()
        if not updated
        else (
            Notification(
                "shipped_over_cancel",
                order.order_id,
                f"order {order.order_id}: the fulfiller shipped units we had asked it to cancel",
                tuple(sorted(per_line)),
            ),
        )
    )
    body: dict[str, Any] = {"orderId": order.order_id, "shipmentId": shipment_id}
    for name in ("trackingCompany", "trackingNumber", "trackingUrl"):
        if isinstance(shipment.get(name), str) and shipment[name]:
            body[name] = shipment[name]
    body["items"] = body_items
    body["metadata"] = {INTENT_METADATA_KEY: key}
    intent = Intent(key, "capture", order.order_id, body, claims, ctx.origin)
    units = sum(per_line.values())
    return replace(
        _handled(ctx, order, f"shipment {shipment_id}: capture {units} unit(s)"),
        intents=(intent,),
        updated_intents=updated,
        notifications=notes,
    )


def _fo_cancelled(ctx: _Context) -> Decision:
    order = _with_fo_id(ctx.order, ctx.obj)
    deltas: dict[str, int] = {}
    cumulative: dict[str, int] = {}
    for n, item in enumerate(read_list(ctx.obj, "items", "data.object.items")):
        line = _line_of_fo_item(order, item, n)
        if line is None:
            return _unknown_line(ctx, item)
        line = _with_fo_item(line, item, n, None)
        cancelled = read_count(item, "cancelled", f"data.object.items[{n}].cancelled")
        if cancelled >= line.quantity:
            line = replace(line, fo_state=line_state_after(line.fo_state, "cancelled"))
        line = replace(line, fulfiller_cancelled=max(line.fulfiller_cancelled, cancelled))
        order = order.with_line(line)
        delta = cancelled - claimed(line.line_id, ctx.intents, ("cancel_charge",))
        if delta > 0:
            deltas[line.line_id] = delta
            cumulative[line.line_id] = cancelled
    order = replace(order, state=order_state_after(order.state, "in_progress"))
    if not deltas:
        return _handled(ctx, order, "nothing new to cancel (cumulative counts already covered)")
    vector = ",".join(f"{line_id}={cumulative[line_id]}" for line_id in sorted(cumulative))
    key = f"cancel:{order.order_id}:{vector}"
    if any(i.key == key for i in ctx.intents):
        return _handled(ctx, order, f"cancel {vector} already intended")
    claims, updated = _claim_over_fulfiller_cancels(ctx, order, deltas, "cancel_charge")
    body = {
        "orderId": order.order_id,
        "items": [{"itemId": c.line_id, "cancelQuantity": c.quantity} for c in claims],
        "metadata": {INTENT_METADATA_KEY: key},
    }
    intent = Intent(key, "cancel_charge", order.order_id, body, claims, ctx.origin)
    units = sum(deltas.values())
    return replace(
        _handled(ctx, order, f"cancel charge for {units} unit(s) ({vector})"),
        intents=(intent,),
        updated_intents=updated,
    )


def _claim_over_fulfiller_cancels(
    ctx: _Context, order: Order, wanted: Mapping[str, int], kind: IntentKind
) -> tuple[tuple[LineClaim, ...], tuple[Intent, ...]]:
    """Return claims for ``wanted`` units per line, and the fulfiller cancellations they shrink.

    A fulfiller cancellation we asked for holds units until the fulfiller's answer arrives. A
    ``cancelled`` event is that answer (its units move from the request to the charge cancel);
    a shipment of the same units means the fulfiller did not cancel them. Either way the
    request's claim shrinks so no unit is ever held twice. Units beyond what captures and charge
    cancels leave on the line are :class:`OverQuantityError`.
    """
    settled_kinds: tuple[IntentKind, ...] = ("capture", "cancel_charge")
    claims: list[LineClaim] = []
    pending_fc = [i for i in ctx.intents if i.kind == "fulfiller_cancel"]
    for line_id, quantity in sorted(wanted.items()):
        line = order.line(line_id)
        assert line is not None
        held = claimed(line_id, ctx.intents, settled_kinds)
        if held + quantity > line.quantity:
            raise OverQuantityError(
                f"line {line_id} would exceed its quantity {line.quantity}: "
                f"{held} already captured or cancelled, {quantity} more asked"
            )
        at_fulfiller = claimed(line_id, pending_fc)
        release = (
            quantity if kind == "cancel_charge" else held + quantity + at_fulfiller - line.quantity
        )
        pending_fc = _shrink(pending_fc, line_id, min(max(release, 0), at_fulfiller))
        claims.append(LineClaim(line_id, quantity, next_target(line, ctx.intents, kind, quantity)))
    originals = {i.key: i for i in ctx.intents}
    return tuple(claims), tuple(i for i in pending_fc if originals[i.key] != i)


def _shrink(intents: list[Intent], line_id: str, amount: int) -> list[Intent]:
    """Return ``intents`` with ``amount`` units of ``line_id`` released, oldest claims first."""
    out: list[Intent] = []
    for intent in intents:
        take = min(amount, intent.claim(line_id))
        amount -= take
        out.append(replace(intent, lines=_reduce(intent.lines, line_id, take)) if take else intent)
    return out


def _reduce(claims: tuple[LineClaim, ...], line_id: str, amount: int) -> tuple[LineClaim, ...]:
    out: list[LineClaim] = []
    for claim in claims:
        take = min(amount, claim.quantity) if claim.line_id == line_id else 0
        amount -= take
        out.append(replace(claim, quantity=claim.quantity - take))
    return tuple(out)


def _cancellation(ctx: _Context) -> Decision:
    obj = ctx.obj
    state = ctx.kind.rpartition(".")[2]
    upstream = read_str(obj, "upstreamId", "data.object.upstreamId")
    intent = next(
        (
            i
            for i in ctx.intents
            if i.kind == "fulfiller_cancel" and i.body.get("upstreamId") == upstream
        ),
        None,
    )
    if intent is None:
        return Decision("ignored", f"{ctx.kind}: cancellation {upstream} is not in our ledger")
    if state == "created" or intent.resolution is not None:
        return Decision("handled", f"{ctx.kind}: cancellation {upstream} {state}")
    refused: dict[str, int] = {}
    for n, item in enumerate(read_list(obj, "items", "data.object.items")):
        path = f"data.object.items[{n}]"
        line_id = read_id(
            item, "fulfillmentOrderItemUpstreamId", f"{path}.fulfillmentOrderItemUpstreamId"
        )
        asked = read_count(item, "quantity", f"{path}.quantity")
        accepted = optional_count(item, "quantityAccepted", f"{path}.quantityAccepted")
        if accepted is None:
            accepted = asked if state == "accepted" else 0
        if asked > accepted:
            refused[line_id] = refused.get(line_id, 0) + asked - accepted
    resolved = [replace(intent, resolution=state)]
    for line_id, units in refused.items():
        resolved = _shrink(resolved, line_id, units)
    decision = Decision(
        "handled", f"{ctx.kind}: cancellation {upstream} {state}", updated_intents=tuple(resolved)
    )
    if not refused:
        return decision
    detail = ", ".join(f"{units} of line {line_id}" for line_id, units in sorted(refused.items()))
    note = Notification(
        "cancellation_refused",
        ctx.order.order_id,
        f"order {ctx.order.order_id}: the fulfiller refused to cancel {detail}; "
        "those units are open again",
        tuple(sorted(refused)),
    )
    return replace(decision, notifications=(note,))


def _fulfillment_created(ctx: _Context) -> Decision:
    fulfillment_id = read_id(ctx.obj, "id", "data.object.id")
    order = replace(ctx.order, state=order_state_after(ctx.order.state, "in_progress"))
    return _handled(ctx, order, f"DR recorded fulfillment {fulfillment_id}")


def _charge(ctx: _Context) -> Decision:
    if ctx.kind != "order.charge.capture.failed":
        return Decision("handled", f"{ctx.kind}: charge {ctx.obj.get('id', '?')}")
    failed = [
        (i, why) for i, why in _failed_captures(ctx.obj) if i not in ctx.order.capture_failures
    ]
    if not failed:
        return Decision("handled", f"{ctx.kind}: capture failure already recorded")
    reasons = "; ".join(why for _, why in failed)
    order = replace(
        ctx.order, capture_failures=ctx.order.capture_failures + tuple(i for i, _ in failed)
    )
    note = Notification(
        "capture_failed", order.order_id, f"order {order.order_id}: capture failed ({reasons})"
    )
    return replace(_handled(ctx, order, f"capture failed ({reasons})"), notifications=(note,))


def _failed_captures(charge: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return (capture id, reason) of the failed captures on a Charge.

    A Charge and its ``captures[]`` are described in docs/digital-river-api.md §14.3.
    """
    captures = charge.get("captures")
    failed: list[tuple[str, str]] = []
    for n, capture in enumerate(captures if isinstance(captures, list) else []):
        if isinstance(capture, Mapping) and capture.get("state") == "failed":
            code = capture.get("failureCode", "unknown")
            message = capture.get("failureMessage", "no message")
            failed.append(
                (read_id(capture, "id", f"data.object.captures[{n}].id"), f"{code}: {message}")
            )
    if not failed:
        failed.append((f"charge:{read_id(charge, 'id', 'data.object.id')}", "no failure details"))
    return failed


# ------------------------------------------------------------------ helpers


def _handled(ctx: _Context, order: Order, what: str) -> Decision:
    return Decision("handled", f"{ctx.kind}: {what}", None if order == ctx.order else order)


def _unknown_line(ctx: _Context, item: Mapping[str, Any]) -> Decision:
    return Decision(
        "error", f"{ctx.kind}: line {item.get('upstreamId')!r} is not a physical line of the order"
    )


def _with_fo_id(order: Order, obj: Mapping[str, Any]) -> Order:
    """Return ``order`` knowing its fulfillment order id.

    The id is an integer on a fulfillment order and a string on a shipment
    (docs/digital-river-api.md §10.3, §12).
    """
    if order.fulfillment_order_id is not None:
        return order
    key = "fulfillmentOrderId" if "fulfillmentOrderUpstreamId" in obj else "id"
    value = obj.get(key)
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return replace(order, fulfillment_order_id=str(value))
    return order


def _line_of_fo_item(order: Order, item: Mapping[str, Any], n: int) -> OrderLine | None:
    line = order.line(read_id(item, "upstreamId", f"data.object.items[{n}].upstreamId"))
    return line if line is not None and line.physical else None


def _with_fo_item(
    line: OrderLine, item: Mapping[str, Any], n: int, state: FoState | None
) -> OrderLine:
    fo_item_id = line.fo_item_id or read_id(item, "id", f"data.object.items[{n}].id")
    fo_state = line.fo_state if state is None else line_state_after(line.fo_state, state)
    return replace(line, fo_item_id=fo_item_id, fo_state=fo_state)


_HANDLERS: Final[dict[str, Callable[[_Context], Decision]]] = {
    "fulfillment_order.pending": _fo_pending,
    "fulfillment_order.backordered": _fo_backordered,
    "fulfillment_order.shipped": _shipped,
    "fulfillment_order.cancelled": _fo_cancelled,
    "fulfillment.created": _fulfillment_created,
    **dict.fromkeys(_ORDER_EVENT_STATES, _order_state),
    **dict.fromkeys(_CHARGE_EVENTS, _charge),
    **dict.fromkeys(_CANCELLATION_EVENTS, _cancellation),
}
