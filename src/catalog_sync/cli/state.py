"""``state migrate``: moving the state from the embedded SQLite database to PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import click

from catalog_sync.cli import main
from catalog_sync.cli.common import EXIT_USAGE, config_option, fail, handle_errors, settings_from
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.state import POSTGRES_SCHEMES, migrate_to_postgres, public_location
from catalog_sync.support.settings import read_secret_file


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
    with InstanceLock(settings.state, command="state migrate"):
        counts = migrate_to_postgres(settings.state, target, password=password)
    for table, rows in counts.items():
        click.echo(f"{table}: {rows}")
    total = sum(counts.values())
    click.echo(f"copied {total} rows from {settings.state} to {public_location(target)}")


def _password(path: Path) -> str:
    """The password in ``path``, without the line break an editor or ``echo`` adds."""
    try:
        text = read_secret_file(path)
    except OSError as exc:
        fail(f"--password-file: cannot read {path}: {exc.strerror or exc}", EXIT_USAGE)
    except ValueError as exc:
        fail(f"--password-file: {path}: {exc}", EXIT_USAGE)
    return text.rstrip("\r\n")
