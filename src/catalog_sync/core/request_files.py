"""Merchant request files (issue 7): JSON or CSV rows of fulfil / cancel requests, parsed purely.

A file comes from the merchant's own systems, so nothing in it is trusted: every problem is
reported as ``file:line: field: message`` (written back as ``<file>.errors.json``) and a bad row
never hides the good ones. A problem with the file itself (undecodable, not an array, unknown
columns) is reported at the line where it was found and leaves no row to apply: a typo in a
column name must not turn "cancel 1" into "cancel everything open".
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from catalog_sync.core.codes import is_valid_id
from catalog_sync.core.merchant_requests import Action

#: Every column a row may carry; ``orderId`` and ``action`` are required.
COLUMNS: Final = (
    "orderId",
    "itemId",
    "action",
    "quantity",
    "trackingNumber",
    "trackingCompany",
    "trackingUrl",
    "reason",
)
REQUIRED_COLUMNS: Final = ("orderId", "action")
ACTIONS: Final[tuple[Action, ...]] = ("fulfill", "cancel")
REQUEST_SUFFIXES: Final = (".json", ".csv")
#: Where a file's rows that failed validation are written back, next to the file.
ERRORS_SUFFIX: Final = ".errors.json"
#: Longest free-text value kept (tracking fields, reason); DR's own limits are not documented.
MAX_TEXT: Final = 1000


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One valid request of a file; ``item_id`` / ``quantity`` None mean whole order / all open."""

    line: int
    order_id: str
    action: Action
    item_id: str | None = None
    quantity: int | None = None
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class RowProblem:
    """Why a row (or the file, ``field`` None) was not accepted."""

    file: str
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


@dataclass(frozen=True, slots=True)
class ParsedRequestFile:
    """The valid rows and the problems of one file, both in file order."""

    name: str
    rows: tuple[RequestRow, ...]
    problems: tuple[RowProblem, ...]


class _NotTextError(Exception):
    """A JSON value that is neither text nor a number (an object, a list, a boolean)."""


class _FileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def is_request_file_name(name: str) -> bool:
    """Whether ``name`` has a request file suffix and is not one of our ``.errors.json``."""
    return name.endswith(REQUEST_SUFFIXES) and not name.endswith(ERRORS_SUFFIX)


def parse_request_file(name: str, data: bytes) -> ParsedRequestFile:
    """Parse one request file's bytes; never raises, whatever the bytes are."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return _fatal(name, line, f"not UTF-8 text (byte {exc.start})")
    try:
        records = list(_json_records(text) if name.endswith(".json") else _csv_records(text))
    except _FileError as exc:
        return _fatal(name, exc.line, str(exc))
    rows: list[RequestRow] = []
    problems: list[RowProblem] = []
    for line, record in records:
        found = _row(name, line, record)
        if isinstance(found, RequestRow):
            rows.append(found)
        else:
            problems.extend(found)
    return ParsedRequestFile(name, tuple(rows), tuple(problems))


def _fatal(name: str, line: int, message: str) -> ParsedRequestFile:
    return ParsedRequestFile(name, (), (RowProblem(name, line, None, message),))


def _json_records(text: str) -> Iterator[tuple[int, Any]]:
    """Yield (line, element) of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    at = _skip_space(text, 0)
    if at >= len(text) or text[at] != "[":
        raise _FileError(_line_of(text, at), "expected a JSON array of request objects")
    at = _skip_space(text, at + 1)
    if at < len(text) and text[at] == "]":
        _after_array(text, at + 1)
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise _FileError(exc.lineno, f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise _FileError(_line_of(text, at), "invalid JSON: nested too deeply") from None
        yield _line_of(text, at), value
        at = _skip_space(text, end)
        if at < len(text) and text[at] == ",":
            at = _skip_space(text, at + 1)
            continue
        if at < len(text) and text[at] == "]":
            _after_array(text, at + 1)
            return
        raise _FileError(_line_of(text, at), "invalid JSON: expected ',' or ']'")


def _after_array(text: str, at: int) -> None:
    at = _skip_space(text, at)
    if at < len(text):
        raise _FileError(_line_of(text, at), "invalid JSON: extra data after the array")


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _line_of(text: str, at: int) -> int:
    return text.count("\n", 0, at) + 1


def _csv_records(text: str) -> Iterator[tuple[int, Any]]:
    """Yield (line, row dict) of a CSV with a header row naming the columns."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _FileError(1, "empty file: expected a header row")
        columns = [column.strip() for column in header]
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown:
            raise _FileError(1, f"unknown column(s) {', '.join(map(repr, unknown))}")
        if len(set(columns)) != len(columns):
            raise _FileError(1, "a column is named twice")
        missing = [c for c in REQUIRED_COLUMNS if c not in columns]
        if missing:
            raise _FileError(1, f"missing column(s) {', '.join(missing)}")
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(columns):
                yield line, _CellCount(len(cells), len(columns))
                continue
            yield line, dict(zip(columns, cells, strict=True))
    except csv.Error as exc:
        raise _FileError(reader.line_num or 1, f"invalid CSV: {exc}") from None


@dataclass(frozen=True, slots=True)
class _CellCount:
    found: int
    expected: int


def _row(name: str, line: int, record: Any) -> RequestRow | list[RowProblem]:
    """Validate one record; returns the row or every problem it has."""
    if isinstance(record, _CellCount):
        message = f"{record.found} cell(s), the header has {record.expected}"
        return [RowProblem(name, line, None, message)]
    if not isinstance(record, Mapping):
        return [RowProblem(name, line, None, "expected an object of request fields")]
    problems: list[RowProblem] = []

    def bad(field: str, message: str) -> None:
        problems.append(RowProblem(name, line, field, message))

    values: dict[str, str | None] = {}
    for key, raw in record.items():
        if key not in COLUMNS:
            bad(str(key), "unknown field")
            continue
        try:
            text = _text(raw)
        except _NotTextError:
            bad(key, "expected text or a number")
            continue
        if text is not None and len(text) > MAX_TEXT:
            bad(key, f"longer than {MAX_TEXT} characters")
        else:
            values[key] = text
    order_id = _id(values.get("orderId"), "orderId", bad, required=True)
    item_id = _id(values.get("itemId"), "itemId", bad, required=False)
    action = _action(values.get("action"), bad)
    quantity = _quantity(values.get("quantity"), bad)
    if quantity is not None and item_id is None and "itemId" not in {p.field for p in problems}:
        bad("quantity", "a quantity needs an itemId (blank itemId means the whole order)")
    if problems or order_id is None or action is None:
        return problems
    return RequestRow(
        line=line,
        order_id=order_id,
        action=action,
        item_id=item_id,
        quantity=quantity,
        tracking_number=values.get("trackingNumber"),
        tracking_company=values.get("trackingCompany"),
        tracking_url=values.get("trackingUrl"),
        reason=values.get("reason"),
    )


#: Records one problem of the row being validated: (field, message).
_Report = Callable[[str, str], None]


def _text(raw: Any) -> str | None:
    """Return a cell as stripped text (None when blank); :class:`_NotTextError` otherwise."""
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise _NotTextError
    text = raw.strip() if isinstance(raw, str) else json.dumps(raw)
    return text or None


def _id(value: str | None, field: str, bad: _Report, *, required: bool) -> str | None:
    if value is None:
        if required:
            bad(field, "required")
        return None
    if not is_valid_id(value):
        bad(field, f"{value!r} is not a valid id (letters, digits, '.', '_', '-')")
        return None
    return value


def _action(value: str | None, bad: _Report) -> Action | None:
    if value is None:
        bad("action", "required (fulfill or cancel)")
        return None
    lowered = value.lower()
    for action in ACTIONS:
        if lowered == action:
            return action
    bad("action", f"{value!r} is neither fulfill nor cancel")
    return None


def _quantity(value: str | None, bad: _Report) -> int | None:
    if value is None:
        return None
    if not value.isascii() or not value.isdigit() or int(value) <= 0:
        bad("quantity", f"{value!r} is not a positive whole number")
        return None
    return int(value)
