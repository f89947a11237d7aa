"""Writes whose answers are lost: the ledger reads back and never sends a second one."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    PHYSICAL,
    admin_post,
    dr_fulfillments,
    edge,
    edge_settings,
    make_catalog,
    posts,
)

from catalog_sync.sandbox.testing import RunningSandbox

pytestmark = pytest.mark.state_heavy


async def test_lost_answers_leave_one_fulfillment_order_and_one_capture(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Every write applied then unanswered: each is read back, found, and sent only once."""
    make_catalog(sandbox)
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 2}])
    sandbox.clear_requests()
    sandbox.set_faults(after_commit=1)
    try:
        async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
            await e.settle(
                lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id)
            )
            fo_id = e.store.order(order["id"]).fulfillment_order_id  # type: ignore[union-attr]
            shipment = admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
            await e.settle(lambda: e.store.order(order["id"]).state == "complete")  # type: ignore[union-attr]
    finally:
        sandbox.clear_faults()
    captures = dr_fulfillments(sandbox, order["id"])
    assert len(posts(sandbox, "/fulfillment-orders")) == 1
    assert len(posts(sandbox, "/fulfillments")) == 1
    assert [c["shipmentId"] for c in captures] == [shipment["id"]]
