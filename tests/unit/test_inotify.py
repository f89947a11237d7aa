"""The folder watch tells a file renamed into place from one written in place.

inotify queues an event when the system call that causes it returns, so each test reads the
watch right after acting: no waiting is involved.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_sync.support.inotify import Change, FolderWatch, How


def changes(watch: FolderWatch) -> list[Change]:
    """The changes of every event queued now."""
    return list(watch.read().changes)


def test_a_file_renamed_into_the_folder_is_renamed_in(tmp_path: Path) -> None:
    """Write-then-rename: the temporary name is written, the final name is renamed in."""
    with FolderWatch(tmp_path) as watch:
        (tmp_path / ".a.csv.part").write_text("id\n", encoding="utf-8")
        (tmp_path / ".a.csv.part").rename(tmp_path / "a.csv")
        assert Change(tmp_path / "a.csv", How.RENAMED_IN) in changes(watch)


def test_a_file_written_in_place_is_written(tmp_path: Path) -> None:
    """Creating and writing a file under its final name is never a rename."""
    with FolderWatch(tmp_path) as watch:
        (tmp_path / "a.csv").write_text("id\n", encoding="utf-8")
        assert {c.how for c in changes(watch)} == {How.WRITTEN}


def test_a_file_removed_or_renamed_away_is_gone(tmp_path: Path) -> None:
    """Removing a file, or renaming it away, is the removal of that name."""
    (tmp_path / "a.csv").write_text("id\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text("id\n", encoding="utf-8")
    with FolderWatch(tmp_path) as watch:
        (tmp_path / "a.csv").unlink()
        (tmp_path / "b.csv").rename(tmp_path.parent / f"{tmp_path.name}-b.csv")
        assert changes(watch) == [
            Change(tmp_path / "a.csv", How.GONE),
            Change(tmp_path / "b.csv", How.GONE),
        ]


def test_nothing_queued_reads_nothing(tmp_path: Path) -> None:
    """A read with no event queued returns at once, empty."""
    with FolderWatch(tmp_path) as watch:
        events = watch.read()
    assert (events.changes, events.lost, events.folder_gone) == ((), False, False)


def test_removing_the_folder_ends_the_watch(tmp_path: Path) -> None:
    """The watch says so when its folder is removed, so the watcher can watch it again."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    with FolderWatch(folder) as watch:
        folder.rmdir()
        assert watch.read().folder_gone


def test_a_missing_folder_cannot_be_watched(tmp_path: Path) -> None:
    """Watching a folder that does not exist fails with the folder named."""
    with pytest.raises(FileNotFoundError, match="cannot watch the folder") as raised:
        FolderWatch(tmp_path / "missing")
    assert raised.value.filename == str(tmp_path / "missing")
