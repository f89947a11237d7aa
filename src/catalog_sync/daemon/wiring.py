"""The composition root: which services ``catalog-sync run`` starts, and what ``status`` shows.

Kept apart from the daemon (which only runs services) and from the services (which do not
know each other), so adding a part of the daemon is one line here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from catalog_sync.activity.service import ActivityReporter
from catalog_sync.daemon.runner import DaemonContext, ServiceFactory
from catalog_sync.daemon.service import Service
from catalog_sync.daemon.status import SectionProvider
from catalog_sync.fulfillment.handler import FulfillmentHandler, fulfillment_services
from catalog_sync.fulfillment.orders_audit import OrdersAudit, orders_audit_status
from catalog_sync.fulfillment.poller import EventPoller, status_info
from catalog_sync.requests.log import requests_status
from catalog_sync.requests.transmitter import RequestTransmitter
from catalog_sync.state import StateBackend, open_state
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import EventSettings


class _NotifierCloser:
    """Closes the notification sinks (webhook connection pools) when the daemon stops."""

    name = "notifications"

    def __init__(self, notifier: Notifier) -> None:
        self._notifier = notifier

    async def run(self, stop: asyncio.Event) -> None:
        """Wait for the stop, then close the sinks inside the loop that opened them."""
        await stop.wait()
        await self._notifier.aclose()

    def status_line(self) -> str:
        """Failed notification sends so far."""
        return f"{self._notifier.failures} notification failures"


class _EventParts:
    """Builds the poller, the handler and their notifier once per daemon start."""

    def __init__(self) -> None:
        self._built: dict[int, tuple[EventPoller, FulfillmentHandler, Notifier]] = {}

    def _get(self, ctx: DaemonContext) -> tuple[EventPoller, FulfillmentHandler, Notifier]:
        key = id(ctx)
        if key not in self._built:
            notifier = Notifier.from_settings(ctx.settings.notify)
            poller, handler = fulfillment_services(
                ctx.settings, ctx.client, ctx.store, notifier, metrics=ctx.metrics
            )
            ctx.on_reload(lambda s: poller.reconfigure(s.events))
            ctx.on_reload(lambda s: handler.reconfigure(s.fulfillment))
            self._built[key] = (poller, handler, notifier)
        return self._built[key]

    def factories(self) -> list[ServiceFactory]:
        """One factory per service; they share one notifier, one handler, one wake-up event."""

        def poller(ctx: DaemonContext) -> Service:
            return self._get(ctx)[0]

        def handler(ctx: DaemonContext) -> Service:
            return self._get(ctx)[1]

        def closer(ctx: DaemonContext) -> Service:
            return _NotifierCloser(self._get(ctx)[2])

        def transmitter(ctx: DaemonContext) -> Service:
            service = RequestTransmitter(
                ctx.settings.merchant_requests, ctx.store, self._get(ctx)[1], metrics=ctx.metrics
            )
            ctx.on_reload(lambda s: service.reconfigure(s.merchant_requests))
            return service

        def orders_audit(ctx: DaemonContext) -> Service:
            _, handler_, notifier = self._get(ctx)
            service = OrdersAudit(
                ctx.settings.orders_audit,
                ctx.client,
                ctx.store,
                handler_,
                notifier,
                metrics=ctx.metrics,
            )
            ctx.on_reload(lambda s: service.reconfigure(s.orders_audit))
            return service

        return [poller, handler, transmitter, orders_audit, closer]


def _activity_reporter(ctx: DaemonContext) -> Service:
    """Today's activity report, beside the reconcile reports and kept as many days as they."""
    settings = ctx.settings
    catalog = settings.catalog
    return ActivityReporter(
        lambda: open_state(settings), catalog.reports, keep=catalog.reports_keep
    )


def daemon_services() -> Sequence[ServiceFactory]:
    """Every service ``catalog-sync run`` adds to the catalog watcher and the audit: the event
    poller, the fulfillment handler, the merchant-request transmitter, the orders audit, the
    activity report."""
    return [*_EventParts().factories(), _activity_reporter]


def status_sections(settings: EventSettings) -> Mapping[str, SectionProvider]:
    """What ``status`` shows beyond the catalog, judged by ``settings.events`` (the lag
    warning)."""

    def events(store: StateBackend) -> Mapping[str, Any]:
        return status_info(store, warn_days=settings.retention_warn_days)

    def dead_letters(store: StateBackend) -> Mapping[str, Any]:
        return {"count": store.inbox_counts()["dead"]}

    return {
        "events": events,
        "fulfillment_requests": requests_status,
        "dead_letters": dead_letters,
        "orders_audit": orders_audit_status,
    }
