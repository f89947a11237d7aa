"""The activity service: the day's report written to the reports folder, from the state."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from catalog_sync.activity.service import ActivityReporter
from catalog_sync.core.orders import Intent, LineClaim, Order, OrderLine, Origin
from catalog_sync.state import LedgerWrites, StateBackend, open_state

NOW = datetime(2026, 12, 6, 10, 30, tzinfo=UTC)
TODAY = "2026-12-06T09:00:00.000000Z"
YESTERDAY = "2026-12-05T09:00:00.000000Z"


def _captured(store: StateBackend, key: str, at: str) -> None:
    """A capture of one unit of order ``o1`` that landed at ``at``."""
    order = Order("o1", "accepted", "USD", (OrderLine("L1", "tent", 3, physical=True),))
    intent = Intent(key, "capture", "o1", {}, (LineClaim("L1", 1, 1),), Origin.event("e1"))
    store.commit_ledger(LedgerWrites(orders={"o1": order}, new_intents=[intent]), at)
    done = Intent(key, "capture", "o1", {}, intent.lines, intent.origin, status="done")
    store.commit_ledger(LedgerWrites(updated_intents={key: done}), at)


def _run_once(state: Path, reports: Path) -> None:
    """One pass of the service on the state at ``state``, stopped as soon as it has written."""
    stop = asyncio.Event()
    stop.set()
    reporter = ActivityReporter(lambda: open_state(state), reports, keep=5, clock=lambda: NOW)
    asyncio.run(reporter.run(stop))


def test_the_service_writes_today_s_report_of_today_only(tmp_path: Path) -> None:
    """``activity-<today>.json`` counts today's capture, not yesterday's; latest points at it."""
    reports = tmp_path / "reports"
    with open_state(tmp_path / "state.db") as store:
        _captured(store, "capture:s1", YESTERDAY)
        _captured(store, "capture:s2", TODAY)
    _run_once(tmp_path / "state.db", reports)
    written = json.loads((reports / "activity-2026-12-06.json").read_text())
    assert (
        [w["key"] for w in written["writes"]],
        (reports / "activity-latest.html").resolve().name,
    ) == (["capture:s2"], "activity-2026-12-06.html")


def test_the_service_finishes_yesterday_s_partial_report(tmp_path: Path) -> None:
    """A report of yesterday left by a daemon stopped before midnight is rewritten whole."""
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "activity-2026-12-05.json").write_text("{}")
    with open_state(tmp_path / "state.db") as store:
        _captured(store, "capture:s1", YESTERDAY)
    _run_once(tmp_path / "state.db", reports)
    written = json.loads((reports / "activity-2026-12-05.json").read_text())
    assert [w["key"] for w in written["writes"]] == ["capture:s1"]
