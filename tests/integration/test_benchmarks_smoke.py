"""The benchmarks run end to end at a tiny size, so they cannot rot unnoticed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIGURES = (
    "| initial sync |",
    "| unchanged re-run |",
    "| 1% changed |",
    "| full audit |",
    "unchanged re-run writes:",
    "writes per changed pair",
    "peak RSS, initial sync at",
    "peak RSS, unchanged re-run at",
    "peak RSS, full audit at",
    "share of the 250/s limit used:",
    "429s met at the live limit:",
    "initial sync: CPU per API call:",
    "vs the naive script:",
)


def run_benchmark(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` from the repository root, its output captured (``timeout`` guards a
    hang, it is not a measure)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_catalog_benchmark_quick_prints_every_figure() -> None:
    """``python -m benchmarks catalog --quick`` completes and prints each figure and verdict."""
    completed = run_benchmark("-m", "benchmarks", "catalog", "--quick", timeout=600)
    assert completed.returncode == 0, completed.stderr
    missing = [figure for figure in FIGURES if figure not in completed.stdout]
    assert not missing, completed.stdout
    assert completed.stdout.count("(target ") == 9


def test_catalog_benchmark_parse_baseline_skips_only_the_naive_speedup() -> None:
    """With the parse-only baseline (the default above 100,000 pairs) every target but the
    speed-up against the naive writer is checked, and the output says which was skipped."""
    command = ["-m", "benchmarks", "catalog", "--quick", "--baseline", "parse"]
    completed = run_benchmark(*command, timeout=600)
    assert completed.returncode == 0, completed.stderr
    kept = [figure for figure in FIGURES if figure != "vs the naive script:"]
    missing = [figure for figure in kept if figure not in completed.stdout]
    assert not missing, completed.stdout
    assert "| parse-only wall s | parse-only peak RSS MB |" in completed.stdout
    assert "skipped: initial sync vs the naive script" in completed.stdout
    assert completed.stdout.count("(target ") == 8


def test_daemon_benchmark_quick_prints_every_figure() -> None:
    """``python -m benchmarks daemon --quick`` completes and prints each target and verdict."""
    completed = run_benchmark("-m", "benchmarks", "daemon", "--quick", timeout=600)
    assert completed.returncode == 0, completed.stderr
    for figure in (
        "| write-then-rename drop |",
        "| baseline: written in place (settles) |",
        "drop to visible, median:",
        "drop to visible, p95:",
        "daemon idle CPU over",
        "daemon RSS with 200 pairs tracked:",
    ):
        assert figure in completed.stdout, completed.stdout
    assert completed.stdout.count("(target ") == 4


def test_failover_benchmark_runs_at_a_tiny_size() -> None:
    """``python -m benchmarks ha_failover`` with one kill completes and prints both verdicts."""
    command = ["--kills", "1", "--lease", "2", "--orders", "5", "--rounds", "1"]
    completed = run_benchmark("-m", "benchmarks", "ha_failover", *command, timeout=240)
    assert completed.returncode == 0, completed.stdout + completed.stderr[-3000:]
    assert "failover median: " in completed.stdout
    assert "PostgreSQL events/s: " in completed.stdout
