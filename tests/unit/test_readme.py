"""README.md documents every setting and every command the code has."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from catalog_sync.cli import main
from catalog_sync.settings import Settings

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[str]:
    names: list[str] = []
    for name, command in group.commands.items():
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            names.extend(_commands(command, f"{full} "))
        else:
            names.append(full)
    return names


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_documented(name: str) -> None:
    """The configuration table names each setting's environment variable."""
    assert f"`CATALOG_SYNC_{name.upper()}`" in README


@pytest.mark.parametrize("command", sorted(_commands(main)))
def test_every_command_is_documented(command: str) -> None:
    """The command-line table mentions each command."""
    assert f"catalog-sync {command}" in README or f"`{command}" in README


def test_quickstart_is_the_two_make_commands() -> None:
    """The quickstart gives make demo and make test."""
    quickstart = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in quickstart
    assert "make test" in quickstart
