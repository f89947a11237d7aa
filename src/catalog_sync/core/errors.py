"""Problems found in catalog files, as a person fixing the file needs to read them.

A problem is data, not an exception: one bad row must not stop the rows after it, and the
``validate`` command, the reconcile report and the daemon's log all list the same objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    """How much of the catalog a problem takes out of the run."""

    #: The row or column is still used (e.g. an ignored column, a long description).
    WARNING = "warning"
    #: The row is skipped; its pair at Digital River is left as it is.
    ERROR = "error"
    #: The whole file could not be read; none of its rows are used and no pair it may hold
    #: is deleted or changed remotely.
    FATAL = "fatal"


#: The ``field`` of a problem about the file as a whole rather than one column.
FILE_FIELD = "file"


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix, located at the line where the offending record starts."""

    file: str
    line: int
    field: str
    message: str
    severity: Severity = Severity.ERROR
    #: The SKU id of the record, when it could be read; lets callers protect that pair.
    sku_id: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"
