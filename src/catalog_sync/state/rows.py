"""Stored rows as records: the one mapping from a table's columns to the records of the interface.

Both backends select the same columns, and both drivers' rows are read by column name, so a
record is built from a row the same way whichever database it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

from catalog_sync.core.orders import intent_from_json
from catalog_sync.state.records import (
    AppliedPair,
    AuditFindingRecord,
    InboxEvent,
    LedgerEntry,
    RequestLineRecord,
    RequestRecord,
    RunRecord,
)


class Row(Protocol):
    """A result row read by column name (``sqlite3.Row`` and psycopg's dict rows both are)."""

    def __getitem__(self, column: str, /) -> Any: ...


def flag(value: bool | None) -> int | None:
    """A yes / no / unknown flag as both databases store it (1, 0 or NULL)."""
    return None if value is None else int(value)


def applied_pair(row: Row) -> AppliedPair:
    """A row of ``pairs``."""
    physical = row["physical"]
    return AppliedPair(
        id=row["id"],
        content_hash=row["content_hash"],
        source_file=row["source_file"],
        source_line=row["source_line"],
        physical=None if physical is None else bool(physical),
    )


def run_record(row: Row) -> RunRecord:
    """A row of ``runs``."""
    return RunRecord(
        id=int(row["id"]),
        kind=row["kind"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        dry_run=bool(row["dry_run"]),
        counts=json.loads(row["counts_json"]),
        failures=row["failures"],
        report_path=row["report_path"],
    )


def inbox_event(row: Row, payload: dict[str, Any] | None = None) -> InboxEvent:
    """A row of ``inbox``; ``payload`` when the caller already decoded it."""
    return InboxEvent(
        id=row["id"],
        type=row["type"],
        created_time=row["created_time"],
        payload=json.loads(row["payload"]) if payload is None else payload,
        status=row["status"],
        attempts=row["attempts"],
        last_error=row["last_error"],
        next_attempt_at=row["next_attempt_at"],
        handled_at=row["handled_at"],
        answer_to=row["answer_to"],
    )


def ledger_entry(row: Row) -> LedgerEntry:
    """A row of ``intents``."""
    data: Mapping[str, Any] = json.loads(row["intent"])
    return LedgerEntry(
        intent=intent_from_json(data),
        seq=int(row["seq"]),
        attempts=row["attempts"],
        sent_at=row["sent_at"],
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        reference=row["reference"],
    )


def request_record(row: Row) -> RequestRecord:
    """A row of ``merchant_requests``."""
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


def request_line(row: Row) -> RequestLineRecord:
    """A row of ``merchant_request_lines``."""
    return RequestLineRecord(
        request_id=row["request_id"],
        line_id=row["line_id"],
        quantity=row["quantity"],
        route=row["route"],
        intent_key=row["intent_key"],
        retries=row["retries"],
        retried_message=row["retried_message"],
    )


#: The columns of ``audit_findings`` a record is stored in and read from, in the record's order.
AUDIT_FINDING_COLUMNS = (
    "run_id, found_at, kind, order_id, line_id, units, amount, currency, repaired, detail"
)


def audit_finding_values(finding: AuditFindingRecord) -> tuple[object, ...]:
    """The values of :data:`AUDIT_FINDING_COLUMNS` for one finding."""
    f = finding
    return (
        f.run_id,
        f.found_at,
        f.kind,
        f.order_id,
        f.line_id,
        f.units,
        f.amount,
        f.currency,
        int(f.repaired),
        f.detail,
    )


def audit_finding(row: Row) -> AuditFindingRecord:
    """A row of ``audit_findings``."""
    return AuditFindingRecord(
        run_id=int(row["run_id"]),
        found_at=row["found_at"],
        kind=row["kind"],
        order_id=row["order_id"],
        line_id=row["line_id"],
        units=row["units"],
        amount=None if row["amount"] is None else int(row["amount"]),
        currency=row["currency"],
        repaired=bool(row["repaired"]),
        detail=row["detail"],
    )
