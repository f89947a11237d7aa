"""The event poller: Digital River's events into the inbox, exactly once per event id.

The API gives no order guarantee and events may become visible late
(docs/digital-river-api.md §14.1), so the cursor is not trusted blindly:

- *forward*: ``endingBefore=<newest id read>`` returns the events just newer than it; each
  page is stored, oldest first, in the same transaction that advances the cursor, and the
  next page is asked for at once while pages come back full;
- *overlap sweep*: once caught up, events created within ``event_overlap_seconds`` of the
  last sweep (or of the newest event) are listed again; ids already in the inbox are ignored,
  so a late event is picked up and a duplicate is never handled twice;
- *backfill*: with no cursor yet, everything the API keeps (30 days) is walked newest first;
  the walk is resumable after a crash and the handler waits until it has finished, so events
  are still handled oldest first.
- *start point*: the first poll fixes ``events_start`` in the cursor (``now`` becomes that
  moment). Events created before it are stored as ``before_start``, never handled; with a live
  key there is no default, and :func:`start_refusal` says why before anything starts.

An event of the other mode (a live event with a test key, or the reverse) is refused loudly:
kept as a dead letter, logged as an error and notified. The API keeps events 30 days only:
lag is compared with ``event_retention_warn_days`` and a start after a long outage says what
may have been missed.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from catalog_sync.core import json_values
from catalog_sync.core.fulfillment import INBOX_BEFORE_START, INBOX_RECEIVED, answered_upstream_id
from catalog_sync.core.priorities import Priority
from catalog_sync.dr import BadRequest, DigitalRiverClient, DRError
from catalog_sync.state import (
    EventCursor,
    InboxEvent,
    LedgerState,
    NotificationRecord,
    StateBackend,
)
from catalog_sync.support.clock import Clock, parse_stamp, stamp, utc_clock
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import (
    EVENTS_START_NOW,
    EVENTS_START_RETAINED,
    EventSettings,
    SettingsError,
)
from catalog_sync.support.waits import Pause

#: The distributed-model types (docs/digital-river-api.md §14.3); fewer than 20, as ``types``
#: requires (§16.5).
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
#: How long the API keeps events (docs/digital-river-api.md §14.1).
RETENTION: Final = timedelta(days=30)
PAGE: Final = 100
#: Reading new events is on every capture's critical path: at the rate budget it must not
#: queue behind the captures of the events read before (nor, a fortiori, catalog writes).
FORWARD_PRIORITY: Final = Priority.MONEY
#: How often ``run`` measures the lag: it counts the whole inbox, too costly for every poll.
LAG_CHECK_EVERY: Final = timedelta(seconds=30)
RawEvent = dict[str, Any]

_log = get_logger("events")


@dataclass(frozen=True, slots=True)
class PollResult:
    """What one pass read."""

    new: int
    pages: int


class EventPoller:
    """Polls ``GET /events`` into the inbox; a :class:`~catalog_sync.daemon.service.Service`."""

    name = "events"

    def __init__(
        self,
        settings: EventSettings,
        client: DigitalRiverClient,
        store: StateBackend,
        notifier: Notifier,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
        on_new: Callable[[], None] | None = None,
        live_mode: bool | None = None,
    ) -> None:
        """``live_mode`` defaults to the mode of the client's key."""
        self._settings = settings
        self._client = client
        self._store = store
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._on_new = on_new
        self._live = client.live_mode if live_mode is None else live_mode
        self._pause = Pause()
        self._status = "starting"
        self._lag_warned_at: datetime | None = None

    @property
    def client(self) -> DigitalRiverClient:
        """The client this poller reads with (``events replay`` reuses it)."""
        return self._client

    def status_line(self) -> str:
        """E.g. ``"caught up, 3 new"``."""
        return self._status

    def reconfigure(self, settings: EventSettings) -> None:
        """SIGHUP: adopt ``settings`` now. A wait under way is measured again from its start
        with the new interval, so a shorter one polls at once rather than after the old."""
        self._settings = settings
        self._pause.retime()

    @property
    def _overlap(self) -> timedelta:
        return timedelta(seconds=self._settings.overlap_seconds)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop``; API errors are logged and the next poll tries again.

        Reading forward and the overlap sweep run as two loops: a sweep lists every event of
        twice the overlap window (dozens of pages at a high rate), and new events must not
        wait behind it.
        """
        await self.check_outage()
        await asyncio.gather(self._forward_loop(stop), self._sweep_loop(stop))

    async def _forward_loop(self, stop: asyncio.Event) -> None:
        checked: datetime | None = None
        while not stop.is_set():
            await self._guarded(self._read_new())
            now = self._clock()
            if checked is None or now - checked >= LAG_CHECK_EVERY:
                checked = now
                await self.check_lag()
            await self._pause.sleep(stop, lambda: self._settings.poll_interval)

    async def _sweep_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            cursor = self._store.event_cursor()
            if cursor.last_id is not None and cursor.walk_top_id is None:
                await self._guarded(self._sweep(self._clock()))
            await self._pause.sleep(stop, self._sweep_every)

    async def _guarded(self, work: Awaitable[PollResult]) -> None:
        try:
            result = await work
        except DRError as exc:
            self._status = f"poll failed: {exc}"
            _log.warning("events.poll_failed", error=str(exc))
            return
        self._status = f"caught up, {result.new} new" if result.new else "caught up"

    async def poll_once(self) -> PollResult:
        """One pass: finish a backfill, read forward until caught up, then sweep the overlap."""
        result = await self._read_new()
        if self._store.event_cursor().walk_top_id is None:
            result = _add(result, await self._sweep(self._clock()))
        self._status = f"caught up, {result.new} new" if result.new else "caught up"
        return result

    async def _read_new(self) -> PollResult:
        """Finish (or start) a backfill, else read forward until caught up."""
        cursor = self._store.event_cursor()
        started = self._clock()
        if is_first_start(cursor):
            start = fixed_start(self._settings.start, live=self._live, now=started)
            cursor = replace(cursor, start_at=start)
        if cursor.last_id is None or cursor.walk_top_id is not None:
            return await self._backfill(cursor, started)
        return await self._forward(cursor, started)

    # -- reading ---------------------------------------------------------------------------
    async def _forward(self, cursor: EventCursor, started: datetime) -> PollResult:
        new = pages = 0
        while True:
            try:
                page, has_more = await self._client.list_events(
                    types=EVENT_TYPES,
                    ending_before=cursor.last_id,
                    limit=PAGE,
                    priority=FORWARD_PRIORITY,
                )
            except BadRequest as exc:
                if exc.parameter != "endingBefore":
                    raise
                _log.error("events.cursor_lost", last_id=cursor.last_id, error=str(exc))
                return _add(PollResult(new, pages), await self._sweep(started, reset=True))
            pages += 1
            oldest_first = list(reversed(page))
            newest_id = _last_id(oldest_first)
            stored = self._store.event_cursor()  # the sweep loop may have moved it meanwhile
            cursor = replace(
                stored,
                last_id=newest_id or cursor.last_id,
                newest_time=_max_time(stored.newest_time, page),
                last_poll_at=stamp(started),
            )
            new += await self._store_page(oldest_first, cursor)
            if not has_more:
                return PollResult(new, pages)
            if newest_id is None:
                _log.error("events.page_without_ids", last_id=cursor.last_id)
                return PollResult(new, pages)

    def _sweep_due(self, started: datetime) -> bool:
        """Whether the overlap window should be listed again now.

        Each sweep lists everything created after the previous sweep's start minus the
        overlap, so sweeping every ``max(poll interval, overlap)`` still catches any event
        that becomes visible at most ``overlap`` late, and reads each event about twice
        instead of ``overlap / interval`` times (a full re-read per poll was quadratic).
        """
        last = self._store.event_cursor().last_sweep_at
        return last is None or (started - parse_stamp(last)).total_seconds() >= self._sweep_every()

    def _sweep_every(self) -> float:
        return max(self._settings.poll_interval, self._overlap.total_seconds())

    async def _sweep(self, started: datetime, *, reset: bool = False) -> PollResult:
        """List again the events of the overlap window; returns what was new among them."""
        cursor = self._store.event_cursor()
        if cursor.newest_time is None and not reset:
            return PollResult(0, 0)
        if not reset and not self._sweep_due(started):
            return PollResult(0, 0)
        anchors = [t for t in (cursor.last_sweep_at, cursor.newest_time) if t is not None]
        if not anchors:
            anchors = [stamp(started - RETENTION)]
        bound = min(parse_stamp(t) for t in anchors) if reset else parse_stamp(anchors[0])
        bound -= self._overlap
        new = pages = 0
        after: str | None = None
        top: str | None = None
        while True:
            page, has_more = await self._client.list_events(
                types=EVENT_TYPES, created_gt=bound, starting_after=after, limit=PAGE
            )
            pages += 1
            top = top or _last_id(reversed(page))
            last = _last_id(page)
            done = not has_more or last is None
            if done:
                cursor = replace(self._store.event_cursor(), last_sweep_at=stamp(started))
                if reset and top is not None:
                    cursor = replace(cursor, last_id=top)
            new += await self._store_page(list(reversed(page)), cursor if done else None)
            if done:
                return PollResult(new, pages)
            after = last

    async def _backfill(self, cursor: EventCursor, started: datetime) -> PollResult:
        """Walk every event the API keeps, newest first; resumable from ``walk_after``."""
        new = pages = 0
        while True:
            page, has_more = await self._client.list_events(
                types=EVENT_TYPES, starting_after=cursor.walk_after, limit=PAGE
            )
            pages += 1
            first, last = _last_id(reversed(page)), _last_id(page)
            if first is not None and cursor.walk_top_id is None:
                top_time = _max_time(None, page) or stamp(started)
                cursor = replace(cursor, walk_top_id=first, walk_top_time=top_time)
            if last is not None:
                cursor = replace(cursor, walk_after=last)
            if not has_more or last is None:
                cursor = EventCursor(
                    last_id=cursor.walk_top_id,
                    newest_time=cursor.walk_top_time,
                    last_sweep_at=stamp(started),
                    last_poll_at=stamp(started),
                    start_at=cursor.start_at,
                )
                new += await self._store_page(list(reversed(page)), cursor)
                return PollResult(new, pages)
            new += await self._store_page(list(reversed(page)), cursor)

    async def _store_page(self, events: Sequence[RawEvent], cursor: EventCursor | None) -> int:
        """Insert a page (dedupe by id) and move the cursor in one transaction.

        Ids already in the inbox are skipped before anything is serialised: the overlap
        sweep re-reads events, and that must cost a set lookup, not a row.
        """
        now = self._clock()
        start = (cursor or self._store.event_cursor()).start_at
        rows = [
            held_before_start(inbox_row(event, now, live=self._live), start) for event in events
        ]
        known = self._store.known_event_ids([r.id for r in rows])
        fresh = list({r.id: r for r in rows if r.id not in known}.values())
        new = self._store.store_events(fresh, stamp(now), cursor=cursor)
        if new and self._on_new is not None:
            self._on_new()
        for row in fresh:
            if row.status == "dead":
                await self._refuse(row)
        return new

    async def _refuse(self, row: InboxEvent) -> None:
        """Loudly: an error log line, a notification, and a dead letter (already stored)."""
        mismatch = (row.last_error or "").startswith(_REFUSED)
        kind = "mode_mismatch" if mismatch else "dead_letter"
        _log.error(f"events.{kind}", event_id=row.id, type=row.type, error=row.last_error)
        await record_and_notify(
            self._store,
            self._notifier,
            NotificationRecord(
                stamp(self._clock()),
                kind,
                f"event {row.id} ({row.type}) is a dead letter: {row.last_error}",
                event_id=row.id,
            ),
        )

    async def read_since(self, moment: datetime) -> list[InboxEvent]:
        """Every event the API lists created after ``moment``, oldest first, as inbox rows.

        For ``events replay``; unreadable or other-mode events come back as dead letters.
        """
        rows: list[InboxEvent] = []
        after: str | None = None
        now = self._clock()
        while True:
            page, has_more = await self._client.list_events(
                types=EVENT_TYPES, created_gt=moment, starting_after=after, limit=PAGE
            )
            rows.extend(inbox_row(event, now, live=self._live) for event in page)
            after = _last_id(page)
            if not has_more or after is None:
                return rows[::-1]

    # -- retention -------------------------------------------------------------------------
    async def check_outage(self) -> None:
        """At start: say plainly what a long outage may have cost (events expire after 30 days)."""
        cursor = self._store.event_cursor()
        if cursor.last_poll_at is None:
            return
        now = self._clock()
        away = now - parse_stamp(cursor.last_poll_at)
        warn = timedelta(days=self._settings.retention_warn_days)
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
            self._store, now=self._clock(), warn_days=self._settings.retention_warn_days
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
    store: LedgerState, notifier: Notifier, *records: NotificationRecord
) -> None:
    """Log notifications in the state database, then send them to the sinks."""
    store.add_notifications(records)
    for record in records:
        await notifier.notify(record)


def status_info(
    store: StateBackend, *, now: datetime | None = None, warn_days: float = 7.0
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
        "start_point": start_point_text(cursor),
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


def is_first_start(cursor: EventCursor) -> bool:
    """Whether no poll has begun yet: the start point is still to be fixed.

    A cursor from before ``events_start`` existed (events read, no start point) is not a first
    start: everything it reads is acted on, as before.
    """
    return cursor.start_at is None and cursor.last_id is None and cursor.walk_top_id is None


def fixed_start(setting: str | None, *, live: bool, now: datetime) -> str:
    """The start point a first start stores: a UTC time, or ``retained``.

    Without a setting a test key takes ``retained`` (a sandbox's whole history is what a test
    wants handled); a live key has no default: :class:`SettingsError` with the reason.
    """
    if setting is None:
        if live:
            raise SettingsError(START_REFUSAL)
        return EVENTS_START_RETAINED
    return stamp(now) if setting == EVENTS_START_NOW else setting


def start_refusal(settings: EventSettings, *, live: bool, cursor: EventCursor) -> str | None:
    """Why ``run`` must not start (a live key's first start without ``events_start``), or None."""
    if live and settings.start is None and is_first_start(cursor):
        return START_REFUSAL
    return None


#: One paragraph: why a live key's first start needs ``events_start``, and how to choose.
START_REFUSAL: Final = (
    "refusing to start: the API key is a live key and this state database has never read "
    "events, so catalog-sync does not know where to begin. Digital River keeps 30 days of "
    "events; acting on all of them could create fulfillment orders and capture or cancel "
    "charges for orders another integration already handled. Set events_start "
    "(CATALOG_SYNC_EVENTS_START) to now (act only on events from this start on), to an ISO "
    "time such as 2025-01-31T00:00:00Z (act on events after the moment the previous "
    "integration stopped), or to retained (act on everything Digital River still keeps). See "
    "first what a choice would do: catalog-sync events plan --since 2025-01-31T00:00:00Z."
)


def held_before_start(row: InboxEvent, start: str | None) -> InboxEvent:
    """``row`` as ``before_start`` when it was created before the start point, else as is.

    Stored all the same (``orders show`` and audits read it), never handled; only a new event
    is held, a dead letter stays one.
    """
    moment = start_moment(start)
    if moment is None or row.status != INBOX_RECEIVED or parse_stamp(row.created_time) >= moment:
        return row
    return replace(row, status=INBOX_BEFORE_START)


def start_moment(start_at: str | None) -> datetime | None:
    """The stored start point as a time; None when every event counts (``retained``, none)."""
    if start_at is None or start_at == EVENTS_START_RETAINED:
        return None
    return parse_stamp(start_at)


def placed_before(created: datetime | None, start: datetime) -> bool:
    """Whether an order created at ``created`` predates the start point (unknown: it does not)."""
    if created is None:
        return False
    return (created if created.tzinfo is not None else created.replace(tzinfo=UTC)) < start


def start_point_text(cursor: EventCursor) -> str:
    """What ``status`` says about the start point."""
    if cursor.start_at is not None:
        return cursor.start_at
    if is_first_start(cursor):
        return "not fixed yet (the first poll fixes events_start)"
    return "none (events were read before events_start existed: every event is acted on)"


_REFUSED: Final = "refused:"
#: Longest event id or type used as such; real ones are UUIDs and short dotted names.
_MAX_NAME: Final = 255
#: Stored times are compared as text, so they need a four-digit year.
_FIRST_YEAR: Final = 1000


def inbox_row(event: Mapping[str, Any], now: datetime, *, live: bool) -> InboxEvent:
    """The inbox row of one event as listed; unreadable or other-mode events are dead letters.

    Validation happens here, per event, so one bad event never blocks its page. Pure, and it
    never raises: whatever an event holds, it becomes a row the store can keep (a malformed
    event is kept for ``events retry`` and inspection, never dropped). An event without a usable
    id gets ``unreadable:<hash of its JSON>``: stable, so the overlap sweep still deduplicates
    it. Values nothing downstream could store or send (text that is not Unicode, numbers beyond
    64 bits or not finite, nesting deeper than ``json_values.MAX_DEPTH``) make the event a dead
    letter too, and are kept in its payload as text.
    """
    value_problems = [str(p) for p in json_values.problems(event)]
    payload: dict[str, Any] = json_values.storable(dict(event)) if value_problems else dict(event)
    problems: list[str] = []
    event_id = _usable_name(event.get("id"))
    if event_id is None:
        problems.append(f"id is missing or not a string of printable text (at most {_MAX_NAME})")
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode())
        event_id = f"unreadable:{digest.hexdigest()[:32]}"
    kind = _usable_name(event.get("type"))
    if kind is None:
        problems.append(f"type is missing or not a string of printable text (at most {_MAX_NAME})")
        kind = "unknown"
    created = _created(event)
    if created is None:
        problems.append("createdTime is missing or not an ISO-8601 time")
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        problems.append("data.object is missing or not an object")
    mode = event.get("liveMode")
    if mode is not None and not isinstance(mode, bool):
        problems.append("liveMode is not a boolean")
    problems.extend(value_problems)
    when = stamp(created or now)
    if problems:
        error = "unparseable event: " + "; ".join(problems)
        return InboxEvent(event_id, kind, when, payload, "dead", last_error=error)
    if mode is not None and mode != live:
        error = (
            f"{_REFUSED} a {'live' if mode else 'test'}-mode event while the configured key"
            f" is {'live' if live else 'test'} mode"
        )
        return InboxEvent(event_id, kind, when, payload, "dead", last_error=error)
    return InboxEvent(event_id, kind, when, payload, answer_to=answered_upstream_id(payload))


def _usable_name(value: Any) -> str | None:
    """``value`` if it can serve as an id or type, else ``None``.

    It must be printable text (no control character, no lone surrogate) of a reasonable
    length, as the API's ids and type names are: it becomes a cursor in a query string, a key
    in the state database and a word in logs.
    """
    if isinstance(value, str) and 0 < len(value) <= _MAX_NAME and value.isprintable():
        return value
    return None


def _created(event: Mapping[str, Any]) -> datetime | None:
    """The event's ``createdTime`` in UTC, or ``None`` if it is not a time a row can store."""
    text = event.get("createdTime")
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
    except (ValueError, OverflowError):  # overflow: a year-1 or year-9999 time with an offset
        return None
    return moment if moment.year >= _FIRST_YEAR else None


def _last_id(events: Iterable[RawEvent]) -> str | None:
    """The id of the last event that has a usable one: a cursor the API will accept."""
    found: str | None = None
    for event in events:
        event_id = _usable_name(event.get("id"))
        if event_id is not None:
            found = event_id
    return found


def _max_time(current: str | None, events: Iterable[RawEvent]) -> str | None:
    times = [stamp(t) for t in map(_created, events) if t is not None]
    if current is not None:
        times.append(current)
    return max(times, default=None)


def _add(a: PollResult, b: PollResult) -> PollResult:
    return PollResult(a.new + b.new, a.pages + b.pages)
