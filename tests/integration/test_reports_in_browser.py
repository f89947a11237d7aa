"""Reports holding hostile values, opened in headless Chromium: every row is on the page.

A catalog value, a rejected value or a value drifted at Digital River holding ``<!--`` and later
``<script`` once made the browser swallow the reconcile page into its embedded data: zero rows,
so failures and changes were hidden. Each report is written with such values in every kind of
row, opened in a real browser, and its rendered rows counted against the data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from tests.integration.browser_helpers import chromium, count_rows, dump_dom, first_cells

from catalog_sync.activity.report import write_files
from catalog_sync.catalog.report import (
    ChangeEntry,
    FailureEntry,
    FieldChangeEntry,
    OrphanEntry,
    ProblemEntry,
    ReconcileReport,
    Summary,
    write_report,
)
from catalog_sync.core.activity import (
    ActivityReport,
    ActivitySummary,
    CatalogRun,
    FindingEntry,
    NoticeEntry,
    RequestEntry,
    WriteEntry,
)
from catalog_sync.core.merchant_requests import MerchantRequest
from catalog_sync.core.money_plan import CurrencyTotal, PlannedLine
from catalog_sync.core.orders import Order, OrderLine
from catalog_sync.requests.log import Source, submit_request
from catalog_sync.requests.orders_report import orders_view, write_orders_report
from catalog_sync.state import LedgerWrites, StateBackend, open_state

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
NOW = "2026-11-24T09:00:00.000000Z"
#: Values that break out of, or hide, a ``<script>`` when embedded raw.
HOSTILE = (
    "<!-- start",
    "later <script> here",
    "<!--<script>x</script>",
    "</script><script>document.body.innerHTML=''</script>",
    "</SCRIPT >",
    "<!-- <script> </script> -->",
    "<img src=x onerror=this.remove()>",
    "]]> --> <![CDATA[",
    "line\u2028separator\u2029paragraph",
    "&lt;tr&gt; & <tr><td>extra row</td></tr>",
    '"quoted" \\ back\\slash',
    "a\ud800b lone surrogate",
)
#: Reports to open, each with its values cycled through every row. A ``-->`` later in the data
#: undoes an earlier ``<!--``, so the cases that blank a page must be tried on their own.
#: The sections of the activity page whose rows are rendered from its data.
ACTIVITY_TABLES = ("writes", "catalog_runs", "requests", "dead_letters", "findings")
CASES = {
    "comment, then script in a later value": ("<!-- start", "later <script> here"),
    "comment and script in one value": ("x <!--<script>", "<!-- <script/"),
    "closing tag": ("</script><script>document.body.innerHTML=''</script>",),
    "every hostile value": HOSTILE,
}


@pytest.fixture(scope="module")
def browser() -> str:
    """The Chromium binary (installed if missing and possible)."""
    return chromium()


def _reconcile_report(values: tuple[str, ...]) -> ReconcileReport:
    def _hostile(index: int) -> str:
        return values[index % len(values)]

    n = len(HOSTILE)
    return ReconcileReport(
        run_id=7,
        kind="audit",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=3),
        prune_refused=_hostile(0),
        summary=Summary(failed=n, invalid_rows=n, drift_fixed=n),
        changes=[
            ChangeEntry(
                id=f"P-{i}{_hostile(i)}",
                action="update_sku",
                drift=i % 2 == 0,
                status="applied",
                source=f"{_hostile(i + 1)}.csv:{i + 2}",
                fields=[
                    FieldChangeEntry(
                        side="sku", field="name", old=_hostile(i + 2), new=_hostile(i)
                    ),
                    FieldChangeEntry(
                        side="item", field="meta", old={_hostile(i): [_hostile(i + 3)]}
                    ),
                ],
            )
            for i in range(2 * n)
        ],
        failures=[
            FailureEntry(
                id=f"F-{i}",
                action="update_sku",
                message=f"'{_hostile(i)}' is not a valid parameter.",
                status=400,
                code="invalid_parameter",
                parameter=_hostile(i + 1),
            )
            for i in range(n)
        ],
        invalid_rows=[
            ProblemEntry(
                file=f"{_hostile(i)}.csv", line=i + 2, field="name", message=_hostile(i + 5)
            )
            for i in range(n)
        ],
        unparseable_files=[_hostile(i) for i in range(3)],
        orphans=[OrphanEntry(id=f"O-{_hostile(i)}", outcome="reported") for i in range(n)],
    )


def test_hostile_values_show_as_text(browser: str, tmp_path: Path) -> None:
    """Each row shows its hostile value as plain text, as the report's JSON holds it."""
    json_path = write_report(_reconcile_report(HOSTILE), tmp_path / "reports", keep=5)
    written = json.loads(json_path.read_text(encoding="utf-8"))
    dom = dump_dom(browser, json_path.with_suffix(".html"), tmp_path / "profile")
    shown = first_cells(dom)
    assert (shown["changes"], shown["orphans"]) == (
        [c["id"] for c in written["changes"]],
        [o["id"] for o in written["orphans"]],
    )


@pytest.fixture
def orders_store(tmp_path: Path) -> Iterator[StateBackend]:
    """A state database of orders whose SKUs, requests and sources hold hostile values."""
    store = open_state(tmp_path / "state.db")
    for i, text in enumerate(HOSTILE[:-1]):  # SQLite cannot hold a lone surrogate at all
        order_id = f"9000{i}"
        lines = (
            OrderLine(line_id=f"{i}-a", sku_id=text, quantity=3, physical=False),
            OrderLine(line_id=f"{i}-b", sku_id=f"sku {text}", quantity=1, physical=True),
        )
        order = Order(order_id, "accepted", "USD", lines)
        store.commit_ledger(LedgerWrites(orders={order_id: order}), NOW)
        request = MerchantRequest(
            request_id=f"req-{i}",
            order_id=order_id,
            action="fulfill",
            line_id=f"{i}-a",
            quantity=1,
            reason=text,
            tracking_number=text,
            tracking_company=text,
        )
        submit_request(store, request, Source(f"{text}.csv", i + 2), NOW)
    yield store
    store.close()


@pytest.mark.parametrize("values", CASES.values(), ids=CASES.keys())
def test_reconcile_report_renders_every_row(
    browser: str, tmp_path: Path, values: tuple[str, ...]
) -> None:
    """Each section of the reconcile page shows as many rows as the report holds."""
    report = _reconcile_report(values)
    json_path = write_report(report, tmp_path / "reports", keep=5)
    dom = dump_dom(browser, json_path.with_suffix(".html"), tmp_path / "profile")
    expected = {
        "changes": len(report.changes),
        "failures": len(report.failures),
        "invalid_rows": len(report.invalid_rows),
        "orphans": len(report.orphans),
    }
    assert count_rows(dom) == expected


def test_orders_report_renders_every_row(
    browser: str, orders_store: StateBackend, tmp_path: Path
) -> None:
    """The orders page shows every order line, request and request line the log holds."""
    view = orders_view(orders_store, limit=500)
    page = write_orders_report(orders_store, tmp_path / "reports", T0)
    dom = dump_dom(browser, page, tmp_path / "profile")
    expected = sum(
        len(order["lines"]) + sum(1 + len(r["lines"]) for r in order["requests"]) for order in view
    )
    assert count_rows(dom) == {"": expected}


def _activity_report(values: tuple[str, ...]) -> ActivityReport:
    """An activity report with hostile values in every kind of row."""

    def _hostile(index: int) -> str:
        return values[index % len(values)]

    n = len(HOSTILE)
    return ActivityReport(
        since=T0,
        until=T0 + timedelta(days=1),
        generated_at=T0,
        summary=ActivitySummary(captures=n, dead_letters=n, audit_findings=n),
        money=(CurrencyTotal(currency=_hostile(0), captured_units=n),),
        events_by_status={_hostile(1): n},
        requests_by_status={"Open": n},
        catalog_runs=tuple(
            CatalogRun(run_id=i, kind=_hostile(i), started_at=NOW, finished_at=None, dry_run=False)
            for i in range(n)
        ),
        writes=tuple(
            WriteEntry(
                at=NOW,
                outcome="refused" if i % 2 else "landed",
                kind="capture",
                key=f"capture:{_hostile(i)}",
                order_id=_hostile(i + 1),
                currency=_hostile(i + 2),
                lines=(PlannedLine(line_id=_hostile(i + 3), units=1),),
                units=1,
                reference=_hostile(i + 4),
                error=_hostile(i + 5),
            )
            for i in range(2 * n)
        ),
        requests=tuple(
            RequestEntry(
                request_id=f"req-{_hostile(i)}",
                order_id=_hostile(i + 1),
                action="fulfill",
                received_at=NOW,
                source=_hostile(i + 2),
                status="Open",
            )
            for i in range(n)
        ),
        dead_letters=tuple(
            NoticeEntry(time=NOW, kind="dead_letter", message=_hostile(i), event_id=_hostile(i + 1))
            for i in range(n)
        ),
        findings=tuple(
            FindingEntry(
                found_at=NOW,
                run_id=1,
                kind=_hostile(i),
                order_id=_hostile(i + 1),
                detail=_hostile(i),
            )
            for i in range(n)
        ),
    )


@pytest.mark.parametrize("values", CASES.values(), ids=CASES.keys())
def test_activity_report_renders_every_row(
    browser: str, tmp_path: Path, values: tuple[str, ...]
) -> None:
    """Each section of the activity page shows as many rows as the report holds."""
    report = _activity_report(values)
    page = write_files(report, tmp_path / "reports" / "activity.json")
    dom = dump_dom(browser, page, tmp_path / "profile")
    counted = count_rows(dom)
    assert {key: counted.get(key, 0) for key in ACTIVITY_TABLES} == {
        key: len(getattr(report, key)) for key in ACTIVITY_TABLES
    }
