"""The catalog commands as a person runs them: output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from tests.contract.state_backend_helpers import StateLocation

from catalog_sync.cli import main
from catalog_sync.sandbox.testing import RunningSandbox

HEADER = "id,name,taxCode,eccn,hsCode,countryOfOrigin,partNumber,manufacturerId\n"
GOOD = "P-1,Tent,4323.310_A,EAR99,6306.22.9030,VN,RL2,trailcraft\n"


@pytest.fixture
def env(tmp_path: Path, state_location: StateLocation, sandbox: RunningSandbox) -> dict[str, str]:
    """Settings pointing at the sandbox, folders under ``tmp_path``, the test's state backend."""
    (tmp_path / "catalogs").mkdir()
    return {
        "CATALOG_SYNC_API_BASE": sandbox.base_url,
        "CATALOG_SYNC_API_KEY": sandbox.api_key,
        "CATALOG_SYNC_RATE_LIMIT": "1000",
        "CATALOG_SYNC_CATALOGS": str(tmp_path / "catalogs"),
        "CATALOG_SYNC_STATE": str(state_location),
        "CATALOG_SYNC_REPORTS": str(tmp_path / "reports"),
    }


def invoke(env: dict[str, str], *args: str) -> Result:
    """Run ``catalog-sync ARGS`` in-process."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_validate_names_file_line_and_field(tmp_path: Path, env: dict[str, str]) -> None:
    """A bad row is printed as file:line: field: message and the exit code is 1."""
    path = tmp_path / "catalogs" / "a.csv"
    path.write_text(HEADER + GOOD + "P-2,Stove,4323.310_A,EAR99,7321.11,USA,S1,acme\n")
    result = invoke(env, "validate")
    assert result.exit_code == 1
    assert f"{path}:3: countryOfOrigin:" in result.output


def test_validate_clean_catalog_exits_0(tmp_path: Path, env: dict[str, str]) -> None:
    """A catalog without problems validates with exit code 0."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + GOOD)
    assert invoke(env, "validate").exit_code == 0


def test_plan_exit_code_says_whether_changes_are_pending(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """plan exits 2 while changes are pending and 0 once reconcile applied them."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + GOOD)
    pending = invoke(env, "plan")
    assert pending.exit_code == 2
    assert "P-1: CreatePair" in pending.output
    assert invoke(env, "reconcile").exit_code == 0
    assert invoke(env, "plan").exit_code == 0


def test_plan_json_lists_field_changes(tmp_path: Path, env: dict[str, str]) -> None:
    """plan --json shows each changed field with old and new values."""
    path = tmp_path / "catalogs" / "a.csv"
    path.write_text(HEADER + GOOD)
    invoke(env, "reconcile")
    path.write_text(HEADER + GOOD.replace("Tent", "Big Tent"))
    document = json.loads(invoke(env, "plan", "--json").output)
    [entry] = document["entries"]
    assert entry["changes"] == [{"field": "name", "old": "Tent", "new": "Big Tent"}]


def test_reconcile_prints_a_summary_and_report_path(tmp_path: Path, env: dict[str, str]) -> None:
    """reconcile ends with a one-line summary naming the report."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + GOOD)
    result = invoke(env, "reconcile")
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("reconcile: 1 pairs")
    assert "1 created" in last
    assert str(tmp_path / "reports") in last


def test_reconcile_exits_1_when_a_write_fails(tmp_path: Path, env: dict[str, str]) -> None:
    """A write the API refuses makes reconcile exit 1 and the summary count it."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + GOOD.replace("RL2", ""))
    result = invoke(env, "reconcile")
    assert result.exit_code == 1
    assert "1 failed" in result.output


def test_missing_key_is_a_configuration_error(env: dict[str, str]) -> None:
    """Without an API key reconcile says which variable to set and exits 2."""
    unset: dict[str, str | None] = {**env, "CATALOG_SYNC_API_KEY": None}
    result = CliRunner().invoke(main, ["reconcile"], env=unset)
    assert result.exit_code == 2
    assert "CATALOG_SYNC_API_KEY" in result.output


def test_key_never_printed_on_auth_failure(env: dict[str, str], tmp_path: Path) -> None:
    """A rejected key is reported without echoing the key."""
    (tmp_path / "catalogs" / "a.csv").write_text(HEADER + GOOD)
    bad = "pk_test_ffffffffffffffffffffffffffffffff"
    result = invoke(env | {"CATALOG_SYNC_API_KEY": bad}, "plan")
    assert result.exit_code == 1
    assert "401" in result.output
    assert bad not in result.output


def test_report_schema_is_json_schema(env: dict[str, str]) -> None:
    """report-schema prints the report's JSON Schema."""
    schema = json.loads(invoke(env, "report-schema").output)
    assert schema["title"] == "ReconcileReport"
    assert "summary" in schema["properties"]
