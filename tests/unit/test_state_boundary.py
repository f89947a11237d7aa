"""Only the state package speaks to the database; everything else goes through the interface.

mypy already refuses a caller typed against ``StateBackend`` that reaches for a transaction or
a write helper; these checks read the syntax tree of every module outside ``catalog_sync.state``
for what typing cannot see: importing a backend or a driver, a ``.transaction()``
call, or SQL text. A backend added later is then reachable only through ``open_state``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import catalog_sync

PACKAGE = Path(catalog_sync.__file__).parent
STATE = PACKAGE / "state"
#: The sandbox is an emulator of the API with its own storage; it is not a caller of ours.
SANDBOX = PACKAGE / "sandbox"
#: Modules of the backends: named only inside the state package.
BACKEND_MODULES = frozenset(
    {
        "catalog_sync.state.postgres",
        "catalog_sync.state.pg_schema",
        "catalog_sync.state.pg_migrate",
        "catalog_sync.state.store",
        "catalog_sync.state.schema",
        "catalog_sync.state.fulfillment",
        "catalog_sync.state.requests",
    }
)
#: The database drivers, imported only by the backends.
DRIVERS = frozenset({"sqlite3", "psycopg", "psycopg_pool"})
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|"
    r"CREATE\s+(TABLE|INDEX)|BEGIN\s+IMMEDIATE|json_extract)\b",
    re.IGNORECASE | re.DOTALL,
)


def _callers() -> list[Path]:
    return sorted(
        path
        for path in PACKAGE.rglob("*.py")
        if not path.is_relative_to(STATE) and not path.is_relative_to(SANDBOX)
    )


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PACKAGE)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            names = []
        found.extend(
            f"{where}: imports {name}"
            for name in names
            if name.split(".")[0] in DRIVERS or name in BACKEND_MODULES
        )
        if isinstance(node, ast.Attribute) and node.attr == "transaction":
            found.append(f"{where}: uses .transaction()")
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and SQL.search(node.value)
        ):
            found.append(f"{where}: SQL text")
    return found


@pytest.mark.parametrize("path", _callers(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_caller_uses_only_the_storage_interface(path: Path) -> None:
    """No module outside the state package imports a backend, opens a transaction or has SQL."""
    assert _problems(path) == []


def test_the_state_reads_no_payload_shape() -> None:
    """The state never looks inside a stored Digital River payload: the core extracts first."""
    for path in STATE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "json_extract(payload" not in text, path.name
        assert "'$.data" not in text, path.name


def test_the_state_reads_no_stored_json_to_match_rows() -> None:
    """Rows are found by their columns (an intent's origin included), never by the text of a
    JSON document stored in them."""
    for path in STATE.rglob("*.py"):
        assert "json_extract" not in path.read_text(encoding="utf-8"), path.name
