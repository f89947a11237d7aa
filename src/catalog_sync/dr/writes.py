"""Writes made safe to repeat by natural keys and read-back (reference §6).

The API has no idempotency-key header, so a create whose answer was lost (a timeout, a reset
after sending, a 5xx) may or may not exist. The client raises
:class:`~catalog_sync.dr.errors.OutcomeUnknown` for those; the helpers here then look the
object up by the key that identifies it and resend only when it is not there:

- SKUs: ``PUT /skus/{id}`` is an upsert, naturally repeat-safe (``client.upsert_sku``).
- inventory items: by ``id`` (:func:`ensure_inventory_item`).
- fulfillment orders: by ``upstreamId`` = the DR order id, read before writing as well
  (:func:`ensure_fulfillment_order`).
- fulfillments (captures, cancels) and fulfillment cancellations: by a caller's ``matches``
  predicate over the order's (or fulfillment order's) existing objects. A capture is keyed by
  its shipment (:func:`same_shipment`); a cancel has no natural key of its own, so the caller
  must exclude the objects it already knew of (:func:`fulfillment_like`,
  :func:`cancellation_like`), or two equal partial cancels would look like one.

A 409 whose code means the work is already done (:data:`ALREADY_DONE_CODES`) is recognised by
:func:`is_already_done`; a 409 for anything else (too large a quantity) is a real error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import TYPE_CHECKING, Final, Generic, NamedTuple, TypeVar

from catalog_sync.dr.errors import Conflict, DRError, NotFound, OutcomeUnknown
from catalog_sync.dr.models import InventoryItemCreate

if TYPE_CHECKING:
    from catalog_sync.dr.client import DigitalRiverClient
    from catalog_sync.dr.models import (
        Fulfillment,
        FulfillmentCancellation,
        FulfillmentCancellationCreate,
        FulfillmentCreate,
        FulfillmentOrder,
        FulfillmentOrderCreate,
        InventoryItem,
        InventoryItemUpdate,
    )

T = TypeVar("T")

#: 409 codes meaning "what you asked for is already the case" (reference §3.3). Only
#: ``order_fulfilled`` is documented; keep any later discovery here and nowhere else.
ALREADY_DONE_CODES: Final = frozenset({"order_fulfilled"})


class Ensured(NamedTuple, Generic[T]):
    """The object now at the API, and whether this call (or its lost attempt) created it."""

    value: T
    created: bool


def is_already_done(error: DRError) -> bool:
    """Return whether ``error`` is a 409 saying the requested work is already done."""
    return isinstance(error, Conflict) and error.code in ALREADY_DONE_CODES


async def ensure_inventory_item(
    client: DigitalRiverClient, item_id: str, body: InventoryItemUpdate
) -> Ensured[InventoryItem]:
    """Create inventory item ``item_id`` unless it exists; never create it twice.

    On a 409 or a lost answer the item is read back by id and returned as it is (the caller
    compares and updates; this helper does not overwrite someone else's values).
    """
    create_body = InventoryItemCreate(id=item_id, **body.model_dump(exclude_unset=True))

    async def find() -> InventoryItem | None:
        try:
            return await client.get_inventory_item(item_id)
        except NotFound:
            return None

    return await _create_once(
        lambda: client.create_inventory_item(create_body), find, client.retry.attempts
    )


async def ensure_fulfillment_order(
    client: DigitalRiverClient, body: FulfillmentOrderCreate
) -> Ensured[FulfillmentOrder]:
    """Return the fulfillment order for ``body.upstream_id``, creating it only if absent.

    Reads before writing because DR is not known to refuse a second fulfillment order with the
    same ``upstreamId`` (reference §6), and a duplicate would ship the goods twice.
    """
    upstream_id = body.upstream_id
    if not upstream_id:
        raise ValueError("ensure_fulfillment_order needs body.upstream_id (the order id)")

    async def find() -> FulfillmentOrder | None:
        return await _first(client.iter_fulfillment_orders(upstream_ids=[upstream_id]))

    existing = await find()
    if existing is not None:
        return Ensured(existing, created=False)
    return await _create_once(
        lambda: client.create_fulfillment_order(body), find, client.retry.attempts
    )


async def ensure_fulfillment(
    client: DigitalRiverClient,
    body: FulfillmentCreate,
    matches: Callable[[Fulfillment], bool],
) -> Ensured[Fulfillment]:
    """Create a fulfillment (capture / cancel) once, reading back the order's on doubt.

    After a lost answer, or a 409 such as ``order_fulfilled``, the order's fulfillments are
    listed and the first one ``matches`` accepts is taken as this one; if none does, a lost
    answer is resent and a 409 is raised.
    """

    async def find() -> Fulfillment | None:
        return await _first(client.iter_fulfillments(order_id=body.order_id), matches)

    return await _create_once(lambda: client.create_fulfillment(body), find, client.retry.attempts)


async def ensure_fulfillment_cancellation(
    client: DigitalRiverClient,
    body: FulfillmentCancellationCreate,
    matches: Callable[[FulfillmentCancellation], bool],
) -> Ensured[FulfillmentCancellation]:
    """Create a fulfillment cancellation once, reading back the fulfillment order's on doubt."""

    async def find() -> FulfillmentCancellation | None:
        listing = client.iter_fulfillment_cancellations(
            fulfillment_order_id=body.fulfillment_order_id
        )
        return await _first(listing, matches)

    return await _create_once(
        lambda: client.create_fulfillment_cancellation(body), find, client.retry.attempts
    )


def same_shipment(shipment_id: str) -> Callable[[Fulfillment], bool]:
    """Match the capture of ``shipment_id``: one capture per shipment, ever."""
    return lambda fulfillment: fulfillment.shipment_id == shipment_id


def fulfillment_like(
    body: FulfillmentCreate, known_ids: Collection[str] = ()
) -> Callable[[Fulfillment], bool]:
    """Match a fulfillment not in ``known_ids`` with the same shipment and line quantities."""
    wanted = sorted(
        (item.item_id or "", item.quantity or 0, item.cancel_quantity or 0) for item in body.items
    )

    def matches(fulfillment: Fulfillment) -> bool:
        if fulfillment.id in known_ids or fulfillment.shipment_id != body.shipment_id:
            return False
        got = sorted(
            (item.item_id or "", item.quantity, item.cancel_quantity) for item in fulfillment.items
        )
        return got == wanted

    return matches


def cancellation_like(
    body: FulfillmentCancellationCreate, known_ids: Collection[str] = ()
) -> Callable[[FulfillmentCancellation], bool]:
    """Match a cancellation not in ``known_ids`` with the same ``upstreamId`` and lines."""
    wanted = sorted((item.fulfillment_order_item_id, item.quantity) for item in body.items)

    def matches(cancellation: FulfillmentCancellation) -> bool:
        if cancellation.id in known_ids or cancellation.upstream_id != body.upstream_id:
            return False
        got = sorted((item.fulfillment_order_item_id, item.quantity) for item in cancellation.items)
        return got == wanted

    return matches


async def _create_once(
    create: Callable[[], Awaitable[T]],
    find: Callable[[], Awaitable[T | None]],
    attempts: int,
) -> Ensured[T]:
    """Create; on a lost answer read back and resend only if absent; on a 409 read back."""
    attempt = 1
    while True:
        try:
            return Ensured(await create(), created=True)
        except OutcomeUnknown:
            if attempt >= attempts:
                raise
        except Conflict:
            found = await find()
            if found is None:
                raise
            return Ensured(found, created=False)
        found = await find()
        if found is not None:
            return Ensured(found, created=True)
        attempt += 1


async def _first(
    items: AsyncIterator[T], matches: Callable[[T], bool] = lambda _item: True
) -> T | None:
    async for item in items:
        if matches(item):
            return item
    return None
