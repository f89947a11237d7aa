"""The shipped example catalog validates cleanly: the demo must not start with errors."""

from __future__ import annotations

from pathlib import Path

from catalog_sync.core.catalog import CATALOG_SUFFIXES, CatalogBuilder

CATALOGS = Path(__file__).resolve().parents[3] / "catalogs"


def _load() -> CatalogBuilder:
    builder = CatalogBuilder()
    for path in sorted(CATALOGS.iterdir()):
        if path.suffix in CATALOG_SUFFIXES:
            with path.open(encoding="utf-8-sig", errors="strict") as stream:
                builder.add(path.name, stream)
    return builder


def test_examples_have_no_problem() -> None:
    """Every example row validates: no error, no warning."""
    assert [str(p) for p in _load().build().problems] == []


def test_examples_cover_physical_and_digital_goods() -> None:
    """The set is realistic: dozens of physical products, a few digital ones, many origins."""
    pairs = _load().build().pairs.values()
    physical = [p for p in pairs if p.sku.get("taxCode") == "4323.310_A"]
    digital = [p for p in pairs if p.sku.get("taxCode") == "4512.100_A"]
    assert len(physical) >= 30
    assert len(digital) >= 3
    assert len({p.sku["countryOfOrigin"] for p in physical}) >= 8
