"""The models read what the API sends, keep what they do not know, and write API names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from catalog_sync.dr import (
    FulfillmentCancellation,
    FulfillmentOrder,
    Sku,
    SkuUpsert,
)


def test_unknown_fields_are_kept() -> None:
    """A field the API adds without notice survives parsing and serialising."""
    sku = Sku.model_validate({"id": "a", "name": "A", "fulfill": False, "newThing": {"x": 1}})
    assert sku.model_extra == {"fulfill": False, "newThing": {"x": 1}}
    assert sku.model_dump()["newThing"] == {"x": 1}


def test_fields_use_the_api_camel_case_names() -> None:
    """Attributes are snake_case; the wire names are the API's camelCase."""
    sku = Sku.model_validate({"id": "a", "countryOfOrigin": "US", "hsCode": "8471.30"})
    assert (sku.country_of_origin, sku.hs_code) == ("US", "8471.30")
    assert {"countryOfOrigin", "hsCode", "liveMode"} <= set(sku.model_dump())


def test_numeric_ids_become_strings() -> None:
    """A fulfillment order's JSON-number ids (docs/digital-river-api.md §2) are read as strings."""
    order = FulfillmentOrder.model_validate(
        {"id": 9292981838, "items": [{"id": 650398674428, "quantity": 2, "pending": 2}]}
    )
    assert (order.id, order.items[0].id) == ("9292981838", "650398674428")


@pytest.mark.parametrize("spelling", ["liveMode", "livemode"])
def test_cancellation_live_mode_accepts_both_spellings(spelling: str) -> None:
    """The SDK spells a cancellation's ``livemode`` in lower case; both are read."""
    cancellation = FulfillmentCancellation.model_validate({"id": "ret_1", spelling: False})
    assert cancellation.live_mode is False


@pytest.mark.parametrize(
    ("text", "micros"),
    [
        ("2021-04-07T13:47:13Z", 0),
        ("2021-04-07T13:47:13.699Z", 699000),
        ("2021-04-07T13:47:13.272054Z", 272054),
    ],
)
def test_times_parse_at_every_precision(text: str, micros: int) -> None:
    """Second, milli- and microsecond times with a Z all parse as UTC."""
    sku = Sku.model_validate({"id": "a", "createdTime": text})
    assert sku.created_time == datetime(2021, 4, 7, 13, 47, 13, micros, tzinfo=UTC)


def test_request_refuses_unknown_fields() -> None:
    """A typo in a request body fails here, not as a 400 from the API."""
    with pytest.raises(ValidationError):
        SkuUpsert.model_validate({"name": "A", "taxcode": "4323.310_A"})


def test_request_body_holds_only_fields_set() -> None:
    """``to_json`` sends the API names of the fields set, nothing else."""
    body = json.loads(SkuUpsert(name="A", tax_code="4323.310_A", weight=1.5).to_json())
    assert body == {"name": "A", "taxCode": "4323.310_A", "weight": 1.5}
