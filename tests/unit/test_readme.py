"""README.md documents every setting, every command and every module the code has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

import catalog_sync
from catalog_sync.cli import main
from catalog_sync.daemon.runner import LIVE_SETTINGS
from catalog_sync.support.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
PACKAGE = Path(catalog_sync.__file__).parent
#: How the architecture table names the top package (every other row is relative to it).
TOP = "catalog_sync/"


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{full} "))
        else:
            names.append(full)
    return names


def _documented_commands(readme: str) -> set[str]:
    """Every command a row of the command-line table starts with, without ``catalog-sync``."""
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    first_cells = (row.split(" | ", 1)[0] for row in section.splitlines() if row.startswith("| `"))
    spans = (span for cell in first_cells for span in re.findall(r"`([^`]+)`", cell))
    return {span.removeprefix("catalog-sync ") for span in spans}


def _is_documented(command: str, readme: str) -> bool:
    """A table row names the command itself, followed by its arguments or nothing."""
    return any(
        span == command or span.startswith(f"{command} ") for span in _documented_commands(readme)
    )


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    """The configuration table names each setting's environment variable."""
    assert f"`CATALOG_SYNC_{name.upper()}`" in README


def test_the_reload_paragraph_names_exactly_the_live_settings() -> None:
    """What README says SIGHUP applies at once is what the daemon applies, no more, no less."""
    sentence = README.split("SIGHUP re-reads the configuration", 1)[1].split("apply at once", 1)[0]
    named = set(re.findall(r"`(\w+)`", sentence))
    assert named == LIVE_SETTINGS


@pytest.mark.parametrize("command", sorted(_commands(main)))
def test_every_command_is_documented(command: str) -> None:
    """The command-line table has a row for each command."""
    assert _is_documented(command, README)


@pytest.mark.parametrize("command", ["frobnicate", "validat", "orders ful", "sandbox run"])
def test_an_undocumented_command_is_caught(command: str) -> None:
    """A name no row starts with (or only the prefix of one) is not taken as documented."""
    assert not _is_documented(command, README)


def test_quickstart_is_the_two_make_commands() -> None:
    """The quickstart gives make demo and make test."""
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quickstart
    assert "make test" in quickstart


def _tree(package: Path) -> list[str]:
    """Every package (``core/``) and module (``core/plan.py``) of ``package``, as rows name them."""
    names = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if path.name != "__init__.py":
            names.append(relative.as_posix())
        elif relative.parent == Path():
            names.append(TOP)
        else:
            names.append(f"{relative.parent.as_posix()}/")
    return names


def _module_rows(readme: str) -> list[str]:
    """The first cell of every row of the architecture section's module table."""
    section = readme.split("## Architecture", 1)[1].split("\n## ", 1)[0]
    table = section.split("### Packages and modules", 1)[1].split("\n### ", 1)[0]
    return [
        match.group(1)
        for row in table.splitlines()
        if (match := re.match(r"\| `([^`]+)` \|", row)) is not None
    ]


def _unlisted(tree: list[str], rows: list[str]) -> tuple[set[str], set[str]]:
    """Modules of the tree no row names, and rows naming no module of the tree."""
    return set(tree) - set(rows), set(rows) - set(tree)


@pytest.mark.parametrize("name", _tree(PACKAGE))
def test_every_module_has_a_row_in_the_architecture_table(name: str) -> None:
    """The architecture section lists every package and module, one line each."""
    assert name in _module_rows(README)


@pytest.mark.parametrize("name", _module_rows(README))
def test_every_row_of_the_architecture_table_is_a_module(name: str) -> None:
    """No row names a module that was moved or deleted, and none is listed twice."""
    assert name in _tree(PACKAGE)
    assert _module_rows(README).count(name) == 1


def test_a_module_missing_from_the_table_or_gone_from_the_tree_is_caught(tmp_path: Path) -> None:
    """A module added without a row, and a row left for a deleted module, are both reported."""
    (tmp_path / "core").mkdir()
    for name in ("__init__.py", "core/__init__.py", "core/plan.py", "core/new.py"):
        (tmp_path / name).write_text("", encoding="utf-8")
    readme = (
        "## Architecture\n### Packages and modules\n| module | what |\n| --- | --- |\n"
        f"| `{TOP}` | top |\n| `core/` | pure |\n| `core/plan.py` | plan |\n"
        "| `core/gone.py` | deleted |\n## Next\n"
    )
    assert _unlisted(_tree(tmp_path), _module_rows(readme)) == ({"core/new.py"}, {"core/gone.py"})
