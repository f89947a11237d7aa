"""The parsed-catalog cache: only changed files are re-read, failed reads never kept, reading
off the event loop, and the merge matches a full read."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from catalog_sync.catalog.files import catalog_paths, load_catalog_files
from catalog_sync.catalog.watcher import CatalogCache
from catalog_sync.core.textstream import Limits

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"


def write(path: Path, *ids: str, mtime_ns: int | None = None) -> None:
    """A CSV catalog holding ``ids``; ``mtime_ns`` pins the modification time."""
    path.write_text(HEADER + "".join(f"{i},N,4512.100_A,EAR99,US\n" for i in ids), "utf-8")
    if mtime_ns is not None:
        os.utime(path, ns=(mtime_ns, mtime_ns))


def test_first_refresh_reads_every_catalog_file(tmp_path: Path) -> None:
    """The first refresh reports every catalog file and skips hidden and temporary ones."""
    write(tmp_path / "a.csv", "A")
    write(tmp_path / ".b.csv.tmp", "B")
    cache = CatalogCache(tmp_path)
    assert cache.refresh() == {str(tmp_path / "a.csv")}


def test_unchanged_file_is_not_reread(tmp_path: Path) -> None:
    """A file whose size and mtime are unchanged is not reported again."""
    write(tmp_path / "a.csv", "A")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    assert cache.refresh([tmp_path / "a.csv"]) == set()


def test_changed_file_is_reread(tmp_path: Path) -> None:
    """A file rewritten with other content is re-read and its new rows are in the catalog."""
    path = tmp_path / "a.csv"
    write(path, "A", mtime_ns=1_000_000_000)
    cache = CatalogCache(tmp_path)
    cache.refresh()
    write(path, "A", "B", mtime_ns=2_000_000_000)
    assert cache.refresh([path]) == {str(path)}
    assert set(cache.catalog().pairs) == {"A", "B"}


def test_removed_file_leaves_the_catalog(tmp_path: Path) -> None:
    """A deleted file is reported as changed and its pairs leave the merged catalog."""
    path = tmp_path / "a.csv"
    write(path, "A")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    path.unlink()
    assert cache.refresh([path]) == {str(path)}
    assert cache.catalog().pairs == {}


def test_ids_remember_what_a_file_held(tmp_path: Path) -> None:
    """``ids`` gives every id a file held when last read (the watch run's scope)."""
    write(tmp_path / "a.csv", "A", "B")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    assert cache.ids(str(tmp_path / "a.csv")) == {"A", "B"}


def test_merged_catalog_matches_a_full_read(tmp_path: Path) -> None:
    """Merging per-file catalogs gives what reading the folder at once gives, duplicates too."""
    write(tmp_path / "a.csv", "A", "B")
    write(tmp_path / "b.csv", "B", "C")
    (tmp_path / "c.csv").write_text("not,a,catalog\n", "utf-8")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    merged = cache.catalog()
    full = load_catalog_files(catalog_paths([tmp_path]))
    assert merged.pairs == full.pairs
    assert sorted(map(str, merged.problems)) == sorted(map(str, full.problems))
    assert merged.unparseable_files == full.unparseable_files
    assert merged.ids_by_file == full.ids_by_file


@contextmanager
def no_file_descriptor_left() -> Iterator[None]:
    """Every file descriptor in use, as under a flood of connections: ``open`` fails EMFILE."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    highest = max(int(fd.name) for fd in Path("/proc/self/fd").iterdir())
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 1, hard))
    fillers: list[int] = []
    try:
        while True:
            try:
                fillers.append(os.open(os.devnull, os.O_RDONLY))
            except OSError as exc:
                if exc.errno != errno.EMFILE:
                    raise
                break
        yield
    finally:
        for fd in fillers:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_failed_read_is_retried_not_cached(tmp_path: Path) -> None:
    """A file that could not be opened (too many open files) is read again on the next refresh,
    though its size and modification time never changed."""
    path = tmp_path / "a.csv"
    write(path, "A")
    cache = CatalogCache(tmp_path)
    with no_file_descriptor_left():
        cache.refresh([path])
    (problem,) = cache.catalog().problems
    assert "Too many open files" in problem.message
    assert cache.refresh([path]) == {str(path)}
    assert set(cache.catalog().pairs) == {"A"}
    assert cache.catalog().problems == ()


def test_unreadable_entry_is_a_problem_not_a_removal(tmp_path: Path) -> None:
    """A file replaced by a dangling link is a fatal problem of that file, not a deleted file."""
    path = tmp_path / "a.csv"
    write(path, "A")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    path.unlink()
    path.symlink_to(tmp_path / "nowhere.csv")
    assert cache.refresh([path]) == {str(path)}
    assert cache.catalog().unparseable_files == {str(path)}


def test_link_whose_target_appears_later_is_read(tmp_path: Path) -> None:
    """A dangling link is tried again on each refresh and read once its target exists."""
    link = tmp_path / "a.csv"
    link.symlink_to(tmp_path / "target.dat")
    cache = CatalogCache(tmp_path)
    cache.refresh()
    assert cache.refresh([link]) == set()
    write(tmp_path / "target.dat", "A")
    assert cache.refresh([link]) == {str(link)}
    assert set(cache.catalog().pairs) == {"A"}


def test_update_lets_the_event_loop_run_while_it_reads(tmp_path: Path) -> None:
    """Reading happens in a worker thread: other tasks (the watchdog ping, /healthz) run
    while the cache is being updated, not only after it."""
    write(tmp_path / "a.csv", *(f"S{i}" for i in range(200)))
    cache = CatalogCache(tmp_path)
    seen_pending: list[bool] = []

    async def main() -> None:
        update = asyncio.create_task(cache.update())

        async def other_task() -> None:
            seen_pending.append(not update.done())

        await asyncio.gather(update, other_task())

    asyncio.run(main())
    assert seen_pending == [True]
    assert len(cache.catalog().pairs) == 200


def test_limits_apply_to_the_cache(tmp_path: Path) -> None:
    """The cache reads with the configured limits: an over-long line is a fatal problem."""
    (tmp_path / "a.csv").write_text(HEADER + "A," + "x" * 500 + ",t,EAR99,US\n", "utf-8")
    cache = CatalogCache(tmp_path, Limits(line_chars=100, field_chars=100))
    cache.refresh()
    (problem,) = cache.catalog().problems
    assert "catalog_max_line_chars" in problem.message


_ROW = st.tuples(
    st.sampled_from(["A", "B", "C"]),  # few ids: files often keep theirs, or share one
    st.sampled_from(["N", "M", ""]),  # an empty name is an invalid row: its id is rejected
)
_FILE = st.one_of(st.none(), st.lists(_ROW, max_size=3))  # None: the file is removed
_EDITS = st.lists(st.tuples(st.sampled_from(["a.csv", "b.csv", "c.csv"]), _FILE), max_size=8)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=st.lists(_ROW, max_size=3), edits=_EDITS)
@example(first=[("A", "N")], edits=[("a.csv", [("A", "M")])])
@example(first=[("A", "N"), ("A", "")], edits=[("a.csv", [("A", "N"), ("A", "M")])])
def test_the_kept_catalog_matches_a_full_read_after_every_change(
    tmp_path_factory: pytest.TempPathFactory,
    first: list[tuple[str, str]],
    edits: list[tuple[str, list[tuple[str, str]] | None]],
) -> None:
    """However files change (rows renamed, made invalid, moved between files, files removed),
    the catalog the cache keeps up to date is the catalog a full read of the folder gives."""
    folder = tmp_path_factory.mktemp("catalogs")
    mtime = iter(range(1_000_000_000, 10**12, 1_000_000_000))
    write_rows(folder / "a.csv", first, next(mtime))
    cache = CatalogCache(folder)
    cache.refresh()
    cache.catalog()
    for name, rows in edits:
        if rows is None:
            (folder / name).unlink(missing_ok=True)
        else:
            write_rows(folder / name, rows, next(mtime))
        cache.refresh([folder / name])
        kept, full = cache.catalog(), load_catalog_files(catalog_paths([folder]))
        assert kept.pairs == full.pairs
        assert sorted(map(str, kept.problems)) == sorted(map(str, full.problems))
        assert (kept.unparseable_files, kept.rejected_ids) == (
            full.unparseable_files,
            full.rejected_ids,
        )
        assert kept.ids_by_file == full.ids_by_file


def write_rows(path: Path, rows: list[tuple[str, str]], mtime_ns: int) -> None:
    """A CSV catalog of ``(id, name)`` rows with a pinned modification time."""
    text = HEADER + "".join(f"{i},{n},4512.100_A,EAR99,US\n" for i, n in rows)
    path.write_text(text, "utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
