"""The README section of the sandbox states the assumptions the code makes."""

from __future__ import annotations

from pathlib import Path

from catalog_sync.sandbox.assumptions import markdown_table

DOCS = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"


def test_docs_show_the_assumptions_table_of_the_code() -> None:
    """``docs/sandbox.md`` holds exactly the table rendered from ``ASSUMPTIONS``."""
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
