"""The SQLite backend's own concerns: migrations, old databases, how it is opened.

What every backend must do is in ``tests/contract/test_state_backend.py``; these tests are
about the one embedded database file and its history.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.faults import small_filesystem, unwritable

from catalog_sync.core.fulfillment import INBOX_OPEN
from catalog_sync.core.orders import Origin
from catalog_sync.daemon.instance_lock import InstanceLock, lock_path
from catalog_sync.state import (
    AppliedPair,
    RequestClaims,
    StateError,
    UnsupportedStateError,
    open_state,
)
from catalog_sync.state.fulfillment import sql_in
from catalog_sync.state.schema import MIGRATIONS
from catalog_sync.state.store import StateStore
from catalog_sync.support.clock import parse_stamp

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


#: The schema version released before intents kept their origin in columns of their own.
_BEFORE_ORIGINS = 4
_THEN = "2026-01-01T00:00:00.000000Z"


def _database_with_parked_writes(path: Path) -> None:
    """A schema-4 database holding a parked write of a request (order o1) and one of an event
    (order o2; the event is a dead letter since its write was parked)."""
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:_BEFORE_ORIGINS]:
        db.executescript(script)
    db.execute(
        "INSERT INTO inbox (id, type, created_time, payload, status, received_at)"
        " VALUES ('e1', 'fulfillment_order.shipped', ?, '{}', 'dead', ?)",
        (_THEN, _THEN),
    )
    writes = (("o1", "request:r1:capture", "request:r1"), ("o2", "capture:s1", "event:e1"))
    for order_id, key, origin in writes:
        intent = {
            "key": key,
            "kind": "capture",
            "order_id": order_id,
            "body": {"orderId": order_id},
            "lines": [{"line_id": "L1", "quantity": 1, "target": 1}],
            "origin": origin,
            "status": "pending",
            "resolution": None,
        }
        db.execute(
            "INSERT INTO intents (key, order_id, kind, status, intent, attempts, updated)"
            " VALUES (?, ?, 'capture', 'pending', ?, 3, ?)",
            (key, order_id, json.dumps(intent), _THEN),
        )
    db.execute(f"PRAGMA user_version={_BEFORE_ORIGINS}")
    db.commit()
    db.close()


def test_an_old_databases_parked_request_write_is_found_by_its_origin(tmp_path: Path) -> None:
    """After the upgrade, a merchant's retry makes the write its request parked due again."""
    _database_with_parked_writes(tmp_path / "s.db")
    with open_state(tmp_path / "s.db") as store:
        unpark = RequestClaims(unpark_origins=(Origin.request("r1"),))
        store.claim_units(lambda _: (unpark, None), _THEN)
        assert store.due_request_intents(_THEN) == 1
        parked = [e.parked for e in (*store.ledger("o1"), *store.ledger("o2"))]
    assert parked == [False, True]


def test_an_old_databases_parked_event_write_is_found_by_its_origin(tmp_path: Path) -> None:
    """After the upgrade, ``events retry`` of an event makes the write it parked due again."""
    _database_with_parked_writes(tmp_path / "s.db")
    with open_state(tmp_path / "s.db") as store:
        store.requeue_events(["e1"], _THEN)
        assert store.due_request_intents(_THEN) == 0
        entries = [*store.ledger("o1"), *store.ledger("o2")]
    unparked = [e.intent for e in entries if not e.parked]
    assert [(i.key, i.origin) for i in unparked] == [("capture:s1", Origin.event("e1"))]


def test_a_sqlite_url_opens_the_file(tmp_path: Path) -> None:
    """``sqlite:///path`` names the same database as the path."""
    with open_state(tmp_path / "s.db") as store:
        store.start_run("reconcile", dry_run=False)
    with open_state(f"sqlite://{tmp_path / 's.db'}") as store:
        assert store.location == str(tmp_path / "s.db")


def test_an_unknown_backend_is_refused_by_name(tmp_path: Path) -> None:
    """A URL of a backend this version does not have is refused without echoing the URL."""
    with pytest.raises(UnsupportedStateError, match="'mysql' backend") as refused:
        open_state("mysql://user:secret@db.example/state")
    assert "secret" not in str(refused.value)
    assert not list(tmp_path.iterdir())


def test_the_open_events_index_was_made_for_the_cores_open_statuses() -> None:
    """Due events are read through a partial index: it must name the core's open statuses
    (changing them needs a migration recreating the index)."""
    assert f"WHERE {sql_in('status', INBOX_OPEN)}" in " ".join(" ".join(MIGRATIONS).split())


# -- a database that cannot be used: one StateError naming the path and what to do ------------


def _pair(pair_id: str, digest: str = "h1", source: str = "a.csv") -> AppliedPair:
    return AppliedPair(pair_id, digest, source, 2, physical=True)


def _store_with_pairs(path: Path, count: int = 3) -> None:
    with StateStore(path) as store:
        store.record_applied([_pair(f"P{n}") for n in range(count)])


def _pair_ids(path: Path) -> set[str]:
    with StateStore(path) as store:
        return set(store.applied_pairs())


def test_state_path_that_is_a_folder_is_named(tmp_path: Path) -> None:
    """A folder where the database file should be is refused with the path and a fix."""
    folder = tmp_path / "state.db"
    folder.mkdir()
    with pytest.raises(StateError, match=f"state database {folder}: is a folder") as caught:
        StateStore(folder)
    assert "set the state setting to a file path" in str(caught.value)


def test_state_path_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    """A FIFO or device at the state path is refused rather than opened (it could block)."""
    fifo = tmp_path / "state.db"
    os.mkfifo(fifo)
    with pytest.raises(StateError, match="is not a regular file"):
        StateStore(fifo)


def test_state_folder_below_a_file_is_named(tmp_path: Path) -> None:
    """A state path whose folder is a file is a StateError, not a raw OSError."""
    (tmp_path / "state").write_text("")
    with pytest.raises(StateError, match="a part of the path is a file"):
        StateStore(tmp_path / "state" / "s.db")


@given(content=st.binary(min_size=1, max_size=4096))
def test_any_bytes_as_database_are_a_state_error(content: bytes) -> None:
    """Whatever a file that is not a database holds, opening it is a StateError that says so."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.db"
        path.write_bytes(content)
        with pytest.raises(StateError, match=f"state database {path}: .*not a catalog-sync"):
            StateStore(path)
        assert path.read_bytes() == content


def test_damaged_database_is_a_state_error_when_read(tmp_path: Path) -> None:
    """A database cut in half fails when its pages are read, with restore advice."""
    path = tmp_path / "s.db"
    with StateStore(path) as store:
        store.record_applied([_pair(f"P{n}", source="x" * 400) for n in range(2000)])
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(StateError, match=r"damaged.*restore the last backup"):  # noqa: PT012
        store = StateStore(path)
        with store:
            store.applied_pairs()


def test_full_disk_is_a_state_error_and_loses_nothing(tmp_path: Path) -> None:
    """A disk that fills up mid-write is named with what to do; committed rows stay."""
    with small_filesystem(tmp_path / "disk", size_kib=512) as disk:
        path = disk / "s.db"
        _store_with_pairs(path)
        with StateStore(path) as store:
            rows = [_pair(f"N{n}", source="y" * 2000) for n in range(5000)]
            with pytest.raises(StateError, match="disk is full; free disk space"):
                store.record_applied(rows)
            assert store.count_pairs() == 3
        assert _pair_ids(path) == {"P0", "P1", "P2"}


def test_unwritable_database_is_a_state_error_and_loses_nothing(tmp_path: Path) -> None:
    """A read-only or immutable database is named with what to do; its rows stay intact."""
    path = tmp_path / "s.db"
    _store_with_pairs(path)
    with unwritable(path), pytest.raises(StateError, match=f"state database {path}: cannot"):
        _store_with_pairs(path, count=5)
    assert _pair_ids(path) == {"P0", "P1", "P2"}


def test_unwritable_folder_for_a_new_database_is_a_state_error(tmp_path: Path) -> None:
    """A new database in a folder that cannot be written to is refused, naming the path."""
    folder = tmp_path / "state"
    folder.mkdir()
    with unwritable(folder), pytest.raises(StateError, match=f"{folder / 's.db'}: cannot"):
        StateStore(folder / "s.db")


def test_unwritable_folder_for_the_lock_is_a_state_error(tmp_path: Path) -> None:
    """The daemon's lock file that cannot be created is a StateError naming the lock."""
    folder = tmp_path / "state"
    folder.mkdir()
    with unwritable(folder), pytest.raises(StateError, match="cannot create its lock file"):
        InstanceLock(folder / "s.db", command="run").acquire()


# -- private files ------------------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_new_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    """The database, -wal and -shm files are 0600 and the folders created for them 0700."""
    path = tmp_path / "var" / "state" / "s.db"
    with StateStore(path) as store:
        store.record_applied([_pair("A")])
        created = [path, path.with_name("s.db-wal"), path.with_name("s.db-shm")]
        assert [_mode(p) for p in created] == [0o600] * 3
    assert [_mode(tmp_path / "var"), _mode(path.parent)] == [0o700, 0o700]


@pytest.mark.usefixtures("open_umask")
def test_lock_file_is_private(tmp_path: Path) -> None:
    """The daemon's lock file (it records the pid) is created 0600."""
    lock = InstanceLock(tmp_path / "s.db", command="run")
    with lock:
        assert _mode(lock_path(tmp_path / "s.db")) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    """A folder the operator made is used as it is; only what catalog-sync creates is 0700."""
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    StateStore(folder / "s.db").close()
    assert _mode(folder) == 0o750
    assert _mode(folder / "s.db") == 0o600


def test_a_second_store_in_one_process_keeps_the_first_one_s_wal(tmp_path: Path) -> None:
    """Opening and closing a second store (the activity service's reader) drops none of the
    process's locks: another process opening and closing the database leaves the WAL in place,
    and the first store's next commit is seen from outside."""
    path = tmp_path / "s.db"
    count = (
        "import sys; from catalog_sync.state import open_state;"
        " print(open_state(sys.argv[1]).count_pairs())"
    )

    def seen_from_outside() -> str:
        done = subprocess.run(
            [sys.executable, "-c", count, str(path)], check=True, capture_output=True, text=True
        )
        return done.stdout.strip()

    with StateStore(path) as first:
        first.record_applied([_pair("P0")])
        StateStore(path).close()
        seen_from_outside()
        first.record_applied([_pair("P1")])
        assert seen_from_outside() == "2"
