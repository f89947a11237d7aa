"""Inventory items and the SKU pairing (docs/digital-river-api.md §8)."""

from __future__ import annotations

import httpx

from catalog_sync.sandbox.testing import create_pair, item_body


def test_create_is_201_with_the_item_shape(api: httpx.Client) -> None:
    """``POST /inventory-items`` answers 201 with exactly the model's fields."""
    response = api.post("/inventory-items", json={"id": "w-1", **item_body(allowOversell=True)})
    assert response.status_code == 201
    item = response.json()
    assert item == {
        "id": "w-1",
        "createdTime": item["createdTime"],
        **item_body(allowOversell=True),
        "liveMode": False,
    }


def test_taken_id_is_409(api: httpx.Client) -> None:
    """Creating an item whose id exists is a conflict."""
    api.post("/inventory-items", json={"id": "w-1", **item_body()}).raise_for_status()
    response = api.post("/inventory-items", json={"id": "w-1", **item_body()})
    assert response.status_code == 409


def test_update_answers_201_and_null_clears(api: httpx.Client) -> None:
    """``POST /inventory-items/{id}`` returns 201 (as the SDK says); null clears a field."""
    api.post("/inventory-items", json={"id": "w-1", **item_body()}).raise_for_status()
    response = api.post("/inventory-items/w-1", json={"eccn": None, "allowOversell": False})
    assert response.status_code == 201
    assert "eccn" not in response.json()
    assert response.json()["allowOversell"] is False


def test_unknown_item_update_is_404(api: httpx.Client) -> None:
    """Updating an item that does not exist is a 404 with DR's wording."""
    response = api.post("/inventory-items/nope", json={"eccn": "EAR99"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["message"] == "InventoryItem 'nope' not found."


def test_part_number_is_required(api: httpx.Client) -> None:
    """``partNumber`` is the one required field of the create body."""
    body = item_body()
    del body["partNumber"]
    response = api.post("/inventory-items", json={"id": "w-1", **body})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "missing_parameter"


def test_same_country_and_hs_rules_as_skus(api: httpx.Client) -> None:
    """``KP`` is refused on inventory items too, with the same message."""
    response = api.post("/inventory-items", json={"id": "w-1", **item_body(countryOfOrigin="KP")})
    assert response.json()["errors"][0]["message"] == "'KP' is not a valid Country of Origin."


def test_pair_shares_the_id_and_delete_leaves_the_item(api: httpx.Client) -> None:
    """A SKU and its item share the id; deleting the SKU does not delete the item."""
    create_pair(api, "w-1")
    assert api.get("/inventory-items/w-1").json()["id"] == api.get("/skus/w-1").json()["id"]
    api.delete("/skus/w-1").raise_for_status()
    assert api.get("/inventory-items/w-1").status_code == 200
    assert api.delete("/inventory-items/w-1").status_code == 204
