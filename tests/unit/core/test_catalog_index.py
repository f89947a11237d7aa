"""The catalog index decides what the parsed catalog decides, holding a few bytes per pair."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from catalog_sync.core.catalog import Catalog, CatalogBuilder, merge_catalogs, parse_records
from catalog_sync.core.catalog_index import CatalogIndex, IndexBuilder
from catalog_sync.core.pairs import DesiredPair

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"
GOOD = "{},Tent {},4323.310_A,EAR99,US\n"
#: A row the parser refuses (an unknown country), its id readable: the id is protected.
BAD = "{},Tent {},4323.310_A,EAR99,Narnia\n"

_ROW = st.tuples(st.sampled_from(["A", "B", "C", "D", "E"]), st.booleans(), st.integers(0, 3))
#: (rows, whether the file is cut short by a broken record at its end)
_FILE = st.tuples(st.lists(_ROW, max_size=6), st.booleans())


def _text(rows: list[tuple[str, bool, int]], broken: bool) -> str:
    lines = [(GOOD if ok else BAD).format(i, n) for i, ok, n in rows]
    return HEADER + "".join(lines) + ('"unterminated,quote\n' if broken else "")


def _files(specs: list[tuple[list[tuple[str, bool, int]], bool]]) -> list[tuple[str, str]]:
    return [(f"f{n}.csv", _text(rows, broken)) for n, (rows, broken) in enumerate(specs)]


def _parsed(files: list[tuple[str, str]]) -> Catalog:
    """The catalog as a one-off reconcile read it before: each file alone, then merged."""
    parts = []
    for name, text in files:
        builder = CatalogBuilder()
        builder.add(name, io.StringIO(text))
        parts.append(builder.build())
    return merge_catalogs(parts)


def _indexed(files: list[tuple[str, str]]) -> CatalogIndex:
    builder = IndexBuilder()
    for name, text in files:
        builder.add(name, parse_records(name, io.StringIO(text)))
    return builder.build({})


@settings(max_examples=300, deadline=None)
@given(st.lists(_FILE, max_size=4))
def test_index_agrees_with_the_parsed_catalog(
    specs: list[tuple[list[tuple[str, bool, int]], bool]],
) -> None:
    """Pairs, their rows and hashes, problems in order, broken files and protected ids."""
    files = _files(specs)
    catalog, index = _parsed(files), _indexed(files)
    assert list(index.ids()) == sorted(catalog.pairs)
    for pair_id, pair in catalog.pairs.items():
        slot = index.slot(pair_id)
        assert slot is not None
        indexed = index.pair(slot)
        assert (indexed.source, indexed.content_hash) == (pair.source, pair.content_hash())
        assert (indexed.sku_digest, indexed.item_digest) == (
            pair.digests().sku,
            pair.digests().item,
        )
    assert index.problems == catalog.problems
    assert index.unparseable_files == catalog.unparseable_files
    assert index.protected_ids == catalog.protected_ids
    assert index.invalid_rows == catalog.invalid_rows


def test_a_row_is_the_indexed_one_only_at_its_place_and_content() -> None:
    """The second reading keeps the winning row, not a losing duplicate or an edited row."""
    text = _text([("A", True, 1), ("A", True, 2)], broken=False)
    index = _indexed([("a.csv", text)])
    first, second = (
        p for p in parse_records("a.csv", io.StringIO(text)) if isinstance(p, DesiredPair)
    )
    assert index.is_indexed_row(first)
    assert not index.is_indexed_row(second)
    edited = _text([("A", True, 9)], broken=False)
    (changed,) = (
        p for p in parse_records("a.csv", io.StringIO(edited)) if isinstance(p, DesiredPair)
    )
    assert not index.is_indexed_row(changed)
    assert index.is_indexed_row(changed, check_content=False)


def test_unknown_ids_have_no_slot() -> None:
    """Looking up an id the catalog lacks finds nothing, whatever sorts around it."""
    index = _indexed([("a.csv", _text([("B", True, 1), ("D", True, 1)], broken=False))])
    assert [index.slot(i) for i in ("A", "B", "C", "D", "E")] == [None, 0, None, 1, None]
    assert "C" not in index
    assert len(index) == 2
