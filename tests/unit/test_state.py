"""The SQLite state store: migrations, durability of applied pairs, runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from catalog_sync.state import AppliedPair, StateStore
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
