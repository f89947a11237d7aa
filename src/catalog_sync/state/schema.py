"""Schema migrations, applied in order; ``PRAGMA user_version`` records how many ran.

Append only: a released migration is never edited, so a database written by any earlier
version upgrades in place when the daemon starts.
"""

from __future__ import annotations

from typing import Final

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
)
