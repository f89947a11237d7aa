"""The event poller: Digital River's events into the inbox, exactly once per event id.

The API gives no order guarantee and events may become visible late (reference §14.1), so the
cursor is not trusted blindly:

- *forward*: ``endingBefore=<newest id read>`` returns the events just newer than it; each
  page is stored, oldest first, in the same transaction that advances the cursor, and the
  next page is asked for at once while pages come back full;
- *overlap sweep*: once caught up, events created within ``event_overlap_seconds`` of the
  last sweep (or of the newest event) are listed again; ids already in the inbox are ignored,
  so a late event is picked up and a duplicate is never handled twice;
- *backfill*: with no cursor yet, everything the API keeps (30 days) is walked newest first;
  the walk is resumable after a crash and the handler waits until it has finished, so events
  are still handled oldest first.

An event of the other mode (a live event with a test key, or the reverse) is refused loudly:
kept as a dead letter, logged as an error and notified. The API keeps events 30 days only:
lag is compared with ``event_retention_warn_days`` and a start after a long outage says what
may have been missed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from catalog_sync.dr import BadRequest, DigitalRiverClient, DRError, Event
from catalog_sync.logs import get_logger
from catalog_sync.metrics import Metrics
from catalog_sync.notify import Notifier
from catalog_sync.settings import Settings
from catalog_sync.state import StateStore
from catalog_sync.state.fulfillment import EventCursor, InboxEvent, NotificationRecord

#: The distributed-model types (reference §14.3); fewer than 20, as ``types`` requires (§16.5).
EVENT_TYPES: Final = (
    "order.accepted",
    "order.cancelled",
    "order.fulfilled",
    "order.complete",
    "order.charge.capture.complete",
    "order.charge.capture.failed",
    "order.charge.cancel.complete",
    "fulfillment.created",
    "fulfillment_order.pending",
    "fulfillment_order.backordered",
    "fulfillment_order.shipped",
    "fulfillment_order.cancelled",
    "fulfillment_cancellation.created",
    "fulfillment_cancellation.accepted",
    "fulfillment_cancellation.rejected",
)
#: How long the API keeps events (reference §14.1).
RETENTION: Final = timedelta(days=30)
PAGE: Final = 100
Clock = Callable[[], datetime]

_log = get_logger("events")


def utc_clock() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """Render a time as every fulfillment table stores it: UTC, microseconds, ``Z``.

    Always the same width, so stored times compare correctly as text in SQL.
    """
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_stamp(text: str) -> datetime:
    """Read a stored or API time."""
    return datetime.fromisoformat(text)


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one pass read."""

    new: int
    pages: int


class EventPoller:
    """Polls ``GET /events`` into the inbox; a :class:`~catalog_sync.service.Service`."""

    name = "events"

    def __init__(
        self,
        settings: Settings,
        client: DigitalRiverClient,
        store: StateStore,
        notifier: Notifier,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
        on_new: Callable[[], None] | None = None,
        live_mode: bool | None = None,
    ) -> None:
        """``live_mode`` defaults to the mode of the configured key (``sk_test_`` = test)."""
        self._settings = settings
        self._client = client
        self._store = store
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._on_new = on_new
        if live_mode is None:
            key = settings.resolved_api_key().get_secret_value()
            live_mode = not key.startswith("sk_test_")
        self._live = live_mode
        self._overlap = timedelta(seconds=settings.event_overlap_seconds)
        self._status = "starting"
        self._lag_warned_at: datetime | None = None

    @property
    def client(self) -> DigitalRiverClient:
        """The client this poller reads with (``events replay`` reuses it)."""
        return self._client

    def status_line(self) -> str:
        """E.g. ``"caught up, 3 new"``."""
        return self._status

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; API errors are logged and the next poll tries again."""
        await self.check_outage()
        while not stop.is_set():
            try:
                await self.poll_once()
            except DRError as exc:
                self._status = f"poll failed: {exc}"
                _log.warning("events.poll_failed", error=str(exc))
            await self.check_lag()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._settings.poll_interval)

    async def poll_once(self) -> PollResult:
        """One pass: finish a backfill, read forward until caught up, then sweep the overlap."""
        cursor = self._store.event_cursor()
        started = self._clock()
        result = PollResult(0, 0)
        if cursor.last_id is None or cursor.walk_top_id is not None:
            result = await self._backfill(cursor, started)
        else:
            result = await self._forward(cursor, started)
            result = _add(result, await self._sweep(started))
        if result.new and self._on_new is not None:
            self._on_new()
        self._status = f"caught up, {result.new} new" if result.new else "caught up"
        return result

    # -- reading ---------------------------------------------------------------------------
    async def _forward(self, cursor: EventCursor, started: datetime) -> PollResult:
        new = pages = 0
        while True:
            try:
                page = await self._client.list_events(
                    types=EVENT_TYPES, ending_before=cursor.last_id, limit=PAGE
                )
            except BadRequest as exc:
                if exc.parameter != "endingBefore":
                    raise
                _log.error("events.cursor_lost", last_id=cursor.last_id, error=str(exc))
                return _add(PollResult(new, pages), await self._sweep(started, reset=True))
            pages += 1
            oldest_first = list(reversed(page.data))
            if oldest_first:
                newest = oldest_first[-1]
                cursor = replace(
                    cursor,
                    last_id=newest.id,
                    newest_time=_max_time(cursor.newest_time, page.data),
                    last_poll_at=stamp(started),
                )
            else:
                cursor = replace(cursor, last_id=cursor.last_id, last_poll_at=stamp(started))
            new += await self._store_page(oldest_first, cursor)
            if not page.has_more:
                return PollResult(new, pages)

    async def _sweep(self, started: datetime, *, reset: bool = False) -> PollResult:
        """List again the events of the overlap window; returns what was new among them."""
        cursor = self._store.event_cursor()
        if cursor.newest_time is None and not reset:
            return PollResult(0, 0)
        anchors = [t for t in (cursor.last_sweep_at, cursor.newest_time) if t is not None]
        bound = min(parse_stamp(t) for t in anchors) if reset else parse_stamp(anchors[0])
        bound -= self._overlap
        new = pages = 0
        after: str | None = None
        top: Event | None = None
        while True:
            page = await self._client.list_events(
                types=EVENT_TYPES, created_gt=bound, starting_after=after, limit=PAGE
            )
            pages += 1
            top = top or (page.data[0] if page.data else None)
            done = not page.has_more or not page.data
            if done:
                cursor = replace(self._store.event_cursor(), last_sweep_at=stamp(started))
                if reset and top is not None:
                    cursor = replace(cursor, last_id=top.id)
            new += await self._store_page(list(reversed(page.data)), cursor if done else None)
            if done:
                return PollResult(new, pages)
            after = page.data[-1].id

    async def _backfill(self, cursor: EventCursor, started: datetime) -> PollResult:
        """Walk every event the API keeps, newest first; resumable from ``walk_after``."""
        new = pages = 0
        while True:
            page = await self._client.list_events(
                types=EVENT_TYPES, starting_after=cursor.walk_after, limit=PAGE
            )
            pages += 1
            if page.data and cursor.walk_top_id is None:
                first = page.data[0]
                cursor = replace(
                    cursor, walk_top_id=first.id, walk_top_time=_time_of(first, started)
                )
            if page.data:
                cursor = replace(cursor, walk_after=page.data[-1].id)
            if not page.has_more or not page.data:
                cursor = EventCursor(
                    last_id=cursor.walk_top_id,
                    newest_time=cursor.walk_top_time,
                    last_sweep_at=stamp(started),
                    last_poll_at=stamp(started),
                )
                new += await self._store_page(list(reversed(page.data)), cursor)
                return PollResult(new, pages)
            new += await self._store_page(list(reversed(page.data)), cursor)

    async def _store_page(self, events: Sequence[Event], cursor: EventCursor | None) -> int:
        """Insert a page (dedupe by id) and move the cursor in one transaction."""
        now = self._clock()
        rows = [self._inbox_row(event, now) for event in events]
        with self._store.transaction():
            new = self._store.put_events(rows, stamp(now))
            if cursor is not None:
                self._store.set_event_cursor(cursor)
        refused = [r for r in rows if r.status == "dead"]
        for row in refused:
            await self._refuse(row)
        return new

    def _inbox_row(self, event: Event, now: datetime) -> InboxEvent:
        payload: dict[str, Any] = event.model_dump(mode="json", by_alias=True, exclude_none=True)
        created = _time_of(event, now)
        if event.live_mode is not None and event.live_mode != self._live:
            mode = "live" if event.live_mode else "test"
            key = "live" if self._live else "test"
            error = f"refused: a {mode}-mode event while the configured key is {key} mode"
            return InboxEvent(event.id, event.type, created, payload, "dead", last_error=error)
        return InboxEvent(event.id, event.type, created, payload)

    async def _refuse(self, row: InboxEvent) -> None:
        """Loudly: an error log line, a notification, and a dead letter (already stored)."""
        _log.error("events.mode_mismatch", event_id=row.id, type=row.type, error=row.last_error)
        await record_and_notify(
            self._store,
            self._notifier,
            NotificationRecord(
                stamp(self._clock()),
                "mode_mismatch",
                f"event {row.id} ({row.type}) {row.last_error}",
                event_id=row.id,
            ),
        )

    # -- retention -------------------------------------------------------------------------
    async def check_outage(self) -> None:
        """At start: say plainly what a long outage may have cost (events expire after 30 days)."""
        cursor = self._store.event_cursor()
        if cursor.last_poll_at is None:
            return
        now = self._clock()
        away = now - parse_stamp(cursor.last_poll_at)
        warn = timedelta(days=self._settings.event_retention_warn_days)
        if away <= warn:
            return
        if away > RETENTION:
            message = (
                f"last poll was {away.days} days ago; the API keeps events 30 days, so events "
                f"created between {cursor.last_poll_at} and {stamp(now - RETENTION)} may be "
                "lost: check orders accepted in that window by hand"
            )
        else:
            message = (
                f"last poll was {away.days} days ago; events expire after 30 days, catch up soon"
            )
        _log.error("events.outage", message=message)
        await record_and_notify(
            self._store, self._notifier, NotificationRecord(stamp(now), "retention", message)
        )

    async def check_lag(self) -> None:
        """Update metrics; notify (once a day at most) when the lag nears the retention."""
        info = status_info(
            self._store, now=self._clock(), warn_days=self._settings.event_retention_warn_days
        )
        if self._metrics is not None:
            self._metrics.event_lag.set(info["lag_seconds"])
            self._metrics.dead_letters.set(info["dead_letters"])
        warning = info["retention_warning"]
        now = self._clock()
        if warning is None or (
            self._lag_warned_at is not None and now - self._lag_warned_at < timedelta(days=1)
        ):
            return
        self._lag_warned_at = now
        await record_and_notify(
            self._store, self._notifier, NotificationRecord(stamp(now), "lag", warning)
        )


async def record_and_notify(
    store: StateStore, notifier: Notifier, *records: NotificationRecord
) -> None:
    """Log notifications in the state database, then send them to the sinks."""
    with store.transaction():
        for record in records:
            store.add_notification(record)
    for record in records:
        await notifier.notify(record)


def status_info(
    store: StateStore, *, now: datetime | None = None, warn_days: float = 7.0
) -> dict[str, Any]:
    """What ``status`` shows about events: cursor, lag, inbox counts, dead letters.

    ``lag_seconds`` is the age of the oldest event still to be handled (0 when none is), the
    number that must stay far below the API's 30-day retention.
    """
    now = now or utc_clock()
    cursor = store.event_cursor()
    counts = store.inbox_counts()
    oldest = store.oldest_unhandled_time()
    lag = 0.0 if oldest is None else max(0.0, (now - parse_stamp(oldest)).total_seconds())
    warning = None
    if lag > warn_days * 86400:
        warning = f"event handling lags {lag / 86400:.1f} days; the API keeps events 30 days only"
    return {
        "cursor": cursor.newest_time,
        "cursor_event": cursor.last_id,
        "backfilling": cursor.walk_top_id is not None,
        "last_poll": cursor.last_poll_at,
        "lag_seconds": round(lag, 3),
        "counts": counts,
        "dead_letters": counts["dead"],
        "oldest_unhandled": oldest,
        "pending_intents": store.count_pending_intents(),
        "retention_warning": warning,
    }


def _time_of(event: Event, fallback: datetime) -> str:
    return stamp(event.created_time or fallback)


def _max_time(current: str | None, events: Sequence[Event]) -> str | None:
    times = [stamp(e.created_time) for e in events if e.created_time is not None]
    if current is not None:
        times.append(current)
    return max(times, default=None)


def _add(a: PollResult, b: PollResult) -> PollResult:
    return PollResult(a.new + b.new, a.pages + b.pages)
