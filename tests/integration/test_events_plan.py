"""``events plan`` against the sandbox: what it lists is what the daemon then does, nothing more."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner, Result
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    PHYSICAL,
    admin_post,
    edge,
    edge_settings,
    make_catalog,
    posts,
)

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.settings import Settings


@dataclass(frozen=True)
class Shipped:
    """An order whose fulfillment order exists; 3 of 4 physical units shipped, not yet polled."""

    settings: Settings
    env: dict[str, str]
    order_id: str
    physical_line: str
    started: str


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in-process."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def env_of(sandbox: RunningSandbox, settings: Settings) -> dict[str, str]:
    """The command line's environment for the sandbox and the state of ``settings``."""
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_STATE": str(settings.state),
    }


async def _poll_only(settings: Settings) -> None:
    """Store new events in the inbox without handling them."""
    async with edge(settings) as e:
        await e.poller.poll_once()


async def _handle(settings: Settings, done: Any) -> None:
    async with edge(settings) as e:
        await e.settle(lambda: done(e))


@pytest.fixture
def shipped(sandbox: RunningSandbox, tmp_path: Path) -> Shipped:
    """:func:`ship` with the state in an SQLite file under ``tmp_path``."""
    return ship(sandbox, tmp_path, None)


@pytest.fixture
def shipped_anywhere(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> Shipped:
    """:func:`ship` with the state on the test's backend (SQLite or PostgreSQL)."""
    return ship(sandbox, tmp_path, state_location)


def ship(sandbox: RunningSandbox, tmp_path: Path, state: StateLocation | None) -> Shipped:
    """Order 4 physical + 1 digital, handled up to its fulfillment order; ship 3, poll only."""
    make_catalog(sandbox)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
    settings = edge_settings(sandbox, tmp_path, state)
    order = sandbox.create_order(
        items=[{"skuId": PHYSICAL, "quantity": 4}, {"skuId": DIGITAL, "quantity": 1}]
    )
    order_id, physical = order["id"], order["items"][0]["id"]

    def fo_known(e: Any) -> bool:
        known = e.store.order(order_id)
        return bool(known and known.lines[0].fo_item_id)

    asyncio.run(_handle(settings, fo_known))
    with_fo = asyncio.run(_order(settings, order_id))
    ship = f"/_sandbox/fulfillment-orders/{with_fo}/ship"
    admin_post(sandbox, ship, {"items": [{"itemId": physical, "quantity": 1}]})
    admin_post(sandbox, ship, {"items": [{"itemId": physical, "quantity": 2}]})
    asyncio.run(_poll_only(settings))
    return Shipped(settings, env_of(sandbox, settings), order_id, physical, started)


async def _order(settings: Settings, order_id: str) -> str:
    async with edge(settings) as e:
        known = e.store.order(order_id)
        assert known is not None
        assert known.fulfillment_order_id is not None
        return known.fulfillment_order_id


def _plan(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any]]:
    result = invoke(env, "events", "plan", "--json", *args)
    return result.exit_code, json.loads(result.output)


@pytest.mark.state_heavy
def test_plan_lists_exactly_the_captures_the_daemon_then_makes(
    shipped_anywhere: Shipped, sandbox: RunningSandbox
) -> None:
    """Each planned capture (order, line, units) is one the handler then sends, and no other;
    on PostgreSQL too (the plan decides on a throwaway SQLite copy of its tables)."""
    shipped = shipped_anywhere
    code, planned = _plan(shipped.env)
    assert code == 2
    asyncio.run(
        _handle(
            shipped.settings,
            lambda e: e.store.count_pending_intents() == 0 and e.store.captures_done() == 2,
        )
    )
    bodies = [cast("dict[str, Any]", r["body"]) for r in posts(sandbox, "/fulfillments")]
    sent = [
        (body["orderId"], item["itemId"], item["quantity"])
        for body in bodies
        for item in body["items"]
        if item.get("quantity")
    ]
    listed = [
        (c["order_id"], line["line_id"], line["units"])
        for c in planned["captures"]
        for line in c["lines"]
    ]
    assert sorted(listed) == sorted(sent)
    assert sorted(listed) == [
        (shipped.order_id, shipped.physical_line, 1),
        (shipped.order_id, shipped.physical_line, 2),
    ]


def test_planned_amounts_are_what_the_charge_then_captured(
    shipped: Shipped, sandbox: RunningSandbox
) -> None:
    """The plan's EUR capture total equals the order's capturedAmount after the daemon ran."""
    _, planned = _plan(shipped.env)
    asyncio.run(_handle(shipped.settings, lambda e: e.store.captures_done() == 2))
    with sandbox.api() as api:
        order = api.get(f"/orders/{shipped.order_id}").raise_for_status().json()
    (total,) = planned["totals"]
    assert total["currency"] == order["currency"]
    assert Decimal(total["captured_amount"]) == Decimal(str(order["capturedAmount"]))


def test_plan_sends_only_gets_and_leaves_the_state_file_unchanged(
    shipped: Shipped, sandbox: RunningSandbox
) -> None:
    """Planning reads: the sandbox sees only GETs and the state database keeps every byte."""
    state = Path(shipped.env["CATALOG_SYNC_STATE"])
    before = state.read_bytes()
    sandbox.clear_requests()
    assert invoke(shipped.env, "events", "plan").exit_code == 2
    assert {r["method"] for r in sandbox.requests()} == {"GET"}
    assert state.read_bytes() == before


def test_plan_since_reads_the_api_without_a_state_database(
    shipped: Shipped, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """``--since`` with no state file: the whole history planned from GETs, no file created."""
    fresh = {**shipped.env, "CATALOG_SYNC_STATE": str(tmp_path / "none" / "state.db")}
    sandbox.clear_requests()
    code, planned = _plan(fresh, "--since", shipped.started)
    assert code == 2
    assert [len(planned["fulfillment_orders"]), len(planned["captures"])] == [1, 2]
    assert {r["method"] for r in sandbox.requests()} == {"GET"}
    assert not (tmp_path / "none").exists()


def test_plan_after_everything_is_handled_exits_0(shipped: Shipped) -> None:
    """Nothing due in the inbox and nothing recorded unsent: exit 0, nothing listed."""
    asyncio.run(
        _handle(
            shipped.settings,
            lambda e: (
                e.store.count_pending_intents() == 0
                and e.store.captures_done() == 2
                and e.store.inbox_counts()["received"] == 0
            ),
        )
    )
    result = invoke(shipped.env, "events", "plan")
    assert result.exit_code == 0
    assert "captures: 0" in result.output


def test_plan_text_names_units_amounts_and_totals(shipped: Shipped) -> None:
    """The text plan: one line per capture with units and amount, then totals per currency."""
    result = invoke(shipped.env, "events", "plan")
    assert "captures: 2" in result.output
    assert f"order {shipped.order_id}: 2 unit(s)" in result.output
    assert "totals:" in result.output


def test_plan_schema_is_printed() -> None:
    """``events plan --schema`` prints the JSON Schema of ``--json``, without settings."""
    result = CliRunner().invoke(main, ["events", "plan", "--schema"])
    assert result.exit_code == 0
    assert "captures" in json.loads(result.output)["properties"]
