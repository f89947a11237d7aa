"""The activity report at the edge: the state read over a period, written as JSON and HTML.

:func:`read_activity` is the one place the period's records are read (through the state
interface's period reads and the orders audit's findings); ``core.activity.summarize`` makes
the report of them. The JSON is an interface for scripts, its schema the pydantic model's
(``catalog-sync report activity --schema``); the HTML page is the reconcile report's style,
self-contained, its tables rendered from the embedded JSON.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Final

from catalog_sync.core import json_values
from catalog_sync.core.activity import ActivityFacts, ActivityReport, summarize
from catalog_sync.state import StateBackend
from catalog_sync.support.clock import stamp
from catalog_sync.support.files import make_private_folder, symlink_atomically, write_atomically
from catalog_sync.support.templating import JsonText, environment

PREFIX: Final = "activity-"
LATEST_JSON: Final = "activity-latest.json"
LATEST_HTML: Final = "activity-latest.html"
#: Levels of the report's JSON: report, section, row, its lines, a line.
_DEPTH: Final = 8


def read_activity(
    store: StateBackend, since: datetime, until: datetime, *, now: datetime
) -> ActivityReport:
    """Return the report of ``[since, until)`` as the state holds it at ``now``."""
    lo, hi = stamp(since), stamp(until)
    writes = store.writes_settled_between(lo, hi)
    orders = {w.entry.intent.order_id for w in writes}
    requests = store.requests_between(lo, hi)
    request_orders = {r.order_id for r, _ in requests}
    entries = {e.intent.key: e for ledger in store.ledgers(request_orders).values() for e in ledger}
    facts = ActivityFacts(
        since=since,
        until=until,
        generated_at=now,
        runs=store.runs_between(lo, hi),
        writes=writes,
        orders=store.orders_by_id(orders),
        order_events=store.order_events(orders),
        events_handled=store.events_handled_between(lo, hi),
        orders_handled=store.orders_touched_between(lo, hi),
        notifications=store.notifications_between(lo, hi),
        requests=requests,
        entries=entries,
        findings=store.audit_findings(lo, hi),
    )
    return summarize(facts)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC day ``day`` as a period: its midnight to the next."""
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def writable(report: ActivityReport) -> tuple[ActivityReport, str]:
    """``report`` and its JSON, any text UTF-8 cannot encode kept as its visible escape."""
    return json_values.writable_json(report, max_depth=_DEPTH)


def _html_chunks(report: ActivityReport, document: str) -> Iterator[str]:
    # The page's script reads the report from this JSON; script_json makes it inert there.
    return environment.get_template("activity.html.j2").generate(
        report=report, data=JsonText(document)
    )


def write_files(report: ActivityReport, json_path: Path) -> Path:
    """Write ``report`` to ``json_path`` and its page beside it (``.html``); returns the page.

    Written to a temporary name and renamed, private (they name orders and amounts).
    """
    make_private_folder(json_path.parent)
    report, document = writable(report)
    write_atomically(json_path, [document])
    page = json_path.with_suffix(".html")
    write_atomically(page, _html_chunks(report, document))
    return page


def write_day_report(report: ActivityReport, directory: Path, *, keep: int) -> Path:
    """Write the report of one day as ``activity-<day>.json`` / ``.html`` in the reports folder,
    point ``activity-latest.*`` at it, and keep only the newest ``keep`` days.

    Returns the path of the JSON file.
    """
    json_path = directory / f"{PREFIX}{report.since:%Y-%m-%d}.json"
    page = write_files(report, json_path)
    # The page's link first: whoever sees the new JSON through its link finds its page too.
    for name, target in ((LATEST_HTML, page.name), (LATEST_JSON, json_path.name)):
        symlink_atomically(directory / name, target)
    days = sorted(p for p in directory.glob(f"{PREFIX}*.json") if not p.is_symlink())
    for old in days[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html").unlink(missing_ok=True)
    return json_path
