"""What the client puts on the wire and how it reads lists back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync import __version__
from catalog_sync.dr import (
    DigitalRiverClient,
    FulfillmentCancellationCreate,
    FulfillmentCancellationItemCreate,
    InventoryItemUpdate,
    SkuUpsert,
    format_time,
)
from catalog_sync.dr.client import id_chunks
from catalog_sync.dr.testing import ScriptedAPI, ok
from catalog_sync.support.settings import Settings

MakeClient = Callable[..., DigitalRiverClient]


def pages_of(ids: list[str], size: int) -> Callable[[httpx.Request], httpx.Response]:
    """An API listing ``ids`` in pages of ``size`` that honours ``startingAfter``."""

    def answer(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("startingAfter")
        start = ids.index(after) + 1 if after else 0
        chunk = ids[start : start + size]
        return ok({"hasMore": start + size < len(ids), "data": [{"id": i} for i in chunk]})

    return answer


async def test_sends_bearer_json_and_application_headers(
    make_client: MakeClient, api: ScriptedAPI, api_key: str
) -> None:
    """Every call carries the bearer key, JSON media types and our application id."""
    client = make_client(ok({"id": "a"}))
    await client.get_sku("a")
    headers = api.requests[0].headers
    assert headers["Authorization"] == f"Bearer {api_key}"
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"
    assert headers["upstream-application-id"] == f"catalog-sync/{__version__}"


async def test_update_sends_only_the_fields_set_in_api_names(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A partial update sends camelCase names, set fields only, and null to clear."""
    client = make_client(ok({"id": "a"}))
    await client.update_inventory_item("a", InventoryItemUpdate(hs_code="8471.30", eccn=None))
    assert api.bodies() == [{"hsCode": "8471.30", "eccn": None}]


async def test_upsert_reports_created_from_201(make_client: MakeClient) -> None:
    """PUT answering 201 created the SKU; 200 replaced it."""
    client = make_client(ok({"id": "a", "name": "A"}, 201), ok({"id": "a", "name": "A"}, 200))
    first = await client.upsert_sku("a", SkuUpsert(name="A"))
    second = await client.upsert_sku("a", SkuUpsert(name="A"))
    assert (first.created, second.created) == (True, False)


async def test_ids_in_paths_are_percent_encoded(make_client: MakeClient, api: ScriptedAPI) -> None:
    """An id never alters the path's shape, whatever characters it holds."""
    client = make_client(ok({"id": "a/b"}))
    await client.get_sku("a/b")
    assert api.requests[0].url.raw_path == b"/skus/a%2Fb"


async def test_iteration_follows_starting_after_to_the_end(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A list of 7 in pages of 3 takes 3 requests, each after the last id seen."""
    ids = [f"s{n}" for n in range(7)]
    client = make_client(pages_of(ids, 3))
    seen = [sku.id async for sku in client.iter_skus(page_size=3)]
    assert seen == ids
    assert [r.url.params.get("startingAfter") for r in api.requests] == [None, "s2", "s5"]
    assert {r.url.params["limit"] for r in api.requests} == {"3"}


async def test_missing_has_more_ends_the_list(make_client: MakeClient, api: ScriptedAPI) -> None:
    """The fulfillment-orders list may lack ``hasMore``: one page, then stop."""
    client = make_client(ok({"data": [{"id": 1}, {"id": 2}]}))
    found = [fo.id async for fo in client.iter_fulfillment_orders(upstream_ids=["100"])]
    assert (found, len(api.requests)) == (["1", "2"], 1)
    assert api.requests[0].url.params.get_list("upstreamIds") == ["100"]


async def test_ids_filter_is_sent_in_chunks(make_client: MakeClient, api: ScriptedAPI) -> None:
    """250 ids go as three requests of at most 100 repeated ``ids`` parameters."""
    ids = [f"sku-{n}" for n in range(250)]
    client = make_client(ok({"hasMore": False, "data": []}))
    _ = [sku async for sku in client.iter_skus(ids=ids)]
    sent = [r.url.params.get_list("ids") for r in api.requests]
    assert [len(chunk) for chunk in sent] == [100, 100, 50]
    assert [i for chunk in sent for i in chunk] == ids


def test_id_chunks_keep_the_query_short() -> None:
    """Long ids are chunked by query length as well as by count."""
    ids = ["x" * 200] * 20
    chunks = list(id_chunks(ids, 100))
    assert all(sum(len(i) + 5 for i in c) <= 1500 for c in chunks)
    assert sum(map(len, chunks)) == 20


async def test_page_size_over_100_is_refused(make_client: MakeClient) -> None:
    """The API's ``limit`` is 1..100; a larger page is a programming error."""
    client = make_client(ok({"data": []}))
    with pytest.raises(ValueError, match="page size"):
        _ = [sku async for sku in client.iter_skus(page_size=101)]


async def test_list_events_sends_types_time_and_cursor(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """One events page: repeated ``types``, ``createdTime[gt]`` in Z form, the cursor."""
    client = make_client(ok({"hasMore": True, "data": [{"id": "e1", "type": "order.accepted"}]}))
    since = datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC)
    events, has_more = await client.list_events(
        types=["order.accepted", "fulfillment_order.shipped"], created_gt=since, ending_before="e0"
    )
    params = api.requests[0].url.params
    assert params.get_list("types") == ["order.accepted", "fulfillment_order.shipped"]
    assert params["createdTime[gt]"] == "2024-05-01T12:00:00.250000Z"
    assert (params["endingBefore"], params["limit"]) == ("e0", "100")
    assert (has_more, [e["id"] for e in events]) == (True, ["e1"])


async def test_fulfillments_filtered_by_order(make_client: MakeClient, api: ScriptedAPI) -> None:
    """The read-back of an order's fulfillments filters by ``orderId``."""
    client = make_client(ok({"hasMore": False, "data": [{"id": "ful_1", "orderId": "9"}]}))
    found = [f.id async for f in client.iter_fulfillments(order_id="9")]
    assert (found, api.requests[0].url.params["orderId"]) == (["ful_1"], "9")


async def test_create_cancellation_posts_the_body(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A cancellation request goes as POST with the API's field names."""
    client = make_client(ok({"id": "ret_1", "fulfillmentOrderId": 7}, 201))
    body = FulfillmentCancellationCreate(
        fulfillment_order_id="7",
        items=[FulfillmentCancellationItemCreate(fulfillment_order_item_id="70", quantity=1)],
    )
    cancellation = await client.create_fulfillment_cancellation(body)
    assert api.bodies() == [
        {"fulfillmentOrderId": "7", "items": [{"fulfillmentOrderItemId": "70", "quantity": 1}]}
    ]
    assert cancellation.fulfillment_order_id == "7"


def test_format_time_converts_to_utc_z() -> None:
    """Query times are UTC with a literal Z, whatever zone they were made in."""
    local = datetime(2024, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(local) == "2024-01-01T00:00:00Z"


def test_format_time_refuses_naive_times() -> None:
    """A naive time has no defined UTC instant, so it is refused."""
    with pytest.raises(ValueError, match="naive"):
        format_time(datetime(2024, 1, 1))  # noqa: DTZ001 - the naive time is the point


async def test_from_settings_uses_the_key_rate() -> None:
    """From settings, a test key gets the test rate (25/s) and the configured base URL."""
    settings = Settings(api_key=SecretStr("sk_test_abcdefgh"), api_base="http://127.0.0.1:9")
    async with DigitalRiverClient.from_settings(settings.api) as client:
        described = (client.budget.rate, repr(client))
    assert described == (
        25.0,
        "DigitalRiverClient(base_url='http://127.0.0.1:9', rate=25.0)",
    )
