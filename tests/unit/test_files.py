"""Files catalog-sync writes for others to read: whole or not at all, with the right mode.

Every such file (reports, their ``latest`` links, the orders page, errors files) goes through
``catalog_sync.support.files``; the last test keeps it that way.
"""

from __future__ import annotations

import ast
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import catalog_sync
from catalog_sync.support.files import symlink_atomically, write_atomically

PACKAGE = Path(catalog_sync.__file__).parent
#: The one module allowed to create, replace or link files for others to read.
FILES_MODULE = PACKAGE / "support" / "files.py"
#: The emulator keeps its own storage; it is not part of catalog-sync's output.
SANDBOX = PACKAGE / "sandbox"
#: Calls that write or replace a file in one go, bypassing the atomic helper.
_WRITING_CALLS = frozenset({"write_text", "write_bytes", "symlink_to", "rename"})
#: Longest file name of Linux file systems, in bytes.
NAME_MAX = 255


def _mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_a_private_file_is_created_0600_whatever_the_umask(tmp_path: Path) -> None:
    """A report is readable by its owner only, even under a umask of 022."""
    write_atomically(tmp_path / "report.json", ["{}"])
    assert _mode(tmp_path / "report.json") == 0o600


@pytest.mark.usefixtures("open_umask")
def test_a_shared_file_gets_the_mode_the_umask_gives(tmp_path: Path) -> None:
    """An errors file is read by the merchant's systems: the umask decides, as for any file."""
    write_atomically(tmp_path / "a.csv.errors.json", ["{}"], private=False)
    assert _mode(tmp_path / "a.csv.errors.json") == 0o644


def test_a_write_replaces_the_whole_file(tmp_path: Path) -> None:
    """The new content replaces the old one entirely, chunks in order."""
    path = tmp_path / "page.html"
    path.write_text("old content that is longer", encoding="utf-8")
    write_atomically(path, ["new", " ", "page"])
    assert path.read_text(encoding="utf-8") == "new page"


def test_a_failed_write_leaves_the_old_file_and_nothing_else(tmp_path: Path) -> None:
    """A write that fails half-way keeps the previous file whole and leaves no temporary."""
    path = tmp_path / "report.json"
    path.write_text("previous", encoding="utf-8")

    def chunks() -> Iterator[str]:
        yield "half of a"
        raise RuntimeError("the renderer failed")

    with pytest.raises(RuntimeError, match="renderer failed"):
        write_atomically(path, chunks())
    assert path.read_text(encoding="utf-8") == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_the_temporary_file_is_never_one_a_watched_folder_reads(tmp_path: Path) -> None:
    """While a file is written, its temporary name is hidden and temporary by its suffix."""
    seen: list[str] = []

    def chunks() -> Iterator[str]:
        seen.extend(p.name for p in tmp_path.iterdir())
        yield "[]"

    write_atomically(tmp_path / "orders.json", chunks(), private=False)
    assert len(seen) == 1
    assert seen[0].startswith(".")
    assert seen[0].endswith(".part")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(st.characters(exclude_characters="/\x00", exclude_categories=["Cs"]), min_size=1)
    .filter(lambda n: n not in {".", ".."})
    .filter(lambda n: len(os.fsencode(n)) <= NAME_MAX),
    content=st.text(st.characters(exclude_categories=["Cs"])),
)
def test_any_name_and_content_is_written_as_given(name: str, content: str) -> None:
    """Names up to the longest a file system allows, and any text, are written exactly."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        write_atomically(path, [content])
        assert [p.name for p in Path(folder).iterdir()] == [name]
        assert path.read_bytes() == content.encode("utf-8")


def test_a_link_is_moved_to_its_new_target(tmp_path: Path) -> None:
    """``latest.json`` follows the newest report; the old target stays where it was."""
    (tmp_path / "one.json").write_text("1", encoding="utf-8")
    (tmp_path / "two.json").write_text("2", encoding="utf-8")
    symlink_atomically(tmp_path / "latest.json", "one.json")
    symlink_atomically(tmp_path / "latest.json", "two.json")
    assert (tmp_path / "latest.json").read_text(encoding="utf-8") == "2"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.json", "one.json", "two.json"]


def _writes_elsewhere(path: Path) -> list[str]:
    """Calls in ``path`` that create or replace a whole file without the atomic helper."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        name = node.func.attr
        os_call = isinstance(node.func.value, ast.Name) and node.func.value.id == "os"
        if name in _WRITING_CALLS or (os_call and name in {"replace", "rename"}):
            found.append(f"{path.relative_to(PACKAGE)}:{node.lineno}: {name}")
    return found


@pytest.mark.parametrize(
    "path",
    sorted(p for p in PACKAGE.rglob("*.py") if p != FILES_MODULE and not p.is_relative_to(SANDBOX)),
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_module_writes_a_whole_file_another_way(path: Path) -> None:
    """Whole files are written and links moved only through ``support.files``."""
    assert _writes_elsewhere(path) == []
