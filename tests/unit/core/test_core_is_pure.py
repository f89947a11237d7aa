"""The core reads no clock, no environment and no file: what import-linter cannot see.

import-linter forbids ``time``, ``os`` and the I/O libraries in ``catalog_sync.core``; a
``datetime.now()``, a ``Path.read_text()`` or a bare ``open()`` needs no such import, so this
check reads the core's syntax tree for them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import catalog_sync.core

CORE = Path(catalog_sync.core.__file__).parent

#: Methods that read the clock, the environment or a file, whatever object they are called on.
IMPURE_METHODS = frozenset(
    {
        "now",
        "utcnow",
        "today",
        "fromtimestamp",
        "getenv",
        "read_text",
        "read_bytes",
        "write_text",
        "write_bytes",
        "iterdir",
        "glob",
        "stat",
        "exists",
    }
)
IMPURE_BUILTINS = frozenset({"open", "input", "print", "breakpoint", "exec", "eval"})
IMPURE_NAMES = frozenset({"environ"})


def impurities(source: str) -> list[str]:
    """Every call or name in ``source`` that reads the clock, the environment or a file."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in IMPURE_METHODS:
                found.append(f"line {node.lineno}: .{func.attr}()")
            elif isinstance(func, ast.Name) and func.id in IMPURE_BUILTINS:
                found.append(f"line {node.lineno}: {func.id}()")
        elif isinstance(node, ast.Attribute) and node.attr in IMPURE_NAMES:
            found.append(f"line {node.lineno}: .{node.attr}")
    return found


@pytest.mark.parametrize("module", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_core_module_reads_no_clock_environment_or_file(module: Path) -> None:
    """Each core module decides from its arguments alone."""
    assert impurities(module.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "from datetime import datetime\nx = datetime.now()",
        "import os\nkey = os.environ['K']",
        "from pathlib import Path\nPath('a').read_text()",
        "data = open('catalog.csv').read()",
    ],
)
def test_the_check_catches_a_clock_environment_or_file_read(snippet: str) -> None:
    """A core module that read the clock, the environment or a file would fail the check."""
    assert impurities(snippet) != []
