"""Reports: JSON matches its schema, HTML is self-contained, latest points at the newest."""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.catalog.report import (
    ChangeEntry,
    ChangeStream,
    FieldChangeEntry,
    ProblemEntry,
    ReconcileReport,
    Summary,
    render_html,
    write_report,
)

#: Text holding a lone surrogate among other characters (as a file name that is not UTF-8 does).
TEXT_WITH_SURROGATES = st.builds(
    lambda before, surrogate, after: before + surrogate + after,
    st.text(max_size=4),
    st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    st.text(max_size=4),
)

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def _report(run_id: int = 1, *, start: datetime = T0) -> ReconcileReport:
    return ReconcileReport(
        run_id=run_id,
        kind="reconcile",
        started_at=start,
        finished_at=start + timedelta(seconds=2),
        summary=Summary(created=1, invalid_rows=1),
        changes=[
            ChangeEntry(
                id="TENT-1",
                action="update_sku",
                status="applied",
                fields=[FieldChangeEntry(side="sku", field="name", old="Tent", new="</script>")],
            )
        ],
        invalid_rows=[ProblemEntry(file="a.csv", line=3, field="countryOfOrigin", message="x")],
    )


def test_json_report_round_trips(tmp_path: Path) -> None:
    """The written JSON parses back into the same report."""
    path = write_report(_report(), tmp_path, keep=5)
    assert ReconcileReport.model_validate_json(path.read_text()) == _report()


def test_latest_points_at_newest(tmp_path: Path) -> None:
    """latest.json and latest.html resolve to the newest run's files."""
    write_report(_report(1), tmp_path, keep=5)
    newest = write_report(_report(2, start=T0 + timedelta(minutes=1)), tmp_path, keep=5)
    assert json.loads((tmp_path / "latest.json").read_text())["run_id"] == 2
    assert (tmp_path / "latest.html").resolve() == newest.with_suffix(".html").resolve()


def test_old_reports_are_pruned(tmp_path: Path) -> None:
    """Only the configured number of reports is kept."""
    for i in range(4):
        write_report(_report(i, start=T0 + timedelta(minutes=i)), tmp_path, keep=2)
    assert len(list(tmp_path.glob("reconcile-*.json"))) == 2
    assert len(list(tmp_path.glob("reconcile-*.html"))) == 2


def test_html_has_no_external_assets() -> None:
    """The HTML loads nothing from elsewhere: no src/href to another origin."""
    html = render_html(_report())
    assert "http://" not in html
    assert "https://" not in html


def test_html_cannot_be_broken_by_catalog_text() -> None:
    """A value containing </script> is escaped inside the embedded data."""
    html = render_html(_report())
    data_start = html.index('id="report-data">')
    data_end = html.index("</script>", data_start)
    embedded = html[data_start + len('id="report-data">') : data_end]
    assert json.loads(embedded)["changes"][0]["fields"][0]["new"] == "</script>"


@given(TEXT_WITH_SURROGATES)
def test_text_utf8_cannot_encode_never_stops_a_report(text: str) -> None:
    """A lone surrogate in any value is written as its visible escape; the report still exists."""
    report = ReconcileReport(
        run_id=1,
        kind="reconcile",
        started_at=T0,
        finished_at=T0,
        prune_refused=text,
        summary=Summary(invalid_rows=1),
        changes=[
            ChangeEntry(
                id="P-1",
                action="update_sku",
                status="failed",
                source=text,
                fields=[FieldChangeEntry(side="sku", field="name", old={text: text}, new=text)],
            )
        ],
        invalid_rows=[ProblemEntry(file=text, line=1, field=text, message=text)],
        unparseable_files=[text],
    )
    shown = text.encode("utf-8", "backslashreplace").decode("utf-8")
    with tempfile.TemporaryDirectory() as folder:
        path = write_report(report, Path(folder), keep=5)
        written = json.loads(path.read_text(encoding="utf-8"))
        page = path.with_suffix(".html").read_text(encoding="utf-8")
    assert (written["invalid_rows"][0]["message"], written["changes"][0]["fields"][0]["old"]) == (
        shown,
        {shown: shown},
    )
    assert "Deletion refused" in page


def test_report_files_and_folder_are_private(tmp_path: Path) -> None:
    """Even under a umask of 022 a new reports folder is 0700 and its files 0600."""
    previous = os.umask(0o022)
    try:
        path = write_report(_report(), tmp_path / "reports", keep=5)
    finally:
        os.umask(previous)
    modes = [stat.S_IMODE(p.stat().st_mode) for p in (path, path.with_suffix(".html"))]
    assert (stat.S_IMODE(path.parent.stat().st_mode), modes) == (0o700, [0o600, 0o600])


def _changes(count: int) -> ChangeStream:
    def entries() -> Iterator[ChangeEntry]:
        return (
            ChangeEntry(id=f"P-{n}", action="create_pair", status="applied") for n in range(count)
        )

    return ChangeStream(count, entries)


@given(st.text())
def test_streamed_changes_are_written_whole(refusal: str) -> None:
    """Changes given as a stream are all in the JSON file, whatever other values hold (even the
    text of an empty change list), and the report reads back with every one of them."""
    report = _report().model_copy(update={"prune_refused": f'"changes":[]{refusal}'})
    with tempfile.TemporaryDirectory() as folder:
        path = write_report(report, Path(folder), keep=5, changes=_changes(3))
        written = ReconcileReport.model_validate_json(path.read_text(encoding="utf-8"))
    assert written == report.model_copy(update={"changes": list(_changes(3).entries())})


def test_streamed_changes_are_embedded_in_the_page(tmp_path: Path) -> None:
    """The HTML page counts and embeds every streamed change, not only the report's own."""
    path = write_report(_report(), tmp_path, keep=5, changes=_changes(250))
    html = path.with_suffix(".html").read_text()
    data_start = html.index('id="report-data">') + len('id="report-data">')
    embedded = json.loads(html[data_start : html.index("</script>", data_start)])
    assert (len(embedded["changes"]), "Changes (250)" in html) == (250, True)
