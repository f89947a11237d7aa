"""Reconcile against the sandbox over loopback HTTP: what is written, and what is not."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from tests.contract.state_backend_helpers import StateLocation

from catalog_sync.catalog import reconcile, spool
from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler, ReconcileResult
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import CatalogState, open_state
from catalog_sync.support.files import write_atomically

PHYSICAL = "4323.310_A"
DIGITAL = "4512.100_A"
COLUMNS = (
    "id",
    "name",
    "taxCode",
    "eccn",
    "hsCode",
    "countryOfOrigin",
    "partNumber",
    "manufacturerId",
    "allowOversell",
)


def row(pair_id: str, **fields: str) -> dict[str, str]:
    """A valid physical catalog row, with ``fields`` overriding defaults."""
    base = {
        "id": pair_id,
        "name": f"Product {pair_id}",
        "taxCode": PHYSICAL,
        "eccn": "EAR99",
        "hsCode": "8471.30.0100",
        "countryOfOrigin": "US",
        "partNumber": f"PN-{pair_id}",
        "manufacturerId": "acme",
        "allowOversell": "false",
    }
    return base | fields


def digital_row(pair_id: str) -> dict[str, str]:
    """A valid digital catalog row (no part number, no manufacturer)."""
    return row(pair_id, taxCode=DIGITAL, partNumber="", manufacturerId="", allowOversell="")


def write_csv(path: Path, rows: Iterable[dict[str, str]]) -> None:
    """Write rows the documented way: to a temporary name, then rename into place."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, [out.getvalue()], private=False)


class Harness:
    """A catalog folder, a state database and a reconciler wired to the sandbox."""

    def __init__(
        self, root: Path, reconciler: Reconciler, sandbox: RunningSandbox, store: CatalogState
    ) -> None:
        self.catalogs = root / "catalogs"
        self.reports = root / "reports"
        self.reconciler = reconciler
        self.sandbox = sandbox
        self.store = store

    async def run(self, **options: Any) -> ReconcileResult:
        """Reconcile once, with the request log cleared first so it shows this run only."""
        self.sandbox.clear_requests()
        return await self.reconciler.run(ReconcileOptions(**options))

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every write the sandbox received since the last run started."""
        return [(r["method"], r["path"]) for r in self.sandbox.requests() if r["method"] != "GET"]

    def remote(self, kind: str, pair_id: str) -> dict[str, Any] | None:
        """The remote SKU or inventory item, or None when absent."""
        with self.sandbox.api() as api:
            response = api.get(f"/{kind}/{pair_id}")
        return None if response.status_code == 404 else dict(response.json())


@asynccontextmanager
async def harness(
    tmp_path: Path, sandbox: RunningSandbox, state: StateLocation
) -> AsyncIterator[Harness]:
    """Yield a :class:`Harness` on ``tmp_path``, its state at ``state`` (either backend)."""
    (tmp_path / "catalogs").mkdir()
    client = DigitalRiverClient(
        base_url=sandbox.base_url, api_key=SecretStr(sandbox.api_key), rate_limit=1000
    )
    with open_state(state) as store:
        async with client:
            reconciler = Reconciler(
                client, store, catalogs=tmp_path / "catalogs", reports=tmp_path / "reports"
            )
            yield Harness(tmp_path, reconciler, sandbox, store)


async def test_first_run_creates_every_pair(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Physical rows become a SKU and an item with the same id; digital rows a SKU alone."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2"), digital_row("D-1")])
        result = await h.run()
        assert result.report.summary.created == 3
        assert sorted(h.writes()) == sorted(
            [("PUT", "/skus/P-1"), ("PUT", "/skus/P-2"), ("PUT", "/skus/D-1")]
            + [("POST", "/inventory-items")] * 2
        )
        item = h.remote("inventory-items", "P-1")
        assert item is not None
        assert item["partNumber"] == "PN-P-1"
        assert h.remote("inventory-items", "D-1") is None


async def test_unchanged_rerun_makes_no_call(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A second run with the same catalog sends no request at all."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), digital_row("D-1")])
        await h.run()
        result = await h.run()
        assert sandbox.requests() == []
        assert result.report.summary.in_sync == 2


async def test_shared_attribute_change_writes_both_sides(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A new HS code is one PUT of the SKU and one update of the item, nothing else."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2")])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row("P-1", hsCode="8471.41.0150"), row("P-2")])
        await h.run()
        assert h.writes() == [("PUT", "/skus/P-1"), ("POST", "/inventory-items/P-1")]
        item = h.remote("inventory-items", "P-1")
        assert item is not None
        assert item["hsCode"] == "8471.41.0150"


async def test_sku_only_change_writes_the_sku_only(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A new name changes the SKU; the inventory item is not written."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row("P-1", name="Renamed")])
        await h.run()
        assert h.writes() == [("PUT", "/skus/P-1")]


async def test_oversell_change_writes_the_item_only(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """allowOversell lives on the item: only the item is updated, with only that field."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row("P-1", allowOversell="yes")])
        await h.run()
        assert h.writes() == [("POST", "/inventory-items/P-1")]
        [update] = [r for r in sandbox.requests() if r["method"] == "POST"]
        assert update["body"] == {"allowOversell": True}


async def test_audit_fixes_sku_drift(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A SKU changed behind our back is found by --audit and put back, as drift."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2")])
        await h.run()
        sandbox.admin.post("/_sandbox/skus/P-2/drift", json={"countryOfOrigin": "CN"})
        quiet = await h.run()
        assert quiet.report.summary.api_calls == 0
        result = await h.run(audit=True)
        assert h.writes() == [("PUT", "/skus/P-2")]
        assert result.report.summary.drift_fixed == 1
        sku = h.remote("skus", "P-2")
        assert sku is not None
        assert sku["countryOfOrigin"] == "US"


async def test_audit_fixes_item_drift(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """An item whose shared attribute disagrees with its SKU is repaired on the item alone."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        await h.run()
        sandbox.admin.post("/_sandbox/inventory-items/P-1/drift", json={"eccn": "5A992.c"})
        result = await h.run(audit=True)
        assert h.writes() == [("POST", "/inventory-items/P-1")]
        assert [c.drift for c in result.report.changes] == [True]


async def test_prune_refuses_an_emptied_catalog(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Removing every catalog file and pruning deletes nothing."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(f"P-{i}") for i in range(5)])
        await h.run()
        (h.catalogs / "a.csv").unlink()
        result = await h.run(prune=True, audit=True)
        assert h.writes() == []
        assert result.report.prune_refused is not None
        assert h.remote("skus", "P-0") is not None


async def test_prune_refuses_a_truncated_catalog(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A catalog that lost half its rows is not allowed to delete them (10% guard)."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(f"P-{i}") for i in range(10)])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row(f"P-{i}") for i in range(5)])
        result = await h.run(prune=True)
        assert h.writes() == []
        assert {o.outcome for o in result.report.orphans} == {"refused"}


async def test_prune_deletes_within_the_guard(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """One orphan among twenty pairs (5%) is deleted on both sides under --prune."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(f"P-{i:02}") for i in range(20)])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row(f"P-{i:02}") for i in range(19)])
        result = await h.run(prune=True)
        assert sorted(h.writes()) == [
            ("DELETE", "/inventory-items/P-19"),
            ("DELETE", "/skus/P-19"),
        ]
        assert result.report.summary.deleted == 1
        assert h.remote("skus", "P-19") is None


async def test_orphans_are_only_reported_without_prune(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Without --prune a removed row is listed as an orphan and left in place."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2")])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        result = await h.run()
        assert h.writes() == []
        assert [(o.id, o.outcome) for o in result.report.orphans] == [("P-2", "reported")]


async def test_invalid_rows_are_reported_and_the_rest_apply(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A bad country names file:line and field; the good rows are still created."""
    async with harness(tmp_path, sandbox, state_location) as h:
        path = h.catalogs / "a.csv"
        write_csv(path, [row("P-1"), row("P-2", countryOfOrigin="USA"), row("P-3")])
        result = await h.run()
        assert result.report.summary.created == 2
        [problem] = result.report.invalid_rows
        assert (problem.file, problem.line, problem.field) == (str(path), 3, "countryOfOrigin")
        assert "US" in problem.message
        assert h.remote("skus", "P-2") is None


async def test_unparseable_file_deletes_nothing(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A half-written JSON file protects its pairs: no delete, no write, even under --prune."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        (h.catalogs / "b.json").write_text(json.dumps([row("J-1"), row("J-2")]))
        await h.run()
        (h.catalogs / "b.json").write_text('[{"id": "J-1", "name": "half')
        result = await h.run(prune=True, audit=True)
        assert h.writes() == []
        assert result.report.unparseable_files == [str(h.catalogs / "b.json")]
        assert h.remote("skus", "J-2") is not None


async def test_failed_write_is_reported_and_retried_next_run(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """An item the API refuses is reported with its error; once fixed, the next run applies."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2", partNumber="")])
        first = await h.run()
        [failure] = first.report.failures
        assert (failure.id, failure.status, failure.parameter) == ("P-2", 400, "partNumber")
        assert h.remote("inventory-items", "P-1") is not None
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2")])
        second = await h.run()
        assert second.report.failures == []
        assert h.remote("inventory-items", "P-2") is not None


async def test_report_files_are_written(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Each run writes JSON and HTML and points latest.* at them."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        result = await h.run()
        assert result.report_path is not None
        latest = json.loads((h.reports / "latest.json").read_text())
        assert latest["summary"]["created"] == 1
        assert (h.reports / "latest.html").read_text().startswith("<!doctype html>")


async def test_dry_run_writes_nothing(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """--dry-run plans and reports but sends no write."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        result = await h.run(dry_run=True)
        assert h.writes() == []
        assert [c.status for c in result.report.changes] == ["planned"]


async def test_report_lists_every_change_beyond_those_kept_in_memory(
    tmp_path: Path,
    sandbox: RunningSandbox,
    state_location: StateLocation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The result holds the first changes only; the report files list every one of them."""
    monkeypatch.setattr(spool, "CHANGES_IN_MEMORY", 2)
    async with harness(tmp_path, sandbox, state_location) as h:
        ids = [f"P-{n}" for n in range(5)]
        write_csv(h.catalogs / "a.csv", [row(i) for i in ids])
        result = await h.run()
        latest = json.loads((h.reports / "latest.json").read_text())
        assert [c.id for c in result.report.changes] == ids[:2]
        assert [c["id"] for c in latest["changes"]] == ids
        assert [c.id for c in result.changes.entries()] == ids
        assert "Changes (5)" in (h.reports / "latest.html").read_text()


async def test_records_lost_in_a_crash_are_recovered_without_writes(
    tmp_path: Path, sandbox: RunningSandbox, state_location: StateLocation
) -> None:
    """Pairs applied but not yet committed to the state when the process died are read back,
    found in sync and recorded again: the re-run converges without writing them twice."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2"), digital_row("D-1")])
        await h.run()
        h.store.forget_pairs(["P-2", "D-1"])  # the last batch's commit never ran
        result = await h.run()
        assert h.writes() == []
        assert result.report.summary.in_sync == 3
        again = await h.run()
        assert sandbox.requests() == []
        assert again.report.summary.in_sync == 3


async def test_state_read_in_chunks_finds_exactly_the_changed_rows(
    tmp_path: Path,
    sandbox: RunningSandbox,
    state_location: StateLocation,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the state compared a few ids at a time, changed rows in any chunk are written and
    the others are not read at all."""
    monkeypatch.setattr(reconcile, "_STATE_CHUNK", 2)
    async with harness(tmp_path, sandbox, state_location) as h:
        ids = [f"P-{n}" for n in range(7)]
        write_csv(h.catalogs / "a.csv", [row(i) for i in ids])
        await h.run()
        changed = {"P-0", "P-3", "P-6"}
        write_csv(
            h.catalogs / "a.csv", [row(i, name=f"New {i}") if i in changed else row(i) for i in ids]
        )
        result = await h.run()
        assert sorted(h.writes()) == sorted(("PUT", f"/skus/{i}") for i in changed)
        assert (result.report.summary.updated, result.report.summary.in_sync) == (3, 4)


async def test_a_scoped_run_knows_the_pairs_an_earlier_scoped_run_created(
    tmp_path: Path, sandbox: RunningSandbox, state_location: StateLocation
) -> None:
    """Scoped runs keep the tracked ids between them: a pair one created, removed from the
    catalog, is pruned by the next, without a whole-catalog run in between."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row("P-1"), row("P-2")])
        await h.run(scope=frozenset({"P-2"}))
        assert h.remote("skus", "P-2") is not None
        write_csv(h.catalogs / "a.csv", [row("P-1")])
        await h.run(scope=frozenset({"P-2"}), prune=True, max_delete_pct=100)
        assert (h.remote("skus", "P-2"), h.store.applied_ids()) == (None, {"P-1"})
