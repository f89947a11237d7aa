"""Catalog text as a stream: bounded lines, BOM handling and a streaming JSON reader.

The standard library reads JSON only whole and without line numbers, and reads a text line
however long it is; a catalog needs record-at-a-time reading with the line each record starts
on, and memory bounded by the :class:`Limits` whatever the input (a 200 MB line must cost no
more than the line limit). Everything here raises :class:`UnparseableError` for a file that
cannot be read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Final, TextIO

Source = TextIO | Iterable[str]
_CHUNK_CHARS: Final = 1 << 16


@dataclass(frozen=True, slots=True)
class Limits:
    """How large a catalog file and its parts may be; anything larger is a fatal problem.

    Each limit names the setting that changes it, so the problem tells the operator what to do.
    """

    #: Bytes in one file (checked by the caller that opens the file, before and while reading).
    file_bytes: int = 100 * 1024 * 1024
    #: Characters in one line of a CSV or JSONL file, in one CSV row (quoted cells may span
    #: lines), and in one record of a JSON file (which may all be on one line).
    line_chars: int = 1024 * 1024
    #: Characters in one CSV cell or one JSON string (value or key).
    field_chars: int = 64 * 1024

    def file_message(self) -> str:
        """The problem of a file over :attr:`file_bytes`."""
        return (
            f"file larger than the {self.file_bytes}-byte limit (catalog_max_file_bytes); "
            "split it into several files"
        )

    def line_message(self) -> str:
        """The problem of a line or record over :attr:`line_chars`."""
        return (
            f"line or record longer than the {self.line_chars}-character limit "
            "(catalog_max_line_chars)"
        )

    def field_message(self) -> str:
        """The problem of a cell or string over :attr:`field_chars`."""
        return f"field larger than the {self.field_chars}-character limit (catalog_max_field_chars)"


DEFAULT_LIMITS: Final = Limits()


class UnparseableError(Exception):
    """The file as a whole cannot be read; raised by readers, turned into a fatal problem."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class OverLimitError(Exception):
    """Raised by whatever feeds a reader when the file outgrows a limit mid-stream.

    The reader does not know the line then; the parser names the line it had reached.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Cursor:
    """How far a reader got, so a decoding error deep in a stream still names a line."""

    line: int = 1


TRUNCATED: Final = "unexpected end of file (half-written?)"


@dataclass(frozen=True, slots=True)
class OversizedInteger:
    """A JSON integer with more digits than any field accepts, kept as its size only.

    Python refuses to convert more than 4300 digits, and a 20-digit integer is already outside
    every range the API takes: such a number is a problem of its row, not of the whole file.
    """

    digits: int

    def __str__(self) -> str:
        return f"a {self.digits}-digit integer"


#: ``-9223372036854775808`` has 19 digits: longer integers are out of every accepted range.
_INTEGER_DIGITS_MAX: Final = 19


def _integer(text: str) -> int | OversizedInteger:
    digits = len(text.removeprefix("-"))
    return int(text) if digits <= _INTEGER_DIGITS_MAX else OversizedInteger(digits)


_DECODER: Final = json.JSONDecoder(parse_int=_integer)


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


def _raw_lines(source: Source, most: int) -> Iterator[str]:
    """Lines of at most ``most`` characters each: a longer line arrives cut, never whole."""
    readline = getattr(source, "readline", None)
    if readline is None:
        yield from source
        return
    while line := readline(most):
        yield line


class LineReader:
    """Numbered, length-checked lines; also bounds a record that spans several lines.

    The record count is reset by the caller at each record boundary (a CSV row ends), so a
    quoted cell holding a million short lines is caught like one long line.
    """

    def __init__(self, source: Source, cursor: Cursor, limits: Limits) -> None:
        self._source = source
        self._cursor = cursor
        self._limits = limits
        self.record_chars = 0

    def __iter__(self) -> Iterator[str]:
        limit = self._limits.line_chars
        pieces = without_bom(_raw_lines(self._source, limit + 1))
        start = 1
        for number, line in enumerate(pieces, start=1):
            self._cursor.line = number
            if not self.record_chars:
                start = number
            self.record_chars += len(line)
            if self.record_chars > limit and (
                len(line.rstrip("\r\n")) > limit or self.record_chars > limit + 1
            ):
                raise UnparseableError(start, self._limits.line_message())
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


def check_strings(value: object, line: int, limits: Limits) -> None:
    """Raise for a JSON value holding a string (or key) over the field limit.

    Walks the value without recursion: JSON nested thousands deep must not crash the walk.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if len(item) > limits.field_chars:
                raise UnparseableError(line, limits.field_message())
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


_SIGNIFICANT: Final = re.compile(r"[^ \t\r\n]")


class JsonScanner:
    """Walks a JSON document's outer structure, decoding one record at a time.

    Only the unread tail of the text is buffered, never more than the line limit and one
    chunk, and line numbers are counted as it goes, which the standard library cannot do for a
    stream.
    """

    def __init__(self, pieces: Iterable[str], cursor: Cursor, limits: Limits) -> None:
        self._pieces = without_bom(pieces)
        self._buffer = ""
        self._pos = 0
        self._cursor = cursor
        self._limits = limits

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

    def _room(self) -> bool:
        """Whether the value being decoded may still grow without breaking the line limit."""
        return len(self._buffer) - self._pos <= self._limits.line_chars

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
            found = repr(char) if char.isprintable() else f"U+{ord(char):04X}"
            raise UnparseableError(self.line, f"broken JSON: expected {wanted}, found {found}")
        self._advance(self._pos + 1)
        return char

    def value(self) -> object:
        """Decode the next value, reading more text while it is cut by the buffer's end."""
        if self.peek() is None:
            raise UnparseableError(self.line, TRUNCATED)
        while True:
            decoded = self._decode()
            if decoded is None:
                continue
            value, end = decoded
            if end - self._pos > self._limits.line_chars:
                raise UnparseableError(self.line, self._limits.line_message())
            check_strings(value, self.line, self._limits)
            self._advance(end)
            return value

    def _decode(self) -> tuple[object, int] | None:
        """The value at the position and where it ends, or ``None`` once more text was read."""
        try:
            value, end = _DECODER.raw_decode(self._buffer, self._pos)
        except json.JSONDecodeError as exc:
            if self._room() and self._more():
                return None
            if not self._room():
                raise UnparseableError(self.line, self._limits.line_message()) from None
            line = self.line + self._buffer.count("\n", self._pos, exc.pos)
            raise UnparseableError(line, f"broken JSON: {exc.msg}") from None
        except (ValueError, RecursionError) as exc:
            raise UnparseableError(self.line, f"broken JSON: {exc}") from None
        if end >= len(self._buffer):
            # A number at the buffer's end may go on in the next piece.
            if not self._room():
                raise UnparseableError(self.line, self._limits.line_message())
            if self._more():
                return None
        return value, end


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


def jsonl_values(source: Source, cursor: Cursor, limits: Limits) -> Iterator[tuple[int, object]]:
    empty = True
    lines = LineReader(source, cursor, limits)
    for text in lines:
        lines.record_chars = 0
        if not text.strip():
            continue
        empty = False
        try:
            value = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            raise UnparseableError(cursor.line, f"broken JSON line: {exc}") from None
        check_strings(value, cursor.line, limits)
        yield cursor.line, value
    if empty:
        raise UnparseableError(1, "empty file: expected one JSON object per line")
