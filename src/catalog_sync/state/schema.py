"""Schema migrations, applied in order; ``PRAGMA user_version`` records how many ran.

Append only: a released migration is never edited, so a database written by any earlier
version upgrades in place when the daemon starts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Final

from catalog_sync.core.fulfillment import CANCELLATION_ANSWERS, answered_upstream_id
from catalog_sync.core.orders import Origin

MIGRATIONS: Final[tuple[str, ...]] = (
    # 1: what reconcile last applied per pair, and one row per run.
    """
    CREATE TABLE pairs (
        id            TEXT PRIMARY KEY,
        content_hash  TEXT NOT NULL,
        source_file   TEXT NOT NULL,
        source_line   INTEGER NOT NULL,
        physical      INTEGER,
        applied_at    TEXT NOT NULL
    );
    CREATE INDEX pairs_by_file ON pairs (source_file);
    CREATE TABLE runs (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        kind          TEXT NOT NULL,
        started_at    TEXT NOT NULL,
        finished_at   TEXT,
        dry_run       INTEGER NOT NULL DEFAULT 0,
        counts_json   TEXT NOT NULL DEFAULT '{}',
        failures      INTEGER NOT NULL DEFAULT 0,
        report_path   TEXT
    );
    """,
    # 2: distributed-model fulfillment: inbox, event cursor, orders, the intent
    # ledger, order history and the notification log.
    """
    CREATE TABLE inbox (
        id               TEXT PRIMARY KEY,
        type             TEXT NOT NULL,
        created_time     TEXT NOT NULL,
        payload          TEXT NOT NULL,
        status           TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        last_error       TEXT,
        next_attempt_at  TEXT,
        received_at      TEXT NOT NULL,
        handled_at       TEXT
    );
    CREATE INDEX inbox_due ON inbox (status, created_time);
    CREATE INDEX inbox_open ON inbox (created_time, id)
        WHERE status IN ('received', 'deferred', 'error');
    CREATE TABLE event_cursor (
        id               INTEGER PRIMARY KEY CHECK (id = 1),
        last_id          TEXT,
        newest_time      TEXT,
        walk_after       TEXT,
        walk_top_id      TEXT,
        walk_top_time    TEXT,
        last_sweep_at    TEXT,
        last_poll_at     TEXT
    );
    CREATE TABLE orders (
        order_id         TEXT PRIMARY KEY,
        state            TEXT NOT NULL,
        snapshot         TEXT NOT NULL,
        updated          TEXT NOT NULL
    );
    CREATE INDEX orders_by_state ON orders (state);
    CREATE TABLE intents (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        key              TEXT NOT NULL UNIQUE,
        order_id         TEXT NOT NULL,
        kind             TEXT NOT NULL,
        status           TEXT NOT NULL,
        intent           TEXT NOT NULL,
        attempts         INTEGER NOT NULL DEFAULT 0,
        sent_at          TEXT,
        next_attempt_at  TEXT,
        last_error       TEXT,
        reference        TEXT,
        updated          TEXT NOT NULL
    );
    CREATE INDEX intents_by_order ON intents (order_id, seq);
    CREATE INDEX intents_pending ON intents (status, next_attempt_at);
    CREATE INDEX intents_pending_order ON intents (status, order_id, seq);
    CREATE TABLE order_history (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id         TEXT NOT NULL,
        time             TEXT NOT NULL,
        event_id         TEXT,
        summary          TEXT NOT NULL
    );
    CREATE INDEX history_by_order ON order_history (order_id, seq);
    CREATE TABLE notifications (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        time             TEXT NOT NULL,
        kind             TEXT NOT NULL,
        order_id         TEXT,
        event_id         TEXT,
        message          TEXT NOT NULL
    );
    """,
    # 3: merchant requests: the request log, the lines each request claimed (with
    # the intent carrying them and the merchant's retries), and request files processed.
    """
    CREATE TABLE merchant_requests (
        request_id       TEXT PRIMARY KEY,
        order_id         TEXT NOT NULL,
        action           TEXT NOT NULL,
        line_id          TEXT,
        quantity         INTEGER,
        source           TEXT NOT NULL,
        source_line      INTEGER,
        tracking_number  TEXT,
        tracking_company TEXT,
        tracking_url     TEXT,
        reason           TEXT,
        created_at       TEXT NOT NULL
    );
    CREATE INDEX merchant_requests_by_order ON merchant_requests (order_id, created_at);
    CREATE TABLE merchant_request_lines (
        request_id       TEXT NOT NULL REFERENCES merchant_requests (request_id),
        line_id          TEXT NOT NULL,
        quantity         INTEGER NOT NULL,
        route            TEXT NOT NULL,
        intent_key       TEXT NOT NULL,
        retries          INTEGER NOT NULL DEFAULT 0,
        retried_message  TEXT,
        PRIMARY KEY (request_id, line_id)
    );
    CREATE INDEX merchant_request_lines_by_intent ON merchant_request_lines (intent_key);
    CREATE TABLE request_files (
        name             TEXT NOT NULL,
        sha256           TEXT NOT NULL,
        processed_at     TEXT NOT NULL,
        outcome          TEXT NOT NULL,
        accepted         INTEGER NOT NULL,
        refused          INTEGER NOT NULL,
        PRIMARY KEY (name, sha256)
    );
    """,
    # 4: the upstream id of our request an event answers, taken from the payload by the core
    # when the event is stored, so the answer is looked up without reading payloads.
    """
    ALTER TABLE inbox ADD COLUMN answer_to TEXT;
    CREATE INDEX inbox_answers ON inbox (answer_to, created_time) WHERE answer_to IS NOT NULL;
    """,
    # 5: what each intent was decided on (an event or a merchant request, by id) in columns of
    # its own, so parked writes are found by their origin without reading the stored JSON.
    """
    ALTER TABLE intents ADD COLUMN origin_kind TEXT;
    ALTER TABLE intents ADD COLUMN origin_id TEXT;
    CREATE INDEX intents_by_origin ON intents (origin_kind, origin_id);
    """,
    # 6: the point a first start began acting on events from (``events_start``, fixed once),
    # so a restart never moves it and ``status`` can show it.
    """
    ALTER TABLE event_cursor ADD COLUMN start_at TEXT;
    """,
    # 7: leadership (one lease row: holder, term and expiry), the instances of the
    # deployment, as ``status`` shows them, and each catalog file as last applied (so a
    # node's older copy of a file is never applied over a newer one). With SQLite one daemon
    # holds the file's lock and is always the leader, through the same lease as PostgreSQL.
    """
    CREATE TABLE leadership (
        id          INTEGER PRIMARY KEY CHECK (id = 1),
        holder      TEXT,
        epoch       INTEGER NOT NULL,
        expires_at  TEXT
    );
    INSERT INTO leadership (id, holder, epoch, expires_at) VALUES (1, NULL, 0, NULL);
    CREATE TABLE instances (
        name        TEXT PRIMARY KEY,
        host        TEXT NOT NULL,
        pid         INTEGER NOT NULL,
        role        TEXT NOT NULL,
        epoch       INTEGER,
        last_seen   TEXT NOT NULL
    );
    CREATE TABLE catalog_files (
        name        TEXT PRIMARY KEY,
        size        INTEGER NOT NULL,
        mtime_ns    INTEGER NOT NULL,
        applied_at  TEXT NOT NULL,
        skipped_at  TEXT
    );
    """,
    # 8: the findings of each orders audit,
    # kept so a report over a period shows what was found and repaired after orders moved on.
    """
    CREATE TABLE audit_findings (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id           INTEGER NOT NULL,
        found_at         TEXT NOT NULL,
        kind             TEXT NOT NULL,
        order_id         TEXT NOT NULL,
        line_id          TEXT,
        units            INTEGER NOT NULL,
        amount           INTEGER,
        currency         TEXT,
        repaired         INTEGER NOT NULL,
        detail           TEXT NOT NULL
    );
    CREATE INDEX audit_findings_by_time ON audit_findings (found_at, seq);
    """,
    # 9: the times
    # the activity report reads a period by, so a day's report reads that day's rows, not all.
    """
    CREATE INDEX intents_by_updated ON intents (updated);
    CREATE INDEX inbox_by_handled ON inbox (handled_at) WHERE handled_at IS NOT NULL;
    CREATE INDEX history_by_time ON order_history (time);
    """,
)


def _answers_of_stored_events(db: sqlite3.Connection) -> None:
    """Fill ``answer_to`` for the events stored before the column existed (by the core)."""
    marks = ",".join("?" * len(CANCELLATION_ANSWERS))
    rows = db.execute(
        f"SELECT id, payload FROM inbox WHERE type IN ({marks})",  # noqa: S608
        sorted(CANCELLATION_ANSWERS),
    ).fetchall()
    db.executemany(
        "UPDATE inbox SET answer_to = ? WHERE id = ?",
        ((answered_upstream_id(json.loads(payload)), event_id) for event_id, payload in rows),
    )


def _origins_of_stored_intents(db: sqlite3.Connection) -> None:
    """Fill the origin columns of the intents stored before they existed, from the text the
    core wrote in each intent's JSON (the one decoder of that text is the core's)."""
    rows = db.execute("SELECT key, intent FROM intents").fetchall()
    origins = ((Origin.decode(json.loads(intent)["origin"]), key) for key, intent in rows)
    db.executemany(
        "UPDATE intents SET origin_kind = ?, origin_id = ? WHERE key = ?",
        ((origin.kind, origin.id, key) for origin, key in origins),
    )


#: Python steps run right after the migration of that number, in its transaction: data that
#: only the core can derive from what is stored.
BACKFILLS: Final[Mapping[int, tuple[Callable[[sqlite3.Connection], None], ...]]] = {
    4: (_answers_of_stored_events,),
    5: (_origins_of_stored_intents,),
}
