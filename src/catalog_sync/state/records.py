"""The data that crosses the storage interface, whatever the backend.

Plain frozen dataclasses (and two mutable collectors a caller fills while deciding): a caller
stores and reads these, never rows or cursors. Entities of the core (orders, intents) travel as
themselves; no secret is ever part of any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog_sync.core.fulfillment import InboxStatus
from catalog_sync.core.merchant_requests import Action, MerchantRequest, Route, request_of
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import Intent, Order, Origin


# -- catalog ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class AppliedPair:
    """What reconcile last wrote successfully for one pair."""

    id: str
    content_hash: str
    source_file: str
    source_line: int
    physical: bool | None


@dataclass(frozen=True, slots=True)
class CatalogFileRecord:
    """A catalog file as last applied by a leader: its size and modification time then, and
    when a leader last skipped its copy of the file as older than that."""

    name: str
    size: int
    mtime_ns: int
    applied_at: str
    skipped_at: str | None = None


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One reconcile run as ``status`` shows it."""

    id: int
    kind: str
    started_at: str
    finished_at: str | None
    dry_run: bool
    counts: dict[str, int]
    failures: int
    report_path: str | None


@dataclass(frozen=True, slots=True)
class AuditFindingRecord:
    """One finding of an orders audit: where our ledger and Digital River's records disagree.

    Kept per run so the activity report can show what each audit found over a period (and
    whether it was repaired) after the order itself has moved on. ``amount`` is in minor units
    of ``currency``; both are None when the line carries no price.
    """

    run_id: int
    found_at: str
    kind: str
    order_id: str
    line_id: str | None
    units: int
    amount: int | None
    currency: str | None
    repaired: bool
    detail: str


# -- inbox ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class InboxEvent:
    """One event as received, with how its handling went.

    ``answer_to`` is the ``upstreamId`` of our request the event answers (a fulfiller's
    cancellation answer), taken from the payload by the core when the event is stored, so the
    answer is found without the state reading payloads.
    """

    id: str
    type: str
    created_time: str
    payload: dict[str, Any]
    status: str = "received"
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: str | None = None
    handled_at: str | None = None
    answer_to: str | None = None


@dataclass(frozen=True, slots=True)
class EventOutcome:
    """How one handling attempt of an event ended.

    ``order_id`` is the order the event is about: when that order's ledger moved while the
    event was decided, the outcome is not committed (the event stays due). ``attempted`` False
    records a status without counting an attempt (a dead letter decided elsewhere).
    """

    event_id: str
    status: InboxStatus
    error: str | None = None
    next_attempt_at: str | None = None
    handled_at: str | None = None
    order_id: str | None = None
    attempted: bool = True


@dataclass(frozen=True, slots=True)
class EventCursor:
    """Where polling stands.

    ``last_id`` is the newest event read going forward (None until the first full read of the
    API's history finished); ``walk_*`` record a newest-first walk in progress so a crash
    resumes it; ``last_sweep_at`` is when the last overlap sweep started (our clock);
    ``start_at`` is the start point fixed at the first poll (an event time, or ``retained``):
    events created before it are stored but never acted on. None on a cursor older than the
    setting: everything is acted on, as before.
    """

    last_id: str | None = None
    newest_time: str | None = None
    walk_after: str | None = None
    walk_top_id: str | None = None
    walk_top_time: str | None = None
    last_sweep_at: str | None = None
    last_poll_at: str | None = None
    start_at: str | None = None


# -- ledger -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """An intent with its delivery bookkeeping; ``sent_at`` set means "outcome may be unknown"."""

    intent: Intent
    seq: int
    attempts: int
    sent_at: str | None
    next_attempt_at: str | None
    last_error: str | None
    reference: str | None

    @property
    def parked(self) -> bool:
        """Pending but waiting for an operator (retries exhausted; see ``events retry``)."""
        return self.intent.status == "pending" and self.next_attempt_at is None


@dataclass(frozen=True, slots=True)
class LedgerMark:
    """What an order's ledger looked like: its newest intent and how many intents settled.

    It changes whenever an intent is recorded (a merchant request, another decision) or a
    write settles or fails, so a decision taken on an older read is recognised at commit time.
    """

    newest: int
    settled: int


@dataclass(frozen=True, slots=True)
class SettledWrite:
    """A write that ended (landed or refused) and when: what the activity report counts."""

    entry: LedgerEntry
    at: str


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of an order's history."""

    time: str
    event_id: str | None
    summary: str


@dataclass(frozen=True, slots=True)
class WriteAnswer:
    """What Digital River answered to a sent intent: the object proving it, or its refusal."""

    key: str
    reference: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class WriteRetry:
    """A failed attempt of a write; ``next_attempt_at`` None parks it for an operator."""

    key: str
    error: str
    next_attempt_at: str | None


#: ``(order_id, event_id, summary)``: one line appended to an order's history.
HistoryLine = tuple[str, str | None, str]


@dataclass
class LedgerWrites:
    """Everything one step of the handler commits together, gathered while deciding."""

    orders: dict[str, Order] = field(default_factory=dict)
    new_intents: list[Intent] = field(default_factory=list)
    updated_intents: dict[str, Intent] = field(default_factory=dict)
    history: list[HistoryLine] = field(default_factory=list)
    events: list[EventOutcome] = field(default_factory=list)
    notices: list[NotificationRecord] = field(default_factory=list)
    answers: list[WriteAnswer] = field(default_factory=list)
    retries: list[WriteRetry] = field(default_factory=list)

    def touched_orders(self) -> set[str]:
        """The orders these writes are about: decided on a read of those orders' ledgers."""
        named = (
            *(h[0] for h in self.history),
            *(e.order_id for e in self.events),
            *(n.order_id for n in self.notices),
        )
        return {
            *self.orders,
            *(i.order_id for i in self.new_intents),
            *(i.order_id for i in self.updated_intents.values()),
            *(order_id for order_id in named if order_id is not None),
        }

    def without_orders(self, stale: set[str] | frozenset[str]) -> LedgerWrites:
        """Return these writes less every one about ``stale`` orders (their events stay due).

        What a backend commits and what the handler then notifies are both this, so a
        notification is sent exactly for what was committed.
        """
        if not stale:
            return self
        return LedgerWrites(
            orders={k: o for k, o in self.orders.items() if k not in stale},
            new_intents=[i for i in self.new_intents if i.order_id not in stale],
            updated_intents={
                k: i for k, i in self.updated_intents.items() if i.order_id not in stale
            },
            history=[h for h in self.history if h[0] not in stale],
            events=[e for e in self.events if e.order_id not in stale],
            notices=[n for n in self.notices if n.order_id not in stale],
            answers=list(self.answers),
            retries=list(self.retries),
        )


# -- merchant requests ------------------------------------------------------------------------
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

    @classmethod
    def of(
        cls, request: MerchantRequest, *, source: str, source_line: int | None, created_at: str
    ) -> RequestRecord:
        """The log row of ``request``, received from ``source`` at ``created_at``."""
        return cls(
            request_id=request.request_id,
            order_id=request.order_id,
            action=request.action,
            line_id=request.line_id,
            quantity=request.quantity,
            source=source,
            source_line=source_line,
            created_at=created_at,
            tracking_number=request.tracking_number,
            tracking_company=request.tracking_company,
            tracking_url=request.tracking_url,
            reason=request.reason,
        )

    def request(self) -> MerchantRequest:
        """The request this row logged (the inverse of :meth:`of`)."""
        return request_of(self, self.request_id, self.line_id)


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


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """A request as recorded, with the lines it claimed and the intents carrying them."""

    request: RequestRecord
    lines: tuple[RequestLineRecord, ...]
    intents: tuple[Intent, ...]


@dataclass(frozen=True, slots=True)
class LineRetry:
    """The merchant retried a Failed line: it is now carried by ``intent_key``."""

    request_id: str
    line_id: str
    intent_key: str
    message: str | None


@dataclass(frozen=True, slots=True)
class RequestFileRecord:
    """A request file processed: by name and content, how it went."""

    name: str
    sha256: str
    outcome: str
    accepted: int
    refused: int


@dataclass(frozen=True, slots=True)
class RequestClaims:
    """What one atomic claim records (see ``RequestState.claim_units``).

    ``intents`` are intents claiming units beyond those of ``requests`` (a retried line's
    units claimed again); ``unpark_origins`` makes the parked intents of these origins due
    again; ``history`` holds ``(order_id, summary)`` lines.
    """

    requests: tuple[RecordedRequest, ...] = ()
    intents: tuple[Intent, ...] = ()
    line_retries: tuple[LineRetry, ...] = ()
    unpark_origins: tuple[Origin, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    file: RequestFileRecord | None = None


# -- leadership -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Fence:
    """Who may commit claims and sent-marks: the leader ``holder`` in its term ``epoch``."""

    holder: str
    epoch: int


@dataclass(frozen=True, slots=True)
class Lease:
    """The leader lease as the database holds it after a call.

    ``remaining`` is measured by the database's clock (seconds until ``expires_at``, 0 once
    past), so no node's clock is ever compared with another's. ``taken_from`` is the previous
    holder when this very call started a new term by taking the lease from another instance.
    """

    holder: str | None
    epoch: int
    expires_at: str | None
    remaining: float
    taken_from: str | None = None

    def held_by(self, name: str) -> bool:
        """Whether ``name`` holds the lease and it has not run out."""
        return self.holder == name and self.remaining > 0

    @property
    def fence(self) -> Fence | None:
        """The fence of this term (None while nobody ever held the lease)."""
        return None if self.holder is None else Fence(self.holder, self.epoch)


@dataclass(frozen=True, slots=True)
class InstanceRecord:
    """One ``catalog-sync run`` process of the deployment, as it last reported itself."""

    name: str
    host: str
    pid: int
    role: str
    epoch: int | None
    last_seen: str = ""
