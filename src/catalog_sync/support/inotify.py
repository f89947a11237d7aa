"""What changed in one folder, straight from Linux inotify: written in place, or renamed in.

The catalog watcher needs to know *how* a file appeared, which a portable watcher cannot say:
watchfiles reported a file renamed into the folder and a file created and written in place
alike as "added". A rename is atomic (the file is complete as its writer meant it the moment it
has its name), while a file written in place may be half-written when its events arrive. inotify
tells the two apart (``IN_MOVED_TO`` against ``IN_CREATE``/``IN_MODIFY``), and its descriptor is
read by the event loop when it is readable, so a watch that sees nothing costs no CPU at all.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import enum
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Self

_IN_MODIFY: Final = 0x00000002
_IN_ATTRIB: Final = 0x00000004
_IN_MOVED_FROM: Final = 0x00000040
_IN_MOVED_TO: Final = 0x00000080
_IN_CREATE: Final = 0x00000100
_IN_DELETE: Final = 0x00000200
_IN_DELETE_SELF: Final = 0x00000400
_IN_MOVE_SELF: Final = 0x00000800
_IN_Q_OVERFLOW: Final = 0x00004000
_IN_IGNORED: Final = 0x00008000
_IN_ONLYDIR: Final = 0x01000000
_IN_EXCL_UNLINK: Final = 0x04000000

_WRITTEN: Final = _IN_CREATE | _IN_MODIFY | _IN_ATTRIB
_GONE: Final = _IN_DELETE | _IN_MOVED_FROM
_FOLDER_GONE: Final = _IN_DELETE_SELF | _IN_MOVE_SELF | _IN_IGNORED
_MASK: Final = _WRITTEN | _GONE | _IN_MOVED_TO | _FOLDER_GONE | _IN_ONLYDIR | _IN_EXCL_UNLINK

#: ``struct inotify_event`` before its name: wd, mask, cookie, len.
_HEADER: Final = struct.Struct("iIII")
#: Enough for a few hundred events per read; the kernel keeps the rest queued.
_READ_SIZE: Final = 64 * 1024

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.inotify_init1.argtypes = [ctypes.c_int]
_libc.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]


class How(enum.Enum):
    """How a name in the folder changed."""

    #: Created, written or touched in place: its writer may not be done.
    WRITTEN = "written"
    #: Renamed (moved) into the folder under this name: complete the moment it appears.
    RENAMED_IN = "renamed in"
    #: Removed or renamed away.
    GONE = "gone"


@dataclass(frozen=True, slots=True)
class Change:
    """One event of one name in the watched folder."""

    path: Path
    how: How


@dataclass(frozen=True, slots=True)
class Events:
    """What one read of the watch returned.

    ``lost`` means events were dropped (the kernel's queue overflowed): any file may have
    changed. ``folder_gone`` means the folder was removed or moved: the watch is over.
    """

    changes: tuple[Change, ...]
    lost: bool = False
    folder_gone: bool = False


class FolderWatch:
    """An inotify watch of one folder (not its subfolders), read without blocking."""

    def __init__(self, folder: Path) -> None:
        """Start watching ``folder``; raises ``OSError`` when it cannot be watched."""
        self.folder = folder
        self._fd = _checked(_libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC), folder)
        try:
            _checked(_libc.inotify_add_watch(self._fd, os.fsencode(folder), _MASK), folder)
        except OSError:
            os.close(self._fd)
            raise

    def fileno(self) -> int:
        """The descriptor to wait on: readable when events are queued."""
        return self._fd

    def read(self) -> Events:
        """Every event queued now (none when there is none; never blocks)."""
        changes: list[Change] = []
        lost = gone = False
        while True:
            try:
                data = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                break
            for mask, name in _parse(data):
                lost |= bool(mask & _IN_Q_OVERFLOW)
                gone |= bool(mask & _FOLDER_GONE)
                how = _how(mask)
                if name and how is not None:
                    changes.append(Change(self.folder / os.fsdecode(name), how))
        return Events(tuple(changes), lost=lost, folder_gone=gone)

    def close(self) -> None:
        """Stop watching (closing the descriptor removes the watch)."""
        os.close(self._fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _checked(result: int, folder: Path) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, f"cannot watch the folder: {os.strerror(code)}", str(folder))
    return result


def _how(mask: int) -> How | None:
    if mask & _IN_MOVED_TO:
        return How.RENAMED_IN
    if mask & _GONE:
        return How.GONE
    if mask & _WRITTEN:
        return How.WRITTEN
    return None


def _parse(data: bytes) -> Iterator[tuple[int, bytes]]:
    """(mask, name) of each ``struct inotify_event`` in ``data`` (the name NUL-padded)."""
    offset = 0
    while offset + _HEADER.size <= len(data):
        _wd, mask, _cookie, length = _HEADER.unpack_from(data, offset)
        start = offset + _HEADER.size
        yield mask, data[start : start + length].rstrip(b"\0")
        offset = start + length
