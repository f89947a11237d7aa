"""Starting the sandbox: loopback only, ``--port 0``, and ``--state`` across restarts."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest

from catalog_sync.sandbox.server import SandboxError, check_loopback
from catalog_sync.sandbox.testing import RunningSandbox, sku_body

SandboxFactory = Callable[..., AbstractContextManager[RunningSandbox]]


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com"])
def test_non_loopback_hosts_are_refused(host: str) -> None:
    """The sandbox has no real authentication, so it never listens beyond loopback."""
    with pytest.raises(SandboxError):
        check_loopback(host)


def test_state_file_survives_a_restart(sandbox_factory: SandboxFactory, tmp_path: Path) -> None:
    """Data written before a clean stop is there after the next start."""
    state = tmp_path / "sandbox.json"
    with sandbox_factory(state_file=state) as first, first.api() as client:
        client.put("/skus/kept", json=sku_body()).raise_for_status()
    with sandbox_factory(state_file=state) as second, second.api() as client:
        assert client.get("/skus/kept").json()["name"] == "Widget"


@pytest.mark.slow
def test_cli_port_zero_prints_the_chosen_port() -> None:
    """``catalog-sync sandbox --port 0`` prints a parsable address and serves on it."""
    with subprocess.Popen(
        [sys.executable, "-m", "catalog_sync", "sandbox", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            assert line.startswith("sandbox listening on http://127.0.0.1:")
            url = line.rsplit(" ", 1)[-1]
            response = httpx.get(f"{url}/skus", headers={"Authorization": "Bearer sk_test_x"})
            assert response.status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=10)
