"""``orders fulfill | cancel | retry | transmit | report | show``: output and exit codes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    PHYSICAL,
    dr_fulfillments,
    edge,
    edge_settings,
    line_totals,
    make_catalog,
)
from tests.integration.merchant_helpers import line_ids, recorded_order

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in-process."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox) -> dict[str, str]:
    """Settings pointing at the sandbox, folders under ``tmp_path``, the test's state backend."""
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_STATE": str(state_location),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
        "CATALOG_SYNC_REQUESTS": str(tmp_path / "requests"),
        "CATALOG_SYNC_RETRY_INITIAL_BACKOFF": "0.01",
        "CATALOG_SYNC_RETRY_MAX_BACKOFF": "0.05",
    }


@pytest.fixture
def order(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> tuple[str, str, str]:
    """A recorded order with a physical line and a digital line of 3: (order, phys, dig)."""
    make_catalog(sandbox)

    async def record() -> tuple[str, str, str]:
        async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
            items = [{"skuId": PHYSICAL, "quantity": 1}, {"skuId": DIGITAL, "quantity": 3}]
            order_id = await recorded_order(e, sandbox, items)
            physical, digital = line_ids(e, order_id)
            return order_id, physical, digital

    return asyncio.run(record())


def test_fulfil_records_then_transmit_sends(
    env: dict[str, str], order: tuple[str, str, str], sandbox: RunningSandbox
) -> None:
    """``fulfill --item --quantity`` exits 0 and records; ``transmit`` sends it."""
    order_id, _physical, digital = order
    recorded = invoke(env, "orders", "fulfill", order_id, "--item", digital, "--quantity", "2")
    assert recorded.exit_code == 0
    assert "fulfill 2 of line" in recorded.output
    sent = invoke(env, "orders", "transmit")
    assert (sent.exit_code, sent.output.splitlines()[-1]) == (
        0,
        "1 write(s) sent; 0 request(s) not completed",
    )
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {digital: (2, 0)}


def test_over_quantity_exits_1_with_the_reason(
    env: dict[str, str], order: tuple[str, str, str]
) -> None:
    """More than is open: exit 1, a clear message on stderr."""
    order_id, _physical, digital = order
    result = invoke(env, "orders", "cancel", order_id, "--item", digital, "--quantity", "4")
    assert result.exit_code == 1
    assert "cancel refused: line" in result.output
    assert "3 open of 3" in result.output


def test_fulfilling_a_physical_line_exits_1(
    env: dict[str, str], order: tuple[str, str, str]
) -> None:
    """A physical line cannot be fulfilled by hand: exit 1."""
    order_id, physical, _digital = order
    result = invoke(env, "orders", "fulfill", order_id, "--item", physical)
    assert result.exit_code == 1
    assert "captured when Digital River ships it" in result.output


def test_unknown_order_exits_1(env: dict[str, str], order: tuple[str, str, str]) -> None:
    """An order never recorded is refused, not guessed at."""
    del order
    result = invoke(env, "orders", "cancel", "999999")
    assert (result.exit_code, "not known here" in result.output) == (1, True)


def test_retry_without_failed_requests_exits_1(
    env: dict[str, str], order: tuple[str, str, str]
) -> None:
    """``retry`` on an order with nothing Failed says so and exits 1."""
    result = invoke(env, "orders", "retry", order[0])
    assert (result.exit_code, "no Failed request" in result.output) == (1, True)


def test_show_json_carries_the_request_log(
    env: dict[str, str], order: tuple[str, str, str]
) -> None:
    """``orders show --json`` has the request status and each request line's status."""
    order_id, _physical, digital = order
    invoke(env, "orders", "cancel", order_id, "--transmit")
    shown = json.loads(invoke(env, "orders", "show", order_id, "--json").output)
    (request,) = shown["requests"]
    assert request["source"] == "cli"
    assert {(x["line_id"], x["route"]) for x in request["lines"]} == {
        (order[1], "fulfiller_cancel"),
        (digital, "charge_cancel"),
    }
    assert request["status"] == "Completed"


def test_show_text_lists_requests(env: dict[str, str], order: tuple[str, str, str]) -> None:
    """The human ``orders show`` ends with the request log."""
    order_id, _physical, digital = order
    invoke(env, "orders", "fulfill", order_id, "--item", digital, "--tracking-number", "T-1")
    text = invoke(env, "orders", "show", order_id).output
    assert "requests: order status Open" in text
    assert f"line {digital} x3 digital_fulfill  Open" in text


def test_report_writes_the_html_page(env: dict[str, str], order: tuple[str, str, str]) -> None:
    """``orders report`` writes orders-<time>.html and orders-latest.html with the log."""
    order_id, _physical, digital = order
    invoke(env, "orders", "fulfill", order_id, "--item", digital, "--quantity", "1")
    result = invoke(env, "orders", "report")
    assert result.exit_code == 0
    page = Path(result.output.strip()).read_text()
    latest = Path(env["CATALOG_SYNC_REPORTS"]) / "orders-latest.html"
    assert (latest.read_text() == page, order_id in page, "digital_fulfill" in page) == (
        True,
        True,
        True,
    )


@pytest.mark.parametrize("word", ["all", "ALL"])
def test_quantity_all_takes_every_open_unit(
    env: dict[str, str], order: tuple[str, str, str], sandbox: RunningSandbox, word: str
) -> None:
    """``--quantity all`` (any case) says "every open unit" as a request file does."""
    order_id, _physical, digital = order
    result = invoke(
        env, "orders", "cancel", order_id, "--item", digital, "--quantity", word, "--transmit"
    )
    assert (result.exit_code, f"cancel 3 of line {digital}" in result.output) == (0, True)
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {digital: (0, 3)}


@pytest.mark.parametrize("value", ["0", "-1", "1.5", "", "1" * 10, "٣"])
def test_a_quantity_that_is_neither_a_number_nor_all_is_a_usage_error(
    env: dict[str, str], order: tuple[str, str, str], value: str
) -> None:
    """Exit 2 with the accepted forms named; nothing is recorded."""
    order_id, _physical, digital = order
    result = invoke(env, "orders", "cancel", order_id, "--item", digital, "--quantity", value)
    assert (result.exit_code, "neither a whole number from 1 to" in result.output) == (2, True)
