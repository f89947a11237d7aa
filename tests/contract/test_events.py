"""Events: shape and filters (docs/digital-river-api.md §14)."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from catalog_sync.sandbox.testing import sku_body

MICROSECONDS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


@pytest.fixture
def three_skus(api: httpx.Client) -> None:
    """Three SKU writes: created, updated, created."""
    api.put("/skus/a", json=sku_body()).raise_for_status()
    api.put("/skus/a", json=sku_body(name="A2")).raise_for_status()
    api.put("/skus/b", json=sku_body()).raise_for_status()


@pytest.mark.usefixtures("three_skus")
def test_event_shape(api: httpx.Client) -> None:
    """Events have a UUID id, microsecond time, ``digitalriverVersion`` and ``data``."""
    event = api.get("/events", params={"limit": 1}).json()["data"][0]
    assert set(event) == {"id", "type", "data", "liveMode", "createdTime", "digitalriverVersion"}
    assert str(uuid.UUID(event["id"])) == event["id"]
    assert MICROSECONDS.match(event["createdTime"])
    assert set(event["data"]) == {"object", "previousAttributes"}
    assert api.get(f"/events/{event['id']}").json() == event


@pytest.mark.usefixtures("three_skus")
def test_type_wildcard_and_types_list(api: httpx.Client) -> None:
    """``type`` takes ``*``; ``types`` takes several exact names."""
    assert len(api.get("/events", params={"type": "sku.*"}).json()["data"]) == 3
    updated = api.get("/events", params={"types": ["sku.updated", "nothing"]}).json()["data"]
    assert [e["type"] for e in updated] == ["sku.updated"]


def test_type_and_types_together_are_400(api: httpx.Client) -> None:
    """``type`` and ``types`` are mutually exclusive."""
    response = api.get("/events", params={"type": "sku.created", "types": "sku.updated"})
    assert response.status_code == 400


def test_more_than_twenty_types_is_400(api: httpx.Client) -> None:
    """``types`` holds at most 20 names."""
    response = api.get("/events", params={"types": ",".join(f"t{n}" for n in range(21))})
    assert response.status_code == 400


@pytest.mark.usefixtures("three_skus")
def test_created_time_gt_polls_newer_events(api: httpx.Client) -> None:
    """``createdTime[gt]`` of the oldest event returns only the newer ones."""
    oldest = api.get("/events", params={"limit": 100}).json()["data"][-1]
    newer = api.get("/events", params={"createdTime[gt]": oldest["createdTime"]}).json()["data"]
    assert [e["id"] for e in newer] == [
        e["id"] for e in api.get("/events").json()["data"] if e["id"] != oldest["id"]
    ]


def test_unknown_event_is_404(api: httpx.Client) -> None:
    """An unknown event id is not found."""
    assert api.get(f"/events/{uuid.uuid4()}").status_code == 404
