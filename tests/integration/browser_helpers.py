"""A headless Chromium for the report tests: what a person opening a report would actually see.

``make test`` installs Chromium first (``scripts/system-deps.sh``: apt-get, as root, when it is
missing). Without it the browser tests fail in CI (``CI=true``), where a missing browser must
never pass unnoticed, and skip elsewhere, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Final

import pytest

BINARIES: Final = ("chromium", "chromium-browser")
SYSTEM_DEPS: Final = Path(__file__).resolve().parents[2] / "scripts" / "system-deps.sh"
#: A guard against a browser that hangs, never a measure of speed.
GUARD_SECONDS: Final = 180


def _find() -> str | None:
    return next((found for name in BINARIES if (found := shutil.which(name))), None)


def chromium() -> str:
    """The Chromium binary; installs it if it can, else fails in CI and skips elsewhere."""
    found = _find()
    if found is None and SYSTEM_DEPS.exists() and (shell := shutil.which("sh")) is not None:
        subprocess.run([shell, str(SYSTEM_DEPS)], check=False, timeout=900)
        found = _find()
    if found is not None:
        return found
    reason = (
        "chromium is not installed; run scripts/system-deps.sh as root (apt-get install chromium)"
    )
    if os.environ.get("CI", "").lower() in {"true", "1"}:
        pytest.fail(f"{reason}: CI must run the browser tests")
    pytest.skip(reason)


def dump_dom(binary: str, page: Path, profile: Path) -> str:
    """The page's DOM after its scripts ran, as headless Chromium serialises it."""
    result = subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",  # tests may run as root (CI containers), where the sandbox refuses
            "--disable-gpu",
            f"--user-data-dir={profile}",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=GUARD_SECONDS,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


class RowReader(HTMLParser):
    """Reads data rows (``<tr>`` holding a ``<td>``) by the ``data-table`` section they are in.

    Keeps the text of each row's first cell; rows outside any such section are under ``""``.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.first_cells: defaultdict[str, list[str]] = defaultdict(list)
        self._section = ""
        self._row_open = False
        self._in_first_cell = False
        self._cell: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Note the section a tag opens, and where each row's first cell starts."""
        section = dict(attrs).get("data-table")
        if section is not None:
            self._section = section
        if tag == "tr":
            self._row_open = True
        elif tag == "td" and self._row_open:
            self._row_open, self._in_first_cell, self._cell = False, True, []

    def handle_endtag(self, tag: str) -> None:
        """A first cell ends: its row is counted with its text."""
        if tag == "td" and self._in_first_cell:
            self.first_cells[self._section].append("".join(self._cell))
            self._in_first_cell = False
        elif tag == "tr":
            self._row_open = False

    def handle_data(self, data: str) -> None:
        """Text inside a first cell."""
        if self._in_first_cell:
            self._cell.append(data)


def first_cells(dom: str) -> dict[str, list[str]]:
    """The first cell's text of every data row of the serialised DOM, by section."""
    reader = RowReader()
    reader.feed(dom)
    reader.close()
    return dict(reader.first_cells)


def count_rows(dom: str) -> dict[str, int]:
    """Data rows of the serialised DOM, by section."""
    return {section: len(cells) for section, cells in first_cells(dom).items()}
