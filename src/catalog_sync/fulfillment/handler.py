"""The handler: inbox events through ``core.fulfillment.decide``, then the ledger's writes.

Two steps per tick, each ending in ONE atomic commit of the state (``commit_ledger``), so the
durable commits are shared by a whole batch instead of paid per event:

1. *Decide*: due inbox events are grouped by order; each order's events are decided in created
   order (orders concurrently, since only fetching a missing order or a SKU's kind awaits).
   New intents, the order snapshot, the history line and the event's new status commit
   together: an event is handled exactly when its intents are recorded. Deciding awaits the
   network, so a merchant request may change an order's ledger meanwhile: the commit leaves
   out the decisions of such an order (its ledger mark moved) and its events stay due, to be
   decided again on the current ledger, so no unit is claimed twice.
2. *Execute*: each order's oldest pending intent (never two writes of one order in flight,
   which ``core.orders.fail_intent`` relies on) is marked ``sent_at`` by
   ``claim_due_writes``, committed BEFORE it is sent. An intent found with ``sent_at`` set
   may have landed (a lost answer, a crash), so it is read back (``core.readback``) and only
   what did not land is resent; fulfillment orders are always read back first because DR
   accepts a second one with the same ``upstreamId`` (docs/digital-river-api.md §6) and that would
   ship goods twice. A 409 meaning "already done" settles the intent; any other refusal (a quantity
   too large) fails it, surfaced in the order's history and as a notification. Retryable failures
   back off; after ``handler_max_attempts`` the intent is parked and its event becomes a dead
   letter that ``catalog-sync events retry`` re-runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from catalog_sync.core.fulfillment import Decision, decide, order_id_of
from catalog_sync.core.orders import (
    FulfillmentError,
    Intent,
    LedgerError,
    MalformedEventError,
    Order,
    fail_intent,
    settle,
)
from catalog_sync.core.readback import (
    Landed,
    is_already_done,
    read_back_query,
    reconcile_intent,
)
from catalog_sync.dr import (
    APIError,
    DigitalRiverClient,
    DRError,
    FulfillmentCancellationCreate,
    FulfillmentCreate,
    FulfillmentOrderCreate,
    NotFound,
)
from catalog_sync.fulfillment.poller import EventPoller, placed_before, start_moment
from catalog_sync.state import (
    EventOutcome,
    InboxEvent,
    LedgerEntry,
    LedgerWrites,
    NotificationRecord,
    StateBackend,
    WriteAnswer,
    WriteRetry,
)
from catalog_sync.support.clock import Clock, stamp, utc_clock
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import FulfillmentSettings, Settings

#: DR order states in which an order we never saw accepted may be recorded from GET /orders.
FETCHABLE_STATES: Final = frozenset({"accepted", "fulfilled", "complete"})
#: What fetching an order placed before the start point gives: its events are not acted on.
BEFORE_START: Final = "before_start"
#: Longest wait between two attempts of an event or a write.
MAX_BACKOFF: Final = 300.0
#: Orders per batched fulfillment-order read-back; one page (100) holds them even with a
#: duplicate fulfillment order or two.
READ_BACK_CHUNK: Final = 50
Obj = dict[str, Any]
#: Seconds the daemon's loop lets writes finish together before committing them.
WRITE_GATHER: Final = 0.02

_log = get_logger("fulfillment")


@dataclass(frozen=True, slots=True)
class _Settled:
    reference: str | None


@dataclass(frozen=True, slots=True)
class _Failed:
    error: str


@dataclass(frozen=True, slots=True)
class _Retry:
    error: str


_Outcome = _Settled | _Failed | _Retry


class FulfillmentHandler:
    """Handles inbox events and executes the intent ledger; a ``Service``."""

    name = "fulfillment"

    def __init__(
        self,
        settings: FulfillmentSettings,
        client: DigitalRiverClient,
        store: StateBackend,
        notifier: Notifier,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
        batch_size: int = 2000,
    ) -> None:
        """``settings.retry_base`` is the first backoff of an event or write, doubling after
        each try; after ``settings.max_attempts`` the event is a dead letter."""
        self._settings = settings
        self._client = client
        self._store = store
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._batch = batch_size
        self._physical: dict[str, bool] = {}
        #: Orders with a write in flight: never two writes of one order at once.
        self._busy: set[str] = set()
        self.wake = asyncio.Event()
        self.handled = 0
        self.writes = 0
        self._status = "idle"

    def status_line(self) -> str:
        """E.g. ``"1234 events handled, 2 writes pending"``."""
        return self._status

    def reconfigure(self, settings: FulfillmentSettings) -> None:
        """SIGHUP: the next failure counts against the new ``max_attempts`` and backs off from
        the new ``retry_base``; an idle handler looks again at once."""
        self._settings = settings
        self.wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Decide and write until ``stop``, writes pipelined (the daemon's loop).

        Unlike :meth:`tick`, a write is not awaited with its batch: each runs as its own
        task and its outcome is committed (with the others finished by then) on the next
        turn, so one slow answer never holds back the next events' captures. One write per
        order is in flight at a time, as in :meth:`execute_intents`. On ``stop`` the
        writes in flight are finished and recorded.
        """
        writes: dict[asyncio.Future[_Outcome], LedgerEntry] = {}
        try:
            while not stop.is_set():
                try:
                    handled = await self.handle_events()
                    await self._record_finished(writes)
                    self._launch(writes)
                except DRError as exc:
                    _log.warning("fulfillment.tick_failed", error=str(exc))
                    handled = 0
                self._update_status()
                if handled:
                    continue  # more events may be due at once
                await self._idle(stop, writes)
        finally:
            if writes:
                await asyncio.wait(list(writes))
                await self._record_finished(writes)

    async def _idle(
        self, stop: asyncio.Event, writes: dict[asyncio.Future[_Outcome], LedgerEntry]
    ) -> None:
        """Until woken, stopped, a write finishes or the next retry may be due.

        After a write finishes, wait :data:`WRITE_GATHER` more so that the writes finishing
        together share one commit (and one scan for the next due writes).
        """
        self.wake.clear()
        signals: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.wake.wait()),
        ]
        done, _ = await asyncio.wait(
            [*signals, *writes.keys()],
            timeout=self._settings.retry_base,
            return_when="FIRST_COMPLETED",
        )
        for signal in signals:
            signal.cancel()
        if done and not stop.is_set() and not self.wake.is_set():
            await asyncio.sleep(WRITE_GATHER)

    def _launch(self, writes: dict[asyncio.Future[_Outcome], LedgerEntry]) -> int:
        """Start each due write of an order with none in flight; returns how many started."""
        due = self._claim_due_writes()
        if not due:
            return 0
        fo_ids = [e.intent.order_id for e in due if e.intent.kind == "create_fulfillment_order"]
        known = asyncio.ensure_future(self._fulfillment_orders_of(fo_ids)) if fo_ids else None
        for entry in due:
            self._busy.add(entry.intent.order_id)
            needs = known if entry.intent.kind == "create_fulfillment_order" else None
            writes[asyncio.ensure_future(self._execute_after(entry, needs))] = entry
        return len(due)

    async def _execute_after(
        self, entry: LedgerEntry, known: asyncio.Future[dict[str, list[Obj]]] | None
    ) -> _Outcome:
        """Execute once the batched read-back it shares (if any) has answered."""
        found = None if known is None else (await known).get(entry.intent.order_id)
        return await self._execute(entry, found)

    async def _record_finished(self, writes: dict[asyncio.Future[_Outcome], LedgerEntry]) -> int:
        """Commit the outcomes of the writes that have finished; returns how many."""
        finished = [task for task in writes if task.done()]
        if not finished:
            return 0
        pairs = [(writes.pop(task), _outcome_of(task)) for task in finished]
        await self._record_outcomes(pairs)
        return len(pairs)

    def _update_status(self) -> None:
        pending = self._store.count_pending_intents()
        self._status = f"{self.handled} events handled, {pending} writes pending"

    async def tick(self) -> int:
        """Decide due events, then run due writes; returns how much work was done."""
        handled = await self.handle_events()
        executed = await self.execute_intents()
        self._update_status()
        return handled + executed

    async def drain(self, *, deadline: float | None = None) -> None:
        """Tick until nothing is due (handy for ``events poll`` and tests)."""
        loop = asyncio.get_running_loop()
        while await self.tick():
            if deadline is not None and loop.time() > deadline:
                return

    # -- step 1: decide ----------------------------------------------------------------------
    async def handle_events(self) -> int:
        """Decide every due event and commit the decisions in one transaction."""
        cursor = self._store.event_cursor()
        if cursor.walk_top_id is not None:
            return 0  # a backfill is running: older events may still arrive
        now = self._clock()
        rows = self._store.due_events(stamp(now), self._batch)
        if not rows:
            return 0
        writes = LedgerWrites()
        groups: dict[str | None, list[InboxEvent]] = {}
        for row in rows:
            try:
                groups.setdefault(order_id_of(row.payload), []).append(row)
            except MalformedEventError as exc:
                self._dead(writes, row, None, f"malformed event: {exc}", now)
        order_ids = [oid for oid in groups if oid is not None]
        # The marks are read before the ledgers: a write landing in between then only costs
        # a needless decision again, never a decision on an old read committed as current.
        marks = self._store.ledger_marks(order_ids)
        orders = self._store.orders_by_id(order_ids)
        ledgers = self._store.ledgers(order_ids)
        await self._learn_physical([r for rows_ in groups.values() for r in rows_], orders)
        await asyncio.gather(
            *(
                self._decide_group(
                    oid,
                    rows=group,
                    order=orders.get(oid) if oid else None,
                    intents=[e.intent for e in ledgers.get(oid, [])] if oid else [],
                    writes=writes,
                    now=now,
                    start=start_moment(cursor.start_at),
                )
                for oid, group in groups.items()
            )
        )
        stale = self._store.commit_ledger(writes, stamp(now), marks=marks)
        if stale:
            _log.info("ledger moved while deciding; deciding again", orders=len(stale))
        await self._send_notices(writes.without_orders(stale).notices)
        return len(rows)

    async def _decide_group(
        self,
        order_id: str | None,
        *,
        rows: Sequence[InboxEvent],
        order: Order | None,
        intents: list[Intent],
        writes: LedgerWrites,
        now: datetime,
        start: datetime | None,
    ) -> None:
        """Decide one order's events in order, each seeing the previous one's effect.

        An order we have not recorded is fetched to be recorded, unless it was placed before
        the start point (``events_start``): its events are then ignored, left to whatever
        handled the order before catalog-sync.
        """
        tried = held = False
        for row in rows:
            try:
                decision = self._decide(row.payload, order, intents)
                if decision.status == "deferred" and order_id is not None and not tried:
                    tried = True
                    recorded = await self._fetch_order(order_id, intents, writes, start)
                    if recorded == BEFORE_START:
                        held = True
                    elif recorded is not None:
                        order, intents = recorded
                        decision = self._decide(row.payload, order, intents)
                if held and decision.status == "deferred":
                    decision = Decision(
                        "ignored", f"{row.type}: order placed before the start point (events_start)"
                    )
            except MalformedEventError as exc:
                self._dead(writes, row, order_id, f"malformed event: {exc}", now)
                continue
            except FulfillmentError as exc:
                decision = Decision("error", f"{row.type}: {exc}")
            order, intents = self._apply(
                row,
                order_id,
                decision=decision,
                order=order,
                intents=intents,
                writes=writes,
                now=now,
            )

    def _decide(
        self, payload: Mapping[str, Any], order: Order | None, intents: Sequence[Intent]
    ) -> Decision:
        return decide(payload, order, intents, physical_of=self._physical)

    def _apply(
        self,
        row: InboxEvent,
        order_id: str | None,
        *,
        decision: Decision,
        order: Order | None,
        intents: list[Intent],
        writes: LedgerWrites,
        now: datetime,
    ) -> tuple[Order | None, list[Intent]]:
        """Fold a decision on an event about ``order_id`` into the tick's writes; returns the
        order and ledger after it."""
        if decision.status == "deferred" or decision.status == "error":  # noqa: PLR1714 - narrows for mypy
            self._failed_attempt(
                writes, row, decision.status, decision.summary, now, order_id=order_id
            )
            return order, intents
        if decision.order is not None:
            order = decision.order
            writes.orders[order.order_id] = order
        if decision.intents or decision.updated_intents:
            by_key = {i.key: i for i in intents}
            for intent in decision.intents:
                if intent.key not in by_key:
                    writes.new_intents.append(intent)
                by_key[intent.key] = intent
            for intent in decision.updated_intents:
                writes.updated_intents[intent.key] = intent
                by_key[intent.key] = intent
            intents = list(by_key.values())
        if order is not None:
            writes.history.append((order.order_id, row.id, decision.summary))
        writes.events.append(
            EventOutcome(row.id, decision.status, handled_at=stamp(now), order_id=order_id)
        )
        writes.notices.extend(
            NotificationRecord(stamp(now), n.kind, n.message, n.order_id, row.id)
            for n in decision.notifications
        )
        self.handled += 1
        return order, intents

    def _failed_attempt(
        self,
        writes: LedgerWrites,
        row: InboxEvent,
        status: Literal["deferred", "error"],
        error: str,
        now: datetime,
        *,
        order_id: str | None,
    ) -> None:
        """Park the event for a later try (keeping the decision's status), or dead-letter it."""
        attempts = row.attempts + 1
        if attempts >= self._settings.max_attempts:
            self._dead(writes, row, order_id, f"{error} (after {attempts} attempts)", now)
            return
        retry_at = stamp(now + timedelta(seconds=self._backoff(attempts)))
        writes.events.append(EventOutcome(row.id, status, error, retry_at, order_id=order_id))

    def _dead(
        self,
        writes: LedgerWrites,
        row: InboxEvent,
        order_id: str | None,
        error: str,
        now: datetime,
    ) -> None:
        writes.events.append(EventOutcome(row.id, "dead", error, order_id=order_id))
        writes.notices.append(
            NotificationRecord(
                stamp(now),
                "dead_letter",
                f"event {row.id} ({row.type}) is a dead letter: {error}",
                event_id=row.id,
            )
        )

    def _backoff(self, attempts: int) -> float:
        return float(min(MAX_BACKOFF, self._settings.retry_base * 2.0 ** (attempts - 1)))

    async def _fetch_order(
        self, order_id: str, intents: list[Intent], writes: LedgerWrites, start: datetime | None
    ) -> tuple[Order, list[Intent]] | Literal["before_start"] | None:
        """Record an order an event refers to before its ``order.accepted`` was seen.

        ``before_start`` (nothing recorded) for an order placed before the start point.
        """
        try:
            dr_order = await self._client.get_order(order_id)
        except NotFound:
            return None
        if start is not None and placed_before(dr_order.created_time, start):
            return BEFORE_START
        if dr_order.state not in FETCHABLE_STATES:
            return None
        obj = dr_order.model_dump(mode="json", by_alias=True, exclude_none=True)
        await self._resolve_physical(_sku_ids(obj))
        synthetic = {"id": f"fetched:{order_id}", "type": "order.accepted", "data": {"object": obj}}
        decision = self._decide(synthetic, None, intents)
        if decision.order is None:
            return None
        writes.orders[order_id] = decision.order
        writes.new_intents.extend(decision.intents)
        writes.history.append((order_id, None, f"recorded from GET /orders/{order_id}"))
        return decision.order, [*intents, *decision.intents]

    async def _learn_physical(
        self, rows: Sequence[InboxEvent], orders: Mapping[str, Order]
    ) -> None:
        """Know physical/digital of every SKU of the accepted orders about to be recorded."""
        skus: set[str] = set()
        for row in rows:
            if row.type == "order.accepted":
                obj = row.payload.get("data", {}).get("object", {})
                if isinstance(obj, dict) and str(obj.get("id")) not in orders:
                    skus.update(_sku_ids(obj))
        await self._resolve_physical(skus)

    async def physical_of(self, sku_ids: Iterable[str]) -> dict[str, bool]:
        """Physical/digital of these SKUs as this handler would record an order with them (the
        state's catalog first, then ``GET /skus``); SKUs of unknown kind are left out."""
        wanted = set(sku_ids)
        await self._resolve_physical(wanted)
        return {sku: self._physical[sku] for sku in wanted if sku in self._physical}

    async def _resolve_physical(self, skus: set[str]) -> None:
        missing = skus - self._physical.keys()
        if not missing:
            return
        self._physical.update(self._store.known_physical(missing))
        missing -= self._physical.keys()

        async def one(sku_id: str) -> None:
            try:
                sku = await self._client.get_sku(sku_id)
            except DRError as exc:
                _log.warning("fulfillment.sku_unknown", sku=sku_id, error=str(exc))
                return
            if sku.physical is not None:
                self._physical[sku_id] = sku.physical

        await asyncio.gather(*(one(s) for s in sorted(missing)))

    async def _send_notices(self, notices: Sequence[NotificationRecord]) -> None:
        for notice in notices:
            await self._notifier.notify(notice)

    def _claim_due_writes(self) -> list[LedgerEntry]:
        """The writes due now, marked sent (committed) before any is sent.

        ``sent_at`` committed first is what makes a crash between send and commit safe: on
        restart such a write is read back, never resent blind.
        """
        return self._store.claim_due_writes(
            stamp(self._clock()), self._batch, skip_orders=self._busy
        )

    # -- step 2: execute -----------------------------------------------------------------------
    async def execute_intents(self) -> int:
        """Send each order's oldest due write; commit the outcomes in one transaction."""
        due = self._claim_due_writes()
        if not due:
            return 0
        ids = {e.intent.order_id for e in due}
        self._busy.update(ids)
        try:
            known = await self._fulfillment_orders_of(
                [e.intent.order_id for e in due if e.intent.kind == "create_fulfillment_order"]
            )
            outcomes = await asyncio.gather(
                *(self._execute(entry, known.get(entry.intent.order_id)) for entry in due),
                return_exceptions=True,
            )
        except BaseException:
            self._busy.difference_update(ids)
            raise
        await self._record_outcomes(
            [(entry, _as_outcome(result)) for entry, result in zip(due, outcomes, strict=True)]
        )
        return len(due)

    async def _record_outcomes(self, pairs: Sequence[tuple[LedgerEntry, _Outcome]]) -> None:
        """Commit write outcomes in one transaction, free their orders, send the notices."""
        done_at = self._clock()
        order_ids = [e.intent.order_id for e, _ in pairs]
        orders = self._store.orders_by_id(order_ids)
        ledgers = self._store.ledgers(order_ids)
        writes = LedgerWrites()
        try:
            for entry, outcome in pairs:
                self._record_outcome(
                    entry,
                    outcome,
                    orders,
                    ledgers.get(entry.intent.order_id, []),
                    done_at,
                    writes=writes,
                )
            self._store.commit_ledger(writes, stamp(done_at))
        finally:
            self._busy.difference_update(order_ids)
        if self._metrics is not None:
            for entry, outcome in pairs:
                self._metrics.fulfillment_writes.labels(entry.intent.kind, _label(outcome)).inc()
        await self._send_notices(writes.notices)

    async def _fulfillment_orders_of(self, order_ids: Sequence[str]) -> dict[str, list[Obj]]:
        """Read back the fulfillment orders of many orders at once (``upstreamIds``).

        Every fulfillment order intent is read back before it is sent, so this is one list
        call per :data:`READ_BACK_CHUNK` orders instead of one per order. An order missing
        from the answer is read back again on its own if this call fails.
        """
        found: dict[str, list[Obj]] = {}
        for start in range(0, len(order_ids), READ_BACK_CHUNK):
            chunk = list(order_ids[start : start + READ_BACK_CHUNK])
            try:
                listed = [
                    fo.model_dump(mode="json", by_alias=True, exclude_none=True)
                    async for fo in self._client.iter_fulfillment_orders(upstream_ids=chunk)
                ]
            except DRError as exc:
                _log.info("fulfillment.read_back_batch_failed", error=str(exc))
                continue
            for order_id in chunk:
                found[order_id] = []
            for fo in listed:
                found.setdefault(str(fo.get("upstreamId")), []).append(fo)
        return found

    async def _execute(self, entry: LedgerEntry, known: list[Obj] | None = None) -> _Outcome:
        """Send one intent; ``known`` is its read-back when fetched in a batch already."""
        intent = entry.intent
        try:
            body: dict[str, Any] = intent.body
            if entry.sent_at is not None or intent.kind == "create_fulfillment_order":
                found = known if known is not None else await self._read_back(intent)
                verdict = reconcile_intent(intent, found)
                if isinstance(verdict, Landed):
                    return _Settled(verdict.reference)
                body = verdict.resend
            self.writes += 1
            return _Settled(await self._send(intent, body))
        except APIError as exc:
            if is_already_done(intent.kind, exc.status, exc.code):
                return _Settled(None)
            return _Retry(str(exc)) if exc.retryable else _Failed(str(exc))
        except DRError as exc:
            return _Retry(str(exc))
        except MalformedEventError as exc:
            return _Retry(f"unreadable read-back: {exc}")

    async def _read_back(self, intent: Intent) -> list[dict[str, Any]]:
        query = read_back_query(intent)
        params: dict[str, Any] = dict(query.params)
        listing: AsyncIterator[Any]
        if query.path == "/fulfillment-orders":
            listing = self._client.iter_fulfillment_orders(**params)
        elif query.path == "/fulfillment-cancellations":
            listing = self._client.iter_fulfillment_cancellations(**params)
        else:
            listing = self._client.iter_fulfillments(**params)
        return [
            obj.model_dump(mode="json", by_alias=True, exclude_none=True) async for obj in listing
        ]

    async def _send(self, intent: Intent, body: Mapping[str, Any]) -> str:
        if intent.kind == "create_fulfillment_order":
            created = await self._client.create_fulfillment_order(
                FulfillmentOrderCreate.model_validate(body)
            )
            return created.id
        if intent.kind == "fulfiller_cancel":
            cancellation = await self._client.create_fulfillment_cancellation(
                FulfillmentCancellationCreate.model_validate(body)
            )
            return cancellation.id
        fulfillment = await self._client.create_fulfillment(FulfillmentCreate.model_validate(body))
        return fulfillment.id

    def _record_outcome(
        self,
        entry: LedgerEntry,
        outcome: _Outcome,
        orders: dict[str, Order],
        ledger: Sequence[LedgerEntry],
        now: datetime,
        *,
        writes: LedgerWrites,
    ) -> None:
        """Fold one write's outcome into ``writes`` (committed with the others)."""
        intent, at = entry.intent, stamp(now)
        order = orders.get(intent.order_id)
        if isinstance(outcome, _Settled):
            if order is None:
                raise LedgerError(f"intent {intent.key} belongs to unknown order {intent.order_id}")
            order, done = settle(order, intent, outcome.reference)
            orders[order.order_id] = order
            writes.orders[order.order_id] = order
            writes.updated_intents[done.key] = done
            writes.answers.append(WriteAnswer(intent.key, reference=outcome.reference))
            landed = f" ({outcome.reference})" if outcome.reference else ""
            writes.history.append((intent.order_id, None, f"{_describe(intent)} landed{landed}"))
            return
        if isinstance(outcome, _Failed):
            writes.updated_intents.update(
                (i.key, i) for i in fail_intent(intent, [e.intent for e in ledger])
            )
            writes.answers.append(WriteAnswer(intent.key, error=outcome.error))
            message = f"{_describe(intent)} refused by Digital River: {outcome.error}"
            writes.history.append((intent.order_id, None, message))
            writes.notices.append(
                NotificationRecord(
                    at, "write_failed", f"order {intent.order_id}: {message}", intent.order_id
                )
            )
            return
        attempts = entry.attempts + 1
        if attempts < self._settings.max_attempts:
            retry_at = stamp(now + timedelta(seconds=self._backoff(attempts)))
            writes.retries.append(WriteRetry(intent.key, outcome.error, retry_at))
            return
        writes.retries.append(WriteRetry(intent.key, outcome.error, None))
        error = f"{_describe(intent)} failed {attempts} times: {outcome.error}"
        writes.history.append((intent.order_id, None, f"{error}; parked until `events retry`"))
        event_id = intent.origin.event_id
        if event_id is not None:
            writes.events.append(EventOutcome(event_id, "dead", error, attempted=False))
        writes.notices.append(
            NotificationRecord(
                at, "dead_letter", f"order {intent.order_id}: {error}", intent.order_id, event_id
            )
        )


def _outcome_of(task: asyncio.Future[_Outcome]) -> _Outcome:
    if task.cancelled():
        return _Retry("cancelled")
    return _as_outcome(task.exception() or task.result())


def _as_outcome(result: _Outcome | BaseException) -> _Outcome:
    """An unexpected error of one write is retried like a lost answer (it is read back)."""
    if isinstance(result, BaseException):
        _log.error("fulfillment.write_crashed", error=repr(result))
        return _Retry(f"unexpected error: {result!r}")
    return result


def _label(outcome: _Outcome) -> str:
    """The ``outcome`` label of ``catalog_sync_fulfillment_writes`` for one write."""
    if isinstance(outcome, _Settled):
        return "landed"
    return "refused" if isinstance(outcome, _Failed) else "failed"


def _describe(intent: Intent) -> str:
    what = {
        "create_fulfillment_order": "fulfillment order",
        "capture": "capture",
        "cancel_charge": "charge cancel",
        "fulfiller_cancel": "fulfiller cancellation",
    }[intent.kind]
    return f"{what} {intent.key}"


def _sku_ids(obj: Mapping[str, Any]) -> set[str]:
    items = obj.get("items")
    return {
        str(item["skuId"])
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and item.get("skuId") is not None
    }


def fulfillment_services(
    settings: Settings,
    client: DigitalRiverClient,
    store: StateBackend,
    notifier: Notifier,
    *,
    metrics: Metrics | None = None,
) -> tuple[EventPoller, FulfillmentHandler]:
    """The poller and the handler, each given its group of ``settings``, wired so new events
    wake the handler at once."""
    handler = FulfillmentHandler(settings.fulfillment, client, store, notifier, metrics=metrics)
    poller = EventPoller(
        settings.events, client, store, notifier, metrics=metrics, on_new=handler.wake.set
    )
    return poller, handler
