"""``POST /fulfillments``: captures and cancels of the order's charge.

The request and the events it leaves are docs/digital-river-api.md §13 and §14.3.

One call is checked whole before anything changes, so a 409 leaves no partial capture behind;
then it emits, in order, ``fulfillment.created``, the charge's capture / cancel events, and the
order's own ``fulfilled`` / ``complete`` / ``cancelled`` once every line is done.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Final

from catalog_sync.sandbox import validation as v
from catalog_sync.sandbox.assumptions import (
    CODE_ORDER_CANCELLED,
    CODE_ORDER_FULFILLED,
    CODE_QUANTITY_TOO_LARGE,
)
from catalog_sync.sandbox.clock import stamp
from catalog_sync.sandbox.dataset import DataSet, LineProgress
from catalog_sync.sandbox.errors import (
    conflict,
    invalid_parameter,
    missing_parameter,
    order_not_found,
)
from catalog_sync.sandbox.events import emit
from catalog_sync.sandbox.orders import editable, money, order_details
from catalog_sync.sandbox.store import Obj

REQUEST_KINDS: Final[dict[str, v.Check]] = {
    "orderId": v.reference,
    "items": lambda _parameter, value: value,
    "shipmentId": v.reference,
    "trackingCompany": v.text,
    "trackingNumber": v.text,
    "trackingUrl": v.text,
    "metadata": v.metadata,
}
ITEM_KINDS: Final[dict[str, v.Check]] = {
    "itemId": v.reference,
    "skuId": v.text,
    "shipmentItemId": v.reference,
    "quantity": v.count,
    "cancelQuantity": v.count,
}
_FINISHED: Final = {
    "fulfilled": (CODE_ORDER_FULFILLED, "fulfilled"),
    "complete": (CODE_ORDER_FULFILLED, "fulfilled"),
    "cancelled": (CODE_ORDER_CANCELLED, "cancelled"),
}


@dataclass(frozen=True)
class Step:
    """One request item resolved to its order line."""

    line: Obj
    progress: LineProgress
    item: Obj


def create_fulfillment(data: DataSet, body: Obj, *, check_open: bool = True) -> Obj:
    """Validate, apply to the order and its charge, emit the events, return the fulfillment.

    ``check_open`` False records quantities beyond a line's open units: a capture or cancel
    made outside catalog-sync, as the admin API records it for the orders audit's tests.
    """
    fields = v.check_fields(body, REQUEST_KINDS, required=("orderId", "items"))
    order_id = fields["orderId"]
    stored = data.orders.get(order_id)
    if stored is None:
        raise order_not_found(order_id, "orderId")
    if stored["state"] in _FINISHED:
        code, word = _FINISHED[stored["state"]]
        raise conflict(code, "orderId", f"Resource '{order_id}' is {word}.")
    if "shipmentId" in fields and fields["shipmentId"] not in data.shipments:
        raise invalid_parameter("shipmentId", fields["shipmentId"])
    order = editable(stored)
    steps = _resolve(order, data.progress[order_id], v.items_list(body), check_open=check_open)
    fulfillment = _fulfillment(data, order_id, fields, steps)
    capture, cancel = _amounts(steps)
    now = stamp(data.clock.now())
    for step in steps:
        step.progress.fulfilled += step.item["quantity"]
        step.progress.cancelled += step.item["cancelQuantity"]
        _line_state(step.line, step.progress, now)
    done = all(p.open <= 0 for p in data.progress[order_id].values())
    if done:
        rest = money(
            order["totalAmount"]
            - order["capturedAmount"]
            - order["cancelledAmount"]
            - capture
            - cancel
        )
        capture, cancel = (
            (money(capture + rest), cancel) if capture else (capture, money(cancel + rest))
        )
    order["capturedAmount"] = money(order["capturedAmount"] + capture)
    order["cancelledAmount"] = money(order["cancelledAmount"] + cancel)
    order["availableToRefundAmount"] = order["capturedAmount"]
    order["updatedTime"] = now
    data.fulfillments.put(fulfillment["id"], fulfillment)
    emit(data, "fulfillment.created", {**fulfillment, "orderDetails": order_details(order)})
    _charge_events(data, order, fulfillment["id"], "capture", capture)
    _charge_events(data, order, fulfillment["id"], "cancel", cancel)
    # Stored once the charge events have updated its payment: a stored object is a snapshot.
    data.orders.put(order_id, order)
    if done:
        _finish(data, order, now)
    return fulfillment


def _resolve(
    order: Obj, progress: dict[str, LineProgress], raw_items: list[Obj], *, check_open: bool
) -> list[Step]:
    lines = {line["id"]: line for line in order["items"]}
    used: dict[str, int] = {}
    steps = []
    for index, raw in enumerate(raw_items):
        prefix = f"items[{index}]."
        item = v.check_fields(raw, ITEM_KINDS, prefix=prefix)
        if "quantity" not in item and "cancelQuantity" not in item:
            raise missing_parameter(f"{prefix}quantity")
        item.setdefault("quantity", 0)
        item.setdefault("cancelQuantity", 0)
        if item["quantity"] + item["cancelQuantity"] == 0:
            raise invalid_parameter(f"{prefix}quantity", 0)
        line = _line_for(lines, progress, used, item, prefix)
        state = progress[line["id"]]
        left = state.open - used.get(line["id"], 0)
        if check_open and item["quantity"] > left:
            raise _too_large(f"{prefix}quantity", line["id"], left)
        if check_open and item["quantity"] + item["cancelQuantity"] > left:
            raise _too_large(f"{prefix}cancelQuantity", line["id"], left - item["quantity"])
        used[line["id"]] = used.get(line["id"], 0) + item["quantity"] + item["cancelQuantity"]
        item.setdefault("itemId", line["id"])
        item.setdefault("skuId", line["skuId"])
        steps.append(Step(line, state, item))
    return steps


def _line_for(
    lines: dict[str, Obj],
    progress: dict[str, LineProgress],
    used: dict[str, int],
    item: Obj,
    prefix: str,
) -> Obj:
    if "itemId" in item:
        line = lines.get(item["itemId"])
        if line is None:
            raise invalid_parameter(f"{prefix}itemId", item["itemId"])
        return line
    if "skuId" not in item:
        raise missing_parameter(f"{prefix}itemId")
    candidates = [line for line in lines.values() if line["skuId"] == item["skuId"]]
    if not candidates:
        raise invalid_parameter(f"{prefix}skuId", item["skuId"])
    for line in candidates:
        if progress[line["id"]].open - used.get(line["id"], 0) > 0:
            return line
    return candidates[0]


def _too_large(parameter: str, line_id: str, left: int) -> Exception:
    return conflict(
        CODE_QUANTITY_TOO_LARGE,
        parameter,
        f"Quantity is larger than the {max(left, 0)} open on line item {line_id}.",
    )


def _fulfillment(data: DataSet, order_id: str, fields: Obj, steps: list[Step]) -> Obj:
    fulfillment: Obj = {
        "id": f"ful_{uuid.uuid4()}",
        "createdTime": stamp(data.clock.now()),
        "orderId": order_id,
    }
    if "shipmentId" in fields:
        fulfillment["shipmentId"] = fields["shipmentId"]
    fulfillment["items"] = [
        {
            key: step.item[key]
            for key in ("itemId", "skuId", "shipmentItemId", "quantity", "cancelQuantity")
            if key in step.item
        }
        for step in steps
    ]
    for name in ("trackingCompany", "trackingNumber", "trackingUrl", "metadata"):
        if name in fields:
            fulfillment[name] = fields[name]
    fulfillment["liveMode"] = data.live
    return fulfillment


def _amounts(steps: list[Step]) -> tuple[float, float]:
    capture = cancel = 0.0
    for step in steps:
        unit = (step.line["amount"] + step.line["tax"]["amount"]) / step.line["quantity"]
        capture += unit * step.item["quantity"]
        cancel += unit * step.item["cancelQuantity"]
    return money(capture), money(cancel)


def _line_state(line: Obj, progress: LineProgress, now: str) -> None:
    if progress.open:
        return
    line["state"] = "fulfilled" if progress.fulfilled else "cancelled"
    line["stateTransitions"] = {**line["stateTransitions"], line["state"]: now}


def _charge_events(
    data: DataSet, order: Obj, fulfillment_id: str, kind: str, amount: float
) -> None:
    """``order.charge.<kind>.pending`` then ``.complete``, with the Charge as ``data.object``;
    ``order``'s payment then shows the completed operation (the caller stores ``order``)."""
    if amount <= 0:
        return
    charge = order["payment"]["charges"][0]
    now = stamp(data.clock.now())
    operation: Obj = {
        "id": str(uuid.uuid4()),
        "createdTime": now,
        "updatedTime": now,
        "amount": amount,
        "state": "pending",
        "fulfillmentId": fulfillment_id,
    }
    field = "captures" if kind == "capture" else "cancels"
    pending = {**charge, field: [*charge.get(field, []), operation]}
    emit(data, f"order.charge.{kind}.pending", pending)
    complete = {**pending, field: [*charge.get(field, []), {**operation, "state": "complete"}]}
    if kind == "capture":
        complete["captured"] = True
    order["payment"] = {**order["payment"], "charges": [complete, *order["payment"]["charges"][1:]]}
    emit(data, f"order.charge.{kind}.complete", complete)


def _finish(data: DataSet, order: Obj, now: str) -> None:
    """Every line is done: the charge and the order reach their final states."""
    order = editable(order)
    charge = order["payment"]["charges"][0]
    captured = order["capturedAmount"] > 0
    final_charge = {**charge, "state": "complete" if captured else "cancelled"}
    order["payment"] = {
        **order["payment"],
        "charges": [final_charge, *order["payment"]["charges"][1:]],
    }
    states = ("fulfilled", "complete") if captured else ("cancelled",)
    for state in states:
        order = editable(order)
        order["state"] = state
        order["stateTransitions"] = {**order["stateTransitions"], state: now}
        data.orders.put(order["id"], order)
        emit(data, f"order.{state}", order)
