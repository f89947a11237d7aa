"""``run`` (the daemon), ``status`` and ``config show``: the commands an operator lives with."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_FAILED,
    EXIT_USAGE,
    config_option,
    fail,
    handle_errors,
    settings_from,
)
from catalog_sync.daemon.runner import Daemon, validate
from catalog_sync.daemon.status import gather_status, render_status
from catalog_sync.daemon.wiring import daemon_services, status_sections
from catalog_sync.fulfillment.poller import start_refusal
from catalog_sync.state import EventCursor, check_writable, open_state, public_location
from catalog_sync.support import logs
from catalog_sync.support.settings import Settings, is_test_key, webhook_label

metrics_port_option = click.option(
    "--metrics-port",
    # The range is checked with the other settings, so a bad port is one line like them.
    type=int,
    default=None,
    help="Serve /healthz and /metrics on 127.0.0.1 at this port (default: off).",
)


@main.command()
@config_option
@metrics_port_option
@handle_errors
def run(config_file: Path | None, metrics_port: int | None) -> None:
    """Run the daemon: watch the catalogs folder, audit periodically, until SIGTERM."""
    logs.configure()

    def load() -> Settings:
        return settings_from(config_file, metrics_port=metrics_port)

    settings = load()
    validate(settings)
    refuse_unplanned_first_start(settings)
    if settings.state_file is not None:
        check_writable(settings.state_file)
    sys.exit(Daemon(settings, reload=load, services=daemon_services()).run())


def refuse_unplanned_first_start(settings: Settings) -> None:
    """Exit 2, before anything starts or is created, on a live key's first start without
    ``events_start``: the daemon would otherwise act on 30 days of another integration's
    events."""
    live = not is_test_key(settings.resolved_api_key().get_secret_value())
    if not live or settings.events.start is not None:
        return
    cursor = EventCursor()
    if settings.state_file is None or settings.state_file.exists():
        with open_state(settings) as store:
            cursor = store.event_cursor()
    refusal = start_refusal(settings.events, live=live, cursor=cursor)
    if refusal is not None:
        fail(refusal, EXIT_USAGE)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status document as JSON.")
@config_option
@handle_errors
def status(as_json: bool, config_file: Path | None) -> None:
    """Show the last reconcile, pairs tracked, events, requests and the newest report."""
    settings = settings_from(config_file)
    if settings.state_file is not None and not settings.state_file.exists():
        fail(
            f"no state database at {settings.state_file}: catalog-sync has not run yet", EXIT_FAILED
        )
    with open_state(settings) as store:
        document = gather_status(store, sections=status_sections(settings.events))
    if as_json:
        click.echo(json.dumps(document, indent=2))
    else:
        for line in render_status(document):
            click.echo(line)


@main.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print the settings as JSON.")
@config_option
@handle_errors
def config_show(as_json: bool, config_file: Path | None) -> None:
    """Print the effective settings (file, then environment), the API key masked."""
    values = effective_settings(settings_from(config_file))
    if as_json:
        click.echo(json.dumps(values, indent=2))
        return
    for name, value in values.items():
        if value is None:
            click.echo(f"# {name} is not set")
        else:
            click.echo(f"{name} = {json.dumps(value)}")


def effective_settings(settings: Settings) -> dict[str, Any]:
    """Every setting as JSON values; secrets are shown as ``**********``.

    Webhook URLs carry their token in the user part, the query or the path (Slack-style), so
    only their scheme and host are shown; a PostgreSQL state URL is shown without its password.
    """
    values: dict[str, Any] = settings.model_dump(mode="json")
    if isinstance(settings.state, str):
        values["state"] = public_location(settings.state)
    values["notify_webhooks"] = [
        webhook_label(url.get_secret_value()) for url in settings.notify_webhooks
    ]
    return values
