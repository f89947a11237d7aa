"""Which files in ``catalogs/`` make up the catalog, and reading them safely into the parser.

The watcher and ``reconcile`` share this so they agree on what is a catalog file and what is
an editor's temporary file or a half-written drop.

Every entry whose *name* makes it a catalog file is part of the catalog, whatever it turns out
to be. Only regular files are read; a symbolic link is followed only when it leads to a regular
file inside the folder that holds it. Anything else (a dangling or looping link, a link out of
the folder, a directory, a FIFO, a device, a socket, a file that cannot be opened, a name that
is not UTF-8) is a fatal problem of that entry: its pairs are protected and ``--prune``
refuses, exactly as for a file that does not parse. Nothing is ever skipped without a word.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from catalog_sync.core.catalog import (
    CATALOG_SUFFIXES,
    Catalog,
    CatalogBuilder,
    merge_catalogs,
    parse_records,
    unreadable_problem,
)
from catalog_sync.core.catalog_index import CatalogIndex, IndexBuilder
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem
from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits, OverLimitError
from catalog_sync.support.files import is_dropped_file_name
from catalog_sync.support.settle import Signature

#: Opened without blocking (a FIFO swapped in after the type check must not hang the reader)
#: and without becoming a controlling terminal.
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def is_catalog_file(path: Path) -> bool:
    """Whether ``path`` names a catalog file: a known suffix, not hidden, not temporary."""
    return is_dropped_file_name(path.name) and path.name.endswith(CATALOG_SUFFIXES)


def catalog_paths(targets: Iterable[Path]) -> list[Path]:
    """The catalog entries named by ``targets`` (files, or folders read one level deep), sorted.

    Every entry with a catalog file's name is listed, readable or not, so that one that cannot
    be read is reported rather than missed. Sorted so that, of two rows with the same id, the
    one that wins never depends on the disk.
    """
    found: set[Path] = set()
    for target in targets:
        if target.is_dir():
            found.update(p for p in target.iterdir() if is_catalog_file(p))
        else:
            found.add(target)
    return sorted(found)


def display_name(path: Path) -> str:
    """The name a catalog file is known by: its path, with bytes that are not UTF-8 escaped.

    Such a name could not be printed, logged or stored in the state database as it is.
    """
    name = str(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    return name


@dataclass(frozen=True, slots=True)
class CatalogFile:
    """One catalog entry as read, and the signature of the file that was read.

    ``signature`` is ``None`` when the entry could not be read (not a regular file, a failed
    open or read): such an outcome says nothing about the file's content and is never kept by
    a cache; the entry is read again the next time.
    """

    catalog: Catalog
    signature: Signature | None


class _UnreadableError(Exception):
    """The entry cannot be read; the message is the problem shown for it."""


_KINDS: Final = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "a special file")


def _followed(path: Path) -> os.stat_result:
    """What a symbolic link leads to, when it leads to a regular file inside its folder."""
    try:
        target = path.stat()
    except FileNotFoundError:
        raise _UnreadableError("is a symbolic link to a file that does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _UnreadableError("is a symbolic link that loops") from None
        raise _UnreadableError(
            f"is a symbolic link that cannot be followed: {exc.strerror}"
        ) from None
    if not path.resolve().is_relative_to(path.parent.resolve()):
        raise _UnreadableError(
            "is a symbolic link out of its folder; links are followed only to regular files "
            "inside the folder"
        )
    if not stat.S_ISREG(target.st_mode):
        raise _UnreadableError(f"is a symbolic link to {_kind(target.st_mode)}, not a regular file")
    return target


def _open_regular(path: Path) -> tuple[int, os.stat_result]:
    """An open descriptor of the regular file ``path`` names, and its status.

    The type is checked before opening (a device is never opened) and again on the open
    descriptor, so an entry swapped between the two is refused rather than read.
    """
    try:
        entry = os.lstat(path)
    except FileNotFoundError:
        raise _UnreadableError("cannot read file: it was removed while being read") from None
    except OSError as exc:
        raise _UnreadableError(f"cannot read file: {exc.strerror}") from None
    link = stat.S_ISLNK(entry.st_mode)
    expected = _followed(path) if link else entry
    if not stat.S_ISREG(expected.st_mode):
        raise _UnreadableError(f"is {_kind(expected.st_mode)}, not a regular file")
    try:
        fd = os.open(path, _OPEN_FLAGS if link else _OPEN_FLAGS | os.O_NOFOLLOW)
    except OSError as exc:
        raise _UnreadableError(f"cannot read file: {exc.strerror}") from None
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (expected.st_dev, expected.st_ino) or not stat.S_ISREG(
        opened.st_mode
    ):
        os.close(fd)
        raise _UnreadableError("changed while being opened; it is read again on the next change")
    return fd, opened


class _BoundedFile(io.RawIOBase):
    """A file that raises once more than ``limit`` bytes were read from it.

    The size was checked before reading; this catches a file that grows while it is read, so
    no file, however it changes, is ever read beyond the limit.
    """

    def __init__(self, fd: int, limits: Limits) -> None:
        super().__init__()
        self._file = io.FileIO(fd, "r", closefd=True)
        self._limits = limits
        self._left = limits.file_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        count = self._file.readinto(buffer) or 0
        self._left -= count
        if self._left < 0:
            raise OverLimitError(self._limits.file_message())
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def read_catalog_file(path: Path, limits: Limits = DEFAULT_LIMITS) -> CatalogFile:
    """Read one catalog entry, streaming it, into its own catalog; never raises for the entry.

    The file's signature is taken from the open descriptor before reading, so a file changed
    while it was read has a newer signature on disk and is read again.
    """
    signatures: dict[str, Signature] = {}
    builder = CatalogBuilder(limits)
    name = display_name(path)
    builder.add_records(name, _records(path, limits, signatures))
    return CatalogFile(builder.build(), signatures.get(name))


def load_catalog_files(paths: Iterable[Path], limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Parse ``paths`` into one catalog, streaming each file.

    An entry that vanished, is not a regular file or cannot be opened is reported as a fatal
    problem (its pairs are protected), never silently skipped.
    """
    return merge_catalogs(read_catalog_file(path, limits).catalog for path in paths)


def index_catalog_files(paths: Iterable[Path], limits: Limits = DEFAULT_LIMITS) -> CatalogIndex:
    """Read ``paths`` into a :class:`CatalogIndex`: each pair's id, place and digests only.

    What a one-off reconcile reads first, so its memory does not grow a kilobyte per row; the
    rows it must plan are read again by :func:`indexed_pairs`.
    """
    builder = IndexBuilder()
    signatures: dict[str, Signature] = {}
    for path in paths:
        builder.add(display_name(path), _records(path, limits, signatures))
    return builder.build(signatures)


def indexed_pairs(
    index: CatalogIndex, paths: Iterable[Path], limits: Limits = DEFAULT_LIMITS
) -> Iterator[DesiredPair]:
    """The rows ``index`` chose, read again from ``paths`` in file order.

    A file whose size and modification time are those the index read is the same file, so its
    rows are only matched by place. A changed file's rows are also checked against the index's
    hash: a row changed since is left out (its file's change starts another run), as is every
    row of a file the index found broken.
    """
    for path in paths:
        name = display_name(path)
        if name in index.unparseable_files:
            continue
        opened: dict[str, Signature] = {}
        for item in _records(path, limits, opened):
            if isinstance(item, DesiredPair):
                same = opened.get(name) == index.signatures.get(name)
                if index.is_indexed_row(item, check_content=not same):
                    yield item


def _records(
    path: Path, limits: Limits, signatures: dict[str, Signature]
) -> Iterator[DesiredPair | Problem]:
    """One entry's parsed records, streaming; an entry that cannot be read is one fatal
    problem.

    The signature of the file opened is put in ``signatures`` before the first record, and
    taken out again if reading fails: such an outcome says nothing about the file's content.
    """
    name = display_name(path)
    if name != str(path):
        yield unreadable_problem(name, "the file name is not valid UTF-8: rename the file")
        return
    try:
        fd, opened = _open_regular(path)
    except _UnreadableError as exc:
        yield unreadable_problem(name, str(exc))
        return
    signatures[name] = (opened.st_size, opened.st_mtime_ns)
    raw = io.BufferedReader(_BoundedFile(fd, limits))
    with io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline=None) as stream:
        if opened.st_size > limits.file_bytes:
            yield unreadable_problem(name, limits.file_message())
            return
        try:
            yield from parse_records(name, stream, limits)
        except OSError as exc:
            del signatures[name]
            yield unreadable_problem(name, f"cannot read file: {exc.strerror or exc}")
