"""``POST /fulfillment-cancellations``: the merchant asks, the fulfiller decides.

The resource is docs/digital-river-api.md §11.

Decided at once by the policy set through ``POST /_sandbox/fulfiller``: accept what is still
pending or backordered, refuse what shipped; or reject everything.
"""

from __future__ import annotations

import copy
from typing import Final, Literal

from catalog_sync.sandbox import validation as v
from catalog_sync.sandbox.assumptions import CODE_QUANTITY_TOO_LARGE
from catalog_sync.sandbox.clock import stamp
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import conflict, invalid_parameter
from catalog_sync.sandbox.events import emit
from catalog_sync.sandbox.fulfiller import OPEN, find_fulfillment_order, move, store
from catalog_sync.sandbox.store import Obj

Policy = Literal["accept", "reject"]
POLICIES: Final = ("accept", "reject")

REQUEST_KINDS: Final[dict[str, v.Check]] = {
    "fulfillmentOrderId": v.reference,
    "upstreamId": v.non_empty_text,
    "reason": v.text,
    "items": lambda _parameter, value: value,
}
ITEM_KINDS: Final[dict[str, v.Check]] = {
    "fulfillmentOrderItemId": v.reference,
    "fulfillmentOrderItemUpstreamId": v.text,
    "quantity": v.positive,
}


def create_cancellation(data: DataSet, body: Obj, policy: Policy) -> Obj:
    """Record the request, decide it, apply accepted units, emit the events in DR's order."""
    fields = v.check_fields(body, REQUEST_KINDS, required=("fulfillmentOrderId", "items"))
    order = copy.deepcopy(
        find_fulfillment_order(data, fields["fulfillmentOrderId"], "fulfillmentOrderId")
    )
    lines = {str(line["id"]): line for line in order["items"]}
    requested = []
    for index, raw in enumerate(v.items_list(body)):
        prefix = f"items[{index}]."
        item = v.check_fields(
            raw, ITEM_KINDS, prefix=prefix, required=("fulfillmentOrderItemId", "quantity")
        )
        line = lines.get(item["fulfillmentOrderItemId"])
        if line is None:
            raise invalid_parameter(
                f"{prefix}fulfillmentOrderItemId", item["fulfillmentOrderItemId"]
            )
        if item["quantity"] > line["quantity"]:
            raise conflict(
                CODE_QUANTITY_TOO_LARGE,
                f"{prefix}quantity",
                "Cancellation quantity is larger than the line item quantity.",
            )
        requested.append((line, item["quantity"]))
    cancellation_id = f"ret_{data.ids.take('cancellation')}"
    pending: Obj = {
        "id": cancellation_id,
        "createdTime": stamp(data.clock.now()),
        "fulfillmentOrderId": str(order["id"]),
    }
    for name in ("upstreamId", "reason"):
        if name in fields:
            pending[name] = fields[name]
    pending["state"] = "pending"
    pending["items"] = [_item(line, quantity, 0, "pending") for line, quantity in requested]
    pending["liveMode"] = data.live
    emit(data, "fulfillment_cancellation.created", pending)
    decided = _decide(pending, requested, policy)
    data.fulfillment_cancellations.put(cancellation_id, decided)
    emit(data, f"fulfillment_cancellation.{decided['state']}", decided)
    if decided["state"] == "accepted":
        for line, accepted in zip(
            (line for line, _ in requested),
            (item["quantityAccepted"] for item in decided["items"]),
            strict=True,
        ):
            if accepted:
                move(line, OPEN, "cancelled", accepted)
        emit(data, "fulfillment_order.cancelled", store(data, order))
    return decided


def _decide(pending: Obj, requested: list[tuple[Obj, int]], policy: Policy) -> Obj:
    decided = {key: value for key, value in pending.items() if key != "items"}
    items = []
    open_left = {id(line): int(line["pending"]) + int(line["backordered"]) for line, _ in requested}
    for line, quantity in requested:
        accepted = min(quantity, open_left[id(line)]) if policy == "accept" else 0
        open_left[id(line)] -= accepted
        items.append(_item(line, quantity, accepted, "accepted" if accepted else "rejected"))
    decided["items"] = items
    decided["state"] = "accepted" if any(i["quantityAccepted"] for i in items) else "rejected"
    decided["liveMode"] = pending["liveMode"]
    return decided


def _item(line: Obj, quantity: int, accepted: int, state: str) -> Obj:
    item: Obj = {"fulfillmentOrderItemId": str(line["id"])}
    if line.get("upstreamId") is not None:
        item["fulfillmentOrderItemUpstreamId"] = line["upstreamId"]
    item.update(
        inventoryItemId=line["inventoryItemId"],
        quantity=quantity,
        quantityAccepted=accepted,
        state=state,
    )
    return item
