"""The README's sandbox section states the assumptions the code makes."""

from __future__ import annotations

from pathlib import Path

from catalog_sync.sandbox.assumptions import markdown_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_docs_show_the_assumptions_table_of_the_code() -> None:
    """README.md holds exactly the table rendered from ``ASSUMPTIONS``."""
    assert markdown_table() in README.read_text(encoding="utf-8")
