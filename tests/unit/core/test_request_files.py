"""Parsing merchant request files: valid rows, every problem at its file and line."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from catalog_sync.core.request_files import (
    COLUMNS,
    EXCERPT_CHARS,
    MAX_PROBLEMS,
    MAX_QUANTITY,
    RequestRow,
    is_request_file_name,
    parse_request_file,
    request_id_of,
)

HEADER = "orderId,itemId,action,quantity,trackingNumber,trackingCompany,trackingUrl,reason\n"
SECRET = "sk_test_0123456789abcdef0123456789abcdef0123456789abcdef"


def texts(name: str, data: str) -> list[str]:
    """The problems of a file as their one-line texts."""
    return [str(p) for p in parse_request_file(name, data.encode()).problems]


def hide_secret(text: str) -> str:
    """The redaction a caller passes: the one secret of these tests."""
    return text.replace(SECRET, "[redacted]")


def test_csv_rows_with_blank_item_mean_whole_order_and_all_means_all_open() -> None:
    """Blank itemId is the whole order; ``all`` (None) asks every open unit; tracking is kept."""
    parsed = parse_request_file(
        "r.csv", (HEADER + "100,,fulfill,all,,,,\n100,7,Cancel,2,T1,UPS,http://t,late\n").encode()
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
        f"r.csv:2: quantity: 'x' is neither a whole number from 1 to {MAX_QUANTITY} nor all",
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
        '[\n  {"orderId": "100", "action": "fulfill", "quantity": "all"},\n'
        '  {"orderId": 100, "action": 5, "quantity": "all",\n "x": 1}\n]'
    )
    parsed = parse_request_file("r.json", data.encode())
    assert parsed.rows == (RequestRow(2, "100", "fulfill"),)
    assert [str(p) for p in parsed.problems] == [
        "r.json:3: 'x': unknown field",
        "r.json:3: action: '5' is neither fulfill nor cancel",
    ]


def test_json_that_is_not_an_array_is_fatal() -> None:
    """The top level must be an array of request objects."""
    assert texts("r.json", json.dumps({"orderId": "1"})) == [
        "r.json:1: expected a JSON array of request objects"
    ]


def test_undecodable_bytes_name_their_line() -> None:
    """Invalid UTF-8 is reported at the line holding the bad byte."""
    parsed = parse_request_file("r.csv", b"orderId,action,quantity\n1,cancel,all\n\xff\n")
    assert [str(p) for p in parsed.problems] == ["r.csv:3: not UTF-8 text (byte 37)"]


def test_errors_files_are_not_request_files() -> None:
    """Our own ``.errors.json`` write-back is never read as requests."""
    assert [is_request_file_name(n) for n in ("a.csv", "a.json", "a.csv.errors.json")] == [
        True,
        True,
        False,
    ]


# -- quantity: a blank is an error, never "all" ----------------------------------------------
def test_blank_csv_quantity_is_an_error_never_all() -> None:
    """A half-written row (quantity still empty) is refused, not read as every open unit."""
    parsed = parse_request_file("r.csv", b"orderId,itemId,action,quantity\n100,7,cancel,\n")
    assert (parsed.rows, [str(p) for p in parsed.problems]) == (
        (),
        ["r.csv:2: quantity: required, blank here: a whole number, or all for every open unit"],
    )


@pytest.mark.parametrize("row", [{}, {"quantity": None}, {"quantity": ""}, {"quantity": "  "}])
def test_missing_or_null_json_quantity_is_an_error(row: dict[str, object]) -> None:
    """A JSON request without a usable quantity is refused whatever form the absence takes."""
    record = {"orderId": "100", "itemId": "7", "action": "cancel"} | row
    parsed = parse_request_file("r.json", json.dumps([record]).encode())
    assert parsed.rows == ()
    assert [p.field for p in parsed.problems] == ["quantity"]


def test_csv_without_a_quantity_column_is_rejected() -> None:
    """The column itself is required: a file cannot ask for "all" by leaving it out."""
    assert texts("r.csv", "orderId,itemId,action\n100,7,cancel\n") == [
        "r.csv:1: missing column(s) quantity"
    ]


@given(word=st.sampled_from(["all", "ALL", "All", "aLl"]), pad=st.sampled_from(["", " ", "  "]))
def test_all_in_any_case_asks_every_open_unit(word: str, pad: str) -> None:
    """``all`` is case-insensitive and may be padded; it is the only way to say "all open"."""
    data = f"orderId,itemId,action,quantity\n100,7,cancel,{pad}{word}{pad}\n".encode()
    assert parse_request_file("r.csv", data).rows == (RequestRow(2, "100", "cancel", "7"),)


@given(units=st.integers(min_value=1, max_value=MAX_QUANTITY), zeros=st.integers(0, 3))
def test_whole_numbers_up_to_the_bound_are_quantities(units: int, zeros: int) -> None:
    """Any whole number in range (leading zeros allowed) is the units asked for."""
    data = f"orderId,itemId,action,quantity\n100,7,cancel,{'0' * zeros}{units}\n".encode()
    (row,) = parse_request_file("r.csv", data).rows
    assert row.quantity == units


@given(
    value=st.one_of(
        st.integers(min_value=MAX_QUANTITY + 1).map(str),
        st.integers(max_value=0).map(str),
        st.sampled_from(["1.0", "1e3", "٣", "1_000", "+1", "0x10", "NaN", "alll", "½"]),
    )
)
def test_other_quantities_are_problems(value: str) -> None:
    """Zero, negatives, decimals, non-ASCII digits, over the bound: refused with the reason."""
    data = f"orderId,itemId,action,quantity\n100,7,cancel,{value}\n".encode()
    parsed = parse_request_file("r.csv", data)
    assert (parsed.rows, [p.field for p in parsed.problems]) == ((), ["quantity"])


# -- huge numbers -----------------------------------------------------------------------------
@settings(max_examples=30, suppress_health_check=[HealthCheck.too_slow])
@given(
    field=st.sampled_from(COLUMNS),
    digits=st.integers(min_value=4_000, max_value=20_000),
    shape=st.sampled_from(["{}", "-{}", "{}.5", "{}e99999", "0.{}"]),
)
def test_a_huge_json_number_in_any_field_is_a_problem_of_its_row(
    field: str, digits: int, shape: str
) -> None:
    """Numbers too long to convert are refused on their own line, never raised."""
    record = {"orderId": "100", "itemId": "7", "action": "cancel", "quantity": "1"}
    record.pop(field, None)
    number = shape.format("9" * digits)
    body = json.dumps(record)[:-1] + f', "{field}": {number}}}'
    data = f'[\n{{"orderId": "1", "action": "cancel", "quantity": "all"}},\n{body}\n]'
    parsed = parse_request_file("big.json", data.encode())
    assert [row.line for row in parsed.rows] == [2]
    assert [(p.line, p.field) for p in parsed.problems] == [(3, field)]
    assert all(len(str(p)) < 200 for p in parsed.problems)


# -- excerpts: short, printable, redacted -----------------------------------------------------
def test_a_file_holding_the_key_shows_it_redacted() -> None:
    """The key as a header line is an unknown column shown as ``[redacted]``, never itself."""
    parsed = parse_request_file("k.csv", f"{SECRET}\n".encode(), redact=hide_secret)
    assert [str(p) for p in parsed.problems] == ["k.csv:1: unknown column(s) '[redacted]'"]


def test_the_secret_is_redacted_before_the_excerpt_is_cut() -> None:
    """A long secret inside a long value leaves not even a prefix of itself in the excerpt."""
    data = f"orderId,itemId,action,quantity\n100,7,xx{SECRET}yy,1\n".encode()
    (problem,) = parse_request_file("r.csv", data, redact=hide_secret).problems
    assert SECRET[:12] not in str(problem)
    assert "[redacted]" in str(problem)


@given(
    value=st.text(min_size=EXCERPT_CHARS, max_size=3000).filter(
        lambda t: t.strip() and "," not in t and '"' not in t
    )
)
def test_values_are_quoted_as_short_printable_excerpts(value: str) -> None:
    """Whatever a bad cell holds, its problem quotes at most a short printable excerpt."""
    record = {"orderId": "100", "itemId": "7", "action": value, "quantity": "1"}
    parsed = parse_request_file("r.json", json.dumps([record]).encode())
    for problem in parsed.problems:
        text = str(problem)
        assert text.isprintable()
        assert len(text) <= len("r.json:1: action: '' is neither fulfill nor cancel") + (
            EXCERPT_CHARS
        )


@given(
    names=st.lists(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=400),
        min_size=1,
        max_size=50,
    )
)
def test_unknown_columns_are_listed_briefly(names: list[str]) -> None:
    """However many and however long the unknown columns, one short problem names them."""
    header = ",".join(json.dumps("x" + n) for n in names)
    parsed = parse_request_file("r.csv", (header + "\n").encode())
    for problem in parsed.problems:
        assert len(str(problem)) <= len("r.csv:1: unknown column(s) , ,  and 47 more") + 3 * (
            EXCERPT_CHARS + 2
        )


@pytest.mark.parametrize(
    ("field", "value"),
    [("reason", "late\u0000"), ("trackingNumber", "T\u001b[2J"), ("reason", "a\ud800b")],
)
def test_control_characters_and_lone_surrogates_in_text_are_refused(field: str, value: str) -> None:
    """Text that cannot be stored or sent is a problem of its field, not a crash later."""
    record = {"orderId": "100", "itemId": "7", "action": "cancel", "quantity": "1", field: value}
    parsed = parse_request_file("r.json", json.dumps([record]).encode())
    assert (parsed.rows, [p.field for p in parsed.problems]) == ((), [field])


def test_problems_of_one_file_are_bounded() -> None:
    """A file of thousands of bad rows lists a bounded number, the rest counted."""
    data = "orderId,itemId,action,quantity\n" + "100,7,ship,1\n" * 5000
    problems = parse_request_file("r.csv", data.encode()).problems
    assert len(problems) == MAX_PROBLEMS
    assert (
        str(problems[-1])
        == f"r.csv:{MAX_PROBLEMS + 1}: {5001 - MAX_PROBLEMS} more problem(s) not listed"
    )


# -- request ids -------------------------------------------------------------------------------
def test_request_id_is_the_idempotency_key_when_given() -> None:
    """A row's ``requestId`` is its id, whatever file or content carries it."""
    data = b"requestId,orderId,itemId,action,quantity\nshop-42,100,7,cancel,1\n"
    (row,) = parse_request_file("r.csv", data).rows
    assert [request_id_of(row, name, digest) for name, digest in [("a", "1"), ("b", "2")]] == [
        "shop-42",
        "shop-42",
    ]


def test_without_request_id_the_key_is_file_name_and_content() -> None:
    """Same name and content: the same request; a new name or new content: a new one."""
    (row,) = parse_request_file("r.csv", b"orderId,itemId,action,quantity\n100,7,cancel,1\n").rows
    same = request_id_of(row, "a.csv", "d1")
    assert (
        same == request_id_of(row, "a.csv", "d1"),
        same in {request_id_of(row, "b.csv", "d1"), request_id_of(row, "a.csv", "d2")},
    ) == (True, False)


@pytest.mark.parametrize("value", ["has space", "x" * 65, "a/b", "ü"])
def test_an_invalid_request_id_is_a_problem(value: str) -> None:
    """A requestId outside the id charset or over the length is refused on its row."""
    record = {"requestId": value, "orderId": "100", "action": "cancel", "quantity": "all"}
    parsed = parse_request_file("r.json", json.dumps([record]).encode())
    assert (parsed.rows, [p.field for p in parsed.problems]) == ((), ["requestId"])


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
