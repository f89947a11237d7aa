"""The catalog watcher: files dropped into ``catalogs/`` become incremental reconciles.

Two parts. :class:`CatalogCache` keeps every catalog file parsed, keyed by its size and
modification time, so a change re-reads only the file that changed and the whole catalog is
re-assembled by a cheap merge. :class:`CatalogWatcher` turns inotify events into batches of
files ready to read: a file renamed into place is complete and read at once, a file written in
place only once it has stayed unchanged for ``settle_ms`` (so a file still being copied is never
applied half-written), and the documented write-then-rename drop is applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from catalog_sync.catalog.files import (
    catalog_paths,
    display_name,
    is_catalog_file,
    read_catalog_file,
)
from catalog_sync.core.catalog import Catalog, merge_catalogs
from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits
from catalog_sync.support.inotify import FolderWatch, How
from catalog_sync.support.logs import get_logger
from catalog_sync.support.settings import CatalogSettings
from catalog_sync.support.settle import SettleTracker, Signature, signature
from catalog_sync.support.waits import wait_any

log = get_logger("watch")

#: How often a folder that cannot be watched (removed, not yet created) is tried again.
_REWATCH_SECONDS: Final = 1.0


@dataclass(frozen=True, slots=True)
class _Parsed:
    path: Path
    #: ``None`` when the entry could not be read: it is read again on every refresh.
    signature: Signature | None
    catalog: Catalog


class CatalogCache:
    """Every catalog file of one folder, parsed, re-read only when its signature changes.

    Files are named as ``reconcile`` names them (``str(folder / name)``), so the state's record
    of which file a pair came from means the same to both. An entry that could not be read
    (a failed open, too many open files, not a regular file) is never kept by its signature:
    whatever the failure, the next refresh tries again.

    Reading and merging take seconds for a large catalog: the daemon calls :meth:`update` and
    :meth:`merged`, which do it in a worker thread so the event loop (the watchdog ping, the
    health endpoint, the event poller) never waits for a parse.

    The merged catalog is kept: when the files that changed still hold the same ids and no id
    is in two files, it is patched with their new rows instead of merged again (a one-row drop
    into a 100,000-pair catalog then costs a dictionary copy, not 100 merges).
    """

    def __init__(self, folder: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.folder = folder
        self.limits = limits
        self._files: dict[str, _Parsed] = {}
        self._merged: _Merged | None = None
        #: Each file changed since the last merge, as it was then (``None``: it was not there).
        self._since_merge: dict[str, Catalog | None] = {}

    def name_of(self, path: Path) -> str:
        """The name a file in the folder is known by (its path as ``reconcile`` builds it)."""
        return display_name(self.folder / path.name)

    def ids(self, name: str) -> frozenset[str]:
        """Every id the file held when last read (valid, rejected, or before it broke)."""
        parsed = self._files.get(name)
        return frozenset() if parsed is None else parsed.catalog.ids_by_file.get(name, frozenset())

    async def update(self, paths: Iterable[Path] | None = None) -> set[str]:
        """:meth:`refresh` in a worker thread; the caller must not refresh concurrently."""
        return await asyncio.to_thread(self.refresh, None if paths is None else list(paths))

    async def merged(self, exclude: Collection[str] = ()) -> Catalog:
        """:meth:`catalog` in a worker thread."""
        return await asyncio.to_thread(self.catalog, exclude)

    def signatures(self) -> dict[str, Signature]:
        """(size, mtime_ns) of every file read, by name (unreadable entries left out)."""
        return {n: f.signature for n, f in self._files.items() if f.signature is not None}

    def refresh(self, paths: Iterable[Path] | None = None) -> set[str]:
        """Re-read ``paths`` (default: the whole folder and every known file) that changed.

        Returns the names of the files that were added, changed or removed.
        """
        wanted: dict[str, Path] = {}
        if paths is None:
            wanted.update((self.name_of(p), p) for p in catalog_paths([self.folder]))
            wanted.update((n, f.path) for n, f in self._files.items() if n not in wanted)
        else:
            wanted.update(
                (self.name_of(p), self.folder / p.name) for p in paths if is_catalog_file(p)
            )
        return {name for name, path in wanted.items() if self._refresh_one(name, path)}

    def _refresh_one(self, name: str, path: Path) -> bool:
        """Re-read one entry if it changed or could not be read last time; whether it changed."""
        known = self._files.get(name)
        if not _exists(path):
            return self._forget(name, known)
        current = signature(path)
        if known is not None and current is not None and known.signature == current:
            return False
        read = read_catalog_file(path, self.limits)
        self._files[name] = _Parsed(path, read.signature, read.catalog)
        self._since_merge.setdefault(name, None if known is None else known.catalog)
        return known is None or known.signature != read.signature or known.catalog != read.catalog

    def _forget(self, name: str, known: _Parsed | None) -> bool:
        if known is None:
            return False
        del self._files[name]
        self._since_merge.setdefault(name, known.catalog)
        return True

    def catalog(self, exclude: Collection[str] = ()) -> Catalog:
        """The whole catalog, files merged in path order (the first row of an id wins), less
        the files named in ``exclude`` (merged apart, leaving the kept merge as it is)."""
        if excluded := set(exclude) & set(self._files):
            kept = sorted(set(self._files) - excluded)
            return merge_catalogs(self._files[name].catalog for name in kept)
        merged = self._merged
        if merged is None or not merged.disjoint or not self._patchable():
            merged = _merge([self._files[name].catalog for name in sorted(self._files)])
        elif self._since_merge:
            merged = self._patched(merged.catalog)
        self._merged, self._since_merge = merged, {}
        return merged.catalog

    def _patchable(self) -> bool:
        """Whether every changed file still holds the same ids, valid the same, unbroken."""
        for name, old in self._since_merge.items():
            new = self._files.get(name)
            if old is None or new is None or old.unparseable_files or new.catalog.unparseable_files:
                return False
            if (
                old.ids_by_file != new.catalog.ids_by_file
                or old.pairs.keys() != new.catalog.pairs.keys()
            ):
                return False
        return True

    def _patched(self, merged: Catalog) -> _Merged:
        """``merged`` with the changed files' rows: the same ids, so no other file's are touched."""
        pairs = dict(merged.pairs)
        rejected = set(merged.rejected_ids)
        for name, old in self._since_merge.items():
            assert old is not None  # checked by _patchable
            new = self._files[name].catalog
            pairs.update(new.pairs)
            rejected.difference_update(old.rejected_ids)
            rejected.update(new.rejected_ids)
        problems = [p for name in sorted(self._files) for p in self._files[name].catalog.problems]
        catalog = Catalog(
            pairs=pairs,
            problems=tuple(problems),
            unparseable_files=merged.unparseable_files,
            ids_by_file=merged.ids_by_file,
            rejected_ids=frozenset(rejected),
        )
        return _Merged(catalog, disjoint=True)


@dataclass(frozen=True, slots=True)
class _Merged:
    catalog: Catalog
    #: No id is in two files: a file's rows are then its ids' rows in the merged catalog.
    disjoint: bool


def _merge(parts: list[Catalog]) -> _Merged:
    catalog = merge_catalogs(parts)
    held = sum(len(ids) for ids in catalog.ids_by_file.values())
    return _Merged(catalog, disjoint=held == len(frozenset().union(*catalog.ids_by_file.values())))


def _exists(path: Path) -> bool:
    """Whether the folder holds an entry of that name (a dangling link or a FIFO does)."""
    try:
        path.lstat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


ApplyFiles = Callable[[frozenset[Path]], Awaitable[object]]
Startup = Callable[[asyncio.Event], Awaitable[object]]


class CatalogWatcher:
    """Watches the catalogs folder and hands settled, changed files to ``apply``.

    The rule for when a changed file is read (README, "The catalog watcher"):

    * a file **renamed into the folder** under a catalog name (the documented write-then-rename
      drop, an editor's atomic save, ``mv`` on the same file system) is complete the moment it
      has its name: it is read as soon as the folder has been quiet for ``debounce_ms``;
    * a file **written in place** (created, written, copied in, touched) waits until it has been
      quiet for ``settle_ms``, so a writer that pauses mid-file is never read half-written; a
      rename-in that is then written to again is a file written in place.

    ``startup`` runs once the watch is in place (the daemon's start-up reconcile), so no change
    made while it runs is missed: events queue up and are applied after it.
    """

    name = "watcher"

    def __init__(self, settings: CatalogSettings, *, apply: ApplyFiles, startup: Startup) -> None:
        """Watch ``settings.folder`` with its ``debounce_ms`` and ``settle_ms``."""
        self._folder = settings.folder
        self._apply = apply
        self._startup = startup
        self.debounce_ms = settings.debounce_ms
        self._settle = SettleTracker(settings.settle_ms)
        #: Files written in place (or found by a rescan): read once they have settled.
        self._pending: set[Path] = set()
        #: Files renamed into the folder since they were last read: complete, no settling.
        self._renamed: set[Path] = set()
        self._last_event = 0.0
        self._wake = asyncio.Event()

    def reconfigure(self, settings: CatalogSettings) -> None:
        """SIGHUP: apply new timings live, from the next decision on."""
        self.debounce_ms, self._settle.settle_ms = settings.debounce_ms, settings.settle_ms
        self._wake.set()

    def status_line(self) -> str:
        """What is watched."""
        return f"watching {self._folder}"

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until ``stop``; a batch being applied when it is set is finished first."""
        feeder = asyncio.create_task(self._feed(stop), name="watch-feed")
        try:
            await self._startup(stop)
            self._rescan()
            while not stop.is_set():
                await self._apply_settled(stop)
        finally:
            feeder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await feeder

    # -- events ----------------------------------------------------------------------------
    async def _feed(self, stop: asyncio.Event) -> None:
        """Keep an inotify watch on the folder, read by the event loop when events arrive.

        A folder that cannot be watched (removed, replaced, out of watches) is tried again
        every ``_REWATCH_SECONDS``; each new watch starts with a rescan, so nothing changed
        while unwatched is missed.
        """
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                watch = FolderWatch(self._folder)
            except OSError as exc:
                log.warning("cannot watch the catalogs folder", error=str(exc))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _REWATCH_SECONDS)
                continue
            ended = asyncio.Event()
            loop.add_reader(watch.fileno(), self._on_events, watch, ended)
            try:
                self._rescan()
                await wait_any(stop, ended)
            finally:
                loop.remove_reader(watch.fileno())
                watch.close()
            if not stop.is_set():
                log.warning("the catalogs folder was removed or moved; watching it again")

    def _on_events(self, watch: FolderWatch, ended: asyncio.Event) -> None:
        """Note what changed and how, and wake the loop that applies it."""
        events = watch.read()
        for change in events.changes:
            if not is_catalog_file(change.path):
                continue
            if change.how is How.RENAMED_IN:
                self._renamed.add(change.path)
                self._pending.discard(change.path)
            else:
                self._pending.add(change.path)
                self._renamed.discard(change.path)
        self._last_event = time.monotonic()
        if events.lost:
            log.warning("file events were lost (too many at once); rescanning the folder")
            self._rescan()
        if events.folder_gone:
            ended.set()
        self._wake.set()

    def _rescan(self) -> None:
        """Mark every file of the folder pending (cheap: unchanged ones are not re-read)."""
        self._pending.update(p for p in catalog_paths([self._folder]) if p not in self._renamed)
        self._wake.set()

    # -- settling --------------------------------------------------------------------------
    async def _apply_settled(self, stop: asyncio.Event) -> None:
        """Wait for work, then apply the files that are ready; others wait their turn."""
        self._wake.clear()
        quiet = self.debounce_ms - (time.monotonic() - self._last_event) * 1000
        settled, wait = self._settled() if quiet <= 0 else (frozenset(), quiet)
        if settled:
            try:
                await self._apply(settled)
            except Exception:
                # Whatever one batch of files did, the next change must still be applied.
                log.exception("applying changed catalog files failed", files=len(settled))
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(None if wait is None else wait / 1000):
                await wait_any(stop, self._wake)

    @property
    def settle_ms(self) -> int:
        """How long a file written in place must stay quiet before it is read."""
        return self._settle.settle_ms

    def _settled(self) -> tuple[frozenset[Path], float | None]:
        """The files ready to read (renamed in, or settled) and the ms until the next settles."""
        settled, wait = self._settle.split(self._pending)
        self._pending -= settled
        ready = settled | self._renamed
        self._renamed = set()
        return ready, wait
