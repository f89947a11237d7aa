"""Reconciliation reports: a JSON document others script against, and an HTML page for people.

The JSON shape is the pydantic model below; ``catalog-sync report-schema`` prints its JSON
Schema, so the documented interface and the written files cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog_sync.core import json_values
from catalog_sync.support.files import (
    make_private_folder,
    symlink_atomically,
    write_atomically,
)
from catalog_sync.support.templating import JsonText, environment

REPORT_SCHEMA_VERSION: Final = 1
LATEST_JSON: Final = "latest.json"
LATEST_HTML: Final = "latest.html"
#: Levels of a report above one catalog value (report, changes, change, fields, field).
_REPORT_DEPTH: Final = json_values.MAX_DEPTH + 6


ChangeAction = Literal["create_pair", "update_sku", "update_item", "create_item", "delete_pair"]
ChangeStatus = Literal["applied", "planned", "failed"]
RunKind = Literal["reconcile", "audit", "watch"]
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


def report_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of the report file."""
    return ReconcileReport.model_json_schema()


def render_html(report: ReconcileReport, document: str | None = None) -> str:
    """Render the self-contained HTML page (no external assets) for ``report``.

    ``document`` is the report's JSON when the caller has it already: serialising a 100,000-row
    report once instead of twice saves ~100 MB at the peak of a large run.
    """
    if document is None:
        report, document = writable(report)
    return "".join(_html_chunks(report, document))


def writable(report: ReconcileReport) -> tuple[ReconcileReport, str]:
    """Return ``report`` and its JSON, in a form every UTF-8 writer accepts.

    A value UTF-8 cannot encode (a lone surrogate: a catalog file name that is not UTF-8, a
    value quoted in a problem) would make both the JSON and the page fail to write, so one value
    would hide the whole run. Such text is kept as its visible ``\\udXXX`` escape instead; the
    copy is made only when it is needed.
    """
    return json_values.writable_json(report, max_depth=_REPORT_DEPTH)


def _html_chunks(report: ReconcileReport, document: str) -> Iterator[str]:
    # The page's script reads the report from this JSON; script_json makes it inert there.
    return environment.get_template("report.html.j2").generate(
        report=report, data=JsonText(document)
    )


def write_report(report: ReconcileReport, directory: Path, *, keep: int) -> Path:
    """Write ``report`` as JSON and HTML, point ``latest.*`` at it, prune old ones.

    Files are written to a temporary name and renamed, so a reader never sees half a report;
    they name customers' products and are created private (0600, the folder 0700).
    Returns the path of the JSON file.
    """
    make_private_folder(directory)
    stem = f"reconcile-{report.started_at:%Y%m%dT%H%M%S%fZ}-{report.run_id}"
    json_path = directory / f"{stem}.json"
    report, document = writable(report)
    write_atomically(json_path, [document])
    # Streamed to the file: a 100,000-row page is never held whole in memory.
    write_atomically(directory / f"{stem}.html", _html_chunks(report, document))
    del document
    for name, target in ((LATEST_JSON, json_path.name), (LATEST_HTML, f"{stem}.html")):
        symlink_atomically(directory / name, target)
    _prune(directory, keep)
    return json_path


def _prune(directory: Path, keep: int) -> None:
    reports = sorted(directory.glob("reconcile-*.json"))
    for old in reports[:-keep]:
        old.unlink(missing_ok=True)
        old.with_suffix(".html").unlink(missing_ok=True)
