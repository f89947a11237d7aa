"""The distributed flow of docs/digital-river-api.md §15, played end to end over HTTP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from catalog_sync.sandbox.testing import RunningSandbox, create_pair, fulfillment_order_body

Json = dict[str, Any]
COUNTERS = ("pending", "backordered", "shipped", "cancelled", "returned")


@dataclass(frozen=True)
class Flow:
    """An accepted order of two lines (3 x w-1, 1 x w-2) and its fulfillment order."""

    order: Json
    fulfillment_order: Json

    @property
    def fo_path(self) -> str:
        """The admin path of the fulfillment order."""
        return f"/_sandbox/fulfillment-orders/{self.fulfillment_order['id']}"

    def line(self, index: int) -> Json:
        """Order line ``index``."""
        item: Json = self.order["items"][index]
        return item


@pytest.fixture
def flow(sandbox: RunningSandbox, api: httpx.Client) -> Flow:
    """Steps 1-3: the pairs, an accepted order, and the daemon's fulfillment order."""
    create_pair(api, "w-1")
    create_pair(api, "w-2")
    order = sandbox.create_order([{"skuId": "w-1", "quantity": 3}, {"skuId": "w-2", "quantity": 1}])
    response = api.post("/fulfillment-orders", json=fulfillment_order_body(order))
    assert response.status_code == 201
    return Flow(order, response.json())


def events(api: httpx.Client, *types: str) -> list[Json]:
    """Events of the given types, oldest first."""
    data: list[Json] = api.get("/events", params={"types": ",".join(types), "limit": 100}).json()[
        "data"
    ]
    return data[::-1]


def fulfill(api: httpx.Client, flow: Flow, index: int, **quantities: Any) -> httpx.Response:
    """``POST /fulfillments`` for one order line."""
    item = {"itemId": flow.line(index)["id"], **quantities}
    return api.post("/fulfillments", json={"orderId": flow.order["id"], "items": [item]})


def test_fulfillment_order_is_pending_with_numeric_ids_and_counters(flow: Flow) -> None:
    """The created fulfillment order is ``pending``; ids are integers; counters sum up."""
    fo = flow.fulfillment_order
    assert isinstance(fo["id"], int)
    assert fo["state"] == "pending"
    assert fo["upstreamId"] == flow.order["id"]
    for line, order_line in zip(fo["items"], flow.order["items"], strict=True):
        assert isinstance(line["id"], int)
        assert line["upstreamId"] == order_line["id"]
        assert (line["pending"], line["state"]) == (order_line["quantity"], "pending")
        assert sum(line[c] for c in COUNTERS) == line["quantity"]


def test_pending_event_carries_the_fulfillment_order(api: httpx.Client, flow: Flow) -> None:
    """``fulfillment_order.pending`` has the fulfillment order as ``data.object``."""
    (event,) = events(api, "fulfillment_order.pending")
    assert event["data"]["object"] == flow.fulfillment_order


def test_fulfillment_order_validation(api: httpx.Client, flow: Flow) -> None:
    """A missing currency and an unknown inventory item are 400s naming the parameter."""
    body = fulfillment_order_body(flow.order)
    del body["currency"]
    assert api.post("/fulfillment-orders", json=body).json()["errors"][0]["parameter"] == "currency"
    body = fulfillment_order_body(flow.order)
    body["items"][0]["inventoryItemId"] = "ghost"
    response = api.post("/fulfillment-orders", json=body)
    assert response.json()["errors"][0]["parameter"] == "items[0].inventoryItemId"


def test_list_fulfillment_orders_by_upstream_id(api: httpx.Client, flow: Flow) -> None:
    """The read-before-write look-up: ``upstreamIds`` finds the order's fulfillment order."""
    page = api.get("/fulfillment-orders", params={"upstreamIds": flow.order["id"]}).json()
    assert [fo["id"] for fo in page["data"]] == [flow.fulfillment_order["id"]]


def test_ship_creates_a_shipment_event_and_capture(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """Step 6: shipped event carries the shipment; the capture emits the charge events."""
    shipment = sandbox.admin.post(
        f"{flow.fo_path}/ship", json={"items": [{"skuId": "w-1", "quantity": 2}]}
    ).json()
    (shipped,) = events(api, "fulfillment_order.shipped")
    assert shipped["data"]["object"] == shipment
    assert api.get(f"/shipments/{shipment['id']}").json() == shipment
    item = shipment["items"][0]
    assert (item["fulfillmentOrderItemUpstreamId"], item["quantity"]) == (flow.line(0)["id"], 2)
    response = api.post(
        "/fulfillments",
        json={
            "orderId": shipment["fulfillmentOrderUpstreamId"],
            "shipmentId": shipment["id"],
            "items": [
                {
                    "itemId": item["fulfillmentOrderItemUpstreamId"],
                    "shipmentItemId": item["id"],
                    "quantity": "2",
                }
            ],
        },
    )
    assert response.status_code == 201
    fulfillment = response.json()
    assert fulfillment["id"].startswith("ful_")
    assert fulfillment["items"][0]["quantity"] == 2
    assert fulfillment["items"][0]["cancelQuantity"] == 0
    types = [
        e["type"]
        for e in events(
            api,
            "fulfillment.created",
            "order.charge.capture.pending",
            "order.charge.capture.complete",
        )
    ]
    assert types == [
        "fulfillment.created",
        "order.charge.capture.pending",
        "order.charge.capture.complete",
    ]
    capture = events(api, "order.charge.capture.complete")[0]["data"]["object"]["captures"][0]
    assert (capture["state"], capture["fulfillmentId"]) == ("complete", fulfillment["id"])


def test_a_partial_capture_shows_on_the_orders_charge(api: httpx.Client, flow: Flow) -> None:
    """Capturing part of an order leaves the order open, its charge listing the capture."""
    fulfillment = fulfill(api, flow, 0, quantity=1).json()
    order = api.get(f"/orders/{flow.order['id']}").json()
    [capture] = order["payment"]["charges"][0]["captures"]
    assert (order["state"], capture["state"], capture["fulfillmentId"]) == (
        "accepted",
        "complete",
        fulfillment["id"],
    )


def test_shipped_fulfillment_order_state_and_line_counters(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """After a partial shipment the order is ``shipped`` and counters still sum up."""
    sandbox.admin.post(f"{flow.fo_path}/ship", json={"items": [{"skuId": "w-1", "quantity": 1}]})
    fo = api.get(f"/fulfillment-orders/{flow.fulfillment_order['id']}").json()
    assert fo["state"] == "shipped"
    line = fo["items"][0]
    assert (line["pending"], line["shipped"], line["state"]) == (2, 1, "shipped")


def test_backorder_event_extends_the_lines(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """Backorders add ``ordered``, ``backordered``, ``totalBackordered``, ``availableTime``."""
    for _ in range(2):
        sandbox.admin.post(
            f"{flow.fo_path}/backorder", json={"items": [{"skuId": "w-1", "quantity": 1}]}
        )
    last = events(api, "fulfillment_order.backordered")[-1]["data"]["object"]["items"][0]
    assert (last["ordered"], last["backordered"], last["totalBackordered"]) == (3, 1, 2)
    assert last["availableTime"].endswith("Z")
    line = api.get(f"/fulfillment-orders/{flow.fulfillment_order['id']}").json()["items"][0]
    assert (line["pending"], line["backordered"]) == (1, 2)


def test_cancellation_is_accepted_for_pending_lines(api: httpx.Client, flow: Flow) -> None:
    """Step 5: created, accepted, then ``fulfillment_order.cancelled`` with the counters."""
    line = flow.fulfillment_order["items"][1]
    response = api.post(
        "/fulfillment-cancellations",
        json={
            "fulfillmentOrderId": str(flow.fulfillment_order["id"]),
            "upstreamId": flow.order["id"],
            "items": [{"fulfillmentOrderItemId": str(line["id"]), "quantity": 1}],
        },
    )
    assert response.status_code == 201
    cancellation = response.json()
    assert cancellation["state"] == "accepted"
    assert cancellation["items"][0]["quantityAccepted"] == 1
    types = [
        e["type"]
        for e in events(
            api,
            "fulfillment_cancellation.created",
            "fulfillment_cancellation.accepted",
            "fulfillment_order.cancelled",
        )
    ]
    assert types == [
        "fulfillment_cancellation.created",
        "fulfillment_cancellation.accepted",
        "fulfillment_order.cancelled",
    ]
    cancelled = events(api, "fulfillment_order.cancelled")[0]["data"]["object"]
    assert cancelled["items"][1]["cancelled"] == 1
    assert api.get(f"/fulfillment-cancellations/{cancellation['id']}").json() == cancellation


def test_cancellation_of_shipped_units_is_rejected(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """What already shipped cannot be cancelled: the request is rejected."""
    sandbox.admin.post(f"{flow.fo_path}/ship")
    line = flow.fulfillment_order["items"][0]
    cancellation = api.post(
        "/fulfillment-cancellations",
        json={
            "fulfillmentOrderId": flow.fulfillment_order["id"],
            "items": [{"fulfillmentOrderItemId": line["id"], "quantity": 1}],
        },
    ).json()
    assert (cancellation["state"], cancellation["items"][0]["quantityAccepted"]) == ("rejected", 0)
    assert [e["type"] for e in events(api, "fulfillment_cancellation.rejected")] == [
        "fulfillment_cancellation.rejected"
    ]


def test_reject_policy_rejects_pending_lines(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """With the fulfiller set to reject, even pending units stay."""
    sandbox.admin.post("/_sandbox/fulfiller", json={"cancellations": "reject"}).raise_for_status()
    line = flow.fulfillment_order["items"][0]
    cancellation = api.post(
        "/fulfillment-cancellations",
        json={
            "fulfillmentOrderId": flow.fulfillment_order["id"],
            "items": [{"fulfillmentOrderItemId": line["id"], "quantity": 1}],
        },
    ).json()
    assert cancellation["state"] == "rejected"


def test_fulfiller_cancel_emits_cancelled(
    sandbox: RunningSandbox, api: httpx.Client, flow: Flow
) -> None:
    """The fulfiller cancelling on its own leaves ``fulfillment_order.cancelled``."""
    sandbox.admin.post(f"{flow.fo_path}/cancel").raise_for_status()
    (event,) = events(api, "fulfillment_order.cancelled")
    assert event["data"]["object"]["state"] == "cancelled"
    assert all(line["state"] == "cancelled" for line in event["data"]["object"]["items"])


def test_over_fulfilling_is_409_and_changes_nothing(api: httpx.Client, flow: Flow) -> None:
    """More than is open on a line is a 409 naming the quantity; no fulfillment is made."""
    response = fulfill(api, flow, 0, quantity=4)
    assert response.status_code == 409
    assert response.json()["errors"][0]["parameter"] == "items[0].quantity"
    over_cancel = fulfill(api, flow, 0, quantity=2, cancelQuantity=2)
    assert over_cancel.json()["errors"][0]["parameter"] == "items[0].cancelQuantity"
    assert api.get("/fulfillments", params={"orderId": flow.order["id"]}).json()["data"] == []


def test_lines_done_fulfil_then_complete_the_order(api: httpx.Client, flow: Flow) -> None:
    """Step 8: all lines captured or cancelled -> ``order.fulfilled`` then ``order.complete``."""
    assert fulfill(api, flow, 0, quantity=3).status_code == 201
    assert fulfill(api, flow, 1, cancelQuantity=1).status_code == 201
    order = api.get(f"/orders/{flow.order['id']}").json()
    assert order["state"] == "complete"
    assert [line["state"] for line in order["items"]] == ["fulfilled", "cancelled"]
    assert order["capturedAmount"] + order["cancelledAmount"] == pytest.approx(order["totalAmount"])
    types = [e["type"] for e in events(api, "order.fulfilled", "order.complete", "order.cancelled")]
    assert types == ["order.fulfilled", "order.complete"]


def test_fulfilled_order_answers_order_fulfilled(api: httpx.Client, flow: Flow) -> None:
    """Any further fulfillment on a fulfilled order is 409 ``order_fulfilled``."""
    fulfill(api, flow, 0, quantity=3)
    fulfill(api, flow, 1, quantity=1)
    response = fulfill(api, flow, 0, quantity=1)
    assert response.status_code == 409
    assert response.json()["errors"][0] == {
        "code": "order_fulfilled",
        "parameter": "orderId",
        "message": f"Resource '{flow.order['id']}' is fulfilled.",
    }


def test_all_cancelled_cancels_the_order(api: httpx.Client, flow: Flow) -> None:
    """Cancelling every unit ends in ``order.cancelled`` with the charge cancel events."""
    fulfill(api, flow, 0, cancelQuantity=3)
    fulfill(api, flow, 1, cancelQuantity=1)
    types = [
        e["type"]
        for e in events(api, "order.charge.cancel.complete", "order.cancelled", "order.fulfilled")
    ]
    assert types == [
        "order.charge.cancel.complete",
        "order.charge.cancel.complete",
        "order.cancelled",
    ]
    assert api.get(f"/orders/{flow.order['id']}").json()["state"] == "cancelled"


def test_get_fulfillment_adds_order_details_without_payment(api: httpx.Client, flow: Flow) -> None:
    """``GET /fulfillments/{id}`` adds ``orderDetails`` (the order minus ``payment``)."""
    created = fulfill(api, flow, 0, quantity=1).json()
    fetched = api.get(f"/fulfillments/{created['id']}").json()
    assert fetched["orderDetails"]["id"] == flow.order["id"]
    assert "payment" not in fetched["orderDetails"]
    assert {k: v for k, v in fetched.items() if k != "orderDetails"} == created


def test_unknown_order_is_404_with_dr_wording(api: httpx.Client) -> None:
    """A fulfillment for an unknown order is 404 naming ``orderId``."""
    response = api.post(
        "/fulfillments", json={"orderId": "1", "items": [{"itemId": "2", "quantity": 1}]}
    )
    assert response.status_code == 404
    assert response.json()["errors"][0] == {
        "code": "not_found",
        "parameter": "orderId",
        "message": "Order 1 not found",
    }
