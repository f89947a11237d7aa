"""Opening the state: the one place that names a backend class.

The daemon and every command call :func:`open_state` and get a
:class:`~catalog_sync.state.interface.StateBackend`; which class serves it is decided here from
the location alone: a path or ``sqlite:///`` URL is the embedded SQLite backend, a
``postgresql://`` (or ``postgres://``) URL the PostgreSQL one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final, Protocol

from catalog_sync.state.interface import StateBackend
from catalog_sync.state.pg_migrate import STATE_TABLES
from catalog_sync.state.postgres import PostgresState
from catalog_sync.state.store import StateStore, read_only_copy, refuse_newer

#: URL scheme of the embedded backend (a plain path means the same).
SQLITE_SCHEME: Final = "sqlite"
#: URL schemes of the PostgreSQL backend (libpq accepts both).
POSTGRES_SCHEMES: Final = frozenset({"postgresql", "postgres"})


class UnsupportedStateError(ValueError):
    """The state location names a backend this catalog-sync does not have."""


class HasStatePath(Protocol):
    """Anything that says where the state is (the settings do)."""

    @property
    def state(self) -> Path | str:
        """The state location: an SQLite path or a PostgreSQL URL."""
        ...

    def state_password(self) -> str | None:
        """The PostgreSQL password from a credential file, if there is one."""
        ...


def open_state(target: HasStatePath | Path | str, *, password: str | None = None) -> StateBackend:
    """Open the state of ``target``: the settings' ``state``, a path, or a URL.

    The database is created (SQLite) and migrated (both) when needed. ``password`` is the
    PostgreSQL password read from a credential file, used when the URL carries none; the
    settings find their own (``state_password_file`` or the systemd credential).
    """
    if isinstance(target, Path | str):
        location = target
    else:
        location = target.state
        if password is None and isinstance(location, str):
            password = target.state_password()
    if isinstance(location, str):
        scheme, separator, rest = location.partition("://")
        if separator:
            if scheme in POSTGRES_SCHEMES:
                return PostgresState(location, password=password)
            if scheme != SQLITE_SCHEME:
                raise UnsupportedStateError(
                    f"state: the {scheme!r} backend is not available; use a path, sqlite:/// "
                    "or postgresql://"
                )
            location = rest
        location = Path(location)
    return StateStore(location)


@contextmanager
def scratch_copy(target: HasStatePath | Path) -> Iterator[StateBackend]:
    """A throwaway copy of the state (empty when there is none yet), removed on exit.

    For what must decide as the daemon would without changing anything: the original is read
    through a read-only connection (a daemon beside it keeps writing undisturbed), never
    created, never migrated; whatever the caller does lands in the copy.
    """
    location = target if isinstance(target, Path) else target.state
    with tempfile.TemporaryDirectory(prefix="catalog-sync-scratch-") as folder:
        copy = Path(folder) / "state.db"
        if isinstance(location, str) and location.partition("://")[0] in POSTGRES_SCHEMES:
            # A PostgreSQL state is copied into a throwaway SQLite one: the same tables and
            # columns, read in one snapshot; the deployment's database is only read.
            password = None if isinstance(target, Path) else target.state_password()
            with PostgresState(location, password=password) as source:
                tables = source.export_tables(STATE_TABLES)
            with StateStore(copy) as store:
                for table in tables:
                    store.import_rows(table.table, table.columns, table.rows)
                yield store
            return
        if isinstance(location, str):
            location = Path(location.removeprefix(f"{SQLITE_SCHEME}://"))
        if location.exists():
            refuse_newer(location, read_only_copy(location, copy))
        with open_state(copy) as store:
            yield store
