"""The orders audit at the edge: read what Digital River holds, find, repair, record, notify.

The findings are decided by :mod:`catalog_sync.core.orders_audit`. A repair is the event DR
would have sent, stored in the inbox under an id of its own (``audit:<write key>``) and
handled by the :class:`~catalog_sync.fulfillment.handler.FulfillmentHandler` like any event: its
write is recorded in the ledger first, read back before any resend, and keyed so that a late
real event adds nothing. The inbox's dedupe by id makes a repair happen once across audits: a
second audit finding the same thing (DR refused the write) reports it instead.

DR's lists are read in pages, never per order: the orders created in the window, their
fulfillment orders by ``upstreamIds``, and the fulfillments and shipments created since the
window began (no list filters shipments by fulfillment order, docs/digital-river-api.md §12).
Orders placed before the start point (``events_start``) belong to whatever handled them before
catalog-sync and are left out.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Final

from catalog_sync.core.orders import MalformedEventError
from catalog_sync.core.orders_audit import FINDING_KINDS, DrRecords, Finding, audit_order
from catalog_sync.dr import DigitalRiverClient, DRError, NotFound
from catalog_sync.dr.client import id_chunks
from catalog_sync.dr.models import Order as DrOrder
from catalog_sync.fulfillment.handler import FulfillmentHandler
from catalog_sync.fulfillment.poller import placed_before, start_moment
from catalog_sync.state import AuditFindingRecord, InboxEvent, NotificationRecord, StateBackend
from catalog_sync.support.clock import Clock, stamp, utc_clock
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import OrdersAuditSettings
from catalog_sync.support.waits import Pause

#: The run kind of an orders audit in the state's runs.
RUN_KIND: Final = "orders-audit"
#: The notification kind of a finding left for a person.
NOTICE_KIND: Final = "orders_audit"
#: Fulfillment orders asked for per list call (one page holds them, duplicates included).
_CHUNK: Final = 50
Obj = dict[str, Any]

_log = get_logger("orders_audit")


@dataclass(frozen=True, slots=True)
class AuditResult:
    """One audit: what it looked at and found, as recorded (``run_id`` in the state's runs)."""

    run_id: int
    orders: int
    findings: tuple[AuditFindingRecord, ...]
    dry_run: bool

    @property
    def remaining(self) -> tuple[AuditFindingRecord, ...]:
        """The findings not repaired by this audit: what a person must look at."""
        return tuple(f for f in self.findings if not f.repaired)

    def counts(self) -> dict[str, int]:
        """Findings per kind, and how many were repaired (the run's counts)."""
        counts = dict(Counter(f.kind for f in self.findings))
        return {
            **counts,
            "orders": self.orders,
            "repaired": len(self.findings) - len(self.remaining),
        }


class OrdersAudit:
    """``catalog-sync orders audit``, and the daemon's service running it every interval."""

    name = "orders-audit"

    def __init__(
        self,
        settings: OrdersAuditSettings,
        client: DigitalRiverClient,
        store: StateBackend,
        handler: FulfillmentHandler,
        notifier: Notifier,
        *,
        metrics: Metrics | None = None,
        clock: Clock = utc_clock,
    ) -> None:
        self._settings = settings
        self._client = client
        self._store = store
        self._handler = handler
        self._notifier = notifier
        self._metrics = metrics
        self._clock = clock
        self._pause = Pause()
        self._last: AuditResult | None = None

    def reconfigure(self, settings: OrdersAuditSettings) -> None:
        """SIGHUP: take the new interval, grace and window now."""
        changed = settings.interval != self._settings.interval
        self._settings = settings
        if changed:
            self._pause.retime()

    def status_line(self) -> str:
        """What the last audit left."""
        if self._last is None:
            return "no orders audit yet"
        return f"last orders audit: {len(self._last.remaining)} finding(s) left"

    async def run(self, stop: asyncio.Event) -> None:
        """Audit every ``interval`` seconds (the first an interval after start; 0: never)."""
        while not stop.is_set():
            await self._pause.sleep(stop, self._wait)
            if stop.is_set():
                return
            if self._settings.interval <= 0:
                continue
            try:
                await self.audit()
            except DRError as exc:
                _log.warning("orders_audit.failed", error=str(exc))

    def _wait(self) -> float:
        """Seconds to the next audit; while the audit is off, a long nap a reload cuts short."""
        return self._settings.interval if self._settings.interval > 0 else 3600.0

    async def audit(
        self,
        *,
        since: datetime | None = None,
        order_ids: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> AuditResult:
        """Audit the orders created since ``since`` (default: the configured window) or the
        orders ``order_ids``; repair what can be (never with ``dry_run``), record and notify."""
        now = self._clock()
        start = since or now - timedelta(days=self._settings.days)
        run_id = self._store.start_run(RUN_KIND, dry_run=dry_run)
        try:
            audited, findings, unreadable = await self._find(start, order_ids, now)
            repaired = set() if dry_run else await self._repair(findings, now)
        except BaseException:
            self._store.finish_run(run_id, counts={}, failures=1, report_path=None)
            raise
        records = tuple(_record(run_id, f, stamp(now), repaired) for f in findings)
        self._store.record_audit_findings(run_id, records)
        result = AuditResult(run_id, audited, records, dry_run)
        self._store.finish_run(
            run_id, counts=result.counts(), failures=unreadable, report_path=None
        )
        await self._notify(result.remaining, now)
        self._observe(result)
        self._last = result
        return result

    async def _find(
        self, start: datetime, order_ids: Sequence[str] | None, now: datetime
    ) -> tuple[int, list[Finding], int]:
        """How many orders were audited, their findings, and how many orders DR's records could
        not be read for (skipped, logged, counted as the run's failures)."""
        orders = await self._orders(start, order_ids)
        first = min((o.created_time for o in orders if o.created_time), default=start)
        since = min(first, start)
        ids = [o.id for o in orders]
        fos = await self._fulfillment_orders(ids)
        wanted = set(ids)
        fulfillments = [
            f.model_dump(mode="json", by_alias=True, exclude_none=True)
            async for f in self._client.iter_fulfillments(created_since=since)
            if f.order_id in wanted
        ]
        shipments = [
            s.model_dump(mode="json", by_alias=True, exclude_none=True)
            async for s in self._client.iter_shipments(created_since=since)
            if s.fulfillment_order_upstream_id in wanted
        ]
        ours = self._store.orders_by_id(ids)
        ledgers = self._store.ledgers(ids)
        physical = await self._handler.physical_of(
            {i.sku_id for o in orders for i in o.items if i.sku_id}
        )
        fulfillments_of = _grouped(fulfillments, "orderId")
        shipments_of = _grouped(shipments, "fulfillmentOrderUpstreamId")
        findings: list[Finding] = []
        unreadable = 0
        for order in orders:
            records = DrRecords(
                order.model_dump(mode="json", by_alias=True, exclude_none=True),
                fos.get(order.id, []),
                fulfillments_of.get(order.id, []),
                shipments_of.get(order.id, []),
            )
            try:
                findings += audit_order(
                    records,
                    ours.get(order.id),
                    [e.intent for e in ledgers.get(order.id, [])],
                    physical_of=physical,
                    grace=timedelta(seconds=self._settings.grace),
                    now=now,
                )
            except MalformedEventError as exc:
                unreadable += 1
                _log.warning("orders_audit.unreadable", order=order.id, error=str(exc))
        return len(orders), findings, unreadable

    async def _orders(self, start: datetime, order_ids: Sequence[str] | None) -> list[DrOrder]:
        """DR's orders to audit, without those placed before the start point."""
        if order_ids is None:
            found = [o async for o in self._client.iter_orders(created_since=start)]
        else:
            found = []
            for order_id in order_ids:
                try:
                    found.append(await self._client.get_order(order_id))
                except NotFound:
                    _log.warning("orders_audit.no_such_order", order=order_id)
        begin = start_moment(self._store.event_cursor().start_at)
        return [o for o in found if begin is None or not placed_before(o.created_time, begin)]

    async def _fulfillment_orders(self, order_ids: Sequence[str]) -> dict[str, list[Obj]]:
        by_order: dict[str, list[Obj]] = {}
        for chunk in id_chunks(order_ids, _CHUNK):
            async for fo in self._client.iter_fulfillment_orders(upstream_ids=chunk):
                if fo.upstream_id is not None:
                    obj = fo.model_dump(mode="json", by_alias=True, exclude_none=True)
                    by_order.setdefault(fo.upstream_id, []).append(obj)
        return by_order

    async def _repair(self, findings: Iterable[Finding], now: datetime) -> set[str]:
        """Store each repair event once and let the handler carry it out; returns the ids of
        the repair events stored by this audit (one stored before is not repaired again)."""
        events = {f.repair["id"]: f.repair for f in findings if f.repair is not None}
        stored: set[str] = set()
        for event_id, payload in events.items():
            row = InboxEvent(event_id, str(payload["type"]), stamp(now), dict(payload))
            if self._store.store_events([row], stamp(now)):
                stored.add(event_id)
        if stored:
            self._handler.wake.set()
        return stored

    async def _notify(self, remaining: Sequence[AuditFindingRecord], now: datetime) -> None:
        notices = [
            NotificationRecord(
                stamp(now), NOTICE_KIND, f"order {f.order_id}: {f.kind}: {f.detail}", f.order_id
            )
            for f in remaining
        ]
        if notices:
            self._store.add_notifications(notices)
        for notice in notices:
            await self._notifier.notify(notice)

    def _observe(self, result: AuditResult) -> None:
        if self._metrics is None:
            return
        left = Counter(f.kind for f in result.remaining)
        for kind in FINDING_KINDS:
            self._metrics.orders_audit_findings.labels(kind).set(left[kind])


def _grouped(objs: Iterable[Obj], key: str) -> dict[str, list[Obj]]:
    """The objects by the value of ``key`` (an order id), in their order."""
    groups: dict[str, list[Obj]] = {}
    for obj in objs:
        groups.setdefault(str(obj.get(key)), []).append(obj)
    return groups


def _record(run_id: int, finding: Finding, found_at: str, repaired: set[str]) -> AuditFindingRecord:
    return AuditFindingRecord(
        run_id=run_id,
        found_at=found_at,
        kind=finding.kind,
        order_id=finding.order_id,
        line_id=finding.line_id,
        units=finding.units,
        amount=_minor_units(finding.amount),
        currency=finding.currency,
        repaired=finding.repair is not None and finding.repair["id"] in repaired,
        detail=finding.detail,
    )


def _minor_units(amount: Decimal | None) -> int | None:
    """An amount in cents, the unit amounts are rounded to (docs/digital-river-api.md §9.2)."""
    return None if amount is None else int((amount * 100).to_integral_value())


def orders_audit_status(store: StateBackend) -> Mapping[str, Any]:
    """What ``status`` shows of the newest orders audit: when, and what it found and left."""
    last = store.last_run([RUN_KIND])
    if last is None:
        return {"last_run": None}
    found = sum(last.counts.get(kind, 0) for kind in FINDING_KINDS)
    return {
        "last_run": last.id,
        "finished_at": last.finished_at,
        "dry_run": last.dry_run,
        "orders": last.counts.get("orders", 0),
        "findings": found,
        "repaired": last.counts.get("repaired", 0),
        "failed": bool(last.failures),
    }
