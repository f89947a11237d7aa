"""Which files in ``catalogs/`` make up the catalog, and reading them into the pure parser.

The watcher and ``reconcile`` share this so they agree on what is a catalog file and what is
an editor's temporary file or a half-written drop.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from catalog_sync.core.catalog import CATALOG_SUFFIXES, Catalog, CatalogBuilder

#: Names editors and copy tools use while writing; such files are never read.
_TEMP_SUFFIXES = (".tmp", ".swp", ".swx", ".part", ".crdownload", ".bak", "~")


def is_catalog_file(path: Path) -> bool:
    """Whether ``path`` names a catalog file: a known suffix, not hidden, not temporary."""
    name = path.name
    if name.startswith((".", "#", "~")) or name.endswith(_TEMP_SUFFIXES):
        return False
    return name.endswith(CATALOG_SUFFIXES)


def catalog_paths(targets: Iterable[Path]) -> list[Path]:
    """The catalog files named by ``targets`` (files, or folders read one level deep), sorted.

    Sorted so that, of two rows with the same id, the one that wins never depends on the disk.
    """
    found: set[Path] = set()
    for target in targets:
        if target.is_dir():
            found.update(p for p in target.iterdir() if p.is_file() and is_catalog_file(p))
        else:
            found.add(target)
    return sorted(found)


def load_catalog_files(paths: Iterable[Path]) -> Catalog:
    """Parse ``paths`` into one catalog, streaming each file.

    A file that vanished or cannot be opened is reported by the parser as unparseable (its
    pairs are protected), never silently skipped.
    """
    builder = CatalogBuilder()
    for path in paths:
        name = str(path)
        try:
            with path.open(encoding="utf-8-sig", errors="strict") as stream:
                builder.add(name, stream)
        except OSError as exc:
            builder.add_unreadable(name, f"cannot read file: {exc.strerror}")
    return builder.build()
