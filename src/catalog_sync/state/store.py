"""SQLite implementation of the state store.

WAL with ``synchronous=FULL`` so a committed transaction survives a crash or power loss: the
brief's "nothing lost on crash" is a property of every commit here, not of a shutdown hook.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from catalog_sync.clock import now_stamp
from catalog_sync.state.fulfillment import FulfillmentTables
from catalog_sync.state.records import AppliedPair, RunRecord
from catalog_sync.state.requests import RequestTables
from catalog_sync.state.schema import BACKFILLS, MIGRATIONS

#: Ids bound per ``IN (...)`` query, well under SQLite's limit on host parameters.
_IDS_PER_QUERY = 500


class StateStore(RequestTables, FulfillmentTables):
    """The SQLite backend of :class:`~catalog_sync.state.interface.StateBackend`.

    One instance per process; not shared across threads. Its write helpers (``put_events``,
    ``add_intents``, ...) are the building blocks of the interface's atomic operations and run
    only inside :meth:`transaction`; nothing outside this package calls them.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._migrate()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; committed data is already durable."""
        self._db.close()

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

    # -- infrastructure --------------------------------------------------------------------
    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > len(MIGRATIONS):
            raise RuntimeError(
                f"state database {self.path} has schema {version}, newer than this "
                f"catalog-sync knows ({len(MIGRATIONS)}); upgrade catalog-sync"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.transaction():
                if self.schema_version >= number:
                    continue  # another process (the daemon, ``status``) migrated meanwhile
                for statement in _statements(script):
                    self._db.execute(statement)
                for backfill in BACKFILLS.get(number, ()):
                    backfill(self._db)
                self._db.execute(f"PRAGMA user_version={number}")

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run the block in one IMMEDIATE transaction: all of it is committed, or none."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- pairs -----------------------------------------------------------------------------
    def applied_pairs(self, ids: Iterable[str] | None = None) -> dict[str, AppliedPair]:
        """Return the pairs reconcile has applied, by id: all, or only those of ``ids``.

        Reading only ``ids`` keeps an incremental run's cost independent of the catalog size.
        """
        select = "SELECT id, content_hash, source_file, source_line, physical FROM pairs"
        if ids is None:
            return {row["id"]: _applied(row) for row in self._db.execute(select)}
        wanted = sorted(set(ids))
        found: dict[str, AppliedPair] = {}
        for start in range(0, len(wanted), _IDS_PER_QUERY):
            chunk = wanted[start : start + _IDS_PER_QUERY]
            marks = ",".join("?" * len(chunk))
            rows = self._db.execute(f"{select} WHERE id IN ({marks})", chunk)
            found.update((row["id"], _applied(row)) for row in rows)
        return found

    def applied_ids(self) -> set[str]:
        """Return the ids of every applied pair (cheaper than :meth:`applied_pairs`)."""
        return {row[0] for row in self._db.execute("SELECT id FROM pairs")}

    def record_applied(self, pairs: Iterable[AppliedPair]) -> None:
        """Remember that these pairs now match the catalog at Digital River."""
        now = now_stamp()
        with self.transaction():
            self._db.executemany(
                "INSERT INTO pairs (id, content_hash, source_file, source_line, physical,"
                " applied_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET"
                " content_hash=excluded.content_hash, source_file=excluded.source_file,"
                " source_line=excluded.source_line, physical=excluded.physical,"
                " applied_at=excluded.applied_at",
                (
                    (p.id, p.content_hash, p.source_file, p.source_line, _flag(p.physical), now)
                    for p in pairs
                ),
            )

    def forget_pairs(self, ids: Iterable[str]) -> None:
        """Drop pairs deleted remotely, or whose remote state must be re-read and re-applied."""
        with self.transaction():
            self._db.executemany("DELETE FROM pairs WHERE id = ?", ((i,) for i in ids))

    def pair_ids_by_file(self, source_file: str) -> frozenset[str]:
        """Return the ids last applied from ``source_file`` (protected if it becomes unreadable)."""
        rows = self._db.execute("SELECT id FROM pairs WHERE source_file = ?", (source_file,))
        return frozenset(row["id"] for row in rows)

    def count_pairs(self) -> int:
        """Return how many pairs are tracked."""
        return int(self._db.execute("SELECT count(*) FROM pairs").fetchone()[0])

    # -- runs ------------------------------------------------------------------------------
    def start_run(self, kind: str, *, dry_run: bool) -> int:
        """Record that a run began; returns its id."""
        with self.transaction():
            cursor = self._db.execute(
                "INSERT INTO runs (kind, started_at, dry_run) VALUES (?, ?, ?)",
                (kind, now_stamp(), int(dry_run)),
            )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def finish_run(
        self, run_id: int, *, counts: Mapping[str, int], failures: int, report_path: str | None
    ) -> None:
        """Record a run's outcome."""
        with self.transaction():
            self._db.execute(
                "UPDATE runs SET finished_at=?, counts_json=?, failures=?, report_path=?"
                " WHERE id=?",
                (now_stamp(), json.dumps(dict(counts)), failures, report_path, run_id),
            )

    def last_run(self) -> RunRecord | None:
        """Return the newest finished run, if any."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else _run(row)


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _applied(row: sqlite3.Row) -> AppliedPair:
    physical: Any = row["physical"]
    return AppliedPair(
        id=row["id"],
        content_hash=row["content_hash"],
        source_file=row["source_file"],
        source_line=row["source_line"],
        physical=None if physical is None else bool(physical),
    )


def _run(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        id=row["id"],
        kind=row["kind"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        dry_run=bool(row["dry_run"]),
        counts=json.loads(row["counts_json"]),
        failures=row["failures"],
        report_path=row["report_path"],
    )
