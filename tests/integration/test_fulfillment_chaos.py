"""Faults on every API call and SIGKILLs of the handler: the ledger still settles exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_faults_and_sigkills_leave_every_order_exactly_settled() -> None:
    """Reduced soak (6 SIGKILLs): captures + cancels equal quantities, no duplicate, no loss."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.fulfillment_soak", "--cycles", "6", "--orders", "4"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "6 SIGKILLs, 4 orders" in completed.stdout
    assert ", 0 problems" in completed.stdout
