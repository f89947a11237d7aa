"""The parsed-catalog cache: only changed files are re-read, and the merge matches a full read."""

from __future__ import annotations

import os
from pathlib import Path

from catalog_sync.catalog_files import catalog_paths, load_catalog_files
from catalog_sync.watch import CatalogCache

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
