"""Fulfillment orders, cancellations and shipments: DR's fulfiller, played.

The resources are docs/digital-river-api.md §10 to §12.

The five line counters (pending, backordered, shipped, cancelled, returned) always sum to the
line's quantity: every change is a move of units from one counter to another.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from catalog_sync.sandbox import validation as v
from catalog_sync.sandbox.assumptions import (
    BACKORDER_AVAILABLE_DAYS,
    CODE_NOTHING_OPEN,
    CODE_QUANTITY_TOO_LARGE,
)
from catalog_sync.sandbox.clock import later, stamp
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import (
    ApiError,
    conflict,
    invalid_parameter,
    missing_parameter,
    not_found,
)
from catalog_sync.sandbox.events import emit
from catalog_sync.sandbox.store import Obj

COUNTERS: Final = ("pending", "backordered", "shipped", "cancelled", "returned")
OPEN: Final = ("pending", "backordered")
_SIGNATURES: Final = frozenset({"standard", "adult"})


def _ship_to(parameter: str, value: Any) -> Obj:
    block = v.as_object(value, parameter)
    address = v.as_object(block.get("address"), f"{parameter}.address")
    v.require(address, ("country",), f"{parameter}.address.")
    v.address_country(f"{parameter}.address.country", address["country"])
    return copy.deepcopy(block)


def _shipping_choice(parameter: str, value: Any) -> Obj:
    block = v.as_object(value, parameter)
    kinds: dict[str, v.Check] = {
        "id": v.non_empty_text,
        "shippingInstructions": v.text,
        "dutiesPaid": v.boolean,
        "signatureRequiredType": _signature,
    }
    return v.check_fields(block, kinds, prefix=f"{parameter}.", required=("id",))


def _signature(parameter: str, value: Any) -> str:
    if value not in _SIGNATURES:
        raise invalid_parameter(parameter, value)
    return str(value)


def _tax(parameter: str, value: Any) -> Obj:
    block = v.as_object(value, parameter)
    v.require(block, ("amount",), f"{parameter}.")
    v.number(f"{parameter}.amount", block["amount"])
    return copy.deepcopy(block)


ORDER_KINDS: Final[dict[str, v.Check]] = {
    "currency": v.currency,
    "upstreamOrderTime": v.timestamp,
    "shipTo": _ship_to,
    "shippingChoice": _shipping_choice,
    "items": lambda _parameter, value: value,
    "upstreamId": v.non_empty_text,
    "locale": v.text,
    "name": v.text,
    "email": v.text,
    "phone": v.text,
    "reservationId": v.text,
}
LINE_KINDS: Final[dict[str, v.Check]] = {
    "inventoryItemId": v.non_empty_text,
    "quantity": v.positive,
    "upstreamId": v.non_empty_text,
    "tax": _tax,
    "total": v.number,
    "subtotal": v.number,
    "name": v.text,
    "giftMessage": v.text,
    "giftWrap": v.boolean,
}
_ORDER_FIELDS: Final = (
    *("currency", "locale", "upstreamOrderTime", "name", "email", "phone", "reservationId"),
    *("upstreamId", "shipTo", "shippingChoice"),
)
_LINE_HEAD: Final = ("upstreamId", "inventoryItemId", "name", "quantity")
_LINE_TAIL: Final = ("subtotal", "total", "tax", "giftMessage", "giftWrap")


# -- fulfillment orders -----------------------------------------------------------------------


def create_fulfillment_order(data: DataSet, body: Obj) -> Obj:
    """``POST /fulfillment-orders``: validate, store ``pending``, emit the pending event."""
    fields = v.check_fields(
        body,
        ORDER_KINDS,
        required=("currency", "upstreamOrderTime", "shipTo", "shippingChoice", "items"),
    )
    lines = [_new_line(data, raw, index) for index, raw in enumerate(v.items_list(body))]
    order_id = data.ids.take("fulfillment_order")
    order: Obj = {"id": order_id, "createdTime": stamp(data.clock.now())}
    order.update({name: fields[name] for name in _ORDER_FIELDS if name in fields})
    order.update({"items": lines, "state": "pending", "liveMode": data.live})
    data.fulfillment_orders.put(str(order_id), order)
    emit(data, "fulfillment_order.pending", order)
    return order


def _new_line(data: DataSet, raw: Obj, index: int) -> Obj:
    prefix = f"items[{index}]."
    fields = v.check_fields(
        raw, LINE_KINDS, prefix=prefix, required=("inventoryItemId", "quantity")
    )
    if fields["inventoryItemId"] not in data.inventory_items:
        raise invalid_parameter(
            f"{prefix}inventoryItemId", fields["inventoryItemId"], "inventory item"
        )
    line: Obj = {"id": data.ids.take("fulfillment_order_item")}
    line.update({name: fields[name] for name in _LINE_HEAD if name in fields})
    line.update(dict.fromkeys(COUNTERS, 0))
    line["pending"] = fields["quantity"]
    line.update({name: fields[name] for name in _LINE_TAIL if name in fields})
    line["state"] = "pending"
    return line


def find_fulfillment_order(data: DataSet, order_id: str, parameter: str = "id") -> Obj:
    """Return the fulfillment order or the API's 404."""
    found = data.fulfillment_orders.get(order_id)
    if found is None:
        raise not_found("FulfillmentOrder", order_id, parameter)
    return found


# -- moving units -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """Units of one fulfillment-order line (by index) chosen for an operation."""

    index: int
    quantity: int


def pick_lines(order: Obj, raw_items: Any, sources: Sequence[str]) -> list[Pick]:
    """Resolve ``[{skuId|itemId, quantity}]`` (admin bodies) to lines; none = all that is open.

    ``skuId`` is the line's inventory item id and ``itemId`` the order line id (the line's
    ``upstreamId``); ``quantity`` defaults to everything movable on that line.
    """
    lines: list[Obj] = order["items"]
    if raw_items is None:
        picks = [Pick(i, _movable(line, sources)) for i, line in enumerate(lines)]
        picks = [pick for pick in picks if pick.quantity > 0]
        if not picks:
            raise conflict(
                CODE_NOTHING_OPEN, None, f"Nothing is open on fulfillment order {order['id']}."
            )
        return picks
    if not isinstance(raw_items, list):
        raise invalid_parameter("items", "object")
    picks = []
    for position, raw in enumerate(raw_items):
        spec = v.as_object(raw, f"items[{position}]")
        index = _line_index(lines, spec, position)
        movable = _movable(lines[index], sources)
        wanted = spec.get("quantity")
        quantity = movable if wanted is None else v.positive(f"items[{position}].quantity", wanted)
        if quantity > movable or quantity == 0:
            raise _too_large(f"items[{position}].quantity", lines[index], movable)
        picks.append(Pick(index, quantity))
    return picks


def _line_index(lines: list[Obj], spec: Obj, position: int) -> int:
    for key, field in (("itemId", "upstreamId"), ("skuId", "inventoryItemId")):
        if key in spec:
            for index, line in enumerate(lines):
                if str(line.get(field)) == str(spec[key]):
                    return index
            raise invalid_parameter(f"items[{position}].{key}", spec[key])
    raise missing_parameter(f"items[{position}].itemId")


def _movable(line: Obj, sources: Sequence[str]) -> int:
    return sum(int(line[name]) for name in sources)


def _too_large(parameter: str, line: Obj, movable: int) -> ApiError:
    return conflict(
        CODE_QUANTITY_TOO_LARGE,
        parameter,
        f"Quantity is larger than the {movable} open on line item {line['id']}.",
    )


def move(line: Obj, sources: Sequence[str], target: str, quantity: int) -> None:
    """Move ``quantity`` units into ``target``, taking from ``sources`` in order."""
    remaining = quantity
    for source in sources:
        taken = min(remaining, int(line[source]))
        line[source] -= taken
        line[target] += taken
        remaining -= taken
    assert remaining == 0
    assert sum(int(line[name]) for name in COUNTERS) == line["quantity"]
    line["state"] = _line_state(line)


def _line_state(line: Obj) -> str:
    if line["shipped"] > 0:
        return "shipped"
    if line["pending"] + line["backordered"] == 0:
        return "cancelled"
    if line["pending"] == 0:
        return "backordered"
    return "pending"


def settle(order: Obj) -> None:
    """Recompute the fulfillment order's state from its lines."""
    lines: list[Obj] = order["items"]
    if all(line["state"] == "cancelled" for line in lines):
        order["state"] = "cancelled"
    elif any(line["shipped"] > 0 for line in lines):
        order["state"] = "shipped"
    else:
        order["state"] = "pending"


def store(data: DataSet, order: Obj) -> Obj:
    """Store a changed fulfillment order in place of the old one."""
    settle(order)
    data.fulfillment_orders.put(str(order["id"]), order)
    return order


# -- the fulfiller's own moves (admin API) -----------------------------------------------------


def ship(data: DataSet, order_id: str, body: Obj) -> Obj:
    """Ship units: a Shipment, and ``fulfillment_order.shipped`` carrying it."""
    order = copy.deepcopy(find_fulfillment_order(data, order_id))
    picks = pick_lines(order, body.get("items"), OPEN)
    tracking = _tracking(body)
    shipment_id = str(data.ids.take("shipment"))
    items = []
    for pick in picks:
        line = order["items"][pick.index]
        move(line, OPEN, "shipped", pick.quantity)
        items.append(_shipment_item(data, line, pick.quantity, tracking))
    store(data, order)
    shipment: Obj = {
        "id": shipment_id,
        "createdTime": stamp(data.clock.now()),
        "fulfillmentOrderId": str(order["id"]),
        "fulfillmentOrderUpstreamId": order.get("upstreamId"),
        "shippingChoiceId": order["shippingChoice"]["id"],
        **tracking,
        "items": items,
        "liveMode": data.live,
    }
    if shipment["fulfillmentOrderUpstreamId"] is None:
        del shipment["fulfillmentOrderUpstreamId"]
    data.shipments.put(shipment_id, shipment)
    emit(data, "fulfillment_order.shipped", shipment)
    return shipment


def backorder(data: DataSet, order_id: str, body: Obj) -> Obj:
    """Backorder pending units; the event's lines carry the backorder additions.

    The additions are docs/digital-river-api.md §14.3.
    """
    order = copy.deepcopy(find_fulfillment_order(data, order_id))
    picks = pick_lines(order, body.get("items"), ("pending",))
    available = stamp(later(data.clock.now(), days=BACKORDER_AVAILABLE_DAYS))
    for pick in picks:
        move(order["items"][pick.index], ("pending",), "backordered", pick.quantity)
    store(data, order)
    shown = copy.deepcopy(order)
    for pick in picks:
        line = shown["items"][pick.index]
        key = f"{order['id']}:{line['id']}"
        data.backordered_total[key] = data.backordered_total.get(key, 0) + pick.quantity
        line.update(
            ordered=line["quantity"],
            backordered=pick.quantity,
            totalBackordered=data.backordered_total[key],
            availableTime=available,
        )
    emit(data, "fulfillment_order.backordered", shown)
    return order


def fulfiller_cancel(data: DataSet, order_id: str, body: Obj) -> Obj:
    """The fulfiller cancels open units on its own: ``fulfillment_order.cancelled``."""
    order = copy.deepcopy(find_fulfillment_order(data, order_id))
    for pick in pick_lines(order, body.get("items"), OPEN):
        move(order["items"][pick.index], OPEN, "cancelled", pick.quantity)
    store(data, order)
    emit(data, "fulfillment_order.cancelled", order)
    return order


def _tracking(body: Obj) -> Obj:
    number = body.get("trackingNumber") or f"1Z{secrets.token_hex(8).upper()}"
    return {
        "trackingCompany": v.text("trackingCompany", body.get("trackingCompany", "UPS")),
        "trackingNumber": v.text("trackingNumber", number),
        "trackingUrl": v.text(
            "trackingUrl",
            body.get("trackingUrl", f"https://www.ups.com/track?tracknum={number}"),
        ),
    }


def _shipment_item(data: DataSet, line: Obj, quantity: int, tracking: Obj) -> Obj:
    item: Obj = {
        "id": str(data.ids.take("shipment_item")),
        "fulfillmentOrderItemId": str(line["id"]),
        "fulfillmentOrderItemUpstreamId": line.get("upstreamId"),
        "inventoryItemId": line["inventoryItemId"],
    }
    inventory = data.inventory_items.get(line["inventoryItemId"])
    if inventory is not None and "partNumber" in inventory:
        item["partNumber"] = inventory["partNumber"]
    item["quantity"] = quantity
    item["trackingUrls"] = [
        {"trackingNumber": tracking["trackingNumber"], "trackingUrl": tracking["trackingUrl"]}
    ]
    if item["fulfillmentOrderItemUpstreamId"] is None:
        del item["fulfillmentOrderItemUpstreamId"]
    return item
