"""Which work goes first when calls wait for the one rate budget: money, then events, then catalog.

A business rule, so it lives in the core: a capture that waits behind a catalog write delays
a merchant's money, and an event read that waits delays every capture the event would start.
The client only applies this table to the resource a call touches.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Final


class Priority(IntEnum):
    """Who goes first when calls wait for the budget: lower value first."""

    MONEY = 0
    """Fulfillments, fulfillment orders and cancellations: captures and cancels of charges."""
    EVENTS = 1
    """Event polling and the reads handlers need (orders)."""
    CATALOG = 2
    """SKU and inventory-item reconcile: bulk work that can wait."""


#: The priority of each API resource (the first path segment); any other resource is read as
#: an event-handling read.
RESOURCE_PRIORITY: Final[Mapping[str, Priority]] = {
    "fulfillments": Priority.MONEY,
    "fulfillment-orders": Priority.MONEY,
    "fulfillment-cancellations": Priority.MONEY,
    "events": Priority.EVENTS,
    "orders": Priority.EVENTS,
    "skus": Priority.CATALOG,
    "inventory-items": Priority.CATALOG,
}


def priority_of(resource: str) -> Priority:
    """Return the priority of calls to ``resource`` (``skus``, ``fulfillments``, ...)."""
    return RESOURCE_PRIORITY.get(resource, Priority.EVENTS)
