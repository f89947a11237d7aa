"""Entries of the catalogs folder that look like catalog files but are not readable files.

Each one is a fatal problem naming the entry (so its pairs are protected and ``--prune``
refuses), never skipped without a word, and never read if it is not a regular file: a FIFO
would block the reader forever, a link to ``/dev/zero`` would feed it endlessly.
"""

from __future__ import annotations

import os
import socket
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from catalog_sync.catalog.files import catalog_paths, load_catalog_files, read_catalog_file
from catalog_sync.cli import main
from catalog_sync.core.catalog import Catalog
from catalog_sync.core.problems import Severity

ROWS = "id,name,skuGroupId\nA,Tent,g\nB,Lamp,g\n"

Maker = Callable[[Path], None]


def dangling_link(path: Path) -> None:
    """A link to a file that does not exist."""
    path.symlink_to(path.parent / "missing.csv")


def looping_link(path: Path) -> None:
    """Two links pointing at each other."""
    other = path.parent / "loop-b.lnk"
    path.symlink_to(other)
    other.symlink_to(path)


def link_out_of_the_folder(path: Path) -> None:
    """A link to a valid catalog file outside the folder."""
    outside = path.parent.parent / "outside.csv"
    outside.write_text(ROWS, encoding="utf-8")
    path.symlink_to(outside)


def link_to_a_device(path: Path) -> None:
    """A link to ``/dev/zero``, which never ends."""
    path.symlink_to("/dev/zero")


def directory(path: Path) -> None:
    """A folder named like a catalog file."""
    path.mkdir()


def fifo(path: Path) -> None:
    """A named pipe nobody writes to: opening it for reading would block forever."""
    os.mkfifo(path)


def unix_socket(path: Path) -> None:
    """A listening socket's file."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))


def device(path: Path) -> None:
    """A character device node (``/dev/zero``'s numbers) inside the folder."""
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))
    except PermissionError:
        pytest.skip("creating a device node needs CAP_MKNOD")


UNREADABLE: dict[str, tuple[Maker, str]] = {
    "dangling link": (dangling_link, "is a symbolic link to a file that does not exist"),
    "looping link": (looping_link, "is a symbolic link that loops"),
    "link out of the folder": (link_out_of_the_folder, "is a symbolic link out of its folder"),
    "link to a device": (link_to_a_device, "is a symbolic link out of its folder"),
    "directory": (directory, "is a directory, not a regular file"),
    "fifo": (fifo, "is a FIFO (named pipe), not a regular file"),
    "socket": (unix_socket, "is a socket, not a regular file"),
    "device": (device, "is a character device, not a regular file"),
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """An empty catalogs folder."""
    path = tmp_path / "catalogs"
    path.mkdir()
    return path


def load(folder: Path) -> Catalog:
    """Read the folder as ``reconcile`` and ``validate`` do."""
    return load_catalog_files(catalog_paths([folder]))


@pytest.fixture(params=sorted(UNREADABLE))
def unreadable(request: pytest.FixtureRequest, folder: Path) -> tuple[Path, str]:
    """``x.csv`` in the folder, made unreadable one way, and the message it must get."""
    make, message = UNREADABLE[request.param]
    path = folder / "x.csv"
    make(path)
    return path, message


def test_unreadable_entry_is_a_named_fatal_problem(unreadable: tuple[Path, str]) -> None:
    """The entry is listed, and its problem names it, says why, and is fatal for the file."""
    path, message = unreadable
    catalog = load(path.parent)
    (problem,) = catalog.problems
    assert (problem.file, problem.line, problem.severity) == (str(path), 1, Severity.FATAL)
    assert message in problem.message


def test_unreadable_entry_makes_the_catalog_incomplete(unreadable: tuple[Path, str]) -> None:
    """A catalog with such an entry is incomplete: ``--prune`` refuses to delete anything."""
    path, _message = unreadable
    (path.parent / "ok.csv").write_text(ROWS, encoding="utf-8")
    catalog = load(path.parent)
    assert catalog.unparseable_files == {str(path)}
    assert not catalog.complete
    assert sorted(catalog.pairs) == ["A", "B"]


def test_unreadable_entry_is_never_kept_by_signature(unreadable: tuple[Path, str]) -> None:
    """Its outcome says nothing about content, so a cache must read it again next time."""
    path, _message = unreadable
    assert read_catalog_file(path).signature is None


def test_validate_names_the_unreadable_entry(unreadable: tuple[Path, str]) -> None:
    """``validate`` on the folder exits 1 and prints the entry's problem."""
    path, message = unreadable
    result = CliRunner().invoke(main, ["validate", str(path.parent)], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{path}:1: file: " in result.output
    assert message in result.output


@pytest.mark.parametrize("make", [fifo, link_to_a_device], ids=["fifo", "link to /dev/zero"])
def test_validate_of_a_special_file_given_by_name_returns(folder: Path, make: Maker) -> None:
    """``validate PATH`` on a FIFO or a link to /dev/zero answers at once, without reading."""
    path = folder / "x.csv"
    make(path)
    result = CliRunner().invoke(main, ["validate", str(path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "not a regular file" in result.output or "out of its folder" in result.output


def test_link_to_a_regular_file_inside_the_folder_is_read(folder: Path) -> None:
    """A link that stays inside the folder (to a file in a subfolder) is followed."""
    (folder / "releases").mkdir()
    (folder / "releases" / "2024.csv").write_text(ROWS, encoding="utf-8")
    (folder / "current.csv").symlink_to(Path("releases") / "2024.csv")
    catalog = load(folder)
    assert catalog.problems == ()
    assert sorted(catalog.pairs) == ["A", "B"]


def test_file_over_the_size_limit_is_refused_without_reading(folder: Path) -> None:
    """A 200 MB file (sparse here) is refused by its size alone, naming the setting."""
    path = folder / "huge.csv"
    with path.open("wb") as stream:
        stream.truncate(200 * 1024 * 1024)
    read = read_catalog_file(path)
    (problem,) = read.catalog.problems
    assert "larger than the 104857600-byte limit (catalog_max_file_bytes)" in problem.message
    assert read.signature is not None


def test_name_that_is_not_utf8_is_named_escaped(folder: Path) -> None:
    """A file name with bytes that are not UTF-8 is a printable problem asking for a rename."""
    raw = os.fsencode(folder) + b"/caf\xe9.csv"
    with open(raw, "wb") as stream:  # noqa: PTH123 - a bytes path, which Path cannot hold
        stream.write(ROWS.encode())
    catalog = load(folder)
    (problem,) = catalog.problems
    assert str(problem).startswith(f"{folder}/caf\\xe9.csv:1: file: ")
    assert "not valid UTF-8" in problem.message
    str(problem).encode("utf-8")
