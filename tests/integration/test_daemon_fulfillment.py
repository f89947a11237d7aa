"""``catalog-sync run`` as systemd starts it handles orders, not only catalogs."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import PHYSICAL, make_catalog

from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import open_state

CATALOGS = Path(__file__).parents[2] / "catalogs"


def _fulfillments(sandbox: RunningSandbox, order_id: str) -> list[dict[str, Any]]:
    with sandbox.api() as api:
        data: list[dict[str, Any]] = api.get("/fulfillments", params={"orderId": order_id}).json()[
            "data"
        ]
    return data


def _pairs_tracked(state: StateLocation) -> int:
    if isinstance(state, Path) and not state.exists():
        return 0
    with open_state(state) as store:
        return store.count_pairs()


@pytest.mark.state_heavy
def test_daemon_creates_fulfillment_order_and_captures_shipment(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """An accepted order gets its fulfillment order, and a shipment is captured, by the daemon."""
    shutil.copytree(CATALOGS, tmp_path / "catalogs")
    env = daemon_env(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        workdir=tmp_path,
        extra={"CATALOG_SYNC_POLL_INTERVAL": "0.2", "CATALOG_SYNC_STATE": str(state_location)},
    )
    state = state_location
    with DaemonProcess(env, tmp_path / "daemon.log") as daemon:
        wait_until(
            lambda: _pairs_tracked(state) == 47,
            timeout=30,
            what="the example catalog to be applied",
        )
        order = sandbox.create_order([{"skuId": "TC-TENT-2P-GRN", "quantity": 2}])
        with sandbox.api() as api:

            def fulfillment_order() -> dict[str, Any] | None:
                found = api.get("/fulfillment-orders", params={"upstreamIds": order["id"]})
                data: list[dict[str, Any]] = found.json()["data"]
                return data[0] if data else None

            created = wait_until(fulfillment_order, timeout=20, what="the fulfillment order")
        sandbox.admin.post(
            f"/_sandbox/fulfillment-orders/{created['id']}/ship",
            json={"trackingNumber": "1Z999", "trackingCompany": "UPS"},
        )
        [capture] = wait_until(
            lambda: _fulfillments(sandbox, order["id"]) or None,
            timeout=20,
            what="the capture",
        )
        assert daemon.stop() == 0
    assert capture["trackingNumber"] == "1Z999"
    assert [(i["itemId"], i["quantity"]) for i in capture["items"]] == [
        (order["items"][0]["id"], 2)
    ]


def test_the_daemon_audits_orders_and_repairs_a_missed_acceptance(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """An order whose order.accepted vanished before the daemon started gets its fulfillment
    order from the daemon's periodic orders audit, once."""
    (tmp_path / "catalogs").mkdir()
    make_catalog(sandbox)
    order = sandbox.create_order([{"skuId": PHYSICAL, "quantity": 1}])
    sandbox.admin.post(
        "/_sandbox/events/vanish", json={"type": "order.accepted", "objectId": order["id"]}
    ).raise_for_status()
    env = daemon_env(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        workdir=tmp_path,
        extra={
            "CATALOG_SYNC_POLL_INTERVAL": "0.2",
            "CATALOG_SYNC_ORDERS_AUDIT_INTERVAL": "0.5",
            "CATALOG_SYNC_ORDERS_AUDIT_GRACE": "0",
        },
    )
    with DaemonProcess(env, tmp_path / "daemon.log") as daemon, sandbox.api() as api:

        def fulfillment_orders() -> list[dict[str, Any]] | None:
            found = api.get("/fulfillment-orders", params={"upstreamIds": order["id"]})
            data: list[dict[str, Any]] = found.json()["data"]
            return data or None

        wait_until(fulfillment_orders, timeout=30, what="the audit's fulfillment order")
        wait_until(
            lambda: _audits_after_repair(tmp_path / "state" / "catalog-sync.db"),
            timeout=30,
            what="an orders audit after the repair",
        )
        assert daemon.stop() == 0
        assert len(fulfillment_orders() or []) == 1


def _audits_after_repair(state: Path) -> bool:
    """Whether an orders audit ran since the repair and found nothing."""
    with open_state(state) as store:
        last = store.last_run(["orders-audit"])
        return last is not None and last.counts.get("missing_fulfillment_order", 0) == 0
