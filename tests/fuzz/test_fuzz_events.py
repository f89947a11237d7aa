"""The event decoder against any bytes and any JSON: nothing escapes, no event is dropped.

The poller reads a ``GET /events`` page with ``core.event_pages.decode_page`` and turns each
event into an inbox row with ``events.inbox_row``; both are pure. Whatever a page holds (bytes
that are not UTF-8, lone surrogates, integers of thousands of digits, NaN, control characters,
deep nesting, entries that are not objects), decoding never raises, every entry of a readable
page becomes a row, every row is one the state database keeps, a malformed event is a dead
letter that says why, and only a clean event reaches the handler.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.core.event_pages import EventPage, decode_page
from catalog_sync.fulfillment.poller import EVENT_TYPES, inbox_row
from catalog_sync.state import InboxEvent, open_state

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
STAMP = "2026-12-01T12:00:00.000000Z"

#: Text as an attacker or a broken proxy sends it: any character, lone surrogates and control
#: characters made likely rather than left to chance.
TEXT = st.lists(
    st.one_of(
        st.text(max_size=4),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
        st.characters(max_codepoint=0x1F),
        st.sampled_from(["\x7f", "\u2028", "\ufeff", "\U0001f600"]),
    ),
    max_size=5,
).map("".join)
#: Integers of every size, thousands of digits included (beyond what ``int()`` reads from text).
INTEGERS = st.one_of(
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**63 + 2),
    st.integers(min_value=1, max_value=4).map(lambda k: 10 ** (k * 1500) + k),
    st.integers(min_value=1, max_value=4).map(lambda k: -(10 ** (k * 1500))),
)
SCALARS = st.one_of(st.none(), st.booleans(), INTEGERS, st.floats(), TEXT)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
TIMES = st.one_of(
    st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0999-01-01"]),
    TEXT,
    JSON,
)
#: Objects shaped like events, each field well formed, malformed or absent.
EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(str), TEXT, JSON),
        "type": st.one_of(st.sampled_from(EVENT_TYPES), TEXT, JSON),
        "createdTime": TIMES,
        "data": st.one_of(st.fixed_dictionaries({"object": JSON}), JSON),
        "liveMode": st.one_of(st.booleans(), JSON),
        "extra": JSON,
    },
)
ENTRIES = st.lists(st.one_of(EVENTS, JSON), max_size=6)


def _to_json(value: Any) -> str:
    """JSON text of any generated value, as a server could send it.

    Integers are written digit by digit (``json.dumps`` refuses 4,300 digits); lone surrogates
    as ``\\udXXX`` escapes; NaN and infinities as the literals Python writes.
    """
    if isinstance(value, bool) or value is None or isinstance(value, float | str):
        return json.dumps(value)
    if isinstance(value, int):
        return format(Decimal(value), "f")
    if isinstance(value, list):
        return "[" + ",".join(_to_json(v) for v in value) + "]"
    return "{" + ",".join(f"{json.dumps(k)}:{_to_json(v)}" for k, v in value.items()) + "}"


def _page_bytes(entries: list[Any], has_more: bool) -> bytes:
    return f'{{"hasMore":{json.dumps(has_more)},"data":{_to_json(entries)}}}'.encode()


@st.composite
def damaged_pages(draw: st.DrawFn) -> bytes:
    """A page of events with arbitrary bytes spliced in, or cut short, or nested very deeply."""
    body = _page_bytes(draw(ENTRIES), draw(st.booleans()))
    how = draw(st.sampled_from(["splice", "cut", "deep"]))
    at = draw(st.integers(min_value=0, max_value=len(body)))
    if how == "splice":
        return body[:at] + draw(st.binary(min_size=1, max_size=8)) + body[at:]
    if how == "cut":
        return body[:at]
    depth = draw(st.integers(min_value=30, max_value=3000))
    return b'{"data":[{"id":"x","data":{"object":' + b"[" * depth + b"]" * depth + b"}}]}"


def _rows(page: EventPage, *, live: bool) -> list[InboxEvent]:
    return [inbox_row(event, NOW, live=live) for event in page.events]


def _stored(rows: list[InboxEvent]) -> dict[str, InboxEvent | None]:
    """Each row's id and what a fresh state database holds under it after storing the rows."""
    store = open_state(Path(":memory:"))
    try:
        store.store_events(rows, STAMP)
        return {row.id: store.inbox_event(row.id) for row in rows}
    finally:
        store.close()


def _assert_sound(rows: list[InboxEvent]) -> None:
    """Dead letters say why; anything else is clean enough for the handler and the logs."""
    for row in rows:
        if row.status == "dead":
            assert row.last_error
            continue
        assert row.payload["id"] == row.id
        assert isinstance(row.payload["data"]["object"], dict)
        json.dumps(row.payload, ensure_ascii=False, allow_nan=False).encode("utf-8")


@fuzz_settings
@given(body=st.binary(max_size=300), live=st.booleans())
def test_arbitrary_bytes_never_escape_the_decoder(body: bytes, live: bool) -> None:
    """Any bytes give a page (perhaps unreadable, with a reason) and rows the store keeps."""
    page = decode_page(body)
    rows = _rows(page, live=live)
    assert (page.problem is None) or (page.events == () and page.problem)
    _assert_sound(rows)
    assert None not in _stored(rows).values()


@fuzz_settings
@given(body=damaged_pages(), live=st.booleans())
def test_damaged_pages_never_escape_the_decoder(body: bytes, live: bool) -> None:
    """A page with junk bytes, cut short or nested 3,000 deep is decoded or refused whole."""
    page = decode_page(body)
    rows = _rows(page, live=live)
    _assert_sound(rows)
    assert None not in _stored(rows).values()


@fuzz_settings
@given(entries=ENTRIES, has_more=st.booleans(), live=st.booleans())
def test_every_entry_of_a_page_becomes_a_stored_row(
    entries: list[Any], has_more: bool, live: bool
) -> None:
    """No entry is dropped: each is a row, and the database holds a row under every id."""
    page = decode_page(_page_bytes(entries, has_more))
    rows = _rows(page, live=live)
    assert (page.problem, len(page.events), page.has_more) == (None, len(entries), has_more)
    assert None not in _stored(rows).values()


@fuzz_settings
@given(entries=ENTRIES, live=st.booleans())
def test_malformed_events_are_dead_letters_with_a_reason(entries: list[Any], live: bool) -> None:
    """A row is either a dead letter saying why, or a clean event with its id and object."""
    _assert_sound(_rows(decode_page(_page_bytes(entries, False)), live=live))


@fuzz_settings
@given(event=st.one_of(EVENTS, st.dictionaries(TEXT, JSON, max_size=4)), live=st.booleans())
def test_events_given_as_values_never_escape(event: dict[str, Any], live: bool) -> None:
    """``inbox_row`` itself takes any JSON object (huge Python integers included)."""
    rows = [inbox_row(event, NOW, live=live)]
    _assert_sound(rows)
    assert None not in _stored(rows).values()


@fuzz_settings
@given(depth=st.integers(min_value=0, max_value=5000), live=st.booleans())
def test_deeply_nested_event_is_kept(depth: int, live: bool) -> None:
    """An event nested thousands of levels deep is stored (as a dead letter past the limit)."""
    nested: Any = {}
    for _ in range(depth):
        nested = {"a": nested}
    event = {
        "id": "deep",
        "type": "order.accepted",
        "createdTime": STAMP,
        "data": {"object": nested},
    }
    row = inbox_row(event, NOW, live=live)
    stored = _stored([row])["deep"]
    assert stored is not None
    assert stored.status == row.status
