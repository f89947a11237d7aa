"""``orders audit`` against the sandbox: each finding built as it happens, repairs checked at DR.

Each scenario is made with the sandbox's admin API (an event vanishes, another tool captures,
an order is left stuck); the audit runs as an operator runs it, and what it repaired is checked
in the sandbox's own fulfillments and fulfillment orders, never in our state.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    PHYSICAL,
    admin_post,
    dr_fulfillments,
    edge,
    edge_settings,
    make_catalog,
    posts,
)

from catalog_sync.cli import main
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.fulfillment.orders_audit import OrdersAudit
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import LedgerWrites, open_state
from catalog_sync.support.clock import now_stamp
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import Settings


@dataclass(frozen=True)
class Placed:
    """An order of 2 physical units and 1 digital, handled up to its fulfillment order."""

    sandbox: RunningSandbox
    settings: Settings
    order_id: str
    line: str
    fo_id: str

    def env(self) -> dict[str, str]:
        return {
            "CATALOG_SYNC_API_BASE": self.sandbox.base_url,
            "CATALOG_SYNC_API_KEY": self.sandbox.api_key,
            "CATALOG_SYNC_RATE_LIMIT": "1000",
            "CATALOG_SYNC_STATE": str(self.settings.state),
            "CATALOG_SYNC_NOTIFY_JSONL": str(self.settings.notify.jsonl),
            "CATALOG_SYNC_ORDERS_AUDIT_GRACE": "0",
        }

    def audit(self, *args: str) -> tuple[int, dict[str, Any]]:
        """``orders audit --json ARGS``: the exit code and the document."""
        result = invoke(self.env(), "orders", "audit", "--json", *args)
        return result.exit_code, json.loads(result.stdout)

    def handle(self) -> None:
        """Poll and handle until nothing is due."""
        asyncio.run(_handle_all(self.settings))

    def ship_unseen(self, units: int) -> dict[str, Any]:
        """The fulfiller ships ``units`` of the line; the event vanishes before it is read."""
        shipment = admin_post(
            self.sandbox,
            f"/_sandbox/fulfillment-orders/{self.fo_id}/ship",
            {"items": [{"itemId": self.line, "quantity": units}]},
        )
        self.vanish("fulfillment_order.shipped", shipment["id"])
        self.handle()
        return shipment

    def vanish(self, kind: str, object_id: str) -> None:
        gone = admin_post(
            self.sandbox, "/_sandbox/events/vanish", {"type": kind, "objectId": object_id}
        )
        assert len(gone["vanished"]) == 1


def invoke(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


async def _handle_all(settings: Settings) -> None:
    async with edge(settings) as e:
        await e.poller.poll_once()
        await e.handler.drain()


async def _until_fo(settings: Settings, order_id: str) -> str:
    async with edge(settings) as e:

        def known() -> bool:
            order = e.store.order(order_id)
            return bool(order and order.fulfillment_order_id and order.lines[0].fo_item_id)

        await e.settle(known)
        order = e.store.order(order_id)
        assert order is not None
        assert order.fulfillment_order_id is not None
        return order.fulfillment_order_id


def place(sandbox: RunningSandbox, folder: Path, *, handled: bool = True) -> Placed:
    make_catalog(sandbox)
    settings = edge_settings(sandbox, folder)
    order = sandbox.create_order(
        items=[{"skuId": PHYSICAL, "quantity": 2}, {"skuId": DIGITAL, "quantity": 1}]
    )
    order_id, line = order["id"], order["items"][0]["id"]
    fo_id = asyncio.run(_until_fo(settings, order_id)) if handled else ""
    return Placed(sandbox, settings, order_id, line, fo_id)


@pytest.fixture
def placed(sandbox: RunningSandbox, tmp_path: Path) -> Placed:
    return place(sandbox, tmp_path)


def kinds(document: dict[str, Any]) -> list[tuple[str, bool]]:
    return [(f["kind"], f["repaired"]) for f in document["findings"]]


def test_a_shipment_whose_event_vanished_is_captured_once(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """The shipment is captured by the audit, exactly once at DR, and a second audit is clean."""
    shipment = placed.ship_unseen(2)
    first = placed.audit()
    captures = [f for f in dr_fulfillments(sandbox, placed.order_id) if f.get("shipmentId")]
    second = placed.audit()
    assert (first[0], kinds(first[1])) == (0, [("uncaptured_shipment", True)])
    assert [(f["shipmentId"], f["items"][0]["quantity"]) for f in captures] == [(shipment["id"], 2)]
    assert second == (0, {**second[1], "findings": [], "remaining": 0})


def test_a_dry_run_reports_and_sends_nothing(placed: Placed, sandbox: RunningSandbox) -> None:
    """--dry-run finds the uncaptured shipment, exits 2, and no capture reaches DR."""
    placed.ship_unseen(1)
    sandbox.clear_requests()
    code, document = placed.audit("--dry-run")
    assert (code, kinds(document), posts(sandbox, "/fulfillments")) == (
        2,
        [("uncaptured_shipment", False)],
        [],
    )


def test_a_fulfiller_cancel_whose_event_vanished_is_cancelled_once(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """The charge cancel is sent by the audit once, for the cancelled unit only."""
    admin_post(
        sandbox,
        f"/_sandbox/fulfillment-orders/{placed.fo_id}/cancel",
        {"items": [{"itemId": placed.line, "quantity": 1}]},
    )
    placed.vanish("fulfillment_order.cancelled", placed.fo_id)
    placed.handle()
    first = placed.audit()
    cancels = [
        item["cancelQuantity"]
        for f in dr_fulfillments(sandbox, placed.order_id)
        for item in f["items"]
        if item["cancelQuantity"]
    ]
    second = placed.audit()
    assert (first[0], kinds(first[1]), cancels) == (0, [("uncancelled_charge", True)], [1])
    assert second[1]["findings"] == []


def test_an_order_whose_acceptance_vanished_gets_one_fulfillment_order(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """No order.accepted ever read: the audit creates the fulfillment order, once."""
    unseen = place(sandbox, tmp_path, handled=False)
    unseen.vanish("order.accepted", unseen.order_id)
    unseen.handle()
    first = unseen.audit()
    with sandbox.api() as api:
        fos = api.get("/fulfillment-orders", params={"upstreamIds": unseen.order_id}).json()
    second = unseen.audit()
    assert (first[0], kinds(first[1]), len(fos["data"])) == (
        0,
        [("missing_fulfillment_order", True)],
        1,
    )
    assert second[1]["findings"] == []


def test_a_capture_made_outside_is_reported_and_notified(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """Captured with no shipment by another tool: over-captured and a ledger mismatch, for a
    person (exit 2, a notification), and nothing sent to DR."""
    admin_post(
        sandbox,
        f"/_sandbox/orders/{placed.order_id}/fulfillments",
        {"items": [{"itemId": placed.line, "quantity": 1}]},
    )
    placed.handle()
    sandbox.clear_requests()
    code, document = placed.audit()
    notices = Path(str(placed.settings.notify.jsonl)).read_text().splitlines()
    assert (code, kinds(document), posts(sandbox, "/fulfillments")) == (
        2,
        [("over_captured", False), ("ledger_mismatch", False)],
        [],
    )
    assert sum('"orders_audit"' in line for line in notices) == 2


def test_captured_and_cancelled_beyond_the_quantity_is_found(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """Another tool captured 2 and cancelled 1 of a line of 2: over-settled."""
    admin_post(
        sandbox,
        f"/_sandbox/orders/{placed.order_id}/fulfillments",
        {"items": [{"itemId": placed.line, "quantity": 2, "cancelQuantity": 1}]},
    )
    placed.handle()
    code, document = placed.audit()
    over = [f for f in document["findings"] if f["kind"] == "over_settled"]
    assert (code, [(f["line_id"], f["units"]) for f in over]) == (2, [(placed.line, 1)])


def test_an_order_left_short_of_complete_is_found(sandbox: RunningSandbox, tmp_path: Path) -> None:
    """Every line captured, DR's order left ``fulfilled``: reported with its amount."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path)
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    fo_id = asyncio.run(_until_fo(settings, order["id"]))
    done = Placed(sandbox, settings, order["id"], order["items"][0]["id"], fo_id)
    admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
    done.handle()
    admin_post(sandbox, f"/_sandbox/orders/{order['id']}/state", {"state": "fulfilled"})
    code, document = done.audit()
    stuck = [f for f in document["findings"] if f["kind"] == "order_not_complete"]
    assert (code, [(f["units"], f["currency"]) for f in stuck]) == (2, [(1, order["currency"])])


def test_status_shows_the_last_orders_audit(placed: Placed) -> None:
    """``status --json`` names the audit's run and what it found."""
    _, document = placed.audit()
    status = json.loads(invoke(placed.env(), "status", "--json").stdout)
    assert (status["orders_audit"]["last_run"], status["orders_audit"]["findings"]) == (
        document["run_id"],
        0,
    )


def test_the_findings_are_kept_in_the_state(placed: Placed, sandbox: RunningSandbox) -> None:
    """What an audit found is read back from the state for its period (the activity report)."""
    admin_post(
        sandbox,
        f"/_sandbox/orders/{placed.order_id}/fulfillments",
        {"items": [{"itemId": placed.line, "quantity": 1}]},
    )
    placed.handle()
    _, document = placed.audit()

    async def stored() -> list[str]:
        async with edge(placed.settings) as e:
            found = e.store.audit_findings("2000-01-01T00:00:00Z", "2999-01-01T00:00:00Z")
            return [f.kind for f in found if f.run_id == document["run_id"]]

    assert asyncio.run(stored()) == ["over_captured", "ledger_mismatch"]


def test_the_findings_gauge_counts_what_is_left_by_kind(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """After an audit, the gauge shows each kind left for a person, and 0 for the others."""
    admin_post(
        sandbox,
        f"/_sandbox/orders/{placed.order_id}/fulfillments",
        {"items": [{"itemId": placed.line, "quantity": 1}]},
    )
    placed.handle()

    async def audited() -> Metrics:
        metrics = Metrics()
        settings = replace(placed.settings.orders_audit, grace=0.0)
        async with (
            edge(placed.settings) as e,
            DigitalRiverClient.from_settings(placed.settings.api) as client,
        ):
            auditor = OrdersAudit(settings, client, e.store, e.handler, Notifier(), metrics=metrics)
            await auditor.audit()
        return metrics

    text = asyncio.run(audited()).render().decode()
    gauge = {
        line.split('"')[1]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("catalog_sync_orders_audit_findings{")
    }
    assert (gauge["over_captured"], gauge["ledger_mismatch"], gauge["uncaptured_shipment"]) == (
        1.0,
        1.0,
        0.0,
    )


def test_an_audit_of_one_order_leaves_the_others_alone(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """--order audits that order only: another order's missing fulfillment order is not found."""
    other = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    placed.vanish("order.accepted", other["id"])
    code, document = placed.audit("--order", placed.order_id)
    assert (code, document["orders"], document["findings"]) == (0, 1, [])


def test_an_audit_since_a_later_time_reads_no_order(placed: Placed) -> None:
    """--since after every order was placed: nothing to audit."""
    code, document = placed.audit("--since", "2999-01-01")
    assert (code, document["orders"]) == (0, 0)


def test_a_ledger_claiming_a_capture_dr_never_made_is_reported(
    placed: Placed, sandbox: RunningSandbox
) -> None:
    """Our ledger says a unit was captured that Digital River does not hold (a state restored
    from another deployment, say): a ledger mismatch from our side, for a person, and nothing
    sent to DR to "repair" it."""
    with open_state(placed.settings) as store:
        order = store.order(placed.order_id)
        assert order is not None
        first, *rest = order.lines
        claimed = replace(order, lines=(replace(first, fulfilled=1), *rest))
        store.commit_ledger(LedgerWrites(orders={order.order_id: claimed}), now_stamp())
    sandbox.clear_requests()
    code, document = placed.audit()
    mismatches = [
        (f["line_id"], f["units"], f["repaired"])
        for f in document["findings"]
        if f["kind"] == "ledger_mismatch"
    ]
    assert (code, mismatches, posts(sandbox, "/fulfillments")) == (
        2,
        [(placed.line, 1, False)],
        [],
    )
