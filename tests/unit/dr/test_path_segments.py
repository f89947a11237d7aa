"""Every id the client puts in a URL is exactly one path segment: nothing in it changes the path.

Ids come from catalogs, request files and events; the client must not rely on any of them
having been validated.
"""

from __future__ import annotations

from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.dr.client import path_segment

#: Any text an id could hold that can be written as UTF-8 at all.
IDS = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40)


@given(IDS)
def test_segment_holds_no_separator(object_id: str) -> None:
    """``/``, ``?``, ``#`` and ``%`` are always encoded, so the segment is one segment."""
    segment = path_segment(object_id)
    assert not set(segment) & set("/?#")
    assert unquote(segment) == object_id


@given(IDS | st.sampled_from([".", "..", "./", "%2E", "a/../b"]))
def test_url_path_keeps_the_segment(object_id: str) -> None:
    """The request goes to ``/skus/<id>`` exactly: no dot segment is normalised away."""
    segment = path_segment(object_id)
    url = httpx.URL("https://api.example.com/v1/skus/" + segment)
    assert url.raw_path.decode("ascii") == "/v1/skus/" + segment
    assert url.path == "/v1/skus/" + object_id


@pytest.mark.parametrize("object_id", [".", ".."])
def test_dot_segments_are_percent_encoded(object_id: str) -> None:
    """``.`` and ``..`` are sent as ``%2E`` and ``%2E%2E``."""
    assert path_segment(object_id) == object_id.replace(".", "%2E")


def test_empty_id_is_refused() -> None:
    """An empty id would address the collection itself: it is never sent."""
    with pytest.raises(ValueError, match="must not be empty"):
        path_segment("")
