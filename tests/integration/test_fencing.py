"""Fencing, in process against the sandbox: a leader whose term is over sends nothing.

The handler of a state fenced with an ended term cannot claim a write (the claim raises), so
nothing reaches Digital River; and the client's write guard refuses a write before any byte is
sent. Both checked against the sandbox's request log, not our state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.integration.fulfillment_helpers import PHYSICAL, edge, edge_settings, make_catalog

from catalog_sync.daemon.leadership import NotLeaderError
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import FencedError, open_state


async def test_a_fenced_claim_raises_and_nothing_is_sent(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Intents decided in term 1; the term ends (another instance leads): executing them
    raises FencedError and the sandbox receives no request at all."""
    make_catalog(sandbox)
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    settings = edge_settings(sandbox, tmp_path)
    async with edge(settings) as e:
        term = e.store.take_lease("a", 30)
        e.store.fence_with(term.fence)
        await e.poller.poll_once()
        await e.handler.handle_events()
        assert e.store.count_pending_intents() == 1
        e.store.release_lease("a", term.epoch)
        with open_state(settings) as other:
            other.take_lease("b", 30)
        sandbox.clear_requests()
        with pytest.raises(FencedError):
            await e.handler.execute_intents()
        unsent = [entry.sent_at for entry in e.store.ledger(order["id"])]
    assert (sandbox.requests(), unsent) == ([], [None])


async def test_the_write_guard_refuses_before_anything_is_sent(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A guard that says "not leader" stops a write in the client: the sandbox sees nothing."""
    settings = edge_settings(sandbox, tmp_path)

    def not_leader() -> None:
        raise NotLeaderError("instance a holds no live lease")

    sandbox.clear_requests()
    async with DigitalRiverClient.from_settings(settings.api) as client:
        client.write_guard = not_leader
        with pytest.raises(NotLeaderError):
            await client.delete_sku("s-1")
    assert sandbox.requests() == []


async def test_a_lease_run_out_between_the_checks_is_caught_at_the_connection(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The transport checks again as the write goes on its connection: a lease that ran out
    after the client's check (a freeze while waiting for a slot) still sends nothing, and the
    connection serves the next read."""
    settings = edge_settings(sandbox, tmp_path)
    checks: list[str] = []

    def runs_out_after_one_check() -> None:
        checks.append("checked")
        if len(checks) > 1:
            raise NotLeaderError("the lease ran out")

    sandbox.clear_requests()
    async with DigitalRiverClient.from_settings(settings.api) as client:
        client.write_guard = runs_out_after_one_check
        with pytest.raises(NotLeaderError):
            await client.delete_sku("s-1")
        writes = [r for r in sandbox.requests() if r["method"] != "GET"]
        skus = [s async for s in client.iter_skus()]
    assert (len(checks), writes, skus) == (2, [], [])
