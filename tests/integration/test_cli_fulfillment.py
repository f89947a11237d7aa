"""``events list | retry | replay`` and ``orders list | show`` against the sandbox."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.fulfillment_helpers import (
    DIGITAL,
    PHYSICAL,
    admin_post,
    dr_fulfillments,
    make_catalog,
)

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import EventOutcome, InboxEvent, LedgerWrites, StateBackend, open_state
from catalog_sync.support.clock import now_stamp, stamp, utc_clock

DEADLINE = 30.0


@pytest.fixture
def env(tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox) -> dict[str, str]:
    """Settings pointing at the sandbox, the state on the test's backend."""
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_STATE": str(state_location),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
        "CATALOG_SYNC_POLL_INTERVAL": "0.1",
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in-process."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def poll_until(env: dict[str, str], done: Callable[[StateBackend], bool]) -> None:
    """Run ``events poll`` passes until ``done`` holds for the state (fail after a deadline)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        assert invoke(env, "events", "poll").exit_code == 0
        with open_state(env["CATALOG_SYNC_STATE"]) as store:
            if done(store):
                return
        assert time.monotonic() < deadline, "events poll did not reach the expected state"


@dataclass(frozen=True)
class Flow:
    """An order shipped in two parts, one unit cancelled by the fulfiller, all handled."""

    order_id: str
    physical_line: str
    digital_line: str
    fulfillment_order_id: str
    started: str


def _settled(store: StateBackend) -> bool:
    return store.count_pending_intents() == 0 and store.inbox_counts()["received"] == 0


@pytest.fixture
def flow(sandbox: RunningSandbox, env: dict[str, str]) -> Flow:
    """Order 4 physical + 1 digital; ship 1 then 2 (tracked); the fulfiller cancels 1."""
    make_catalog(sandbox)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
    order = sandbox.create_order(
        items=[{"skuId": PHYSICAL, "quantity": 4}, {"skuId": DIGITAL, "quantity": 1}]
    )
    order_id, physical, digital = order["id"], order["items"][0]["id"], order["items"][1]["id"]

    def fo_known(store: StateBackend) -> bool:
        known = store.order(order_id)
        return bool(known and known.lines[0].fo_item_id)

    poll_until(env, fo_known)
    with open_state(env["CATALOG_SYNC_STATE"]) as store:
        fo_id = store.order(order_id).fulfillment_order_id  # type: ignore[union-attr]
    assert fo_id is not None
    ship = f"/_sandbox/fulfillment-orders/{fo_id}/ship"
    part = {"itemId": physical, "quantity": 1}
    admin_post(sandbox, ship, {"items": [part], "trackingNumber": "TRACK-1"})
    admin_post(sandbox, ship, {"items": [{**part, "quantity": 2}], "trackingNumber": "TRACK-2"})
    admin_post(sandbox, f"/_sandbox/fulfillment-orders/{fo_id}/cancel", {"items": [part]})
    poll_until(env, lambda s: _settled(s) and s.captures_done() == 2)
    poll_until(env, _settled)
    return Flow(order_id, physical, digital, fo_id, started)


def test_orders_list_shows_units_per_order(flow: Flow, env: dict[str, str]) -> None:
    """One line per order with its state and units fulfilled / cancelled / open."""
    result = invoke(env, "orders", "list")
    assert result.exit_code == 0
    assert flow.order_id in result.output
    assert "units=5 fulfilled=3 cancelled=1 open=1" in result.output


def test_orders_list_filters_by_state(flow: Flow, env: dict[str, str]) -> None:
    """``--state`` keeps only orders in that state."""
    with open_state(env["CATALOG_SYNC_STATE"]) as store:
        state = store.order(flow.order_id).state  # type: ignore[union-attr]
    assert flow.order_id in invoke(env, "orders", "list", "--state", state).output
    assert invoke(env, "orders", "list", "--state", "no-such-state").output == ""


def test_orders_show_prints_every_section(flow: Flow, env: dict[str, str]) -> None:
    """Lines, fulfillment order, shipments with tracking, captures, cancels and history."""
    result = invoke(env, "orders", "show", flow.order_id)
    assert result.exit_code == 0
    out = result.output
    assert f"fulfillment order: {flow.fulfillment_order_id}" in out
    assert f"{flow.physical_line}  {PHYSICAL}" in out
    assert "qty=4 open=0 fulfilled=3 cancelled=1" in out
    assert f"{flow.digital_line}  {DIGITAL}" in out
    assert "TRACK-1" in out
    assert "TRACK-2" in out
    assert "capture " in out
    assert "cancel_charge" in out
    assert "fulfillment_order.shipped" in out
    assert "history:" in out


def test_orders_show_json_has_the_same_facts(flow: Flow, env: dict[str, str]) -> None:
    """``--json``: per-line counters, shipments with tracking, writes and event history."""
    detail = json.loads(invoke(env, "orders", "show", flow.order_id, "--json").output)
    line = next(x for x in detail["lines"] if x["line_id"] == flow.physical_line)
    assert (line["fulfilled"], line["cancelled"], line["open"]) == (3, 1, 0)
    assert detail["fulfillment_order_id"] == flow.fulfillment_order_id
    assert sorted(s["tracking_number"] for s in detail["shipments"]) == ["TRACK-1", "TRACK-2"]
    kinds = sorted(w["kind"] for w in detail["writes"])
    assert kinds == ["cancel_charge", "capture", "capture", "create_fulfillment_order"]
    assert all(h["event_id"] for h in detail["history"][:1])


def test_orders_show_of_an_unknown_order_exits_1(env: dict[str, str]) -> None:
    """An order no event mentioned is an error, not an empty page."""
    result = CliRunner().invoke(main, ["orders", "show", "nope"], env=env)
    assert result.exit_code == 1
    assert "not known" in result.output


def test_events_list_shows_the_inbox(flow: Flow, env: dict[str, str]) -> None:
    """Every handled event is listed, newest first, with its type and status."""
    del flow
    out = invoke(env, "events", "list", "--limit", "100").output
    assert "order.accepted" in out
    assert "fulfillment_order.shipped" in out
    assert " handled " in out


def test_an_unparseable_event_is_listed_as_dead(
    sandbox: RunningSandbox, env: dict[str, str]
) -> None:
    """A malformed event from the API is a dead letter in ``events list --status dead``."""
    admin_post(sandbox, "/_sandbox/events", {"id": "evt-bad", "type": "order.accepted"})
    poll_until(env, lambda s: s.inbox_counts()["dead"] == 1)
    rows = [
        json.loads(x)
        for x in invoke(env, "events", "list", "--status", "dead", "--json").output.splitlines()
    ]
    assert [(r["id"], r["status"]) for r in rows] == [("evt-bad", "dead")]
    assert "data.object is missing" in rows[0]["last_error"]


def _kill(env: dict[str, str], *event_ids: str) -> None:
    """Make handled events dead letters, as exhausted retries would."""
    with open_state(env["CATALOG_SYNC_STATE"]) as store:
        events = [EventOutcome(i, "dead", "gave up", attempted=False) for i in event_ids]
        store.commit_ledger(LedgerWrites(events=events), now_stamp())


def _ids_of(env: dict[str, str], status: str) -> list[str]:
    out = invoke(env, "events", "list", "--status", status, "--json", "--limit", "100").output
    return sorted(json.loads(line)["id"] for line in out.splitlines())


def test_events_retry_one_dead_letter_handles_it_again(flow: Flow, env: dict[str, str]) -> None:
    """``events retry EVENT_ID`` queues it; the next poll handles it, nothing written twice."""
    del flow
    first, second = _ids_of(env, "handled")[:2]
    _kill(env, first, second)
    result = invoke(env, "events", "retry", first)
    assert "1 event(s) queued again" in result.output
    poll_until(env, _settled)
    assert _ids_of(env, "dead") == [second]


def test_events_retry_all_queues_every_dead_letter(flow: Flow, env: dict[str, str]) -> None:
    """``--all`` re-runs every dead letter."""
    del flow
    dead = _ids_of(env, "handled")[:3]
    _kill(env, *dead)
    assert "3 event(s) queued again" in invoke(env, "events", "retry", "--all").output
    poll_until(env, _settled)
    assert _ids_of(env, "dead") == []


def test_events_retry_needs_an_id_or_all(env: dict[str, str]) -> None:
    """Neither an id nor ``--all`` is a usage error."""
    assert CliRunner().invoke(main, ["events", "retry"], env=env).exit_code == 2


def test_events_replay_rehandles_without_a_second_write(
    flow: Flow, sandbox: RunningSandbox, env: dict[str, str]
) -> None:
    """Replaying every event adds no fulfillment order, capture or cancel at the sandbox."""
    before = dr_fulfillments(sandbox, flow.order_id)
    sandbox.clear_requests()
    result = invoke(env, "events", "replay", "--since", flow.started)
    assert result.exit_code == 0
    assert int(result.output.split()[0]) >= 6
    poll_until(env, _settled)
    writes = [r for r in sandbox.requests() if r["method"] == "POST"]
    assert writes == []
    assert dr_fulfillments(sandbox, flow.order_id) == before


def _event_waiting_since(env: dict[str, str], days: float) -> None:
    """An event received but still unhandled, created ``days`` ago."""
    created = stamp(utc_clock() - timedelta(days=days))
    event = InboxEvent("evt-old", "order.complete", created, {"id": "evt-old"})
    with open_state(env["CATALOG_SYNC_STATE"]) as store:
        store.store_events([event], created)


@pytest.mark.parametrize(("warn_days", "warned"), [("1", True), ("7", False)])
def test_status_warns_of_lag_at_the_configured_threshold(
    env: dict[str, str], warn_days: str, warned: bool
) -> None:
    """An event two days unhandled is a warning at ``event_retention_warn_days=1``, not at 7."""
    _event_waiting_since(env, days=2)
    result = invoke(env | {"CATALOG_SYNC_EVENT_RETENTION_WARN_DAYS": warn_days}, "status", "--json")
    events = json.loads(result.output)["events"]
    assert events["lag_seconds"] > 86400
    assert (events["retention_warning"] is not None) is warned
