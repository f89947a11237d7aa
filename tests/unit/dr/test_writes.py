"""Repeat-safe inventory-item creates: read back by id instead of resending blindly."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from catalog_sync.dr import (
    DigitalRiverClient,
    InventoryItemUpdate,
    OutcomeUnknown,
    ensure_inventory_item,
)
from catalog_sync.dr.testing import ScriptedAPI, error_body, fail, ok

MakeClient = Callable[..., DigitalRiverClient]
ITEM = {"id": "a", "partNumber": "P-1"}
EMPTY = ok({"hasMore": False, "data": []})


def methods(api: ScriptedAPI) -> list[str]:
    """The calls made, as ``METHOD /path``."""
    return [f"{r.method} {r.url.path}" for r in api.requests]


async def test_inventory_item_created_when_absent(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """The common case is one POST carrying the id."""
    client = make_client(ok(ITEM, 201))
    ensured = await ensure_inventory_item(client, "a", InventoryItemUpdate(part_number="P-1"))
    assert (ensured.created, api.bodies()) == (True, [{"id": "a", "partNumber": "P-1"}])


async def test_inventory_item_conflict_returns_the_existing_one(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A 409 on create reads the item back and returns it as not created."""
    client = make_client(fail(409, error_body("conflict")), ok(ITEM))
    ensured = await ensure_inventory_item(client, "a", InventoryItemUpdate())
    assert (ensured.created, ensured.value.id) == (False, "a")
    assert methods(api) == ["POST /inventory-items", "GET /inventory-items/a"]


async def test_inventory_item_lost_answer_found_is_not_resent(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """After a lost answer, an item found by id is the one we created: no second POST."""
    client = make_client(httpx.ReadTimeout("slow"), ok(ITEM))
    ensured = await ensure_inventory_item(client, "a", InventoryItemUpdate())
    assert ensured.created
    assert methods(api) == ["POST /inventory-items", "GET /inventory-items/a"]


async def test_inventory_item_lost_answer_absent_is_resent(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """After a lost answer and a 404 on read-back, the create is sent again."""
    client = make_client(fail(500), fail(404, error_body("not_found")), ok(ITEM, 201))
    ensured = await ensure_inventory_item(client, "a", InventoryItemUpdate())
    assert ensured.created
    assert methods(api) == [
        "POST /inventory-items",
        "GET /inventory-items/a",
        "POST /inventory-items",
    ]


async def test_inventory_item_gives_up_after_the_attempts(make_client: MakeClient) -> None:
    """Doubt that never clears ends in OutcomeUnknown after the policy's attempts."""
    client = make_client(*[fail(500), fail(404, error_body("not_found"))] * 2, attempts=2)
    with pytest.raises(OutcomeUnknown):
        await ensure_inventory_item(client, "a", InventoryItemUpdate())
