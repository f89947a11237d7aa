"""What every command shares: loading settings, logging, and one error-to-exit-code mapping.

Errors a user can act on become one line on stderr and an exit code; a traceback is only for
bugs. That mapping lives here and nowhere else.

Every command creates its files private to the user it runs as (state, reports, request error
files): they hold customer names and addresses, and outside systemd nothing else restricts them.
"""

from __future__ import annotations

import asyncio
import functools
import os
import sys
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, NoReturn, ParamSpec, TypeVar

import click

from catalog_sync.daemon.instance_lock import InstanceLockError
from catalog_sync.dr import DRError
from catalog_sync.state import StateError, UnsupportedStateError
from catalog_sync.support import logs
from catalog_sync.support.settings import Settings, SettingsError, load_settings

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
#: New files are owner-only (0600, folders 0700) whatever the caller's umask was.
PRIVATE_UMASK: Final = 0o077

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

#: The times ``--since`` and ``--until`` accept: UTC unless an offset is given.
TIME_FORMATS: Final = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"]

config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="TOML settings file (default /etc/catalog-sync/catalog-sync.toml when it exists).",
)


def restrict_new_files() -> None:
    """Make every file this process creates private to its user (``umask 077``)."""
    os.umask(PRIVATE_UMASK)


def settings_from(config_file: Path | None, **overrides: Any) -> Settings:
    """Load settings; CLI options given explicitly override file and environment."""
    return load_settings(config_file, **{k: v for k, v in overrides.items() if v is not None})


def setup_logging(*, verbose: bool = False) -> None:
    """Logs go to stderr for commands (stdout carries their output)."""
    import logging  # noqa: PLC0415 - only needed here

    logs.configure(level=logging.DEBUG if verbose else logging.WARNING, stream=sys.stderr)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can act on into a message and an exit code."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except SettingsError as exc:
            fail(f"configuration error: {exc}", EXIT_USAGE)
        except InstanceLockError as exc:
            fail(str(exc), EXIT_FAILED)
        except StateError as exc:
            fail(str(exc), EXIT_FAILED)
        except UnsupportedStateError as exc:
            fail(str(exc), EXIT_USAGE)
        except DRError as exc:
            fail(f"Digital River API error: {logs.redact(str(exc))}", EXIT_FAILED)

    return wrapper


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` to stderr as one redacted line and exit with ``code``."""
    line = " ".join(logs.redact(message).split())
    click.echo(f"catalog-sync: {line}", err=True)
    sys.exit(code)


def run_async(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine as the command's body."""
    return asyncio.run(coro)


def since_option(what: str) -> Callable[[F], F]:
    """An optional ``--since TIME`` for ``what`` (UTC unless an offset is given)."""
    return click.option(
        "--since",
        type=click.DateTime(formats=TIME_FORMATS),
        default=None,
        help=f"{what} after this time (UTC unless an offset is given).",
    )


def as_utc(moment: datetime | None) -> datetime | None:
    """A time option's value with its offset, UTC when it was given without one."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
