"""A run's changes kept on disk as they are made, for the report to stream back.

A run applies its catalog a chunk at a time and forgets each chunk; its report must still list
every change (an initial sync of a million pairs lists a million). The changes go to an
unnamed temporary file, one pickled tuple each, and are read back once per report file
written: a few dozen bytes of memory, however many changes.
"""

from __future__ import annotations

import pickle
import struct
import tempfile
import weakref
from collections.abc import Iterator
from typing import IO, Any, Final, Literal

from catalog_sync.catalog.report import (
    CHANGES_IN_MEMORY,
    ChangeAction,
    ChangeEntry,
    ChangeStatus,
    ChangeStream,
    FieldChangeEntry,
)

#: Every field of a :class:`ChangeEntry` is given: entries are built from already-typed values
#: without validation and share this one set (pydantic would otherwise keep a set per entry).
_CHANGE_FIELDS_SET: Final = set(ChangeEntry.model_fields)
_FIELD_FIELDS_SET: Final = set(FieldChangeEntry.model_fields)

#: Each pickled change is preceded by its length.
_LENGTH: Final = struct.Struct("<I")
_Side = Literal["sku", "item"]
_Row = tuple[str, ChangeAction, bool, ChangeStatus, "str | None", list[tuple[_Side, str, Any, Any]]]


class ChangeSpool:
    """Changes appended in report order; :meth:`stream` reads them back as often as asked."""

    def __init__(self) -> None:
        # Open for the spool's life (a report may be written from it after the run); the file
        # has no name and is gone when closed or when the process ends.
        self._file: IO[bytes] = tempfile.TemporaryFile(prefix="catalog-sync-")  # noqa: SIM115
        weakref.finalize(self, self._file.close)
        self.count = 0
        #: The first :data:`CHANGES_IN_MEMORY` changes, which the report itself holds.
        self.first: list[ChangeEntry] = []

    def add(self, entry: ChangeEntry) -> None:
        """Append one change."""
        fields = [(f.side, f.field, f.old, f.new) for f in entry.fields]
        row: _Row = (entry.id, entry.action, entry.drift, entry.status, entry.source, fields)
        # One pickle per change, each with its own memo: a shared unpickler would remember
        # every object it ever read (protocol 4 numbers them as it reads), a run's worth.
        data = pickle.dumps(row, protocol=pickle.HIGHEST_PROTOCOL)
        self._file.write(_LENGTH.pack(len(data)))
        self._file.write(data)
        self.count += 1
        if len(self.first) < CHANGES_IN_MEMORY:
            self.first.append(entry)

    def stream(self) -> ChangeStream:
        """Every change appended, readable again each time a report file is written."""
        self._file.flush()
        return ChangeStream(self.count, self._entries)

    def _entries(self) -> Iterator[ChangeEntry]:
        file = self._file
        file.seek(0)
        for _ in range(self.count):
            (length,) = _LENGTH.unpack(file.read(_LENGTH.size))
            # Only this object ever wrote the file, which has no name: nothing untrusted is read.
            row: _Row = pickle.loads(file.read(length))  # noqa: S301
            pair_id, action, drift, status, source, fields = row
            yield ChangeEntry.model_construct(
                _CHANGE_FIELDS_SET,
                id=pair_id,
                action=action,
                drift=drift,
                status=status,
                source=source,
                fields=[
                    FieldChangeEntry.model_construct(
                        _FIELD_FIELDS_SET, side=side, field=name, old=old, new=new
                    )
                    for side, name, old, new in fields
                ],
            )
