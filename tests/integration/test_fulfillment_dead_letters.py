"""Malformed and other-mode events from the sandbox: dead letters, never dropped or blocking."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    PHYSICAL,
    admin_post,
    edge,
    edge_settings,
    make_catalog,
)

from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import InboxEvent
from catalog_sync.support.settings import FulfillmentSettings

pytestmark = pytest.mark.state_heavy


def test_the_sandbox_appends_a_raw_event_as_sent(sandbox: RunningSandbox) -> None:
    """``POST /_sandbox/events`` keeps the body, filling in only ``id`` and ``createdTime``."""
    stored = admin_post(sandbox, "/_sandbox/events", {"type": "order.accepted", "data": 5})
    with sandbox.api() as api:
        listed = api.get("/events").json()["data"]
    assert listed == [stored]
    assert stored["data"] == 5
    assert stored["id"]
    assert stored["createdTime"]


async def test_a_malformed_event_is_a_dead_letter_and_later_events_are_handled(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """The bad event is kept with its payload and error; the order after it is handled."""
    make_catalog(sandbox)
    admin_post(sandbox, "/_sandbox/events", {"id": "bad", "type": "order.accepted", "data": 5})
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: e.store.order(order["id"]) is not None)
        bad = e.store.inbox_event("bad")
        notices = e.store.notifications()
    assert bad is not None
    assert (bad.status, bad.payload["data"]) == ("dead", 5)
    assert "data.object is missing or not an object" in (bad.last_error or "")
    assert any(n.kind == "dead_letter" and n.event_id == "bad" for n in notices)


async def test_a_live_event_is_refused_with_a_test_key(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """A live-mode event among test ones is a dead letter and a mode-mismatch notice."""
    event = {"id": "live-1", "type": "order.complete", "liveMode": True, "data": {"object": {}}}
    admin_post(sandbox, "/_sandbox/events", event)
    async with edge(edge_settings(sandbox, tmp_path, state_location)) as e:
        await e.settle(lambda: e.store.inbox_event("live-1") is not None)
        row = e.store.inbox_event("live-1")
        kinds = [n.kind for n in e.store.notifications()]
    assert row is not None
    assert row.status == "dead"
    assert "mode_mismatch" in kinds


#: An event about an order Digital River does not know: deferred, fetched, retried, and in
#: the end a dead letter.
STUCK = {
    "id": "stuck-1",
    "type": "fulfillment_order.pending",
    "liveMode": False,
    "data": {"object": {"id": "fo-none", "upstreamId": "order-nobody-placed"}},
}


async def test_a_lower_max_attempts_dead_letters_the_next_failure(
    sandbox: RunningSandbox, tmp_path: Path, state_location: StateLocation
) -> None:
    """Reconfigured from 1000 tries to 2, an event already tried fails for good at its next try.

    Under 1000 tries with doubling waits it would stay due for days, not reach ``dead`` here.
    """
    admin_post(sandbox, "/_sandbox/events", STUCK)
    async with edge(
        edge_settings(sandbox, tmp_path, state_location, handler_max_attempts=1000)
    ) as e:

        def stuck() -> InboxEvent:
            row = e.store.inbox_event("stuck-1")
            assert row is not None
            return row

        await e.settle(lambda: e.store.inbox_event("stuck-1") is not None)
        await e.settle(lambda: stuck().attempts >= 1)
        e.handler.reconfigure(FulfillmentSettings(max_attempts=2, retry_base=0.01))
        await e.settle(lambda: stuck().status == "dead")
        error = stuck().last_error or ""
    tries = re.search(r"order not recorded yet .*\(after (\d+) attempts\)", error)
    assert tries is not None
    assert int(tries.group(1)) < 1000
