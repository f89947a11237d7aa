"""Fuzz the catalog parser: arbitrary bytes and arbitrary JSON, in every format.

Whatever the input: no exception escapes, every problem names its file and a line and can be
printed, and every row the parser keeps can be hashed and encoded as UTF-8 JSON to be sent.
``make fuzz`` runs these with a hundred times the examples.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings
from tests.hostile_values import hostile_text, json_text, json_values

from catalog_sync.catalog.files import read_catalog_file
from catalog_sync.core.catalog import Catalog, CatalogBuilder
from catalog_sync.core.pairs import CATALOG_FIELDS, DesiredPair
from catalog_sync.core.problems import Problem
from catalog_sync.core.textstream import Limits

SUFFIXES = ("csv", "json", "jsonl")
#: Small limits reach the limit paths with small inputs; the defaults reach everything else.
LIMITS = st.sampled_from([Limits(), Limits(file_bytes=400, line_chars=60, field_chars=20)])
#: Keys a record holds: every catalog field (so values reach the validators), and any text.
KEYS = st.sampled_from([*CATALOG_FIELDS, "metadata.k", "allow_oversell"]) | hostile_text()


#: A record that validates; near-misses of it reach the rules and the pairs kept.
VALID = {
    "id": "A-1",
    "name": "Tent",
    "taxCode": "4323.310_A",
    "eccn": "EAR99",
    "countryOfOrigin": "VN",
}


def records() -> st.SearchStrategy[dict[str, object]]:
    """A record: arbitrary keys and JSON, or a valid one with a few fields made hostile."""
    changed = st.dictionaries(KEYS, json_values() | hostile_text(), max_size=3)
    return st.dictionaries(KEYS, json_values(), max_size=8) | changed.map(
        lambda changes: {**VALID, **changes}
    )


def assert_sound(name: str, catalog: Catalog) -> None:
    """The outcome a caller can rely on, whatever the input was."""
    for problem in catalog.problems:
        assert isinstance(problem, Problem)
        assert problem.file == name
        assert problem.line >= 1
        str(problem).encode("utf-8")
    for pair in catalog.pairs.values():
        assert_sendable(pair)


def assert_sendable(pair: DesiredPair) -> None:
    """The pair hashes, and its request bodies encode as UTF-8 JSON (no NaN, no surrogate)."""
    pair.content_hash()
    for side in (pair.sku, pair.item):
        body = {"id": pair.id, **dict(side)}
        json.dumps(body, ensure_ascii=False, allow_nan=False).encode("utf-8")


def parse(name: str, data: bytes, limits: Limits) -> Catalog:
    """Parse ``data`` as the file ``name``."""
    builder = CatalogBuilder(limits)
    builder.add_bytes(name, data)
    return builder.build()


@fuzz_settings
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=600), limits=LIMITS)
def test_arbitrary_bytes(suffix: str, data: bytes, limits: Limits) -> None:
    """Any bytes, in any format."""
    name = f"fuzz.{suffix}"
    assert_sound(name, parse(name, data, limits))


@fuzz_settings
@given(document=st.lists(records(), max_size=4) | json_values(), limits=LIMITS)
def test_arbitrary_json_document(document: object, limits: Limits) -> None:
    """Any JSON value as a ``.json`` file: lists of hostile records, or any other shape."""
    assert_sound("fuzz.json", parse("fuzz.json", json_text(document).encode(), limits))


@fuzz_settings
@given(lines=st.lists(records() | json_values(), max_size=4), limits=LIMITS)
def test_arbitrary_json_lines(lines: list[object], limits: Limits) -> None:
    """Any JSON values, one per line, as a ``.jsonl`` file."""
    text = "\n".join(json_text(line) for line in lines)
    assert_sound("fuzz.jsonl", parse("fuzz.jsonl", text.encode(), limits))


@fuzz_settings
@given(
    key=st.sampled_from(["weight", "name", "allowOversell", "metadata"]),
    digits=st.integers(4000, 6000),
)
def test_numbers_beyond_pythons_digit_limit(key: str, digits: int) -> None:
    """A number too long for Python's int conversion, wherever it sits."""
    number = "9" * digits
    value = f'{{"n": {number}}}' if key == "metadata" else number
    text = f'[{{"id": "A", "name": "T", "skuGroupId": "g", "{key}": {value}}}]'
    assert_sound("fuzz.json", parse("fuzz.json", text.encode(), Limits()))


@fuzz_settings
@given(
    header=st.lists(KEYS, min_size=1, max_size=6),
    rows=st.lists(st.lists(hostile_text(), max_size=7), max_size=5),
    limits=LIMITS,
)
def test_arbitrary_csv_cells(header: list[str], rows: list[list[str]], limits: Limits) -> None:
    """CSV of hostile cells; text that UTF-8 cannot hold is written as the bytes it would be."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", *header])
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8", "surrogatepass")
    assert_sound("fuzz.csv", parse("fuzz.csv", data, limits))


@fuzz_settings
@given(suffix=st.sampled_from(SUFFIXES), data=st.binary(max_size=600), limits=LIMITS)
def test_arbitrary_files_on_disk(suffix: str, data: bytes, limits: Limits) -> None:
    """The same through the file reader (streamed decoding, size checks) as the daemon reads."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz.{suffix}"
        path.write_bytes(data)
        read = read_catalog_file(path, limits)
        assert_sound(str(path), read.catalog)
