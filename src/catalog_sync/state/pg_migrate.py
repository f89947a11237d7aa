"""Copying an SQLite state to an empty PostgreSQL database (``catalog-sync state migrate``).

Every table is copied column for column (the PostgreSQL schema has the SQLite one's columns),
rows in the order SQLite recorded them, so identities and recording orders stay as they were.
The copy is one PostgreSQL transaction that first checks the target is empty and last checks the
row counts against the source: a target is either the full copy or left as it was.
"""

from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Final

from catalog_sync.state.errors import StateError
from catalog_sync.state.postgres import PostgresState, TableRows
from catalog_sync.state.store import StateStore, read_only_copy, refuse_newer, state_error

#: Every table of the state, parents before the tables referring to them.
STATE_TABLES: Final = (
    "pairs",
    "runs",
    "inbox",
    "event_cursor",
    "orders",
    "intents",
    "order_history",
    "notifications",
    "merchant_requests",
    "merchant_request_lines",
    "request_files",
    "catalog_files",
)


def read_sqlite_tables(source: Path) -> list[TableRows]:
    """Every row of every table of the SQLite state at ``source``, in the newest schema.

    The source is never written: it is copied through a read-only connection and an older
    schema is migrated in the copy. A source newer than this catalog-sync is refused.
    """
    if not source.is_file():
        raise StateError(source, "does not exist", "check the state setting (the SQLite source)")
    with tempfile.TemporaryDirectory(prefix="catalog-sync-migrate-") as folder:
        copy = Path(folder) / "state.db"
        refuse_newer(source, read_only_copy(source, copy))
        StateStore(copy).close()  # migrates the copy of an older source
        db = sqlite3.connect(copy)
        try:
            tables = []
            for table in STATE_TABLES:
                columns = tuple(row[1] for row in db.execute(f"PRAGMA table_info({table})"))
                listed = ", ".join(columns)
                rows = db.execute(f"SELECT {listed} FROM {table} ORDER BY rowid").fetchall()  # noqa: S608
                tables.append(TableRows(table, columns, rows))
        except sqlite3.Error as exc:
            raise state_error(source, exc, "read it") from exc
        finally:
            db.close()
    return tables


def migrate_to_postgres(source: Path, url: str, *, password: str | None = None) -> dict[str, int]:
    """Copy the SQLite state at ``source`` to the empty PostgreSQL database of ``url``.

    Returns the rows copied per table. Raises :class:`StateError` when the target is not empty
    or the counts differ after the copy (nothing is written then).
    """
    tables = read_sqlite_tables(source)
    with PostgresState(url, password=password) as target:
        return target.import_tables(tables)
