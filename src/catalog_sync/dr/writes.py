"""Repeat-safe creates for the catalog: inventory items by their natural key, the id.

The API has no idempotency-key header (docs/digital-river-api.md §6), so a create whose answer
was lost (a timeout, a reset after sending, a 5xx) may or may not exist. The client raises
:class:`~catalog_sync.dr.errors.OutcomeUnknown` for those; :func:`ensure_inventory_item` then
looks the item up by its id and resends only when it is not there. SKUs need no helper:
``PUT /skus/{id}`` is an upsert, naturally repeat-safe (``client.upsert_sku``).

Money writes (fulfillment orders, captures, cancels) have no helper here: they go through the
intent ledger, whose read-back rules (and the one rule for 409s that mean "already done") are
pure decisions in :mod:`catalog_sync.core.readback`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Generic, NamedTuple, TypeVar

from catalog_sync.dr.errors import Conflict, NotFound, OutcomeUnknown
from catalog_sync.dr.models import InventoryItemCreate

if TYPE_CHECKING:
    from catalog_sync.dr.client import DigitalRiverClient
    from catalog_sync.dr.models import InventoryItem, InventoryItemUpdate

T = TypeVar("T")


class Ensured(NamedTuple, Generic[T]):
    """The object now at the API, and whether this call (or its lost attempt) created it."""

    value: T
    created: bool


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
