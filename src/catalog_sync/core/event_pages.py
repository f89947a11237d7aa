"""A raw ``GET /events`` page as the poller reads it: one bad event never fails its page.

The page is decoded here, from its bytes, rather than by a JSON parser that raises on the first
thing it dislikes: an integer of 5,000 digits, a string that is not UTF-8 or a ``NaN`` in one
event would otherwise fail the page, and since the cursor cannot move past a page that fails,
every later event would wait forever. Such values are kept in their event (as text, see
:mod:`catalog_sync.core.json_values`), whose own check then makes it a dead letter. Only a page
that is not a JSON object with a ``data`` array at all is a problem of the page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from catalog_sync.core import json_values

RawEvent = dict[str, Any]


@dataclass(frozen=True, slots=True)
class EventPage:
    """The events of one page (as listed, newest first) and ``hasMore``, or why it is unreadable.

    An entry that is not a JSON object is wrapped as ``{"value": entry}``: kept, never dropped.
    """

    events: tuple[RawEvent, ...] = field(default=())
    has_more: bool = False
    problem: str | None = None


def decode_page(body: bytes) -> EventPage:
    """Decode a page's body; never raises, whatever the bytes.

    Bytes that are not UTF-8 become lone surrogates in the strings that hold them, so only the
    events holding them are refused.
    """
    try:
        raw = json_values.loads(json_values.decode_utf8(body))
    except ValueError as exc:
        return EventPage(problem=f"the page is not JSON: {exc}")
    except RecursionError:
        return EventPage(problem="the page is nested too deeply to read")
    if not isinstance(raw, dict):
        return EventPage(problem="the page is not a JSON object")
    data = raw.get("data")
    if not isinstance(data, list):
        return EventPage(problem="the page has no data array")
    events = tuple(entry if isinstance(entry, dict) else {"value": entry} for entry in data)
    return EventPage(events, has_more=raw.get("hasMore") is True)
