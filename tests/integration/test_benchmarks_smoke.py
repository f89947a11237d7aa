"""The catalog benchmark runs end to end at a tiny size, so it cannot rot unnoticed."""

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
)


def test_catalog_benchmark_quick_prints_every_figure() -> None:
    """``python -m benchmarks catalog --quick`` completes and prints each figure and verdict."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "catalog", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    missing = [figure for figure in FIGURES if figure not in completed.stdout]
    assert not missing, completed.stdout
    assert completed.stdout.count("(target ") == 7
