"""``make demo`` keeps working: its steps run end to end with ``--once``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """One ``python -m catalog_sync.demo --once`` run (it takes a while), shared by the tests."""
    workdir = tmp_path_factory.mktemp("demo")
    result = subprocess.run(
        [sys.executable, "-m", "catalog_sync.demo", "--once", "--workdir", str(workdir)],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    return workdir, result


def test_demo_runs_every_step(demo: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    """``python -m catalog_sync.demo --once`` applies a change within a second and exits 0."""
    workdir, result = demo
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Stopped the daemon (exit code 0)." in result.stdout
    assert (workdir / "reports" / "latest.html").exists()


def test_demo_shows_the_money_plan_before_the_orders_are_handled(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The plan, printed while the daemon is stopped, lists the fulfillment orders to create."""
    _, result = demo
    shown = result.stdout.split("$ catalog-sync events plan --since", 1)[-1]
    plan = shown.split("The daemon starts again", 1)[0]
    assert "fulfillment order" in plan.lower(), result.stdout


def test_demo_ends_with_an_orders_audit_that_finds_nothing(
    demo: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """The demo's orders, handled by the daemon, leave nothing for the audit to find."""
    _, result = demo
    audit = result.stdout.split("$ catalog-sync orders audit --dry-run", 1)[-1]
    assert "3 order(s), 0 finding(s)" in audit, result.stdout
