"""``events list | retry | replay | poll``: the inbox from the command line."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_FAILED,
    config_option,
    fail,
    handle_errors,
    run_async,
    settings_from,
    setup_logging,
)
from catalog_sync.core.fulfillment import INBOX_STATUSES
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.fulfillment.handler import FulfillmentHandler, fulfillment_services
from catalog_sync.fulfillment.poller import EventPoller
from catalog_sync.state import InboxEvent, StateBackend, open_state
from catalog_sync.support.clock import now_stamp, utc_clock
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


@asynccontextmanager
async def wired(settings: Settings) -> AsyncIterator[_Wired]:
    """The poller and handler of ``settings``, closed on exit."""
    notifier = Notifier.from_settings(settings.notify)
    with open_state(settings) as store:
        async with DigitalRiverClient.from_settings(settings.api) as client:
            poller, handler = fulfillment_services(settings, client, store, notifier)
            try:
                yield _Wired(store, poller, handler)
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

    with InstanceLock(settings.state, command="events replay", beside_daemon=_REPLAY_HINT):
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
    with InstanceLock(settings.state, command=command, beside_daemon=_POLL_HINT):
        counts = run_async(body())
    click.echo(" ".join(f"{k}={v}" for k, v in counts.items()))


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
