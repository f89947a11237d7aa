"""A run's changes kept on disk and streamed back, as many times as report files are written."""

from __future__ import annotations

import pytest

from catalog_sync.catalog import spool
from catalog_sync.catalog.report import ChangeEntry, FieldChangeEntry
from catalog_sync.catalog.spool import ChangeSpool


def _entry(n: int) -> ChangeEntry:
    shared = {"color": "red"}  # the same object on both sides of a change
    return ChangeEntry(
        id=f"P-{n}",
        action="update_sku",
        drift=n % 2 == 0,
        status="applied",
        source=f"a.csv:{n + 2}",
        fields=[
            FieldChangeEntry(side="sku", field="metadata", old=shared, new=shared),
            FieldChangeEntry(side="item", field="eccn", old="EAR99", new=None),
        ],
    )


def test_changes_come_back_whole_and_in_order_each_time() -> None:
    """Every change, every field, in the order added; and again for the second file."""
    changes = ChangeSpool()
    entries = [_entry(n) for n in range(50)]
    for entry in entries:
        changes.add(entry)
    stream = changes.stream()
    assert stream.total == len(entries)
    assert list(stream.entries()) == entries
    assert list(stream.entries()) == entries


def test_only_the_first_changes_are_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """The report itself holds the first changes; the rest are only on disk."""
    monkeypatch.setattr(spool, "CHANGES_IN_MEMORY", 3)
    changes = ChangeSpool()
    for n in range(10):
        changes.add(_entry(n))
    assert [c.id for c in changes.first] == ["P-0", "P-1", "P-2"]
    assert changes.stream().total == 10
