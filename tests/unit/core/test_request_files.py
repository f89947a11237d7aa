"""Parsing merchant request files: valid rows, every problem at its file and line."""

from __future__ import annotations

import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_sync.core.request_files import (
    RequestRow,
    is_request_file_name,
    parse_request_file,
)

HEADER = "orderId,itemId,action,quantity,trackingNumber,trackingCompany,trackingUrl,reason\n"


def texts(name: str, data: str) -> list[str]:
    """The problems of a file as their one-line texts."""
    return [str(p) for p in parse_request_file(name, data.encode()).problems]


def test_csv_rows_with_blanks_mean_whole_order_and_all_open() -> None:
    """Blank itemId / quantity become None; tracking fields are kept."""
    parsed = parse_request_file(
        "r.csv", (HEADER + "100,,fulfill,,,,,\n100,7,Cancel,2,T1,UPS,http://t,late\n").encode()
    )
    assert parsed.rows == (
        RequestRow(2, "100", "fulfill"),
        RequestRow(3, "100", "cancel", "7", 2, "T1", "UPS", "http://t", "late"),
    )


def test_bad_csv_rows_are_named_by_line_and_field() -> None:
    """Each bad cell is reported; the good row survives."""
    data = HEADER + "100,7,ship,x,,,,\n100,7,fulfill,1,,,,\n,,cancel,3,,,,\n"
    assert texts("r.csv", data) == [
        "r.csv:2: action: 'ship' is neither fulfill nor cancel",
        "r.csv:2: quantity: 'x' is not a positive whole number",
        "r.csv:4: orderId: required",
        "r.csv:4: quantity: a quantity needs an itemId (blank itemId means the whole order)",
    ]


def test_unknown_csv_column_rejects_the_file() -> None:
    """A misspelt column is fatal: no row of the file is used."""
    parsed = parse_request_file("r.csv", b"orderId,action,quantiy\n100,cancel,1\n")
    assert (parsed.rows, [str(p) for p in parsed.problems]) == (
        (),
        ["r.csv:1: unknown column(s) 'quantiy'"],
    )


def test_json_rows_carry_the_line_they_start_on() -> None:
    """A JSON array's objects are numbered by the line each starts on."""
    data = (
        '[\n  {"orderId": "100", "action": "fulfill"},\n'
        '  {"orderId": 100, "action": 5,\n "x": 1}\n]'
    )
    parsed = parse_request_file("r.json", data.encode())
    assert parsed.rows == (RequestRow(2, "100", "fulfill"),)
    assert [str(p) for p in parsed.problems] == [
        "r.json:3: x: unknown field",
        "r.json:3: action: '5' is neither fulfill nor cancel",
    ]


def test_json_that_is_not_an_array_is_fatal() -> None:
    """The top level must be an array of request objects."""
    assert texts("r.json", json.dumps({"orderId": "1"})) == [
        "r.json:1: expected a JSON array of request objects"
    ]


def test_undecodable_bytes_name_their_line() -> None:
    """Invalid UTF-8 is reported at the line holding the bad byte."""
    parsed = parse_request_file("r.csv", b"orderId,action\n1,cancel\n\xff\n")
    assert [str(p) for p in parsed.problems] == ["r.csv:3: not UTF-8 text (byte 24)"]


def test_errors_files_are_not_request_files() -> None:
    """Our own ``.errors.json`` write-back is never read as requests."""
    assert [is_request_file_name(n) for n in ("a.csv", "a.json", "a.csv.errors.json")] == [
        True,
        True,
        False,
    ]


_WHERE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): ")


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=400), csv_file=st.booleans())
def test_arbitrary_bytes_never_crash_and_problems_name_file_and_line(
    data: bytes, csv_file: bool
) -> None:
    """Whatever the bytes, parsing returns; every problem starts with ``file:line:``."""
    name = "drop.csv" if csv_file else "drop.json"
    parsed = parse_request_file(name, data)
    for problem in parsed.problems:
        match = _WHERE.match(str(problem))
        assert match is not None
        assert (match["file"], int(match["line"]) >= 1) == (name, True)


@settings(max_examples=50, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.dictionaries(
            st.sampled_from(["orderId", "itemId", "action", "quantity", "reason", "other"]),
            st.one_of(st.none(), st.text(max_size=8), st.integers(-3, 9), st.booleans()),
            max_size=4,
        ),
        max_size=3,
    )
)
def test_arbitrary_json_rows_are_rows_or_problems(rows: list[dict[str, object]]) -> None:
    """Each JSON object yields a row or at least one problem on its own line."""
    data = "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]"
    parsed = parse_request_file("r.json", data.encode())
    lines = {row.line for row in parsed.rows} | {p.line for p in parsed.problems}
    assert lines == set(range(2, 2 + len(rows)))
