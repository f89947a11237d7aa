"""In-memory collections that hold objects as the JSON they are answered with; pages cost
O(page), not O(collection).

Objects are kept as compact JSON bytes, not dicts: a million SKUs as dicts take about 1 KB of
Python objects each (and the cyclic GC walks every one of them, again and again, as the
collection grows); as JSON they take about half that, are invisible to the GC and cannot be
changed in place by accident. The bytes are exactly what Starlette's ``JSONResponse`` would
render, so a retrieve or a page is answered with them as they are; an object is decoded only
where a handler reads it or a list filter looks at it.

An entry may also be a :class:`Packed` record (events: see ``events.py``) that keeps its parts
apart, so that an event shares the bytes of the SKU it carries instead of holding a copy.

Objects are kept in creation order with an id -> position index; a list walks positions
newest-first from the cursor's position, so a page of 100 out of 200,000 touches ~100 slots.
Deleted objects leave a tombstone (and keep their position, so a cursor on a just-deleted
object still works) until more than half the slots are tombstones.

A filter scans and decodes every object it passes, so a collection that callers filter by a
key of another object (the fulfillment orders of these orders: ``upstreamIds``) keeps an index
of that field: the handler reads fulfillment orders back by order id for every order it
accepts, and a scan of all of them per call made a 10,000-order burst quadratic.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from catalog_sync.sandbox.errors import invalid_parameter

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


def pack(value: Any) -> bytes:
    """``value`` as the JSON an answer carries (the rendering of Starlette's ``JSONResponse``).

    Stored values come from checked bodies (``bodies.py``) or the sandbox itself, so they never
    hold what this refuses (lone surrogates, NaN).
    """
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


class Packed(Protocol):
    """A stored object kept in parts rather than as one JSON text."""

    def json(self) -> bytes:
        """The object's JSON, as :func:`pack` would render the whole object."""

    def outline(self) -> Obj:
        """The object as list filters see it: every field a filter may read, decoded cheaply."""


Stored = bytes | Packed


def _json(stored: Stored) -> bytes:
    return stored if isinstance(stored, bytes) else stored.json()


def _outline(stored: Stored) -> Obj:
    if isinstance(stored, bytes):
        found: Obj = json.loads(stored)
        return found
    return stored.outline()


def unpack(stored: Stored) -> Obj:
    """The whole object a stored entry holds, as a new dict the caller may change."""
    found: Obj = json.loads(_json(stored))
    return found


@dataclass(frozen=True)
class Window:
    """Which page of a list: size, cursor, and filters (which see an entry's outline)."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    ids: frozenset[str] | None = None
    predicate: Predicate | None = None
    #: field -> values it must have; ``predicate`` checks these too, a collection that
    #: indexes the field uses them to visit only the objects that can match.
    matching: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: Once this fails, every older object fails too (a lower bound on ``createdTime``).
    stop_when: Predicate | None = None


@dataclass(frozen=True)
class Page:
    """One page of a list, as stored entries."""

    entries: list[Stored]
    has_more: bool

    def envelope(self) -> bytes:
        """``{"hasMore", "data"}`` (docs/digital-river-api.md §5), spliced from stored JSON."""
        more = b"true" if self.has_more else b"false"
        data = b",".join(_json(entry) for entry in self.entries)
        return b'{"hasMore":' + more + b',"data":[' + data + b"]}"


class Collection:
    """Objects of one resource in one mode, keyed by their id as a string.

    ``indexed`` names top-level fields whose value (as a string) -> keys is kept, for
    :attr:`Window.matching`.
    """

    def __init__(self, indexed: Sequence[str] = ()) -> None:
        self._keys: list[str | None] = []
        self._entries: list[Stored | None] = []
        #: Also holds deleted keys (their tombstone's position) until compaction.
        self._position: dict[str, int] = {}
        self._count = 0
        self._indexes = {name: _FieldIndex() for name in indexed}

    def __len__(self) -> int:
        return self._count

    def __contains__(self, key: str) -> bool:
        return self._entry(key) is not None

    def _entry(self, key: str) -> Stored | None:
        position = self._position.get(key)
        return None if position is None else self._entries[position]

    def get(self, key: str) -> Obj | None:
        """Return (a decoded copy of) the object stored under ``key``."""
        entry = self._entry(key)
        return None if entry is None else unpack(entry)

    def json(self, key: str) -> bytes | None:
        """Return the JSON of the object stored under ``key``, as an answer carries it."""
        entry = self._entry(key)
        return None if entry is None else _json(entry)

    def put(self, key: str, obj: Obj) -> bytes:
        """Store ``obj``; returns its JSON (for an event to share)."""
        packed = pack(obj)
        self._store(key, packed)
        for name, index in self._indexes.items():
            index.put(key, obj.get(name))
        return packed

    def put_stored(self, key: str, entry: Stored) -> None:
        """Store an entry; a new key goes to the newest end, a known key keeps its place.

        Only for collections without indexes (events): the entry is not decoded here.
        """
        assert not self._indexes, "an indexed collection takes objects (put)"
        self._store(key, entry)

    def _store(self, key: str, entry: Stored) -> None:
        position = self._position.get(key)
        if position is None or self._entries[position] is None:
            self._position[key] = len(self._keys)
            self._keys.append(key)
            self._entries.append(entry)
            self._count += 1
        else:
            self._entries[position] = entry

    def delete(self, key: str) -> bool:
        """Remove the object; its position stays valid as a cursor until compaction."""
        position = self._position.get(key)
        if position is None or self._entries[position] is None:
            return False
        self._keys[position] = None
        self._entries[position] = None
        self._count -= 1
        for index in self._indexes.values():
            index.put(key, None)
        if len(self._keys) > 2 * self._count + 64:
            self._compact()
        return True

    def values(self) -> Iterator[Obj]:
        """Every object, decoded, oldest first (the order persistence keeps)."""
        for entry in self._entries:
            if entry is not None:
                yield unpack(entry)

    def page(self, window: Window) -> Page:
        """Return one page of objects, newest first, honouring the cursor and filters."""
        if window.ending_before is not None:
            return self._page_before(window)
        start = len(self._keys) - 1
        if window.starting_after is not None:
            start = self._cursor(window.starting_after, "startingAfter") - 1
        found: list[Stored] = []
        for entry in self._candidates(window, start, newer=False):
            if len(found) == window.limit:
                return Page(found, has_more=True)
            found.append(entry)
        return Page(found, has_more=False)

    def _page_before(self, window: Window) -> Page:
        assert window.ending_before is not None
        start = self._cursor(window.ending_before, "endingBefore") + 1
        found: list[Stored] = []
        for entry in self._candidates(window, start, newer=True):
            if len(found) == window.limit:
                found.reverse()
                return Page(found, has_more=True)
            found.append(entry)
        found.reverse()
        return Page(found, has_more=False)

    def _candidates(self, window: Window, start: int, *, newer: bool) -> Iterator[Stored]:
        keys = self._narrowed(window)
        if keys is not None:
            source: Iterable[Stored] = self._by_ids(keys, start, newer=newer)
        elif newer:
            source = self._oldest_first(start)
        else:
            source = self._newest_first(start)
        if window.predicate is None and window.stop_when is None:
            yield from source
            return
        for entry in source:
            outline = _outline(entry)
            if window.stop_when is not None and not window.stop_when(outline):
                if newer:
                    continue
                return
            if window.predicate is None or window.predicate(outline):
                yield entry

    def _narrowed(self, window: Window) -> frozenset[str] | None:
        """The only keys that can match the window (``ids`` and indexed fields); ``None``
        when every object may."""
        keys = window.ids
        for name, values in window.matching.items():
            index = self._indexes.get(name)
            if index is not None:
                found = index.keys(values)
                keys = found if keys is None else keys & found
        return keys

    def _by_ids(self, ids: frozenset[str], start: int, *, newer: bool) -> list[Stored]:
        positions = sorted((self._position[key] for key in ids if key in self), reverse=not newer)
        if newer:
            return [self._live(p) for p in positions if p >= start]
        return [self._live(p) for p in positions if p <= start]

    def _live(self, position: int) -> Stored:
        entry = self._entries[position]
        assert entry is not None
        return entry

    def _newest_first(self, start: int) -> Iterator[Stored]:
        for position in range(start, -1, -1):
            entry = self._entries[position]
            if entry is not None:
                yield entry

    def _oldest_first(self, start: int) -> Iterator[Stored]:
        for position in range(start, len(self._entries)):
            entry = self._entries[position]
            if entry is not None:
                yield entry

    def _cursor(self, key: str, parameter: str) -> int:
        position = self._position.get(key)
        if position is None:
            raise invalid_parameter(parameter, key)
        return position

    def _compact(self) -> None:
        live = [p for p, entry in enumerate(self._entries) if entry is not None]
        self._keys = [self._keys[p] for p in live]
        self._entries = [self._entries[p] for p in live]
        self._position = {key: index for index, key in enumerate(self._keys) if key is not None}


class _FieldIndex:
    """One field's value (as a string) -> the keys of the objects that have it."""

    def __init__(self) -> None:
        self._keys: dict[str, set[str]] = {}
        self._value: dict[str, str] = {}

    def put(self, key: str, value: Any) -> None:
        """Record ``key``'s value now (``None``: deleted, or the field is absent)."""
        old = self._value.pop(key, None)
        if old is not None:
            holders = self._keys[old]
            holders.discard(key)
            if not holders:
                del self._keys[old]
        if value is not None:
            text = str(value)
            self._value[key] = text
            self._keys.setdefault(text, set()).add(key)

    def keys(self, values: frozenset[str]) -> frozenset[str]:
        """Keys of the objects whose value is one of ``values``."""
        return frozenset(key for value in values for key in self._keys.get(value, ()))
