"""Merchant fulfil / cancel requests over loopback HTTP with the sandbox."""

from __future__ import annotations

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
from tests.integration.merchant_helpers import (
    ask,
    line_ids,
    line_statuses,
    log,
    recorded_order,
    transmit,
)

from catalog_sync.core.merchant_requests import RequestRefusedError
from catalog_sync.core.orders import open_quantity
from catalog_sync.sandbox.testing import RunningSandbox

pytestmark = pytest.mark.state_heavy


async def test_order_level_fulfil_of_a_digital_order(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Every digital line is fulfilled in full; the request and the order become Completed."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": 3}])
        ask(e, order_id, "fulfill")
        await transmit(e, settings)
        (line,) = line_ids(e, order_id)
        assert line_statuses(e, order_id) == [("r1", line, "Completed")]
        assert log(e, order_id)["request_status"] == "Completed"
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (3, 0)}


async def test_order_level_cancel_of_a_mixed_order(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """The physical line goes to the fulfiller, the digital one straight to /fulfillments."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(
            e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}, {"skuId": DIGITAL, "quantity": 1}]
        )
        physical, digital = line_ids(e, order_id)
        ask(e, order_id, "cancel")
        await transmit(e, settings)
        await e.settle(lambda: e.store.order(order_id).lines[0].cancelled == 2)  # type: ignore[union-attr]
        assert log(e, order_id)["request_status"] == "Completed"
    cancellations = posts(sandbox, "/fulfillment-cancellations")
    assert [c["body"]["items"][0]["quantity"] for c in cancellations] == [2]  # type: ignore[index]
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {physical: (0, 2), digital: (0, 1)}


async def test_digital_line_split_fulfilled_cancelled_and_rest_later(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Of 5 units: 2 fulfilled, 1 cancelled, then the 2 left fulfilled by an order request."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": 5}])
        (line,) = line_ids(e, order_id)
        ask(e, order_id, "fulfill", line_id=line, quantity=2, rid="r1")
        ask(e, order_id, "cancel", line_id=line, quantity=1, rid="r2")
        await transmit(e, settings)
        ask(e, order_id, "fulfill", rid="r3")
        await transmit(e, settings)
        order = e.store.order(order_id)
        assert order is not None
        assert (order.lines[0].fulfilled, order.lines[0].cancelled) == (4, 1)
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (4, 1)}


async def test_rejected_cancellation_shows_and_units_are_open_again(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """The fulfiller rejects: the log says so and the line's units are open again."""
    make_catalog(sandbox)
    admin_post(sandbox, "/_sandbox/fulfiller", {"cancellations": "reject"})
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        ask(e, order_id, "cancel")
        await transmit(e, settings)

        def answered() -> bool:
            answer = log(e, order_id)["requests"][0]["lines"][0]["fulfiller"]
            return bool(answer != "awaiting the fulfiller")

        await e.settle(answered)
        shown = log(e, order_id)["requests"][0]["lines"][0]
        order = e.store.order(order_id)
        assert order is not None
        intents = [x.intent for x in e.store.ledger(order_id)]
        assert shown["fulfiller"] == "rejected by the fulfiller: 2 unit(s) open again"
        assert open_quantity(order.lines[0], intents) == 2
    assert dr_fulfillments(sandbox, order_id) == []


async def test_fulfilling_a_physical_line_is_refused(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A physical line is captured when it ships: the request is refused, nothing recorded."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 1}])
        (line,) = line_ids(e, order_id)
        with pytest.raises(RequestRefusedError, match="captured when Digital River ships it"):
            ask(e, order_id, "fulfill", line_id=line)
        assert e.store.requests_of(order_id) == []


async def test_over_quantity_is_refused_and_nothing_recorded(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Asking more than is open names the open count and records no request or intent."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": DIGITAL, "quantity": 2}])
        (line,) = line_ids(e, order_id)
        before = e.store.ledger(order_id)
        with pytest.raises(RequestRefusedError, match="2 open of 2"):
            ask(e, order_id, "cancel", line_id=line, quantity=3)
        assert (e.store.requests_of(order_id), e.store.ledger(order_id)) == ([], before)


async def test_request_on_an_order_partly_shipped_via_events(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """After 1 of 3 shipped and captured, a line cancel takes exactly the 2 left."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 3}])
        (line,) = line_ids(e, order_id)
        fo_id = e.store.order(order_id).fulfillment_order_id  # type: ignore[union-attr]
        ship = {"items": [{"itemId": line, "quantity": 1}]}
        admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", ship)
        await e.settle(lambda: e.store.order(order_id).lines[0].fulfilled == 1)  # type: ignore[union-attr]
        (recorded_line,) = ask(e, order_id, "cancel", line_id=line).lines
        assert recorded_line.quantity == 2
        await transmit(e, settings)
        await e.settle(lambda: e.store.order(order_id).lines[0].cancelled == 2)  # type: ignore[union-attr]
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (1, 2)}


async def test_events_and_requests_never_exceed_the_line(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Units shipped before the fulfiller sees a cancel are captured, never also cancelled."""
    make_catalog(sandbox)
    settings = edge_settings(sandbox, tmp_path, state_location)
    async with edge(settings) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        (line,) = line_ids(e, order_id)
        ask(e, order_id, "cancel", line_id=line)
        fo_id = e.store.order(order_id).fulfillment_order_id  # type: ignore[union-attr]
        admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/ship", {})
        await transmit(e, settings)
        await e.settle(lambda: e.store.order(order_id).lines[0].fulfilled == 2)  # type: ignore[union-attr]
        await e.settle(lambda: e.store.inbox_counts()["received"] == 0)
        with pytest.raises(RequestRefusedError, match="0 open of 2"):
            ask(e, order_id, "cancel", line_id=line, quantity=1, rid="r2")
    assert line_totals(dr_fulfillments(sandbox, order_id)) == {line: (2, 0)}
