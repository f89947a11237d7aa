"""The status document, read from the state database alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from catalog_sync.daemon.status import gather_status, render_status
from catalog_sync.state import AppliedPair, StateBackend, open_state


def store_with_run(tmp_path: Path) -> StateBackend:
    """A state database holding one applied pair and one finished run."""
    store = open_state(tmp_path / "state.db")
    store.record_applied([AppliedPair("A", "h", "catalogs/a.csv", 2, None)])
    run_id = store.start_run("watch", dry_run=False)
    report = str(tmp_path / "reports" / "r.json")
    store.finish_run(run_id, counts={"created": 1}, failures=0, report_path=report)
    return store


def test_status_reports_the_last_run(tmp_path: Path) -> None:
    """The last run's kind, counts and failures are in the document."""
    with store_with_run(tmp_path) as store:
        document = gather_status(store)
    assert document["last_reconcile"]["kind"] == "watch"
    assert document["last_reconcile"]["counts"] == {"created": 1}
    assert document["pairs_tracked"] == 1


def test_newest_report_points_at_the_html_page(tmp_path: Path) -> None:
    """The newest report is given as its JSON file and the HTML page beside it."""
    with store_with_run(tmp_path) as store:
        document = gather_status(store)
    assert document["newest_report"]["html"] == str(tmp_path / "reports" / "r.html")


def test_sections_without_a_provider_are_not_enabled(tmp_path: Path) -> None:
    """Events, requests and dead letters show as not enabled until their part exists."""
    with store_with_run(tmp_path) as store:
        document = gather_status(store)
    assert document["events"] == {"enabled": False}
    assert "dead letters: not enabled" in render_status(document)


def test_provider_fills_its_section(tmp_path: Path) -> None:
    """A registered provider's fields appear in its section, marked enabled."""

    def events(_store: StateBackend) -> Mapping[str, Any]:
        return {"cursor": "evt_1", "lag_seconds": 3}

    with store_with_run(tmp_path) as store:
        document = gather_status(store, sections={"events": events})
    assert document["events"] == {"enabled": True, "cursor": "evt_1", "lag_seconds": 3}


def test_empty_state_has_no_last_run(tmp_path: Path) -> None:
    """A fresh state database says no reconcile ran and points at no report."""
    with open_state(tmp_path / "state.db") as store:
        document = gather_status(store)
    assert document["last_reconcile"] is None
    assert "last reconcile: none yet" in render_status(document)
