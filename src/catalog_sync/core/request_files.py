"""Merchant request files: JSON or CSV rows of fulfil / cancel requests, parsed purely.

A file comes from the merchant's own systems, so nothing in it is trusted: every problem is a
:class:`~catalog_sync.core.problems.Problem`, like a catalog's, reported as
``file:line: field: message`` (written back as ``<file>.errors.json``) and a bad row
never hides the good ones. A problem with the file itself (undecodable, not an array, unknown
columns) is reported at the line where it was found and leaves no row to apply: a typo in a
column name must not turn "cancel 1" into "cancel everything open". For the same reason a
quantity is never implied: "all open units" must be written as ``all``.

A file may hold anything, including a secret it was never meant to hold (a link to the key
file, a pasted header), so a problem never quotes more of it than a short excerpt, redacted by
the caller's ``redact`` before it is cut, and the problems of one file are bounded in number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from catalog_sync.core.codes import is_valid_id
from catalog_sync.core.merchant_requests import Action, MerchantRequest, request_of
from catalog_sync.core.problems import Problem

#: Every column a row may carry; ``orderId``, ``action`` and ``quantity`` are required.
COLUMNS: Final = (
    "requestId",
    "orderId",
    "itemId",
    "action",
    "quantity",
    "trackingNumber",
    "trackingCompany",
    "trackingUrl",
    "reason",
)
REQUIRED_COLUMNS: Final = ("orderId", "action", "quantity")
ACTIONS: Final[tuple[Action, ...]] = ("fulfill", "cancel")
REQUEST_SUFFIXES: Final = (".json", ".csv")
#: Where a file's rows that failed validation are written back, next to the file.
ERRORS_SUFFIX: Final = ".errors.json"
#: Longest free-text value kept (tracking fields, reason); DR's own limits are not documented.
MAX_TEXT: Final = 1000
#: The word that asks for every open unit; a blank or missing quantity is an error instead.
ALL: Final = "all"
#: Largest quantity of one request (nine digits: far above any order, far below a bigint).
MAX_QUANTITY: Final = 999_999_999
#: Longest ``requestId``: it ends up inside Digital River ids (cancellation upstream ids).
MAX_REQUEST_ID: Final = 64
#: Longest excerpt of file content a problem may quote (after redaction).
EXCERPT_CHARS: Final = 40
#: Problems listed per file; the rest are counted in one last problem.
MAX_PROBLEMS: Final = 200
#: Unknown column names quoted in the one problem naming them.
_UNKNOWN_SHOWN: Final = 3

#: Replaces every secret in a text (the caller's redaction; the identity when it has none).
Redact = Callable[[str], str]


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One valid request of a file.

    ``item_id`` None means the whole order; ``quantity`` None means every open unit, which
    the file said explicitly (``all``). ``request_id`` is the merchant's own idempotency key.
    """

    line: int
    order_id: str
    action: Action
    item_id: str | None = None
    quantity: int | None = None
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None
    reason: str | None = None
    request_id: str | None = None

    def request(self, request_id: str) -> MerchantRequest:
        """The merchant request this row asks for, recorded under ``request_id``."""
        return request_of(self, request_id, self.item_id)


@dataclass(frozen=True, slots=True)
class ParsedRequestFile:
    """The valid rows and the problems of one file, both in file order."""

    name: str
    rows: tuple[RequestRow, ...]
    problems: tuple[Problem, ...]


class _NotTextError(Exception):
    """A JSON value that is neither text nor a number (an object, a list, a boolean)."""


@dataclass(frozen=True, slots=True)
class _Number:
    """A JSON number kept as its source text: never converted, so no size can make it raise."""

    text: str


class _FileError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def is_request_file_name(name: str) -> bool:
    """Whether ``name`` has a request file suffix and is not one of our ``.errors.json``."""
    return name.endswith(REQUEST_SUFFIXES) and not name.endswith(ERRORS_SUFFIX)


def parse_request_file(name: str, data: bytes, *, redact: Redact = str) -> ParsedRequestFile:
    """Parse one request file's bytes; never raises, whatever the bytes are.

    ``redact`` is applied to every excerpt of the file before it is shortened, so a secret
    in the file cannot survive as a recognisable prefix.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return _fatal(name, line, f"not UTF-8 text (byte {exc.start})")
    try:
        records = list(
            _json_records(text) if name.endswith(".json") else _csv_records(text, redact)
        )
    except _FileError as exc:
        return _fatal(name, exc.line, str(exc))
    rows: list[RequestRow] = []
    problems: list[Problem] = []
    for line, record in records:
        found = _row(name, line, record, redact)
        if isinstance(found, RequestRow):
            rows.append(found)
        else:
            problems.extend(found)
    return ParsedRequestFile(name, tuple(rows), bounded_problems(problems))


def bounded_problems(problems: list[Problem]) -> tuple[Problem, ...]:
    """Return at most :data:`MAX_PROBLEMS` problems, the rest counted in the last one.

    A file of a million bad cells must not become an errors file a hundred times its size.
    """
    if len(problems) <= MAX_PROBLEMS:
        return tuple(problems)
    kept = problems[: MAX_PROBLEMS - 1]
    rest = problems[MAX_PROBLEMS - 1]
    more = len(problems) - len(kept)
    return (*kept, Problem(rest.file, rest.line, None, f"{more} more problem(s) not listed"))


def excerpt(value: str, redact: Redact) -> str:
    """Return a short, quoted, printable excerpt of file content, redacted before it is cut."""
    shown = printable(redact(value))
    if len(shown) > EXCERPT_CHARS:
        shown = shown[: EXCERPT_CHARS - 1] + "…"
    return f"'{shown}'"


def printable(text: str) -> str:
    """Return ``text`` with control characters, lone surrogates and odd spaces escaped.

    What a file or its name holds must not move the cursor of a terminal, split a log line
    or fail to encode on the way out.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def request_id_of(row: RequestRow, name: str, sha256: str) -> str:
    """Return the id a row is recorded under: the idempotency key of the request.

    The file's ``requestId`` when it has one (the same id is the same request, whatever file
    carries it); otherwise the file's name and content, so the same file dropped again under
    the same name is the same request and a new name is a new one.
    """
    if row.request_id is not None:
        return row.request_id
    key = hashlib.sha256(f"{name}\0{sha256}".encode("utf-8", "backslashreplace")).hexdigest()
    return f"f-{key[:12]}-{row.line}"


def _fatal(name: str, line: int, message: str) -> ParsedRequestFile:
    return ParsedRequestFile(name, (), (Problem(name, line, None, message),))


def _json_records(text: str) -> Iterator[tuple[int, Any]]:
    """Yield (line, element) of a top-level JSON array, each with the line it starts on.

    Numbers (and NaN / Infinity) stay source text: converting a 5,000-digit integer raises.
    """
    decoder = json.JSONDecoder(parse_int=_Number, parse_float=_Number, parse_constant=_Number)
    lines = _LineCounter(text)
    at = _skip_space(text, 0)
    if at >= len(text) or text[at] != "[":
        raise _FileError(lines.at(at), "expected a JSON array of request objects")
    at = _skip_space(text, at + 1)
    if at < len(text) and text[at] == "]":
        _after_array(text, at + 1, lines)
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, at)
        except json.JSONDecodeError as exc:
            raise _FileError(exc.lineno, f"invalid JSON: {exc.msg}") from None
        except RecursionError:
            raise _FileError(lines.at(at), "invalid JSON: nested too deeply") from None
        yield lines.at(at), value
        at = _skip_space(text, end)
        if at < len(text) and text[at] == ",":
            at = _skip_space(text, at + 1)
            continue
        if at < len(text) and text[at] == "]":
            _after_array(text, at + 1, lines)
            return
        raise _FileError(lines.at(at), "invalid JSON: expected ',' or ']'")


def _after_array(text: str, at: int, lines: _LineCounter) -> None:
    at = _skip_space(text, at)
    if at < len(text):
        raise _FileError(lines.at(at), "invalid JSON: extra data after the array")


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


class _LineCounter:
    """Line numbers of increasing offsets, counted once: a file of many small records stays
    linear, where counting from the start for each would be quadratic."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._offset = 0
        self._line = 1

    def at(self, offset: int) -> int:
        if offset < self._offset:
            return self._text.count("\n", 0, offset) + 1
        self._line += self._text.count("\n", self._offset, offset)
        self._offset = offset
        return self._line


def _csv_records(text: str, redact: Redact) -> Iterator[tuple[int, Any]]:
    """Yield (line, row dict) of a CSV with a header row naming the columns."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise _FileError(1, "empty file: expected a header row")
        columns = [column.strip() for column in header]
        unknown = [c for c in columns if c not in COLUMNS]
        if unknown:
            shown = ", ".join(excerpt(c, redact) for c in unknown[:_UNKNOWN_SHOWN])
            more = len(unknown) - _UNKNOWN_SHOWN
            raise _FileError(
                1, f"unknown column(s) {shown}" + (f" and {more} more" if more > 0 else "")
            )
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


def _row(name: str, line: int, record: Any, redact: Redact) -> RequestRow | list[Problem]:
    """Validate one record; returns the row or every problem it has."""
    if isinstance(record, _CellCount):
        message = f"{record.found} cell(s), the header has {record.expected}"
        return [Problem(name, line, None, message)]
    if not isinstance(record, Mapping):
        return [Problem(name, line, None, "expected an object of request fields")]
    problems: list[Problem] = []
    reported: set[str] = set()

    def bad(field: str, message: str) -> None:
        # One problem per field: the first (its type, length or characters) is the cause.
        if field not in reported:
            reported.add(field)
            problems.append(Problem(name, line, field, message))

    values = _values(record, bad, redact)
    shown = _Shown(redact)
    request_id = _request_id(values.get("requestId"), bad, shown)
    order_id = _id(values.get("orderId"), "orderId", bad, shown, required=True)
    item_id = _id(values.get("itemId"), "itemId", bad, shown, required=False)
    action = _action(values.get("action"), bad, shown)
    quantity = (
        _MISSING
        if "quantity" in reported
        else _quantity(values.get("quantity"), "quantity" in record, bad, shown)
    )
    if isinstance(quantity, int) and item_id is None and "itemId" not in reported:
        bad("quantity", "a quantity needs an itemId (blank itemId means the whole order)")
    if problems or order_id is None or action is None or quantity is _MISSING:
        return problems
    return RequestRow(
        line=line,
        order_id=order_id,
        action=action,
        item_id=item_id,
        quantity=quantity if isinstance(quantity, int) else None,
        tracking_number=values.get("trackingNumber"),
        tracking_company=values.get("trackingCompany"),
        tracking_url=values.get("trackingUrl"),
        reason=values.get("reason"),
        request_id=request_id,
    )


def _values(record: Mapping[Any, Any], bad: _Report, redact: Redact) -> dict[str, str | None]:
    """Return the known fields of a record as text; every other field is reported."""
    values: dict[str, str | None] = {}
    for key, raw in record.items():
        if key not in COLUMNS:
            bad(excerpt(str(key), redact), "unknown field")
            continue
        try:
            text = _text(raw)
        except _NotTextError:
            bad(key, "expected text or a number")
            continue
        if text is not None and len(text) > MAX_TEXT:
            bad(key, f"longer than {MAX_TEXT} characters")
        elif text is not None and (odd := _odd_character(text)) is not None:
            bad(key, odd)
        else:
            values[key] = text
    return values


@dataclass(frozen=True, slots=True)
class _Shown:
    """Quotes a value of the row being validated as a short redacted excerpt."""

    redact: Redact

    def __call__(self, value: str) -> str:
        return excerpt(value, self.redact)


#: Records one problem of the row being validated: (field, message).
_Report = Callable[[str, str], None]


def _text(raw: Any) -> str | None:
    """Return a cell as stripped text (None when blank); :class:`_NotTextError` otherwise."""
    if raw is None:
        return None
    if isinstance(raw, _Number):
        return raw.text
    if not isinstance(raw, str):
        raise _NotTextError
    return raw.strip() or None


def _odd_character(text: str) -> str | None:
    """Say why ``text`` cannot be recorded or sent: a control character or a lone surrogate."""
    if text.isprintable():
        return None
    for ch in text:
        kind = unicodedata.category(ch)
        if kind == "Cs":
            return f"holds a lone surrogate (U+{ord(ch):04X}), which is not text"
        if kind == "Cc":
            return f"holds the control character U+{ord(ch):04X}"
    return None


def _request_id(value: str | None, bad: _Report, shown: _Shown) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_REQUEST_ID or not is_valid_id(value):
        bad(
            "requestId",
            f"{shown(value)} is not a valid request id (up to {MAX_REQUEST_ID} letters, "
            "digits, '.', '_', '-')",
        )
        return None
    return value


def _id(
    value: str | None, field: str, bad: _Report, shown: _Shown, *, required: bool
) -> str | None:
    if value is None:
        if required:
            bad(field, "required")
        return None
    if not is_valid_id(value):
        bad(field, f"{shown(value)} is not a valid id (letters, digits, '.', '_', '-')")
        return None
    return value


def _action(value: str | None, bad: _Report, shown: _Shown) -> Action | None:
    if value is None:
        bad("action", "required (fulfill or cancel)")
        return None
    lowered = value.lower()
    for action in ACTIONS:
        if lowered == action:
            return action
    bad("action", f"{shown(value)} is neither fulfill nor cancel")
    return None


class _Missing:
    """No usable quantity: the row is refused (a blank never means "all")."""


_MISSING: Final = _Missing()


def _quantity(
    value: str | None, present: bool, bad: _Report, shown: _Shown
) -> int | str | _Missing:
    """Return the units asked for, :data:`ALL` for every open unit, or :data:`_MISSING`."""
    if value is None:
        said = "blank" if present else "missing"
        bad("quantity", f"required, {said} here: a whole number, or {ALL} for every open unit")
        return _MISSING
    if value.lower() == ALL:
        return ALL
    digits = value.lstrip("0")
    if (
        not value.isascii()
        or not value.isdigit()
        or not digits
        or len(digits) > len(str(MAX_QUANTITY))
    ):
        bad(
            "quantity",
            f"{shown(value)} is neither a whole number from 1 to {MAX_QUANTITY} nor {ALL}",
        )
        return _MISSING
    return int(digits)
