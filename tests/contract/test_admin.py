"""The ``/_sandbox/`` admin API: orders, drift, fulfiller policy, reset, stats."""

from __future__ import annotations

import httpx

from catalog_sync.sandbox.testing import RunningSandbox, create_pair


def test_admin_order_is_accepted_and_realistic(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """An admin order has the fields the daemon reads and emits ``order.accepted``."""
    create_pair(api, "w-1")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 2}])
    assert order["id"].isdigit()
    assert order["state"] == "accepted"
    assert {
        "currency",
        "locale",
        "email",
        "shipTo",
        "billTo",
        "shippingChoice",
        "payment",
        "totalAmount",
        "stateTransitions",
    } <= set(order)
    assert set(order["shippingChoice"]) == {
        "amount",
        "taxAmount",
        "description",
        "serviceLevel",
        "shippingTerms",
    }
    line = order["items"][0]
    assert (line["skuId"], line["quantity"], line["state"]) == ("w-1", 2, "created")
    assert line["id"].isdigit()
    assert order["payment"]["charges"][0]["amount"] == order["totalAmount"]
    assert api.get(f"/orders/{order['id']}").json() == order
    event = api.get("/events", params={"type": "order.accepted"}).json()["data"][0]
    assert event["data"]["object"]["id"] == order["id"]


def test_admin_order_with_unknown_sku_is_400(sandbox: RunningSandbox) -> None:
    """An order for a SKU that does not exist is refused."""
    response = sandbox.admin.post(
        "/_sandbox/orders", json={"items": [{"skuId": "x", "quantity": 1}]}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["parameter"] == "items[0].skuId"


def test_orders_list_filters_by_state_and_ids(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """``GET /orders`` filters by ``ids`` and ``state``."""
    create_pair(api, "w-1")
    first = sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    by_id = api.get("/orders", params={"ids": first["id"]}).json()["data"]
    assert [o["id"] for o in by_id] == [first["id"]]
    assert len(api.get("/orders", params={"state": "accepted"}).json()["data"]) == 2


def test_drift_changes_a_sku_behind_the_api(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """Drift edits the SKU (``sku.updated``) without a request in the API log."""
    create_pair(api, "w-1")
    sandbox.clear_requests()
    response = sandbox.admin.post("/_sandbox/skus/w-1/drift", json={"hsCode": "8471.50"})
    assert response.status_code == 200
    assert api.get("/skus/w-1").json()["hsCode"] == "8471.50"
    assert [r["path"] for r in sandbox.requests()] == ["/skus/w-1"]


def test_request_log_fields_keeps_only_the_fields_asked_for(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """``?fields=`` narrows every entry of the request log to those fields, in log order."""
    create_pair(api, "w-1")
    response = sandbox.admin.get("/_sandbox/requests", params={"fields": "method,path,status"})
    assert response.json()["data"] == [
        {"method": "PUT", "path": "/skus/w-1", "status": 201},
        {"method": "POST", "path": "/inventory-items", "status": 201},
    ]


def test_request_log_fields_refuses_an_unknown_field(sandbox: RunningSandbox) -> None:
    """A field the log does not have is 400 ``invalid_parameter`` naming ``fields``."""
    response = sandbox.admin.get("/_sandbox/requests", params={"fields": "method,secret"})
    assert (response.status_code, response.json()["errors"][0]["parameter"]) == (400, "fields")


def test_drift_changes_an_inventory_item(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """Inventory-item drift changes the stored item."""
    create_pair(api, "w-1")
    sandbox.admin.post("/_sandbox/inventory-items/w-1/drift", json={"countryOfOrigin": "DE"})
    assert api.get("/inventory-items/w-1").json()["countryOfOrigin"] == "DE"


def test_fulfiller_policy_is_validated(sandbox: RunningSandbox) -> None:
    """Only ``accept`` and ``reject`` are policies."""
    response = sandbox.admin.post("/_sandbox/fulfiller", json={"cancellations": "maybe"})
    assert response.status_code == 400
    assert sandbox.admin.get("/_sandbox/fulfiller").json() == {"cancellations": "accept"}


def test_reset_empties_everything(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """After reset there is no data, no event and no logged request."""
    create_pair(api, "w-1")
    sandbox.reset()
    stats = sandbox.admin.get("/_sandbox/stats").json()
    assert stats["requests"] == 0
    assert all(count == 0 for count in stats["test"].values())


def test_vanished_events_leave_the_events_list(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """Events of one type about one object vanish; the others stay listed."""
    create_pair(api, "w-1")
    first = sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    second = sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    answer = sandbox.admin.post(
        "/_sandbox/events/vanish", json={"type": "order.accepted", "objectId": first["id"]}
    )
    listed = api.get("/events", params={"type": "order.accepted"}).json()["data"]
    assert (len(answer.json()["vanished"]), [e["data"]["object"]["id"] for e in listed]) == (
        1,
        [second["id"]],
    )


def test_vanish_needs_an_event_type(sandbox: RunningSandbox) -> None:
    """Without ``type`` nothing vanishes and the answer is a 400 naming it."""
    response = sandbox.admin.post("/_sandbox/events/vanish", json={"objectId": "1"})
    assert (response.status_code, response.json()["errors"][0]["parameter"]) == (400, "type")


def test_an_outside_capture_is_a_fulfillment_of_the_order(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """Recorded as ``POST /fulfillments`` would, with its event, even beyond the open units."""
    create_pair(api, "w-1")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 1}, {"skuId": "w-1", "quantity": 1}])
    line = order["items"][0]["id"]
    made = sandbox.admin.post(
        f"/_sandbox/orders/{order['id']}/fulfillments",
        json={"items": [{"itemId": line, "quantity": 1, "cancelQuantity": 1}]},
    )
    listed = api.get("/fulfillments", params={"orderId": order["id"]}).json()["data"]
    created = api.get("/events", params={"type": "fulfillment.created"}).json()["data"]
    assert (made.status_code, [f["id"] for f in listed], len(created)) == (
        201,
        [made.json()["id"]],
        1,
    )


def test_an_outside_capture_of_an_unknown_order_is_404(sandbox: RunningSandbox) -> None:
    """No such order: nothing recorded."""
    response = sandbox.admin.post(
        "/_sandbox/orders/404/fulfillments", json={"items": [{"itemId": "1", "quantity": 1}]}
    )
    assert response.status_code == 404


def test_an_order_state_set_by_admin_emits_no_event(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """The order reads in its new state; the events list does not change."""
    create_pair(api, "w-1")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    before = api.get("/events").json()["data"]
    sandbox.admin.post(f"/_sandbox/orders/{order['id']}/state", json={"state": "fulfilled"})
    assert (
        api.get(f"/orders/{order['id']}").json()["state"],
        api.get("/events").json()["data"],
    ) == (
        "fulfilled",
        before,
    )


def test_an_unknown_order_state_is_400(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """Only DR's order states are accepted."""
    create_pair(api, "w-1")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 1}])
    response = sandbox.admin.post(f"/_sandbox/orders/{order['id']}/state", json={"state": "lost"})
    assert (response.status_code, response.json()["errors"][0]["parameter"]) == (400, "state")
