"""Every value a catalog row keeps can be encoded, hashed and sent; anything else is a problem.

A value that cannot be sent must be a ``file:line: field: message`` problem that skips its row,
never an exception later (hashing, reporting, sending) that would stop a whole run.
"""

from __future__ import annotations

import json
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from tests.hostile_values import (
    INT64_MAX,
    INT64_MIN,
    control_characters,
    foreign_digits,
    json_text,
    lone_surrogates,
    loose_numbers,
    out_of_range_integers,
    text_holding,
)
from tests.unit.core.conftest import VALID, Item

from catalog_sync.core.catalog import parse_bytes
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem, Severity

#: Every text field of a row, with what else the row needs for that field to be checked.
TEXT_FIELDS: dict[str, dict[str, object]] = {
    "id": {},
    "name": {},
    "skuGroupId": {},
    "taxCode": {},
    "eccn": {},
    "countryOfOrigin": {},
    "hsCode": {},
    "partNumber": {},
    "manufacturerId": {},
    "itemBreadcrumb": {},
    "image": {},
    "url": {},
    "allowOversell": {},
    "weight": {"weightUnit": "kg"},
    "weightUnit": {"weight": 2},
}


def parse_json(*records: dict[str, object]) -> list[Item]:
    """Parse the records as a JSON catalog file ``c.json``, one record per line."""
    lines = ",\n".join(json_text(record) for record in records)
    return list(parse_bytes("c.json", f"[\n{lines}\n]".encode()))


def parse_one(**changes: object) -> list[Item]:
    """Parse :data:`VALID` with ``changes`` as the only record of ``c.json``."""
    return parse_json({**VALID, **changes})


def only_problem(items: list[Item]) -> Problem:
    """The single problem of a refused row (and check nothing of the row was kept)."""
    assert not any(isinstance(item, DesiredPair) for item in items), items
    problems = [item for item in items if isinstance(item, Problem)]
    assert len(problems) == 1, problems
    return problems[0]


def assert_printable(problem: Problem) -> None:
    """The problem's line can be written to any UTF-8 output: terminal, log, report."""
    text = str(problem)
    text.encode("utf-8")
    assert not {unicodedata.category(char) for char in text} & {"Cc", "Cs"}


@given(field=st.sampled_from(sorted(TEXT_FIELDS)), value=text_holding(lone_surrogates()))
def test_lone_surrogate_in_any_field_skips_the_row(field: str, value: str) -> None:
    """A lone surrogate (a JSON escape no encoder can write) is an error on its field."""
    problem = only_problem(parse_one(**TEXT_FIELDS[field], **{field: value}))
    assert (problem.file, problem.line, problem.field) == ("c.json", 2, field)
    assert problem.severity is Severity.ERROR
    assert_printable(problem)


@given(value=text_holding(lone_surrogates()))
def test_lone_surrogate_in_description_skips_the_row(value: str) -> None:
    """The description, which allows line breaks, still refuses surrogates."""
    problem = only_problem(parse_one(description=value))
    assert problem.field == "description"
    assert "surrogate" in problem.message


@given(key=text_holding(lone_surrogates()) | text_holding(control_characters()))
def test_metadata_key_that_cannot_be_sent_is_named(key: str) -> None:
    """A metadata key with a surrogate or control character is an error on that key."""
    problem = only_problem(parse_one(metadata={key: "v"}))
    assert (problem.field or "").startswith("metadata.")
    assert_printable(problem)


@given(value=text_holding(lone_surrogates()) | text_holding(control_characters()))
def test_metadata_value_that_cannot_be_sent_is_named(value: str) -> None:
    """A metadata text value with a surrogate or control character is an error on its key."""
    problem = only_problem(parse_one(metadata={"note": value}))
    assert problem.field == "metadata.note"
    assert_printable(problem)


@given(key=text_holding(lone_surrogates()))
def test_unknown_key_with_a_surrogate_is_a_printable_warning(key: str) -> None:
    """An unknown key is only a warning, and its name is shown escaped; the row applies."""
    items = parse_one(**{key: 1})
    warning, pair = items
    assert isinstance(warning, Problem)
    assert warning.severity is Severity.WARNING
    assert_printable(warning)
    assert isinstance(pair, DesiredPair)


@given(
    field=st.sampled_from(sorted(set(TEXT_FIELDS) - {"weight"})),
    value=text_holding(control_characters()),
)
def test_control_character_in_a_one_line_field_skips_the_row(field: str, value: str) -> None:
    """NUL, escape, tab, line breaks and every other control character are refused."""
    problem = only_problem(parse_one(**TEXT_FIELDS[field], **{field: value}))
    assert problem.field == field
    assert_printable(problem)


@given(value=text_holding(control_characters(line_breaks=False)))
def test_control_character_in_description_skips_the_row(value: str) -> None:
    """The description refuses control characters other than tab and line breaks."""
    problem = only_problem(parse_one(description=value))
    assert problem.field == "description"
    assert "control character" in problem.message


@given(value=text_holding(st.sampled_from("\t\n\r")))
def test_description_keeps_tabs_and_line_breaks(value: str) -> None:
    """A multi-line description is legitimate and applies as written (trimmed)."""
    (pair,) = parse_one(description=value)
    assert isinstance(pair, DesiredPair)
    assert pair.sku["description"] == value.strip()


def test_nul_in_a_csv_cell_is_named() -> None:
    """A raw NUL byte in a CSV name is an error on that cell, the other rows apply."""
    data = b"id,name,skuGroupId\nA,Te\x00nt,g\nB,Lamp,g\n"
    items = list(parse_bytes("c.csv", data))
    assert [str(i) for i in items if isinstance(i, Problem)] == [
        (
            "c.csv:2: name: holds the control character U+0000; "
            "only description may hold tabs and line breaks"
        )
    ]
    assert [i.id for i in items if isinstance(i, DesiredPair)] == ["B"]


@given(value=foreign_digits() | loose_numbers())
def test_weight_accepts_only_ascii_decimals(value: str) -> None:
    """``٣``, ``1_000``, ``1e3``, ``inf``: whatever Python's float takes, a weight does not."""
    problem = only_problem(parse_one(weight=value, weightUnit="kg"))
    assert problem.field == "weight"
    assert_printable(problem)


@given(whole=st.integers(1, 10**9), fraction=st.text("0123456789", max_size=4))
def test_ascii_decimal_weight_is_accepted(whole: int, fraction: str) -> None:
    """Digits with an optional decimal point are a weight, in a string as in a number."""
    text = f"{whole}.{fraction}" if fraction else str(whole)
    (pair,) = parse_one(weight=text, weightUnit="kg")
    assert isinstance(pair, DesiredPair)
    assert pair.sku["weight"] == float(text)


@given(value=out_of_range_integers())
def test_metadata_integer_outside_64_bits_is_refused(value: int) -> None:
    """A metadata integer must fit a 64-bit signed integer; 400 digits do not."""
    problem = only_problem(parse_one(metadata={"n": value}))
    assert problem.field == "metadata.n"
    assert "out of range" in problem.message


@given(value=st.integers(INT64_MIN, INT64_MAX))
def test_metadata_integer_inside_64_bits_is_kept(value: int) -> None:
    """Integers in range keep their value and their JSON type."""
    (pair,) = parse_one(metadata={"n": value})
    assert isinstance(pair, DesiredPair)
    assert pair.sku["metadata"] == {"n": value}


def test_integer_too_long_for_python_is_a_row_error() -> None:
    """5,000 digits (over Python's conversion limit) refuse one row; the next row applies."""
    digits = "7" * 5000
    text = (
        '[{"id": "A", "name": "T", "skuGroupId": "g", "metadata": {"n": ' + digits + "}},\n"
        ' {"id": "B", "name": "T", "skuGroupId": "g"}]'
    )
    items = list(parse_bytes("c.json", text.encode()))
    assert [str(i) for i in items if isinstance(i, Problem)] == [
        f"c.json:1: metadata.n: a 5000-digit integer is out of range {INT64_MIN} to {INT64_MAX}"
    ]
    assert [i.id for i in items if isinstance(i, DesiredPair)] == ["B"]


def test_long_value_is_quoted_as_an_excerpt() -> None:
    """A message quotes at most a short excerpt of the value, never the value itself."""
    problem = only_problem(parse_one(countryOfOrigin="Z" * 10_000))
    assert len(problem.message) < 200
    assert "10000 characters" in problem.message


@given(
    record=st.fixed_dictionaries(
        {},
        optional={
            name: st.text(max_size=20) | st.integers() | st.booleans() | st.floats()
            for name in TEXT_FIELDS
        },
    )
)
def test_every_kept_row_can_be_hashed_and_sent(record: dict[str, object]) -> None:
    """Whatever a record holds, a pair the parser keeps hashes and encodes as UTF-8 JSON."""
    for item in parse_one(**record):
        if isinstance(item, DesiredPair):
            item.content_hash()
            body = {"id": item.id, **dict(item.sku)}
            json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")
        else:
            assert_printable(item)
