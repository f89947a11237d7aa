"""README.md documents every setting and every command the code has."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from catalog_sync.cli import main
from catalog_sync.daemon.runner import LIVE_SETTINGS
from catalog_sync.support.settings import Settings

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
