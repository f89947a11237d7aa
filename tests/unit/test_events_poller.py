"""The event poller against a fake ``GET /events``: cursor, overlap, dedupe, modes, retention."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync.dr import DigitalRiverClient, RetryPolicy, ServerError
from catalog_sync.dr.testing import captured_logs, fail, ok
from catalog_sync.fulfillment.poller import EventPoller, status_info
from catalog_sync.state import (
    EventOutcome,
    LedgerWrites,
    NotificationRecord,
    StateBackend,
    open_state,
)
from catalog_sync.support.clock import stamp
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import EventSettings, Settings

START = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
KEY = SecretStr("sk_test_" + "0" * 32)


@dataclass
class FakeEvents:
    """``GET /events`` over ``visible`` (API order: oldest first), with the API's cursors."""

    visible: list[dict[str, Any]] = field(default_factory=list)
    queries: list[dict[str, str]] = field(default_factory=list)
    fail_on: set[int] = field(default_factory=set)

    def add(self, event_id: str, at: datetime, **extra: Any) -> dict[str, Any]:
        """Make an event visible at the newest end of the list."""
        event = {
            "id": event_id,
            "type": "order.complete",
            "createdTime": stamp(at),
            "liveMode": False,
            "data": {"object": {"id": f"order-{event_id}", "state": "complete"}},
            **extra,
        }
        self.visible.append(event)
        return event

    def insert_late(self, event_id: str, at: datetime, before: str) -> None:
        """An event that becomes visible late: it sorts before ``before`` (behind a cursor)."""
        event = self.add(event_id, at)
        self.visible.remove(event)
        self.visible.insert(self._position(before), event)

    def _position(self, event_id: str) -> int:
        return next(n for n, e in enumerate(self.visible) if e["id"] == event_id)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        self.queries.append(params)
        if len(self.queries) in self.fail_on:
            return fail(500)
        events = list(self.visible)
        if "createdTime[gt]" in params:
            bound = datetime.fromisoformat(params["createdTime[gt]"])
            events = [e for e in events if datetime.fromisoformat(e["createdTime"]) > bound]
        limit = int(params.get("limit", "10"))
        if "endingBefore" in params:
            start = self._position(params["endingBefore"]) + 1
            newer = [e for e in events if self.visible.index(e) >= start]
            page = newer[:limit]
            return ok({"hasMore": len(newer) > limit, "data": page[::-1]})
        newest_first = events[::-1]
        if "startingAfter" in params:
            cut = self._position(params["startingAfter"])
            newest_first = [e for e in newest_first if self.visible.index(e) < cut]
        page = newest_first[:limit]
        return ok({"hasMore": len(newest_first) > limit, "data": page})


class Clock:
    """Our wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


class RecordingSink:
    """A notification sink that keeps what it was sent."""

    def __init__(self) -> None:
        self.sent: list[NotificationRecord] = []

    async def send(self, record: NotificationRecord) -> None:
        """Keep it."""
        self.sent.append(record)


@dataclass
class Rig:
    """A poller over ``api`` with its store, clock and notifications."""

    api: FakeEvents
    store: StateBackend
    clock: Clock
    sink: RecordingSink
    poller: EventPoller


@pytest.fixture
def api() -> FakeEvents:
    """An empty fake events list."""
    return FakeEvents()


def _settings(folder: Path, key: SecretStr = KEY, start: str | None = None) -> Settings:
    return Settings(
        api_key=key,
        api_base="https://api.test",
        state=folder / "state.db",
        poll_interval=1.0,
        event_overlap_seconds=10.0,
        events_start=start,
    )


async def _rig(
    api: FakeEvents, folder: Path, clock: Clock, key: SecretStr = KEY, start: str | None = None
) -> AsyncIterator[Rig]:
    settings = _settings(folder, key, start)
    sink = RecordingSink()
    async with DigitalRiverClient.from_settings(
        settings.api, transport=httpx.MockTransport(api)
    ) as client:
        client.retry = RetryPolicy(attempts=1)
        with open_state(settings) as store:
            poller = EventPoller(settings.events, client, store, Notifier([sink]), clock=clock)
            yield Rig(api, store, clock, sink, poller)


@pytest.fixture
async def rig(api: FakeEvents, tmp_path: Path) -> AsyncIterator[Rig]:
    """A poller over the fake API, state in ``tmp_path``."""
    async for made in _rig(api, tmp_path, Clock()):
        yield made


def _ids(store: StateBackend, status: str | None = None) -> list[str]:
    return sorted(e.id for e in store.inbox_events(status, limit=1000))


async def test_a_live_event_with_a_test_key_is_refused_loudly_and_kept(rig: Rig) -> None:
    """A live-mode event is a dead letter with the reason, an error log line and a notice."""
    rig.api.add("e1", START, liveMode=True)
    with captured_logs() as logs:
        await rig.poller.poll_once()
    event = rig.store.inbox_event("e1")
    assert event is not None
    assert event.status == "dead"
    assert "live-mode event while the configured key is test mode" in (event.last_error or "")
    assert [n.kind for n in rig.sink.sent] == ["mode_mismatch"]
    assert '"events.mode_mismatch"' in logs.getvalue()


async def test_a_test_event_with_a_live_key_is_refused(api: FakeEvents, tmp_path: Path) -> None:
    """The poller takes its mode from the key: with a live key, test-mode events are refused."""
    api.add("e1", START, liveMode=False)
    live = SecretStr("sk_live_" + "0" * 32)
    async for rig in _rig(api, tmp_path, Clock(), key=live, start="retained"):
        await rig.poller.poll_once()
        event = rig.store.inbox_event("e1")
    assert event is not None
    assert "test-mode event while the configured key is live mode" in (event.last_error or "")


async def _until(done: Callable[[], bool], within: float = 30.0) -> None:
    """Poll ``done`` until it holds; fail after ``within`` seconds (a deadline, not a pace)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not done():
        assert loop.time() < deadline, "the poller did not get there in time"
        await asyncio.sleep(0.01)


async def test_a_shorter_poll_interval_ends_the_wait_under_way(rig: Rig) -> None:
    """Reconfigured while asleep on an hour, the poller reads new events at once, not in an hour.

    Nothing else reads events: under the old interval the event could not arrive before the
    test's deadline.
    """
    hourly = EventSettings(poll_interval=3600.0, overlap_seconds=10.0)
    poller = EventPoller(hourly, rig.poller.client, rig.store, Notifier(), clock=rig.clock)
    stop = asyncio.Event()
    task = asyncio.create_task(poller.run(stop))
    try:
        await _until(lambda: rig.store.event_cursor().last_poll_at is not None)
        rig.api.add("e1", START)
        poller.reconfigure(replace(hourly, poll_interval=0.05))
        await _until(lambda: rig.store.inbox_event("e1") is not None)
    finally:
        stop.set()
        await task


async def test_an_unparseable_event_is_a_dead_letter_and_its_page_goes_on(rig: Rig) -> None:
    """A malformed event between good ones is kept (raw payload, error); the others arrive."""
    rig.api.add("e1", START)
    rig.api.visible.append({"id": "bad", "type": 7, "createdTime": "yesterday", "data": []})
    rig.api.add("e3", START + timedelta(seconds=1))
    await rig.poller.poll_once()
    assert _ids(rig.store, "received") == ["e1", "e3"]
    bad = rig.store.inbox_event("bad")
    assert bad is not None
    assert bad.status == "dead"
    assert bad.payload["data"] == []
    assert "type is missing or not a string" in (bad.last_error or "")
    assert "createdTime" in (bad.last_error or "")
    assert [n.kind for n in rig.sink.sent] == ["dead_letter"]


@dataclass
class WireEvents(FakeEvents):
    """:class:`FakeEvents` whose pages carry bytes no JSON encoder writes, put in by placeholder."""

    wire: dict[str, bytes] = field(default_factory=dict)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        answer = super().__call__(request)
        body = answer.content
        for placeholder, raw in self.wire.items():
            body = body.replace(json.dumps(placeholder).encode(), raw)
        return httpx.Response(answer.status_code, content=body, headers=answer.headers)


async def test_values_no_parser_accepts_fail_their_event_not_the_page(tmp_path: Path) -> None:
    """A 5,000-digit integer or bytes that are not UTF-8 make a dead letter; the page goes on."""
    api = WireEvents(wire={"@huge@": b"9" * 5000, "@bytes@": b'"caf\xe9 \xff"'})
    api.add("e1", START)
    api.add("huge", START, data={"object": {"quantity": "@huge@"}})
    api.add("bytes", START, data={"object": {"name": "@bytes@"}})
    api.add("e4", START + timedelta(seconds=1))
    async for rig in _rig(api, tmp_path, Clock()):
        await rig.poller.poll_once()
        dead = {e.id: e.last_error or "" for e in rig.store.inbox_events("dead")}
        assert _ids(rig.store, "received") == ["e1", "e4"]
    assert ("out of range" in dead["huge"], "not valid Unicode" in dead["bytes"]) == (True, True)


async def test_an_event_without_an_id_is_kept_once_under_a_stable_id(rig: Rig) -> None:
    """No id: a dead letter keyed by its content, so listing it again adds nothing."""
    rig.api.visible.append({"type": "order.complete", "createdTime": stamp(START)})
    await rig.poller.poll_once()
    rig.clock.now += timedelta(seconds=30)
    await rig.poller.poll_once()
    dead = rig.store.inbox_events("dead")
    assert len(dead) == 1
    assert dead[0].id.startswith("unreadable:")


async def test_an_event_seen_twice_in_the_overlap_is_stored_and_handled_once(rig: Rig) -> None:
    """The sweep re-lists a handled event: it stays handled and is not new again."""
    rig.api.add("e1", START)
    first = await rig.poller.poll_once()
    rig.store.commit_ledger(
        LedgerWrites(events=[EventOutcome("e1", "handled")]), stamp(rig.clock.now)
    )
    rig.clock.now += timedelta(seconds=11)
    again = await rig.poller.poll_once()
    assert (first.new, again.new) == (1, 0)
    assert any("createdTime[gt]" in q for q in rig.api.queries[1:])
    assert _ids(rig.store, "handled") == ["e1"]


async def test_an_event_visible_late_inside_the_overlap_is_picked_up(rig: Rig) -> None:
    """An older event that appears behind the cursor is found by the next overlap sweep."""
    rig.api.add("e1", START)
    rig.api.add("e2", START + timedelta(seconds=5))
    await rig.poller.poll_once()
    rig.api.insert_late("late", START + timedelta(seconds=3), before="e2")
    rig.clock.now += timedelta(seconds=1)
    await rig.poller.poll_once()
    assert "late" not in _ids(rig.store)  # forward reading cannot see behind its cursor
    rig.clock.now += timedelta(seconds=10)
    result = await rig.poller.poll_once()
    assert result.new == 1
    assert _ids(rig.store) == ["e1", "e2", "late"]


async def test_a_restart_neither_skips_nor_repeats(api: FakeEvents, tmp_path: Path) -> None:
    """A new poller on the same state reads on from the durable cursor, and only new events."""
    clock = Clock()
    api.add("e1", START)
    api.add("e2", START + timedelta(seconds=1))
    async for rig in _rig(api, tmp_path, clock):
        assert (await rig.poller.poll_once()).new == 2
    api.add("e3", START + timedelta(seconds=2))
    api.queries.clear()
    async for rig in _rig(api, tmp_path, clock):
        result = await rig.poller.poll_once()
        assert result.new == 1
        assert api.queries[0]["endingBefore"] == "e2"
        assert _ids(rig.store) == ["e1", "e2", "e3"]


async def test_a_backfill_resumes_where_it_failed(rig: Rig) -> None:
    """The first walk of history fails after a page, then resumes from it: each event once."""
    for n in range(250):
        rig.api.add(f"e{n:03}", START + timedelta(milliseconds=n))
    rig.api.fail_on = {3}
    with pytest.raises(ServerError):
        await rig.poller.poll_once()
    cursor = rig.store.event_cursor()
    assert (cursor.walk_top_id, cursor.walk_after, cursor.last_id) == ("e249", "e050", None)
    await rig.poller.poll_once()
    assert rig.api.queries[-2]["startingAfter"] == "e050"
    assert len(_ids(rig.store)) == 250
    assert rig.store.event_cursor().last_id == "e249"


async def test_a_lag_near_the_retention_warns_in_status_and_notifies_once(rig: Rig) -> None:
    """An event unhandled for 8 days: status warns, one notification per day at most."""
    rig.api.add("old", START)
    await rig.poller.poll_once()
    rig.clock.now += timedelta(days=8)
    await rig.poller.check_lag()
    await rig.poller.check_lag()
    info = status_info(rig.store, now=rig.clock.now)
    assert "the API keeps events 30 days only" in str(info["retention_warning"])
    assert info["lag_seconds"] == pytest.approx(8 * 86400)
    assert [n.kind for n in rig.sink.sent] == ["lag"]


async def test_a_start_after_a_long_outage_says_what_may_be_lost(rig: Rig) -> None:
    """40 days away: the notice names the window whose events the API no longer has."""
    rig.api.add("e1", START)
    await rig.poller.poll_once()
    rig.clock.now += timedelta(days=40)
    await rig.poller.check_outage()
    (notice,) = rig.sink.sent
    assert notice.kind == "retention"
    assert "last poll was 40 days ago" in notice.message
    window = f"created between {stamp(START)} and {stamp(rig.clock.now - timedelta(days=30))}"
    assert window in notice.message
    assert "may be lost" in notice.message


async def test_a_shorter_outage_asks_to_catch_up(rig: Rig) -> None:
    """10 days away: a warning that events expire after 30 days, nothing lost yet."""
    rig.api.add("e1", START)
    await rig.poller.poll_once()
    rig.clock.now += timedelta(days=10)
    await rig.poller.check_outage()
    assert [n.message for n in rig.sink.sent] == [
        "last poll was 10 days ago; events expire after 30 days, catch up soon"
    ]


def test_the_fake_lists_like_the_api() -> None:
    """The fake pages newest first and ``endingBefore`` returns the newer events."""
    fake = FakeEvents()
    for n in range(3):
        fake.add(f"e{n}", START + timedelta(seconds=n))
    newest = json.loads(fake(httpx.Request("GET", "https://x/events?limit=2")).content)
    newer = json.loads(fake(httpx.Request("GET", "https://x/events?endingBefore=e0")).content)
    assert [e["id"] for e in newest["data"]] == ["e2", "e1"]
    assert newest["hasMore"] is True
    assert [e["id"] for e in newer["data"]] == ["e2", "e1"]
