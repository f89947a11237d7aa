"""Problems found in input files, as a person fixing the file needs to read them.

One type for both kinds of file people drop: catalog files (``core.catalog``) and merchant
request files (``core.request_files``). A problem is data, not an exception: one bad row must
not stop the rows after it, and the ``validate`` command, the reconcile report, the errors file
written beside a request file and the daemon's log all list the same objects, each as
``file:line: field: message``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Severity(StrEnum):
    """How much of the catalog a problem takes out of the run."""

    #: The row or column is still used (e.g. an ignored column, a long description).
    WARNING = "warning"
    #: The row is skipped; its pair at Digital River is left as it is.
    ERROR = "error"
    #: The whole file could not be read; none of its rows are used and no pair it may hold
    #: is deleted or changed remotely.
    FATAL = "fatal"


#: The ``field`` of a catalog problem about the file as a whole rather than one column.
FILE_FIELD = "file"

#: Characters a problem never shows as they are: control characters (a terminal or a log line
#: would act on them), lone surrogates (no output encoding can write them) and the Unicode
#: line separators and direction overrides (they would disguise the text around them).
UNPRINTABLE: Final = re.compile(
    "[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)
#: How much of a value a message quotes: enough to find it in the file, never the file itself.
EXCERPT_CHARS: Final = 60
#: A column or key name longer than this is cut in a problem's ``field``.
FIELD_CHARS: Final = 100


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """``text`` with every unprintable character written as its Python escape (``\\x00``)."""
    return UNPRINTABLE.sub(_escape, text)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A value as a message may quote it: printable, and cut to ``limit`` characters.

    Messages end up in terminals, logs and report files; a value read from a catalog may be
    megabytes long or hold bytes that no output can encode, and must break none of them.
    """
    cut = text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"
    return printable(cut)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to fix, located at the line where the offending record starts.

    ``field`` names the column or key at fault; None when the problem is with the row or the
    file as a whole and no field is named (request files; catalogs name :data:`FILE_FIELD`).
    Every text is made printable on creation (and the field name cut), so whatever a file
    holds, a problem can be printed, logged and written to a report or an errors file.
    """

    file: str
    line: int
    field: str | None
    message: str
    severity: Severity = Severity.ERROR
    #: The SKU id of a catalog record, when it could be read; lets callers protect that pair.
    sku_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", printable(self.file))
        if self.field is not None:
            object.__setattr__(self, "field", excerpt(self.field, FIELD_CHARS))
        object.__setattr__(self, "message", printable(self.message))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        if self.field is None:
            return f"{where}: {self.message}"
        return f"{where}: {self.field}: {self.message}"
