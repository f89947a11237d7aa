"""The Digital River client against the real sandbox over loopback HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync.core.readback import is_already_done
from catalog_sync.dr import (
    BadRequest,
    Conflict,
    DigitalRiverClient,
    DRError,
    FulfillmentCreate,
    FulfillmentItemCreate,
    FulfillmentOrder,
    FulfillmentOrderCreate,
    InventoryItemCreate,
    InventoryItemUpdate,
    NotFound,
    RateLimited,
    RetryPolicy,
    ServerError,
    SkuUpsert,
    TransportError,
    Unauthorized,
    ensure_inventory_item,
)
from catalog_sync.dr.testing import captured_logs
from catalog_sync.dr.transport import SlotTransport
from catalog_sync.sandbox.testing import (
    RunningSandbox,
    fulfillment_order_body,
    item_body,
    sku_body,
)

SandboxFactory = Callable[..., AbstractContextManager[RunningSandbox]]
FAST_RETRY = RetryPolicy(attempts=10, initial_backoff=0.01, max_backoff=0.1, jitter=0.5)


def connect(
    sandbox: RunningSandbox,
    *,
    rate_limit: float = 1000,
    retry: RetryPolicy = FAST_RETRY,
    api_key: str | None = None,
) -> DigitalRiverClient:
    """A client for ``sandbox`` with quick retries."""
    return DigitalRiverClient(
        base_url=sandbox.base_url,
        api_key=SecretStr(api_key or sandbox.api_key),
        rate_limit=rate_limit,
        retry=retry,
    )


@pytest.fixture
async def client(sandbox: RunningSandbox) -> AsyncIterator[DigitalRiverClient]:
    """A client for the session sandbox."""
    async with connect(sandbox) as made:
        yield made


async def add_pairs(client: DigitalRiverClient, ids: list[str]) -> None:
    """Create the SKU / inventory-item pair of each id."""
    for product_id in ids:
        await client.upsert_sku(product_id, SkuUpsert.model_validate(sku_body()))
        await ensure_inventory_item(
            client, product_id, InventoryItemUpdate.model_validate(item_body())
        )


def api_calls(sandbox: RunningSandbox, method: str, path: str) -> list[dict[str, Any]]:
    """The sandbox's log entries for ``method path``."""
    return [r for r in sandbox.requests() if r["method"] == method and r["path"] == path]


async def accepted_order(client: DigitalRiverClient, sandbox: RunningSandbox) -> dict[str, Any]:
    """A product pair and an accepted order of two of it, made without faults."""
    await add_pairs(client, ["widget"])
    return sandbox.create_order(items=[{"skuId": "widget", "quantity": 2}])


def ship_all(sandbox: RunningSandbox, fulfillment_order: FulfillmentOrder) -> dict[str, Any]:
    """Play the fulfiller: ship every open unit; returns the shipment."""
    response = sandbox.admin.post(f"/_sandbox/fulfillment-orders/{fulfillment_order.id}/ship")
    response.raise_for_status()
    shipment: dict[str, Any] = response.json()
    return shipment


def capture_of(shipment: dict[str, Any]) -> FulfillmentCreate:
    """The capture for a shipment, mapped as docs/digital-river-api.md §14.4 says."""
    return FulfillmentCreate(
        order_id=shipment["fulfillmentOrderUpstreamId"],
        shipment_id=shipment["id"],
        items=[
            FulfillmentItemCreate(
                item_id=item["fulfillmentOrderItemUpstreamId"],
                shipment_item_id=item["id"],
                quantity=item["quantity"],
            )
            for item in shipment["items"]
        ],
    )


# -- pagination -------------------------------------------------------------------------------


async def test_iteration_reads_every_page(
    client: DigitalRiverClient, sandbox: RunningSandbox
) -> None:
    """25 SKUs listed 10 at a time arrive complete over 3 pages linked by startingAfter."""
    ids = [f"sku-{n:02}" for n in range(25)]
    await asyncio.gather(*(client.upsert_sku(i, SkuUpsert.model_validate(sku_body())) for i in ids))
    sandbox.clear_requests()
    listed = [sku.id async for sku in client.iter_skus(page_size=10)]
    assert sorted(listed) == ids
    queries = [r["query"] for r in api_calls(sandbox, "GET", "/skus")]
    assert len(queries) == 3
    assert all("startingAfter=" in q for q in queries[1:])


async def test_ids_filter_reads_only_those(client: DigitalRiverClient) -> None:
    """The ids filter, chunked by page size, returns exactly the asked SKUs."""
    ids = [f"sku-{n}" for n in range(8)]
    await asyncio.gather(*(client.upsert_sku(i, SkuUpsert.model_validate(sku_body())) for i in ids))
    wanted = ids[1:6]
    listed = [sku.id async for sku in client.iter_skus(ids=wanted, page_size=2)]
    assert sorted(listed) == wanted


# -- typed errors -----------------------------------------------------------------------------


async def test_invalid_sku_id_is_bad_request(client: DigitalRiverClient) -> None:
    """An id outside the charset is a 400 invalid_parameter on ``id``."""
    with pytest.raises(BadRequest) as caught:
        await client.upsert_sku("89&56", SkuUpsert.model_validate(sku_body()))
    assert (caught.value.code, caught.value.parameter) == ("invalid_parameter", "id")


async def test_wrong_key_is_unauthorized(sandbox: RunningSandbox) -> None:
    """A malformed key gets the API's 401."""
    async with connect(sandbox, api_key="not-a-secret-key") as stranger:
        with pytest.raises(Unauthorized):
            await stranger.get_sku("a")


async def test_missing_object_is_not_found(client: DigitalRiverClient) -> None:
    """Reading an unknown order is a 404."""
    with pytest.raises(NotFound):
        await client.get_order("missing")


async def test_second_create_of_an_id_is_conflict(client: DigitalRiverClient) -> None:
    """Creating an inventory item whose id is taken is a 409."""
    body = InventoryItemCreate.model_validate({"id": "dup", **item_body()})
    await client.create_inventory_item(body)
    with pytest.raises(Conflict):
        await client.create_inventory_item(body)


async def test_capture_of_a_fulfilled_order_is_already_done(
    client: DigitalRiverClient, sandbox: RunningSandbox
) -> None:
    """After the whole order is captured, another capture is 409 order_fulfilled."""
    order = await accepted_order(client, sandbox)
    body = FulfillmentOrderCreate.model_validate(fulfillment_order_body(order))
    shipment = ship_all(sandbox, await client.create_fulfillment_order(body))
    await client.create_fulfillment(capture_of(shipment))
    with pytest.raises(Conflict) as caught:
        await client.create_fulfillment(capture_of(shipment))
    assert is_already_done("capture", caught.value.status, caught.value.code)


async def test_over_the_limit_is_rate_limited(sandbox_factory: SandboxFactory) -> None:
    """Without our limiter's help, a 25/s sandbox answers 429 with a Retry-After."""
    with sandbox_factory(rate_limit=25) as limited:
        async with connect(limited, retry=RetryPolicy(attempts=1)) as eager:
            results = await asyncio.gather(
                *(eager.list_events(limit=1) for _ in range(60)), return_exceptions=True
            )
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert refused
    assert all(r.retry_after is not None and r.retry_after >= 1 for r in refused)


async def test_injected_503_is_server_error(
    client: DigitalRiverClient, sandbox: RunningSandbox
) -> None:
    """A 503 that never stops surfaces as ServerError once the attempts are spent."""
    sandbox.set_faults(rate=1, statuses=[503])
    with pytest.raises(ServerError):
        await client.get_sku("a")


async def test_dropped_connection_is_transport_error(
    client: DigitalRiverClient, sandbox: RunningSandbox
) -> None:
    """A connection dropped without an answer is a TransportError of unknown outcome."""
    sandbox.set_faults(reset=1)
    with pytest.raises(TransportError) as caught:
        await client.get_sku("a")
    assert caught.value.outcome_unknown


# -- retries without duplicates ---------------------------------------------------------------


async def test_429_on_create_is_resent_once_accepted(
    client: DigitalRiverClient, sandbox: RunningSandbox
) -> None:
    """A create refused with 429 is resent after Retry-After and lands exactly once."""
    order = await accepted_order(client, sandbox)
    sandbox.set_faults(rate=0.5, statuses=[429], seed=3)
    sandbox.clear_requests()
    body = FulfillmentOrderCreate.model_validate(fulfillment_order_body(order))
    await client.create_fulfillment_order(body)
    sandbox.clear_faults()
    listed = [fo async for fo in client.iter_fulfillment_orders(upstream_ids=[order["id"]])]
    assert len(listed) == 1
    assert client.stats.rate_limited >= 1
    assert [r["status"] for r in api_calls(sandbox, "POST", "/fulfillment-orders")][-1] == 201


# -- rate budget ------------------------------------------------------------------------------


async def test_burst_of_500_calls_meets_no_429(sandbox_factory: SandboxFactory) -> None:
    """500 calls against a 250/s sandbox, paced by our 250/s budget, meet no 429."""
    with sandbox_factory(rate_limit=250) as limited:
        async with connect(limited, rate_limit=250) as paced:
            await paced.upsert_sku("a", SkuUpsert.model_validate(sku_body()))
            started = time.monotonic()
            await asyncio.gather(*(paced.get_sku("a") for _ in range(500)))
            elapsed = time.monotonic() - started
        statuses = [r["status"] for r in limited.requests()]
    assert statuses.count(429) == 0
    assert paced.stats.rate_limited == 0
    assert len(statuses) == 501
    assert elapsed >= 1.5


class InFlight(httpx.AsyncBaseTransport):
    """The real HTTP transport, counting how many SKU calls are in flight at once."""

    def __init__(self) -> None:
        self._http = httpx.AsyncHTTPTransport()
        self.now = 0
        self.peak = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not request.url.path.startswith("/skus"):
            return await self._http.handle_async_request(request)
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            response = await self._http.handle_async_request(request)
            await response.aread()
            return response
        finally:
            self.now -= 1

    async def aclose(self) -> None:
        await self._http.aclose()


async def test_catalog_calls_never_take_the_slots_kept_for_money(sandbox: RunningSandbox) -> None:
    """However slow the answers, catalog calls leave the 4 slots kept for captures and events.

    How wide the window opens at a given latency is a figure that a loaded machine changes;
    the unit tests prove the width with a fake clock and the benchmark reports it. Over real
    HTTP, what holds on every machine is the ceiling: 60 concurrent SKU writes on a
    16-connection client never have more than 12 in flight.
    """
    counting = InFlight()
    sandbox.set_faults(latency_ms=[20, 20])
    try:
        async with DigitalRiverClient(
            base_url=sandbox.base_url,
            api_key=SecretStr(sandbox.api_key),
            rate_limit=100,
            max_concurrency=16,
            transport=counting,
        ) as client:
            body = SkuUpsert.model_validate(sku_body())
            await asyncio.gather(*(client.upsert_sku(f"w-{n}", body) for n in range(60)))
    finally:
        sandbox.clear_faults()
    assert 1 <= counting.peak <= 16 - 4


# -- secrets ----------------------------------------------------------------------------------


async def test_key_absent_from_logs_and_errors(sandbox: RunningSandbox) -> None:
    """Calls, retries, failures and 401s leave no trace of either key in logs or errors."""
    wrong_key = "pk_test_0123456789abcdef"
    errors: list[DRError] = []
    with captured_logs() as output:
        async with connect(sandbox, retry=RetryPolicy(attempts=2, initial_backoff=0.01)) as c:
            sandbox.set_faults(rate=1, statuses=[503])
            with pytest.raises(ServerError) as server_error:
                await c.get_sku("a")
            errors.append(server_error.value)
            sandbox.set_faults(reset=1)
            with pytest.raises(TransportError) as transport_error:
                await c.get_sku("a")
            errors.append(transport_error.value)
            sandbox.clear_faults()
        async with connect(sandbox, api_key=wrong_key) as stranger:
            with pytest.raises(Unauthorized) as unauthorized:
                await stranger.get_sku("a")
            errors.append(unauthorized.value)
    written = output.getvalue()
    assert '"event": "dr.retry"' in written
    for secret in (sandbox.api_key, wrong_key):
        assert secret not in written
        assert all(secret not in f"{e} {e!r}" for e in errors)


async def test_calls_one_after_another_reuse_one_connection(sandbox: RunningSandbox) -> None:
    """Fifty calls in a row leave one open connection: each went out on the last one used."""
    transport = SlotTransport(16)
    async with DigitalRiverClient(
        base_url=sandbox.base_url,
        api_key=SecretStr(sandbox.api_key),
        rate_limit=1000,
        transport=transport,
    ) as client:
        await client.upsert_sku("a", SkuUpsert.model_validate(sku_body()))
        for _ in range(50):
            await client.get_sku("a")
        assert transport.idle == 1


async def test_concurrent_calls_keep_no_more_connections_than_slots(
    sandbox: RunningSandbox,
) -> None:
    """200 writes at once through 4 slots: every answer right, at most 4 connections kept."""
    transport = SlotTransport(4)
    async with DigitalRiverClient(
        base_url=sandbox.base_url,
        api_key=SecretStr(sandbox.api_key),
        rate_limit=100_000,
        max_concurrency=4,
        transport=transport,
    ) as client:
        body = SkuUpsert.model_validate(sku_body())
        results = await asyncio.gather(*(client.upsert_sku(f"c-{n}", body) for n in range(200)))
        assert [r.sku.id for r in results] == [f"c-{n}" for n in range(200)]
        assert 1 <= transport.idle <= 4
