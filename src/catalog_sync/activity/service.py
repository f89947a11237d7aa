"""The ``activity`` service: today's activity report, kept current in the reports folder.

Beside each reconcile report the daemon keeps ``activity-<day>.json`` / ``.html`` of the UTC
day so far, rewritten every :data:`REFRESH_SECONDS` and once more, complete, when the day ends
(and at start for the day before, when the daemon was down at midnight and left it partial).
Only reads of the state, on a connection of its own in a worker thread: reading and pricing a
busy day takes a second or two (measured: 10,000 writes in 1.8 s), which must never hold up the
event loop the captures run on. A report that cannot be written is logged and tried again at
the next refresh; nothing else of the daemon waits on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Final

from catalog_sync.activity.report import PREFIX, day_bounds, read_activity, write_day_report
from catalog_sync.state import StateBackend, StateError
from catalog_sync.support.clock import Clock, utc_clock
from catalog_sync.support.logs import get_logger

#: How often today's report is rewritten: fresh enough to look at, a few reads every time.
REFRESH_SECONDS: Final = 300.0

_log = get_logger("activity")


class ActivityReporter:
    """Writes the day's activity report; a ``Service``."""

    name = "activity"

    def __init__(
        self,
        open_store: Callable[[], StateBackend],
        directory: Path,
        *,
        keep: int,
        clock: Clock = utc_clock,
        refresh: float = REFRESH_SECONDS,
    ) -> None:
        """Reports go to ``directory`` (the reconcile reports' folder); ``keep`` days stay.

        ``open_store`` opens the state for one report (its own connection, closed after).
        """
        self._open_store = open_store
        self._directory = directory
        self._keep = keep
        self._clock = clock
        self._refresh = refresh
        self.written: datetime | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Write today's report now (even when stopping already) and after each refresh; finish
        each day that ends."""
        day = self._clock().date()
        yesterday = day - timedelta(days=1)
        if (self._directory / f"{PREFIX}{yesterday:%Y-%m-%d}.json").exists():
            await self._write(yesterday)
        while True:
            today = self._clock().date()
            if today != day:
                await self._write(day)
                day = today
            await self._write(day)
            await self._sleep(stop)
            if stop.is_set():
                return

    async def _sleep(self, stop: asyncio.Event) -> None:
        """Until the next refresh or the end of the day, whichever comes first, or the stop."""
        now = self._clock()
        until_midnight = (day_bounds(now.date())[1] - now).total_seconds()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(max(0.0, min(self._refresh, until_midnight))):
                await stop.wait()

    async def _write(self, day: date) -> None:
        now = self._clock()
        try:
            await asyncio.to_thread(self._write_day, day, now)
        except (StateError, OSError) as exc:
            _log.error("activity report not written; trying again", day=str(day), error=str(exc))
            return
        self.written = now

    def _write_day(self, day: date, now: datetime) -> None:
        since, until = day_bounds(day)
        with self._open_store() as store:
            report = read_activity(store, since, until, now=now)
        write_day_report(report, self._directory, keep=self._keep)

    def status_line(self) -> str:
        """``"activity report written 09:45:00"``."""
        if self.written is None:
            return "no activity report written yet"
        return f"activity report written {self.written:%H:%M:%S}"
