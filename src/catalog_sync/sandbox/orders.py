"""Orders: the storefront's side, played by ``POST /_sandbox/orders``.

The order is docs/digital-river-api.md §9; its creation is step 2 of §15.

The order carries what the daemon reads (currency, locale, shipTo, shippingChoice, line ids,
amounts, the charge); per-line progress is kept aside in :class:`LineProgress`, because DR's
order lines show only a ``state`` (docs/digital-river-api.md §9.2).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any, Final

from catalog_sync.sandbox import validation as v
from catalog_sync.sandbox.clock import stamp
from catalog_sync.sandbox.dataset import DataSet, LineProgress
from catalog_sync.sandbox.errors import invalid_parameter
from catalog_sync.sandbox.events import emit
from catalog_sync.sandbox.store import Obj

UNIT_PRICE: Final = 10.0
TAX_RATE: Final = 0.1
SHIPPING: Final = 5.0
SHIPPING_TAX: Final = 0.5
DEFAULT_SHIP_TO: Final[Obj] = {
    "address": {
        "line1": "10380 Bren Road W",
        "city": "Minnetonka",
        "postalCode": "55343",
        "state": "MN",
        "country": "US",
    },
    "name": "Jane Doe",
    "phone": "952-111-1111",
    "email": "jane.doe@example.com",
}
_ADMIN_FIELDS: Final = frozenset(
    {"items", "shipTo", "billTo", "email", "currency", "locale", "upstreamId", "mode", "metadata"}
)


def money(value: float) -> float:
    """Round to cents, as every amount on the wire is."""
    return round(value + 0.0, 2)


def create_order(data: DataSet, body: Obj) -> Obj:
    """Create an ``accepted`` order for existing SKUs and emit ``order.accepted``."""
    for name in body:
        if name not in _ADMIN_FIELDS:
            raise invalid_parameter(name, name)
    ship_to = _address_block(body.get("shipTo"), "shipTo")
    bill_to = _address_block(body.get("billTo"), "billTo") if "billTo" in body else ship_to
    currency = v.currency("currency", body.get("currency", "USD"))
    order_id = data.ids.order_style("order")
    now = stamp(data.clock.now())
    items = [_line(data, raw, index, now) for index, raw in enumerate(v.items_list(body))]
    subtotal = money(sum(item["amount"] for item in items))
    total_tax = money(sum(item["tax"]["amount"] for item in items) + SHIPPING_TAX)
    total = money(subtotal + total_tax + SHIPPING)
    order: Obj = {
        "id": order_id,
        "createdTime": now,
        "updatedTime": now,
        "checkoutId": str(uuid.uuid4()),
        "currency": currency,
        "locale": v.text("locale", body.get("locale", "en_US")),
        "email": v.text("email", body.get("email", ship_to.get("email", "jane.doe@example.com"))),
        "shipTo": ship_to,
        "billTo": bill_to,
        "shippingChoice": {
            "amount": SHIPPING,
            "taxAmount": SHIPPING_TAX,
            "description": "Standard Ground",
            "serviceLevel": "SG",
            "shippingTerms": "DDP",
        },
        "items": items,
        "totalAmount": total,
        "subtotal": subtotal,
        "totalFees": 0.0,
        "totalTax": total_tax,
        "totalImporterTax": 0.0,
        "totalDuty": 0.0,
        "totalDiscount": 0.0,
        "totalShipping": SHIPPING,
        "capturedAmount": 0.0,
        "cancelledAmount": 0.0,
        "refundedAmount": 0.0,
        "availableToRefundAmount": 0.0,
        "payment": {"charges": [_charge(data, order_id, currency, total, now)]},
        "state": "accepted",
        "stateTransitions": {"accepted": now},
        "fraudState": "passed",
        "liveMode": data.live,
    }
    if "upstreamId" in body:
        order["upstreamId"] = v.non_empty_text("upstreamId", body["upstreamId"])
    if "metadata" in body:
        order["metadata"] = v.metadata("metadata", body["metadata"])
    data.orders.put(order_id, order)
    data.progress[order_id] = {item["id"]: LineProgress(item["quantity"]) for item in items}
    emit(data, "order.accepted", order)
    return order


#: An order's states (docs/digital-river-api.md §9.3).
ORDER_STATES: Final = frozenset(
    {
        "pending_payment",
        "in_review",
        "accepted",
        "blocked",
        "cancelled",
        "fulfilled",
        "complete",
        "returned",
        "dispute",
    }
)


def set_state(data: DataSet, order_id: str, state: object) -> Obj:
    """Put the order in ``state`` with no event and no payment change (an admin's stuck order)."""
    if not isinstance(state, str) or state not in ORDER_STATES:
        raise invalid_parameter("state", state)
    order = editable(data.orders.get(order_id) or {})
    order["state"] = state
    order["updatedTime"] = stamp(data.clock.now())
    data.orders.put(order_id, order)
    return order


def order_details(order: Obj) -> Obj:
    """The order as ``orderDetails`` shows it: everything but ``payment``.

    The field is docs/digital-river-api.md §13.3.
    """
    return {key: value for key, value in order.items() if key != "payment"}


def editable(order: Obj) -> Obj:
    """A deep copy to change and store in place of ``order`` (stored objects are immutable)."""
    return copy.deepcopy(order)


def _line(data: DataSet, raw: Obj, index: int, now: str) -> Obj:
    prefix = f"items[{index}]."
    v.require(raw, ("skuId", "quantity"), prefix)
    sku_id = v.text(f"{prefix}skuId", raw["skuId"])
    sku = data.skus.get(sku_id)
    if sku is None:
        raise invalid_parameter(f"{prefix}skuId", sku_id, "SKU")
    quantity = v.positive(f"{prefix}quantity", raw["quantity"])
    price = v.number(f"{prefix}price", raw.get("price", UNIT_PRICE))
    amount = money(price * quantity)
    details = {
        key: sku[key]
        for key in (
            *("name", "description", "url", "countryOfOrigin", "image"),
            *("weight", "weightUnit", "partNumber", "skuGroupId"),
        )
        if key in sku
    }
    return {
        "id": data.ids.order_style("order_item"),
        "skuId": sku_id,
        "quantity": quantity,
        "state": "created",
        "stateTransitions": {"created": now},
        "amount": amount,
        "tax": {"rate": TAX_RATE, "amount": money(amount * TAX_RATE)},
        "productDetails": {"id": sku_id, **details},
        "shipping": {"amount": 0.0, "taxAmount": 0.0},
        "availableToRefundAmount": 0.0,
    }


def _charge(data: DataSet, order_id: str, currency: str, amount: float, now: str) -> Obj:
    return {
        "id": str(uuid.uuid4()),
        "createdTime": now,
        "currency": currency,
        "amount": amount,
        "state": "capturable",
        "orderId": order_id,
        "sourceId": str(uuid.uuid4()),
        "paymentSessionId": str(uuid.uuid4()),
        "captured": False,
        "refunded": False,
        "type": "customer_initiated",
        "liveMode": data.live,
    }


def _address_block(value: Any, parameter: str) -> Obj:
    if value is None:
        return copy.deepcopy(DEFAULT_SHIP_TO)
    block = v.as_object(value, parameter)
    address = v.as_object(block.get("address"), f"{parameter}.address")
    v.require(address, ("country",), f"{parameter}.address.")
    v.address_country(f"{parameter}.address.country", address["country"])
    return copy.deepcopy(block)
