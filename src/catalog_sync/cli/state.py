"""``state migrate``: moving the state from the embedded SQLite database to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import EXIT_USAGE, config_option, fail, handle_errors, settings_from
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.state import POSTGRES_SCHEMES, migrate_to_postgres, public_location


@main.group("state")
def state_group() -> None:
    """Manage where the state lives."""


@state_group.command("migrate")
@click.option(
    "--to",
    "target",
    required=True,
    help="postgresql://user@host/db of an empty database (password: URL, PGPASSWORD, .pgpass).",
)
@config_option
@handle_errors
def migrate(target: str, config_file: Path | None) -> None:
    """Copy the SQLite state (the state setting) to an empty PostgreSQL database, then verify
    the row count of every table. The daemon must not run meanwhile (the state's lock)."""
    if target.partition("://")[0] not in POSTGRES_SCHEMES:
        fail("--to: expected a postgresql:// URL", EXIT_USAGE)
    settings = settings_from(config_file)
    with InstanceLock(settings.state, command="state migrate"):
        counts = migrate_to_postgres(settings.state, target)
    for table, rows in counts.items():
        click.echo(f"{table}: {rows}")
    total = sum(counts.values())
    click.echo(f"copied {total} rows from {settings.state} to {public_location(target)}")
