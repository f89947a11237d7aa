"""The shipped unit is hardened, valid as systemd-analyze judges it, and bounds its resources."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from catalog_sync.support.metrics import ServerLimits
from catalog_sync.support.settings import Settings

UNIT = Path(__file__).parents[3] / "systemd" / "catalog-sync.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
#: Descriptors the daemon needs besides its API connections and metrics clients: the state
#: database (file, WAL, shared memory, lock), the watcher, stdio, the event loop, files read.
BASE_DESCRIPTORS = 64
#: The daemon's measured peak at 100,000 pairs (README, Benchmarks) is below this.
MEASURED_PEAK = 300 * 2**20
_SIZE_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args, str(UNIT)], capture_output=True, text=True, check=False)


@needs_analyze
def test_exposure_is_at_most_2() -> None:
    """systemd-analyze security rates the unit's overall exposure 2.0 or lower."""
    output = _analyze("security", "--offline=yes").stdout
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match is not None, output
    assert float(match.group(1)) <= 2.0


@needs_analyze
def test_verify_reports_only_the_missing_binary() -> None:
    """systemd-analyze verify finds nothing but the package not being installed system-wide."""
    result = _analyze("verify")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    unexpected = [line for line in lines if "/usr/local/bin/catalog-sync" not in line]
    assert unexpected == []


def _service_lines() -> list[str]:
    """The ``[Service]`` section's lines, comments included, in order."""
    lines = UNIT.read_text(encoding="utf-8").splitlines()
    start = lines.index("[Service]") + 1
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("["))
    return lines[start:end]


def _directive(name: str) -> str:
    """The value of the one ``name=`` line in ``[Service]``."""
    values = [line.split("=", 1)[1] for line in _service_lines() if line.startswith(f"{name}=")]
    assert len(values) == 1, f"{name}= must be set exactly once"
    return values[0]


def test_open_files_are_limited_with_room_for_the_daemon() -> None:
    """LimitNOFILE is one number, above what the daemon holds at its limits, and bounded."""
    limit = int(_directive("LimitNOFILE"))
    needed = BASE_DESCRIPTORS + Settings.model_fields["max_concurrency"].default
    needed += ServerLimits().max_connections
    assert 4 * needed <= limit <= 65536


def test_memory_is_capped_above_the_measured_peak() -> None:
    """MemoryMax is a size with headroom over the daemon's measured peak, not unlimited."""
    match = re.fullmatch(r"(\d+)([KMGT]?)", _directive("MemoryMax"))
    assert match is not None
    size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    assert 2 * MEASURED_PEAK <= size <= 8 * 2**30


@pytest.mark.parametrize("name", ["LimitNOFILE", "MemoryMax"])
def test_each_resource_limit_is_explained_by_a_comment(name: str) -> None:
    """The line above each limit is a comment, so an operator knows why before changing it."""
    lines = _service_lines()
    at = next(i for i, line in enumerate(lines) if line.startswith(f"{name}="))
    assert lines[at - 1].startswith("#")
