"""Reading the three file formats: structure, spellings and the line each record starts on."""

from __future__ import annotations

import io
from collections.abc import Callable

from catalog_sync.core.catalog import CatalogFormat, format_of, parse_records
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem, Severity

Parse = Callable[[str, str], list[DesiredPair | Problem]]
HEADER = "id,name,taxCode,eccn,countryOfOrigin"


def _pairs(items: list[DesiredPair | Problem]) -> list[DesiredPair]:
    return [item for item in items if isinstance(item, DesiredPair)]


def _problems(items: list[DesiredPair | Problem]) -> list[str]:
    return [str(item) for item in items if isinstance(item, Problem)]


def test_csv_with_bom_reads_the_id_column(parse: Parse) -> None:
    """A UTF-8 BOM (as Excel writes) does not end up in the first column's name."""
    items = parse("a.csv", f"\ufeff{HEADER}\nA,Tent,4323.310_A,EAR99,US\n")
    assert [p.id for p in _pairs(items)] == ["A"]


def test_csv_quoted_cells_keep_commas_quotes_and_newlines(parse: Parse) -> None:
    """Standard quoting: a quoted cell may hold a comma, a doubled quote and a newline."""
    text = f'{HEADER},description\nA,"Tent, 2p",4323.310_A,EAR99,US,"a ""big""\nsecond line"\n'
    (pair,) = _pairs(parse("a.csv", text))
    assert pair.sku["name"] == "Tent, 2p"
    assert pair.sku["description"] == 'a "big"\nsecond line'


def test_csv_line_is_where_the_record_starts(parse: Parse) -> None:
    """After a record spanning lines, the next record's problems name its own first line."""
    text = (
        f'{HEADER},description\nA,T,4323.310_A,EAR99,US,"one\ntwo\nthree"\n'
        "\nB,T,4323.310_A,EAR99,USA,\n"
    )
    assert _problems(parse("a.csv", text)) == [
        "a.csv:6: countryOfOrigin: 'USA' is not an ISO 3166-1 alpha-2 code; did you mean 'US'?"
    ]


def test_csv_empty_cell_means_not_set(parse: Parse) -> None:
    """An empty cell leaves the field out of the SKU instead of sending an empty string."""
    (pair,) = _pairs(parse("a.csv", f"{HEADER},description\nA,T,4323.310_A,EAR99,US,\n"))
    assert "description" not in pair.sku


def test_snake_case_columns_are_accepted(parse: Parse) -> None:
    """country_of_origin, tax_code, allow_oversell mean their camelCase API fields."""
    text = "id,name,tax_code,eccn,country_of_origin,allow_oversell\nA,T,4323.310_A,EAR99,DE,yes\n"
    (pair,) = _pairs(parse("a.csv", text))
    assert pair.sku["countryOfOrigin"] == "DE"
    assert pair.item["allowOversell"] is True


def test_metadata_columns_fill_sku_metadata(parse: Parse) -> None:
    """metadata.<key> columns become SKU metadata with the key's case kept."""
    text = f"{HEADER},metadata.Color,metadata.size\nA,T,4323.310_A,EAR99,US,green,\n"
    (pair,) = _pairs(parse("a.csv", text))
    assert pair.sku["metadata"] == {"Color": "green"}


def test_shared_attributes_go_to_both_sides(parse: Parse) -> None:
    """hsCode and partNumber land on SKU and item; name stays on the SKU only."""
    text = f"{HEADER},hsCode,partNumber\nA,T,4323.310_A,EAR99,US,8518.30,P1\n"
    (pair,) = _pairs(parse("a.csv", text))
    assert pair.item == {
        "eccn": "EAR99",
        "hsCode": "8518.30",
        "countryOfOrigin": "US",
        "partNumber": "P1",
        "allowOversell": False,
    }
    assert "name" not in pair.item


def test_unknown_column_is_reported_once_per_file(parse: Parse) -> None:
    """An unknown column is one warning on the header line, not one per row."""
    text = f"{HEADER},colour\nA,T,4323.310_A,EAR99,US,red\nB,T,4323.310_A,EAR99,US,blue\n"
    items = parse("a.csv", text)
    assert _problems(items) == ["a.csv:1: colour: unknown column 'colour' ignored"]
    assert len(_pairs(items)) == 2


def test_misspelt_column_gets_a_suggestion(parse: Parse) -> None:
    """A near miss names the column that was probably meant."""
    text = f"{HEADER},hs_cod\nA,T,4323.310_A,EAR99,US,8518.30\n"
    assert _problems(parse("a.csv", text)) == [
        "a.csv:1: hs_cod: unknown column 'hs_cod' ignored; did you mean 'hsCode'?"
    ]


def test_managed_fulfillment_column_is_never_used(parse: Parse) -> None:
    """managedFulfillment would hand the pair to Digital River: it is ignored with a reason."""
    text = f"{HEADER},managedFulfillment\nA,T,4323.310_A,EAR99,US,DRGlobalFulfillment\n"
    (pair,) = _pairs(items := parse("a.csv", text))
    assert "managedFulfillment" not in pair.sku
    assert "orchestrated" in _problems(items)[0]


def test_same_field_in_two_spellings_is_an_error(parse: Parse) -> None:
    """hsCode and hs_code in one record is ambiguous, so the record is refused."""
    text = f"{HEADER},hsCode,hs_code\nA,T,4323.310_A,EAR99,US,8518.30,8518.40\n"
    assert _problems(parse("a.csv", text)) == ["a.csv:2: hs_code: given twice, also as 'hsCode'"]


def test_row_with_wrong_cell_count_is_skipped(parse: Parse) -> None:
    """A short row (a cut line, a missing comma) is refused, the rows after it still apply."""
    text = f"{HEADER}\nA,T,4323.310_A\nB,T,4323.310_A,EAR99,US\n"
    items = parse("a.csv", text)
    assert _problems(items) == ["a.csv:2: row: has 3 cells but the header has 5"]
    assert [p.id for p in _pairs(items)] == ["B"]


def test_blank_rows_are_ignored(parse: Parse) -> None:
    """Empty lines and rows of empty cells (spreadsheet leftovers) are not records."""
    items = parse("a.csv", f"{HEADER}\n\n,,,,\nA,T,4323.310_A,EAR99,US\n")
    assert [type(i) for i in items] == [DesiredPair]


def test_json_list_gives_each_objects_start_line(parse: Parse) -> None:
    """Each object's problems name the line of its opening brace."""
    text = (
        '[\n  {"id": "A", "name": "T", "taxCode": "t", "eccn": "EAR99",\n'
        '   "countryOfOrigin": "US"},\n  {\n    "id": "B",\n    "name": "T"\n  }\n]\n'
    )
    problems = [p for p in parse("a.json", text) if isinstance(p, Problem)]
    assert {p.line for p in problems} == {4}


def test_json_items_envelope_is_accepted(parse: Parse) -> None:
    """{"items": [...]} reads like a bare list, other top-level keys are ignored."""
    text = '{"version": 1, "items": [{"id": "A", "name": "T", "skuGroupId": "g"}]}'
    assert [p.id for p in _pairs(parse("a.json", text))] == ["A"]


def test_json_non_object_element_is_a_row_error(parse: Parse) -> None:
    """A list element that is not an object is skipped with a problem on its line."""
    text = '[\n 5,\n {"id": "A", "name": "T", "skuGroupId": "g"}\n]'
    items = parse("a.json", text)
    assert _problems(items) == ["a.json:2: row: must be a JSON object"]
    assert len(_pairs(items)) == 1


def test_jsonl_reads_one_object_per_line(parse: Parse) -> None:
    """JSONL records are numbered by their line; blank lines are skipped."""
    text = '{"id": "A", "name": "T", "skuGroupId": "g"}\n\n{"id": "B", "skuGroupId": "g"}\n'
    assert _problems(parse("a.jsonl", text)) == ["a.jsonl:3: name: required"]


def test_json_streams_records_larger_than_a_chunk(parse: Parse) -> None:
    """Records cut by the reader's buffer are reassembled, with line numbers intact."""
    filler = "x" * 900
    objects = [
        f'{{"id": "S{i}", "name": "T", "skuGroupId": "g", "description": "{filler}"}}'
        for i in range(200)
    ]
    items = parse("a.json", "[\n" + ",\n".join(objects) + "\n]")
    assert [p.source.line for p in _pairs(items)] == list(range(2, 202))


def test_parse_records_reads_a_text_stream_lazily() -> None:
    """A stream is consumed record by record: the first pair arrives before the end is read."""
    stream = io.StringIO(f"{HEADER}\nA,T,4323.310_A,EAR99,US\nB,T,4323.310_A,EAR99,US\n")
    first = next(parse_records("a.csv", stream))
    assert isinstance(first, DesiredPair)
    assert stream.tell() < len(stream.getvalue())


def test_format_is_chosen_by_suffix() -> None:
    """The suffix decides the format, case-insensitively; others are not catalogs."""
    assert format_of("dir.v2/x.CSV") is CatalogFormat.CSV
    assert format_of("x.jsonl") is CatalogFormat.JSONL
    assert format_of("x.txt") is None


def test_unsupported_file_is_a_fatal_problem(parse: Parse) -> None:
    """A file that is not csv/json/jsonl is refused as a whole, not crashed on."""
    (problem,) = parse("notes.txt", "hello")
    assert isinstance(problem, Problem)
    assert problem.severity is Severity.FATAL
