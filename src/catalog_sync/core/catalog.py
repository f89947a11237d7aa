"""Catalog files (CSV, JSON, JSONL) to validated desired pairs, and every problem found.

Pure: the caller opens files (``encoding="utf-8-sig", errors="strict"``) and hands in text
streams; this module reads them record by record, so memory grows with the pairs the plan needs,
never with file size, and no line, record or cell is held beyond its :class:`Limits`. A record
that fails validation is skipped and reported; a file that cannot be read at all (or is over a
limit) is reported as *fatal*, none of its rows are used and the pairs it held are protected
from any remote change (a half-written file must not look like deleted products).
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import PurePath
from typing import Final

from pydantic import ValidationError

from catalog_sync.core import codes
from catalog_sync.core.pairs import CATALOG_FIELDS, JSON, DesiredPair, SourceRef, desired_pair
from catalog_sync.core.problems import FILE_FIELD, Problem, Severity, excerpt
from catalog_sync.core.rows import DESCRIPTION_MAX, CatalogRow, unsendable
from catalog_sync.core.textstream import (
    DEFAULT_LIMITS,
    Cursor,
    JsonScanner,
    Limits,
    LineReader,
    OverLimitError,
    Source,
    UnparseableError,
    chunks,
    json_values,
    jsonl_values,
)


class CatalogFormat(StrEnum):
    """The file formats a catalog may be written in, by file suffix."""

    CSV = ".csv"
    JSON = ".json"
    JSONL = ".jsonl"


CATALOG_SUFFIXES: Final = tuple(member.value for member in CatalogFormat)


def format_of(name: str) -> CatalogFormat | None:
    """The format a file name announces, or ``None`` for a file that is not a catalog."""
    suffix = PurePath(name).suffix.lower()
    return next((fmt for fmt in CatalogFormat if fmt.value == suffix), None)


# ---------------------------------------------------------------------------- names


_FIELD_BY_FOLDED: Final = {f.replace("_", "").casefold(): f for f in CATALOG_FIELDS}
_METADATA: Final = "metadata"
#: Cells up to this length are deduplicated while reading a CSV file...
_SHARED_CELL_MAX: Final = 64
#: ...in the columns that repeat: one with more distinct values than this (ids, names, weights)
#: is not, or the table would hold every cell of the file until its end.
_SHARED_VALUES_MAX: Final = 512
_METADATA_PREFIX: Final = "metadata."
#: Names longer than this get no "did you mean" (no field name is nearly that long).
_SUGGEST_MAX: Final = 64
_NOT_WRITABLE: Final = {
    "managedfulfillment": "is never set: it would hand the pair to Digital River "
    "(orchestrated fulfillment)",
    "physical": "is read-only: Digital River derives it from taxCode",
    "createdtime": "is read-only",
    "updatedtime": "is read-only",
    "livemode": "is read-only",
}


def _fold(name: str) -> str:
    return name.strip().replace("_", "").casefold()


def _canonical(name: str) -> str | None:
    """The API field (or ``metadata.<key>``) a column or key name means, if any.

    Spelling is forgiving (``countryOfOrigin``, ``country_of_origin``, ``COUNTRY_OF_ORIGIN``);
    metadata keys keep their case, as the API stores them verbatim.
    """
    text = name.strip()
    if text[: len(_METADATA_PREFIX)].casefold() == _METADATA_PREFIX and len(text) > len(
        _METADATA_PREFIX
    ):
        return _METADATA_PREFIX + text[len(_METADATA_PREFIX) :]
    return _FIELD_BY_FOLDED.get(_fold(text))


def _unknown_message(name: str, noun: str) -> str:
    reason = _NOT_WRITABLE.get(_fold(name))
    if reason:
        return f"{noun} '{name}' {reason}; ignored"
    close = (
        difflib.get_close_matches(_fold(name), _FIELD_BY_FOLDED, n=1)
        if len(name) <= _SUGGEST_MAX
        else []
    )
    hint = f"; did you mean '{_FIELD_BY_FOLDED[close[0]]}'?" if close else ""
    return f"unknown {noun} '{excerpt(name)}' ignored{hint}"


@dataclass
class _Record:
    """One record's values keyed by API field, with the names the author used for them."""

    line: int
    values: dict[str, object] = field(default_factory=dict)
    metadata: dict[str, object] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    def put(self, canonical: str, written: str, value: object) -> None:
        if canonical in self.written:
            first = excerpt(self.written[canonical])
            self.errors.append((written, f"given twice, also as '{first}'"))
            return
        self.written[canonical] = written
        if canonical.startswith(_METADATA_PREFIX):
            self.metadata[canonical[len(_METADATA_PREFIX) :]] = value
        else:
            self.values[canonical] = value


def _clean(value: object) -> object:
    """Strip text; an empty cell, empty string or JSON ``null`` means "not set"."""
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


#: Names resolved per file, kept: a CSV file repeats its header on every row, a JSON file its
#: keys. Bounded, as a hostile file may use a new key in every record.
_RESOLVED_MAX: Final = 1024


class _Names:
    """Per-file name resolution that reports each unknown column or key only once."""

    def __init__(self, file: str, noun: str) -> None:
        self._file = file
        self._noun = noun
        self._reported: set[str] = set()
        self._resolved: dict[str, str | None] = {}

    def _canonical(self, name: str) -> str | None:
        try:
            return self._resolved[name]
        except KeyError:
            canonical = _canonical(name)
        if len(self._resolved) < _RESOLVED_MAX:
            self._resolved[name] = canonical
        return canonical

    def fill(self, record: _Record, items: Iterable[tuple[str, object]]) -> Iterator[Problem]:
        for name, raw in items:
            value = _clean(raw)
            canonical = self._canonical(name)
            if canonical is None:
                if name not in self._reported:
                    self._reported.add(name)
                    message = _unknown_message(name, self._noun)
                    yield Problem(self._file, record.line, name, message, Severity.WARNING)
            elif value is None:
                continue
            elif canonical == _METADATA:
                self._fill_metadata(record, name, value)
            else:
                record.put(canonical, name, value)

    @staticmethod
    def _fill_metadata(record: _Record, name: str, value: object) -> None:
        if not isinstance(value, dict):
            record.errors.append((name, "must be an object of key: value"))
            return
        for key, item in value.items():
            cleaned = _clean(item)
            if cleaned is not None:
                record.put(_METADATA_PREFIX + str(key), f"{name}.{key}", cleaned)


# ---------------------------------------------------------------------------- validation


_MESSAGES: Final = {"missing": "required", "dict_type": "must be an object of key: value"}


#: Errors about a defaulted field are located by attribute name; authors know the API's name.
_ALIASES: Final = {name: info.alias or name for name, info in CatalogRow.model_fields.items()}


def _record_id(record: _Record) -> str | None:
    value = record.values.get("id")
    return value if isinstance(value, str) and codes.is_valid_id(value) else None


def _error_field(record: _Record, loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "row"
    canonical = _ALIASES.get(str(loc[0]), str(loc[0]))
    if canonical == _METADATA and len(loc) > 1:
        canonical = f"{_METADATA_PREFIX}{loc[1]}"
    return record.written.get(canonical, canonical)


#: Metadata objects already seen in a file, by content (types included: ``1`` is not ``True``):
#: most rows repeat a few combinations.
_SharedMetadata = dict[tuple[tuple[str, type, JSON], ...], JSON]


def _validate(
    file: str, record: _Record, metadata: _SharedMetadata
) -> Iterator[DesiredPair | Problem]:
    sku_id = _record_id(record)
    problems = [
        Problem(file, record.line, name, message, Severity.ERROR, sku_id)
        for name, message in record.errors
    ]
    # Keys are checked here, not by the model: a key that cannot be encoded would reach the
    # model's error location mangled, and the problem must name the key as written.
    for key in list(record.metadata):
        why = unsendable(key)
        if why is not None:
            written = record.written[_METADATA_PREFIX + key]
            problems.append(Problem(file, record.line, written, why, Severity.ERROR, sku_id))
            del record.metadata[key]
    data = dict(record.values)
    if record.metadata:
        data[_METADATA] = record.metadata
    try:
        row = CatalogRow.model_validate(data)
    except ValidationError as exc:
        problems.extend(
            Problem(
                file,
                record.line,
                _error_field(record, err["loc"]),
                _MESSAGES.get(err["type"], err["msg"]),
                Severity.ERROR,
                sku_id,
            )
            for err in exc.errors(include_url=False)
        )
        yield from problems
        return
    if problems:
        yield from problems
        return
    if row.description is not None and len(row.description) > DESCRIPTION_MAX:
        yield Problem(
            file,
            record.line,
            record.written["description"],
            f"longer than the {DESCRIPTION_MAX} characters Digital River recommends",
            Severity.WARNING,
            row.id,
        )
    fields: dict[str, JSON] = row.model_dump(by_alias=True, exclude_none=True)
    value = fields.get(_METADATA)
    if isinstance(value, dict):
        fields[_METADATA] = metadata.setdefault(
            tuple((k, type(v), v) for k, v in value.items()), value
        )
    yield desired_pair(row.id, fields, SourceRef(file, record.line))


# ---------------------------------------------------------------------------- readers


class _SharedCells:
    """One copy of each short value per CSV column, for as long as the column keeps repeating."""

    def __init__(self, columns: int) -> None:
        self._columns: list[dict[str, str] | None] = [{} for _ in range(columns)]

    def cells(self, row: list[str]) -> list[str]:
        return [self._share(column, cell) for column, cell in enumerate(row)]

    def _share(self, column: int, cell: str) -> str:
        values = self._columns[column] if column < len(self._columns) else None
        if values is None or len(cell) > _SHARED_CELL_MAX:
            return cell
        shared = values.setdefault(cell, cell)
        if len(values) > _SHARED_VALUES_MAX:
            self._columns[column] = None
        return shared


def _csv_rows(lines: LineReader, limits: Limits) -> Iterator[tuple[int, int, list[str]]]:
    """``(first line, last line, cells)`` of each CSV row, each within the line limit (whatever
    lines it spans) and the field limit."""
    reader = csv.reader(lines, strict=True)
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            # The module's own cell limit (131072) is the most a setting may allow.
            if str(exc).startswith("field larger than field limit"):
                raise UnparseableError(start, limits.field_message()) from None
            raise
        if row is None:
            return
        lines.record_chars = 0
        if max(map(len, row), default=0) > limits.field_chars:
            raise UnparseableError(start, limits.field_message())
        yield start, reader.line_num, row


def _csv_records(
    file: str, source: Source, cursor: Cursor, limits: Limits
) -> Iterator[_Record | Problem]:
    rows = _csv_rows(LineReader(source, cursor, limits), limits)
    first = next(rows, None)
    while first is not None and first[2] == []:
        first = next(rows, None)
    if first is None:
        raise UnparseableError(1, "empty file: expected a header row")
    _, header_line, header = first
    if "id" not in {_canonical(name) for name in header}:
        raise UnparseableError(header_line, "the header row has no 'id' column")
    names = _Names(file, "column")
    yield from names.fill(_Record(header_line), ((name, None) for name in header))
    # Most columns repeat a few values (tax codes, countries, units): keep one copy of each, so
    # memory grows with the number of pairs, not with the number of cells.
    shared = _SharedCells(len(header))
    for start, _end, row_cells in rows:
        cells = shared.cells(row_cells)
        record = _Record(start)
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(header):
            yield Problem(
                file,
                record.line,
                "row",
                f"has {len(cells)} cells but the header has {len(header)}",
                Severity.ERROR,
                _csv_row_id(header, cells),
            )
            continue
        yield from names.fill(record, zip(header, cells, strict=True))
        yield record


def _csv_row_id(header: list[str], cells: list[str]) -> str | None:
    for name, cell in zip(header, cells, strict=False):
        if _canonical(name) == "id":
            value = cell.strip()
            return value if codes.is_valid_id(value) else None
    return None


def _json_records(file: str, values: Iterable[tuple[int, object]]) -> Iterator[_Record | Problem]:
    names = _Names(file, "key")
    for line, value in values:
        record = _Record(line)
        if not isinstance(value, dict):
            yield Problem(file, line, "row", "must be a JSON object", Severity.ERROR)
            continue
        yield from names.fill(record, ((str(k), v) for k, v in value.items()))
        yield record


def _records(
    file: str, fmt: CatalogFormat, source: Source, cursor: Cursor, limits: Limits
) -> Iterator[_Record | Problem]:
    if fmt is CatalogFormat.CSV:
        return _csv_records(file, source, cursor, limits)
    if fmt is CatalogFormat.JSON:
        return _json_records(file, json_values(JsonScanner(chunks(source), cursor, limits)))
    return _json_records(file, jsonl_values(source, cursor, limits))


# ---------------------------------------------------------------------------- public API


def unreadable_problem(file: str, reason: str) -> Problem:
    """The problem of a file that could not be read at all (``reason`` says why)."""
    return _fatal(file, 1, reason)


def _fatal(file: str, line: int, message: str) -> Problem:
    note = "; nothing in this file is applied and its pairs are left as they are"
    return Problem(file, max(line, 1), FILE_FIELD, message + note, Severity.FATAL)


def parse_records(
    name: str, source: Source, limits: Limits = DEFAULT_LIMITS
) -> Iterator[DesiredPair | Problem]:
    """Valid pairs and problems of one file, in file order, one record at a time.

    ``name`` is shown in problems and decides the format by suffix. A fatal problem, if any,
    is the last item: records yielded before it must not be used (see :class:`CatalogBuilder`).
    A ``source`` that outgrows ``limits.file_bytes`` while being read raises
    :class:`~catalog_sync.core.textstream.OverLimitError`, which ends the file the same way.
    """
    fmt = format_of(name)
    if fmt is None:
        yield _fatal(name, 1, f"not a catalog file: use {', '.join(CATALOG_SUFFIXES)}")
        return
    cursor = Cursor()
    metadata: _SharedMetadata = {}
    try:
        for item in _records(name, fmt, source, cursor, limits):
            if isinstance(item, Problem):
                yield item
            else:
                yield from _validate(name, item, metadata)
    except UnparseableError as exc:
        yield _fatal(name, exc.line, exc.message)
    except OverLimitError as exc:
        yield _fatal(name, cursor.line, f"{exc.message} (read up to this line)")
    except UnicodeDecodeError as exc:
        yield _fatal(name, cursor.line, f"not UTF-8 text ({exc.reason}) at or after this line")
    except csv.Error as exc:
        yield _fatal(name, cursor.line, f"malformed CSV: {exc}")


def parse_bytes(
    name: str, data: bytes, limits: Limits = DEFAULT_LIMITS
) -> Iterator[DesiredPair | Problem]:
    """Like :func:`parse_records` for raw bytes, naming the exact line of an encoding error."""
    if len(data) > limits.file_bytes:
        yield _fatal(name, 1, limits.file_message())
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        yield _fatal(name, line, f"not UTF-8 text (byte 0x{data[exc.start]:02x})")
        return
    yield from parse_records(name, io.StringIO(text, newline=None), limits)


@dataclass(frozen=True)
class Catalog:
    """Every valid pair of the catalog, and what went wrong reading it."""

    pairs: Mapping[str, DesiredPair]
    problems: tuple[Problem, ...]
    unparseable_files: frozenset[str]
    #: Every SKU id seen in each file: valid, rejected, or read before a file broke.
    ids_by_file: Mapping[str, frozenset[str]]
    #: Ids of records skipped for errors (when their id itself was readable).
    rejected_ids: frozenset[str]

    @property
    def complete(self) -> bool:
        """Whether every file was read; deleting orphans is only ever safe when it was."""
        return not self.unparseable_files

    @property
    def protected_ids(self) -> frozenset[str]:
        """Ids whose remote pair must be left alone: held by a broken file or a rejected row.

        An id defined validly elsewhere in the catalog is not protected: that row applies.
        """
        held = set(self.rejected_ids)
        for file in self.unparseable_files:
            held.update(self.ids_by_file[file])
        return frozenset(held.difference(self.pairs))

    @property
    def invalid_rows(self) -> int:
        """How many records were skipped for errors (one record may have several problems)."""
        return len({(p.file, p.line) for p in self.problems if p.severity is Severity.ERROR})


class CatalogBuilder:
    """Accumulates files into a :class:`Catalog`, so the caller can open one file at a time.

    Files are taken in the order given; the caller passes them sorted by path so that, of two
    rows with the same id, the one that wins (the first seen) does not depend on the disk.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._pairs: dict[str, DesiredPair] = {}
        self._problems: list[Problem] = []
        self._unparseable: set[str] = set()
        self._ids_by_file: dict[str, frozenset[str]] = {}
        self._rejected: set[str] = set()

    def add(self, name: str, source: Source) -> None:
        """Read one file's text."""
        self.add_records(name, parse_records(name, source, self._limits))

    def add_bytes(self, name: str, data: bytes) -> None:
        """Read one file's raw bytes."""
        self.add_records(name, parse_bytes(name, data, self._limits))

    def add_records(self, name: str, items: Iterable[DesiredPair | Problem]) -> None:
        """Take one file's parsed records (a reader that opens the file itself)."""
        accepted: dict[str, DesiredPair] = {}
        seen: set[str] = set()
        broken = False
        for item in items:
            if isinstance(item, Problem):
                self._problems.append(item)
                broken = broken or item.severity is Severity.FATAL
                if item.severity is Severity.ERROR and item.sku_id is not None:
                    self._rejected.add(item.sku_id)
                    seen.add(item.sku_id)
                continue
            seen.add(item.id)
            first = self._pairs.get(item.id) or accepted.get(item.id)
            if first is None:
                accepted[item.id] = item
            else:
                self._problems.append(_duplicate(item, first))
        self._ids_by_file[name] = frozenset(seen)
        if broken:
            self._unparseable.add(name)
        else:
            self._pairs.update(accepted)

    def build(self) -> Catalog:
        """The catalog as read so far."""
        return Catalog(
            pairs=dict(self._pairs),
            problems=tuple(self._problems),
            unparseable_files=frozenset(self._unparseable),
            ids_by_file=dict(self._ids_by_file),
            rejected_ids=frozenset(self._rejected),
        )


def _duplicate(item: DesiredPair, first: DesiredPair) -> Problem:
    return duplicate_problem(item.source, item.id, first.source)


def duplicate_problem(row: SourceRef, pair_id: str, first: SourceRef) -> Problem:
    """The problem of a row whose id an earlier row (``first``) already defined."""
    return Problem(
        row.file,
        row.line,
        "id",
        f"duplicate SKU id '{pair_id}', first defined at {first}; "
        "this row is skipped (the first definition wins)",
        Severity.ERROR,
        pair_id,
    )


def load_catalog(sources: Iterable[tuple[str, Source]], limits: Limits = DEFAULT_LIMITS) -> Catalog:
    """Read every ``(display name, text stream)`` into one catalog."""
    builder = CatalogBuilder(limits)
    for name, source in sources:
        builder.add(name, source)
    return builder.build()


def merge_catalogs(parts: Iterable[Catalog]) -> Catalog:
    """Merge per-file catalogs, taken in the order given, into one.

    The daemon keeps each file parsed on its own and re-parses only the files that change; this
    merge is dictionary work, so a one-row change in a 100,000-row catalog costs milliseconds.
    Of two rows with the same id in different files the first wins, as :class:`CatalogBuilder`
    decides; a broken file contributes no pairs, hence no duplicates either.
    """
    pairs: dict[str, DesiredPair] = {}
    problems: list[Problem] = []
    unparseable: set[str] = set()
    ids_by_file: dict[str, frozenset[str]] = {}
    rejected: set[str] = set()
    for part in parts:
        problems.extend(part.problems)
        clashes = part.pairs.keys() & pairs.keys()
        if clashes:
            problems.extend(_duplicate(part.pairs[i], pairs[i]) for i in sorted(clashes))
            pairs.update((i, pair) for i, pair in part.pairs.items() if i not in clashes)
        else:
            pairs.update(part.pairs)
        unparseable.update(part.unparseable_files)
        ids_by_file.update(part.ids_by_file)
        rejected.update(part.rejected_ids)
    return Catalog(
        pairs=pairs,
        problems=tuple(problems),
        unparseable_files=frozenset(unparseable),
        ids_by_file=ids_by_file,
        rejected_ids=frozenset(rejected),
    )
