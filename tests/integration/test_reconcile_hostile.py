"""Reconcile over the sandbox with hostile catalog entries: rows that cannot be sent, entries
that cannot be read, files over the limits. Bad input is named and skipped; nothing it held is
deleted or changed remotely; the rest of the catalog applies."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from pydantic import SecretStr

from catalog_sync.catalog.reconcile import ReconcileOptions, Reconciler
from catalog_sync.core.textstream import Limits
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import open_state

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
LIMITS = Limits(file_bytes=2000, line_chars=500, field_chars=200)


def rows(*ids: str) -> str:
    """A CSV catalog of digital products (a SKU each, no inventory item)."""
    return HEADER + "".join(f"{i},Product {i},4512.100_A,EAR99,US\n" for i in ids)


@asynccontextmanager
async def reconciler(
    tmp_path: Path, sandbox: RunningSandbox, limits: Limits = LIMITS
) -> AsyncIterator[Reconciler]:
    """A reconciler on ``tmp_path/catalogs`` (small limits by default), wired to the sandbox."""
    (tmp_path / "catalogs").mkdir()
    client = DigitalRiverClient(
        base_url=sandbox.base_url, api_key=SecretStr(sandbox.api_key), rate_limit=1000
    )
    with open_state(tmp_path / "state.db") as store:
        async with client:
            yield Reconciler(
                client,
                store,
                catalogs=tmp_path / "catalogs",
                reports=tmp_path / "reports",
                limits=limits,
            )


def remote_ids(sandbox: RunningSandbox) -> set[str]:
    """Ids of every SKU at the sandbox."""
    with sandbox.api() as api:
        return {sku["id"] for sku in api.get("/skus", params={"limit": 100}).json()["data"]}


def deletes(sandbox: RunningSandbox) -> list[str]:
    """Paths of every DELETE the sandbox received."""
    return [r["path"] for r in sandbox.requests() if r["method"] == "DELETE"]


def dangling_link(path: Path) -> None:
    """Replace the file by a link to nothing."""
    path.unlink()
    path.symlink_to(path.parent / "gone.csv")


def looping_link(path: Path) -> None:
    """Replace the file by a link to itself."""
    path.unlink()
    path.symlink_to(path.name)


def directory(path: Path) -> None:
    """Replace the file by a folder of the same name."""
    path.unlink()
    path.mkdir()


def fifo(path: Path) -> None:
    """Replace the file by a named pipe."""
    path.unlink()
    os.mkfifo(path)


def oversized(path: Path) -> None:
    """Make the file larger than the file limit (valid rows, only too many)."""
    path.write_text(rows(*(f"P-{i}" for i in range(100))), encoding="utf-8")


def long_line(path: Path) -> None:
    """Put one line longer than the line limit in the middle of the file."""
    path.write_text(rows("P-1") + "P-9," + "x" * 600 + "\n" + rows("P-2")[len(HEADER) :])


BREAKERS: dict[str, Callable[[Path], None]] = {
    "dangling link": dangling_link,
    "looping link": looping_link,
    "directory": directory,
    "fifo": fifo,
    "oversized": oversized,
    "long line": long_line,
}


@pytest.mark.parametrize("breaker", sorted(BREAKERS))
async def test_unreadable_file_protects_its_pairs_and_prune_refuses(
    tmp_path: Path, sandbox: RunningSandbox, breaker: str
) -> None:
    """The pairs the broken entry held are left alone, and no orphan is deleted by --prune."""
    async with reconciler(tmp_path, sandbox) as rec:
        held = tmp_path / "catalogs" / "a.csv"
        held.write_text(rows("P-1", "P-2"), encoding="utf-8")
        (tmp_path / "catalogs" / "b.csv").write_text(rows("Q-1", "Q-2"), encoding="utf-8")
        await rec.run(ReconcileOptions())
        BREAKERS[breaker](held)
        (tmp_path / "catalogs" / "b.csv").write_text(rows("Q-1"), encoding="utf-8")
        sandbox.clear_requests()
        result = await rec.run(ReconcileOptions(prune=True, audit=True))
    assert result.report.unparseable_files == [str(held)]
    assert result.report.prune_refused is not None
    assert deletes(sandbox) == []
    assert remote_ids(sandbox) == {"P-1", "P-2", "Q-1", "Q-2"}


async def test_rows_that_cannot_be_sent_are_skipped_and_the_rest_apply(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """Surrogates, NUL, foreign digits, huge integers: each row is named, the others created."""
    good = {"taxCode": "4512.100_A", "eccn": "EAR99", "countryOfOrigin": "US"}
    records = [
        {"id": "OK-1", "name": "Tent", **good},
        {"id": "BAD-1", "name": "a\ud800b", **good},
        {"id": "BAD-2", "name": "Te\x00nt", **good},
        {"id": "BAD-3", "name": "T", "weight": "٣", "weightUnit": "kg", **good},
        {"id": "BAD-4", "name": "T", "metadata": {"n": 10**400}, **good},
        {"id": "..", "name": "T", **good},
        {"id": "OK-2", "name": "Lamp", **good},
    ]
    async with reconciler(tmp_path, sandbox, Limits()) as rec:
        path = tmp_path / "catalogs" / "a.json"
        path.write_text(json.dumps(records, indent=1), encoding="utf-8")
        result = await rec.run(ReconcileOptions())
    report = result.report
    assert remote_ids(sandbox) == {"OK-1", "OK-2"}
    assert report.summary.failed == 0
    assert [(p.file, p.field) for p in report.invalid_rows] == [
        (str(path), "name"),
        (str(path), "name"),
        (str(path), "weight"),
        (str(path), "metadata.n"),
        (str(path), "id"),
    ]
    assert result.report_path is not None
    assert result.report_path.exists()


async def test_the_next_run_after_a_refused_row_goes_on(
    tmp_path: Path, sandbox: RunningSandbox
) -> None:
    """A refused row is not stuck: fixing it applies it, with nothing else rewritten."""
    good = {"taxCode": "4512.100_A", "eccn": "EAR99", "countryOfOrigin": "US"}
    async with reconciler(tmp_path, sandbox) as rec:
        path = tmp_path / "catalogs" / "a.json"
        path.write_text(json.dumps([{"id": "A", "name": "a\ud800b", **good}]), encoding="utf-8")
        first = await rec.run(ReconcileOptions())
        path.write_text(json.dumps([{"id": "A", "name": "ab", **good}]), encoding="utf-8")
        second = await rec.run(ReconcileOptions())
    assert first.report.summary.invalid_rows == 1
    assert second.report.summary.created == 1
    assert remote_ids(sandbox) == {"A"}
