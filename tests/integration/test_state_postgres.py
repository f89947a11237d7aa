"""The PostgreSQL state outside the storage contract: schema versions, the URL, ``state migrate``.

Over a real server (tests/postgres_server.py) and, for the command, a real SQLite state.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from tests.contract.state_backend_helpers import (
    LATER,
    NOW,
    an_event,
    an_intent,
    an_order,
    fulfil_request,
    store_order,
)
from tests.postgres_server import PASSWORD, shared_server

from catalog_sync.cli import main
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.state import (
    AppliedPair,
    EventCursor,
    LedgerWrites,
    RequestClaims,
    RequestFileRecord,
    StateBackend,
    StateError,
    open_state,
)
from catalog_sync.state.pg_schema import PG_MIGRATIONS
from catalog_sync.state.schema import MIGRATIONS


@pytest.fixture
def database() -> str:
    """The URL of a new, empty database."""
    return shared_server().new_database()


def _without_password(url: str) -> str:
    return url.replace(f":{PASSWORD}@", "@", 1)


def test_a_postgresql_url_opens_the_postgresql_backend(database: str) -> None:
    """``open_state`` takes a postgresql:// URL and says where the state is without a password."""
    with open_state(database) as store:
        store.record_applied([AppliedPair("p1", "h", "a.csv", 2, physical=True)])
        assert (store.count_pairs(), store.location) == (1, _without_password(database))


def test_a_password_given_apart_from_the_url_is_used(database: str) -> None:
    """The password of a credential file (``password=``) opens a URL that carries none."""
    with open_state(_without_password(database), password=PASSWORD) as store:
        assert store.count_pairs() == 0


def test_a_wrong_password_is_refused_without_showing_it(database: str) -> None:
    """A refused password: one error saying so, the password given nowhere in it."""
    wrong = "wrong-password-0815"
    with pytest.raises(StateError) as raised:
        open_state(database.replace(PASSWORD, wrong))
    message = str(raised.value)
    assert ("password authentication failed" in message, wrong in message) == (True, False)


def test_a_newer_postgresql_schema_is_refused(database: str) -> None:
    """A database migrated by a newer catalog-sync is refused with what to do."""
    open_state(database).close()
    with psycopg.connect(database, autocommit=True) as admin:
        admin.execute("INSERT INTO schema_version (version) VALUES (%s)", (len(PG_MIGRATIONS) + 1,))
    with pytest.raises(StateError, match=r"newer than this catalog-sync knows.*upgrade"):
        open_state(database)


def test_opening_twice_migrates_once(database: str) -> None:
    """A second open (another process starting) finds the schema current and keeps the data."""
    with open_state(database) as store:
        store_order(store, an_order())
    with open_state(database) as store, psycopg.connect(database) as admin:
        versions = admin.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        applied_once = [(number,) for number in range(1, len(PG_MIGRATIONS) + 1)]
        assert (store.order("o1") is not None, versions) == (True, applied_once)


def test_an_unreachable_server_is_a_state_error_without_the_password() -> None:
    """A database the server does not have: one error naming it and why, never the password."""
    port = shared_server().port
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:{port}/no_such_database"
    with pytest.raises(StateError) as raised:
        open_state(url)
    message = str(raised.value)
    assert ("does not exist" in message, PASSWORD in message) == (True, False)


# -- state migrate ----------------------------------------------------------------------------
def _sqlite_state(path: Path) -> None:
    """An SQLite state with a row in every table."""
    with open_state(path) as store:
        store.record_applied([AppliedPair("p1", "h", "a.csv", 2, physical=False)])
        run = store.start_run("reconcile", dry_run=False)
        store.finish_run(run, counts={"created": 1}, failures=0, report_path="r.json")
        cursor = EventCursor(last_id="e2", newest_time=NOW)
        store.store_events([an_event("e1"), an_event("e2", LATER)], NOW, cursor=cursor)
        store_order(store, an_order("o1", quantity=3))
        store.commit_ledger(
            LedgerWrites(new_intents=[an_intent("o1", "capture:s1")], history=[("o1", "e1", "x")]),
            NOW,
        )
        store.claim_units(fulfil_request("o1", "r1", 1), LATER)
        store.add_notifications([NotificationRecord(NOW, "capture_failed", "m", "o1", "e1")])
        file = RequestFileRecord("f.csv", "sha", "processed", 1, 0)
        store.claim_units(lambda _: (RequestClaims(file=file), None), LATER)


def _snapshot(store: StateBackend) -> tuple[object, ...]:
    """What a user reads back from a state, every table's worth."""
    return (
        store.applied_pairs(),
        store.last_run(),
        store.inbox_events(),
        store.event_cursor(),
        store.list_orders(),
        store.ledger("o1"),
        store.history("o1"),
        store.notifications(),
        store.requests_of("o1"),
        store.request_lines_of("o1"),
        store.request_file_outcome("f.csv", "sha"),
    )


def _migrate(tmp_path: Path, target: str, *options: str) -> Result:
    env = {"CATALOG_SYNC_STATE": str(tmp_path / "state.db"), "CATALOG_SYNC_API_KEY": "sk_test_x"}
    return CliRunner().invoke(main, ["state", "migrate", "--to", target, *options], env=env)


def test_migrate_copies_every_table(tmp_path: Path, database: str) -> None:
    """Everything a user reads from the SQLite state reads the same from PostgreSQL."""
    _sqlite_state(tmp_path / "state.db")
    result = _migrate(tmp_path, database)
    with open_state(tmp_path / "state.db") as source, open_state(database) as target:
        assert (result.exit_code, _snapshot(target)) == (0, _snapshot(source))


def test_migrate_reports_the_rows_of_each_table(tmp_path: Path, database: str) -> None:
    """The command prints the verified count of every table."""
    _sqlite_state(tmp_path / "state.db")
    lines = _migrate(tmp_path, database).output.splitlines()
    assert ("intents: 2" in lines, "merchant_requests: 1" in lines, "copied" in lines[-1]) == (
        True,
        True,
        True,
    )


def test_the_copy_keeps_recording_after_the_copied_rows(tmp_path: Path, database: str) -> None:
    """New intents recorded on PostgreSQL come after the copied ones, in recording order."""
    _sqlite_state(tmp_path / "state.db")
    _migrate(tmp_path, database)
    with open_state(database) as target:
        target.commit_ledger(LedgerWrites(new_intents=[an_intent("o1", "capture:new")]), LATER)
        keys = [e.intent.key for e in target.ledger("o1")]
    assert keys[-1] == "capture:new"


def test_migrate_refuses_a_non_empty_target(tmp_path: Path, database: str) -> None:
    """A target holding any row is left as it was; the command fails saying so."""
    _sqlite_state(tmp_path / "state.db")
    with open_state(database) as target:
        store_order(target, an_order("other"))
    result = _migrate(tmp_path, database)
    with open_state(database) as target:
        orders = [o.order_id for o in target.list_orders()]
    assert (result.exit_code, "is not empty" in result.output, orders) == (1, True, ["other"])


def test_migrate_never_shows_the_password(tmp_path: Path, database: str) -> None:
    """The password of the target URL appears nowhere in the command's output."""
    _sqlite_state(tmp_path / "state.db")
    result = _migrate(tmp_path, database)
    assert (result.exit_code, PASSWORD in result.output) == (0, False)


def test_migrate_takes_the_password_from_a_file(tmp_path: Path, database: str) -> None:
    """``--password-file`` (a systemd credential, say) supplies what the URL leaves out."""
    _sqlite_state(tmp_path / "state.db")
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    result = _migrate(tmp_path, _without_password(database), "--password-file", str(secret))
    assert (result.exit_code, PASSWORD in result.output) == (0, False)


def test_an_unreadable_password_file_is_a_usage_error(tmp_path: Path, database: str) -> None:
    """A password file that is not a regular file: exit 2 naming the option, nothing copied."""
    _sqlite_state(tmp_path / "state.db")
    result = _migrate(tmp_path, _without_password(database), "--password-file", str(tmp_path))
    with open_state(database) as target:
        assert (result.exit_code, "--password-file" in result.output, target.list_orders()) == (
            2,
            True,
            [],
        )


def test_migrate_refuses_a_target_that_is_not_postgresql(tmp_path: Path) -> None:
    """Only a postgresql:// URL is a migration target."""
    _sqlite_state(tmp_path / "state.db")
    result = _migrate(tmp_path, str(tmp_path / "other.db"))
    assert (result.exit_code, "postgresql://" in result.output) == (2, True)


def test_migrate_without_a_source_state_fails(tmp_path: Path, database: str) -> None:
    """No SQLite state at the configured path: a clear failure, not an empty copy."""
    result = _migrate(tmp_path, database)
    assert (result.exit_code, "does not exist" in result.output) == (1, True)


def _older_sqlite_state(path: Path) -> None:
    """An SQLite state as the release before the newest schema left it, one event stored."""
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:-1]:
        db.executescript(script)
    db.execute(
        "INSERT INTO inbox (id, type, created_time, payload, status, received_at)"
        " VALUES ('e1', 'order.accepted', ?, '{}', 'handled', ?)",
        (NOW, NOW),
    )
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) - 1}")
    db.commit()
    db.close()


def test_migrate_leaves_the_source_byte_identical(tmp_path: Path, database: str) -> None:
    """The SQLite source is only read: the file is the same bytes after the copy."""
    _sqlite_state(tmp_path / "state.db")
    before = (tmp_path / "state.db").read_bytes()
    result = _migrate(tmp_path, database)
    assert (result.exit_code, (tmp_path / "state.db").read_bytes() == before) == (0, True)


def test_migrate_copies_an_older_source_without_upgrading_it(tmp_path: Path, database: str) -> None:
    """An older schema is migrated in a copy: the target has the rows, the source is untouched."""
    _older_sqlite_state(tmp_path / "state.db")
    before = (tmp_path / "state.db").read_bytes()
    result = _migrate(tmp_path, database)
    with open_state(database) as target:
        copied = [e.id for e in target.inbox_events()]
    assert (result.exit_code, copied, (tmp_path / "state.db").read_bytes() == before) == (
        0,
        ["e1"],
        True,
    )


def test_migrate_refuses_a_source_newer_than_the_code(tmp_path: Path, database: str) -> None:
    """A source from a newer catalog-sync: exit 1 saying so, nothing copied, source untouched."""
    _sqlite_state(tmp_path / "state.db")
    db = sqlite3.connect(tmp_path / "state.db")
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    before = (tmp_path / "state.db").read_bytes()
    result = _migrate(tmp_path, database)
    with open_state(database) as target:
        orders = target.list_orders()
    assert (result.exit_code, "newer than this catalog-sync" in result.output, orders) == (
        1,
        True,
        [],
    )
    assert (tmp_path / "state.db").read_bytes() == before
