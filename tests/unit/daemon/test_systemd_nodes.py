"""The multi-node drop-in: every node runs the shipped unit on one PostgreSQL state, the password
a systemd credential the daemon reads, never in the unit's environment."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Final

import pytest

from catalog_sync.support.settings import (
    STATE_CREDENTIAL_NAME,
    database_url_secrets,
    load_settings,
)

SYSTEMD: Final = Path(__file__).parents[3] / "systemd"
UNIT: Final = SYSTEMD / "catalog-sync.service"
DROP_IN: Final = SYSTEMD / "catalog-sync.service.d" / "postgresql.conf"
README: Final = (Path(__file__).parents[3] / "README.md").read_text(encoding="utf-8")
ANALYZE = shutil.which("systemd-analyze")
#: A setting name that would carry a secret.
SECRET_NAME: Final = re.compile(r"PASSWORD|PGPASS|API_KEY|SECRET|TOKEN", re.IGNORECASE)


def _values(path: Path, name: str) -> list[str]:
    """The values of every ``name=`` line of ``path``, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("=", 1)[1] for line in lines if line.startswith(f"{name}=")]


def _environment() -> dict[str, str]:
    """The service's environment, unit then drop-in (a later assignment wins, as in systemd),
    the host name specifier ``%H`` expanded as systemd does."""
    lines = [v for path in (UNIT, DROP_IN) for v in _values(path, "Environment")]
    pairs = [line.replace("%H", socket.gethostname()).split("=", 1) for line in lines]
    return dict(pairs)


@pytest.fixture
def node_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """This process's environment as systemd gives the service; returns the credentials folder."""
    for name in [*os.environ]:
        if name.startswith(("CATALOG_SYNC_", "PG")) or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name, raising=False)
    for name, value in _environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", "sk_test_node")
    return tmp_path


def test_the_state_is_a_postgresql_url_without_a_password(node_env: Path) -> None:
    """The drop-in points the state at a PostgreSQL URL that holds no password."""
    state = load_settings().state
    assert isinstance(state, str)
    assert (state.startswith("postgresql://"), database_url_secrets(state)) == (True, [])


def test_no_secret_is_in_the_environment() -> None:
    """No Environment= of the unit or the drop-in names a password, key or token."""
    assert [name for name in _environment() if SECRET_NAME.search(name)] == []


def test_the_credential_is_the_one_the_daemon_reads(node_env: Path) -> None:
    """LoadCredential= gives ``state-password``, and the settings take the password from it."""
    [credential] = _values(DROP_IN, "LoadCredential")
    name = credential.split(":", 1)[0]
    (node_env / name).write_text("from-the-credential\n")
    assert (name, load_settings().state_password()) == (
        STATE_CREDENTIAL_NAME,
        "from-the-credential",
    )


@pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
def test_systemd_finds_nothing_wrong_in_the_drop_in() -> None:
    """systemd-analyze verify reads the drop-in beside the unit and reports nothing of it."""
    assert ANALYZE is not None
    result = subprocess.run(
        [ANALYZE, "verify", str(UNIT)], capture_output=True, text=True, check=False
    )
    assert [line for line in result.stderr.splitlines() if DROP_IN.name in line] == []


def test_the_readme_says_how_to_install_a_node() -> None:
    """README's two-node section installs the drop-in and the password credential file."""
    section = README.split("### Several nodes under systemd", 1)[1].split("\n## ", 1)[0]
    assert "systemd/catalog-sync.service.d/postgresql.conf" in section
    assert "/etc/catalog-sync/state-password" in section


def test_each_node_is_named_after_its_host(node_env: Path) -> None:
    """The instance name is the host name: stable across restarts, different on each node."""
    assert load_settings().daemon.instance_name == socket.gethostname()
