"""Catalog text as a stream: line counting, BOM handling and a streaming JSON reader.

The standard library reads JSON only whole and without line numbers; a catalog needs both
record-at-a-time reading (memory bounded by a record, not a file) and the line each record
starts on. Everything here raises :class:`UnparseableError` for a file that cannot be read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TextIO

Source = TextIO | Iterable[str]
#: A single JSON record larger than this is treated as a broken file, which bounds the memory
#: a file with an unterminated string can take.
MAX_RECORD_CHARS: Final = 1 << 20
_CHUNK_CHARS: Final = 1 << 16


class UnparseableError(Exception):
    """The file as a whole cannot be read; raised by readers, turned into a fatal problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Cursor:
    """How far a reader got, so a decoding error deep in a stream still names a line."""

    line: int = 1


TRUNCATED: Final = "unexpected end of file (half-written?)"


def without_bom(pieces: Iterable[str]) -> Iterator[str]:
    """The text without a leading BOM, for callers that opened a file as plain ``utf-8``."""
    iterator = iter(pieces)
    first = next(iterator, None)
    if first is None:
        return
    yield first.removeprefix("\ufeff")
    # Not ``yield from``: closing this generator early would close the caller's file too.
    for piece in iterator:  # noqa: UP028
        yield piece


def counted(lines: Iterable[str], cursor: Cursor) -> Iterator[str]:
    """The lines, with ``cursor`` naming the one being read when anything goes wrong."""
    for number, line in enumerate(without_bom(lines), start=1):
        cursor.line = number
        yield line


def chunks(source: Source) -> Iterator[str]:
    """Big pieces of text, so the JSON scanner retries a cut record rarely."""
    read = getattr(source, "read", None)
    if read is not None:
        while piece := read(_CHUNK_CHARS):
            yield piece
        return
    pending: list[str] = []
    size = 0
    for piece in source:
        pending.append(piece)
        size += len(piece)
        if size >= _CHUNK_CHARS:
            yield "".join(pending)
            pending, size = [], 0
    if pending:
        yield "".join(pending)


_SIGNIFICANT: Final = re.compile(r"[^ \t\r\n]")
_DECODER: Final = json.JSONDecoder()


class JsonScanner:
    """Walks a JSON document's outer structure, decoding one record at a time.

    Only the unread tail of the text is buffered, and line numbers are counted as it goes,
    which the standard library cannot do for a stream.
    """

    def __init__(self, pieces: Iterable[str], cursor: Cursor) -> None:
        self._pieces = without_bom(pieces)
        self._buffer = ""
        self._pos = 0
        self._cursor = cursor

    @property
    def line(self) -> int:
        return self._cursor.line

    def _more(self) -> bool:
        piece = next(self._pieces, None)
        if piece is None:
            return False
        self._buffer = self._buffer[self._pos :] + piece
        self._pos = 0
        return True

    def _advance(self, end: int) -> None:
        self._cursor.line += self._buffer.count("\n", self._pos, end)
        self._pos = end

    def peek(self) -> str | None:
        """The next significant character, or ``None`` at the end of the text."""
        while True:
            match = _SIGNIFICANT.search(self._buffer, self._pos)
            if match:
                self._advance(match.start())
                return match.group()
            self._advance(len(self._buffer))
            if not self._more():
                return None

    def take(self, expected: str) -> str:
        char = self.peek()
        if char is None:
            raise UnparseableError(self.line, TRUNCATED)
        if char not in expected:
            wanted = " or ".join(repr(c) for c in expected)
            raise UnparseableError(self.line, f"broken JSON: expected {wanted}, found {char!r}")
        self._advance(self._pos + 1)
        return char

    def value(self) -> object:
        """Decode the next value, reading more text while it is cut by the buffer's end."""
        if self.peek() is None:
            raise UnparseableError(self.line, TRUNCATED)
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buffer, self._pos)
            except json.JSONDecodeError as exc:
                if len(self._buffer) - self._pos <= MAX_RECORD_CHARS and self._more():
                    continue
                line = self.line + self._buffer.count("\n", self._pos, exc.pos)
                raise UnparseableError(line, f"broken JSON: {exc.msg}") from None
            except (ValueError, RecursionError) as exc:
                raise UnparseableError(self.line, f"broken JSON: {exc}") from None
            if end >= len(self._buffer) and self._more():
                continue
            self._advance(end)
            return value


_SHAPE: Final = 'expected a list of objects or {"items": [...]}'


def json_values(scanner: JsonScanner) -> Iterator[tuple[int, object]]:
    first = scanner.peek()
    if first == "[":
        yield from _json_array(scanner)
    elif first == "{":
        yield from _json_envelope(scanner)
    else:
        raise UnparseableError(scanner.line, f"empty file: {_SHAPE}" if first is None else _SHAPE)
    if scanner.peek() is not None:
        raise UnparseableError(scanner.line, "unexpected data after the catalog")


def _json_array(scanner: JsonScanner) -> Iterator[tuple[int, object]]:
    scanner.take("[")
    if scanner.peek() == "]":
        scanner.take("]")
        return
    while True:
        scanner.peek()
        line = scanner.line
        yield line, scanner.value()
        if scanner.take(",]") == "]":
            return


def _json_envelope(scanner: JsonScanner) -> Iterator[tuple[int, object]]:
    start = scanner.line
    scanner.take("{")
    found = False
    separator = "," if scanner.peek() != "}" else scanner.take("}")
    while separator == ",":
        key = scanner.value()
        if not isinstance(key, str):
            raise UnparseableError(scanner.line, "broken JSON: object keys must be strings")
        scanner.take(":")
        if key == "items" and scanner.peek() == "[":
            found = True
            yield from _json_array(scanner)
        else:
            scanner.value()
        separator = scanner.take(",}")
    if not found:
        raise UnparseableError(start, _SHAPE)


def jsonl_values(source: Source, cursor: Cursor) -> Iterator[tuple[int, object]]:
    empty = True
    for text in counted(source, cursor):
        if not text.strip():
            continue
        empty = False
        try:
            value = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise UnparseableError(cursor.line, f"broken JSON line: {exc}") from None
        yield cursor.line, value
    if empty:
        raise UnparseableError(1, "empty file: expected one JSON object per line")
