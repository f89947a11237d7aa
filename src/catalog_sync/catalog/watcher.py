"""The catalog watcher: files dropped into ``catalogs/`` become incremental reconciles.

Two parts. :class:`CatalogCache` keeps every catalog file parsed, keyed by its size and
modification time, so a change re-reads only the file that changed and the whole catalog is
re-assembled by a cheap merge. :class:`CatalogWatcher` turns inotify events (through
watchfiles) into batches of settled files: a file is read only once it has stayed unchanged for
``settle_ms``, so a file still being copied is never applied half-written, and the documented
write-then-rename drop is applied once.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from watchfiles import awatch

from catalog_sync.catalog.files import (
    catalog_paths,
    display_name,
    is_catalog_file,
    read_catalog_file,
)
from catalog_sync.core.catalog import Catalog, merge_catalogs
from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits
from catalog_sync.support.logs import get_logger
from catalog_sync.support.settings import CatalogSettings
from catalog_sync.support.settle import SettleTracker, Signature, signature
from catalog_sync.support.waits import wait_any

log = get_logger("watch")

#: watchfiles yields a batch at the latest this long after its first event, even if events keep
#: coming (a slow copy); the settle check still holds such a file back until it is complete.
_MAX_BATCH_MS: Final = 1000


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
    """

    def __init__(self, folder: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.folder = folder
        self.limits = limits
        self._files: dict[str, _Parsed] = {}

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
            return self._files.pop(name, None) is not None
        current = signature(path)
        if known is not None and current is not None and known.signature == current:
            return False
        read = read_catalog_file(path, self.limits)
        self._files[name] = _Parsed(path, read.signature, read.catalog)
        return known is None or known.signature != read.signature or known.catalog != read.catalog

    def catalog(self, exclude: Collection[str] = ()) -> Catalog:
        """The whole catalog, files merged in path order (the first row of an id wins), less
        the files named in ``exclude``."""
        names = sorted(set(self._files) - set(exclude))
        return merge_catalogs(self._files[name].catalog for name in names)


def _exists(path: Path) -> bool:
    """Whether the folder holds an entry of that name (a dangling link or a FIFO does)."""
    try:
        path.lstat()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


class _AwatchStop:
    """The stop flag watchfiles' worker thread polls: set on stop or to restart the watch."""

    def __init__(self) -> None:
        self._flag = threading.Event()

    def is_set(self) -> bool:
        return self._flag.is_set()

    def set(self) -> None:
        self._flag.set()


ApplyFiles = Callable[[frozenset[Path]], Awaitable[object]]
Startup = Callable[[asyncio.Event], Awaitable[object]]


class CatalogWatcher:
    """Watches the catalogs folder and hands settled, changed files to ``apply``.

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
        self._pending: set[Path] = set()
        self._wake = asyncio.Event()
        self._restart = asyncio.Event()

    def reconfigure(self, settings: CatalogSettings) -> None:
        """SIGHUP: apply new timings live; the watch restarts with them and the folder is
        rescanned (the folder itself is opened once and changes only on a restart)."""
        timings = (settings.debounce_ms, settings.settle_ms)
        if timings == (self.debounce_ms, self.settle_ms):
            return
        self.debounce_ms, self._settle.settle_ms = timings
        self._restart.set()
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
        """Collect changed paths from watchfiles; restart it when the timings change."""
        while not stop.is_set():
            self._restart.clear()
            flag = _AwatchStop()
            relay = asyncio.create_task(wait_any(stop, self._restart, then=flag.set))
            try:
                async for changes in awatch(
                    self._folder,
                    stop_event=flag,
                    step=self.debounce_ms,
                    debounce=max(_MAX_BATCH_MS, self.debounce_ms),
                    recursive=False,
                    watch_filter=lambda _change, raw: is_catalog_file(Path(raw)),
                    ignore_permission_denied=True,
                ):
                    self._pending.update(Path(raw) for _change, raw in changes)
                    self._wake.set()
            finally:
                relay.cancel()
            self._rescan()

    def _rescan(self) -> None:
        """Mark every file of the folder pending (cheap: unchanged ones are not re-read)."""
        self._pending.update(catalog_paths([self._folder]))
        self._wake.set()

    # -- settling --------------------------------------------------------------------------
    async def _apply_settled(self, stop: asyncio.Event) -> None:
        """Wait for work, then apply the files that have settled; others wait their turn."""
        self._wake.clear()
        settled, wait = self._settled()
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
        """How long a file must stay quiet before it is read."""
        return self._settle.settle_ms

    def _settled(self) -> tuple[frozenset[Path], float | None]:
        """Split pending files into settled ones and the milliseconds until the next settles."""
        settled, wait = self._settle.split(self._pending)
        self._pending -= settled
        return settled, wait
