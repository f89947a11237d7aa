"""``catalog_sync_fulfillment_writes``: what the capture-failure alert of ``ops/`` watches."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    PHYSICAL,
    Edge,
    admin_post,
    edge,
    edge_settings,
    make_catalog,
)

from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.metrics import Metrics

pytestmark = pytest.mark.state_heavy


def _writes(metrics: Metrics, kind: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "catalog_sync_fulfillment_writes_total", {"kind": kind, "outcome": outcome}
    )
    return value or 0.0


async def _ship_all(e: Edge, sandbox: RunningSandbox) -> None:
    """An order of two physical units, accepted and shipped; the capture decided, not sent."""
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 2}])
    await e.settle(lambda: bool((o := e.store.order(order["id"])) and o.fulfillment_order_id))
    fo_id = e.store.order(order["id"]).fulfillment_order_id  # type: ignore[union-attr]
    admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
    while e.store.count_pending_intents() == 0:
        await e.poller.poll_once()
        await e.handler.handle_events()


async def test_a_landed_capture_is_counted(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A shipped order's capture counts once as a landed capture, and nothing as failed."""
    make_catalog(sandbox)
    metrics = Metrics()
    async with edge(edge_settings(sandbox, tmp_path, state_location), metrics) as e:
        await _ship_all(e, sandbox)
        await e.settle(lambda: e.store.captures_done() == 1)
    assert _writes(metrics, "capture", "landed") == 1
    assert _writes(metrics, "capture", "failed") == 0


async def test_a_capture_answered_500_is_counted_failed(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A capture the API answers 500 to every time counts as failed, never as landed."""
    make_catalog(sandbox)
    metrics = Metrics()
    async with edge(edge_settings(sandbox, tmp_path, state_location), metrics) as e:
        await _ship_all(e, sandbox)
        admin_post(sandbox, "/_sandbox/faults", {"rate": 1.0, "statuses": [500]})
        await e.handler.execute_intents()
    assert _writes(metrics, "capture", "failed") == 1
    assert _writes(metrics, "capture", "landed") == 0
