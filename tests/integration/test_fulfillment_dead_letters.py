"""Malformed and other-mode events from the sandbox: dead letters, never dropped or blocking."""

from __future__ import annotations

from pathlib import Path

from tests.integration.fulfillment_helpers import (
    PHYSICAL,
    admin_post,
    edge,
    edge_settings,
    make_catalog,
)

from catalog_sync.sandbox.testing import RunningSandbox


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
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The bad event is kept with its payload and error; the order after it is handled."""
    make_catalog(sandbox)
    admin_post(sandbox, "/_sandbox/events", {"id": "bad", "type": "order.accepted", "data": 5})
    order = sandbox.create_order(items=[{"skuId": PHYSICAL, "quantity": 1}])
    async with edge(edge_settings(sandbox, tmp_path)) as e:
        await e.settle(lambda: e.store.order(order["id"]) is not None)
        bad = e.store.inbox_event("bad")
        notices = e.store.notifications()
    assert bad is not None
    assert (bad.status, bad.payload["data"]) == ("dead", 5)
    assert "data.object is missing or not an object" in (bad.last_error or "")
    assert any(n.kind == "dead_letter" and n.event_id == "bad" for n in notices)


async def test_a_live_event_is_refused_with_a_test_key(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A live-mode event among test ones is a dead letter and a mode-mismatch notice."""
    event = {"id": "live-1", "type": "order.complete", "liveMode": True, "data": {"object": {}}}
    admin_post(sandbox, "/_sandbox/events", event)
    async with edge(edge_settings(sandbox, tmp_path)) as e:
        await e.settle(lambda: e.store.inbox_event("live-1") is not None)
        row = e.store.inbox_event("live-1")
        kinds = [n.kind for n in e.store.notifications()]
    assert row is not None
    assert row.status == "dead"
    assert "mode_mismatch" in kinds
