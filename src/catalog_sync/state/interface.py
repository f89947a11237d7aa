"""The storage interface: what the daemon and the commands need from the state, per concern.

Callers are typed against these protocols and never see SQL, a cursor or a transaction; the
SQLite :class:`~catalog_sync.state.store.StateStore` is one backend, opened by
:func:`~catalog_sync.state.backends.open_state`. Every method is either a read or one atomic
operation, and the operations that correctness rests on are spelled out so that any backend
must honour them, whatever its concurrency model (``tests/contract/test_state_backend.py`` runs
the same tests against every backend):

- :meth:`RequestLogState.claim_units`: recording merchant requests and claiming their units is one
  atomic step; the decision is taken on exactly the ledger the claims are written against, so
  two claims can never take the same units.
- :meth:`LedgerState.commit_ledger` with ``marks``: a decision taken on an older read of an
  order's ledger is not committed for that order.
- :meth:`LedgerState.claim_due_writes`: a write is marked sent, durably, in the step that
  selects it, before anything is sent.

Times are stored as :func:`catalog_sync.support.clock.stamp` text; ``now`` arguments are such text.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Protocol, Self, TypeVar

from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import Order
from catalog_sync.state.records import (
    AppliedPair,
    CatalogFileRecord,
    EventCursor,
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
)

T = TypeVar("T")


class CatalogState(Protocol):
    """What reconcile applied (pairs) and its runs."""

    def applied_pairs(self, ids: Iterable[str] | None = None) -> dict[str, AppliedPair]:
        """Return the pairs reconcile has applied, by id: all, or only those of ``ids``."""
        ...

    def applied_ids(self) -> set[str]:
        """Return the ids of every applied pair."""
        ...

    def record_applied(self, pairs: Iterable[AppliedPair]) -> None:
        """Remember that these pairs now match the catalog at Digital River."""
        ...

    def forget_pairs(self, ids: Iterable[str]) -> None:
        """Drop pairs deleted remotely, or whose remote state must be re-read and re-applied."""
        ...

    def pair_ids_by_file(self, source_file: str) -> frozenset[str]:
        """Return the ids last applied from ``source_file``."""
        ...

    def count_pairs(self) -> int:
        """Return how many pairs are tracked."""
        ...

    def known_physical(self, sku_ids: Iterable[str]) -> dict[str, bool]:
        """Return physical/digital for SKUs reconcile applied (unknown ones left out)."""
        ...

    def catalog_files(self) -> dict[str, CatalogFileRecord]:
        """Every catalog file as last applied, by name."""
        ...

    def record_catalog_files(
        self, applied: Mapping[str, tuple[int, int]], skipped: Collection[str], now: str
    ) -> None:
        """Remember the (size, mtime_ns) of the files a run is applying and mark ``skipped``
        the recorded files whose copy here was older, in one transaction."""
        ...

    def add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        """Log notifications (a catalog run says so when it leaves a file out)."""
        ...

    def start_run(self, kind: str, *, dry_run: bool) -> int:
        """Record that a run began; returns its id."""
        ...

    def finish_run(
        self, run_id: int, *, counts: Mapping[str, int], failures: int, report_path: str | None
    ) -> None:
        """Record a run's outcome."""
        ...

    def last_run(self) -> RunRecord | None:
        """Return the newest finished run, if any."""
        ...


class InboxState(Protocol):
    """Events as received from Digital River, and where polling stands."""

    def store_events(
        self, events: Sequence[InboxEvent], now: str, *, cursor: EventCursor | None = None
    ) -> int:
        """Insert events not seen before (dedupe by id) and, if given, move the cursor, in one
        atomic step: a crash never advances the cursor past an event not stored. Returns how
        many events were new."""
        ...

    def replay_events(self, events: Sequence[InboxEvent], now: str) -> int:
        """Send these events back to ``received`` (inserting unknown ones), atomically; dead
        ones (unreadable) are only inserted when new. Returns how many were replayed."""
        ...

    def requeue_events(self, event_ids: Sequence[str] | None, now: str) -> list[str]:
        """Send dead (or still open) events back to ``received`` and make the parked writes
        decided on them due again, atomically. ``None`` means every dead letter. Returns the
        ids requeued."""
        ...

    def known_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        """Return which of these ids the inbox already holds."""
        ...

    def inbox_event(self, event_id: str) -> InboxEvent | None:
        """Return one inbox event."""
        ...

    def inbox_events(
        self, status: str | None = None, *, limit: int = 100, since: str | None = None
    ) -> list[InboxEvent]:
        """Return inbox events, newest first, optionally of one status / created since."""
        ...

    def due_events(self, now: str, limit: int) -> list[InboxEvent]:
        """Return the open events due now, oldest first."""
        ...

    def inbox_counts(self) -> dict[str, int]:
        """Return the number of events per status (every status present, zeros included)."""
        ...

    def oldest_unhandled_time(self) -> str | None:
        """Return the created time of the oldest event still to be handled."""
        ...

    def answer_to(self, upstream_id: str) -> InboxEvent | None:
        """Return the first event answering our request known to DR as ``upstream_id``."""
        ...

    def event_cursor(self) -> EventCursor:
        """Return the polling cursor (empty before the first poll)."""
        ...


class LedgerState(Protocol):
    """Orders, the intent ledger, order history and the notification log."""

    def order(self, order_id: str) -> Order | None:
        """Return our record of one order."""
        ...

    def orders_by_id(self, order_ids: Iterable[str]) -> dict[str, Order]:
        """Return our records of these orders (absent ones left out)."""
        ...

    def list_orders(self, state: str | None = None, *, limit: int = 1000) -> list[Order]:
        """Return orders, most recently updated first."""
        ...

    def ledger(self, order_id: str) -> list[LedgerEntry]:
        """Return an order's intents in the order they were recorded."""
        ...

    def ledgers(self, order_ids: Iterable[str]) -> dict[str, list[LedgerEntry]]:
        """Return the intents of several orders, each list in recording order."""
        ...

    def ledger_marks(self, order_ids: Iterable[str]) -> dict[str, LedgerMark]:
        """Return the current mark of each order that has intents."""
        ...

    def commit_ledger(
        self, writes: LedgerWrites, now: str, *, marks: Mapping[str, LedgerMark] | None = None
    ) -> frozenset[str]:
        """Commit ``writes`` atomically; returns the orders whose writes were left out.

        With ``marks`` (read before deciding), the writes of every touched order whose mark
        is no longer the one read are left out, decided on an old read, and their events stay
        due: exactly ``writes.without_orders(<returned>)`` is committed.
        """
        ...

    def claim_due_writes(
        self, now: str, limit: int, *, skip_orders: Collection[str] = ()
    ) -> list[LedgerEntry]:
        """Select up to ``limit`` due writes (each order's oldest pending intent, none of
        ``skip_orders``) and mark them sent, durably, in one atomic step.

        The entries are returned as they were before this claim: ``sent_at`` set means an
        earlier send may have landed, so the write must be read back before it is sent again.
        """
        ...

    def count_pending_intents(self) -> int:
        """Return how many intents are not yet settled or failed."""
        ...

    def captures_done(self) -> int:
        """Return how many captures landed."""
        ...

    def history(self, order_id: str) -> list[HistoryEntry]:
        """Return an order's history, oldest first."""
        ...

    def add_notifications(self, records: Iterable[NotificationRecord]) -> None:
        """Log notifications (the sinks are called after)."""
        ...

    def notifications(self, *, limit: int = 100) -> list[NotificationRecord]:
        """Return the newest notifications, newest first."""
        ...


class LedgerReader(Protocol):
    """The reads a claim decides on (inside :meth:`RequestLogState.claim_units`)."""

    def order(self, order_id: str) -> Order | None:
        """Return our record of one order."""
        ...

    def ledger(self, order_id: str) -> list[LedgerEntry]:
        """Return an order's intents in the order they were recorded."""
        ...

    def request(self, request_id: str) -> RequestRecord | None:
        """Return the request recorded under ``request_id``, whatever its order (None: none)."""
        ...

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        """Return an order's requests, oldest first."""
        ...

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        """Return the lines of an order's requests, in request then line order."""
        ...


class RequestLogState(Protocol):
    """The merchant request log, the units its requests claimed, and request files."""

    def claim_units(self, decide: Callable[[LedgerReader], tuple[RequestClaims, T]], now: str) -> T:
        """Let ``decide`` read the ledger and return what to claim; record it atomically.

        Whatever ``decide`` reads is what the claims are written against: no other claim or
        ledger write lands in between, so units are never claimed twice. When ``decide``
        raises, nothing is recorded and the error propagates. ``decide`` may be called more
        than once (a backend that detects a conflict decides again on the new state), so it
        must have no effect a second call would not simply repeat. Returns ``decide``'s
        second value.
        """
        ...

    def requests_of(self, order_id: str) -> list[RequestRecord]:
        """Return an order's requests, oldest first."""
        ...

    def request_lines_of(self, order_id: str) -> list[RequestLineRecord]:
        """Return the lines of an order's requests, in request then line order."""
        ...

    def request_order_ids(self, *, limit: int = 1000) -> list[str]:
        """Return the orders with requests, most recent request first."""
        ...

    def all_request_lines(self) -> list[tuple[RequestLineRecord, str]]:
        """Return every request line with its order id."""
        ...

    def count_open_requests(self) -> int:
        """Return how many requests are open (see ``core.merchant_requests``), cheaply."""
        ...

    def due_request_intents(self, now: str) -> int:
        """Return how many request intents are pending and due."""
        ...

    def request_file_outcome(self, name: str, sha256: str) -> str | None:
        """Return how this file, with this content, was processed (None: not yet)."""
        ...


class LeaseState(Protocol):
    """Leadership of a deployment: the lease, its epoch, the fence, the instances.

    The lease's expiry is compared with the database's clock only. Once :meth:`fence_with` is
    given a term, every atomic operation that claims work or marks a write sent
    (``claim_units``, ``commit_ledger``, ``claim_due_writes``, ``requeue_events``) checks,
    inside its transaction, that this term still holds a live lease, and raises
    :class:`~catalog_sync.state.errors.FencedError` without committing otherwise.
    """

    def take_lease(self, holder: str, seconds: float) -> Lease:
        """Renew ``holder``'s live lease, or start a new term (epoch + 1) when the lease is
        free, run out, or ``holder``'s own ran out; else leave it. The lease after the call."""
        ...

    def release_lease(self, holder: str, epoch: int) -> None:
        """End ``holder``'s term ``epoch`` now (a clean stop), so a standby takes over at once."""
        ...

    def lease(self) -> Lease:
        """The lease as it stands (holder None: never held)."""
        ...

    def fence_with(self, fence: Fence | None) -> None:
        """Fence this backend's claims with ``fence`` (None: unfenced, as one-off commands)."""
        ...

    def record_instance(self, instance: InstanceRecord) -> None:
        """Say that ``instance`` is alive in its role (``last_seen`` is the database's now)."""
        ...

    def instances(self) -> list[InstanceRecord]:
        """Every instance that ever reported itself, by name."""
        ...


class StateBackend(CatalogState, InboxState, LedgerState, RequestLogState, LeaseState, Protocol):
    """The whole state: what the daemon and the commands open."""

    @property
    def location(self) -> str:
        """Where the state lives, for people (a path; never a credential)."""
        ...

    def close(self) -> None:
        """Release the backend; committed data is already durable."""
        ...

    def __enter__(self) -> Self:
        """The backend itself; closed on exit."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Close."""
        ...


__all__ = [
    "CatalogState",
    "InboxState",
    "LeaseState",
    "LedgerReader",
    "LedgerState",
    "RequestLogState",
    "StateBackend",
]
