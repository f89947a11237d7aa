"""One problem type for every file people drop: catalogs and merchant request files.

The ``validate`` command, the reconcile report, the errors file beside a request file and the
logs print the same objects; these tests pin the one way they read.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.core.catalog import parse_bytes
from catalog_sync.core.problems import Problem, Severity
from catalog_sync.core.request_files import parse_request_file


def test_both_parsers_report_the_one_problem_type() -> None:
    """A bad catalog row and a bad request row are both a ``Problem``, read the same way."""
    catalog = [
        p for p in parse_bytes("c.csv", b"id,name\nbad id!,Tent\n") if isinstance(p, Problem)
    ]
    requests = parse_request_file("r.csv", b"orderId,action,quantity\n100,ship,1\n")
    assert {type(p) for p in [*catalog, *requests.problems]} == {Problem}
    assert str(catalog[0]).startswith("c.csv:2: id: ")
    assert str(requests.problems[0]).startswith("r.csv:2: action: ")


def test_a_problem_naming_no_field_reads_file_line_message() -> None:
    """A problem with a whole row or file names no field: ``file:line: message``."""
    assert str(Problem("r.json", 1, None, "no request rows")) == "r.json:1: no request rows"


def test_a_problem_naming_a_field_reads_file_line_field_message() -> None:
    """A problem with one field names it between the place and the message."""
    problem = Problem("c.csv", 3, "hsCode", "not a valid HS code", Severity.WARNING)
    assert str(problem) == "c.csv:3: hsCode: not a valid HS code"


@given(
    text=st.text(st.characters(categories=["Cc", "Cs", "Zl", "Zp", "Cf", "L"]), max_size=30),
    field=st.none() | st.text(max_size=300),
)
def test_a_problem_is_printable_whatever_it_quotes(text: str, field: str | None) -> None:
    """Control characters and lone surrogates in a name, field or message are escaped on
    creation, so any problem can be written to a terminal, a log or a UTF-8 file."""
    line = str(Problem(text, 1, field, text))
    line.encode("utf-8")
    assert "\n" not in line
    assert "\x1b" not in line
