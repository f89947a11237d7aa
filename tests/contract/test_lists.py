"""Lists: envelope, order, cursors, limits and filters (docs/digital-river-api.md §5)."""

from __future__ import annotations

import httpx
import pytest

from catalog_sync.sandbox.testing import item_body


@pytest.fixture
def items(api: httpx.Client) -> list[str]:
    """25 inventory items, ids in creation order."""
    ids = [f"item-{n:02d}" for n in range(25)]
    for item_id in ids:
        api.post("/inventory-items", json={"id": item_id, **item_body()}).raise_for_status()
    return ids


def test_default_page_is_ten_newest_first(api: httpx.Client, items: list[str]) -> None:
    """Without ``limit`` a page holds 10 objects, newest first, in ``{hasMore, data}``."""
    page = api.get("/inventory-items").json()
    assert set(page) == {"hasMore", "data"}
    assert [item["id"] for item in page["data"]] == items[::-1][:10]
    assert page["hasMore"] is True


def test_starting_after_walks_every_object_once(api: httpx.Client, items: list[str]) -> None:
    """Paging with ``startingAfter`` visits all objects with no duplicate and no gap."""
    seen: list[str] = []
    params: dict[str, str | int] = {"limit": 7}
    while True:
        page = api.get("/inventory-items", params=params).json()
        seen += [item["id"] for item in page["data"]]
        if not page["hasMore"]:
            break
        params["startingAfter"] = seen[-1]
    assert seen == items[::-1]


def test_ending_before_returns_the_newer_page(api: httpx.Client, items: list[str]) -> None:
    """``endingBefore`` returns the objects just newer than the cursor, still newest first."""
    page = api.get("/inventory-items", params={"endingBefore": items[5], "limit": 3}).json()
    assert [item["id"] for item in page["data"]] == [items[8], items[7], items[6]]
    assert page["hasMore"] is True


@pytest.mark.parametrize("query", ["ids=item-01&ids=item-03", "ids=item-01,item-03"])
def test_ids_filter_accepts_both_array_forms(
    api: httpx.Client, items: list[str], query: str
) -> None:
    """``ids`` works repeated or comma-separated."""
    page = api.get(f"/inventory-items?{query}").json()
    assert [item["id"] for item in page["data"]] == ["item-03", "item-01"]
    assert len(items) == 25


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"startingAfter": "nope"}, "startingAfter"),
        ({"createdTime[gt]": "yesterday"}, "createdTime[gt]"),
    ],
)
def test_bad_list_parameters_are_400(
    api: httpx.Client, params: dict[str, str | int], parameter: str
) -> None:
    """``limit`` outside 1..100, an unknown cursor or a bad time is ``invalid_parameter``."""
    response = api.get("/inventory-items", params=params)
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == parameter


def test_created_time_range_filters(api: httpx.Client, items: list[str]) -> None:
    """``createdTime[gte]`` keeps objects at or after the bound; ``[lt]`` those before."""
    created = api.get(f"/inventory-items/{items[0]}").json()["createdTime"]
    after = api.get("/inventory-items", params={"createdTime[gte]": created, "limit": 100})
    before = api.get("/inventory-items", params={"createdTime[lt]": created, "limit": 100})
    assert len(after.json()["data"]) == 25
    assert before.json()["data"] == []


def test_field_filters_on_skus(api: httpx.Client, items: list[str]) -> None:
    """List filters match their field (here ``partNumber`` on inventory items)."""
    api.post("/inventory-items", json={"id": "odd", **item_body(partNumber="ODD")})
    page = api.get("/inventory-items", params={"partNumber": "ODD"}).json()
    assert [item["id"] for item in page["data"]] == ["odd"]
    assert len(items) == 25


def test_unknown_route_and_method_use_the_error_shape(api: httpx.Client) -> None:
    """Unknown paths are 404 ``not_found`` and wrong methods 405, in the API's body."""
    assert api.get("/nowhere").json()["type"] == "not_found"
    response = api.delete("/orders")
    assert (response.status_code, response.json()["type"]) == (405, "method_not_allowed")
