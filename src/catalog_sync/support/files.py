"""Files and folders: created for their owner only, written atomically, read when dropped.

The state database and the reports hold customer names, e-mail and postal addresses and phone
numbers. Under systemd the unit's ``UMask=0077`` keeps them private; run by hand, a default
umask of 022 would make them world-readable. What catalog-sync creates is therefore given its
mode explicitly (files 0600, folders 0700), whatever the umask. Existing files and folders are
left as the operator made them.

Every file catalog-sync writes for others to read (reports, the orders page, errors files) is
written by :func:`write_atomically`, and the ``latest`` links are moved by
:func:`symlink_atomically`: both write under a temporary name and rename.
"""

from __future__ import annotations

import errno
import os
import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
#: A new file's mode before the umask: what ``open()`` gives any file it creates.
_UMASK_MODE: Final = 0o666


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


def write_atomically(path: Path, chunks: Iterable[str], *, private: bool = True) -> None:
    """Write ``chunks`` to a new temporary file beside ``path``, then rename it over ``path``.

    The one way catalog-sync writes a file others read: a reader (a browser, a script, the
    merchant's systems) never sees half a file. ``private`` files (reports: customers'
    products and orders) are created 0600, never readable by others, not even while being
    written; the others (errors files beside a dropped request file, read by the merchant's
    systems) get the mode the umask gives any new file.
    """
    mode = FILE_MODE if private else _UMASK_MODE

    def create(temporary: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        with os.fdopen(os.open(temporary, flags, mode), "w", encoding="utf-8") as out:
            out.writelines(chunks)

    _replace_atomically(path, create)


def symlink_atomically(link: Path, target: str) -> None:
    """Point the symbolic link ``link`` at ``target``, replacing any entry of that name at once.

    A reader following ``link`` finds the old target or the new one, never no file at all.
    """
    _replace_atomically(link, lambda temporary: temporary.symlink_to(target))


def _replace_atomically(path: Path, create: Callable[[Path], None]) -> None:
    """Create an entry under a temporary name with ``create``, then rename it to ``path``.

    The temporary name is hidden and ends in ``.part``, so neither watched folder ever reads
    it; it is short, so it fits whatever the length of ``path``'s name; and it is unique, so
    two processes writing the same name at once (a ``reconcile --dry-run`` beside the daemon)
    never rename each other's file away. A failed write leaves nothing behind.
    """
    temporary = path.with_name(f".{secrets.token_hex(8)}.part")
    try:
        create(temporary)
        temporary.replace(path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


#: Names editors and copy tools use while writing; such files are never read.
_TEMP_SUFFIXES: Final = (".tmp", ".swp", ".swx", ".part", ".crdownload", ".bak", "~")


def is_dropped_file_name(name: str) -> bool:
    """Whether a file named ``name`` in a watched folder is one people dropped there to be
    read: not hidden, not an editor's or a copy tool's temporary file.

    Both watched folders (catalogs and merchant requests) use this one rule.
    """
    return not name.startswith((".", "#", "~")) and not name.endswith(_TEMP_SUFFIXES)
