"""``make demo`` keeps working: its steps run end to end with ``--once``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_demo_runs_every_step(tmp_path: Path) -> None:
    """``python -m catalog_sync.demo --once`` applies a change within a second and exits 0."""
    result = subprocess.run(
        [sys.executable, "-m", "catalog_sync.demo", "--once", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Stopped the daemon (exit code 0)." in result.stdout
    assert (tmp_path / "reports" / "latest.html").exists()
