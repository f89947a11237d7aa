"""``python -m benchmarks``: every target printed together, ``--strict`` failing on any FAIL.

A fake benchmark stands in for the real ones (which take minutes): the runner's contract is
the same for all of them.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The runner, seeing two fake benchmarks: one meets its target, one misses it."""
    monkeypatch.syspath_prepend(str(ROOT))
    module = importlib.import_module("benchmarks.__main__")
    common = importlib.import_module("benchmarks._common")
    for name, passed in (("fake_met", True), ("fake_missed", False)):
        fake = types.ModuleType(f"benchmarks.{name}")

        def main(passed: bool = passed) -> int:
            common.Check("figure", "2 (baseline 4)", "<= 3", passed)
            return 0  # the fake's own status says nothing: only its checks do

        fake.main = main  # type: ignore[attr-defined]
        monkeypatch.setitem(sys.modules, f"benchmarks.{name}", fake)
    monkeypatch.setattr(module, "available", lambda: ["fake_met", "fake_missed"])
    return module


def test_strict_fails_when_a_named_benchmark_misses_a_target(runner: Any) -> None:
    """``python -m benchmarks NAME --strict`` exits 1 when one of its targets printed FAIL."""
    assert runner.main(["fake_missed", "--strict"]) == 1


def test_without_strict_a_missed_target_is_printed_not_failed(runner: Any) -> None:
    """Without ``--strict`` the figures are printed and the run succeeds."""
    assert runner.main(["fake_missed"]) == 0


def test_strict_passes_when_every_target_is_met(runner: Any) -> None:
    """A benchmark that meets its targets passes under ``--strict``."""
    assert runner.main(["--strict", "fake_met"]) == 0


def test_all_benchmarks_print_every_target_and_fail_strict_on_one_miss(
    runner: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make bench`` (all, ``--strict``): every target listed at the end, and exit 1."""
    assert runner.main(["--strict"]) == 1
    out = capsys.readouterr().out
    summary = out[out.index("=== every target ===") :]
    assert "fake_met: figure: 2 (baseline 4) (target <= 3) PASS" in summary
    assert "fake_missed: figure: 2 (baseline 4) (target <= 3) FAIL" in summary
    assert "1 of 2 targets met" in summary
