"""A decision taken on a ledger that moved meanwhile is not committed; it is taken again."""

from __future__ import annotations

from pathlib import Path

from tests.integration.fulfillment_helpers import PHYSICAL, edge, edge_settings, make_catalog
from tests.integration.merchant_helpers import ask, recorded_order

from catalog_sync.events import utc_clock
from catalog_sync.fulfillment_service import _Writes
from catalog_sync.sandbox.testing import RunningSandbox


async def test_request_recorded_while_deciding_moves_the_ledger(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Recording a merchant request changes the order's ledger mark."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        before = e.store.ledger_marks([order_id])
        ask(e, order_id, "cancel", quantity=None)
        assert e.store.ledger_marks([order_id]) != before


async def test_stale_decision_is_dropped_at_commit(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """Writes decided before a concurrent request are not committed for that order."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        order = e.store.order(order_id)
        assert order is not None
        read_before = e.store.ledger_marks([order_id])
        ask(e, order_id, "cancel", quantity=None)
        writes = _Writes()
        writes.orders[order_id] = order
        writes.history.append((order_id, None, "decided on an old read"))
        e.handler._commit(writes, utc_clock(), marks=read_before, event_orders={})
        summaries = [entry.summary for entry in e.store.history(order_id)]
        assert "decided on an old read" not in summaries


async def test_current_decision_is_committed(tmp_path: Path, sandbox: RunningSandbox) -> None:
    """Writes decided on the current ledger are committed as usual."""
    make_catalog(sandbox)
    async with edge(edge_settings(sandbox, tmp_path)) as e:
        order_id = await recorded_order(e, sandbox, [{"skuId": PHYSICAL, "quantity": 2}])
        order = e.store.order(order_id)
        assert order is not None
        writes = _Writes()
        writes.orders[order_id] = order
        writes.history.append((order_id, None, "decided on the current read"))
        marks = e.store.ledger_marks([order_id])
        e.handler._commit(writes, utc_clock(), marks=marks, event_orders={})
        summaries = [entry.summary for entry in e.store.history(order_id)]
        assert "decided on the current read" in summaries
