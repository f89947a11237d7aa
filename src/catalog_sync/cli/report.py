"""``report activity``: what catalog-sync did and found over any period, from the state alone."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from catalog_sync.activity.report import day_bounds, read_activity, writable, write_files
from catalog_sync.cli import main
from catalog_sync.cli.common import (
    EXIT_USAGE,
    TIME_FORMATS,
    as_utc,
    config_option,
    fail,
    handle_errors,
    settings_from,
)
from catalog_sync.core.activity import ActivityReport, activity_json_schema
from catalog_sync.state import open_state
from catalog_sync.support.clock import utc_clock


@main.group()
def report() -> None:
    """Reports of what catalog-sync did."""


@report.command("activity")
@click.option(
    "--since",
    type=click.DateTime(formats=TIME_FORMATS),
    default=None,
    help="Start of the period (UTC unless an offset is given); default: today's midnight UTC.",
)
@click.option(
    "--until",
    type=click.DateTime(formats=TIME_FORMATS),
    default=None,
    help="End of the period, not included; default: now.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON document.")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Write the report's JSON to this file and its HTML page beside it (.html).",
)
@click.option("--schema", is_flag=True, help="Print the JSON Schema of the report and exit.")
@config_option
@handle_errors
def activity(  # noqa: PLR0917 - click passes one argument per option
    since: datetime | None,
    until: datetime | None,
    as_json: bool,
    out: Path | None,
    schema: bool,
    config_file: Path | None,
) -> None:
    """Catalog runs, orders handled, money captured and cancelled per currency, merchant
    requests, dead letters and both audits' findings over a period. Reads the state only."""
    if schema:
        click.echo(json.dumps(activity_json_schema(), indent=2))
        return
    now = utc_clock()
    start = as_utc(since) or day_bounds(now.date())[0]
    end = as_utc(until) or now
    if end <= start:
        fail(f"--until ({end:%Y-%m-%dT%H:%M:%S}) must be after --since", EXIT_USAGE)
    settings = settings_from(config_file)
    with open_state(settings) as store:
        result = read_activity(store, start, end, now=now)
    if out is not None:
        page = write_files(result, out)
        click.echo(f"wrote {out} and {page}", err=True)
    if as_json:
        click.echo(writable(result)[0].model_dump_json(indent=2))
    else:
        click.echo("\n".join(summary_lines(result)))


def summary_lines(result: ActivityReport) -> list[str]:
    """The report as a person reads it on a terminal."""
    s = result.summary
    lines = [
        f"activity {result.since:%Y-%m-%d %H:%M:%S} to {result.until:%Y-%m-%d %H:%M:%S} UTC",
        (
            f"catalog: {s.catalog_runs} runs ({s.catalog_audits} audits), {s.pairs_created}"
            f" created, {s.pairs_updated} updated, {s.drift_fixed} drift fixed,"
            f" {s.catalog_write_failures} writes failed"
        ),
        (
            f"orders: {s.events_handled} events handled, {s.orders_handled} orders,"
            f" {s.fulfillment_orders_created} fulfillment orders, {s.captures} captures,"
            f" {s.charge_cancels} charge cancels, {s.writes_refused} writes refused"
        ),
    ]
    lines.extend(
        f"  {t.currency}: captured {t.captured_units} units {t.captured_amount},"
        f" cancelled {t.cancelled_units} units {t.cancelled_amount}"
        + (f", {t.unpriced_units} units unpriced" if t.unpriced_units else "")
        for t in result.money
    )
    by_status = ", ".join(f"{n} {k}" for k, n in result.requests_by_status.items())
    lines.append(f"merchant requests: {s.merchant_requests} ({by_status})")
    lines.append(f"dead letters: {s.dead_letters}")
    lines.append(
        f"orders audits: {s.orders_audits}, {s.audit_findings} findings"
        f" ({s.audit_findings_repaired} repaired)"
    )
    return lines
