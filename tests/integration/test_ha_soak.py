"""Reduced soak of three daemons on one PostgreSQL (benchmarks/ha_soak.py): leader SIGKILLed and
frozen past its lease, the database restarted, 20% API faults; every order settles exactly."""

from __future__ import annotations

import os

import pytest
from tests.integration.test_benchmarks_smoke import run_benchmark
from tests.postgres_server import require_binaries, server_binaries


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_kills_freezes_and_a_database_restart_leave_every_order_exactly_settled() -> None:
    """4 SIGKILLs, 1 SIGSTOP past the lease, 1 PostgreSQL restart: captures + cancels equal
    quantities at the sandbox, one fulfillment order each, every event handled."""
    require_binaries(server_binaries(), ci=os.environ.get("CI", "").lower() == "true")
    command = ["--kills", "4", "--freezes", "1", "--orders", "3", "--lease", "2"]
    completed = run_benchmark("-m", "benchmarks.ha_soak", *command, timeout=400)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert "4 SIGKILLs, 1 SIGSTOPs past the lease, 1 database restart" in completed.stdout
    assert ", 0 problems" in completed.stdout
