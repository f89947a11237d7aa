"""Merchant requests meeting failures: 500s, a permanent 400, a lost answer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    Edge,
    dr_fulfillments,
    edge,
    edge_settings,
    line_totals,
    make_catalog,
)
from tests.integration.merchant_helpers import ask, line_statuses, log, recorded_order, transmit

from catalog_sync.requests.log import retry_order
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.clock import stamp, utc_clock
from catalog_sync.support.settings import Settings

pytestmark = pytest.mark.state_heavy


async def _transmit_until(e: Edge, settings: Settings, status: str, within: float = 20.0) -> None:
    """Run transmit passes until every request line of every order has ``status``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        await transmit(e, settings)
        orders = e.store.request_order_ids()
        if all(s == status for o in orders for _r, _l, s in line_statuses(e, o)):
            return
        assert loop.time() < deadline, f"requests did not reach {status} in time"
        await asyncio.sleep(0.01)  # lets the write's backoff pass; the loop checks the state


async def _digital_order(e: Edge, sandbox: RunningSandbox, quantity: int = 2) -> str:
    make_catalog(sandbox)
    return await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": quantity}])


async def test_a_500_then_success_goes_reprocess_then_completed(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A retryable failure is counted (Reprocess, attempts 1), then the retry completes it.

    The handler's first retry waits a second here: a pass that met the failure cannot reach
    the retry too, even on a loaded machine, so the pass makes exactly one attempt."""
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings, retry_base=1.0) as e:
        order_id = await _digital_order(e, sandbox)
        ask(e, order_id, "fulfill")
        sandbox.set_faults(rate=1.0, statuses=[500])
        await transmit(e, settings)
        shown = log(e, order_id)["requests"][0]["lines"][0]
        assert (shown["status"], shown["attempts"]) == ("Reprocess", 1)
        sandbox.clear_faults()
        await _transmit_until(e, settings, "Completed")
    (line,) = line_totals(dr_fulfillments(sandbox, order_id)).values()
    assert line == (2, 0)


async def test_a_permanent_400_fails_with_the_message_then_retry_completes(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A 400 is Failed with the API's message; ``orders retry`` re-claims and completes it."""
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await _digital_order(e, sandbox)
        ask(e, order_id, "cancel")
        sandbox.set_faults(rate=1.0, statuses=[400])
        await transmit(e, settings)
        shown = log(e, order_id)["requests"][0]["lines"][0]
        assert shown["status"] == "Failed"
        assert "400" in shown["message"]
        sandbox.clear_faults()
        assert retry_order(e.store, order_id, stamp(utc_clock())) == [
            f"request r1 line {shown['line_id']}"
        ]
        assert log(e, order_id)["requests"][0]["lines"][0]["status"] == "Reprocess"
        await _transmit_until(e, settings, "Completed")
    (line,) = line_totals(dr_fulfillments(sandbox, order_id)).values()
    assert line == (0, 2)


async def test_retries_exhausted_fail_then_retry_completes(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """After handler_max_attempts 500s the line is Failed; a retry makes it due again."""
    settings = edge_settings(sandbox, tmp_path, state_location, handler_max_attempts=2)
    async with edge(settings) as e:
        order_id = await _digital_order(e, sandbox)
        ask(e, order_id, "fulfill")
        sandbox.set_faults(rate=1.0, statuses=[503])
        await _transmit_until(e, settings, "Failed")
        assert log(e, order_id)["requests"][0]["lines"][0]["attempts"] == 2
        sandbox.clear_faults()
        retry_order(e.store, order_id, stamp(utc_clock()))
        await _transmit_until(e, settings, "Completed")
    (line,) = line_totals(dr_fulfillments(sandbox, order_id)).values()
    assert line == (2, 0)


async def test_a_lost_answer_is_read_back_never_sent_twice(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """The write lands but its answer is lost: the next pass reads it back, DR holds it once."""
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await _digital_order(e, sandbox, quantity=3)
        ask(e, order_id, "fulfill")
        sandbox.set_faults(after_commit=1.0)
        await transmit(e, settings)
        sandbox.clear_faults()
        await _transmit_until(e, settings, "Completed")
        order = e.store.order(order_id)
        assert order is not None
        assert order.lines[0].fulfilled == 3
    found = dr_fulfillments(sandbox, order_id)
    assert len(found) == 1
    (line,) = line_totals(found).values()
    assert line == (3, 0)
