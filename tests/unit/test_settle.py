"""When a dropped file has settled: one rule for both watched folders and for a single pass.

The daemon's catalog watcher and request transmitter watch files stay unchanged
(``SettleTracker.split``); ``orders transmit`` looks once (``settled_at_once``). A file first
seen is judged the same way by both, which the property test checks.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from catalog_sync.support.settle import SettleTracker

_NS_PER_MS = 1_000_000


def _aged(path: Path, age_ms: int, now_ns: int) -> Path:
    """Write ``path`` with an mtime ``age_ms`` before ``now_ns`` (negative: in the future)."""
    path.write_text("row", encoding="utf-8")
    mtime = now_ns - age_ms * _NS_PER_MS
    os.utime(path, ns=(mtime, mtime))
    return path


def test_a_file_quiet_for_the_settle_time_is_taken(tmp_path: Path) -> None:
    """A file renamed into place long after it was written is read at once."""
    path = _aged(tmp_path / "a.csv", 10_000, time.time_ns())
    settled, wait = SettleTracker(500).split([path])
    assert settled == {path}
    assert wait is None


def test_a_file_just_written_is_held_with_the_time_left(tmp_path: Path) -> None:
    """A file still being copied waits; the caller learns how long at most."""
    path = _aged(tmp_path / "a.csv", 0, time.time_ns())
    settled, wait = SettleTracker(60_000).split([path])
    assert settled == frozenset()
    assert wait is not None
    assert 0 < wait <= 60_000


def test_a_removed_or_odd_entry_has_settled(tmp_path: Path) -> None:
    """A file that is gone, or a folder, is not waited for: its removal is the change."""
    (tmp_path / "d.csv").mkdir()
    entries = [tmp_path / "gone.csv", tmp_path / "d.csv"]
    tracker = SettleTracker(60_000)
    assert tracker.split(entries)[0] == set(entries)
    assert tracker.settled_at_once(entries) == entries


def test_a_single_pass_takes_only_files_quiet_by_their_mtime(tmp_path: Path) -> None:
    """``orders transmit`` reads the old file and leaves the fresh one for a later pass."""
    now = time.time_ns()
    old = _aged(tmp_path / "old.json", 5_000, now)
    fresh = _aged(tmp_path / "fresh.json", 100, now)
    assert SettleTracker(1_000).settled_at_once([old, fresh], now) == [old]


@settings(max_examples=60, deadline=None)
@given(
    settle_ms=st.integers(min_value=0, max_value=10_000),
    age_ms=st.integers(min_value=-(10**9), max_value=10**9),
)
def test_a_pass_and_a_watch_judge_a_file_first_seen_alike(settle_ms: int, age_ms: int) -> None:
    """A file seen for the first time settles for a single pass exactly when it does for the
    watch: the one rule, whatever the file's age, even with an mtime in the future."""
    # Each judgement reads the clock itself; ages a minute clear of the settle time keep the
    # answer the same however slowly the machine gets from one read to the next.
    assume(abs(age_ms - settle_ms) >= 60_000)
    with tempfile.TemporaryDirectory() as folder:
        now = time.time_ns()
        path = _aged(Path(folder) / "r.csv", age_ms, now)
        watched = path in SettleTracker(settle_ms).split([path])[0]
        once = SettleTracker(settle_ms).settled_at_once([path]) == [path]
        assert watched == once == (max(age_ms, 0) >= settle_ms)
