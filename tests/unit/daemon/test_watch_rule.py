"""The watcher's rule: a file renamed into place is read at once, a file written in place only
once it has settled (README, "The catalog watcher").

Each test runs the watcher on a real folder with ``settle_ms`` set to an hour, so a file that is
applied was applied without waiting to settle. A file that must *not* be applied is checked
against a marker renamed in after it: inotify reports events in order, so once the marker was
applied the earlier file would have been too, had the rule let it through.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from catalog_sync.catalog.watcher import CatalogWatcher
from catalog_sync.support.settings import CatalogSettings

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
ROW = "SKU-A,Tent,4512.100_A,EAR99,US\n"
HOUR_MS = 3_600_000
#: A deadline for the test to fail by, not a measurement: the watcher answers in milliseconds.
DEADLINE = 30.0


@dataclass
class Applied:
    """Every batch the watcher applied, and a wake-up for each."""

    batches: list[frozenset[Path]] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def __call__(self, paths: frozenset[Path]) -> None:
        self.batches.append(paths)
        self.changed.set()

    def files(self) -> set[Path]:
        return set().union(*self.batches)

    async def until(self, path: Path) -> None:
        """Wait until ``path`` was applied."""
        async with asyncio.timeout(DEADLINE):
            while path not in self.files():
                self.changed.clear()
                await self.changed.wait()


@asynccontextmanager
async def watching(folder: Path, settle_ms: int = HOUR_MS) -> AsyncIterator[Applied]:
    """A watcher of ``folder`` past its start-up, applying into the yielded record."""
    applied = Applied()
    started = asyncio.Event()

    async def startup(_stop: asyncio.Event) -> None:
        started.set()

    settings = CatalogSettings(folder=folder, debounce_ms=1, settle_ms=settle_ms)
    watcher = CatalogWatcher(settings, apply=applied, startup=startup)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await started.wait()
    try:
        yield applied
    finally:
        stop.set()
        await task


def rename_in(folder: Path, name: str, text: str = HEADER + ROW) -> Path:
    """Write ``text`` under a temporary name, then rename it to ``name``."""
    temporary = folder / f".{name}.part"
    temporary.write_text(text, encoding="utf-8")
    return temporary.rename(folder / name)


async def test_a_file_renamed_into_place_is_applied_without_settling(tmp_path: Path) -> None:
    """A complete file renamed into place is read at once, whatever the settle time."""
    async with watching(tmp_path) as applied:
        path = rename_in(tmp_path, "a.csv")
        await applied.until(path)


async def test_a_file_being_written_in_place_is_not_applied(tmp_path: Path) -> None:
    """A file still being written under its own name waits to settle, so its first half is
    never applied while a file renamed in after it is."""
    half = tmp_path / "half.csv"
    async with watching(tmp_path) as applied:
        with half.open("w", encoding="utf-8") as writer:
            writer.write(HEADER + "SKU-B,Te")
            writer.flush()
            marker = rename_in(tmp_path, "marker.csv")
            await applied.until(marker)
            assert half not in applied.files()


async def test_a_file_renamed_in_then_written_in_place_waits_to_settle(tmp_path: Path) -> None:
    """A file renamed in and then written again is a file written in place once more."""
    async with watching(tmp_path) as applied:
        path = rename_in(tmp_path, "a.csv")
        await applied.until(path)
        applied.batches.clear()
        with path.open("a", encoding="utf-8") as writer:
            writer.write("SKU-C,Te")
        marker = rename_in(tmp_path, "marker.csv")
        await applied.until(marker)
        assert path not in applied.files()


async def test_a_removed_file_is_applied_without_settling(tmp_path: Path) -> None:
    """Removing a file is a complete change: its pairs leave the catalog at once."""
    async with watching(tmp_path) as applied:
        path = rename_in(tmp_path, "a.csv")
        await applied.until(path)
        applied.batches.clear()
        path.unlink()
        await applied.until(path)


async def test_a_file_written_in_place_is_applied_once_settled(tmp_path: Path) -> None:
    """With a short settle time, a file written in place and left alone is applied."""
    async with watching(tmp_path, settle_ms=1) as applied:
        path = tmp_path / "a.csv"
        path.write_text(HEADER + ROW, encoding="utf-8")
        await applied.until(path)


async def test_a_folder_removed_and_made_again_is_watched_again(tmp_path: Path) -> None:
    """The catalogs folder replaced by a new one is watched again: its files are applied (by
    the rescan of the new watch, or by its events)."""
    folder = tmp_path / "catalogs"
    folder.mkdir()
    async with watching(folder, settle_ms=1) as applied:
        folder.rmdir()
        folder.mkdir()
        path = rename_in(folder, "a.csv")
        await applied.until(path)
