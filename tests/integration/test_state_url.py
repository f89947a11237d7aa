"""``CATALOG_SYNC_STATE`` as a PostgreSQL URL: the commands that open the state use the server,
the password comes from where the operator put it, and it is shown nowhere.

Over the real throwaway server (tests/postgres_server.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.postgres_server import PASSWORD, shared_server

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox
from catalog_sync.state import AppliedPair, open_state


@pytest.fixture
def database() -> str:
    """The URL of a new, empty database, with the password in it."""
    return shared_server().new_database()


def _without_password(url: str) -> str:
    return url.replace(f":{PASSWORD}@", "@", 1)


def _cli(env: dict[str, str], *args: str) -> Result:
    base = {"CATALOG_SYNC_API_KEY": "sk_test_x", "CREDENTIALS_DIRECTORY": "", "PGPASSWORD": ""}
    return CliRunner().invoke(main, list(args), env=base | env)


def test_status_reads_the_state_at_the_url(database: str) -> None:
    """``status`` opens the server's state: no file is needed, the location has no password."""
    with open_state(database) as store:
        store.record_applied([AppliedPair("p1", "h", "a.csv", 2, physical=True)])
    result = _cli({"CATALOG_SYNC_STATE": database}, "status", "--json")
    document = json.loads(result.output)
    assert (document["pairs_tracked"], document["state"]) == (1, _without_password(database))


def test_the_password_file_setting_opens_a_url_without_one(tmp_path: Path, database: str) -> None:
    """``CATALOG_SYNC_STATE_PASSWORD_FILE`` supplies the password the URL leaves out."""
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    env = {
        "CATALOG_SYNC_STATE": _without_password(database),
        "CATALOG_SYNC_STATE_PASSWORD_FILE": str(secret),
    }
    result = _cli(env, "status")
    assert (result.exit_code, PASSWORD in result.output) == (0, False)


def test_the_systemd_credential_opens_a_url_without_one(tmp_path: Path, database: str) -> None:
    """Under systemd, the credential ``state-password`` is the password."""
    (tmp_path / "state-password").write_text(PASSWORD)
    env = {
        "CATALOG_SYNC_STATE": _without_password(database),
        "CREDENTIALS_DIRECTORY": str(tmp_path),
    }
    assert _cli(env, "status").exit_code == 0


def test_pgpassword_opens_a_url_without_one(database: str) -> None:
    """libpq's own ``PGPASSWORD`` works as it does for psql."""
    env = {"CATALOG_SYNC_STATE": _without_password(database), "PGPASSWORD": PASSWORD}
    assert _cli(env, "status").exit_code == 0


def test_config_show_hides_the_url_password(database: str) -> None:
    """``config show`` prints the state URL without its password."""
    result = _cli({"CATALOG_SYNC_STATE": database}, "config", "show", "--json")
    shown = json.loads(result.output)["state"]
    assert (shown, PASSWORD in result.output) == (_without_password(database), False)


def test_a_refused_password_is_not_shown(database: str) -> None:
    """A wrong password in the URL: exit 1 saying authentication failed, the password nowhere."""
    wrong = "not-the-password-4711"
    result = _cli({"CATALOG_SYNC_STATE": database.replace(PASSWORD, wrong)}, "status")
    assert (result.exit_code, "password authentication failed" in result.output) == (1, True)
    assert wrong not in result.output


def test_events_plan_reads_a_postgresql_state_through_a_copy(database: str) -> None:
    """``events plan`` on a URL plans from a throwaway copy of the database: an empty state
    has nothing to move (exit 0), and the plan's copy is not the database (no run recorded)."""
    result = _cli({"CATALOG_SYNC_STATE": database}, "events", "plan", "--json")
    with open_state(database) as store:
        last = store.last_run()
    planned = json.loads(result.output)
    assert (result.exit_code, planned["captures"], last) == (0, [], None)


def _sandbox_env(sandbox: RunningSandbox, database: str) -> dict[str, str]:
    return {
        "CATALOG_SYNC_STATE": database,
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
    }


def test_a_writing_command_is_refused_while_an_instance_leads(
    sandbox: RunningSandbox, database: str
) -> None:
    """``events poll`` on a shared state while node-a holds the lease: exit 1 naming it, and
    nothing is sent to Digital River."""
    with open_state(database) as store:
        store.take_lease("node-a", 60)
    sandbox.clear_requests()
    result = _cli(_sandbox_env(sandbox, database), "events", "poll")
    assert (result.exit_code, "node-a leads the deployment" in result.output) == (1, True)
    assert sandbox.requests() == []


def test_a_writing_command_holds_the_lease_while_it_runs(
    sandbox: RunningSandbox, database: str
) -> None:
    """With no leader, ``events poll`` runs as the lease's holder and releases it at the end."""
    result = _cli(_sandbox_env(sandbox, database), "events", "poll")
    with open_state(database) as store:
        lease = store.lease()
    assert (result.exit_code, "(events poll)" in str(lease.holder), lease.remaining) == (0, True, 0)
