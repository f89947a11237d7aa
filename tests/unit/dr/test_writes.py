"""Repeat-safe writes: read back by natural key instead of resending blindly."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from catalog_sync.dr import (
    BadRequest,
    Conflict,
    Contact,
    DigitalRiverClient,
    Fulfillment,
    FulfillmentCancellationCreate,
    FulfillmentCancellationItemCreate,
    FulfillmentCreate,
    FulfillmentItemCreate,
    FulfillmentOrderCreate,
    FulfillmentOrderItemCreate,
    FulfillmentShippingChoice,
    InventoryItemUpdate,
    OutcomeUnknown,
    ServerError,
    cancellation_like,
    ensure_fulfillment,
    ensure_fulfillment_cancellation,
    ensure_fulfillment_order,
    ensure_inventory_item,
    fulfillment_like,
    is_already_done,
    same_shipment,
)
from catalog_sync.dr.testing import ScriptedAPI, error_body, fail, ok

MakeClient = Callable[..., DigitalRiverClient]
ITEM = {"id": "a", "partNumber": "P-1"}
EMPTY = ok({"hasMore": False, "data": []})
FO_BODY = FulfillmentOrderCreate(
    currency="USD",
    upstream_order_time=datetime(2024, 1, 1, tzinfo=UTC),
    ship_to=Contact(name="N"),
    shipping_choice=FulfillmentShippingChoice(id="standard"),
    items=[FulfillmentOrderItemCreate(inventory_item_id="a", quantity=1, upstream_id="1")],
    upstream_id="100",
)
CAPTURE = FulfillmentCreate(
    order_id="100", shipment_id="s1", items=[FulfillmentItemCreate(item_id="1", quantity=1)]
)
CAPTURED = {
    "id": "ful_1",
    "orderId": "100",
    "shipmentId": "s1",
    "items": [{"itemId": "1", "quantity": 1, "cancelQuantity": 0}],
}
ORDER_FULFILLED = fail(409, error_body("conflict", "order_fulfilled", "orderId"))
CANCEL = FulfillmentCancellationCreate(
    fulfillment_order_id="7",
    upstream_id="100",
    items=[FulfillmentCancellationItemCreate(fulfillment_order_item_id="70", quantity=1)],
)
CANCELLED = {
    "id": "ret_1",
    "fulfillmentOrderId": "7",
    "upstreamId": "100",
    "items": [{"fulfillmentOrderItemId": 70, "quantity": 1}],
}


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


async def test_fulfillment_order_read_before_write_finds_existing(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """An existing fulfillment order for the upstreamId is returned without a POST."""
    client = make_client(ok({"data": [{"id": 55, "upstreamId": "100"}]}))
    ensured = await ensure_fulfillment_order(client, FO_BODY)
    assert (ensured.created, ensured.value.id) == (False, "55")
    assert methods(api) == ["GET /fulfillment-orders"]
    assert api.requests[0].url.params["upstreamIds"] == "100"


async def test_fulfillment_order_lost_answer_reads_back(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A create whose answer was lost is found by upstreamId, never created twice."""
    found = ok({"data": [{"id": 55, "upstreamId": "100"}]})
    client = make_client(EMPTY, httpx.RemoteProtocolError("reset"), found)
    ensured = await ensure_fulfillment_order(client, FO_BODY)
    assert (ensured.created, ensured.value.id) == (True, "55")
    assert methods(api) == [
        "GET /fulfillment-orders",
        "POST /fulfillment-orders",
        "GET /fulfillment-orders",
    ]


async def test_fulfillment_order_needs_upstream_id(make_client: MakeClient) -> None:
    """Without an upstreamId there is no key to read back by, so the helper refuses."""
    client = make_client(EMPTY)
    with pytest.raises(ValueError, match="upstream_id"):
        await ensure_fulfillment_order(client, FO_BODY.model_copy(update={"upstream_id": None}))


async def test_capture_lost_answer_returns_the_matching_fulfillment(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """After a 503 on capture, the order's fulfillment for the shipment is taken as ours."""
    client = make_client(fail(503), ok({"hasMore": False, "data": [CAPTURED]}))
    ensured = await ensure_fulfillment(client, CAPTURE, same_shipment("s1"))
    assert (ensured.created, ensured.value.id) == (True, "ful_1")
    assert methods(api) == ["POST /fulfillments", "GET /fulfillments"]


async def test_capture_lost_answer_without_match_is_resent(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """If no fulfillment matches after a lost answer, the capture is sent again."""
    other = {**CAPTURED, "id": "ful_0", "shipmentId": "s0"}
    client = make_client(fail(503), ok({"hasMore": False, "data": [other]}), ok(CAPTURED, 201))
    ensured = await ensure_fulfillment(client, CAPTURE, same_shipment("s1"))
    assert ensured.value.id == "ful_1"
    assert methods(api) == ["POST /fulfillments", "GET /fulfillments", "POST /fulfillments"]


async def test_order_fulfilled_with_match_counts_as_done(make_client: MakeClient) -> None:
    """A 409 order_fulfilled after our capture landed returns that capture, not an error."""
    client = make_client(ORDER_FULFILLED, ok({"hasMore": False, "data": [CAPTURED]}))
    ensured = await ensure_fulfillment(client, CAPTURE, same_shipment("s1"))
    assert (ensured.created, ensured.value.id) == (False, "ful_1")


async def test_order_fulfilled_without_match_is_raised(make_client: MakeClient) -> None:
    """A 409 with nothing of ours behind it is raised for the caller to judge."""
    client = make_client(ORDER_FULFILLED, EMPTY)
    with pytest.raises(Conflict) as caught:
        await ensure_fulfillment(client, CAPTURE, same_shipment("s1"))
    assert is_already_done(caught.value)


async def test_bad_request_is_not_read_back(make_client: MakeClient, api: ScriptedAPI) -> None:
    """A 400 is the caller's mistake: raised at once, nothing read back."""
    client = make_client(fail(400))
    with pytest.raises(BadRequest):
        await ensure_fulfillment(client, CAPTURE, same_shipment("s1"))
    assert len(api.requests) == 1


def test_quantity_conflict_is_not_already_done() -> None:
    """Only the codes listed in one place mean "already done"; too large is a real error."""
    too_large = Conflict(409, "conflict", ())
    assert not is_already_done(too_large)
    assert not is_already_done(ServerError(500, "internal_server_error"))


def test_fulfillment_like_ignores_known_fulfillments() -> None:
    """Two equal partial cancels are told apart by excluding the ones already known."""
    body = FulfillmentCreate(
        order_id="100", items=[FulfillmentItemCreate(item_id="1", cancel_quantity=1)]
    )
    seen = Fulfillment.model_validate(
        {
            "id": "ful_1",
            "orderId": "100",
            "items": [{"itemId": "1", "quantity": 0, "cancelQuantity": 1}],
        }
    )
    assert fulfillment_like(body)(seen)
    assert not fulfillment_like(body, known_ids={"ful_1"})(seen)


async def test_cancellation_lost_answer_reads_back_by_fulfillment_order(
    make_client: MakeClient, api: ScriptedAPI
) -> None:
    """A cancellation whose answer was lost is found among the fulfillment order's."""
    client = make_client(httpx.ReadTimeout("slow"), ok({"hasMore": False, "data": [CANCELLED]}))
    ensured = await ensure_fulfillment_cancellation(client, CANCEL, cancellation_like(CANCEL))
    assert (ensured.created, ensured.value.id) == (True, "ret_1")
    assert api.requests[1].url.params["fulfillmentOrderId"] == "7"
