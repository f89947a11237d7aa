"""Files and folders that hold merchant data, created for their owner only.

The state database and the reports hold customer names, e-mail and postal addresses and phone
numbers. Under systemd the unit's ``UMask=0077`` keeps them private; run by hand, a default
umask of 022 would make them world-readable. What catalog-sync creates is therefore given its
mode explicitly (files 0600, folders 0700), whatever the umask. Existing files and folders are
left as the operator made them.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Final

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700


def make_private_folder(path: Path) -> None:
    """Create ``path`` and any missing parents as 0700 folders (existing ones are kept)."""
    if path.is_dir():
        return
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists() or folder.is_symlink():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
    if not path.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path))


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; whether it was created."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(descriptor)
    return True


def write_private_atomically(path: Path, chunks: Iterable[str]) -> None:
    """Write ``chunks`` to a 0600 temporary file beside ``path``, then rename it over ``path``.

    A reader never sees half a file, and the content is never readable by others, not even
    while it is being written.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.writelines(chunks)
    tmp.replace(path)


#: Names editors and copy tools use while writing; such files are never read.
_TEMP_SUFFIXES: Final = (".tmp", ".swp", ".swx", ".part", ".crdownload", ".bak", "~")


def is_dropped_file_name(name: str) -> bool:
    """Whether a file named ``name`` in a watched folder is one people dropped there to be
    read: not hidden, not an editor's or a copy tool's temporary file.

    Both watched folders (catalogs and merchant requests) use this one rule.
    """
    return not name.startswith((".", "#", "~")) and not name.endswith(_TEMP_SUFFIXES)
