"""The catalog benchmark's catalog: past the rows one file may hold, it is several files."""

from __future__ import annotations

import csv
import importlib
from pathlib import Path
from typing import Any

import pytest

from catalog_sync.catalog.files import catalog_paths, load_catalog_files

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def catalog_reconcile(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The benchmark module (``benchmarks`` is a folder of the checkout, not installed)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("benchmarks.catalog_reconcile")


def _ids(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as rows:
        return [row["id"] for row in csv.DictReader(rows)]


def test_a_large_catalog_is_split_into_files_every_row_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_reconcile: Any
) -> None:
    """250 rows at 100 per file: three files, every row once, in order, every file valid."""
    monkeypatch.setattr(catalog_reconcile, "ROWS_PER_FILE", 100)
    catalog_reconcile.write_catalog_files(tmp_path, 250)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["catalog-000.csv", "catalog-001.csv", "catalog-002.csv"]
    assert [len(_ids(f)) for f in files] == [100, 100, 50]
    catalog = load_catalog_files(catalog_paths([tmp_path]))
    assert (len(catalog.pairs), catalog.problems) == (250, ())


def test_a_catalog_within_one_file_stays_one_file(tmp_path: Path, catalog_reconcile: Any) -> None:
    """Up to the rows one file holds, the catalog is the one ``catalog.csv`` it always was."""
    catalog_reconcile.write_catalog_files(tmp_path, 30)
    assert [f.name for f in tmp_path.iterdir()] == ["catalog.csv"]
