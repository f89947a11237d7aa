"""``events_start``: where a first start begins acting on events, fixed once, shown in status."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError
from tests.fuzz.budget import fuzz_settings
from tests.unit.test_events_poller import START, Clock, FakeEvents, _rig

from catalog_sync.core.fulfillment import INBOX_OPEN, INBOX_STATUSES
from catalog_sync.fulfillment.poller import START_REFUSAL, start_refusal, status_info
from catalog_sync.state import EventCursor
from catalog_sync.support.settings import EventSettings, Settings, SettingsError

LIVE = SecretStr("sk_live_" + "0" * 32)
HOUR = timedelta(hours=1)


def _settings(start: str) -> Settings:
    return Settings(api_key=SecretStr("sk_test_x"), events_start=start)


@pytest.mark.parametrize(
    ("given_value", "stored"),
    [
        ("now", "now"),
        (" Retained ", "retained"),
        ("2025-01-31T00:00:00Z", "2025-01-31T00:00:00.000000Z"),
        ("2025-01-31T02:00:00+02:00", "2025-01-31T00:00:00.000000Z"),
        ("2025-01-31", "2025-01-31T00:00:00.000000Z"),
    ],
)
def test_events_start_takes_now_retained_or_a_time_in_utc(given_value: str, stored: str) -> None:
    """A time without an offset is UTC; one with an offset is stored as UTC."""
    assert _settings(given_value).events.start == stored


@pytest.mark.parametrize(
    "text", ["soon", "", "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-02:00", "2025-13-01"]
)
def test_a_value_that_is_no_start_point_is_refused(text: str) -> None:
    """Not a word it knows, not a time UTC can hold: a settings error naming the forms."""
    with pytest.raises(ValidationError, match="now, retained, or an ISO time"):
        _settings(text)


@fuzz_settings
@given(st.text())
def test_any_other_events_start_is_a_clear_error(text: str) -> None:
    """Whatever text is given (control characters, lone surrogates), it is a value or an error
    naming the setting and the accepted forms, never a crash."""
    try:
        value = _settings(text).events.start
    except ValidationError as exc:
        message = str(exc)
    else:
        assert value is not None
        return
    assert "events_start" in message
    assert "now, retained, or an ISO time" in message


def test_before_start_is_a_status_no_handling_takes() -> None:
    """``before_start`` is in the inbox table and not among the statuses the handler takes."""
    assert "before_start" in INBOX_STATUSES
    assert "before_start" not in INBOX_OPEN


def test_a_live_first_start_without_events_start_is_refused() -> None:
    """Live key, no cursor, no setting: the refusal paragraph, naming ``events plan --since``."""
    refusal = start_refusal(EventSettings(), live=True, cursor=EventCursor())
    assert refusal == START_REFUSAL
    assert "catalog-sync events plan --since" in refusal


@pytest.mark.parametrize(
    ("live", "start", "cursor"),
    [
        (False, None, EventCursor()),
        (True, "now", EventCursor()),
        (True, None, EventCursor(last_id="e9")),
        (True, None, EventCursor(start_at="retained")),
    ],
)
def test_other_starts_are_not_refused(live: bool, start: str | None, cursor: EventCursor) -> None:
    """A test key, an explicit start, or a state that already reads events: no refusal."""
    assert start_refusal(EventSettings(start=start), live=live, cursor=cursor) is None


async def test_now_stores_earlier_events_as_before_start(tmp_path: Path) -> None:
    """``now``: an event created before the first poll is kept as ``before_start``; later ones
    are received for handling."""
    api = FakeEvents()
    api.add("old", START - HOUR)
    clock = Clock()
    async for rig in _rig(api, tmp_path, clock, start="now"):
        await rig.poller.poll_once()
        api.add("new", START + HOUR)
        clock.now = START + 2 * HOUR
        await rig.poller.poll_once()
        statuses = {e.id: e.status for e in rig.store.inbox_events(limit=10)}
    assert statuses == {"old": "before_start", "new": "received"}


async def test_the_start_point_is_fixed_at_the_first_poll(tmp_path: Path) -> None:
    """``now`` is the first poll's moment and stays it: later polls never move it."""
    api = FakeEvents()
    clock = Clock()
    async for rig in _rig(api, tmp_path, clock, start="now"):
        await rig.poller.poll_once()
        clock.now = START + 5 * HOUR
        await rig.poller.poll_once()
        fixed = rig.store.event_cursor().start_at
    assert fixed == "2025-03-01T12:00:00.000000Z"


async def test_an_iso_start_holds_every_event_before_it(tmp_path: Path) -> None:
    """A time: events before it are held, those at or after it are received."""
    api = FakeEvents()
    api.add("before", START - 2 * HOUR)
    api.add("at", START - HOUR)
    async for rig in _rig(api, tmp_path, Clock(), start="2025-03-01T11:00:00Z"):
        await rig.poller.poll_once()
        statuses = {e.id: e.status for e in rig.store.inbox_events(limit=10)}
    assert statuses == {"before": "before_start", "at": "received"}


async def test_retained_receives_everything(tmp_path: Path) -> None:
    """``retained`` (the test key's default): every event the API keeps is received."""
    api = FakeEvents()
    api.add("old", START - 20 * 24 * HOUR)
    async for rig in _rig(api, tmp_path, Clock()):
        await rig.poller.poll_once()
        statuses = {e.id: e.status for e in rig.store.inbox_events(limit=10)}
        shown = status_info(rig.store, now=START)["start_point"]
    assert statuses == {"old": "received"}
    assert shown == "retained"


async def test_a_live_poller_without_events_start_reads_nothing(tmp_path: Path) -> None:
    """The poller itself refuses a live first start without the setting: nothing stored."""
    api = FakeEvents()
    api.add("old", START - HOUR)
    async for rig in _rig(api, tmp_path, Clock(), key=LIVE):
        with pytest.raises(SettingsError, match="events_start"):
            await rig.poller.poll_once()
        assert rig.store.inbox_events(limit=10) == []
        assert api.queries == []


async def test_status_shows_the_start_point(tmp_path: Path) -> None:
    """``status`` names the fixed start point, and says when none is fixed yet."""
    async for rig in _rig(FakeEvents(), tmp_path, Clock(), start="now"):
        before = status_info(rig.store, now=START)["start_point"]
        await rig.poller.poll_once()
        after = status_info(rig.store, now=START)["start_point"]
    assert "not fixed yet" in before
    assert after == "2025-03-01T12:00:00.000000Z"
