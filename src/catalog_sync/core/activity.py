"""What catalog-sync did and found over a period: the activity report, summarised purely.

The edge reads the state over a period and hands the records here; this module only counts,
prices and groups them, so the report's figures are a function of what the state holds. Money
is priced by :func:`catalog_sync.core.money_plan.priced_write`, the plan's own pricing (a unit
is its line's amount plus tax over the line's quantity), so what ``events plan`` said would move
and what this report says moved are computed the same way; totals per currency are the plan's
:func:`~catalog_sync.core.money_plan.currency_totals` over the writes that landed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from catalog_sync.core.merchant_requests import (
    REQUEST_STATUSES,
    RequestLineFacts,
    RequestStatus,
    WriteFacts,
    line_state,
    request_status,
)
from catalog_sync.core.money_plan import (
    CurrencyTotal,
    PlannedLine,
    PlannedWrite,
    currency_totals,
    priced_write,
)
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import INTENT_LANDED, Intent, IntentKind, Order

ACTIVITY_SCHEMA_VERSION: Final = 1
#: Run kinds of the catalog (``catalog/runs.py``); the catalog audit is the ``audit`` kind.
CATALOG_RUN_KINDS: Final = frozenset({"reconcile", "audit", "watch"})
#: The run kind of an orders audit (``orders audit``, the daemon's periodic one).
ORDERS_AUDIT_RUN: Final = "orders-audit"
#: Event types whose object is the Digital River order itself, with its priced lines
#: (docs/digital-river-api.md §14.2).
ORDER_EVENT_TYPES: Final = (
    "order.accepted",
    "order.fulfilled",
    "order.complete",
    "order.cancelled",
)
#: Notification kinds of an event that became a dead letter (at the poller or the handler).
DEAD_LETTER_KINDS: Final = frozenset({"dead_letter", "mode_mismatch"})


# -- what the edge hands in ------------------------------------------------------------------
class RunFacts(Protocol):
    """A run as the state records it."""

    @property
    def id(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def started_at(self) -> str: ...
    @property
    def finished_at(self) -> str | None: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def counts(self) -> Mapping[str, int]: ...
    @property
    def failures(self) -> int: ...
    @property
    def report_path(self) -> str | None: ...


class EndedWriteFacts(Protocol):
    """A write that landed or was refused, and when."""

    @property
    def entry(self) -> WriteFacts: ...
    @property
    def at(self) -> str: ...


class RequestFacts(Protocol):
    """A merchant request as the request log records it."""

    @property
    def request_id(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def action(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def created_at(self) -> str: ...


class RequestLineOf(RequestLineFacts, Protocol):
    """A request line with the key of the intent carrying it."""

    @property
    def intent_key(self) -> str: ...


class FindingFacts(Protocol):
    """One finding of an orders audit."""

    @property
    def run_id(self) -> int: ...
    @property
    def found_at(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def order_id(self) -> str: ...
    @property
    def line_id(self) -> str | None: ...
    @property
    def units(self) -> int: ...
    @property
    def amount(self) -> int | None: ...
    @property
    def currency(self) -> str | None: ...
    @property
    def repaired(self) -> bool: ...
    @property
    def detail(self) -> str: ...


@dataclass(frozen=True)
class ActivityFacts:
    """Everything the state holds about one period, as read by the edge.

    ``order_events`` are, per order of a settled write, the payloads of its order events (the
    newest carrying line items prices it); ``entries`` the ledger entries that request lines
    point to, by intent key.
    """

    since: datetime
    until: datetime
    generated_at: datetime
    runs: Sequence[RunFacts] = ()
    writes: Sequence[EndedWriteFacts] = ()
    orders: Mapping[str, Order] = field(default_factory=dict)
    order_events: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)
    events_handled: Mapping[str, int] = field(default_factory=dict)
    orders_handled: int = 0
    notifications: Sequence[NotificationRecord] = ()
    requests: Sequence[tuple[RequestFacts, Sequence[RequestLineOf]]] = ()
    entries: Mapping[str, WriteFacts] = field(default_factory=dict)
    findings: Sequence[FindingFacts] = ()


# -- the report ------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ActivitySummary(_Model):
    """The figures of the report's header."""

    catalog_runs: int = 0
    pairs_created: int = 0
    pairs_updated: int = 0
    drift_fixed: int = 0
    pairs_deleted: int = 0
    catalog_write_failures: int = 0
    catalog_audits: int = 0
    events_handled: int = 0
    orders_handled: int = Field(default=0, description="Orders whose history moved.")
    fulfillment_orders_created: int = 0
    captures: int = 0
    charge_cancels: int = 0
    fulfiller_cancels: int = 0
    writes_refused: int = 0
    merchant_requests: int = 0
    dead_letters: int = 0
    orders_audits: int = 0
    audit_findings: int = 0
    audit_findings_repaired: int = 0


class CatalogRun(_Model):
    """One catalog run (reconcile, watch, or the catalog audit) started in the period."""

    run_id: int
    kind: str
    started_at: str
    finished_at: str | None
    dry_run: bool
    created: int = 0
    updated: int = 0
    drift_fixed: int = 0
    deleted: int = 0
    failed: int = 0
    report: str | None = Field(default=None, description="The run's reconcile report (JSON).")


class OrdersAuditRun(_Model):
    """One orders audit started in the period, with its findings per kind."""

    run_id: int
    started_at: str
    finished_at: str | None
    dry_run: bool
    counts: dict[str, int] = Field(default_factory=dict)


class WriteEntry(_Model):
    """A write to Digital River that ended in the period: landed or refused."""

    at: str
    outcome: Literal["landed", "refused"]
    kind: IntentKind
    key: str
    order_id: str
    currency: str | None = None
    lines: tuple[PlannedLine, ...] = ()
    units: int = 0
    amount: Decimal | None = Field(
        default=None, description="Line amounts with tax; None: unpriced."
    )
    reference: str | None = None
    error: str | None = None


class RequestEntry(_Model):
    """A merchant request received in the period, with its status now."""

    request_id: str
    order_id: str
    action: str
    received_at: str
    source: str
    status: RequestStatus


class NoticeEntry(_Model):
    """A notification logged in the period."""

    time: str
    kind: str
    message: str
    order_id: str | None = None
    event_id: str | None = None


class FindingEntry(_Model):
    """A finding of an orders audit; ``amount`` in minor units of ``currency``, as recorded."""

    found_at: str
    run_id: int
    kind: str
    order_id: str
    line_id: str | None = None
    units: int = 0
    amount: int | None = None
    currency: str | None = None
    repaired: bool = False
    detail: str = ""


class ActivityReport(_Model):
    """What catalog-sync did and found over ``[since, until)`` (schema version 1)."""

    schema_version: int = ACTIVITY_SCHEMA_VERSION
    since: datetime
    until: datetime
    generated_at: datetime = Field(description="When the state was read: a day still running.")
    summary: ActivitySummary
    money: tuple[CurrencyTotal, ...] = Field(
        default=(), description="Units and amounts captured and cancelled, per currency."
    )
    events_by_status: dict[str, int] = Field(default_factory=dict)
    requests_by_status: dict[str, int] = Field(default_factory=dict)
    notifications_by_kind: dict[str, int] = Field(default_factory=dict)
    catalog_runs: tuple[CatalogRun, ...] = ()
    writes: tuple[WriteEntry, ...] = ()
    requests: tuple[RequestEntry, ...] = ()
    dead_letters: tuple[NoticeEntry, ...] = ()
    orders_audits: tuple[OrdersAuditRun, ...] = ()
    findings: tuple[FindingEntry, ...] = ()


def activity_json_schema() -> dict[str, Any]:
    """The JSON Schema of the activity report."""
    return ActivityReport.model_json_schema()


def summarize(facts: ActivityFacts) -> ActivityReport:
    """Return the activity report of what ``facts`` hold."""
    catalog = [_catalog_run(r) for r in facts.runs if r.kind in CATALOG_RUN_KINDS]
    applied = [r for r in catalog if not r.dry_run]
    audits = [_audit_run(r) for r in facts.runs if r.kind == ORDERS_AUDIT_RUN]
    priced = [(w, _priced(w.entry.intent, facts)) for w in facts.writes]
    writes = tuple(_write(w, planned) for w, planned in priced)
    landed = [w for w in writes if w.outcome == "landed"]
    requests = tuple(_request(r, lines, facts.entries) for r, lines in facts.requests)
    dead = tuple(_notice(n) for n in facts.notifications if n.kind in DEAD_LETTER_KINDS)
    findings = tuple(_finding(f) for f in facts.findings)
    landed_kinds = Counter(w.kind for w in landed)
    summary = ActivitySummary(
        catalog_runs=len(catalog),
        pairs_created=sum(r.created for r in applied),
        pairs_updated=sum(r.updated for r in applied),
        drift_fixed=sum(r.drift_fixed for r in applied),
        pairs_deleted=sum(r.deleted for r in applied),
        catalog_write_failures=sum(r.failed for r in applied),
        catalog_audits=sum(r.kind == "audit" for r in catalog),
        events_handled=sum(facts.events_handled.values()),
        orders_handled=facts.orders_handled,
        fulfillment_orders_created=landed_kinds["create_fulfillment_order"],
        captures=landed_kinds["capture"],
        charge_cancels=landed_kinds["cancel_charge"],
        fulfiller_cancels=landed_kinds["fulfiller_cancel"],
        writes_refused=len(writes) - len(landed),
        merchant_requests=len(requests),
        dead_letters=len(dead),
        orders_audits=len(audits),
        audit_findings=len(findings),
        audit_findings_repaired=sum(f.repaired for f in findings),
    )
    by_status = dict.fromkeys(REQUEST_STATUSES, 0) | Counter(r.status for r in requests)
    return ActivityReport(
        since=facts.since,
        until=facts.until,
        generated_at=facts.generated_at,
        summary=summary,
        money=currency_totals(
            planned for w, planned in priced if w.entry.intent.status == INTENT_LANDED
        ),
        events_by_status=dict(sorted(facts.events_handled.items())),
        requests_by_status=by_status,
        notifications_by_kind=dict(sorted(Counter(n.kind for n in facts.notifications).items())),
        catalog_runs=tuple(catalog),
        writes=writes,
        requests=requests,
        dead_letters=dead,
        orders_audits=tuple(audits),
        findings=findings,
    )


def order_object(payloads: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The Digital River order the newest of these order events carries with its lines."""
    for payload in reversed(payloads):
        data = payload.get("data")
        obj = data.get("object") if isinstance(data, Mapping) else None
        if isinstance(obj, Mapping) and isinstance(obj.get("items"), list):
            return obj
    return None


def _catalog_run(run: RunFacts) -> CatalogRun:
    counts = run.counts
    return CatalogRun(
        run_id=run.id,
        kind=run.kind,
        started_at=run.started_at,
        finished_at=run.finished_at,
        dry_run=run.dry_run,
        created=counts.get("created", 0),
        updated=counts.get("updated", 0),
        drift_fixed=counts.get("drift_fixed", 0),
        deleted=counts.get("deleted", 0),
        failed=counts.get("failed", 0),
        report=run.report_path,
    )


def _audit_run(run: RunFacts) -> OrdersAuditRun:
    return OrdersAuditRun(
        run_id=run.id,
        started_at=run.started_at,
        finished_at=run.finished_at,
        dry_run=run.dry_run,
        counts=dict(run.counts),
    )


def _priced(intent: Intent, facts: ActivityFacts) -> PlannedWrite:
    """The write priced as the plan prices it, from the order's newest order event."""
    events = facts.order_events.get(intent.order_id, ())
    return priced_write(intent, facts.orders.get(intent.order_id), order_object(events))


def _write(ended: EndedWriteFacts, priced: PlannedWrite) -> WriteEntry:
    entry = ended.entry
    intent = entry.intent
    landed = intent.status == INTENT_LANDED
    return WriteEntry(
        at=ended.at,
        outcome="landed" if landed else "refused",
        kind=intent.kind,
        key=intent.key,
        order_id=intent.order_id,
        currency=priced.currency,
        lines=priced.lines,
        units=priced.units,
        amount=priced.amount,
        reference=entry.reference,
        error=None if landed else entry.last_error,
    )


def _request(
    request: RequestFacts, lines: Sequence[RequestLineOf], entries: Mapping[str, WriteFacts]
) -> RequestEntry:
    states = [line_state(line, entries.get(line.intent_key)) for line in lines]
    return RequestEntry(
        request_id=request.request_id,
        order_id=request.order_id,
        action=request.action,
        received_at=request.created_at,
        source=request.source,
        status=request_status(states),
    )


def _notice(notice: NotificationRecord) -> NoticeEntry:
    return NoticeEntry(
        time=notice.time,
        kind=notice.kind,
        message=notice.message,
        order_id=notice.order_id,
        event_id=notice.event_id,
    )


def _finding(finding: FindingFacts) -> FindingEntry:
    return FindingEntry(
        found_at=finding.found_at,
        run_id=finding.run_id,
        kind=finding.kind,
        order_id=finding.order_id,
        line_id=finding.line_id,
        units=finding.units,
        amount=finding.amount,
        currency=finding.currency,
        repaired=finding.repaired,
        detail=finding.detail,
    )
