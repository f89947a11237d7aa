"""PostgreSQL implementation of the state store, for state shared by several processes or hosts.

Raw SQL, like the SQLite backend, rather than a query builder: the interface is small, and the
two dialects differ exactly where correctness lives (upserts, locking, transactions), so each
backend spells those out itself. Every operation runs in one transaction on a connection of a
``psycopg_pool`` pool (reconnecting after a server restart). The operations the interface calls
atomic take a transaction-scoped advisory lock on the ledger (:data:`_LEDGER_LOCK`), so a claim,
a ledger commit and a claim of due writes never interleave, whichever process or host runs them:
atomicity does not rest on there being one writer.

Errors of the server or the connection raise :class:`StateError` naming the database without its
password (:func:`public_location`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, Self, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from catalog_sync.core.fulfillment import (
    INBOX_DEAD,
    INBOX_OPEN,
    INBOX_RECEIVED,
    INBOX_STATUSES,
    inbox_statuses_moved_by,
)
from catalog_sync.core.merchant_requests import OPEN_REQUEST_INTENT_STATUSES
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
from catalog_sync.state.activity import ActivityReads
from catalog_sync.state.errors import StateError
from catalog_sync.state.interface import LedgerReader
from catalog_sync.state.leadership import check_fence, instance_row, next_term
from catalog_sync.state.pg_schema import PG_MIGRATIONS
from catalog_sync.state.pg_text import text_adapters
from catalog_sync.state.records import (
    AppliedPair,
    AuditFindingRecord,
    CatalogFileRecord,
    EventCursor,
    EventOutcome,
    Fence,
    HistoryEntry,
    InboxEvent,
    InstanceRecord,
    Lease,
    LedgerEntry,
    LedgerMark,
    LedgerWrites,
    RequestClaims,
    RequestLineRecord,
    RequestRecord,
    RunRecord,
    WriteAnswer,
    WriteRetry,
)
from catalog_sync.state.rows import (
    AUDIT_FINDING_COLUMNS,
    Row,
    applied_pair,
    audit_finding,
    audit_finding_values,
    flag,
    inbox_event,
    ledger_entry,
    request_line,
    request_record,
    run_record,
)
from catalog_sync.support import logs
from catalog_sync.support.clock import now_stamp, stamp

T = TypeVar("T")

#: Advisory lock keys (``pg_advisory_xact_lock``): any 64-bit numbers unlikely to be used by
#: another application on the same database.
_LEDGER_LOCK: Final = 0x63_73_6C_65_64_67_65_72  # "csledger"
_MIGRATION_LOCK: Final = 0x63_73_6D_69_67_72_61_74  # "csmigrat"
#: A fenced transaction left idle this long (its client frozen) is ended by the server.
_FENCED_IDLE_MS: Final = 5000
#: Seconds to wait for a connection (of the pool, or to a server that is down).
_CONNECT_TIMEOUT: Final = 10.0
_ADVICE: Final = (
    "check the URL, that the server is up and reachable, and the password "
    "(URL, PGPASSWORD, .pgpass or the password file)"
)
_OPEN_EVENT_STATUSES: Final = list(INBOX_OPEN)
_OPEN_INTENT_STATUSES: Final = list(INTENT_OPEN)
_DONE_STATUSES: Final = frozenset(INBOX_STATUSES) - frozenset(INBOX_OPEN)

Connection = psycopg.Connection[DictRow]

#: Identity columns, whose sequences must move past rows copied in with their values.
_IDENTITIES: Final = (
    ("runs", "id"),
    ("intents", "seq"),
    ("order_history", "seq"),
    ("notifications", "seq"),
    ("audit_findings", "seq"),
)


@dataclass(frozen=True, slots=True)
class TableRows:
    """The rows of one table, as copied from another state by ``state migrate``."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def public_location(url: str) -> str:
    """The URL of the database for people: scheme, user, host, port and name, never a password."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unreadable URL)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{parts.get('host', '')}{port}/{parts.get('dbname', '')}"


class PostgresState(ActivityReads):
    """The PostgreSQL backend of :class:`~catalog_sync.state.interface.StateBackend`.

    Safe to share across threads (each operation borrows a pooled connection), and any number
    of processes may open the same database.
    """

    def __init__(self, url: str, *, password: str | None = None) -> None:
        """Connect to the database of ``url`` and migrate it.

        ``password`` (from a credential file) is used when the URL has none; libpq also reads
        ``PGPASSWORD`` and ``~/.pgpass``. Raises :class:`StateError` when it cannot be used.
        """
        self._location = public_location(url)
        self._fence: Fence | None = None
        given = conninfo_to_dict(url).get("password")
        for secret in (given, password):
            if isinstance(secret, str) and secret:
                logs.register_secret(secret)
        extra: dict[str, Any] = {"row_factory": dict_row, "context": text_adapters()}
        if password is not None and given is None:
            extra["password"] = password
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            connection_class=psycopg.Connection[DictRow],
            kwargs=extra,
            min_size=1,
            max_size=4,
            open=False,
            timeout=_CONNECT_TIMEOUT,
            name="catalog-sync-state",
        )
        try:
            # One direct connection first: its error says why (no such database, password
            # refused), where the pool would only time out.
            psycopg.connect(url, connect_timeout=int(_CONNECT_TIMEOUT), **extra).close()
            self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT)
            self._migrate()
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise StateError(
                self._location, f"cannot connect: {_first_line(exc)}", _ADVICE, passing=True
            ) from exc
        except PoolTimeout as exc:
            self._pool.close()
            raise StateError(self._location, "cannot connect", _ADVICE, passing=True) from exc
        except BaseException:
            self._pool.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        """Close."""
        self.close()

    def close(self) -> None:
        """Close every pooled connection; committed data is already durable."""
        self._pool.close()

    @property
    def location(self) -> str:
        """The database's URL without its password."""
        return self._location

    @contextmanager
    def _tx(self, *, ledger: bool = False) -> Iterator[_Queries]:
        """One transaction (committed at the end of the block, rolled back on an error).

        With ``ledger``, the ledger's advisory lock is held until the commit, so no other
        atomic ledger operation of any process lands in between.
        """
        try:
            with self._pool.connection() as conn:
                if ledger:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LEDGER_LOCK,))
                    if self._fence is not None:
                        self._check_fence(conn, self._fence)
                yield _Queries(conn)
        except PoolTimeout as exc:
            raise StateError(self._location, "cannot connect", _ADVICE, passing=True) from exc
        except psycopg.OperationalError as exc:
            raise StateError(
                self._location, f"cannot use it: {_first_line(exc)}", _ADVICE, passing=True
            ) from exc
        except psycopg.Error as exc:
            raise StateError(
                self._location, f"cannot write it: {_first_line(exc)}", "check the server's log"
            ) from exc

    def _select(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """One read of :class:`ActivityReads`, its ``?`` placeholders written as ``%s``."""
        with self._tx() as q:
            return list(q.all(sql.replace("?", "%s"), params))

    def _migrate(self) -> None:
        with self._tx() as q:
            q.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            q.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = q.one("SELECT max(version) AS version FROM schema_version")
            version = int(row["version"] or 0) if row is not None else 0
            if version > len(PG_MIGRATIONS):
                raise StateError(
                    self._location,
                    f"has schema {version}, newer than this catalog-sync knows "
                    f"({len(PG_MIGRATIONS)})",
                    "upgrade catalog-sync",
                )
            for number, script in enumerate(PG_MIGRATIONS[version:], start=version + 1):
                for statement in (part.strip() for part in script.split(";")):
                    if statement:
                        q.conn.execute(statement.encode())
                q.conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (number,))

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        with self._tx() as q:
            row = q.one("SELECT max(version) AS version FROM schema_version")
        return int(row["version"] or 0) if row is not None else 0

    def import_tables(self, tables: Sequence[TableRows]) -> dict[str, int]:
        """Copy ``tables`` into this database, which must be empty, in one transaction.

        Returns the rows now in each table. Raises :class:`StateError` (and writes nothing)
        when a table already holds rows, or when a count differs from the rows given.
        """
        with self._tx(ledger=True) as q:
            names = [t.table for t in tables]
            q.conn.execute(f"LOCK TABLE {', '.join(names)} IN EXCLUSIVE MODE".encode())
            occupied = [n for n in names if q.count(f"SELECT count(*) AS n FROM {n}")]  # noqa: S608
            if occupied:
                raise StateError(
                    self._location,
                    f"is not empty (rows in {', '.join(occupied)})",
                    "migrate into a new, empty database",
                )
            for t in tables:
                marks = ", ".join(["%s"] * len(t.columns))
                q.many(f"INSERT INTO {t.table} ({', '.join(t.columns)}) VALUES ({marks})", t.rows)  # noqa: S608
            for table, column in _IDENTITIES:
                q.run(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), max({column})) FROM {table}"  # noqa: S608
                    f" HAVING max({column}) IS NOT NULL",
                    (table, column),
                )
            counts = {n: q.count(f"SELECT count(*) AS n FROM {n}") for n in names}  # noqa: S608
            differ = [t.table for t in tables if counts[t.table] != len(t.rows)]
            if differ:
                raise StateError(
                    self._location,
                    f"the copy's row counts differ from the source in {', '.join(differ)}",
                    "nothing was written; report this as a bug",
                )
        return counts

    def export_tables(self, names: Sequence[str]) -> list[TableRows]:
        """Every row of the tables ``names``, read in one snapshot (``REPEATABLE READ``): a copy
        consistent across tables while a daemon keeps writing. Identity tables come in the
        order of their identity, the others by their first column."""
        identities = dict(_IDENTITIES)
        tables = []
        with self._tx() as q:
            q.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            for name in names:
                columns = tuple(
                    str(r["column_name"])
                    for r in q.all(
                        "SELECT column_name FROM information_schema.columns"
                        " WHERE table_name = %s AND table_schema = current_schema()"
                        " ORDER BY ordinal_position",
                        (name,),
                    )
                )
                order = identities.get(name, columns[0])
                rows = q.all(f"SELECT {', '.join(columns)} FROM {name} ORDER BY {order}")  # noqa: S608
                tables.append(
                    TableRows(name, columns, [tuple(r[c] for c in columns) for r in rows])
                )
        return tables

    # -- leadership --------------------------------------------------------------------------
    def take_lease(self, holder: str, seconds: float) -> Lease:
        """Renew or take the lease (``next_term``), timed by the server's clock."""
        with self._tx() as q:
            row = q.one(
                "SELECT holder, epoch, coalesce(expires_at > now(), false) AS live FROM leadership"
                " WHERE id = 1 FOR UPDATE"
            )
            assert row is not None
            term = next_term(row["holder"], row["epoch"], row["live"], holder)
            if term is not None:
                q.run(
                    "UPDATE leadership SET holder=%s, epoch=%s,"
                    " expires_at=now() + make_interval(secs => %s) WHERE id = 1",
                    (holder, term.epoch, seconds),
                )
            lease = self._read_lease(q)
        return lease if term is None else replace(lease, taken_from=term.taken_from)

    def release_lease(self, holder: str, epoch: int) -> None:
        """End the term now, keeping its holder for ``status``."""
        with self._tx() as q:
            q.run(
                "UPDATE leadership SET expires_at=now() WHERE id=1 AND holder=%s AND epoch=%s",
                (holder, epoch),
            )

    def lease(self) -> Lease:
        """The lease as it stands."""
        with self._tx() as q:
            return self._read_lease(q)

    def fence_with(self, fence: Fence | None) -> None:
        """Fence this backend's claims with ``fence`` (None: unfenced)."""
        self._fence = fence

    def record_instance(self, instance: InstanceRecord) -> None:
        """Upsert the instance, seen now (the server's clock)."""
        with self._tx() as q:
            q.run(
                "INSERT INTO instances (name, host, pid, role, epoch, last_seen)"
                " VALUES (%s, %s, %s, %s, %s, now()) ON CONFLICT (name) DO UPDATE SET"
                " host=excluded.host, pid=excluded.pid, role=excluded.role,"
                " epoch=excluded.epoch, last_seen=excluded.last_seen",
                instance_row(instance),
            )

    def instances(self) -> list[InstanceRecord]:
        """Every instance, by name."""
        with self._tx() as q:
            rows = q.all(
                "SELECT name, host, pid, role, epoch, last_seen FROM instances ORDER BY name"
            )
        return [
            InstanceRecord(
                r["name"], r["host"], r["pid"], r["role"], r["epoch"], stamp(r["last_seen"])
            )
            for r in rows
        ]

    def _check_fence(self, conn: Connection, fence: Fence) -> None:
        """Raise :class:`FencedError` unless ``fence`` holds a live lease, keeping the lease
        row shared until the commit: a new term cannot start while this claim is in flight,
        and a frozen client's open transaction is ended by the server after
        :data:`_FENCED_IDLE_MS`, so it cannot hold the next leader back."""
        conn.execute(f"SET LOCAL idle_in_transaction_session_timeout = {_FENCED_IDLE_MS}".encode())
        row = conn.execute(
            "SELECT holder, epoch, coalesce(expires_at > now(), false) AS live FROM leadership"
            " WHERE id = 1 FOR SHARE"
        ).fetchone()
        assert row is not None
        check_fence(fence, row["holder"], row["epoch"], row["live"], self._location)

    @staticmethod
    def _read_lease(q: _Queries) -> Lease:
        row = q.one(
            "SELECT holder, epoch, expires_at, greatest(extract(epoch FROM expires_at - now()),"
            " 0)::float AS remaining FROM leadership WHERE id = 1"
        )
        assert row is not None
        expires = row["expires_at"]
        return Lease(
            row["holder"],
            row["epoch"],
            None if expires is None else stamp(expires),
            row["remaining"] or 0.0,
        )

    # -- catalog ---------------------------------------------------------------------------
    def applied_pairs(self, ids: Iterable[str] | None = None) -> dict[str, AppliedPair]:
        """Return the pairs reconcile has applied, by id: all, or only those of ``ids``."""
        with self._tx() as q:
            return q.applied_pairs(ids)

    def applied_ids(self) -> set[str]:
        """Return the ids of every applied pair."""
        with self._tx() as q:
            return {row["id"] for row in q.all("SELECT id FROM pairs")}

    def record_applied(self, pairs: Iterable[AppliedPair]) -> None:
        """Remember that these pairs now match the catalog at Digital River."""
        now = now_stamp()
        with self._tx() as q:
            q.many(
                "INSERT INTO pairs (id, content_hash, source_file, source_line, physical,"
                " applied_at) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                " content_hash=excluded.content_hash, source_file=excluded.source_file,"
                " source_line=excluded.source_line, physical=excluded.physical,"
                " applied_at=excluded.applied_at",
                [
                    (
                        p.id,
                        p.content_hash,
                        p.source_file,
                        p.source_line,
                        flag(p.physical),
                        now,
                    )
                    for p in pairs
                ],
            )

    def forget_pairs(self, ids: Iterable[str]) -> None:
        """Drop pairs deleted remotely, or whose remote state must be re-read and re-applied."""
        with self._tx() as q:
            q.run("DELETE FROM pairs WHERE id = ANY(%s)", (list(ids),))

    def pair_ids_by_file(self, source_file: str) -> frozenset[str]:
        """Return the ids last applied from ``source_file``."""
        with self._tx() as q:
            rows = q.all("SELECT id FROM pairs WHERE source_file = %s", (source_file,))
        return frozenset(row["id"] for row in rows)

    def count_pairs(self) -> int:
        """Return how many pairs are tracked."""
        with self._tx() as q:
            return q.count("SELECT count(*) AS n FROM pairs")

    def known_physical(self, sku_ids: Iterable[str]) -> dict[str, bool]:
        """Return physical/digital for SKUs reconcile applied (unknown ones left out)."""
        with self._tx() as q:
            rows = q.all(
                "SELECT id, physical FROM pairs WHERE physical IS NOT NULL AND id = ANY(%s)",
                (list(sku_ids),),
            )
        return {row["id"]: bool(row["physical"]) for row in rows}

    def catalog_files(self) -> dict[str, CatalogFileRecord]:
        """Every catalog file as last applied, by name."""
        with self._tx() as q:
            rows = q.all("SELECT name, size, mtime_ns, applied_at, skipped_at FROM catalog_files")
        return {
            r["name"]: CatalogFileRecord(
                r["name"], r["size"], r["mtime_ns"], r["applied_at"], r["skipped_at"]
            )
            for r in rows
        }

    def record_catalog_files(
        self, applied: Mapping[str, tuple[int, int]], skipped: Collection[str], now: str
    ) -> None:
        """Upsert the applied files (no longer skipped); mark the skipped ones."""
        with self._tx() as q:
            q.many(
                "INSERT INTO catalog_files (name, size, mtime_ns, applied_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET size=excluded.size,"
                " mtime_ns=excluded.mtime_ns, applied_at=excluded.applied_at, skipped_at=NULL",
                [(name, size, mtime, now) for name, (size, mtime) in applied.items()],
            )
            q.many(
                "UPDATE catalog_files SET skipped_at = %s WHERE name = %s",
                [(now, name) for name in skipped],
            )

    def start_run(self, kind: str, *, dry_run: bool) -> int:
        """Record that a run began; returns its id."""
        with self._tx() as q:
            row = q.one(
                "INSERT INTO runs (kind, started_at, dry_run) VALUES (%s, %s, %s) RETURNING id",
                (kind, now_stamp(), int(dry_run)),
            )
        assert row is not None
        return int(row["id"])

    def finish_run(
        self, run_id: int, *, counts: Mapping[str, int], failures: int, report_path: str | None
    ) -> None:
        """Record a run's outcome."""
        with self._tx() as q:
            q.run(
                "UPDATE runs SET finished_at=%s, counts_json=%s, failures=%s, report_path=%s"
                " WHERE id=%s",
                (now_stamp(), json.dumps(dict(counts)), failures, report_path, run_id),
            )

    def last_run(self, kinds: Collection[str] | None = None) -> RunRecord | None:
        """Return the newest finished run (of one of ``kinds``, when given), if any."""
        with self._tx() as q:
            row = q.one(
                "SELECT * FROM runs WHERE finished_at IS NOT NULL"
                " AND (%s::text[] IS NULL OR kind = ANY(%s)) ORDER BY id DESC LIMIT 1",
                (None if kinds is None else list(kinds),) * 2,
            )
        return None if row is None else run_record(row)

    # -- orders audit findings -------------------------------------------------------------
    def record_audit_findings(self, run_id: int, findings: Sequence[AuditFindingRecord]) -> None:
        """Record the findings of audit run ``run_id``, all of them or none."""
        with self._tx() as q:
            q.many(
                f"INSERT INTO audit_findings ({AUDIT_FINDING_COLUMNS})"  # noqa: S608
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [audit_finding_values(replace(f, run_id=run_id)) for f in findings],
            )

    def audit_findings(self, since: str, until: str) -> list[AuditFindingRecord]:
        """Return the findings found in ``[since, until)``, in recording order."""
        with self._tx() as q:
            rows = q.all(
                f"SELECT {AUDIT_FINDING_COLUMNS} FROM audit_findings"  # noqa: S608
                " WHERE found_at >= %s AND found_at < %s ORDER BY found_at, seq",
                (since, until),
            )
        return [audit_finding(row) for row in rows]

    # -- inbox -----------------------------------------------------------------------------
    def store_events(
        self, events: Sequence[InboxEvent], now: str, *, cursor: EventCursor | None = None
    ) -> int:
        """Insert new events and move the cursor in one transaction; returns how many were new."""
        with self._tx() as q:
            new = q.put_events(events, now)
            if cursor is not None:
                q.set_event_cursor(cursor)
        return new

    def replay_events(self, events: Sequence[InboxEvent], now: str) -> int:
        """Send events back to ``received`` (dead ones only inserted if new), atomically."""
        replayed = [e for e in events if e.status != INBOX_DEAD]
        with self._tx() as q:
            q.replay(replayed, now)
            q.put_events([e for e in events if e.status == INBOX_DEAD], now)
        return len(replayed)

    def requeue_events(self, event_ids: Sequence[str] | None, now: str) -> list[str]:
        """Requeue events (``None``: every dead letter) and unpark their writes, atomically."""
        with self._tx(ledger=True) as q:
            ids = q.requeue(event_ids)
            q.unpark_intents([Origin.event(i) for i in ids], now)
        return ids

    def known_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Return which of these ids the inbox already holds."""
        with self._tx() as q:
            rows = q.all("SELECT id FROM inbox WHERE id = ANY(%s)", (list(event_ids),))
        return {row["id"] for row in rows}

    def inbox_event(self, event_id: str) -> InboxEvent | None:
        """Return one inbox event."""
        with self._tx() as q:
            row = q.one("SELECT * FROM inbox WHERE id = %s", (event_id,))
        return None if row is None else inbox_event(row)

    def inbox_events(
        self, status: str | None = None, *, limit: int = 100, since: str | None = None
    ) -> list[InboxEvent]:
        """Return inbox events, newest first, optionally of one status / created since."""
        with self._tx() as q:
            rows = q.all(
                "SELECT * FROM inbox WHERE (%(status)s::text IS NULL OR status = %(status)s)"
                " AND (%(since)s::text IS NULL OR created_time >= %(since)s)"
                " ORDER BY created_time DESC, id DESC LIMIT %(limit)s",
                {"status": status, "since": since, "limit": limit},
            )
        return [inbox_event(row) for row in rows]

    def due_events(self, now: str, limit: int) -> list[InboxEvent]:
        """Return the open events due now, oldest first."""
        with self._tx() as q:
            rows = q.all(
                "SELECT * FROM inbox WHERE status = ANY(%s)"
                " AND (next_attempt_at IS NULL OR next_attempt_at <= %s)"
                " ORDER BY created_time, id LIMIT %s",
                (_OPEN_EVENT_STATUSES, now, limit),
            )
        return [inbox_event(row) for row in rows]

    def inbox_counts(self) -> dict[str, int]:
        """Return the number of events per status (every status present, zeros included)."""
        counts: dict[str, int] = dict.fromkeys(INBOX_STATUSES, 0)
        with self._tx() as q:
            rows = q.all("SELECT status, count(*) AS n FROM inbox GROUP BY status")
        counts.update((row["status"], int(row["n"])) for row in rows)
        return counts

    def oldest_unhandled_time(self) -> str | None:
        """Return the created time of the oldest event still to be handled."""
        with self._tx() as q:
            row = q.one(
                "SELECT min(created_time) AS t FROM inbox WHERE status = ANY(%s)",
                (_OPEN_EVENT_STATUSES,),
            )
        return None if row is None else row["t"]

    def answer_to(self, upstream_id: str) -> InboxEvent | None:
        """Return the first event answering our request known to DR as ``upstream_id``."""
        with self._tx() as q:
            row = q.one(
                "SELECT * FROM inbox WHERE answer_to = %s ORDER BY created_time LIMIT 1",
                (upstream_id,),
            )
        return None if row is None else inbox_event(row)

    def event_cursor(self) -> EventCursor:
        """Return the polling cursor (empty before the first poll)."""
        with self._tx() as q:
            row = q.one("SELECT * FROM event_cursor WHERE id = 1")
        if row is None:
            return EventCursor()
        return EventCursor(**{k: v for k, v in row.items() if k != "id"})

    # -- ledger ----------------------------------------------------------------------------
    def order(self, order_id: str) -> Order | None:
        """Return our record of one order."""
        with self._tx() as q:
            return q.order(order_id)

    def orders_by_id(self, order_ids: Iterable[str]) -> dict[str, Order]:
        """Return our records of these orders (absent ones left out)."""
        with self._tx() as q:
            rows = q.all(
                "SELECT order_id, snapshot FROM orders WHERE order_id = ANY(%s)", (list(order_ids),)
            )
        return {row["order_id"]: order_from_json(json.loads(row["snapshot"])) for row in rows}

    def list_orders(self, state: str | None = None, *, limit: int = 1000) -> list[Order]:
        """Return orders, most recently updated first."""
        with self._tx() as q:
            rows = q.all(
                "SELECT snapshot FROM orders WHERE (%(state)s::text IS NULL OR state = %(state)s)"
                " ORDER BY updated DESC, order_id LIMIT %(limit)s",
                {"state": state, "limit": limit},
            )
        return [order_from_json(json.loads(row["snapshot"])) for row in rows]

    def ledger(self, order_id: str) -> list[LedgerEntry]:
        """Return an order's intents in the order they were recorded."""
        with self._tx() as q:
            return q.ledger(order_id)

    def ledgers(self, order_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        """Return the intents of several orders, each list in recording order."""
        with self._tx() as q:
            return q.ledgers(order_ids)

    def ledger_marks(self, order_ids: Iterable[str]) -> dict[str, LedgerMark]:
        """Return the current mark of each order that has intents."""
        with self._tx() as q:
            return q.ledger_marks(order_ids)

    def commit_ledger(
        self, writes: LedgerWrites, now: str, *, marks: Mapping[str, LedgerMark] | None = None
    ) -> frozenset[str]:
        """Commit ``writes`` in one transaction, less those of orders whose mark moved.

        The marks are compared under the ledger lock, in the transaction that writes, so no
        claim or settle of any process lands between the check and the commit.
        """
        with self._tx(ledger=True) as q:
            stale: frozenset[str] = frozenset()
            if marks is not None:
                touched = writes.touched_orders()
                current = q.ledger_marks(touched)
                stale = frozenset(o for o in touched if current.get(o) != marks.get(o))
            kept = writes.without_orders(stale)
            q.save_orders(kept.orders.values(), now)
            q.add_intents(kept.new_intents, now)
            q.save_intents(kept.updated_intents.values(), now)
            q.record_answers(kept.answers)
            q.record_retries(kept.retries, now)
            q.add_histories(kept.history, now)
            q.set_event_statuses(kept.events)
            q.add_notifications(kept.notices)
        return stale

    def claim_due_writes(
        self, now: str, limit: int, *, skip_orders: Collection[str] = ()
    ) -> list[LedgerEntry]:
        """Select the due writes and mark them sent under the ledger lock (entries as before)."""
        with self._tx(ledger=True) as q:
            rows = q.all(
                "SELECT i.* FROM intents i JOIN (SELECT min(seq) AS seq FROM intents"
                " WHERE status = ANY(%s) GROUP BY order_id) first ON i.seq = first.seq"
                " WHERE i.next_attempt_at IS NOT NULL AND i.next_attempt_at <= %s"
                " AND NOT (i.order_id = ANY(%s)) ORDER BY i.seq LIMIT %s",
                (_OPEN_INTENT_STATUSES, now, list(skip_orders), limit),
            )
            due = [ledger_entry(row) for row in rows]
            q.many(
                "UPDATE intents SET sent_at=%s, updated=%s WHERE key=%s",
                [(now, now, e.intent.key) for e in due if e.sent_at is None],
            )
        return due

    def count_pending_intents(self) -> int:
        """Return how many intents are not yet settled or failed."""
        with self._tx() as q:
            return q.count(
                "SELECT count(*) AS n FROM intents WHERE status = ANY(%s)",
                (_OPEN_INTENT_STATUSES,),
            )

    def captures_done(self) -> int:
        """Return how many captures landed."""
        with self._tx() as q:
            return q.count(
                "SELECT count(*) AS n FROM intents WHERE kind = 'capture' AND status = %s",
                (INTENT_LANDED,),
            )

    def history(self, order_id: str) -> list[HistoryEntry]:
        """Return an order's history, oldest first."""
        with self._tx() as q:
            rows = q.all(
                "SELECT time, event_id, summary FROM order_history WHERE order_id=%s ORDER BY seq",
                (order_id,),
            )
        return [HistoryEntry(row["time"], row["event_id"], row["summary"]) for row in rows]

    def add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        """Log notifications in one transaction."""
        with self._tx() as q:
            q.add_notifications(records)

    def notifications(self, *, limit: int = 100) -> list[NotificationRecord]:
        """Return the newest notifications, newest first."""
        with self._tx() as q:
            rows = q.all(
                "SELECT time, kind, message, order_id, event_id FROM notifications"
                " ORDER BY seq DESC LIMIT %s",
                (limit,),
            )
        return [
            NotificationRecord(r["time"], r["kind"], r["message"], r["order_id"], r["event_id"])
            for r in rows
        ]

    # -- merchant requests -----------------------------------------------------------------
    def claim_units(self, decide: Callable[[LedgerReader], tuple[RequestClaims, T]], now: str) -> T:
        """Decide on reads taken under the ledger lock and record the claims before releasing it.

        The lock is taken before the first read, so what ``decide`` reads is what the claims
        are written against, whatever other process writes the ledger.
        """
        with self._tx(ledger=True) as q:
            claims, result = decide(q)
            q.add_intents([*(i for r in claims.requests for i in r.intents), *claims.intents], now)
            for recorded in claims.requests:
                q.add_request(recorded.request, recorded.lines)
            q.many(
                "UPDATE merchant_request_lines SET intent_key=%s, retries=retries+1,"
                " retried_message=%s WHERE request_id=%s AND line_id=%s",
                [(r.intent_key, r.message, r.request_id, r.line_id) for r in claims.line_retries],
            )
            q.unpark_intents(claims.unpark_origins, now)
            q.add_histories(((order_id, None, text) for order_id, text in claims.history), now)
            if (file := claims.file) is not None:
                q.run(
                    "INSERT INTO request_files (name, sha256, processed_at, outcome, accepted,"
                    " refused) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (file.name, file.sha256, now, file.outcome, file.accepted, file.refused),
                )
        return result

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        """Return an order's requests, oldest first."""
        with self._tx() as q:
            return q.requests_of(order_id)

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        """Return the lines of an order's requests, in request then line order."""
        with self._tx() as q:
            return q.request_lines_of(order_id)

    def request_order_ids(self, *, limit: int = 1000) -> list[str]:
        """Return the orders with requests, most recent request first."""
        with self._tx() as q:
            rows = q.all(
                "SELECT order_id FROM merchant_requests GROUP BY order_id"
                " ORDER BY max(created_at) DESC, max(seq) DESC LIMIT %s",
                (limit,),
            )
        return [row["order_id"] for row in rows]

    def all_request_lines(self) -> list[tuple[RequestLineRecord, str]]:
        """Return every request line with its order id."""
        with self._tx() as q:
            rows = q.all(
                "SELECT l.*, r.order_id FROM merchant_request_lines l JOIN merchant_requests r"
                " USING (request_id) ORDER BY l.seq"
            )
        return [(request_line(row), row["order_id"]) for row in rows]

    def count_open_requests(self) -> int:
        """Return how many requests still have a line whose intent is not done."""
        with self._tx() as q:
            return q.count(
                "SELECT count(DISTINCT l.request_id) AS n FROM merchant_request_lines l"
                " JOIN intents i ON i.key = l.intent_key WHERE i.status = ANY(%s)",
                (list(OPEN_REQUEST_INTENT_STATUSES),),
            )

    def due_request_intents(self, now: str) -> int:
        """Return how many request intents are pending and due."""
        with self._tx() as q:
            return q.count(
                "SELECT count(*) AS n FROM intents WHERE status = ANY(%s)"
                " AND next_attempt_at IS NOT NULL AND next_attempt_at <= %s"
                " AND origin_kind = 'request'",
                (_OPEN_INTENT_STATUSES, now),
            )

    def request_file_outcome(self, name: str, sha256: str) -> str | None:
        """Return how this file, with this content, was processed (None: not yet)."""
        with self._tx() as q:
            row = q.one(
                "SELECT outcome FROM request_files WHERE name = %s AND sha256 = %s",
                (name, sha256),
            )
        return None if row is None else str(row["outcome"])


class _Queries:
    """The statements of one transaction; also the reader a claim decides on."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- plumbing --------------------------------------------------------------------------
    def all(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[DictRow]:
        return self.conn.execute(sql.encode(), params).fetchall()

    def one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> DictRow | None:
        return self.conn.execute(sql.encode(), params).fetchone()

    def count(self, sql: str, params: Sequence[Any] = ()) -> int:
        row = self.one(sql, params)
        return 0 if row is None else int(row["n"])

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql.encode(), params).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cursor:
                cursor.executemany(sql.encode(), rows)

    # -- reads -----------------------------------------------------------------------------
    def applied_pairs(self, ids: Iterable[str] | None) -> dict[str, AppliedPair]:
        select = "SELECT id, content_hash, source_file, source_line, physical FROM pairs"
        rows = (
            self.all(select)
            if ids is None
            else self.all(select + " WHERE id = ANY(%s)", (list(ids),))
        )
        return {row["id"]: applied_pair(row) for row in rows}

    def order(self, order_id: str) -> Order | None:
        row = self.one("SELECT snapshot FROM orders WHERE order_id = %s", (order_id,))
        return None if row is None else order_from_json(json.loads(row["snapshot"]))

    def ledger(self, order_id: str) -> list[LedgerEntry]:
        return self.ledgers([order_id]).get(order_id, [])

    def ledgers(self, order_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        rows = self.all(
            "SELECT * FROM intents WHERE order_id = ANY(%s) ORDER BY seq", (list(order_ids),)
        )
        found: dict[str, list[LedgerEntry]] = {}
        for row in rows:
            found.setdefault(row["order_id"], []).append(ledger_entry(row))
        return found

    def ledger_marks(self, order_ids: Iterable[str]) -> dict[str, LedgerMark]:
        rows = self.all(
            "SELECT order_id, max(seq) AS top, count(*) FILTER (WHERE NOT (status = ANY(%s)))"
            " AS moved FROM intents WHERE order_id = ANY(%s) GROUP BY order_id",
            (_OPEN_INTENT_STATUSES, list(order_ids)),
        )
        return {r["order_id"]: LedgerMark(int(r["top"]), int(r["moved"])) for r in rows}

    def request(self, request_id: str) -> RequestRecord | None:
        row = self.one("SELECT * FROM merchant_requests WHERE request_id = %s", (request_id,))
        return None if row is None else request_record(row)

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        rows = self.all(
            "SELECT * FROM merchant_requests WHERE order_id = %s ORDER BY created_at, seq",
            (order_id,),
        )
        return [request_record(row) for row in rows]

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        rows = self.all(
            "SELECT l.* FROM merchant_request_lines l JOIN merchant_requests r"
            " USING (request_id) WHERE r.order_id = %s ORDER BY r.created_at, r.seq, l.seq",
            (order_id,),
        )
        return [request_line(row) for row in rows]

    # -- writes ----------------------------------------------------------------------------
    def put_events(self, events: Iterable[InboxEvent], now: str) -> int:
        new = 0
        for e in events:
            new += self.run(
                "INSERT INTO inbox (id, type, created_time, payload, status, attempts,"
                " last_error, next_attempt_at, received_at, answer_to)"
                " VALUES (%s, %s, %s, %s, %s, 0, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
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
                ),
            )
        return new

    def replay(self, events: Iterable[InboxEvent], now: str) -> None:
        self.many(
            "INSERT INTO inbox (id, type, created_time, payload, status, attempts,"
            " received_at, answer_to) VALUES (%s, %s, %s, %s, %s, 0, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET status=excluded.status, attempts=0,"
            " last_error=NULL, next_attempt_at=NULL, handled_at=NULL",
            [
                (
                    e.id,
                    e.type,
                    e.created_time,
                    json.dumps(e.payload),
                    INBOX_RECEIVED,
                    now,
                    e.answer_to,
                )
                for e in events
            ],
        )

    def requeue(self, event_ids: Sequence[str] | None) -> list[str]:
        if event_ids is None:
            rows = self.all("SELECT id FROM inbox WHERE status = %s ORDER BY id", (INBOX_DEAD,))
            ids = [row["id"] for row in rows]
        else:
            movable = list(inbox_statuses_moved_by("requeue"))
            rows = self.all(
                "SELECT id FROM inbox WHERE id = ANY(%s) AND status = ANY(%s)",
                (list(event_ids), movable),
            )
            found = {row["id"] for row in rows}
            ids = [i for i in dict.fromkeys(event_ids) if i in found]
        self.run(
            "UPDATE inbox SET status=%s, attempts=0, next_attempt_at=NULL, last_error=NULL"
            " WHERE id = ANY(%s)",
            (INBOX_RECEIVED, ids),
        )
        return ids

    def set_event_cursor(self, cursor: EventCursor) -> None:
        self.run(
            "INSERT INTO event_cursor (id, last_id, newest_time, walk_after, walk_top_id,"
            " walk_top_time, last_sweep_at, last_poll_at, start_at)"
            " VALUES (1, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " last_id=excluded.last_id, newest_time=excluded.newest_time,"
            " walk_after=excluded.walk_after, walk_top_id=excluded.walk_top_id,"
            " walk_top_time=excluded.walk_top_time, last_sweep_at=excluded.last_sweep_at,"
            " last_poll_at=excluded.last_poll_at, start_at=excluded.start_at",
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
        self.many(
            "UPDATE inbox SET status=%s, last_error=%s, next_attempt_at=%s, handled_at=%s,"
            " attempts = attempts + %s WHERE id=%s",
            [
                (o.status, o.error, o.next_attempt_at, o.handled_at, int(o.attempted), o.event_id)
                for o in outcomes
            ],
        )

    def save_orders(self, orders: Iterable[Order], now: str) -> None:
        self.many(
            "INSERT INTO orders (order_id, state, snapshot, updated) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (order_id) DO UPDATE SET state=excluded.state,"
            " snapshot=excluded.snapshot, updated=excluded.updated",
            [(o.order_id, o.state, json.dumps(to_json(o)), now) for o in orders],
        )

    def add_intents(self, intents: Iterable[Intent], now: str) -> None:
        # One statement per intent, in order: the identity gives the recording order.
        for i in intents:
            self.run(
                "INSERT INTO intents (key, order_id, kind, status, intent, origin_kind,"
                " origin_id, next_attempt_at, updated) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (key) DO NOTHING",
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
                ),
            )

    def save_intents(self, intents: Iterable[Intent], now: str) -> None:
        self.many(
            "UPDATE intents SET status=%s, intent=%s, updated=%s WHERE key=%s",
            [(i.status, json.dumps(to_json(i)), now, i.key) for i in intents],
        )

    def record_retries(self, retries: Iterable[WriteRetry], now: str) -> None:
        self.many(
            "UPDATE intents SET attempts=attempts+1, last_error=%s, next_attempt_at=%s,"
            " updated=%s WHERE key=%s",
            [(r.error, r.next_attempt_at, now, r.key) for r in retries],
        )

    def record_answers(self, answers: Iterable[WriteAnswer]) -> None:
        self.many(
            "UPDATE intents SET reference=coalesce(%s, reference), last_error=%s WHERE key=%s",
            [(a.reference, a.error, a.key) for a in answers],
        )

    def unpark_intents(self, origins: Iterable[Origin], now: str) -> None:
        self.many(
            "UPDATE intents SET next_attempt_at=%s, attempts=0 WHERE status = ANY(%s)"
            " AND next_attempt_at IS NULL AND origin_kind = %s AND origin_id = %s",
            [(now, _OPEN_INTENT_STATUSES, o.kind, o.id) for o in origins],
        )

    def add_histories(self, lines: Iterable[tuple[str, str | None, str]], now: str) -> None:
        for order_id, event_id, summary in lines:
            self.run(
                "INSERT INTO order_history (order_id, time, event_id, summary)"
                " VALUES (%s, %s, %s, %s)",
                (order_id, now, event_id, summary),
            )

    def add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        for r in records:
            self.run(
                "INSERT INTO notifications (time, kind, order_id, event_id, message)"
                " VALUES (%s, %s, %s, %s, %s)",
                (r.time, r.kind, r.order_id, r.event_id, r.message),
            )

    def add_request(self, record: RequestRecord, lines: Iterable[RequestLineRecord]) -> None:
        self.run(
            "INSERT INTO merchant_requests (request_id, order_id, action, line_id, quantity,"
            " source, source_line, tracking_number, tracking_company, tracking_url, reason,"
            " created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                record.request_id,
                record.order_id,
                record.action,
                record.line_id,
                record.quantity,
                record.source,
                record.source_line,
                record.tracking_number,
                record.tracking_company,
                record.tracking_url,
                record.reason,
                record.created_at,
            ),
        )
        for x in lines:
            self.run(
                "INSERT INTO merchant_request_lines (request_id, line_id, quantity, route,"
                " intent_key, retries, retried_message) VALUES (%s, %s, %s, %s, %s, %s, NULL)",
                (x.request_id, x.line_id, x.quantity, x.route, x.intent_key, x.retries),
            )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
