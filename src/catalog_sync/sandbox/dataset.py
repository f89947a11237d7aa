"""The data one mode holds, and the id sequences shared by both modes.

Test and live data are separate (docs/digital-river-api.md §1: objects of one mode are
invisible to the other mode's keys); ids come from one sequence so that an admin call can find
an object by id alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from catalog_sync.sandbox.clock import Clock
from catalog_sync.sandbox.store import Collection

#: Starting points that give ids of the shape of DR's samples (docs/digital-river-api.md §2).
ID_BASES: Final = {
    "order": 20444079,
    "order_item": 12791183,
    "fulfillment_order": 9292981838,
    "fulfillment_order_item": 650398674428,
    "shipment": 29016544906,
    "shipment_item": 31016544906,
    "cancellation": 5823594809,
}
#: DR's order and order-line ids end in ``0336`` in every sample.
ORDER_ID_SUFFIX: Final = "0336"


class Ids:
    """Monotonic numeric id sequences, one per kind."""

    def __init__(self, issued: dict[str, int] | None = None) -> None:
        self.issued: dict[str, int] = dict(issued or {})

    def take(self, kind: str) -> int:
        """Return the next id of ``kind``."""
        self.issued[kind] = self.issued.get(kind, 0) + 1
        return ID_BASES[kind] + self.issued[kind]

    def order_style(self, kind: str) -> str:
        """Return the next id of ``kind`` shaped like DR's order ids (numeric string)."""
        return f"{self.take(kind)}{ORDER_ID_SUFFIX}"


@dataclass
class LineProgress:
    """What happened to one order line: units captured and units cancelled."""

    quantity: int
    fulfilled: int = 0
    cancelled: int = 0

    @property
    def open(self) -> int:
        """Units neither fulfilled nor cancelled."""
        return self.quantity - self.fulfilled - self.cancelled


@dataclass
class DataSet:
    """Every collection of one mode, plus the bookkeeping DR keeps but does not show."""

    live: bool
    clock: Clock
    ids: Ids
    skus: Collection = field(default_factory=Collection)
    inventory_items: Collection = field(default_factory=Collection)
    #: The order-related collections are indexed by the fields a connector lists them by,
    #: per order or fulfillment order.
    orders: Collection = field(default_factory=lambda: Collection(indexed=("upstreamId",)))
    fulfillment_orders: Collection = field(
        default_factory=lambda: Collection(indexed=("upstreamId",))
    )
    fulfillment_cancellations: Collection = field(
        default_factory=lambda: Collection(indexed=("upstreamId", "fulfillmentOrderId"))
    )
    shipments: Collection = field(default_factory=Collection)
    fulfillments: Collection = field(default_factory=lambda: Collection(indexed=("orderId",)))
    events: Collection = field(default_factory=Collection)
    #: order id -> line id -> progress; order lines carry no counters on the wire
    #: (docs/digital-river-api.md §9.2).
    progress: dict[str, dict[str, LineProgress]] = field(default_factory=dict)
    #: "<fulfillment order id>:<line id>" -> running sum for ``totalBackordered``
    #: (docs/digital-river-api.md §14.3).
    backordered_total: dict[str, int] = field(default_factory=dict)

    def collections(self) -> dict[str, Collection]:
        """The collections by resource name (persistence and statistics)."""
        return {
            "skus": self.skus,
            "inventoryItems": self.inventory_items,
            "orders": self.orders,
            "fulfillmentOrders": self.fulfillment_orders,
            "fulfillmentCancellations": self.fulfillment_cancellations,
            "shipments": self.shipments,
            "fulfillments": self.fulfillments,
            "events": self.events,
        }
