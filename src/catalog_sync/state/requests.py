"""The merchant request tables (issue 7): request log, claimed lines, request files processed.

A mixin of :class:`~catalog_sync.state.store.StateStore`, like the fulfillment tables. A
request's row, its lines and its intents (``FulfillmentTables.add_intents``) are written in one
``store.transaction()`` by the caller, which is what makes "recorded" and "units claimed" the
same moment. Statuses are not stored: they are derived from the intents each line points to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from catalog_sync.core.merchant_requests import Action, Route
from catalog_sync.state.fulfillment import FulfillmentTables

#: The inbox events that carry the fulfiller's answer to a cancellation we asked for.
_CANCELLATION_ANSWERS: Final = (
    "fulfillment_cancellation.accepted",
    "fulfillment_cancellation.rejected",
)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One row of the request log: who asked what, from where, when."""

    request_id: str
    order_id: str
    action: Action
    line_id: str | None
    quantity: int | None
    source: str
    source_line: int | None
    created_at: str
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RequestLineRecord:
    """Units of one order line a request claimed, and the intent now carrying them."""

    request_id: str
    line_id: str
    quantity: int
    route: Route
    intent_key: str
    retries: int = 0
    #: The API's message of the failure the merchant's last retry cleared.
    retried_message: str | None = None


class RequestTables(FulfillmentTables):
    """Merchant request queries of the state store (mixed into ``StateStore``)."""

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
        return None if row is None else _request(row)

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        """Return an order's requests, oldest first."""
        rows = self._db.execute(
            "SELECT * FROM merchant_requests WHERE order_id = ? ORDER BY created_at, rowid",
            (order_id,),
        )
        return [_request(row) for row in rows]

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        """Return the lines of an order's requests, in request then line order."""
        rows = self._db.execute(
            "SELECT l.* FROM merchant_request_lines l JOIN merchant_requests r"
            " USING (request_id) WHERE r.order_id = ? ORDER BY r.created_at, r.rowid, l.rowid",
            (order_id,),
        )
        return [_line(row) for row in rows]

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
        return [(_line(row), row["order_id"]) for row in rows]

    def retry_request_line(
        self, request_id: str, line_id: str, intent_key: str, message: str | None
    ) -> None:
        """Point a line at its re-claimed intent and count the merchant's retry."""
        self._writing().execute(
            "UPDATE merchant_request_lines SET intent_key=?, retries=retries+1,"
            " retried_message=? WHERE request_id=? AND line_id=?",
            (intent_key, message, request_id, line_id),
        )

    def cancellation_answer(self, upstream_id: str) -> dict[str, Any] | None:
        """Return the fulfiller's answer (the cancellation object) from the inbox, if seen."""
        marks = ",".join("?" * len(_CANCELLATION_ANSWERS))
        row = self._db.execute(
            f"SELECT payload FROM inbox WHERE type IN ({marks})"  # noqa: S608
            " AND json_extract(payload, '$.data.object.upstreamId') = ?"
            " ORDER BY created_time LIMIT 1",
            (*_CANCELLATION_ANSWERS, upstream_id),
        ).fetchone()
        if row is None:
            return None
        obj: Any = json.loads(row[0]).get("data", {}).get("object")
        return obj if isinstance(obj, dict) else None

    def count_open_requests(self) -> int:
        """Return how many requests still have a line whose intent is not done (cheap)."""
        row = self._db.execute(
            "SELECT count(DISTINCT l.request_id) FROM merchant_request_lines l"
            " JOIN intents i ON i.key = l.intent_key WHERE i.status != 'done'"
        ).fetchone()
        return int(row[0])

    def due_request_intents(self, now: str) -> int:
        """Return how many request intents are pending and due (the transmitter's trigger)."""
        row = self._db.execute(
            "SELECT count(*) FROM intents WHERE status = 'pending'"
            " AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?"
            " AND json_extract(intent, '$.origin') LIKE 'request:%'",
            (now,),
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


def _request(row: sqlite3.Row) -> RequestRecord:
    return RequestRecord(
        request_id=row["request_id"],
        order_id=row["order_id"],
        action=row["action"],
        line_id=row["line_id"],
        quantity=row["quantity"],
        source=row["source"],
        source_line=row["source_line"],
        created_at=row["created_at"],
        tracking_number=row["tracking_number"],
        tracking_company=row["tracking_company"],
        tracking_url=row["tracking_url"],
        reason=row["reason"],
    )


def _line(row: sqlite3.Row) -> RequestLineRecord:
    return RequestLineRecord(
        request_id=row["request_id"],
        line_id=row["line_id"],
        quantity=row["quantity"],
        route=row["route"],
        intent_key=row["intent_key"],
        retries=row["retries"],
        retried_message=row["retried_message"],
    )
