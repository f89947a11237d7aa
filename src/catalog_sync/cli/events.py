"""``events list | retry | replay | poll | plan``: the inbox from the command line."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_FAILED,
    as_utc,
    config_option,
    fail,
    handle_errors,
    run_async,
    settings_from,
    setup_logging,
    since_option,
)
from catalog_sync.core.fulfillment import INBOX_DEAD, INBOX_STATUSES, order_id_of
from catalog_sync.core.money_plan import MoneyPlan, PlannedWrite, plan_json_schema, plan_money
from catalog_sync.core.orders import MalformedEventError
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.dr import DigitalRiverClient, DRError, NotFound
from catalog_sync.fulfillment.handler import (
    FETCHABLE_STATES,
    FulfillmentHandler,
    fulfillment_services,
)
from catalog_sync.fulfillment.poller import (
    EventPoller,
    is_first_start,
    placed_before,
    start_moment,
)
from catalog_sync.state import EventCursor, InboxEvent, StateBackend, open_state, scratch_copy
from catalog_sync.support.clock import now_stamp, parse_stamp, utc_clock
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import Settings

#: What ``events poll`` and ``events replay`` say when the daemon holds the state database:
#: two handlers on one ledger would send the same write twice.
_POLL_HINT = "it polls and handles events itself; stop it to poll by hand"
_REPLAY_HINT = (
    "it handles events itself (`events retry` queues dead letters for it); stop it to replay"
)


@dataclass
class _Wired:
    store: StateBackend
    poller: EventPoller
    handler: FulfillmentHandler
    client: DigitalRiverClient
    notifier: Notifier


@asynccontextmanager
async def wired(settings: Settings) -> AsyncIterator[_Wired]:
    """The poller and handler of ``settings``, closed on exit."""
    notifier = Notifier.from_settings(settings.notify)
    with open_state(settings) as store:
        async with DigitalRiverClient.from_settings(settings.api) as client:
            poller, handler = fulfillment_services(settings, client, store, notifier)
            try:
                yield _Wired(store, poller, handler, client, notifier)
            finally:
                await notifier.aclose()


@main.group()
def events() -> None:
    """Digital River events: the inbox, dead letters, polling by hand."""


@events.command("list")
@click.option("--status", type=click.Choice(INBOX_STATUSES), default=None, help="Only this status.")
@click.option("--limit", type=int, default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@config_option
@handle_errors
def list_events(status: str | None, limit: int, as_json: bool, config_file: Path | None) -> None:
    """Show the inbox, newest first."""
    with open_state(settings_from(config_file)) as store:
        rows = store.inbox_events(status, limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(_row_json(row), sort_keys=True))
        else:
            error = f"  {row.last_error}" if row.last_error else ""
            click.echo(
                f"{row.created_time}  {row.id}  {row.type:<34} {row.status:<8}"
                f" tries={row.attempts}{error}"
            )


@events.command("retry")
@click.argument("event_id", required=False)
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter.")
@config_option
@handle_errors
def retry(event_id: str | None, retry_all: bool, config_file: Path | None) -> None:
    """Handle a dead letter (or every one) again; its parked writes are resumed."""
    if (event_id is None) == (not retry_all):
        fail("give an EVENT_ID or --all (not both)", 2)
    with open_state(settings_from(config_file)) as store:
        ids = store.requeue_events(None if retry_all else [event_id or ""], now_stamp())
    if event_id is not None and not ids:
        fail(f"event {event_id} is not in the inbox or was already handled", EXIT_FAILED)
    click.echo(f"{len(ids)} event(s) queued again; the daemon (or `events poll`) handles them")


@events.command("replay")
@click.option(
    "--since",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]),
    help="Re-read events created after this time (UTC unless an offset is given).",
)
@config_option
@handle_errors
def replay(since: datetime, config_file: Path | None) -> None:
    """Re-read events from the API and handle them again (the ledger keeps it safe)."""
    setup_logging()
    settings = settings_from(config_file)
    moment = since if since.tzinfo is not None else since.replace(tzinfo=utc_clock().tzinfo)

    async def body() -> int:
        async with wired(settings) as w:
            rows = await w.poller.read_since(moment)
            count = w.store.replay_events(rows, now_stamp())
            await w.handler.drain()
            return count

    with InstanceLock(settings, command="events replay", beside_daemon=_REPLAY_HINT):
        count = run_async(body())
    click.echo(f"{count} event(s) replayed")


@events.command("poll")
@click.option("--loop", is_flag=True, help="Keep polling and handling until SIGTERM / Ctrl-C.")
@config_option
@handle_errors
def poll(loop: bool, config_file: Path | None) -> None:
    """One pass: read new events, handle everything due, print the inbox counts."""
    setup_logging()
    settings = settings_from(config_file)

    async def body() -> dict[str, int]:
        async with wired(settings) as w:
            if loop:
                await _loop(w)
            else:
                await w.poller.poll_once()
                await w.handler.drain()
            return w.store.inbox_counts()

    command = "events poll --loop" if loop else "events poll"
    with InstanceLock(settings, command=command, beside_daemon=_POLL_HINT):
        counts = run_async(body())
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


#: ``events plan``'s exit status when at least one write would be sent (0 when none would).
EXIT_WOULD_MOVE: Final = 2
#: The accepted forms of a ``--since`` time.
#: How many due inbox events the plan reads at most: far beyond one handler tick.
_PLAN_LIMIT: Final = 100_000


@events.command("plan")
@since_option(
    "Plan the events the API lists (without it: the events the daemon would handle next from "
    "the inbox)"
)
@click.option("--json", "as_json", is_flag=True, help="The plan as one JSON document.")
@click.option("--schema", is_flag=True, help="Print the JSON Schema of --json and exit.")
@config_option
@handle_errors
def plan(since: datetime | None, as_json: bool, schema: bool, config_file: Path | None) -> None:
    """Show what the daemon would send for the events: nothing is written anywhere.

    The handler's own decisions run over a scratch copy of the state database and only GETs
    reach Digital River. Exit 0 when no write would be sent, 2 when at least one would.
    """
    if schema:
        click.echo(json.dumps(plan_json_schema(), indent=2))
        return
    setup_logging()
    settings = settings_from(config_file)
    moment = as_utc(since)
    with scratch_copy(settings) as store:
        result = run_async(_plan(settings, store, moment))
    if as_json:
        click.echo(result.model_dump_json(indent=2))
    else:
        click.echo("\n".join(plan_lines(result)))
    sys.exit(EXIT_WOULD_MOVE if result.would_move else 0)


async def _plan(settings: Settings, store: StateBackend, since: datetime | None) -> MoneyPlan:
    """Read the events and what deciding them needs (GETs only), then plan."""
    async with DigitalRiverClient.from_settings(settings.api) as client:
        if since is None:
            rows = store.due_events(now_stamp(), _PLAN_LIMIT)
        else:
            poller = EventPoller(settings.events, client, store, Notifier())
            rows = await poller.read_since(since)
        payloads = [row.payload for row in rows if row.status != INBOX_DEAD]
        order_ids = _order_ids(payloads)
        orders = store.orders_by_id(order_ids)
        ledgers = store.ledgers(order_ids)
        if store.count_pending_intents():  # writes recorded and not yet sent go out first
            everyone = store.ledgers(o.order_id for o in store.list_orders(limit=_PLAN_LIMIT))
            for oid, entries in everyone.items():
                if any(e.intent.status == "pending" for e in entries):
                    ledgers.setdefault(oid, entries)
        api_orders = await _api_orders(client, sorted({*order_ids, *ledgers}))
        physical = await _physical_of(client, store, api_orders.values())
    start = _start_point(store.event_cursor(), since)
    held = {
        oid
        for oid, obj in api_orders.items()
        if start is not None and placed_before(_created(obj), start)
    }
    return plan_money(
        "inbox" if since is None else "api",
        payloads,
        orders=orders,
        ledgers={oid: [e.intent for e in entries] for oid, entries in ledgers.items()},
        physical_of=physical,
        api_orders=api_orders,
        recordable=[
            oid
            for oid, obj in api_orders.items()
            if obj.get("state") in FETCHABLE_STATES and oid not in held
        ],
        before_start=held,
    )


def _start_point(cursor: EventCursor, since: datetime | None) -> datetime | None:
    """The start point the handler would apply: the fixed one, or on a first start ``--since``
    (so the plan previews ``events_start`` set to that time)."""
    if cursor.start_at is not None:
        return start_moment(cursor.start_at)
    return since if is_first_start(cursor) else None


def _created(obj: Mapping[str, Any]) -> datetime | None:
    """An API order's ``createdTime``, or None when it has no readable one."""
    value = obj.get("createdTime")
    try:
        return parse_stamp(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _order_ids(payloads: Sequence[Mapping[str, Any]]) -> list[str]:
    """The orders the events are about (unreadable ones are left to the plan to report)."""
    found: dict[str, None] = {}
    for payload in payloads:
        try:
            oid = order_id_of(payload)
        except MalformedEventError:
            continue
        if oid is not None:
            found[oid] = None
    return list(found)


async def _api_orders(
    client: DigitalRiverClient, order_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Digital River's orders by id (``GET /orders/{id}``); ones it does not know are left out."""

    async def one(order_id: str) -> tuple[str, dict[str, Any] | None]:
        try:
            order = await client.get_order(order_id)
        except NotFound:
            return order_id, None
        return order_id, order.model_dump(mode="json", by_alias=True, exclude_none=True)

    pairs = await asyncio.gather(*(one(oid) for oid in order_ids))
    return {oid: obj for oid, obj in pairs if obj is not None}


async def _physical_of(
    client: DigitalRiverClient, store: StateBackend, orders: Iterable[Mapping[str, Any]]
) -> dict[str, bool]:
    """Physical or digital for every SKU of these orders: the state first, then ``GET /skus``."""
    skus = {
        str(item["skuId"])
        for obj in orders
        for item in obj.get("items", [])
        if isinstance(item, Mapping) and item.get("skuId") is not None
    }
    known = store.known_physical(skus)
    for sku_id in sorted(skus - known.keys()):
        try:
            sku = await client.get_sku(sku_id)
        except DRError:
            continue
        if sku.physical is not None:
            known[sku_id] = sku.physical
    return known


def plan_lines(result: MoneyPlan) -> list[str]:
    """The plan as text: one line per write and status change, then the totals."""
    lines = [f"{len(result.events)} event(s) planned from the {result.source}"]
    for title, writes in (
        ("fulfillment orders to create", result.fulfillment_orders),
        ("captures", result.captures),
        ("cancels", result.cancels),
    ):
        lines.append(f"{title}: {len(writes)}")
        lines.extend(f"  {_write_line(w)}" for w in writes)
    lines.append(f"status changes: {len(result.status_changes)}")
    lines.extend(
        f"  order {c.order_id}: {c.before or '(new)'} -> {c.after}" for c in result.status_changes
    )
    lines.append("totals:" if result.totals else "totals: nothing captured or cancelled")
    lines.extend(
        f"  {t.currency}: capture {t.captured_units} unit(s) {t.captured_amount}, "
        f"cancel {t.cancelled_units} unit(s) {t.cancelled_amount}"
        + (f", {t.unpriced_units} unit(s) without an amount" if t.unpriced_units else "")
        for t in result.totals
    )
    problems = [e for e in result.events if e.status in {"error", "unreadable"}]
    lines.extend(f"not planned: {e.event_id} {e.summary}" for e in problems)
    return lines


def _write_line(write: PlannedWrite) -> str:
    parts = ", ".join(
        f"{line.line_id} x{line.units}" + ("" if line.amount is None else f" {line.amount}")
        for line in write.lines
    )
    amount = "" if write.amount is None else f" {write.amount} {write.currency}"
    recorded = " (recorded, not yet sent)" if write.recorded else ""
    return f"order {write.order_id}: {write.units} unit(s){amount} [{parts}]{recorded}"


async def _loop(w: _Wired) -> None:
    stop = asyncio.Event()
    running = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(sig, stop.set)
    await asyncio.gather(w.poller.run(stop), w.handler.run(stop))


def _row_json(row: InboxEvent) -> dict[str, object]:
    return {
        "id": row.id,
        "type": row.type,
        "created_time": row.created_time,
        "status": row.status,
        "attempts": row.attempts,
        "last_error": row.last_error,
        "handled_at": row.handled_at,
    }
