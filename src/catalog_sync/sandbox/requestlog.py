"""The request log: every API call the gateway passed, kept small, rendered when asked for.

A million-pair initial sync is two million calls, so the log is full (its last
:data:`~catalog_sync.sandbox.assumptions.REQUEST_LOG_LIMIT` entries) for most of it. Kept as
dicts with a parsed body and a formatted time, an entry cost about 2 KB and a parse per call;
here it keeps the raw body and the clock reading, and ``GET /_sandbox/requests`` parses and
formats only the entries and fields it returns.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, Final

from catalog_sync.sandbox.bodies import parse_body
from catalog_sync.sandbox.errors import ApiError

#: The fields of an entry, in the order ``GET /_sandbox/requests`` shows them.
FIELDS: Final = ("method", "path", "query", "status", "body", "time", "user_agent")


class LoggedRequest:
    """One API call as received; ``status`` is filled in once the answer starts (or never)."""

    __slots__ = ("_at", "_query", "_raw", "method", "path", "status", "user_agent")

    def __init__(
        self, method: str, path: str, query: bytes, raw: bytes, user_agent: str | None
    ) -> None:
        self.method = sys.intern(method)
        self.path = path
        self._query = query
        self._raw = raw
        self.user_agent = None if user_agent is None else sys.intern(user_agent)
        self._at = time.time()
        self.status: int | None = None

    def render(self, fields: Iterable[str]) -> dict[str, Any]:
        """The entry as JSON-ready data, with only ``fields`` (names of :data:`FIELDS`)."""
        return {name: self._value(name) for name in fields}

    def _value(self, name: str) -> Any:
        if name == "query":
            return self._query.decode("latin-1")
        if name == "body":
            return self._body()
        if name == "time":
            return datetime.fromtimestamp(self._at, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return getattr(self, name)

    def _body(self) -> Any:
        if not self._raw:
            return None
        try:
            return parse_body(self._raw)
        except ApiError:  # kept as (representable) text: the log is served as JSON
            return self._raw.decode("utf-8", errors="replace")


class RequestLog:
    """The last ``limit`` entries, oldest first."""

    def __init__(self, limit: int) -> None:
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, entry: LoggedRequest) -> None:
        """Keep ``entry``; the oldest goes when the log is full."""
        self._entries.append(entry)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def render(self, fields: Iterable[str] = FIELDS) -> list[dict[str, Any]]:
        """Every entry, oldest first, with only ``fields``."""
        wanted = tuple(fields)
        return [entry.render(wanted) for entry in self._entries]
