"""Bad configuration and an unusable state database, as an operator meets them on the CLI.

Each is one line on stderr and the README's exit code (2 configuration, 1 state), before
anything starts: never a traceback, never "daemon started".
"""

from __future__ import annotations

import logging
import os
import stat
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result
from tests.faults import unwritable

from catalog_sync.cli import main
from catalog_sync.state import open_state

KEY = "sk_test_0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _restore_process() -> Iterator[None]:
    """Commands set up logging, hooks and the umask for the process; undo that after each."""
    hooks = (sys.excepthook, threading.excepthook)
    umask = os.umask(0o022)
    yield
    sys.excepthook, threading.excepthook = hooks
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()
    os.umask(umask)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A valid configuration under ``tmp_path`` (the API is never reached by these tests)."""
    (tmp_path / "catalogs").mkdir()
    return {
        "CATALOG_SYNC_API_BASE": "http://127.0.0.1:9",
        "CATALOG_SYNC_API_KEY": KEY,
        "CATALOG_SYNC_CATALOGS": str(tmp_path / "catalogs"),
        "CATALOG_SYNC_STATE": str(tmp_path / "state" / "catalog-sync.db"),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
        "CATALOG_SYNC_REQUESTS": str(tmp_path / "requests"),
        "CREDENTIALS_DIRECTORY": "",
    }


def invoke(env: Mapping[str, str | None], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in-process; an exception escaping it fails the test."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def assert_one_line(result: Result, code: int, start: str) -> None:
    """The command failed with ``code`` and said why in one line starting with ``start``."""
    assert result.exit_code == code, result.output
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(start), result.stderr
    assert "Traceback" not in result.output
    assert "daemon started" not in result.stdout


COMMANDS = [["run"], ["status"], ["config", "show"]]
BAD_CONFIGURATION = {
    "webhooks not JSON": {"CATALOG_SYNC_NOTIFY_WEBHOOKS": "https://hooks.test/x"},
    "webhooks not a list": {"CATALOG_SYNC_NOTIFY_WEBHOOKS": '{"a": 1}'},
    "webhook not http": {"CATALOG_SYNC_NOTIFY_WEBHOOKS": '["mailto:ops@hooks.test"]'},
    "metrics port out of range": {"CATALOG_SYNC_METRICS_PORT": "65536"},
    "metrics port negative": {"CATALOG_SYNC_METRICS_PORT": "-1"},
    "metrics port not a number": {"CATALOG_SYNC_METRICS_PORT": "http"},
    "non-ASCII key": {"CATALOG_SYNC_API_KEY": "sk_test_clé0123456789abcdef"},
    "key with a space inside": {"CATALOG_SYNC_API_KEY": "sk_test_0123 456789abcdef"},
    "empty key": {"CATALOG_SYNC_API_KEY": "\r\n"},
    "interval not a number": {"CATALOG_SYNC_POLL_INTERVAL": "soon"},
    "infinite timeout": {"CATALOG_SYNC_REQUEST_TIMEOUT": "inf"},
    "base URL without host": {"CATALOG_SYNC_API_BASE": "https://"},
}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("bad", BAD_CONFIGURATION.values(), ids=BAD_CONFIGURATION.keys())
def test_bad_setting_is_exit_2_with_one_line(
    command: list[str], bad: dict[str, str], env: dict[str, str]
) -> None:
    """Every kind of bad setting stops every command at once, exit 2, one line."""
    result = invoke(env | bad, *command)
    assert_one_line(result, 2, "catalog-sync: configuration error: invalid configuration")
    assert result.stdout == ""


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(
    "content", [b"poll_interval = [\n", b"\xff\xfe\n", b"pol_interval = 3\n"], ids=str
)
def test_bad_config_file_is_exit_2_with_one_line(
    command: list[str], content: bytes, env: dict[str, str], tmp_path: Path
) -> None:
    """A TOML file that does not parse, is not UTF-8 or names no setting: exit 2, one line."""
    config = tmp_path / "catalog-sync.toml"
    config.write_bytes(content)
    result = invoke(env, *command, "--config", str(config))
    assert_one_line(result, 2, "catalog-sync: configuration error:")


def test_metrics_port_option_out_of_range_is_one_line(env: dict[str, str]) -> None:
    """--metrics-port is checked with the other settings: one line, exit 2."""
    result = invoke(env, "run", "--metrics-port", "70000")
    assert_one_line(result, 2, "catalog-sync: configuration error: invalid configuration")
    assert "metrics_port" in result.stderr


def test_bad_key_file_stops_run_with_one_line(env: dict[str, str], tmp_path: Path) -> None:
    """A key file holding a non-ASCII key stops the daemon before it starts, not quoting it."""
    key_file = tmp_path / "api-key"
    key_file.write_text("sk_test_clé0123456789abcdef\r\n", encoding="utf-8")
    result = invoke(
        env | {"CATALOG_SYNC_API_KEY": None, "CATALOG_SYNC_API_KEY_FILE": str(key_file)}, "run"
    )
    assert_one_line(result, 2, f"catalog-sync: configuration error: api_key_file: {key_file}")
    assert "0123456789abcdef" not in result.output


# -- the state database ------------------------------------------------------------------------

STATE_COMMANDS = [["status"], ["status", "--json"], ["orders", "list"], ["events", "list"], ["run"]]


def _make_folder(path: Path) -> None:
    path.mkdir(parents=True)


def _make_garbage(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(os.urandom(3000))


@pytest.mark.parametrize("command", STATE_COMMANDS, ids=" ".join)
@pytest.mark.parametrize("fault", [_make_folder, _make_garbage], ids=["folder", "garbage"])
def test_unusable_state_is_exit_1_with_one_line(
    command: list[str], fault: Callable[[Path], None], env: dict[str, str]
) -> None:
    """A folder or random bytes at the state path: one line naming the path, exit 1."""
    state = Path(env["CATALOG_SYNC_STATE"])
    fault(state)
    result = invoke(env, *command)
    assert_one_line(result, 1, f"catalog-sync: state database {state}: ")


READERS = [["status"], ["status", "--json"], ["orders", "list"], ["events", "list"]]


@pytest.mark.parametrize("command", READERS, ids=" ".join)
def test_readers_still_read_an_unwritable_database(command: list[str], env: dict[str, str]) -> None:
    """A read-only or immutable database file in a writable folder can still be inspected."""
    state = Path(env["CATALOG_SYNC_STATE"])
    open_state(state).close()
    with unwritable(state):
        result = invoke(env, *command)
    assert result.exit_code == 0, result.output


def test_run_refuses_an_unwritable_database_before_starting(env: dict[str, str]) -> None:
    """The daemon does not start on a database it could not write: one line, exit 1."""
    state = Path(env["CATALOG_SYNC_STATE"])
    open_state(state).close()
    with unwritable(state):
        result = invoke(env, "run")
    assert_one_line(result, 1, f"catalog-sync: state database {state}: is read-only")
    assert "chattr -i" in result.stderr


@pytest.mark.parametrize("command", STATE_COMMANDS, ids=" ".join)
def test_unwritable_state_folder_is_exit_1_with_one_line(
    command: list[str], env: dict[str, str]
) -> None:
    """A database in a read-only or immutable folder: one line with what to do, exit 1."""
    state = Path(env["CATALOG_SYNC_STATE"])
    open_state(state).close()
    with unwritable(state), unwritable(state.parent):
        result = invoke(env, *command)
    assert_one_line(result, 1, f"catalog-sync: state database {state}: ")
    assert "writable" in result.stderr


def test_files_a_command_creates_are_private(env: dict[str, str], tmp_path: Path) -> None:
    """With a umask of 022, the state and the orders report are created 0600 in 0700 folders."""
    result = invoke(env, "orders", "report")
    assert result.exit_code == 0, result.output
    created = [p for p in tmp_path.rglob("*") if p.name != "catalogs"]
    modes = {str(p.relative_to(tmp_path)): stat.S_IMODE(p.lstat().st_mode) for p in created}
    assert {name for name, mode in modes.items() if mode not in (0o600, 0o700)} == set()
    assert modes["state"] == 0o700
    assert modes["state/catalog-sync.db"] == 0o600
    assert modes["reports/orders-latest.html"] == 0o600
