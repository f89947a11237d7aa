"""Size limits: an oversized file, line, record or cell is a fatal problem of its file, found
while streaming, and the reader never holds more than a limit's worth of it."""

from __future__ import annotations

import io
from typing import Final

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.core.conftest import Item

from catalog_sync.core.catalog import parse_bytes, parse_records
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem, Severity
from catalog_sync.core.textstream import Limits, OverLimitError

SMALL = Limits(file_bytes=10_000, line_chars=200, field_chars=100)
CSV_HEADER = "id,name,skuGroupId\n"
#: The most the JSON reader asks for at once.
JSON_CHUNK: Final = 1 << 16


def parse(name: str, text: str, limits: Limits = SMALL) -> list[Item]:
    """Parse ``text`` as the file ``name`` under ``limits``."""
    return list(parse_bytes(name, text.encode(), limits))


def fatal(items: list[Item]) -> Problem:
    """The fatal problem that ended the file; nothing of the file may be used after it."""
    last = items[-1]
    assert isinstance(last, Problem)
    assert last.severity is Severity.FATAL
    return last


def test_file_over_the_byte_limit_is_fatal() -> None:
    """A file larger than catalog_max_file_bytes is refused as a whole, naming the setting."""
    text = CSV_HEADER + "".join(f"S{i},Tent,g\n" for i in range(2000))
    problem = fatal(parse("c.csv", text))
    assert problem.line == 1
    assert "catalog_max_file_bytes" in problem.message


def test_csv_line_over_the_limit_is_fatal_at_its_line() -> None:
    """One long line in the middle of a CSV file ends the file there, naming the setting."""
    text = CSV_HEADER + "A,Tent,g\n" + "B," + "x" * 500 + ",g\nC,Lamp,g\n"
    problem = fatal(parse("c.csv", text))
    assert problem.line == 3
    assert "catalog_max_line_chars" in problem.message


def test_csv_row_spread_over_many_lines_counts_as_one() -> None:
    """A quoted cell of many short lines cannot dodge the limit: the row is what is counted."""
    cell = '"' + "ab\n" * 200 + '"'
    problem = fatal(parse("c.csv", CSV_HEADER + f"A,{cell},g\n"))
    assert problem.line == 2
    assert "catalog_max_line_chars" in problem.message


def test_csv_cell_over_the_field_limit_is_fatal() -> None:
    """A cell over catalog_max_field_chars (within the line limit) is named as such."""
    problem = fatal(parse("c.csv", CSV_HEADER + "A," + "x" * 150 + ",g\n"))
    assert (problem.line, problem.field) == (2, "file")
    assert "field larger than the 100-character limit (catalog_max_field_chars)" in str(problem)


def test_csv_cell_over_the_csv_module_limit_names_our_setting() -> None:
    """The csv module's own cell limit is reported like ours, naming the setting."""
    wide = Limits(line_chars=400_000, field_chars=131_072)
    problem = fatal(parse("c.csv", CSV_HEADER + "A," + "x" * 200_000 + ",g\n", wide))
    assert "catalog_max_field_chars" in problem.message


def test_jsonl_line_over_the_limit_is_fatal() -> None:
    """A JSONL line longer than the limit ends the file at that line."""
    text = '{"id": "A", "name": "T", "skuGroupId": "g"}\n{"name": "' + "x" * 300 + '"}\n'
    problem = fatal(parse("c.jsonl", text))
    assert problem.line == 2
    assert "catalog_max_line_chars" in problem.message


def test_json_record_over_the_limit_is_fatal() -> None:
    """One JSON record larger than the line limit is fatal, however its lines are split."""
    text = '[{"id": "A",\n "name": "T",\n "skuGroupId": "g",\n "x": [' + "1,\n" * 150 + "1]}]"
    problem = fatal(parse("c.json", text))
    assert "catalog_max_line_chars" in problem.message


def test_minified_json_catalog_is_not_one_long_line() -> None:
    """A JSON catalog written on one line is read record by record: small records all apply."""
    record = '{"id": "S%d", "name": "T", "skuGroupId": "g"}'
    text = "[" + ",".join(record % i for i in range(50)) + "]"
    assert len(text) > SMALL.line_chars
    items = parse("c.json", text)
    assert all(isinstance(item, DesiredPair) for item in items)
    assert len(items) == 50


@pytest.mark.parametrize(
    "record",
    [
        '{"id": "A", "name": "' + "x" * 150 + '", "skuGroupId": "g"}',
        '{"id": "A", "name": "T", "skuGroupId": "g", "' + "k" * 150 + '": 1}',
    ],
    ids=["value", "key"],
)
def test_json_string_over_the_field_limit_is_fatal(record: str) -> None:
    """A JSON string (value or key) over catalog_max_field_chars is fatal for the file."""
    problem = fatal(parse("c.json", f"[{record}]"))
    assert "catalog_max_field_chars" in problem.message


class EndlessText(io.StringIO):
    """A text stream that never ends: ``prefix``, then ``x`` forever.

    Records how much it served and the largest piece asked for, which is what a reader holds.
    """

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self._prefix = prefix
        self.served = 0
        self.largest_request = 0

    def read(self, size: int | None = -1, /) -> str:
        assert size is not None
        assert size > 0, "a reader asked for the whole stream"
        return self._serve(size)

    # typeshed gives StringIO the bytes readline of _IOBase as well as the text one.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        assert size is not None
        assert size > 0, "a reader asked for a whole line, however long"
        return self._serve(size)

    def _serve(self, size: int) -> str:
        self.largest_request = max(self.largest_request, size)
        piece, self._prefix = self._prefix[:size], self._prefix[size:]
        piece += "x" * (size - len(piece))
        self.served += len(piece)
        return piece


ENDLESS = {
    "c.csv": CSV_HEADER + "A,",
    "c.jsonl": '{"id": "A", "name": "',
    "c.json": '[{"id": "A", "name": "',
}


@given(name=st.sampled_from(sorted(ENDLESS)), limit=st.integers(8, 5000))
def test_endless_line_ends_the_file_with_bounded_reading(name: str, limit: int) -> None:
    """However long a line, cell or record, the reader stops with a fatal problem after reading
    at most the limit (and one read-ahead chunk), never asking for more at a time."""
    stream = EndlessText(ENDLESS[name])
    limits = Limits(line_chars=limit, field_chars=min(limit, 131_072))
    problem = fatal(list(parse_records(name, stream, limits)))
    assert "limit" in problem.message
    assert stream.largest_request <= max(limit + 1, JSON_CHUNK)
    assert stream.served <= len(ENDLESS[name]) + limit + 2 * JSON_CHUNK


class GrowingText(io.StringIO):
    """A stream whose source raises once it outgrew the file limit (as the file reader does)."""

    def __init__(self, text: str, after: int) -> None:
        super().__init__(text)
        self._after = after

    # typeshed gives StringIO the bytes readline of _IOBase as well as the text one.
    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        if self.tell() >= self._after:
            raise OverLimitError("file larger than the 10-byte limit (catalog_max_file_bytes)")
        return super().readline(-1 if size is None else size)


def test_file_growing_past_the_limit_while_read_is_fatal() -> None:
    """A file that outgrows the limit mid-read ends at the line reached, with nothing applied."""
    text = CSV_HEADER + "A,Tent,g\nB,Lamp,g\n"
    items = list(parse_records("c.csv", GrowingText(text, after=len(CSV_HEADER) + 5)))
    problem = fatal(items)
    assert problem.line == 2
    assert "catalog_max_file_bytes" in problem.message
