"""The cutover against the sandbox: a first start acts only on what follows its start point."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.integration.fulfillment_helpers import (
    PHYSICAL,
    Edge,
    admin_post,
    edge,
    edge_settings,
    make_catalog,
    posts,
)

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.settings import Settings

#: The sandbox takes any ``sk_`` key that is not ``sk_test_`` as a live-mode key.
LIVE_KEY = "sk_live_cutover0123456789"


def _fulfillment_orders_by_order(sandbox: RunningSandbox) -> Counter[str]:
    """How many ``POST /fulfillment-orders`` each order got."""
    return Counter(str(r["body"]["upstreamId"]) for r in posts(sandbox, "/fulfillment-orders"))  # type: ignore[index]


def _has_fo(e: Edge, order_id: str) -> bool:
    known = e.store.order(order_id)
    return bool(known and known.fulfillment_order_id)


async def _run_until(settings: Settings, order_ids: list[str]) -> dict[str, str]:
    """Poll and handle until every order has its fulfillment order; return inbox statuses."""
    async with edge(settings) as e:
        await e.settle(lambda: all(_has_fo(e, oid) for oid in order_ids))
        await e.poller.poll_once()
        await e.handler.drain()
        return {row.id: row.status for row in e.store.inbox_events(limit=1000)}


def test_a_live_first_start_without_events_start_refuses_and_changes_nothing(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``run`` with a live key, no state and no ``events_start``: exit 2 with the reason and
    ``events plan --since``; no state file, not one request to Digital River."""
    (tmp_path / "catalogs").mkdir()
    env = {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": LIVE_KEY,
        "CATALOG_SYNC_CATALOGS": str(tmp_path / "catalogs"),
        "CATALOG_SYNC_STATE": str(tmp_path / "state" / "catalog-sync.db"),
    }
    sandbox.clear_requests()
    result = CliRunner().invoke(main, ["run"], env=env, catch_exceptions=False)
    assert result.exit_code == 2
    assert "catalog-sync events plan --since" in result.output
    assert LIVE_KEY not in result.output
    assert not (tmp_path / "state").exists()
    assert sandbox.requests() == []


def test_now_acts_on_no_order_placed_before_the_start(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``now``: an order placed before the first poll gets no fulfillment order and its later
    shipment no capture; an order placed after is handled."""
    make_catalog(sandbox)
    earlier = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    settings = edge_settings(sandbox, tmp_path, events_start="now")
    asyncio.run(_run_until(settings, []))
    later = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    admin_post(sandbox, "/_sandbox/events", _old_shipment(earlier))
    statuses = asyncio.run(_run_until(settings, [later["id"]]))
    assert _fulfillment_orders_by_order(sandbox) == Counter({later["id"]: 1})
    assert posts(sandbox, "/fulfillments") == []
    assert "before_start" in statuses.values()
    assert statuses["shipped-after-cutover"] == "ignored"


def test_retained_acts_on_every_earlier_order_once(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """``retained``: every order the API still has events for is handled, each exactly once,
    however often the edge polls again."""
    make_catalog(sandbox)
    orders = [sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}]) for _ in range(2)]
    settings = edge_settings(sandbox, tmp_path, events_start="retained")
    ids = [o["id"] for o in orders]
    asyncio.run(_run_until(settings, ids))
    asyncio.run(_run_until(settings, ids))
    assert _fulfillment_orders_by_order(sandbox) == Counter(dict.fromkeys(ids, 1))


def _old_shipment(order: dict[str, Any]) -> dict[str, Any]:
    """A shipment of the previous integration's fulfillment order, listed after the cutover."""
    line = order["items"][0]
    return {
        "id": "shipped-after-cutover",
        "type": "fulfillment_order.shipped",
        "liveMode": False,
        "data": {
            "object": {
                "id": "sh-previous-integration",
                "fulfillmentOrderId": "fo-previous-integration",
                "fulfillmentOrderUpstreamId": order["id"],
                "items": [
                    {
                        "id": "shi-1",
                        "fulfillmentOrderItemId": "foi-1",
                        "fulfillmentOrderItemUpstreamId": line["id"],
                        "quantity": 1,
                    }
                ],
            }
        },
    }
