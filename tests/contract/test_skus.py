"""SKUs (docs/digital-river-api.md §7): statuses, bodies, upsert and merge, ``physical``."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from catalog_sync.sandbox.testing import sku_body

SECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def only_error(response: httpx.Response) -> dict[str, Any]:
    """The single error of an API error body, checking the envelope on the way."""
    body = response.json()
    assert set(body) == {"type", "errors"}
    assert len(body["errors"]) == 1
    error: dict[str, Any] = body["errors"][0]
    return error


def test_put_creates_with_201_and_the_sku_shape(api: httpx.Client) -> None:
    """A first PUT creates the SKU: 201, the fields sent, derived ``physical``, ``liveMode``."""
    response = api.put("/skus/w-1", json=sku_body())
    assert response.status_code == 201
    sku = response.json()
    assert sku == {
        "id": "w-1",
        "createdTime": sku["createdTime"],
        **sku_body(),
        "physical": True,
        "liveMode": False,
    }
    assert SECONDS.match(sku["createdTime"])


def test_put_again_replaces_with_200_and_clears_absent_fields(api: httpx.Client) -> None:
    """Upsert is full-representation: a field left out of the second PUT is gone."""
    api.put("/skus/w-1", json=sku_body(description="first")).raise_for_status()
    response = api.put("/skus/w-1", json=sku_body())
    assert response.status_code == 200
    assert "description" not in response.json()
    assert SECONDS.match(response.json()["updatedTime"])


def test_post_update_merges_and_null_clears(api: httpx.Client) -> None:
    """``POST /skus/{id}`` changes only what is sent; an explicit null clears a field."""
    api.put("/skus/w-1", json=sku_body(description="kept", url="https://x.test")).raise_for_status()
    response = api.post("/skus/w-1", json={"name": "Renamed", "url": None})
    assert response.status_code == 200
    sku = response.json()
    assert (sku["name"], sku["description"], "url" in sku) == ("Renamed", "kept", False)


def test_post_create_then_duplicate_is_409(api: httpx.Client) -> None:
    """``POST /skus`` creates (201); the same id again is a 409 conflict."""
    assert api.post("/skus", json={"id": "w-1", **sku_body()}).status_code == 201
    response = api.post("/skus", json={"id": "w-1", **sku_body()})
    assert response.status_code == 409
    assert response.json()["type"] == "conflict"
    assert only_error(response)["parameter"] == "id"


@pytest.mark.parametrize(
    ("path", "body", "parameter", "message"),
    [
        ("/skus/89&56", sku_body(), "id", "'89&56' is not a valid SKU ID."),
        (
            "/skus/w-1",
            sku_body(countryOfOrigin="KP"),
            "countryOfOrigin",
            "'KP' is not a valid Country of Origin.",
        ),
        (
            "/skus/w-1",
            sku_body(hsCode="1234.56.YW"),
            "hsCode",
            "'1234.56.YW' is not a valid HS code.",
        ),
        (
            "/skus/w-1",
            sku_body(managedFulfillment="DRGlobalFulfillment^&%^"),
            "managedFulfillment",
            "'DRGlobalFulfillment^&%^' is not a valid item type.",
        ),
    ],
)
def test_invalid_values_get_the_documented_400(
    api: httpx.Client, path: str, body: dict[str, Any], parameter: str, message: str
) -> None:
    """Invalid id, country, HS code and item type answer with DR's own wording."""
    response = api.put(path, json=body)
    assert response.status_code == 400
    assert response.json()["type"] == "bad_request"
    assert only_error(response) == {
        "code": "invalid_parameter",
        "parameter": parameter,
        "message": message,
    }


@pytest.mark.parametrize("field", ["name", "countryOfOrigin", "eccn", "taxCode"])
def test_required_fields_are_missing_parameters(api: httpx.Client, field: str) -> None:
    """Name, and without a SKU group country, ECCN and tax code, are required."""
    body = sku_body()
    del body[field]
    response = api.put("/skus/w-1", json=body)
    assert response.status_code == 400
    assert only_error(response) == {
        "code": "missing_parameter",
        "parameter": field,
        "message": f"The {field} is missing.",
    }


def test_unknown_and_read_only_fields_are_refused(api: httpx.Client) -> None:
    """A field of no request model (here the read-only ``physical``) is ``unknown_parameter``."""
    response = api.put("/skus/w-1", json=sku_body(physical=True))
    assert response.status_code == 400
    assert only_error(response)["code"] == "unknown_parameter"


def test_allow_oversell_is_ignored_and_never_emitted(api: httpx.Client) -> None:
    """From 2021-12-13 a SKU's ``allowOversell`` cannot be set: tolerated, not stored."""
    response = api.put("/skus/w-1", json=sku_body(allowOversell=True))
    assert response.status_code == 201
    assert "allowOversell" not in response.json()


def test_weight_without_unit_is_in_ounces(api: httpx.Client) -> None:
    """DR defaults ``weightUnit`` to ``oz`` when only ``weight`` is given."""
    body = sku_body()
    del body["weightUnit"]
    assert api.put("/skus/w-1", json=body).json()["weightUnit"] == "oz"


@pytest.mark.parametrize(
    ("tax_code", "physical"),
    [("4323.310_A", True), ("4512.100_A", False), ("4512.999_B", False), ("9999.100_A", True)],
)
def test_physical_is_derived_from_the_tax_code(
    api: httpx.Client, tax_code: str, physical: bool
) -> None:
    """``physical`` follows the documented tax-code table."""
    assert api.put("/skus/w-1", json=sku_body(taxCode=tax_code)).json()["physical"] is physical


def test_delete_is_204_then_404_in_the_api_shape(api: httpx.Client) -> None:
    """Delete answers 204 with no body; the SKU is then not found, with parameter ``id``."""
    api.put("/skus/w-1", json=sku_body()).raise_for_status()
    deleted = api.delete("/skus/w-1")
    assert (deleted.status_code, deleted.content) == (204, b"")
    response = api.get("/skus/w-1")
    assert response.status_code == 404
    assert only_error(response) == {
        "code": "not_found",
        "parameter": "id",
        "message": "Sku 'w-1' not found.",
    }


def test_sku_writes_emit_sku_events(api: httpx.Client) -> None:
    """Create, update and delete leave ``sku.created``, ``sku.updated``, ``sku.deleted``."""
    api.put("/skus/w-1", json=sku_body()).raise_for_status()
    api.post("/skus/w-1", json={"name": "Changed"}).raise_for_status()
    api.delete("/skus/w-1").raise_for_status()
    events = api.get("/events", params={"type": "sku.*"}).json()["data"]
    assert [e["type"] for e in events] == ["sku.deleted", "sku.updated", "sku.created"]
    assert events[1]["data"]["previousAttributes"] == {"name": "Widget"}


def test_each_sku_event_carries_the_sku_as_it_was_then(api: httpx.Client) -> None:
    """An event keeps the SKU of its moment: later writes change neither it nor its time."""
    created = api.put("/skus/w-1", json=sku_body()).json()
    changed = api.post("/skus/w-1", json={"name": "Changed"}).json()
    api.delete("/skus/w-1").raise_for_status()
    events = api.get("/events", params={"type": "sku.*"}).json()["data"]
    assert [e["data"]["object"] for e in events] == [changed, changed, created]
