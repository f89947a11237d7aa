"""The daemon's catalog runs: start-up reconcile, incremental watch runs, periodic audits.

:class:`CatalogRuns` is the one door to the
:class:`~catalog_sync.catalog.reconcile.Reconciler` inside the daemon: runs never overlap (one
lock), every run feeds the metrics and the one-line status, and a run that fails to reach
Digital River is owed, not lost (its scope joins the next run).
A run that fails for any other reason (a defect meeting an input nobody foresaw) is logged
with its traceback and owed the same way: no file or row stops the daemon's catalog work.
:class:`AuditService` is the timer that asks for a full audit every ``audit_interval``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Final

from catalog_sync.catalog.copies import CopyGuard
from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler, ReconcileResult
from catalog_sync.catalog.watcher import CatalogCache
from catalog_sync.dr import DRError
from catalog_sync.state import CatalogState
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics
from catalog_sync.support.settings import CatalogSettings
from catalog_sync.support.waits import Pause

log = get_logger("runs")

#: Waits between attempts of a start-up reconcile that could not reach Digital River.
_STARTUP_RETRY_FIRST: Final = 2.0
_STARTUP_RETRY_MAX: Final = 60.0


class CatalogRuns:
    """Serialised reconcile runs over the cached catalog, with metrics and a summary."""

    def __init__(
        self,
        reconciler: Reconciler,
        store: CatalogState,
        cache: CatalogCache,
        metrics: Metrics,
        *,
        on_finished: Callable[[ReconcileResult], None] | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._store = store
        self._cache = cache
        self._metrics = metrics
        self._on_finished = on_finished
        self._lock = asyncio.Lock()
        self._copies = CopyGuard(store, cache)
        self._owed: set[str] = set()
        #: Changed files a failed refresh did not read; they join the next change.
        self._unread: set[Path] = set()
        self.last: ReconcileResult | None = None

    async def startup(self, stop: asyncio.Event) -> None:
        """Read every file and reconcile fully, retrying until Digital River answers."""
        wait = _STARTUP_RETRY_FIRST
        while not stop.is_set():
            async with self._lock:
                if await self._refreshed(None) is not None:
                    result = await self._run(ReconcileOptions(kind="reconcile"))
                    if result is not None:
                        return
            log.warning("start-up reconcile will be retried", seconds=wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
            wait = min(wait * 2, _STARTUP_RETRY_MAX)

    async def files_changed(self, paths: frozenset[Path]) -> ReconcileResult | None:
        """Re-read ``paths`` and reconcile only the pairs those files hold or held."""
        async with self._lock:
            paths = paths | self._unread
            self._unread = set()
            before = {
                self._cache.name_of(p): self._cache.ids(self._cache.name_of(p)) for p in paths
            }
            changed = await self._refreshed(paths)
            if changed is None:
                self._unread |= paths
            if not changed:
                return None
            scope = set(self._owed)
            for name in changed:
                scope |= before.get(name, frozenset())
                scope |= self._cache.ids(name)
                scope |= self._store.pair_ids_by_file(name)
            log.info("catalog files changed", files=sorted(changed), pairs=len(scope))
            return await self._run(ReconcileOptions(kind="watch", scope=frozenset(scope)))

    async def audit(self) -> ReconcileResult | None:
        """Re-read changed files and compare every pair with the remote side, fixing drift."""
        async with self._lock:
            if await self._refreshed(None) is None:
                return None
            return await self._run(ReconcileOptions(kind="audit", audit=True))

    def status_line(self) -> str:
        """``"47 pairs in catalog, 0 failed, 2 orphans; last watch run 09:47:13"``."""
        if self.last is None:
            return "no reconcile finished yet"
        report = self.last.report
        s = report.summary
        when = report.finished_at.astimezone().strftime("%H:%M:%S")
        return (
            f"{s.pairs_in_catalog} pairs in catalog, {s.failed} failed, {s.orphans} orphans; "
            f"last {report.kind} run {when}"
        )

    async def _refreshed(self, paths: frozenset[Path] | None) -> set[str] | None:
        """Re-read changed files off the event loop; ``None`` when reading failed as a whole.

        One entry that cannot be read is a problem of that entry (the cache reports it), so a
        failure here is the folder itself (it cannot be listed) or a defect: it is logged and
        the files are read again by the next run.
        """
        try:
            return await self._cache.update(paths)
        except Exception:
            log.exception("catalog files could not be read; trying again on the next change")
            return None

    async def _run(self, options: ReconcileOptions) -> ReconcileResult | None:
        """Run once; a run that did not complete owes its scope to the next."""
        try:
            catalog = await self._copies.catalog()
            result = await self._reconciler.run(options, catalog=catalog)
        except DRError as exc:
            self._aborted(options)
            log.error(  # noqa: TRY400 - an expected outage; the message says all there is
                "reconcile could not complete", kind=options.kind, error=str(exc)
            )
            return None
        except Exception:
            self._aborted(options)
            log.exception("reconcile failed; it is tried again", kind=options.kind)
            return None
        if options.scope is None or options.audit:
            self._owed.clear()
        else:
            self._owed -= options.scope
        self.last = result
        self._record(result)
        if self._on_finished is not None:
            self._on_finished(result)
        return result

    def _aborted(self, options: ReconcileOptions) -> None:
        if options.scope is not None:
            self._owed |= options.scope
        self._metrics.reconcile_runs.labels(f"{options.kind}-aborted").inc()

    def _record(self, result: ReconcileResult) -> None:
        report = result.report
        self._metrics.reconcile_runs.labels(report.kind).inc()
        _increment(
            self._metrics.writes,
            (c.action for c in result.changes.entries() if c.status == "applied"),
        )
        _increment(self._metrics.write_failures, (f.action for f in report.failures))
        if result.drift_found:
            self._metrics.drift_found.inc(result.drift_found)


def _increment(counter: Any, kinds: Iterable[str]) -> None:
    for kind, count in Counter(kinds).items():
        counter.labels(kind).inc(count)


class AuditService:
    """Runs a full audit every ``interval`` seconds (the first one an interval after start)."""

    name = "audit"

    def __init__(self, runs: CatalogRuns, settings: CatalogSettings) -> None:
        """Audit every ``settings.audit_interval`` seconds."""
        self._runs = runs
        self.interval = settings.audit_interval
        self._pause = Pause()
        self._audits = 0

    def reconfigure(self, settings: CatalogSettings) -> None:
        """SIGHUP: take a new interval now; the wait in progress is measured again from its
        start."""
        if settings.audit_interval != self.interval:
            self.interval = settings.audit_interval
            self._pause.retime()

    def status_line(self) -> str:
        """How many audits ran."""
        return f"{self._audits} audits"

    async def run(self, stop: asyncio.Event) -> None:
        """Audit on the interval until ``stop``."""
        while not stop.is_set():
            await self._pause.sleep(stop, lambda: self.interval)
            if stop.is_set():
                return
            # ``audit`` reports its own failures; a failed audit waits for the next interval.
            await self._runs.audit()
            self._audits += 1
