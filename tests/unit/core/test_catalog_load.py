"""The catalog as a whole: several files, duplicates, unreadable files and what they protect."""

from __future__ import annotations

import io

from catalog_sync.core.catalog import CatalogBuilder, load_catalog
from catalog_sync.core.problems import Severity

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
ROW = "{},T,4323.310_A,EAR99,US\n"


def _csv(*ids: str) -> str:
    return HEADER + "".join(ROW.format(i) for i in ids)


def test_files_combine_into_one_catalog() -> None:
    """Pairs of every file are in the catalog, and each file's ids are known."""
    catalog = load_catalog([("a.csv", io.StringIO(_csv("A"))), ("b.csv", io.StringIO(_csv("B")))])
    assert sorted(catalog.pairs) == ["A", "B"]
    assert catalog.ids_by_file == {"a.csv": frozenset({"A"}), "b.csv": frozenset({"B"})}
    assert catalog.complete


def test_duplicate_across_files_names_both_and_first_wins() -> None:
    """The second definition is skipped with a problem naming both places."""
    catalog = load_catalog(
        [("a.csv", io.StringIO(_csv("X", "A"))), ("b.csv", io.StringIO(_csv("B", "X")))]
    )
    assert catalog.pairs["X"].source.file == "a.csv"
    assert [str(p) for p in catalog.problems] == [
        (
            "b.csv:3: id: duplicate SKU id 'X', first defined at a.csv:2; "
            "this row is skipped (the first definition wins)"
        )
    ]


def test_duplicate_within_one_file_is_reported() -> None:
    """Two rows of one file with the same id: the later one is refused."""
    catalog = load_catalog([("a.csv", io.StringIO(_csv("X", "X")))])
    assert [p.line for p in catalog.problems] == [3]
    assert catalog.invalid_rows == 1


def test_broken_json_makes_the_file_unparseable() -> None:
    """A JSON file cut in the middle contributes no pair and marks the catalog incomplete."""
    builder = CatalogBuilder()
    builder.add_bytes("a.json", b'[{"id": "A", "name": "T", "skuGroupId": "g"},\n {"id": "B", "na')
    catalog = builder.build()
    assert catalog.pairs == {}
    assert catalog.unparseable_files == {"a.json"}
    assert not catalog.complete
    (problem,) = catalog.problems
    assert problem.severity is Severity.FATAL
    assert str(problem).startswith("a.json:2: file: ")


def test_unparseable_files_ids_are_protected() -> None:
    """Ids read from a file before it broke are protected from any remote change."""
    builder = CatalogBuilder()
    builder.add_bytes("a.json", b'[{"id": "A", "name": "T", "skuGroupId": "g"}, {"id"')
    assert builder.build().protected_ids == {"A"}


def test_rejected_rows_are_protected_unless_defined_elsewhere() -> None:
    """A refused row's pair is left alone; a valid definition in another file still applies."""
    bad = HEADER + "R,T,4323.310_A,EAR99,USA\nX,T,4323.310_A,EAR99,USA\n"
    catalog = load_catalog([("a.csv", io.StringIO(bad)), ("b.csv", io.StringIO(_csv("X")))])
    assert catalog.rejected_ids == {"R", "X"}
    assert catalog.protected_ids == {"R"}


def test_bad_encoding_names_the_line() -> None:
    """Bytes that are not UTF-8 make the file unparseable, at the line holding them."""
    builder = CatalogBuilder()
    builder.add_bytes("a.csv", (_csv("A") + "B,T\xe9").encode("latin-1"))
    (problem,) = builder.build().problems
    assert (problem.line, problem.severity) == (3, Severity.FATAL)


def test_bad_encoding_in_a_stream_is_fatal() -> None:
    """A text stream that fails to decode mid-way is reported, not raised."""
    stream = io.TextIOWrapper(io.BytesIO(_csv("A").encode() + b"\xff\n"), encoding="utf-8")
    catalog = load_catalog([("a.csv", stream)])
    assert catalog.unparseable_files == {"a.csv"}


def test_csv_without_header_is_unparseable() -> None:
    """An empty file (a classic half-written state) protects its pairs instead of emptying."""
    catalog = load_catalog([("a.csv", io.StringIO(""))])
    assert catalog.unparseable_files == {"a.csv"}


def test_csv_without_id_column_is_unparseable() -> None:
    """Without an id column no row can be matched to its pair, so the file is refused whole."""
    catalog = load_catalog([("a.csv", io.StringIO("sku,name\nA,T\n"))])
    assert [str(p).split(";")[0] for p in catalog.problems] == [
        "a.csv:1: file: the header row has no 'id' column"
    ]


def test_unterminated_quote_is_unparseable() -> None:
    """A quote left open at the end (a cut write) is fatal rather than one giant cell."""
    catalog = load_catalog([("a.csv", io.StringIO(_csv("A") + 'B,"T\n'))])
    assert catalog.unparseable_files == {"a.csv"}


def test_broken_jsonl_line_is_unparseable() -> None:
    """A JSONL line that does not decode refuses the file, naming that line."""
    text = '{"id": "A", "name": "T", "skuGroupId": "g"}\n{"id": "B"\n'
    catalog = load_catalog([("a.jsonl", io.StringIO(text))])
    assert [p.line for p in catalog.problems] == [2]
    assert catalog.unparseable_files == {"a.jsonl"}


def test_other_files_apply_when_one_is_unparseable() -> None:
    """One broken file does not stop the others."""
    catalog = load_catalog([("a.json", io.StringIO("[")), ("b.csv", io.StringIO(_csv("B")))])
    assert list(catalog.pairs) == ["B"]
