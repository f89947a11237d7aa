"""A decision taken on a ledger that moved meanwhile is not committed; it is taken again."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import PHYSICAL, edge, edge_settings, make_catalog
from tests.integration.merchant_helpers import ask, recorded_order

from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import EventOutcome, InboxEvent, LedgerWrites
from catalog_sync.support.clock import now_stamp

pytestmark = pytest.mark.state_heavy


async def test_request_recorded_while_deciding_moves_the_ledger(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Recording a merchant request changes the order's ledger mark."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        before = e.store.ledger_marks([order_id])
        ask(e, order_id, "cancel", quantity=None)
        assert e.store.ledger_marks([order_id]) != before


async def test_stale_decision_is_dropped_at_commit(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Writes decided before a concurrent request are not committed for that order."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        order = e.store.order(order_id)
        assert order is not None
        read_before = e.store.ledger_marks([order_id])
        ask(e, order_id, "cancel", quantity=None)
        writes = LedgerWrites(
            orders={order_id: order}, history=[(order_id, None, "decided on an old read")]
        )
        stale = e.store.commit_ledger(writes, now_stamp(), marks=read_before)
        summaries = [entry.summary for entry in e.store.history(order_id)]
        assert (stale, "decided on an old read" in summaries) == (frozenset({order_id}), False)


async def test_stale_decision_leaves_its_event_due(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """The event of a decision dropped as stale stays due: it is decided again next time."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        now = now_stamp()
        late = InboxEvent("evt-late", "order.complete", now, {"id": "evt-late"})
        e.store.store_events([late], now)
        read_before = e.store.ledger_marks([order_id])
        ask(e, order_id, "cancel", quantity=None)
        writes = LedgerWrites(events=[EventOutcome(late.id, "handled", order_id=order_id)])
        e.store.commit_ledger(writes, now_stamp(), marks=read_before)
        assert late.id in [row.id for row in e.store.due_events(now_stamp(), 100)]


async def test_current_decision_is_committed(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Writes decided on the current ledger are committed as usual."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        order = e.store.order(order_id)
        assert order is not None
        writes = LedgerWrites(
            orders={order_id: order}, history=[(order_id, None, "decided on the current read")]
        )
        marks = e.store.ledger_marks([order_id])
        stale = e.store.commit_ledger(writes, now_stamp(), marks=marks)
        summaries = [entry.summary for entry in e.store.history(order_id)]
        assert (stale, "decided on the current read" in summaries) == (frozenset(), True)
