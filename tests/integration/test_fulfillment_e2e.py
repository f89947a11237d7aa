"""End to end over loopback: events in, fulfillment orders, captures and cancels out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    PHYSICAL,
    admin_post,
    dr_fulfillments,
    edge,
    edge_settings,
    line_totals,
    make_catalog,
    posts,
)

from catalog_sync.sandbox.testing import RunningSandbox

pytestmark = pytest.mark.state_heavy


async def test_fulfillment_order_carries_only_physical_lines(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """An accepted order with physical and digital lines gets one FO of the physical ones."""
    make_catalog(sandbox)
    order = sandbox.create_order(
        items=[{"skuId": PHYSICAL, "quantity": 3}, {"skuId": DIGITAL, "quantity": 1}]
    )
    physical_line = order["items"][0]["id"]
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id))
        await e.settle(lambda: e.store.inbox_counts()["received"] == 0)
    created = posts(sandbox, "/fulfillment-orders")
    assert len(created) == 1
    body = created[0]["body"]
    assert isinstance(body, dict)
    assert body["upstreamId"] == order["id"]
    assert [(i["upstreamId"], i["inventoryItemId"], i["quantity"]) for i in body["items"]] == [
        (physical_line, PHYSICAL, 3)
    ]


async def test_two_shipments_capture_exactly_what_shipped(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A partial shipment then the rest capture the shipped quantities, with tracking."""
    make_catalog(sandbox)
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 3}])
    line = order["items"][0]["id"]
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id))
        fo_id = e.store.order(order["id"]).fulfillment_order_id  # type: ignore[union-attr]
        first = admin_post(
            sandbox,
            f"/_sandbox/fulfillment-orders/{fo_id}/ship",
            {"items": [{"itemId": line, "quantity": 1}], "trackingNumber": "T-1"},
        )
        second = admin_post(
            sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {"trackingNumber": "T-2"}
        )
        await e.settle(lambda: e.store.order(order["id"]).state == "complete")  # type: ignore[union-attr]
    found = dr_fulfillments(sandbox, order["id"])
    by_shipment = {f["shipmentId"]: f for f in found}
    assert set(by_shipment) == {first["id"], second["id"]}
    assert by_shipment[first["id"]]["items"][0]["quantity"] == 1
    assert by_shipment[second["id"]]["items"][0]["quantity"] == 2
    assert by_shipment[first["id"]]["trackingNumber"] == "T-1"
    assert line_totals(found) == {line: (3, 0)}


async def test_fulfiller_cancel_cancels_exactly_its_quantity(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A partial cancellation by the fulfiller cancels that quantity; the rest is captured."""
    make_catalog(sandbox)
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 4}])
    line = order["items"][0]["id"]
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id))
        fo_id = e.store.order(order["id"]).fulfillment_order_id  # type: ignore[union-attr]
        cancel = {"items": [{"itemId": line, "quantity": 1}]}
        admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/cancel", cancel)
        await e.settle(lambda: e.store.order(order["id"]).lines[0].cancelled == 1)  # type: ignore[union-attr]
        admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
        await e.settle(lambda: e.store.order(order["id"]).state == "complete")  # type: ignore[union-attr]
    cancels = [
        r for r in posts(sandbox, "/fulfillments") if "cancelQuantity" in json.dumps(r["body"])
    ]
    assert len(cancels) == 1
    assert line_totals(dr_fulfillments(sandbox, order["id"])) == {line: (3, 1)}


async def test_digital_line_fulfilled_elsewhere_lets_order_complete(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """With the digital line fulfilled by the merchant, the mixed order reaches complete."""
    make_catalog(sandbox)
    order = sandbox.create_order(
        items=[{"skuId": PHYSICAL, "quantity": 2}, {"skuId": DIGITAL, "quantity": 1}]
    )
    digital = order["items"][1]["id"]
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id))
        fo_id = e.store.order(order["id"]).fulfillment_order_id  # type: ignore[union-attr]
        with sandbox.api() as api:
            api.post(
                "/fulfillments",
                json={"orderId": order["id"], "items": [{"itemId": digital, "quantity": 1}]},
            ).raise_for_status()
        admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
        await e.settle(lambda: e.store.order(order["id"]).state == "complete")  # type: ignore[union-attr]
    totals = line_totals(dr_fulfillments(sandbox, order["id"]))
    assert totals[order["items"][0]["id"]] == (2, 0)
