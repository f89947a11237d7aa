"""The fulfillment tables: inbox, event cursor, orders, intent ledger, history, notices.

A mixin of :class:`~catalog_sync.state.store.StateStore` so the store stays the one entry point
and every SQL statement stays in this package. The interface's operations (``store_events``,
``commit_ledger``, ``claim_due_writes``, ...) are each one transaction; the write helpers they
are built from must run inside ``store.transaction()`` (they refuse otherwise). Entities are
stored as the JSON of :func:`catalog_sync.core.orders.to_json`; no secret is ever part of them.
Which statuses exist and which are open come from the core's tables.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Final

from catalog_sync.core.fulfillment import (
    INBOX_DEAD,
    INBOX_OPEN,
    INBOX_RECEIVED,
    INBOX_STATUSES,
    inbox_statuses_moved_by,
)
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import (
    INTENT_LANDED,
    INTENT_OPEN,
    Intent,
    Order,
    Origin,
    order_from_json,
    to_json,
)
from catalog_sync.state.leadership import LeaseTables
from catalog_sync.state.records import (
    EventCursor,
    EventOutcome,
    HistoryEntry,
    InboxEvent,
    LedgerEntry,
    LedgerMark,
    LedgerWrites,
    WriteAnswer,
    WriteRetry,
)
from catalog_sync.state.rows import inbox_event, ledger_entry

#: Rows per ``IN (...)`` query: far below SQLite's variable limit.
_CHUNK: Final = 500
#: Payloads of open events kept decoded in memory (see ``FulfillmentTables.due_events``).
_PAYLOAD_CACHE: Final = 50_000
_INBOX_COLUMNS: Final = (
    "id, type, created_time, status, attempts, last_error, next_attempt_at, handled_at, answer_to"
)


def sql_in(column: str, values: Iterable[str]) -> str:
    """Return ``column IN ('a', 'b')`` for the core's status names (``= 'a'`` for one).

    Statuses are written into the SQL rather than bound, so a partial index whose condition
    names them (``inbox_open``) is usable; they are the core's identifiers, checked here.
    """
    names = list(values)
    if not names or not all(name.replace("_", "").isalpha() for name in names):
        raise ValueError(f"not status names: {names!r}")
    if len(names) == 1:
        return f"{column} = '{names[0]}'"
    return f"{column} IN ({', '.join(repr(name) for name in names)})"


def rows_in(db: sqlite3.Connection, sql: str, values: Iterable[str]) -> Iterator[sqlite3.Row]:
    """Run ``sql`` for the distinct ``values``, in chunks; yield every row.

    ``{ids}`` in ``sql`` stands for the placeholders of one chunk (``id IN ({ids})``): a
    chunk stays far below SQLite's variable limit, however many values there are.
    """
    wanted = sorted(set(values))
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        yield from db.execute(sql.format(ids=",".join("?" * len(chunk))), chunk)


#: The open inbox statuses as SQL, exactly the condition of the partial index ``inbox_open``.
_INBOX_OPEN_SQL: Final = sql_in("status", INBOX_OPEN)
#: The pending intents, as SQL.
_INTENT_OPEN_SQL: Final = sql_in("status", INTENT_OPEN)
_DONE_STATUSES: Final = frozenset(INBOX_STATUSES) - frozenset(INBOX_OPEN)


class NotInTransactionError(RuntimeError):
    """A ledger write was attempted outside ``store.transaction()``."""


class FulfillmentTables(LeaseTables):
    """Fulfillment queries of the state store (mixed into ``StateStore``); the claims and
    sent-marks run in the lease's ``fenced_transaction``."""

    _db: sqlite3.Connection

    if TYPE_CHECKING:

        def transaction(self) -> AbstractContextManager[None]:
            """Provided by ``StateStore``."""
            ...

    def _payloads(self) -> dict[str, dict[str, Any]]:
        """Payloads this process inserted and has not handled yet, already decoded.

        The poller hands each event to the handler through the inbox; decoding its JSON
        again was the handler's largest cost. A payload is never mutated once stored, and
        the cache only saves work: a row the cache misses is read from the table.
        """
        cache: dict[str, dict[str, Any]] | None = self.__dict__.get("_payload_cache")
        if cache is None:
            cache = {}
            self.__dict__["_payload_cache"] = cache
        return cache

    def _writing(self) -> sqlite3.Connection:
        if not self._db.in_transaction:
            raise NotInTransactionError("fulfillment writes must run inside store.transaction()")
        return self._db

    # -- inbox: operations -----------------------------------------------------------------
    def store_events(
        self, events: Sequence[InboxEvent], now: str, *, cursor: EventCursor | None = None
    ) -> int:
        """Insert new events and move the cursor in one transaction; returns how many were new."""
        with self.transaction():
            new = self.put_events(events, now)
            if cursor is not None:
                self.set_event_cursor(cursor)
        return new

    def replay_events(self, events: Sequence[InboxEvent], now: str) -> int:
        """Send events back to ``received`` (dead ones only inserted if new), atomically."""
        replayed = [e for e in events if e.status != INBOX_DEAD]
        with self.transaction():
            self._replay(replayed, now)
            self.put_events([e for e in events if e.status == INBOX_DEAD], now)
        return len(replayed)

    def requeue_events(self, event_ids: Sequence[str] | None, now: str) -> list[str]:
        """Requeue events (``None``: every dead letter) and unpark their writes, atomically."""
        with self.fenced_transaction():
            ids = self._requeue(event_ids)
            self.unpark_intents([Origin.event(i) for i in ids], now)
        return ids

    # -- inbox: write helpers --------------------------------------------------------------
    def put_events(self, events: Iterable[InboxEvent], now: str) -> int:
        """Insert events not seen before (dedupe by id); returns how many were new."""
        db = self._writing()
        events = list(events)
        cache = self._payloads()
        if len(cache) + len(events) > _PAYLOAD_CACHE:
            cache.clear()
        cache.update((e.id, e.payload) for e in events if e.status not in _DONE_STATUSES)
        before = db.total_changes
        db.executemany(
            "INSERT OR IGNORE INTO inbox (id, type, created_time, payload, status, attempts,"
            " last_error, next_attempt_at, received_at, answer_to)"
            " VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
            (
                (
                    e.id,
                    e.type,
                    e.created_time,
                    json.dumps(e.payload),
                    e.status,
                    e.last_error,
                    e.next_attempt_at,
                    now,
                    e.answer_to,
                )
                for e in events
            ),
        )
        return db.total_changes - before

    def _replay(self, events: Iterable[InboxEvent], now: str) -> None:
        """Insert events, or send known ones back to ``received``: the ledger keeps it safe."""
        db = self._writing()
        for e in events:
            db.execute(
                "INSERT INTO inbox (id, type, created_time, payload, status, attempts,"
                " received_at, answer_to) VALUES (?, ?, ?, ?, ?, 0, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status=excluded.status, attempts=0,"
                " last_error=NULL, next_attempt_at=NULL, handled_at=NULL",
                (
                    e.id,
                    e.type,
                    e.created_time,
                    json.dumps(e.payload),
                    INBOX_RECEIVED,
                    now,
                    e.answer_to,
                ),
            )

    def _requeue(self, event_ids: Sequence[str] | None) -> list[str]:
        """Send events back to ``received`` where the core's table allows it."""
        db = self._writing()
        if event_ids is None:
            ids = [r[0] for r in db.execute("SELECT id FROM inbox WHERE status = ?", (INBOX_DEAD,))]
        else:
            movable = sql_in("status", inbox_statuses_moved_by("requeue"))
            ids = [
                r[0]
                for i in event_ids
                for r in db.execute(
                    f"SELECT id FROM inbox WHERE id = ? AND {movable}",  # noqa: S608
                    (i,),
                )
            ]
        db.executemany(
            "UPDATE inbox SET status=?, attempts=0, next_attempt_at=NULL, last_error=NULL"
            " WHERE id=?",
            ((INBOX_RECEIVED, event_id) for event_id in ids),
        )
        return ids

    def set_event_cursor(self, cursor: EventCursor) -> None:
        """Replace the polling cursor."""
        self._writing().execute(
            "INSERT OR REPLACE INTO event_cursor (id, last_id, newest_time, walk_after,"
            " walk_top_id, walk_top_time, last_sweep_at, last_poll_at, start_at)"
            " VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cursor.last_id,
                cursor.newest_time,
                cursor.walk_after,
                cursor.walk_top_id,
                cursor.walk_top_time,
                cursor.last_sweep_at,
                cursor.last_poll_at,
                cursor.start_at,
            ),
        )

    def set_event_statuses(self, outcomes: Iterable[EventOutcome]) -> None:
        """Record how handling several events went, in one statement."""
        outcomes = list(outcomes)
        self._writing().executemany(
            "UPDATE inbox SET status=?, last_error=?, next_attempt_at=?, handled_at=?,"
            " attempts = attempts + ? WHERE id=?",
            (
                (
                    o.status,
                    o.error,
                    o.next_attempt_at,
                    o.handled_at,
                    int(o.attempted),
                    o.event_id,
                )
                for o in outcomes
            ),
        )
        cache = self._payloads()
        for outcome in outcomes:
            if outcome.status in _DONE_STATUSES:
                cache.pop(outcome.event_id, None)

    # -- inbox: reads ----------------------------------------------------------------------
    def known_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Return which of these ids the inbox already holds."""
        rows = rows_in(self._db, "SELECT id FROM inbox WHERE id IN ({ids})", event_ids)
        return {row[0] for row in rows}

    def inbox_event(self, event_id: str) -> InboxEvent | None:
        """Return one inbox row."""
        row = self._db.execute("SELECT * FROM inbox WHERE id = ?", (event_id,)).fetchone()
        return None if row is None else inbox_event(row)

    def inbox_events(
        self, status: str | None = None, *, limit: int = 100, since: str | None = None
    ) -> list[InboxEvent]:
        """Return inbox rows, newest first, optionally of one status / created after ``since``."""
        rows = self._db.execute(
            "SELECT * FROM inbox WHERE (? IS NULL OR status = ?)"
            " AND (? IS NULL OR created_time >= ?) ORDER BY created_time DESC, id DESC LIMIT ?",
            (status, status, since, since, limit),
        )
        return [inbox_event(row) for row in rows]

    def due_events(self, now: str, limit: int) -> list[InboxEvent]:
        """Return events to handle now, oldest first (payloads from the cache when there).

        The partial index ``inbox_open`` holds only open events in handling order, so a
        tick reads ``limit`` rows instead of sorting every open event of a backlog.
        """
        rows = self._db.execute(
            f"SELECT {_INBOX_COLUMNS} FROM inbox INDEXED BY inbox_open"  # noqa: S608
            f" WHERE {_INBOX_OPEN_SQL}"
            " AND (next_attempt_at IS NULL OR next_attempt_at <= ?)"
            " ORDER BY created_time, id LIMIT ?",
            (now, limit),
        ).fetchall()
        cache = self._payloads()
        missing = [row["id"] for row in rows if row["id"] not in cache]
        payloads = {
            event_id: cache[event_id] for event_id in cache.keys() & {r["id"] for r in rows}
        }
        found = rows_in(self._db, "SELECT id, payload FROM inbox WHERE id IN ({ids})", missing)
        payloads.update((row[0], json.loads(row[1])) for row in found)
        return [inbox_event(row, payloads[row["id"]]) for row in rows]

    def inbox_counts(self) -> dict[str, int]:
        """Return the number of inbox rows per status (every status present, zeros included)."""
        counts: dict[str, int] = dict.fromkeys(INBOX_STATUSES, 0)
        for row in self._db.execute("SELECT status, count(*) FROM inbox GROUP BY status"):
            counts[row[0]] = row[1]
        return counts

    def oldest_unhandled_time(self) -> str | None:
        """Return the created time of the oldest event still to be handled."""
        row = self._db.execute(
            f"SELECT min(created_time) FROM inbox WHERE {_INBOX_OPEN_SQL}"  # noqa: S608
        ).fetchone()
        return None if row is None else row[0]

    def answer_to(self, upstream_id: str) -> InboxEvent | None:
        """Return the first event answering our request known to DR as ``upstream_id``."""
        row = self._db.execute(
            "SELECT * FROM inbox WHERE answer_to = ? ORDER BY created_time LIMIT 1",
            (upstream_id,),
        ).fetchone()
        return None if row is None else inbox_event(row)

    def event_cursor(self) -> EventCursor:
        """Return the polling cursor (empty before the first poll)."""
        row = self._db.execute("SELECT * FROM event_cursor WHERE id = 1").fetchone()
        if row is None:
            return EventCursor()
        return EventCursor(**{k: row[k] for k in row.keys() if k != "id"})  # noqa: SIM118

    # -- ledger: operations ----------------------------------------------------------------
    def commit_ledger(
        self, writes: LedgerWrites, now: str, *, marks: Mapping[str, LedgerMark] | None = None
    ) -> frozenset[str]:
        """Commit ``writes`` in one transaction, less those of orders whose mark moved.

        The marks are compared inside the transaction that writes, so no claim or settle can
        land between the check and the commit.
        """
        with self.fenced_transaction():
            stale: frozenset[str] = frozenset()
            if marks is not None:
                touched = writes.touched_orders()
                current = self.ledger_marks(touched)
                stale = frozenset(o for o in touched if current.get(o) != marks.get(o))
            kept = writes.without_orders(stale)
            self.save_orders(kept.orders.values(), now)
            self.add_intents(kept.new_intents, now)
            self.save_intents(kept.updated_intents.values(), now)
            self._record_answers(kept.answers)
            self._record_retries(kept.retries, now)
            self.add_histories(kept.history, now)
            self.set_event_statuses(kept.events)
            self._add_notifications(kept.notices)
        return stale

    def claim_due_writes(
        self, now: str, limit: int, *, skip_orders: Collection[str] = ()
    ) -> list[LedgerEntry]:
        """Select the due writes and mark them sent in one transaction (entries as before)."""
        with self.fenced_transaction():
            due = [
                e
                for e in self.due_intents(now, limit + len(skip_orders))
                if e.intent.order_id not in skip_orders
            ][:limit]
            self.mark_intents_sent([e.intent.key for e in due if e.sent_at is None], now)
        return due

    def add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        """Log notifications in one transaction."""
        with self.transaction():
            self._add_notifications(records)

    # -- ledger: write helpers -------------------------------------------------------------
    def save_orders(self, orders: Iterable[Order], now: str) -> None:
        """Insert or replace our records of several orders, in one statement."""
        self._writing().executemany(
            "INSERT INTO orders (order_id, state, snapshot, updated) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (order_id) DO UPDATE SET state=excluded.state,"
            " snapshot=excluded.snapshot, updated=excluded.updated",
            ((o.order_id, o.state, json.dumps(to_json(o)), now) for o in orders),
        )

    def add_intents(self, intents: Iterable[Intent], now: str) -> None:
        """Record new intents (a known key is left alone: natural keys dedupe)."""
        self._writing().executemany(
            "INSERT OR IGNORE INTO intents (key, order_id, kind, status, intent, origin_kind,"
            " origin_id, next_attempt_at, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                (
                    i.key,
                    i.order_id,
                    i.kind,
                    i.status,
                    json.dumps(to_json(i)),
                    i.origin.kind,
                    i.origin.id,
                    now,
                    now,
                )
                for i in intents
            ),
        )

    def save_intents(self, intents: Iterable[Intent], now: str) -> None:
        """Replace the stored form and status of known intents."""
        self._writing().executemany(
            "UPDATE intents SET status=?, intent=?, updated=? WHERE key=?",
            ((i.status, json.dumps(to_json(i)), now, i.key) for i in intents),
        )

    def mark_intents_sent(self, keys: Iterable[str], now: str) -> None:
        """Record that these intents are about to be sent: from now on, read back first."""
        self._writing().executemany(
            "UPDATE intents SET sent_at=?, updated=? WHERE key=?", ((now, now, k) for k in keys)
        )

    def _record_retries(self, retries: Iterable[WriteRetry], now: str) -> None:
        """Count failed attempts; a retry without ``next_attempt_at`` parks its intent."""
        self._writing().executemany(
            "UPDATE intents SET attempts=attempts+1, last_error=?, next_attempt_at=?, updated=?"
            " WHERE key=?",
            ((r.error, r.next_attempt_at, now, r.key) for r in retries),
        )

    def _record_answers(self, answers: Iterable[WriteAnswer]) -> None:
        """Record the DR object proving an intent, or why it failed."""
        self._writing().executemany(
            "UPDATE intents SET reference=coalesce(?, reference), last_error=? WHERE key=?",
            ((a.reference, a.error, a.key) for a in answers),
        )

    def unpark_intents(self, origins: Iterable[Origin], now: str) -> int:
        """Make parked intents of these origins due again; returns how many."""
        db = self._writing()
        before = db.total_changes
        db.executemany(
            f"UPDATE intents SET next_attempt_at=?, attempts=0 WHERE {_INTENT_OPEN_SQL}"  # noqa: S608
            " AND next_attempt_at IS NULL AND origin_kind = ? AND origin_id = ?",
            ((now, origin.kind, origin.id) for origin in origins),
        )
        return db.total_changes - before

    def add_histories(self, lines: Iterable[tuple[str, str | None, str]], now: str) -> None:
        """Append ``(order_id, event_id, summary)`` lines to order histories."""
        self._writing().executemany(
            "INSERT INTO order_history (order_id, time, event_id, summary) VALUES (?, ?, ?, ?)",
            ((order_id, now, event_id, summary) for order_id, event_id, summary in lines),
        )

    def _add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        self._writing().executemany(
            "INSERT INTO notifications (time, kind, order_id, event_id, message)"
            " VALUES (?, ?, ?, ?, ?)",
            ((r.time, r.kind, r.order_id, r.event_id, r.message) for r in records),
        )

    # -- ledger: reads ---------------------------------------------------------------------
    def order(self, order_id: str) -> Order | None:
        """Return our record of one order."""
        row = self._db.execute(
            "SELECT snapshot FROM orders WHERE order_id = ?", (order_id,)
        ).fetchone()
        return None if row is None else order_from_json(json.loads(row[0]))

    def orders_by_id(self, order_ids: Iterable[str]) -> dict[str, Order]:
        """Return our records of these orders (absent ones left out)."""
        sql = "SELECT order_id, snapshot FROM orders WHERE order_id IN ({ids})"
        found: dict[str, Order] = {}
        for row in rows_in(self._db, sql, order_ids):
            found[row[0]] = order_from_json(json.loads(row[1]))
        return found

    def list_orders(self, state: str | None = None, *, limit: int = 1000) -> list[Order]:
        """Return orders, most recently updated first."""
        rows = self._db.execute(
            "SELECT snapshot FROM orders WHERE (? IS NULL OR state = ?)"
            " ORDER BY updated DESC, order_id LIMIT ?",
            (state, state, limit),
        )
        return [order_from_json(json.loads(row[0])) for row in rows]

    def ledger(self, order_id: str) -> list[LedgerEntry]:
        """Return an order's intents in the order they were recorded."""
        return self.ledgers([order_id]).get(order_id, [])

    def ledgers(self, order_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        """Return the intents of several orders, each list in recording order."""
        sql = "SELECT * FROM intents WHERE order_id IN ({ids}) ORDER BY seq"
        found: dict[str, list[LedgerEntry]] = {}
        for row in rows_in(self._db, sql, order_ids):
            found.setdefault(row["order_id"], []).append(ledger_entry(row))
        return found

    def ledger_marks(self, order_ids: Iterable[str]) -> dict[str, LedgerMark]:
        """Each order's mark: its newest intent seq and how many intents are no longer open."""
        sql = (
            f"SELECT order_id, max(seq) AS top, sum(NOT ({_INTENT_OPEN_SQL})) AS moved"  # noqa: S608
            " FROM intents WHERE order_id IN ({ids}) GROUP BY order_id"
        )
        rows = rows_in(self._db, sql, order_ids)
        return {row["order_id"]: LedgerMark(row["top"], row["moved"]) for row in rows}

    def due_intents(self, now: str, limit: int) -> list[LedgerEntry]:
        """Return each order's oldest pending intent, if due: one write per order in flight.

        One grouped scan of the pending intents (index ``intents_pending_order``) instead
        of a subquery per row.
        """
        rows = self._db.execute(
            "SELECT i.* FROM intents i JOIN (SELECT min(seq) AS seq FROM intents"  # noqa: S608
            f" WHERE {_INTENT_OPEN_SQL} GROUP BY order_id) first ON i.seq = first.seq"
            " WHERE i.next_attempt_at IS NOT NULL AND i.next_attempt_at <= ?"
            " ORDER BY i.seq LIMIT ?",
            (now, limit),
        )
        return [ledger_entry(row) for row in rows]

    def count_pending_intents(self) -> int:
        """Return how many intents are not yet settled or failed."""
        return int(
            self._db.execute(
                f"SELECT count(*) FROM intents WHERE {_INTENT_OPEN_SQL}"  # noqa: S608
            ).fetchone()[0]
        )

    def captures_done(self) -> int:
        """Return how many captures landed (one per shipment): progress for benchmarks, soak."""
        return int(
            self._db.execute(
                "SELECT count(*) FROM intents WHERE kind='capture' AND status=?",
                (INTENT_LANDED,),
            ).fetchone()[0]
        )

    def history(self, order_id: str) -> list[HistoryEntry]:
        """Return an order's history, oldest first."""
        rows = self._db.execute(
            "SELECT time, event_id, summary FROM order_history WHERE order_id=? ORDER BY seq",
            (order_id,),
        )
        return [HistoryEntry(row[0], row[1], row[2]) for row in rows]

    def notifications(self, *, limit: int = 100) -> list[NotificationRecord]:
        """Return the newest notifications, newest first."""
        rows = self._db.execute(
            "SELECT time, kind, message, order_id, event_id FROM notifications"
            " ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        return [NotificationRecord(*row) for row in rows]

    # -- catalog knowledge -------------------------------------------------------------------
    def known_physical(self, sku_ids: Iterable[str]) -> dict[str, bool]:
        """Return physical/digital for SKUs reconcile applied (unknown ones left out)."""
        sql = "SELECT id, physical FROM pairs WHERE physical IS NOT NULL AND id IN ({ids})"
        return {row[0]: bool(row[1]) for row in rows_in(self._db, sql, sku_ids)}
