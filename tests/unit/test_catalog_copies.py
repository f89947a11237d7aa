"""Which catalog files a node must not apply: its copy is older than the one last applied."""

from __future__ import annotations

from catalog_sync.catalog.copies import older_copies
from catalog_sync.state import CatalogFileRecord

APPLIED = {"a.csv": CatalogFileRecord("a.csv", 100, 2_000, "t")}


def test_an_older_copy_is_left_out() -> None:
    """Modified before the copy applied: left out, whatever its size."""
    assert older_copies({"a.csv": (90, 1_999)}, APPLIED) == {"a.csv"}


def test_the_same_or_a_newer_copy_is_applied() -> None:
    """The copy applied itself, or one modified since, is applied."""
    assert (
        older_copies({"a.csv": (100, 2_000)}, APPLIED)
        | older_copies({"a.csv": (5, 2_001)}, APPLIED)
        == set()
    )


def test_a_file_never_applied_is_applied() -> None:
    """A new file has nothing to be older than."""
    assert older_copies({"new.csv": (1, 1)}, APPLIED) == set()
