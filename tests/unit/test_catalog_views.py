"""A one-off run's catalog: indexed once, its rows read again only as they are planned."""

from __future__ import annotations

import os
from pathlib import Path

from catalog_sync.catalog.files import catalog_paths, load_catalog_files
from catalog_sync.catalog.views import HeldCatalog, StreamedCatalog

HEADER = "id,name,taxCode,eccn,countryOfOrigin\n"


def _write(path: Path, *rows: str) -> None:
    path.write_text(HEADER + "".join(f"{r},4323.310_A,EAR99,US\n" for r in rows))


def _ids(chunks: object) -> list[list[str]]:
    return [[p.id for p in chunk] for chunk in chunks]  # type: ignore[attr-defined]


def test_rows_are_read_again_in_chunks_in_file_order(tmp_path: Path) -> None:
    """Every wanted pair comes back once, the winning row of a duplicate only."""
    _write(tmp_path / "a.csv", "C,Tent", "A,Tent", "C,Again")
    _write(tmp_path / "b.csv", "B,Pack", "A,Later")
    view = StreamedCatalog.read(tmp_path)
    assert _ids(view.desired(None, 2)) == [["C", "A"], ["B"]]
    assert _ids(view.desired({"B", "C"}, 2)) == [["C", "B"]]
    assert [(p.id, p.line) for c in view.desired({"A"}, 9) for p in c] == [("A", 3)]


def test_a_row_edited_after_indexing_waits_for_the_next_run(tmp_path: Path) -> None:
    """A row changed between the two readings is left out rather than planned half-known."""
    catalog = tmp_path / "a.csv"
    _write(catalog, "A,Tent", "B,Pack")
    view = StreamedCatalog.read(tmp_path)
    _write(catalog, "A,Tent", "B,Renamed pack")
    os.utime(catalog, ns=(1, 1))
    assert _ids(view.desired(None, 9)) == [["A"]]


def test_wanting_nothing_reads_nothing(tmp_path: Path) -> None:
    """A run with nothing to plan does not read the files a second time."""
    _write(tmp_path / "a.csv", "A,Tent")
    view = StreamedCatalog.read(tmp_path)
    (tmp_path / "a.csv").unlink()
    assert list(view.desired(set(), 9)) == []


def test_both_views_agree_on_what_a_run_asks(tmp_path: Path) -> None:
    """Held (the daemon's) and streamed (a one-off run's) views answer alike."""
    _write(tmp_path / "a.csv", "B,Tent", "A,Pack", "B,Again")
    held = HeldCatalog(load_catalog_files(catalog_paths([tmp_path])))
    streamed = StreamedCatalog.read(tmp_path)
    for view in (held, streamed):
        assert (len(view), "A" in view, "Z" in view) == (2, True, False)
        assert [view.id_at(s) for s in range(2)] == ["A", "B"]
        assert view.missing({"A", "Z", "Y"}) == 2
    assert held.content_hash("B") == streamed.content_hash("B")
    assert held.side_digests("A") == streamed.side_digests("A")
    assert held.source("B") == streamed.source("B") == f"{tmp_path / 'a.csv'}:2"
    assert held.problems == streamed.problems
