"""The shipped unit is hardened and valid, as systemd-analyze judges it."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

UNIT = Path(__file__).parents[3] / "systemd" / "catalog-sync.service"
ANALYZE = shutil.which("systemd-analyze")
pytestmark = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args, str(UNIT)], capture_output=True, text=True, check=False)


def test_exposure_is_at_most_2() -> None:
    """systemd-analyze security rates the unit's overall exposure 2.0 or lower."""
    output = _analyze("security", "--offline=yes").stdout
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", output)
    assert match is not None, output
    assert float(match.group(1)) <= 2.0


def test_verify_reports_only_the_missing_binary() -> None:
    """systemd-analyze verify finds nothing but the package not being installed system-wide."""
    result = _analyze("verify")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    unexpected = [line for line in lines if "/usr/local/bin/catalog-sync" not in line]
    assert unexpected == []
