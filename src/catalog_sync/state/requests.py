"""The merchant request tables: request log, claimed lines, request files processed.

A mixin of :class:`~catalog_sync.state.store.StateStore`, like the fulfillment tables.
:meth:`RequestTables.claim_units` writes a request's row, its lines and its intents in one
``store.transaction()`` after the caller decided on what it read in that same transaction,
which is what makes "recorded" and "units claimed" the same moment. Statuses are not stored:
they are derived from the intents each line points to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final, TypeVar

from catalog_sync.core.merchant_requests import OPEN_REQUEST_INTENT_STATUSES
from catalog_sync.core.orders import INTENT_OPEN, OriginKind
from catalog_sync.state.fulfillment import FulfillmentTables, sql_in
from catalog_sync.state.interface import LedgerReader
from catalog_sync.state.records import RequestClaims, RequestLineRecord, RequestRecord
from catalog_sync.state.rows import request_line, request_record

T = TypeVar("T")
#: A line's intent in one of these statuses keeps its request open (the core's definition).
_OPEN_REQUEST_SQL: Final = sql_in("i.status", OPEN_REQUEST_INTENT_STATUSES)
#: The origin kind of every intent a merchant request records.
_REQUEST_ORIGIN: Final[OriginKind] = "request"


class RequestTables(FulfillmentTables):
    """Merchant request queries of the state store (mixed into ``StateStore``)."""

    def claim_units(self, decide: Callable[[LedgerReader], tuple[RequestClaims, T]], now: str) -> T:
        """Decide on this store's reads and record the claims, in one IMMEDIATE transaction.

        SQLite has one writer: holding the write lock from the first read to the commit is
        what keeps any other claim or ledger write from landing in between.
        """
        with self.fenced_transaction():
            claims, result = decide(self)
            intents = [i for r in claims.requests for i in r.intents]
            self.add_intents([*intents, *claims.intents], now)
            for recorded in claims.requests:
                self.add_request(recorded.request, recorded.lines)
            for retry in claims.line_retries:
                self.retry_request_line(
                    retry.request_id, retry.line_id, retry.intent_key, retry.message
                )
            self.unpark_intents(claims.unpark_origins, now)
            self.add_histories(
                ((order_id, None, summary) for order_id, summary in claims.history), now
            )
            if (file := claims.file) is not None:
                self.record_request_file(
                    file.name,
                    file.sha256,
                    outcome=file.outcome,
                    accepted=file.accepted,
                    refused=file.refused,
                    now=now,
                )
        return result

    def add_request(self, record: RequestRecord, lines: Iterable[RequestLineRecord]) -> None:
        """Record a request and the lines it claimed."""
        db = self._writing()
        db.execute(
            "INSERT INTO merchant_requests (request_id, order_id, action, line_id, quantity,"
            " source, source_line, tracking_number, tracking_company, tracking_url, reason,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
        db.executemany(
            "INSERT INTO merchant_request_lines (request_id, line_id, quantity, route,"
            " intent_key, retries, retried_message) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                (x.request_id, x.line_id, x.quantity, x.route, x.intent_key, x.retries, None)
                for x in lines
            ),
        )

    def request(self, request_id: str) -> RequestRecord | None:
        """Return the request recorded under ``request_id``, whatever its order (None: none)."""
        row = self._db.execute(
            "SELECT * FROM merchant_requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        return None if row is None else request_record(row)

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        """Return an order's requests, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM merchant_requests WHERE order_id = ? ORDER BY created_at, rowid",
            (order_id,),
        )
        return [request_record(row) for row in rows]

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        """Return the lines of an order's requests, in request then line order."""
        rows = self._db.execute(
            "SELECT l.* FROM merchant_request_lines l JOIN merchant_requests r"
            " USING (request_id) WHERE r.order_id = ? ORDER BY r.created_at, r.rowid, l.rowid",
            (order_id,),
        )
        return [request_line(row) for row in rows]

    def request_order_ids(self, *, limit: int = 1000) -> list[str]:
        """Return the orders with requests, most recent request first."""
        rows = self._db.execute(
            "SELECT order_id FROM merchant_requests GROUP BY order_id"
            " ORDER BY max(created_at) DESC LIMIT ?",
            (limit,),
        )
        return [row[0] for row in rows]

    def all_request_lines(self) -> list[tuple[RequestLineRecord, str]]:
        """Return every request line with its order id (for the status counts)."""
        rows = self._db.execute(
            "SELECT l.*, r.order_id FROM merchant_request_lines l JOIN merchant_requests r"
            " USING (request_id) ORDER BY l.rowid"
        )
        return [(request_line(row), row["order_id"]) for row in rows]

    def retry_request_line(
        self, request_id: str, line_id: str, intent_key: str, message: str | None
    ) -> None:
        """Point a line at its re-claimed intent and count the merchant's retry."""
        self._writing().execute(
            "UPDATE merchant_request_lines SET intent_key=?, retries=retries+1,"
            " retried_message=? WHERE request_id=? AND line_id=?",
            (intent_key, message, request_id, line_id),
        )

    def count_open_requests(self) -> int:
        """Return how many requests still have a line whose intent is not done (cheap)."""
        row = self._db.execute(
            "SELECT count(DISTINCT l.request_id) FROM merchant_request_lines l"  # noqa: S608
            f" JOIN intents i ON i.key = l.intent_key WHERE {_OPEN_REQUEST_SQL}"
        ).fetchone()
        return int(row[0])

    def due_request_intents(self, now: str) -> int:
        """Return how many request intents are pending and due (the transmitter's trigger)."""
        row = self._db.execute(
            f"SELECT count(*) FROM intents WHERE {sql_in('status', INTENT_OPEN)}"  # noqa: S608
            " AND next_attempt_at IS NOT NULL AND next_attempt_at <= ? AND origin_kind = ?",
            (now, _REQUEST_ORIGIN),
        ).fetchone()
        return int(row[0])

    # -- request files ---------------------------------------------------------------------
    def request_file_outcome(self, name: str, sha256: str) -> str | None:
        """Return how this file, with this content, was processed (None: not yet)."""
        row = self._db.execute(
            "SELECT outcome FROM request_files WHERE name = ? AND sha256 = ?", (name, sha256)
        ).fetchone()
        return None if row is None else str(row[0])

    def record_request_file(
        self, name: str, sha256: str, *, outcome: str, accepted: int, refused: int, now: str
    ) -> None:
        """Remember that a file was processed (in the transaction recording its requests)."""
        self._writing().execute(
            "INSERT OR IGNORE INTO request_files (name, sha256, processed_at, outcome, accepted,"
            " refused) VALUES (?, ?, ?, ?, ?, ?)",
            (name, sha256, now, outcome, accepted, refused),
        )
