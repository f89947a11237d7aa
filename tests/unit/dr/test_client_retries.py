"""Which calls the client resends, and how creates turn doubt into OutcomeUnknown."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from catalog_sync.dr import (
    BadRequest,
    DigitalRiverClient,
    FulfillmentCreate,
    FulfillmentItemCreate,
    InventoryItemCreate,
    InventoryItemUpdate,
    NotFound,
    OutcomeUnknown,
    RateLimited,
    ServerError,
    SkuUpsert,
    TransportError,
)
from catalog_sync.dr.testing import FakeSleep, ScriptedAPI, error_body, fail, ok

MakeClient = Callable[..., DigitalRiverClient]
SKU = {"id": "a", "name": "A"}
CAPTURE = FulfillmentCreate(
    order_id="100", shipment_id="s1", items=[FulfillmentItemCreate(item_id="1", quantity=1)]
)
FULFILLMENT = {"id": "ful_1", "orderId": "100", "shipmentId": "s1"}
LIMITED = fail(429, error_body("too_many_requests"), {"Retry-After": "3"})


async def test_get_is_retried_through_server_errors(
    make_client: MakeClient, api: ScriptedAPI, sleep: FakeSleep
) -> None:
    """A GET survives two 503s, waiting the backoff schedule between tries."""
    client = make_client(fail(503), fail(503), ok(SKU))
    sku = await client.get_sku("a")
    assert (sku.id, len(api.requests), sleep.waits) == ("a", 3, [0.5, 1.0])


async def test_get_waits_retry_after_on_429(make_client: MakeClient, sleep: FakeSleep) -> None:
    """After a 429 the client waits at least Retry-After before the next try."""
    client = make_client(LIMITED, ok(SKU))
    await client.get_sku("a")
    assert sleep.waits == [3.0]


async def test_get_is_retried_after_a_read_timeout(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A read timeout on a GET is simply retried: reading twice is harmless."""
    client = make_client(httpx.ReadTimeout("slow"), ok(SKU))
    await client.get_sku("a")
    assert len(api.requests) == 2


async def test_bad_request_is_not_retried(make_client: MakeClient, api: ScriptedAPI) -> None:
    """A 400 is final: one request, no retry."""
    client = make_client(fail(400))
    with pytest.raises(BadRequest):
        await client.get_sku("a")
    assert len(api.requests) == 1


async def test_upsert_is_retried_through_a_reset(make_client: MakeClient, api: ScriptedAPI) -> None:
    """PUT /skus/{id} is an upsert, so a reset after sending is simply resent."""
    client = make_client(httpx.ReadError("reset"), ok(SKU, 201))
    result = await client.upsert_sku("a", SkuUpsert(name="A"))
    assert (result.created, [r.method for r in api.requests]) == (True, ["PUT", "PUT"])


async def test_update_of_inventory_item_is_retried(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """POST /inventory-items/{id} sets fields, so it is safe to resend after a 500."""
    client = make_client(fail(500), ok({"id": "a"}, 201))
    await client.update_inventory_item("a", InventoryItemUpdate(eccn="EAR99"))
    assert len(api.requests) == 2


async def test_create_after_server_error_is_outcome_unknown(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A 503 on POST /fulfillments may hide a capture: raise, never resend blindly."""
    client = make_client(fail(503), ok(FULFILLMENT, 201))
    with pytest.raises(OutcomeUnknown) as caught:
        await client.create_fulfillment(CAPTURE)
    assert isinstance(caught.value.cause, ServerError)
    assert len(api.requests) == 1


async def test_create_after_read_timeout_is_outcome_unknown(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A read timeout on a create keeps the transport error as the cause."""
    client = make_client(httpx.ReadTimeout("slow"), ok({"id": "a"}, 201))
    with pytest.raises(OutcomeUnknown) as caught:
        await client.create_inventory_item(InventoryItemCreate(id="a"))
    assert isinstance(caught.value.cause, TransportError)
    assert len(api.requests) == 1


async def test_create_is_resent_after_429(make_client: MakeClient, api: ScriptedAPI) -> None:
    """A 429 proves the create was not applied, so it is resent."""
    client = make_client(LIMITED, ok(FULFILLMENT, 201))
    fulfillment = await client.create_fulfillment(CAPTURE)
    assert (fulfillment.id, len(api.requests)) == ("ful_1", 2)


async def test_create_is_resent_after_connect_error(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A refused connection never reached the server, so the create is resent."""
    client = make_client(httpx.ConnectError("refused"), ok(FULFILLMENT, 201))
    await client.create_fulfillment(CAPTURE)
    assert len(api.requests) == 2


async def test_create_out_of_attempts_on_429_stays_rate_limited(make_client: MakeClient) -> None:
    """Spent attempts on 429s raise RateLimited, not OutcomeUnknown: nothing was applied."""
    client = make_client(LIMITED, attempts=2)
    with pytest.raises(RateLimited):
        await client.create_fulfillment(CAPTURE)


async def test_delete_lost_answer_then_404_is_success(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A 404 after a DELETE whose answer was lost means the first DELETE did it."""
    client = make_client(httpx.ReadError("reset"), fail(404))
    await client.delete_sku("a")
    assert len(api.requests) == 2


async def test_delete_of_missing_object_is_not_found(make_client: MakeClient) -> None:
    """A 404 on the first DELETE is a real NotFound."""
    client = make_client(fail(404))
    with pytest.raises(NotFound):
        await client.delete_sku("a")


async def test_stats_count_calls_retries_and_429s(make_client: MakeClient) -> None:
    """Stats count each HTTP attempt by method and resource, retries and 429s."""
    client = make_client(LIMITED, fail(503), ok(SKU))
    await client.get_sku("a")
    stats = client.stats
    assert (stats.calls["GET", "skus"], stats.retries, stats.rate_limited) == (3, 2, 1)


async def test_stats_count_outcome_unknown(make_client: MakeClient) -> None:
    """Each OutcomeUnknown raised is counted, for the daemon's metrics."""
    client = make_client(fail(500))
    with pytest.raises(OutcomeUnknown):
        await client.create_fulfillment(CAPTURE)
    assert client.stats.outcome_unknown == 1


async def test_observers_see_template_status_and_duration(make_client: MakeClient) -> None:
    """``on_response`` hooks get the path template (not the id) for bounded metric labels."""
    seen: list[tuple[str, str, int]] = []

    def observe(method: str, template: str, status: int, seconds: float) -> None:
        assert seconds >= 0
        seen.append((method, template, status))

    client = make_client(httpx.ConnectError("refused"), ok(SKU))
    client.on_response.append(observe)
    await client.get_sku("a")
    assert seen == [("GET", "/skus/{id}", 0), ("GET", "/skus/{id}", 200)]
