"""A one-off reconcile plans and applies its catalog a chunk at a time (memory flat in the
catalog's size): what it writes and reports is what one whole plan would have done."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.contract.state_backend_helpers import StateLocation
from tests.integration.test_reconcile import harness, row, write_csv

from catalog_sync.catalog import reconcile
from catalog_sync.sandbox.testing import RunningSandbox

IDS = [f"P-{n}" for n in range(7)]


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reconcile, "_CHUNK", 2)


async def test_initial_sync_in_chunks_creates_and_records_every_pair(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Seven pairs in chunks of two: every pair created once, recorded, reported in order."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(i) for i in IDS])
        result = await h.run()
        assert sorted(h.writes()) == sorted(
            [("PUT", f"/skus/{i}") for i in IDS] + [("POST", "/inventory-items")] * len(IDS)
        )
        assert h.store.applied_ids() == set(IDS)
        assert [c.id for c in result.changes.entries()] == IDS
        latest = json.loads((h.reports / "latest.json").read_text())
        assert [c["id"] for c in latest["changes"]] == IDS
        assert result.report.summary.created == len(IDS)


async def test_audit_in_chunks_repairs_drift_in_any_chunk_only(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """Drift on pairs of the first and the last chunk is repaired; nothing else is written."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(i) for i in IDS])
        await h.run()
        sandbox.admin.post("/_sandbox/skus/P-0/drift", json={"countryOfOrigin": "CN"})
        sandbox.admin.post("/_sandbox/inventory-items/P-6/drift", json={"eccn": "5A992.c"})
        result = await h.run(audit=True)
        assert sorted(h.writes()) == [("POST", "/inventory-items/P-6"), ("PUT", "/skus/P-0")]
        summary = result.report.summary
        assert (summary.drift_fixed, summary.in_sync) == (2, len(IDS) - 2)


async def test_prune_guard_measures_the_whole_catalog_not_a_chunk(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """One orphan of twenty pairs (5%) is deleted; a guard measuring one chunk would refuse."""
    ids = [f"P-{n:02}" for n in range(20)]
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(i) for i in ids])
        await h.run()
        write_csv(h.catalogs / "a.csv", [row(i) for i in ids[:-1]])
        result = await h.run(prune=True, audit=True)
        assert sorted(h.writes()) == [("DELETE", "/inventory-items/P-19"), ("DELETE", "/skus/P-19")]
        assert result.report.prune_refused is None


async def test_a_changed_row_in_a_later_chunk_is_the_only_write(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """A re-run re-reads only what changed: one edited row among seven, one write."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(i) for i in IDS])
        await h.run()
        write_csv(
            h.catalogs / "a.csv", [row(i, name="Renamed") if i == "P-5" else row(i) for i in IDS]
        )
        result = await h.run()
        assert h.writes() == [("PUT", "/skus/P-5")]
        assert (result.report.summary.updated, result.report.summary.in_sync) == (1, 6)


async def test_plan_in_chunks_lists_every_pair(
    tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox
) -> None:
    """``plan`` (which prints every entry) gets the whole plan, in id order, across chunks."""
    async with harness(tmp_path, sandbox, state_location) as h:
        write_csv(h.catalogs / "a.csv", [row(i) for i in reversed(IDS)])
        the_plan = await h.reconciler.plan_only(reconcile.ReconcileOptions(dry_run=True))
        assert [w.id for w in the_plan.writes] == IDS
        assert the_plan.counts.created == len(IDS)
