"""The SQLite state store: migrations, durability of applied pairs, runs."""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.faults import unwritable

from catalog_sync.instance_lock import InstanceLock
from catalog_sync.state import AppliedPair, StateError, StateStore
from catalog_sync.state.schema import MIGRATIONS


def _pair(pair_id: str, digest: str = "h1", source: str = "a.csv") -> AppliedPair:
    return AppliedPair(pair_id, digest, source, 2, physical=True)


def test_new_database_is_fully_migrated(tmp_path: Path) -> None:
    """Opening a new file applies every migration."""
    with StateStore(tmp_path / "s.db") as store:
        assert store.schema_version == len(MIGRATIONS)


def test_applied_pairs_survive_reopen(tmp_path: Path) -> None:
    """What was recorded is there after the process reopens the database."""
    path = tmp_path / "s.db"
    with StateStore(path) as store:
        store.record_applied([_pair("A"), _pair("B", source="b.json")])
    with StateStore(path) as store:
        assert set(store.applied_pairs()) == {"A", "B"}
        assert store.pair_ids_by_file("b.json") == {"B"}


def test_record_applied_replaces_hash(tmp_path: Path) -> None:
    """Recording a pair again keeps one row with the newest hash."""
    with StateStore(tmp_path / "s.db") as store:
        store.record_applied([_pair("A", "h1")])
        store.record_applied([_pair("A", "h2")])
        assert store.applied_pairs()["A"].content_hash == "h2"
        assert store.count_pairs() == 1


def test_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    """An exception inside a transaction rolls all of it back."""

    def insert_then_fail(store: StateStore) -> None:
        with store.transaction():
            store._db.execute(
                "INSERT INTO pairs VALUES ('X', 'h', 'f', 1, NULL, '2026-01-01T00:00:00Z')"
            )
            raise RuntimeError

    with StateStore(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError):
            insert_then_fail(store)
        assert store.count_pairs() == 0


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database from a newer catalog-sync is not silently downgraded."""
    path = tmp_path / "s.db"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(RuntimeError, match="upgrade catalog-sync"):
        StateStore(path)


def test_last_run_is_the_newest_finished(tmp_path: Path) -> None:
    """last_run reports the newest finished run with its counts."""
    with StateStore(tmp_path / "s.db") as store:
        first = store.start_run("reconcile", dry_run=False)
        store.finish_run(first, counts={"created": 3}, failures=0, report_path="r1.json")
        store.start_run("reconcile", dry_run=False)
        last = store.last_run()
        assert last is not None
        assert (last.id, last.counts, last.report_path) == (first, {"created": 3}, "r1.json")


# -- a database that cannot be used: one StateError naming the path and what to do ------------


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
    """SQLITE_FULL (a page limit stands in for the disk) is named; committed rows stay."""
    path = tmp_path / "s.db"
    _store_with_pairs(path)
    with StateStore(path) as store:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count={pages}")
        with pytest.raises(StateError, match="disk is full; free disk space"):
            store.record_applied([_pair(f"N{n}", source="y" * 2000) for n in range(50)])
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


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask of 022, as a shell usually has, so only explicit modes make files private."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


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
        assert _mode(lock.path) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_existing_folder_keeps_its_mode(tmp_path: Path) -> None:
    """A folder the operator made is used as it is; only what catalog-sync creates is 0700."""
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o750)
    folder.chmod(0o750)
    StateStore(folder / "s.db").close()
    assert _mode(folder) == 0o750
    assert _mode(folder / "s.db") == 0o600
