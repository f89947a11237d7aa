"""The code speaks only of what is in the repository.

Facts about the Digital River API are cited from ``docs/digital-river-api.md`` by section, and
every section cited exists there. No code, comment or docstring points at something a reader of
the repository cannot open: a reference file kept elsewhere, a tracker's issue number, a seed
document, a folder shared outside the repository.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import pytest

ROOT: Final = Path(__file__).parents[2]
API_PAGE: Final = ROOT / "docs" / "digital-river-api.md"
#: What may not be mentioned, each matched across line breaks and comment markers.
_GAP = r"(?:\s|#:?)+"
FORBIDDEN: Final = {
    "a reference file outside the repository": re.compile(rf"reference{_GAP}§", re.IGNORECASE),
    "an issue number": re.compile(rf"\bissues?{_GAP}#?\d", re.IGNORECASE),
    "a seed document": re.compile(rf"\bseed{_GAP}0", re.IGNORECASE),
    "a folder outside the repository": re.compile(r"\bshared/"),
}
CITATION: Final = re.compile(r"docs/digital-river-api\.md((?:\s*(?:§[\d.]*\d|,|and|-))+)")
SECTION: Final = re.compile(r"§([\d.]*\d)")


def _sources() -> list[Path]:
    paths = [p for folder in ("src", "tests", "benchmarks") for p in (ROOT / folder).rglob("*.py")]
    return sorted(p for p in paths if p != Path(__file__))


def _sections() -> set[str]:
    """Every section number of the API page: headings, and the rows of its §16 table."""
    text = API_PAGE.read_text(encoding="utf-8")
    headings = re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", text, re.MULTILINE)
    rows = re.findall(r"^\| (\d+\.\d+) \|", text, re.MULTILINE)
    return {*headings, *rows}


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_outside_the_repository_is_mentioned(path: Path) -> None:
    """No reference §N, issue number, seed document or shared folder in code or docstrings."""
    text = path.read_text(encoding="utf-8")
    found = [what for what, pattern in FORBIDDEN.items() if pattern.search(text)]
    assert found == []


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_cited_section_exists(path: Path) -> None:
    """A citation of docs/digital-river-api.md names sections the page has."""
    sections = _sections()
    cited = {
        number
        for citation in CITATION.finditer(path.read_text(encoding="utf-8"))
        for number in SECTION.findall(citation.group(1))
    }
    assert cited - sections == set()


@pytest.mark.parametrize(
    "text",
    [
        "the API has no idempotency key (reference §6)",
        "#: Reference\n#: §4: requests per second",
        "request files (issue 7): rows",
        "unlike the connector of seed 004",
        "see /srv/shared/notes.md",
    ],
)
def test_each_kind_of_outside_mention_is_caught(text: str) -> None:
    """The patterns catch each form, a citation broken over a comment line included."""
    assert any(pattern.search(text) for pattern in FORBIDDEN.values())


def test_a_citation_of_a_missing_section_is_caught() -> None:
    """A section number the page does not have is reported, one it has is not."""
    cited = SECTION.findall(CITATION.findall("(docs/digital-river-api.md §6, §99.1)")[0])
    assert set(cited) - _sections() == {"99.1"}
