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
