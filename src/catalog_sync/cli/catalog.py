"""``validate``, ``plan``, ``reconcile`` and ``report-schema``: the catalog commands."""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import click

from catalog_sync.catalog.files import catalog_paths, load_catalog_files
from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler, ReconcileResult
from catalog_sync.catalog.report import report_json_schema
from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    config_option,
    handle_errors,
    run_async,
    settings_from,
    setup_logging,
)
from catalog_sync.core.plan import Orphan, Plan, Protected, Unchanged
from catalog_sync.daemon.instance_lock import InstanceLock
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.state import open_state
from catalog_sync.support.settings import Settings

EXIT_CHANGES_PENDING = 2
#: ``reconcile`` beside the daemon: two writers of one catalog would race on each pair's
#: recorded hash, and the daemon applies every change itself.
_RECONCILE_HINT = (
    "it applies every catalog change and audits by itself; `plan` and `reconcile --dry-run` "
    "work beside it, or stop it to reconcile by hand"
)


@asynccontextmanager
async def reconciler(settings: Settings) -> AsyncIterator[Reconciler]:
    """A reconciler wired to the settings' client, state and folders."""
    catalog = settings.catalog
    with open_state(settings) as store:
        async with DigitalRiverClient.from_settings(settings.api) as client:
            yield Reconciler(
                client,
                store,
                catalogs=catalog.folder,
                reports=catalog.reports,
                reports_keep=catalog.reports_keep,
                limits=catalog.limits,
            )


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path, exists=True))
@config_option
@handle_errors
def validate(paths: tuple[Path, ...], config_file: Path | None) -> None:
    """Check catalog files (default: the catalogs folder); exit 1 on any problem."""
    settings = settings_from(config_file).catalog
    targets = list(paths) or [settings.folder]
    files = catalog_paths(targets)
    catalog = load_catalog_files(files, settings.limits)
    for problem in catalog.problems:
        click.echo(str(problem))
    click.echo(
        f"{len(files)} files, {len(catalog.pairs)} valid pairs, {len(catalog.problems)} problems",
        err=True,
    )
    sys.exit(EXIT_FAILED if catalog.problems else EXIT_OK)


@main.command("plan")
@click.option("--json", "as_json", is_flag=True, help="Print the plan as JSON.")
@click.option("--audit", is_flag=True, help="Read every remote pair (catches drift).")
@config_option
@handle_errors
def plan_command(as_json: bool, audit: bool, config_file: Path | None) -> None:
    """Show what reconcile would change; exit 0 if nothing, 2 if changes are pending."""
    setup_logging()
    settings = settings_from(config_file)

    async def body() -> Plan:
        async with reconciler(settings) as rec:
            return await rec.plan_only(ReconcileOptions(audit=audit, dry_run=True))

    the_plan = run_async(body())
    if as_json:
        click.echo(json.dumps(plan_as_json(the_plan), indent=2))
    else:
        for line in describe_plan(the_plan):
            click.echo(line)
    sys.exit(EXIT_CHANGES_PENDING if the_plan.has_changes else EXIT_OK)


@main.command()
@click.option("--dry-run", is_flag=True, help="Plan and report, write nothing remotely.")
@click.option("--audit", is_flag=True, help="Read every remote pair and fix drift.")
@click.option("--prune", is_flag=True, help="Delete remote pairs the catalog no longer has.")
@click.option(
    "--max-delete",
    type=click.FloatRange(0, 100),
    default=None,
    help="Largest share (%) of remote pairs --prune may delete (default 10).",
)
@config_option
@handle_errors
def reconcile(
    dry_run: bool, audit: bool, prune: bool, max_delete: float | None, config_file: Path | None
) -> None:
    """Apply the catalog to Digital River and write a report; exit 1 if some writes failed."""
    setup_logging()
    settings = settings_from(config_file, max_delete=max_delete)
    options = ReconcileOptions(
        dry_run=dry_run, audit=audit, prune=prune, max_delete_pct=settings.catalog.max_delete
    )

    async def body() -> ReconcileResult:
        async with reconciler(settings) as rec:
            with progress_reporter() as progress:
                return await rec.run(options, progress=progress)

    # A dry run writes nothing remotely and moves no ledger (it records its run and report
    # like any run), so it may run beside the daemon; a real one holds the lock.
    flags = [*(["--audit"] if audit else []), *(["--prune"] if prune else [])]
    guard = (
        contextlib.nullcontext()
        if dry_run
        else InstanceLock(
            settings, command=" ".join(["reconcile", *flags]), beside_daemon=_RECONCILE_HINT
        )
    )
    with guard:
        result = run_async(body())
    click.echo(summary_line(result))
    sys.exit(EXIT_FAILED if result.failed else EXIT_OK)


@main.command("report-schema")
def report_schema() -> None:
    """Print the JSON Schema of the reconcile report files."""
    click.echo(json.dumps(report_json_schema(), indent=2))


# ------------------------------------------------------------------------------- rendering
def summary_line(result: ReconcileResult) -> str:
    """The one-line summary printed after every reconcile."""
    s = result.report.summary
    parts = [
        f"{s.pairs_in_catalog} pairs",
        f"{s.in_sync} in sync",
        f"{s.created} created",
        f"{s.updated} updated",
        f"{s.drift_fixed} drift fixed",
        f"{s.orphans} orphans",
        f"{s.deleted} deleted",
        f"{s.failed} failed",
        f"{s.invalid_rows} invalid rows",
        f"{s.api_calls} API calls",
        f"{s.duration_seconds:.2f}s",
    ]
    where = f"; report {result.report_path}" if result.report_path else ""
    dry = " (dry run)" if result.report.dry_run else ""
    refused = (
        f"; deletion refused: {result.report.prune_refused}" if result.report.prune_refused else ""
    )
    return f"reconcile{dry}: {', '.join(parts)}{refused}{where}"


def describe_plan(the_plan: Plan) -> list[str]:
    """Human lines: each change per pair and field, old and new."""
    lines: list[str] = []
    quiet = (Unchanged, Protected)
    for entry in the_plan.entries:
        if isinstance(entry, quiet):
            continue
        row = plan_entry_json(entry)
        kind = row.pop("kind")
        fields = row.pop("changes", [])
        if isinstance(entry, Orphan):
            lines.append(f"{entry.id}: orphan (not in the catalog)")
            continue
        lines.append(f"{entry.id}: {kind}")
        lines.extend(
            f"    {f['field']}: {json.dumps(f['old'])} -> {json.dumps(f['new'])}" for f in fields
        )
    counts = the_plan.counts
    lines.append(
        f"plan: {counts.created} to create, {counts.updated} to update, {counts.unchanged} "
        f"unchanged, {counts.orphans} orphans, {counts.deletes} to delete, "
        f"{counts.protected} protected, at most {counts.max_writes} write calls"
    )
    if the_plan.refusal:
        lines.append(f"deletion refused: {the_plan.refusal}")
    return lines


def plan_entry_json(entry: Any) -> dict[str, Any]:
    """One plan entry as JSON: its kind and its fields, changes as (field, old, new)."""
    row: dict[str, Any] = {"kind": type(entry).__name__, "id": entry.id}
    for name in entry.__slots__:
        if name == "id":
            continue
        value = getattr(entry, name)
        if name == "changes":
            row[name] = [{"field": c.field, "old": c.old, "new": c.new} for c in value]
        elif name == "mismatches":
            row[name] = [
                {"field": m.field, "sku": m.sku_value, "item": m.item_value} for m in value
            ]
        else:
            row[name] = value
    return row


def plan_as_json(the_plan: Plan) -> dict[str, Any]:
    """The whole plan as a JSON document (``plan --json``)."""
    counts = the_plan.counts
    return {
        "hasChanges": the_plan.has_changes,
        "refusal": the_plan.refusal,
        "counts": {name: getattr(counts, name) for name in counts.__slots__},
        "entries": [plan_entry_json(e) for e in the_plan.entries if not isinstance(e, Unchanged)],
    }


class progress_reporter:  # noqa: N801 - used as a context manager, named like one
    """A rich progress bar on a terminal; a plain line per 10% otherwise."""

    def __init__(self) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._last_decile = -1

    def __enter__(self) -> Callable[[int, int], None]:
        if sys.stderr.isatty():
            from rich.progress import Progress  # noqa: PLC0415 - only on a terminal

            self._bar = Progress(transient=True)
            self._bar.__enter__()
            self._task = self._bar.add_task("reconciling", total=None)
        return self.update

    def update(self, done: int, total: int) -> None:
        """Called after each pair is applied."""
        if self._bar is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        decile = done * 10 // max(total, 1)
        if decile != self._last_decile:
            self._last_decile = decile
            click.echo(f"reconcile: {done}/{total} pairs applied", err=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
