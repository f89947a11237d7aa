"""The activity report of the orders demo's run: its captures and cancels, with their amounts.

The demo runs once against the sandbox (``events poll --loop`` in a child process handling its
events); each test then reads the report as an operator would, with ``report activity``, and
checks it against what the sandbox itself holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from tests.integration.browser_helpers import chromium, count_rows, dump_dom
from tests.integration.fulfillment_helpers import dr_fulfillments, events_poll_loop, make_catalog
from tests.integration.test_demo_orders import in_process_cli

from catalog_sync.cli import main
from catalog_sync.demo.orders import DemoOrders, run_order_demo
from catalog_sync.demo.testing import daemon_env
from catalog_sync.sandbox.testing import RunningSandbox

CENT = Decimal("0.01")


@dataclass(frozen=True)
class DemoRun:
    """The demo's orders, the environment its commands ran with, the sandbox it ran on."""

    orders: DemoOrders
    env: dict[str, str]
    sandbox: RunningSandbox
    folder: Path


@pytest.fixture(scope="module")
def demo(sandbox_server: RunningSandbox, tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The orders demo, run once, its events handled by ``events poll --loop``."""
    sandbox_server.reset()
    sandbox_server.clear_faults()
    folder = tmp_path_factory.mktemp("activity")
    env = daemon_env(
        base_url=sandbox_server.base_url,
        api_key=sandbox_server.api_key,
        workdir=folder,
        extra={"CATALOG_SYNC_POLL_INTERVAL": "0.2"},
    )
    make_catalog(sandbox_server)
    with events_poll_loop(env, folder / "poll.log"):
        orders = run_order_demo(
            sandbox_server.base_url, sandbox_server.api_key, in_process_cli(env), lambda _: None
        )
    return DemoRun(orders, env, sandbox_server, folder)


def _report(run: DemoRun, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(main, ["report", "activity", "--json", *args], env=run.env)
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _expected_money(run: DemoRun, order_ids: Sequence[str]) -> dict[str, tuple[int, Decimal]]:
    """(units, amount) captured and cancelled at the sandbox, priced per fulfillment line."""
    totals = {"captured": (0, Decimal(0)), "cancelled": (0, Decimal(0))}
    with run.sandbox.api() as api:
        for order_id in order_ids:
            order = api.get(f"/orders/{order_id}").raise_for_status().json()
            price = {
                i["id"]: (
                    Decimal(str(i["amount"])) + Decimal(str(i["tax"]["amount"])),
                    i["quantity"],
                )
                for i in order["items"]
            }
            for fulfillment in dr_fulfillments(run.sandbox, order_id):
                for item in fulfillment["items"]:
                    amount, quantity = price[item["itemId"]]
                    for side, units in (
                        ("captured", item["quantity"]),
                        ("cancelled", item["cancelQuantity"]),
                    ):
                        if units:
                            n, total = totals[side]
                            value = (amount * units / quantity).quantize(CENT)
                            totals[side] = (n + units, total + value)
    return totals


def test_the_report_shows_the_demo_s_captures_and_cancels_with_amounts(demo: DemoRun) -> None:
    """Units and amounts per currency are what the sandbox captured and cancelled."""
    report = _report(demo)
    (money,) = report["money"]
    orders = [demo.orders.shipped_in_two_parts, demo.orders.partly_cancelled]
    expected = _expected_money(demo, orders)
    assert (
        (money["captured_units"], Decimal(money["captured_amount"])),
        (money["cancelled_units"], Decimal(money["cancelled_amount"])),
        money["unpriced_units"],
        report["summary"]["captures"],
        report["summary"]["charge_cancels"],
    ) == (expected["captured"], expected["cancelled"], 0, 2, 1)


def test_the_report_validates_against_its_published_schema(demo: DemoRun) -> None:
    """``--json`` is valid under the schema ``--schema`` prints."""
    schema = CliRunner().invoke(main, ["report", "activity", "--schema"])
    jsonschema.validate(_report(demo), json.loads(schema.stdout))


def test_a_period_before_the_demo_holds_nothing(demo: DemoRun) -> None:
    """The period is honoured: a day long past shows no write and no money."""
    report = _report(demo, "--since", "2020-01-01", "--until", "2020-01-02")
    assert (report["writes"], report["money"], report["summary"]["events_handled"]) == ([], [], 0)


def test_the_page_shows_every_write_and_the_money_in_chromium(demo: DemoRun) -> None:
    """``--out`` writes the JSON and the page; the browser renders a row per write."""
    out = demo.folder / "out" / "activity.json"
    CliRunner().invoke(main, ["report", "activity", "--out", str(out)], env=demo.env)
    written = json.loads(out.read_text())
    dom = dump_dom(chromium(), out.with_suffix(".html"), demo.folder / "profile")
    currency = written["money"][0]["currency"]
    assert (count_rows(dom).get("writes"), f">{currency}<" in dom) == (len(written["writes"]), True)
