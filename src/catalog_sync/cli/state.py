"""``state migrate``: moving the state from the embedded SQLite database to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import EXIT_USAGE, config_option, fail, handle_errors, settings_from
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.state import POSTGRES_SCHEMES, migrate_to_postgres, public_location
from catalog_sync.support.settings import read_password_file


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
@click.option(
    "--password-file",
    type=click.Path(path_type=Path),
    default=None,
    help="A file holding the database password (a systemd credential), if the URL has none.",
)
@config_option
@handle_errors
def migrate(target: str, password_file: Path | None, config_file: Path | None) -> None:
    """Copy the SQLite state (the state setting) to an empty PostgreSQL database, then verify
    the row count of every table. The daemon must not run meanwhile (the state's lock)."""
    if target.partition("://")[0] not in POSTGRES_SCHEMES:
        fail("--to: expected a postgresql:// URL", EXIT_USAGE)
    password = None if password_file is None else _password(password_file)
    settings = settings_from(config_file)
    source = settings.state_file
    if source is None:
        fail("state migrate copies an SQLite state; the state setting is already a URL", EXIT_USAGE)
    with InstanceLock(source, command="state migrate"):
        counts = migrate_to_postgres(source, target, password=password)
    for table, rows in counts.items():
        click.echo(f"{table}: {rows}")
    total = sum(counts.values())
    click.echo(f"copied {total} rows from {source} to {public_location(target)}")


def _password(path: Path) -> str:
    """The password in ``path`` (:func:`read_password_file`, shared with the settings'
    ``state_password_file``)."""
    try:
        return read_password_file(path)
    except OSError as exc:
        fail(f"--password-file: cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    except ValueError as exc:
        fail(f"--password-file: {path}: {exc}", EXIT_USAGE)
