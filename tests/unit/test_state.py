"""The SQLite backend's own concerns: migrations, old databases, how it is opened.

What every backend must do is in ``tests/contract/test_state_backend.py``; these tests are
about the one embedded database file and its history.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from catalog_sync.clock import parse_stamp
from catalog_sync.core.fulfillment import INBOX_OPEN
from catalog_sync.state import UnsupportedStateError, open_state
from catalog_sync.state.fulfillment import sql_in
from catalog_sync.state.schema import MIGRATIONS
from catalog_sync.state.store import StateStore

#: The schema version released before the inbox kept the answered upstream id.
_BEFORE_ANSWERS = 3


def _old_database(path: Path) -> None:
    """A database as the previous release left it: schema 3, millisecond run times."""
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:_BEFORE_ANSWERS]:
        db.executescript(script)
    answer = {
        "id": "evt-a",
        "type": "fulfillment_cancellation.accepted",
        "data": {"object": {"upstreamId": "o1~r1", "state": "accepted"}},
    }
    db.execute(
        "INSERT INTO inbox (id, type, created_time, payload, status, received_at)"
        " VALUES ('evt-a', ?, '2026-01-01T00:00:00.000000Z', ?, 'handled',"
        " '2026-01-01T00:00:00.000000Z')",
        (answer["type"], json.dumps(answer)),
    )
    db.execute(
        "INSERT INTO runs (kind, started_at, finished_at) VALUES"
        " ('reconcile', '2026-01-01T00:00:00.123Z', '2026-01-01T00:00:01.456Z')"
    )
    db.execute(f"PRAGMA user_version={_BEFORE_ANSWERS}")
    db.commit()
    db.close()


def test_new_database_is_fully_migrated(tmp_path: Path) -> None:
    """Opening a new file applies every migration."""
    with StateStore(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer catalog-sync is not silently downgraded."""
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="upgrade catalog-sync"):
        StateStore(path)


def test_an_old_database_finds_the_answers_it_already_held(tmp_path: Path) -> None:
    """After the upgrade, a fulfiller's answer stored before it is found by its upstream id."""
    _old_database(tmp_path / "s.db")
    with open_state(tmp_path / "s.db") as store:
        answer = store.answer_to("o1~r1")
    assert answer is not None
    assert answer.id == "evt-a"


def test_an_old_database_keeps_its_millisecond_times_readable(tmp_path: Path) -> None:
    """Run times written in the old millisecond form still read as the same instants."""
    _old_database(tmp_path / "s.db")
    with open_state(tmp_path / "s.db") as store:
        run = store.last_run()
    assert run is not None
    assert run.finished_at is not None
    assert (parse_stamp(run.finished_at) - parse_stamp(run.started_at)).total_seconds() == 1.333


def test_new_times_are_stored_in_the_one_format(tmp_path: Path) -> None:
    """A run recorded now has microsecond UTC times, like every other stored time."""
    with open_state(tmp_path / "s.db") as store:
        run = store.start_run("reconcile", dry_run=False)
        store.finish_run(run, counts={}, failures=0, report_path=None)
        last = store.last_run()
    assert last is not None
    assert last.started_at.endswith("Z")
    assert len(last.started_at) == len("2026-01-01T00:00:00.000000Z")


def test_a_sqlite_url_opens_the_file(tmp_path: Path) -> None:
    """``sqlite:///path`` names the same database as the path."""
    with open_state(tmp_path / "s.db") as store:
        store.start_run("reconcile", dry_run=False)
    with open_state(f"sqlite://{tmp_path / 's.db'}") as store:
        assert store.location == str(tmp_path / "s.db")


def test_an_unknown_backend_is_refused_by_name(tmp_path: Path) -> None:
    """A URL of a backend this version does not have is refused without echoing the URL."""
    with pytest.raises(UnsupportedStateError, match="'postgresql' backend") as refused:
        open_state("postgresql://user:secret@db.example/state")
    assert "secret" not in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_the_open_events_index_was_made_for_the_cores_open_statuses() -> None:
    """Due events are read through a partial index: it must name the core's open statuses
    (changing them needs a migration recreating the index)."""
    assert f"WHERE {sql_in('status', INBOX_OPEN)}" in " ".join(" ".join(MIGRATIONS).split())
