"""SQLite implementation of the state store.

WAL with ``synchronous=FULL`` so a committed transaction survives a crash or power loss:
"nothing lost on a crash" is a property of every commit here, not of a shutdown hook.

A database that cannot be used (read-only, immutable, damaged, on a full disk, a folder where
the file should be) raises :class:`StateError`: the path, what failed and what to do, in one
line. The transaction that met the error is rolled back, so what was committed stays as it was.
The file and its folder are created private (0600 / 0700): they hold customers' personal data.
SQLite gives the ``-wal``, ``-shm`` and ``-journal`` files the mode of the database file.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sqlite3
import stat
import threading
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Final, Self

from catalog_sync.state.activity import ActivityReads
from catalog_sync.state.errors import StateError
from catalog_sync.state.fulfillment import FulfillmentTables, rows_in
from catalog_sync.state.records import AppliedPair, AuditFindingRecord, CatalogFileRecord, RunRecord
from catalog_sync.state.requests import RequestTables
from catalog_sync.state.rows import (
    AUDIT_FINDING_COLUMNS,
    Row,
    applied_pair,
    audit_finding,
    audit_finding_values,
    flag,
    run_record,
)
from catalog_sync.state.schema import BACKFILLS, MIGRATIONS
from catalog_sync.support.clock import now_stamp
from catalog_sync.support.files import create_private_file, make_private_folder

_MEMORY: Final = ":memory:"
#: The first bytes of every SQLite database file.
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
#: Database files (device, inode) stores of this process hold open, and how many stores. POSIX
#: locks belong to the process and any ``close`` of the file drops them all, SQLite's included:
#: reading the header of a database another store of this process holds open (the activity
#: service reads on a connection of its own) would let another process take it for unused and
#: delete its WAL from under the daemon. SQLite's own opens and closes know of each other.
_OPEN_FILES: Final[Counter[tuple[int, int]]] = Counter()
_OPEN_FILES_LOCK: Final = threading.Lock()

#: What to do, by SQLite's primary result code (the extended codes share its prefix).
_ADVICE: Final = {
    "SQLITE_READONLY": (
        "make the file, its -wal/-shm files and its folder writable by this user "
        "(and not immutable: lsattr, chattr -i)"
    ),
    "SQLITE_CANTOPEN": (
        "check that the folder exists and is writable by this user (not immutable, not on a "
        "read-only mount) and that the path names a file"
    ),
    "SQLITE_PERM": "make the file and its folder writable by this user",
    "SQLITE_FULL": "free disk space (or raise the quota), then run the command again",
    "SQLITE_IOERR": "check the disk (dmesg) and free space, then run the command again",
    "SQLITE_CORRUPT": (
        "the file is damaged: stop catalog-sync, keep a copy of it and restore the last backup"
    ),
    "SQLITE_NOTADB": (
        "the file is not a catalog-sync database (damaged or wrong path): check the state "
        "setting, or restore the last backup"
    ),
    "SQLITE_BUSY": "another process holds the database locked; run the command again",
    "SQLITE_LOCKED": "another process holds the database locked; run the command again",
}
_OS_ADVICE: Final = {
    errno.EACCES: _ADVICE["SQLITE_PERM"],
    errno.EPERM: _ADVICE["SQLITE_READONLY"],
    errno.EROFS: "the filesystem is read-only: choose a state path on a writable one",
    errno.ENOSPC: _ADVICE["SQLITE_FULL"],
    errno.EDQUOT: _ADVICE["SQLITE_FULL"],
    errno.ENOTDIR: "a part of the path is a file, not a folder: fix the state setting",
}


def state_error(path: Path, exc: sqlite3.Error | OSError, action: str) -> StateError:
    """The :class:`StateError` for ``exc``, met while trying to ``action``."""
    if isinstance(exc, OSError):
        reason = exc.strerror or type(exc).__name__
        advice = _OS_ADVICE.get(exc.errno or 0, "check the path and its permissions")
        return StateError(path, f"cannot {action}: {reason}", advice)
    name = getattr(exc, "sqlite_errorname", None) or ""
    primary = "_".join(name.split("_")[:2])
    advice = _ADVICE.get(primary, "check the file, its folder and the disk")
    passing = isinstance(exc, sqlite3.OperationalError)
    return StateError(path, f"cannot {action}: {exc}", advice, passing=passing)


class _Connection(sqlite3.Connection):
    """A connection whose SQLite errors are :class:`StateError` naming the database."""

    state_path: Path = Path(_MEMORY)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as exc:
            raise state_error(self.state_path, exc, _action(sql)) from exc

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as exc:
            raise state_error(self.state_path, exc, _action(sql)) from exc


def _action(sql: str) -> str:
    verb = sql.lstrip().split(" ", 1)[0].upper()
    return {"SELECT": "read it", "PRAGMA": "open it"}.get(verb, "write it")


class StateStore(RequestTables, FulfillmentTables, ActivityReads):
    """The SQLite backend of :class:`~catalog_sync.state.interface.StateBackend`.

    Not shared across threads; a second instance on the same file (a reader on another thread)
    has a connection of its own. Its write helpers (``put_events``,
    ``add_intents``, ...) are the building blocks of the interface's atomic operations and run
    only inside :meth:`transaction`; nothing outside this package calls them.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create, private) the database at ``path`` and migrate it.

        Raises :class:`StateError` when it cannot be used; nothing is left open then.
        """
        self.path = path
        self._file: tuple[int, int] | None = None
        if str(path) != _MEMORY:
            _prepare(path)
        try:
            db = sqlite3.connect(
                str(path), isolation_level=None, check_same_thread=False, factory=_Connection
            )
        except sqlite3.Error as exc:
            raise state_error(path, exc, "open it") from exc
        db.state_path = path
        self._db: _Connection = db
        try:
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._migrate()
        except BaseException:
            self._db.close()
            raise
        if str(path) != _MEMORY:
            with contextlib.suppress(OSError), _OPEN_FILES_LOCK:
                self._file = _file_key(path)
                _OPEN_FILES[self._file] += 1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close; an SQLite error raised by a read in the block becomes a :class:`StateError`.

        Errors of ``execute`` are translated where they happen; a row that turns out to be
        damaged while a result is being iterated surfaces here instead.
        """
        self.close()
        error = exc[1] if len(exc) > 1 else None
        if isinstance(error, sqlite3.Error):
            raise state_error(self.path, error, "read it") from error

    def close(self) -> None:
        """Close the connection; committed data is already durable."""
        self._db.close()
        with _OPEN_FILES_LOCK:
            if self._file is not None:
                _OPEN_FILES[self._file] -= 1
                if _OPEN_FILES[self._file] <= 0:
                    del _OPEN_FILES[self._file]
                self._file = None

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

    def _select(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """One read of :class:`ActivityReads` (its SQL is SQLite's already)."""
        return list(self._db.execute(sql, params).fetchall())

    # -- infrastructure --------------------------------------------------------------------
    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        refuse_newer(self.path, version)
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
        """Run the block in one IMMEDIATE transaction: all of it is committed, or none.

        A failed COMMIT (disk full) is rolled back too. SQLite may have rolled back already
        (after SQLITE_FULL it can), and a failing ROLLBACK must not hide the first error.
        """
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:
                with contextlib.suppress(StateError):
                    self._db.execute("ROLLBACK")
            raise

    def import_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Insert ``rows`` (values of ``columns``) into ``table``, in one transaction: a scratch
        copy of a PostgreSQL state is filled with the rows it exported. A column this schema
        does not have (PostgreSQL's explicit ordering keys, where SQLite has its rowid) is
        left out."""
        here = {str(r[1]) for r in self._db.execute(f"PRAGMA table_info({table})")}
        kept = [i for i, column in enumerate(columns) if column in here]
        listed = ", ".join(columns[i] for i in kept)
        marks = ", ".join("?" * len(kept))
        with self.transaction():
            self._db.executemany(
                f"INSERT INTO {table} ({listed}) VALUES ({marks})",  # noqa: S608
                ([row[i] for i in kept] for row in rows),
            )

    # -- pairs -----------------------------------------------------------------------------
    def applied_pairs(self, ids: Iterable[str] | None = None) -> dict[str, AppliedPair]:
        """Return the pairs reconcile has applied, by id: all, or only those of ``ids``.

        Reading only ``ids`` keeps an incremental run's cost independent of the catalog size.
        """
        select = "SELECT id, content_hash, source_file, source_line, physical FROM pairs"
        if ids is None:
            return {row["id"]: applied_pair(row) for row in self._db.execute(select)}
        rows = rows_in(self._db, select + " WHERE id IN ({ids})", ids)
        return {row["id"]: applied_pair(row) for row in rows}

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
                    (
                        p.id,
                        p.content_hash,
                        p.source_file,
                        p.source_line,
                        flag(p.physical),
                        now,
                    )
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
    def catalog_files(self) -> dict[str, CatalogFileRecord]:
        """Every catalog file as last applied, by name."""
        rows = self._db.execute(
            "SELECT name, size, mtime_ns, applied_at, skipped_at FROM catalog_files"
        )
        return {row["name"]: CatalogFileRecord(*row) for row in rows}

    def record_catalog_files(
        self, applied: Mapping[str, tuple[int, int]], skipped: Collection[str], now: str
    ) -> None:
        """Upsert the applied files (no longer skipped); mark the skipped ones."""
        with self.transaction():
            self._db.executemany(
                "INSERT INTO catalog_files (name, size, mtime_ns, applied_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET size=excluded.size,"
                " mtime_ns=excluded.mtime_ns, applied_at=excluded.applied_at, skipped_at=NULL",
                ((name, size, mtime, now) for name, (size, mtime) in applied.items()),
            )
            self._db.executemany(
                "UPDATE catalog_files SET skipped_at = ? WHERE name = ?",
                ((now, name) for name in skipped),
            )

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

    def last_run(self, kinds: Collection[str] | None = None) -> RunRecord | None:
        """Return the newest finished run (of one of ``kinds``, when given), if any."""
        wanted = [] if kinds is None else list(kinds)
        where = "" if kinds is None else f" AND kind IN ({', '.join('?' * len(wanted))})"
        row = self._db.execute(
            f"SELECT * FROM runs WHERE finished_at IS NOT NULL{where}"  # noqa: S608
            " ORDER BY id DESC LIMIT 1",
            wanted,
        ).fetchone()
        return None if row is None else run_record(row)

    # -- orders audit findings -------------------------------------------------------------
    def record_audit_findings(self, run_id: int, findings: Sequence[AuditFindingRecord]) -> None:
        """Record the findings of audit run ``run_id``, all of them or none."""
        with self.transaction():
            self._db.executemany(
                f"INSERT INTO audit_findings ({AUDIT_FINDING_COLUMNS})"  # noqa: S608
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (audit_finding_values(replace(f, run_id=run_id)) for f in findings),
            )

    def audit_findings(self, since: str, until: str) -> list[AuditFindingRecord]:
        """Return the findings found in ``[since, until)``, in recording order."""
        rows = self._db.execute(
            f"SELECT {AUDIT_FINDING_COLUMNS} FROM audit_findings"  # noqa: S608
            " WHERE found_at >= ? AND found_at < ? ORDER BY found_at, seq",
            (since, until),
        )
        return [audit_finding(row) for row in rows]


def check_writable(path: Path) -> None:
    """Refuse a database that could be read but never written, before a writer starts.

    SQLite opens such a file read-only without a word and fails at the first commit, which
    for the daemon is after it has started. A reader (``status``) needs none of this.
    """
    if not path.exists():
        return  # created on open, in a folder that must then be writable anyway
    if not os.access(path, os.W_OK):
        raise StateError(path, "is read-only (or immutable)", _ADVICE["SQLITE_READONLY"])
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StateError(
            path,
            f"its folder {path.parent} is read-only (or immutable)",
            _ADVICE["SQLITE_READONLY"],
        )


def refuse_newer(path: Path, version: int) -> None:
    """Raise :class:`StateError` if schema ``version`` of ``path`` is newer than the code's."""
    if version > len(MIGRATIONS):
        raise StateError(
            path,
            f"has schema {version}, newer than this catalog-sync knows ({len(MIGRATIONS)})",
            "upgrade catalog-sync",
        )


def read_only_copy(source: Path, copy: Path) -> int:
    """Copy the SQLite database ``source`` to ``copy`` without writing to it; its schema version.

    A read-only connection and SQLite's backup API: a daemon writing beside it is undisturbed
    and the source is never created, migrated or changed.
    """
    try:
        db = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
        with closing(db), closing(sqlite3.connect(copy)) as into:
            db.backup(into)
            return int(db.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise state_error(source, exc, "read it") from exc


def _prepare(path: Path) -> None:
    """Refuse a path that is not a file; create a missing file and folder private."""
    try:
        mode = path.stat().st_mode if path.exists() else None
        if mode is not None and stat.S_ISDIR(mode):
            raise StateError(
                path,
                "is a folder, not a database file",
                f"set the state setting to a file path, e.g. {path / 'catalog-sync.db'}",
            )
        if mode is not None and not stat.S_ISREG(mode):
            raise StateError(
                path, "is not a regular file", "set the state setting to a database file path"
            )
        if mode is not None and path.stat().st_size > 0 and not _held_open(path):
            with path.open("rb") as existing:
                header = existing.read(len(_SQLITE_HEADER))
            if header != _SQLITE_HEADER:
                # SQLite would take a 1-byte file for an empty database and overwrite it.
                raise StateError(path, "is not an SQLite database", _ADVICE["SQLITE_NOTADB"])
        make_private_folder(path.parent)
        create_private_file(path)
    except OSError as exc:
        raise state_error(path, exc, "create it") from exc


def _file_key(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _held_open(path: Path) -> bool:
    """Whether a store of this process holds the file open (its header was checked then)."""
    with _OPEN_FILES_LOCK:
        return _file_key(path) in _OPEN_FILES


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
