"""``catalog-sync run`` as a real process: catalog files dropped the ways people drop them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from catalog_sync.demo.testing import DaemonProcess, daemon_env, replace_row, wait_until
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import RunRecord, open_state

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
TIMEOUT = 15.0


def row(pair_id: str, name: str = "Tent") -> str:
    """One valid CSV catalog row of a digital product (a SKU without an inventory item)."""
    return f"{pair_id},{name},4512.100_A,EAR99,US\n"


@pytest.fixture
def daemon(sandbox: RunningSandbox, tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon on an empty catalogs folder, past its start-up reconcile."""
    (tmp_path / "catalogs").mkdir()
    env = daemon_env(
        base_url=sandbox.base_url,
        api_key=sandbox.api_key,
        workdir=tmp_path,
        extra={"CATALOG_SYNC_SETTLE_MS": "300"},
    )
    with DaemonProcess(env, tmp_path / "daemon.log") as process:
        wait_until(lambda: last_run(tmp_path), timeout=TIMEOUT, what="the start-up run")
        yield process


def last_run(workdir: Path) -> RunRecord | None:
    """The daemon's newest finished run, read from its state database."""
    state = workdir / "state" / "catalog-sync.db"
    if not state.exists():
        return None
    with open_state(state) as store:
        return store.last_run()


def writes(sandbox: RunningSandbox) -> list[tuple[str, str]]:
    """(method, path) of every write the sandbox received."""
    return [(r["method"], r["path"]) for r in sandbox.requests() if r["method"] != "GET"]


def finished_run(workdir: Path, **counts: int) -> RunRecord | None:
    """The newest run, if it is finished and its counts include ``counts``."""
    run = last_run(workdir)
    if run is None or any(run.counts.get(k) != v for k, v in counts.items()):
        return None
    return run


def reports(workdir: Path) -> int:
    """How many runs wrote a report."""
    return len(list((workdir / "reports").glob("reconcile-*.json")))


def remote_name(sandbox: RunningSandbox, pair_id: str) -> str | None:
    """The SKU's name at the sandbox, or None when it does not exist."""
    with sandbox.api() as api:
        response = api.get(f"/skus/{pair_id}")
    return None if response.status_code == 404 else str(response.json()["name"])


def test_write_in_place_creates_the_pair(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A file written in place is applied: the pair appears at the sandbox."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + row("SKU-A"), encoding="utf-8")
    wait_until(lambda: remote_name(sandbox, "SKU-A"), timeout=TIMEOUT, what="SKU-A")


def test_write_then_rename_applies_exactly_once(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A write-then-rename change is written once and only for the changed pair."""
    path = tmp_path / "catalogs" / "a.csv"
    path.write_text(HEADER + row("SKU-A") + row("SKU-B"), encoding="utf-8")
    wait_until(lambda: remote_name(sandbox, "SKU-B"), timeout=TIMEOUT, what="SKU-B")
    sandbox.clear_requests()
    replace_row(path, "SKU-A", "name", "Tent v2")
    wait_until(lambda: remote_name(sandbox, "SKU-A") == "Tent v2", timeout=TIMEOUT, what="v2")
    wait_until(lambda: finished_run(tmp_path, updated=1), timeout=TIMEOUT, what="the watch run")
    assert writes(sandbox) == [("PUT", "/skus/SKU-A")]


def test_slow_copy_is_applied_only_when_complete(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A file copied slowly is not read before it settles; its last row arrives with the rest."""
    rows = [row(f"SKU-{n:03d}") for n in range(40)]
    path = tmp_path / "catalogs" / "big.csv"
    with path.open("w", encoding="utf-8") as stream:
        stream.write(HEADER)
        for line in rows:
            stream.write(line)
            stream.flush()
            time.sleep(0.02)  # pacing the writer like a slow copy, not synchronisation
    wait_until(lambda: finished_run(tmp_path, created=40), timeout=TIMEOUT, what="all 40 rows")
    assert reports(tmp_path) == 2  # the start-up run and one run for the complete file


def test_deleted_file_pairs_are_reported_as_orphans(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """Deleting a file reports its pairs as orphans and deletes nothing remotely."""
    path = tmp_path / "catalogs" / "a.csv"
    path.write_text(HEADER + row("SKU-A"), encoding="utf-8")
    wait_until(lambda: remote_name(sandbox, "SKU-A"), timeout=TIMEOUT, what="SKU-A")
    path.unlink()

    wait_until(lambda: finished_run(tmp_path, orphans=1), timeout=TIMEOUT, what="the orphan")
    assert remote_name(sandbox, "SKU-A") == "Tent"
    assert not [w for w in writes(sandbox) if w[0] == "DELETE"]
