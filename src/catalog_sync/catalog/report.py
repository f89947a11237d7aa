"""Reconciliation reports: a JSON document others script against, and an HTML page for people.

The JSON shape is the pydantic model below; ``catalog-sync report-schema`` prints its JSON
Schema, so the documented interface and the written files cannot disagree.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from catalog_sync.core import json_values
from catalog_sync.support.files import (
    make_private_folder,
    symlink_atomically,
    write_atomically,
)
from catalog_sync.support.templating import JsonText, environment, script_safe_json

REPORT_SCHEMA_VERSION: Final = 1
LATEST_JSON: Final = "latest.json"
LATEST_HTML: Final = "latest.html"
#: Levels of a report above one catalog value (report, changes, change, fields, field).
_REPORT_DEPTH: Final = json_values.MAX_DEPTH + 6
#: Levels of one change entry above one catalog value (change, fields, field).
_CHANGE_DEPTH: Final = json_values.MAX_DEPTH + 4
#: Changes a run keeps in memory (``ReconcileReport.changes`` of its result); the written
#: files list every change. An initial sync of 1,000,000 pairs has 1,000,000 changes: as models
#: they would outweigh the whole catalog.
CHANGES_IN_MEMORY: Final = 1000
#: What the report's JSON holds at its ``changes`` key once the changes are left out; keys are
#: unique and a quote inside a JSON string is escaped, so this text occurs exactly once.
_NO_CHANGES: Final = '"changes":[]'


ChangeAction = Literal["create_pair", "update_sku", "update_item", "create_item", "delete_pair"]
ChangeStatus = Literal["applied", "planned", "failed"]
RunKind = Literal["reconcile", "audit", "watch"]
#: The kinds of the catalog's runs (the state's runs hold the orders audit's too).
RECONCILE_KINDS: Final[tuple[RunKind, ...]] = get_args(RunKind)
OrphanOutcome = Literal["reported", "deleted", "refused", "failed"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Summary(_Model):
    """Counts of one run; every figure of the report's header."""

    pairs_in_catalog: int = 0
    in_sync: int = 0
    created: int = 0
    updated: int = 0
    drift_fixed: int = 0
    orphans: int = 0
    deleted: int = 0
    failed: int = 0
    invalid_rows: int = 0
    unparseable_files: int = 0
    api_calls: int = 0
    write_calls: int = 0
    duration_seconds: float = 0.0


class FieldChangeEntry(_Model):
    """One field of one side of a pair: the value before and after."""

    side: Literal["sku", "item"]
    field: str
    old: Any = None
    new: Any = None


class ChangeEntry(_Model):
    """A planned or applied change of one pair."""

    id: str
    action: ChangeAction
    drift: bool = Field(default=False, description="Caused by a change made outside the catalog.")
    status: ChangeStatus
    source: str | None = Field(default=None, description="file:line of the catalog row.")
    fields: list[FieldChangeEntry] = Field(default_factory=list)


class FailureEntry(_Model):
    """A write that failed after its retries; it is retried on the next run."""

    id: str
    action: str
    message: str
    status: int | None = None
    type: str | None = None
    code: str | None = None
    parameter: str | None = None


class ProblemEntry(_Model):
    """A catalog row or file that could not be used."""

    file: str
    line: int
    field: str
    message: str
    severity: Literal["error", "warning"] = "error"


class OrphanEntry(_Model):
    """A pair at Digital River that no catalog row describes."""

    id: str
    outcome: OrphanOutcome


class ReconcileReport(_Model):
    """The report of one reconcile run (schema version 1)."""

    schema_version: int = REPORT_SCHEMA_VERSION
    run_id: int
    kind: RunKind
    started_at: datetime
    finished_at: datetime
    dry_run: bool = False
    audit: bool = False
    prune: bool = False
    prune_refused: str | None = Field(default=None, description="Why deletion was refused.")
    summary: Summary
    changes: list[ChangeEntry] = Field(default_factory=list)
    failures: list[FailureEntry] = Field(default_factory=list)
    invalid_rows: list[ProblemEntry] = Field(default_factory=list)
    unparseable_files: list[str] = Field(default_factory=list)
    orphans: list[OrphanEntry] = Field(default_factory=list)


@dataclass(frozen=True)
class ChangeStream:
    """Every change of a run, produced on demand instead of held.

    ``entries`` is called once per file written (JSON, then HTML) and yields the changes in
    report order; ``total`` is how many it yields.
    """

    total: int
    entries: Callable[[], Iterable[ChangeEntry]]

    @classmethod
    def of(cls, report: ReconcileReport) -> ChangeStream:
        """The changes a report holds itself."""
        return cls(len(report.changes), lambda: report.changes)


def report_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the report file."""
    return ReconcileReport.model_json_schema()


def render_html(report: ReconcileReport, changes: ChangeStream | None = None) -> str:
    """Render the self-contained HTML page (no external assets) for ``report``.

    ``changes`` replaces the report's own (capped) list of changes when given.
    """
    return "".join(_html_chunks(report, changes or ChangeStream.of(report)))


def writable(report: ReconcileReport) -> tuple[ReconcileReport, str]:
    """Return ``report`` and its JSON, in a form every UTF-8 writer accepts.

    A value UTF-8 cannot encode (a lone surrogate: a catalog file name that is not UTF-8, a
    value quoted in a problem) would make both the JSON and the page fail to write, so one value
    would hide the whole run. Such text is kept as its visible ``\\udXXX`` escape instead; the
    copy is made only when it is needed.
    """
    return json_values.writable_json(report, max_depth=_REPORT_DEPTH)


def _change_json(entry: ChangeEntry) -> str:
    """One change as JSON, a value UTF-8 cannot encode kept as its escape (see :func:`writable`)."""
    return json_values.writable_json(entry, max_depth=_CHANGE_DEPTH)[1]


def _document(report: ReconcileReport, changes: ChangeStream) -> Iterator[str]:
    """The report's JSON in pieces, its changes serialised one at a time as they come."""
    head, tail = writable(report.model_copy(update={"changes": []}))[1].split(_NO_CHANGES, 1)
    yield head + '"changes":['
    for position, entry in enumerate(changes.entries()):
        yield ("," if position else "") + _change_json(entry)
    yield "]" + tail


def _html_chunks(report: ReconcileReport, changes: ChangeStream) -> Iterator[str]:
    """The page in pieces, the report's JSON streamed into it a change at a time.

    The template embeds the data through ``script_json`` like every template; it is rendered
    with a placeholder no report can contain (random per page), and the document's pieces,
    escaped the same way, take the placeholder's place: a 1,000,000-change page is never held.
    """
    report = writable(report.model_copy(update={"changes": []}))[0]
    placeholder = f"report-data-{secrets.token_hex(16)}"
    page = environment.get_template("report.html.j2").generate(
        report=report, changes_total=changes.total, data=JsonText(placeholder)
    )
    for chunk in page:
        before, found, after = chunk.partition(placeholder)
        yield before
        if found:
            yield from (script_safe_json(piece) for piece in _document(report, changes))
            yield after


def write_report(
    report: ReconcileReport,
    directory: Path,
    *,
    keep: int,
    changes: ChangeStream | None = None,
) -> Path:
    """Write ``report`` as JSON and HTML, point ``latest.*`` at it, prune old ones.

    ``changes`` (all of a run's changes, when ``report`` holds only the first ones) are
    streamed into both files; neither file is ever held whole in memory. Files are written to
    a temporary name and renamed, so a reader never sees half a report; they name customers'
    products and are created private (0600, the folder 0700). Returns the path of the JSON file.
    """
    make_private_folder(directory)
    stream = changes or ChangeStream.of(report)
    stem = f"reconcile-{report.started_at:%Y%m%dT%H%M%S%fZ}-{report.run_id}"
    json_path = directory / f"{stem}.json"
    write_atomically(json_path, _document(report, stream))
    write_atomically(directory / f"{stem}.html", _html_chunks(report, stream))
    for name, target in ((LATEST_JSON, json_path.name), (LATEST_HTML, f"{stem}.html")):
        symlink_atomically(directory / name, target)
    _prune(directory, keep)
    return json_path


def _prune(directory: Path, keep: int) -> None:
    reports = sorted(directory.glob("reconcile-*.json"))
    for old in reports[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html").unlink(missing_ok=True)
