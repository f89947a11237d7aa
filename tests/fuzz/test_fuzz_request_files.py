"""Fuzz: no bytes and no JSON make the request-file parser raise; every problem is well formed.

Arbitrary bytes, near misses of valid files, and arbitrary JSON (deep, with lone surrogates,
control characters and numbers too long to convert) are parsed as both a ``.json`` and a
``.csv`` file. Whatever comes in, the parser returns, and each problem names the file and a
line of it, is printable (nothing of the file can reach a terminal or log raw) and quotes no
registered secret.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.core.request_files import (
    COLUMNS,
    EXCERPT_CHARS,
    MAX_PROBLEMS,
    ParsedRequestFile,
    parse_request_file,
)

SECRET: Final = "sk_test_f00dfacef00dfacef00dfacef00dface"
NAMES: Final = ("drop.json", "drop.csv")
_WHERE: Final = re.compile(r"^(?P<file>drop\.(?:json|csv)):(?P<line>\d+): ")
VALID: Final = {
    "drop.json": (
        b'[\n {"requestId": "r-1", "orderId": "100", "itemId": "7", "action": "cancel",'
        b' "quantity": 1, "reason": "late"},\n {"orderId": "100", "action": "fulfill",'
        b' "quantity": "all", "trackingNumber": "T1"}\n]\n'
    ),
    "drop.csv": (
        b"requestId,orderId,itemId,action,quantity,reason\n"
        b'r-1,100,7,cancel,1,"late, again"\n,100,,fulfill,ALL,\n'
    ),
}


def hide(text: str) -> str:
    """The caller's redaction of these runs."""
    return text.replace(SECRET, "[redacted]")


def check(name: str, data: bytes) -> ParsedRequestFile:
    """Parse ``data`` as ``name``; assert what must hold of any result."""
    parsed = parse_request_file(name, data, redact=hide)
    lines = len(data.splitlines()) + 1  # CSV also ends a line at a lone carriage return
    assert len(parsed.problems) <= MAX_PROBLEMS
    for problem in parsed.problems:
        text = str(problem)
        match = _WHERE.match(text)
        assert match is not None, text
        assert (match["file"], 1 <= int(match["line"]) <= lines) == (name, True), text
        assert text.isprintable(), text
        assert SECRET not in text
        text.encode("utf-8")  # no lone surrogate survives into a problem
    for row in parsed.rows:
        assert 1 <= row.line <= lines
        assert row.quantity is None or row.quantity >= 1
    return parsed


@dataclass(frozen=True, slots=True)
class Raw:
    """JSON source text placed as is (numbers too long for ``json.dumps`` to write)."""

    text: str


JsonValue = None | bool | int | float | str | Raw | list["JsonValue"] | dict[str, "JsonValue"]

hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(st.characters(categories=["Cc", "Cs", "Zl", "Zp", "Cf"]), max_size=20),
    st.just(SECRET),
    st.builds(lambda a, b: f"{a}{SECRET}{b}", st.text(max_size=5), st.text(max_size=60)),
    st.sampled_from(["all", "ALL", " 1 ", "0", "-1", "1.0", "٣", "1_000", "", " "]),
)
huge_number = st.builds(
    lambda sign, digits, tail: Raw(f"{sign}{'9' * digits}{tail}"),
    st.sampled_from(["", "-"]),
    st.integers(min_value=1, max_value=6000),
    st.sampled_from(["", ".5", "e400", "E-99999"]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    huge_number,
    hostile_text,
)
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(COLUMNS), hostile_text), inner, max_size=5),
    ),
    max_leaves=25,
)
request_objects = st.dictionaries(
    st.one_of(st.sampled_from(COLUMNS), hostile_text),
    st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(hostile_text, scalars)),
    max_size=len(COLUMNS) + 2,
)


def encode(value: JsonValue, indent: bool) -> str:
    """Write ``value`` as JSON, huge numbers included, one element per line when ``indent``."""
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, list):
        sep = ",\n" if indent else ","
        return "[" + sep.join(encode(v, indent) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{json.dumps(k)}: {encode(v, indent)}" for k, v in value.items())
        return "{" + inner + "}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return json.dumps(value)


@fuzz_settings
@given(data=st.binary(max_size=2000), name=st.sampled_from(NAMES))
def test_arbitrary_bytes(data: bytes, name: str) -> None:
    """Any bytes at all: the parser returns, every problem well formed."""
    check(name, data)


@fuzz_settings
@given(
    name=st.sampled_from(NAMES),
    at=st.integers(0, 400),
    kind=st.sampled_from(["cut", "insert", "replace"]),
    noise=st.binary(min_size=1, max_size=12),
)
def test_near_misses_of_valid_files(name: str, at: int, kind: str, noise: bytes) -> None:
    """A valid file cut short or with a few bytes changed reaches the deep checks."""
    data = VALID[name]
    at = min(at, len(data))
    damaged = {
        "cut": data[:at],
        "insert": data[:at] + noise + data[at:],
        "replace": data[:at] + noise + data[at + len(noise) :],
    }[kind]
    check(name, damaged)


@fuzz_settings
@given(value=json_values, indent=st.booleans(), name=st.sampled_from(NAMES))
def test_arbitrary_json(value: JsonValue, indent: bool, name: str) -> None:
    """Any JSON document (also read as CSV): the parser returns, every problem well formed."""
    check(name, encode(value, indent).encode("utf-8", "surrogatepass"))


@fuzz_settings
@given(rows=st.lists(request_objects, max_size=6))
def test_arbitrary_request_objects(rows: list[dict[str, JsonValue]]) -> None:
    """Arrays of request-like objects with hostile values: each is a row or its problems."""
    data = "[\n" + ",\n".join(encode(row, indent=False) for row in rows) + "\n]"
    parsed = check("drop.json", data.encode())
    lines = {row.line for row in parsed.rows} | {p.line for p in parsed.problems}
    assert lines == set(range(2, len(rows) + 2))


@fuzz_settings
@given(
    header=st.lists(st.one_of(st.sampled_from(COLUMNS), hostile_text), max_size=10),
    cells=st.lists(st.lists(hostile_text, max_size=10), max_size=6),
)
def test_arbitrary_csv(header: list[str], cells: list[list[str]]) -> None:
    """CSV of hostile headers and cells (quoted as a writer would): rows or named problems."""

    def quote(cell: str) -> str:
        return '"' + cell.replace('"', '""') + '"'

    text = "\n".join(",".join(quote(c) for c in row) for row in [header, *cells]) + "\n"
    parsed = check("drop.csv", text.encode("utf-8", "surrogatepass"))
    for problem in parsed.problems:
        assert SECRET[: EXCERPT_CHARS // 2] not in str(problem)
