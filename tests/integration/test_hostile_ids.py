"""Hostile ids over the sandbox: each request reaches the object's own path and nothing else.

Before, ``PUT /skus/.`` was normalised to ``PUT /skus`` by the HTTP layer. Now every id is one
percent-encoded path segment, and the API's id rules refuse what it cannot hold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pydantic import SecretStr

from catalog_sync.dr import BadRequest, DigitalRiverClient, InventoryItemUpdate, NotFound, SkuUpsert
from catalog_sync.sandbox.testing import RunningSandbox, sku_body

HOSTILE = [".", "..", "../inventory-items", "a/b", "x?limit=1", "a#b", "%2E%2E", "x" * 256]


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[DigitalRiverClient]:
    """Our client on the reset sandbox."""
    async with DigitalRiverClient(
        base_url=sandbox.base_url, api_key=SecretStr(sandbox.api_key), rate_limit=1000
    ) as dr:
        yield dr


@pytest.mark.parametrize("object_id", HOSTILE)
async def test_upsert_reaches_only_its_own_path(
    client: DigitalRiverClient, sandbox: RunningSandbox, object_id: str
) -> None:
    """A PUT with a hostile id goes to ``/skus/<id>``, is refused, and creates nothing."""
    with pytest.raises((BadRequest, NotFound)):
        await client.upsert_sku(object_id, SkuUpsert.model_validate(sku_body()))
    [request] = sandbox.requests()
    assert (request["method"], request["path"]) == ("PUT", f"/skus/{object_id}")
    assert [sku async for sku in client.iter_skus()] == []


@pytest.mark.parametrize("object_id", HOSTILE)
async def test_reads_and_deletes_reach_only_their_own_path(
    client: DigitalRiverClient, sandbox: RunningSandbox, object_id: str
) -> None:
    """GET, POST and DELETE with a hostile id are each sent to that id's own path."""
    with pytest.raises((BadRequest, NotFound)):
        await client.get_sku(object_id)
    with pytest.raises((BadRequest, NotFound)):
        await client.update_inventory_item(
            object_id, InventoryItemUpdate.model_validate({"partNumber": "P"})
        )
    with pytest.raises((BadRequest, NotFound)):
        await client.delete_sku(object_id)
    assert [(r["method"], r["path"]) for r in sandbox.requests()] == [
        ("GET", f"/skus/{object_id}"),
        ("POST", f"/inventory-items/{object_id}"),
        ("DELETE", f"/skus/{object_id}"),
    ]
