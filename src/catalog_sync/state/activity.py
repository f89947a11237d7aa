"""Reads over a period of time, for the activity report: one SQL text for both backends.

Every query here is a plain ``SELECT`` over columns both schemas share, with ``?`` for each
parameter; a backend mixes :class:`ActivityReads` in and supplies :meth:`ActivityReads._select`
(PostgreSQL's writes each ``?`` as ``%s``), so the two backends cannot drift apart on what "in
the period" means. A period is ``[since, until)`` in stored time text
(:func:`catalog_sync.support.clock.stamp`), which sorts as the time it writes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

from catalog_sync.core.activity import ORDER_EVENT_TYPES
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import INTENT_LANDED
from catalog_sync.state.records import (
    RequestLineRecord,
    RequestRecord,
    RunRecord,
    SettledWrite,
)
from catalog_sync.state.rows import Row, ledger_entry, request_line, request_record, run_record

#: Intent statuses a write ends in: landed at Digital River, or refused by it.
_ENDED: Final = (INTENT_LANDED, "failed")
#: Orders per ``IN (...)`` list: far below either database's parameter limit.
_CHUNK: Final = 500


class ActivityReads:
    """What happened in a period, read from the tables every backend has."""

    def _select(self, sql: str, params: Sequence[Any]) -> list[Row]:
        """Run one ``SELECT`` with ``?`` placeholders; provided by the backend."""
        raise NotImplementedError

    def runs_between(self, since: str, until: str) -> list[RunRecord]:
        """Return the runs (catalog, audits) started in the period, oldest first."""
        rows = self._select(
            "SELECT * FROM runs WHERE started_at >= ? AND started_at < ? ORDER BY id",
            (since, until),
        )
        return [run_record(row) for row in rows]

    def writes_settled_between(self, since: str, until: str) -> list[SettledWrite]:
        """Return the writes that landed or were refused in the period, in that order.

        Selected by time alone (index ``intents_by_updated``) and the pending ones, few, left
        out here: a condition on the status would make the planner walk every landed write.
        """
        rows = self._select(
            "SELECT * FROM intents WHERE updated >= ? AND updated < ? ORDER BY updated, seq",
            (since, until),
        )
        return [
            SettledWrite(ledger_entry(row), row["updated"])
            for row in rows
            if row["status"] in _ENDED
        ]

    def order_events(self, order_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Return, per order, the payloads of the order events we handled for it (oldest
        first, found through its history): they carry the order's line amounts."""
        found: dict[str, list[dict[str, Any]]] = {}
        wanted = sorted(set(order_ids))
        types = ", ".join("?" * len(ORDER_EVENT_TYPES))
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = self._select(
                "SELECT h.order_id, i.payload FROM order_history h"  # noqa: S608 - placeholders only
                f" JOIN inbox i ON i.id = h.event_id WHERE i.type IN ({types})"
                f" AND h.order_id IN ({', '.join('?' * len(chunk))}) ORDER BY h.seq",
                (*ORDER_EVENT_TYPES, *chunk),
            )
            for row in rows:
                found.setdefault(row["order_id"], []).append(json.loads(row["payload"]))
        return found

    def events_handled_between(self, since: str, until: str) -> dict[str, int]:
        """Return how many events were handled in the period, per status they ended in."""
        rows = self._select(
            "SELECT status, count(*) AS n FROM inbox WHERE handled_at >= ? AND handled_at < ?"
            " GROUP BY status",
            (since, until),
        )
        return {row["status"]: int(row["n"]) for row in rows}

    def orders_touched_between(self, since: str, until: str) -> int:
        """Return how many orders had a line added to their history in the period."""
        rows = self._select(
            "SELECT count(DISTINCT order_id) AS n FROM order_history WHERE time >= ? AND time < ?",
            (since, until),
        )
        return int(rows[0]["n"]) if rows else 0

    def notifications_between(self, since: str, until: str) -> list[NotificationRecord]:
        """Return the notifications logged in the period, oldest first."""
        rows = self._select(
            "SELECT time, kind, message, order_id, event_id FROM notifications"
            " WHERE time >= ? AND time < ? ORDER BY seq",
            (since, until),
        )
        return [
            NotificationRecord(r["time"], r["kind"], r["message"], r["order_id"], r["event_id"])
            for r in rows
        ]

    def requests_between(
        self, since: str, until: str
    ) -> list[tuple[RequestRecord, list[RequestLineRecord]]]:
        """Return the merchant requests received in the period with their lines, oldest first."""
        requests = self._select(
            "SELECT * FROM merchant_requests WHERE created_at >= ? AND created_at < ?"
            " ORDER BY created_at, request_id",
            (since, until),
        )
        lines = self._select(
            "SELECT l.* FROM merchant_request_lines l JOIN merchant_requests r"
            " ON r.request_id = l.request_id WHERE r.created_at >= ? AND r.created_at < ?"
            " ORDER BY l.request_id, l.line_id",
            (since, until),
        )
        lines_of: dict[str, list[RequestLineRecord]] = {}
        for row in lines:
            lines_of.setdefault(row["request_id"], []).append(request_line(row))
        return [(request_record(r), lines_of.get(r["request_id"], [])) for r in requests]
