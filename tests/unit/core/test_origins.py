"""What an intent was decided on, as a typed value with one text form.

An intent's origin (a Digital River event or a merchant request) is built, compared and read
as an ``Origin``; its text (``event:<id>``) exists only inside the stored JSON of an intent.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.core.orders import (
    ORIGIN_KINDS,
    Intent,
    LineClaim,
    Origin,
    intent_from_json,
    to_json,
)

origins = st.builds(Origin, st.sampled_from(ORIGIN_KINDS), st.text(min_size=1))


@given(origins)
def test_an_origin_reads_back_from_its_text(origin: Origin) -> None:
    """Any id, colons and odd characters included, decodes to the origin that encoded it."""
    assert Origin.decode(origin.encode()) == origin


@pytest.mark.parametrize("text", ["", "event", "event:", "sku:1", ":e1", "Event:e1"])
def test_text_that_is_no_origin_is_refused(text: str) -> None:
    """Only ``<known kind>:<non-empty id>`` is an origin; anything else is an error, not a guess."""
    with pytest.raises(ValueError, match="not an intent origin"):
        Origin.decode(text)


def test_only_an_event_origin_names_an_event() -> None:
    """A write parked after its retries sends its event to the dead letters; a merchant
    request's write has no event to send there."""
    assert Origin.event("e1").event_id == "e1"
    assert Origin.request("r1").event_id is None


@given(origins)
def test_a_stored_intent_keeps_its_origin(origin: Origin) -> None:
    """An intent stored as JSON and read back has the same typed origin."""
    intent = Intent("k", "capture", "o1", {}, (LineClaim("L1", 1, 1),), origin)
    stored: dict[str, object] = json.loads(json.dumps(to_json(intent)))
    assert intent_from_json(stored).origin == origin


def test_an_intent_stored_by_an_earlier_version_is_read() -> None:
    """The JSON of an intent written before origins were typed holds the same text."""
    stored: dict[str, object] = {
        "key": "request:r1:capture",
        "kind": "capture",
        "order_id": "o1",
        "body": {},
        "lines": [{"line_id": "L1", "quantity": 1, "target": 1}],
        "origin": "request:r1",
        "status": "pending",
        "resolution": None,
    }
    assert intent_from_json(stored).origin == Origin.request("r1")
