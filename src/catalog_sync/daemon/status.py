"""What ``catalog-sync status`` shows, gathered from the state database alone.

The daemon need not be reachable: SQLite in WAL mode lets this read while it writes. Sections
that belong to parts of the daemon built separately (the event poller, the request transmitter)
are filled by providers registered in :data:`OPTIONAL_SECTIONS`; a section with no provider is
shown as not enabled rather than left out, so an operator sees what is not running.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from catalog_sync.catalog.report import RECONCILE_KINDS
from catalog_sync.state import RunRecord, StateBackend

SectionProvider = Callable[[StateBackend], Mapping[str, Any]]

#: Sections provided by the event poller and the fulfillment-request transmitter, in the
#: order shown; ``None`` until the part that fills the section exists.
OPTIONAL_SECTIONS: Final[Mapping[str, SectionProvider | None]] = {
    "events": None,
    "fulfillment_requests": None,
    "dead_letters": None,
    "orders_audit": None,
}
NOT_ENABLED: Final = {"enabled": False}


def gather_status(
    store: StateBackend,
    *,
    sections: Mapping[str, SectionProvider | None] = OPTIONAL_SECTIONS,
) -> dict[str, Any]:
    """The status document (``status --json`` prints it as is)."""
    last = store.last_run(RECONCILE_KINDS)
    document: dict[str, Any] = {
        "state": store.location,
        "last_reconcile": None if last is None else _run(last),
        "pairs_tracked": store.count_pairs(),
        "newest_report": _newest_report(last),
        "leadership": _leadership(store),
    }
    for name, provider in sections.items():
        document[name] = NOT_ENABLED if provider is None else {"enabled": True, **provider(store)}
    return document


def _run(run: RunRecord) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "dry_run": run.dry_run,
        "failures": run.failures,
        "counts": run.counts,
    }


def _leadership(store: StateBackend) -> dict[str, Any]:
    """Who leads, in which epoch, until when (the database's clock), and every instance."""
    lease = store.lease()
    return {
        "leader": lease.holder,
        "epoch": lease.epoch,
        "lease_expires_at": lease.expires_at,
        "lease_live": lease.remaining > 0,
        "instances": [
            {
                "name": i.name,
                "host": i.host,
                "pid": i.pid,
                "role": i.role,
                "epoch": i.epoch,
                "last_seen": i.last_seen,
            }
            for i in store.instances()
        ],
        "catalog_copies_left_out": sorted(
            name for name, f in store.catalog_files().items() if f.skipped_at is not None
        ),
    }


def _leadership_lines(section: Mapping[str, Any]) -> list[str]:
    """``leadership: node-a, epoch 3, lease until ...`` and one line per instance."""
    if section["leader"] is None:
        return ["leadership: no instance has led yet"]
    until = "live" if section["lease_live"] else "ran out"
    lines = [
        (
            f"leadership: {section['leader']}, epoch {section['epoch']}, lease {until} "
            f"(expires {section['lease_expires_at']})"
        )
    ]
    lines.extend(
        f"    {i['name']} on {i['host']} (pid {i['pid']}): {i['role']}, last seen {i['last_seen']}"
        for i in section["instances"]
    )
    if left_out := section["catalog_copies_left_out"]:
        lines.append(
            f"    catalog files left out (the leader's copy is older): {', '.join(left_out)}"
        )
    return lines


def _newest_report(last: RunRecord | None) -> dict[str, str] | None:
    """The newest run's report: its JSON and the HTML page beside it."""
    if last is None or last.report_path is None:
        return None
    json_path = Path(last.report_path)
    return {"json": str(json_path), "html": str(json_path.with_suffix(".html"))}


def _plain(value: Any) -> str:
    """A section value for people: mappings as ``key value, ...``, nothing as ``-``."""
    if value is None:
        return "-"
    if isinstance(value, Mapping):
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in value.items()) or "-"
    return str(value)


def render_status(document: Mapping[str, Any]) -> list[str]:
    """Human lines for ``status`` without ``--json``."""
    lines = [f"state database: {document['state']}"]
    last = document["last_reconcile"]
    if last is None:
        lines.append("last reconcile: none yet")
    else:
        counts = last["counts"]
        shown = ", ".join(
            f"{counts.get(key, 0)} {label}"
            for key, label in (
                ("pairs_in_catalog", "pairs in catalog"),
                ("in_sync", "in sync"),
                ("created", "created"),
                ("updated", "updated"),
                ("drift_fixed", "drift fixed"),
                ("orphans", "orphans"),
                ("invalid_rows", "invalid rows"),
            )
        )
        lines.append(
            f"last reconcile: {last['kind']} run {last['id']} finished {last['finished_at']}, "
            f"{last['failures']} failed"
        )
        lines.append(f"    {shown}")
    lines.append(f"pairs tracked: {document['pairs_tracked']}")
    for name in OPTIONAL_SECTIONS:
        section = document.get(name, NOT_ENABLED)
        label = name.replace("_", " ")
        if not section.get("enabled"):
            lines.append(f"{label}: not enabled")
        else:
            lines.append(f"{label}:")
            lines.extend(
                f"    {k.replace('_', ' ')}: {_plain(v)}"
                for k, v in section.items()
                if k != "enabled"
            )
    lines.extend(_leadership_lines(document["leadership"]))
    report = document["newest_report"]
    lines.append(f"newest report: {'none' if report is None else report['html']}")
    return lines
