"""``catalog-sync sandbox``: run the local Digital River for the demo and for manual tests."""

from __future__ import annotations

from pathlib import Path

import click

from catalog_sync.cli import main
from catalog_sync.sandbox.assumptions import RATE_LIMIT_DEFAULT
from catalog_sync.sandbox.server import DEFAULT_HOST, DEFAULT_PORT, SandboxError, run


@main.command("sandbox")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Loopback address only.")
@click.option(
    "--port",
    default=DEFAULT_PORT,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="0 picks a free port (printed).",
)
@click.option(
    "--rate-limit",
    default=RATE_LIMIT_DEFAULT,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Requests per second per key; 0 turns the limit off.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON file to load at start and keep saved.",
)
def sandbox(host: str, port: int, rate_limit: float, state_file: Path | None) -> None:
    """Run a local Digital River API (test data for every sk_test_ key) until interrupted."""
    try:
        run(host=host, port=port, rate_limit=rate_limit, state_file=state_file)
    except SandboxError as exc:
        raise click.ClickException(str(exc)) from None
