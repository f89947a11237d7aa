"""``catalog-sync run`` with a hostile catalogs folder: it starts, serves and stays up.

Before, one JSON row with a lone surrogate made every start exit 1 while the file was there.
Now every bad row and every unreadable entry is a named problem of its own; the daemon applies
the rest, keeps watching, and a failing service is started again instead of stopping it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from catalog_sync.cli import main
from catalog_sync.daemon.runner import Daemon, DaemonContext
from catalog_sync.daemon.service import Service
from catalog_sync.demo.testing import DaemonProcess, daemon_env, wait_until
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.support.settings import Settings

TIMEOUT = 30.0
HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
LIMITS = {
    "CATALOG_SYNC_CATALOG_MAX_FILE_BYTES": "4096",
    "CATALOG_SYNC_CATALOG_MAX_LINE_CHARS": "1000",
}


def rows(*ids: str) -> str:
    """CSV rows of digital products (a SKU each)."""
    return "".join(f"{i},Product {i},4512.100_A,EAR99,US\n" for i in ids)


def record(pair_id: str, **fields: object) -> dict[str, object]:
    """A JSON record of a digital product."""
    base = {"taxCode": "4512.100_A", "eccn": "EAR99", "countryOfOrigin": "US"}
    return {"id": pair_id, "name": f"Product {pair_id}", **base, **fields}


#: Entries that cannot be read, by name, and what makes each one so.
UNREADABLE = ("dangling.csv", "loop.csv", "folder.csv", "pipe.jsonl", "big.csv", "wide.csv")


def hostile_folder(catalogs: Path) -> None:
    """Good rows among bad ones, and one of each kind of entry that cannot be read."""
    catalogs.mkdir()
    (catalogs / "good.csv").write_text(HEADER + rows("G-1", "G-2"), encoding="utf-8")
    bad_rows = [record("J-1"), record("J-2", name="a\ud800b"), record("J-3", weight="1_000")]
    (catalogs / "rows.json").write_text(json.dumps(bad_rows, indent=1), encoding="utf-8")
    (catalogs / "dangling.csv").symlink_to(catalogs / "missing.csv")
    (catalogs / "loop.csv").symlink_to("loop.csv")
    (catalogs / "folder.csv").mkdir()
    os.mkfifo(catalogs / "pipe.jsonl")
    (catalogs / "big.csv").write_text(HEADER + rows(*(f"B-{i}" for i in range(200))), "utf-8")
    (catalogs / "wide.csv").write_text(HEADER + "W-1," + "x" * 2000 + ",t,EAR99,US\n", "utf-8")


def remote_ids(sandbox: RunningSandbox) -> set[str]:
    """Ids of every SKU at the sandbox."""
    with sandbox.api() as api:
        return {sku["id"] for sku in api.get("/skus", params={"limit": 100}).json()["data"]}


def start_up_report(workdir: Path) -> dict[str, Any] | None:
    """The report of the finished start-up run, once there is one."""
    latest = workdir / "reports" / "latest.json"
    if not latest.exists():
        return None
    report: dict[str, Any] = json.loads(latest.read_text(encoding="utf-8"))
    return report


@pytest.fixture
def daemon(sandbox: RunningSandbox, tmp_path: Path) -> Iterator[DaemonProcess]:
    """A daemon started on the hostile folder, with small limits."""
    hostile_folder(tmp_path / "catalogs")
    env = daemon_env(
        base_url=sandbox.base_url, api_key=sandbox.api_key, workdir=tmp_path, extra=LIMITS
    )
    with DaemonProcess(env, tmp_path / "daemon.log") as process:
        yield process


def test_start_up_applies_the_good_rows_and_names_the_rest(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """The start-up run creates the valid pairs, reports every bad row and entry, and the
    process is still running."""
    report = wait_until(lambda: start_up_report(tmp_path), timeout=TIMEOUT, what="a report")
    assert daemon.process is not None
    assert daemon.process.poll() is None, daemon.output()
    assert remote_ids(sandbox) == {"G-1", "G-2", "J-1"}
    catalogs = tmp_path / "catalogs"
    assert report["unparseable_files"] == sorted(str(catalogs / name) for name in UNREADABLE)
    rows_file = str(catalogs / "rows.json")
    assert sorted(p["field"] for p in report["invalid_rows"] if p["file"] == rows_file) == [
        "name",
        "weight",
    ]


def test_daemon_keeps_serving_after_the_hostile_start(
    daemon: DaemonProcess, sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A file dropped after the start is applied, and SIGTERM still ends with exit 0."""
    wait_until(lambda: start_up_report(tmp_path), timeout=TIMEOUT, what="the start-up run")
    staged = tmp_path / "catalogs" / ".new.csv.tmp"
    staged.write_text(HEADER + rows("N-1"), encoding="utf-8")
    staged.replace(tmp_path / "catalogs" / "new.csv")
    wait_until(lambda: "N-1" in remote_ids(sandbox), timeout=TIMEOUT, what="N-1 at the sandbox")
    assert daemon.stop() == 0


def test_validate_exits_1_naming_every_bad_row_and_entry(tmp_path: Path) -> None:
    """``validate`` on the same folder lists each problem as file:line: field: message."""
    catalogs = tmp_path / "catalogs"
    hostile_folder(catalogs)
    result = CliRunner().invoke(
        main, ["validate", str(catalogs)], env=LIMITS, catch_exceptions=False
    )
    assert result.exit_code == 1
    for name in UNREADABLE:
        assert f"{catalogs / name}:" in result.output
    assert f"{catalogs / 'rows.json'}:" in result.output
    assert "lone surrogate" in result.output


class FailingOnce:
    """A service that fails on its first run, as on an input nobody foresaw, then stops the
    daemon from its second run (which proves it was started again)."""

    name = "failing-once"

    def __init__(self) -> None:
        self.runs = 0

    async def run(self, stop: Any) -> None:
        """Fail the first time; the second time, ask the daemon to stop."""
        self.runs += 1
        if self.runs == 1:
            message = "an input nobody foresaw"
            raise RuntimeError(message)
        stop.set()

    def status_line(self) -> str:
        """How many times it ran."""
        return f"{self.runs} runs"


def test_failing_service_is_started_again_not_the_daemon_stopped(
    sandbox: RunningSandbox, tmp_path: Path
) -> None:
    """A service that raises is logged and started again; the daemon then stops cleanly (0)."""
    (tmp_path / "catalogs").mkdir()
    settings = Settings(
        api_key=SecretStr(sandbox.api_key),
        api_base=sandbox.base_url,
        rate_limit=1000,
        catalogs=tmp_path / "catalogs",
        state=tmp_path / "state.db",
        reports=tmp_path / "reports",
        requests=tmp_path / "requests",
    )
    service = FailingOnce()

    def factory(_context: DaemonContext) -> Service:
        return service

    daemon = Daemon(settings, reload=lambda: settings, services=[factory], restart_delay=0.01)
    assert daemon.run() == 0
    assert service.runs == 2
    assert daemon.restarts == {"failing-once": 1}
