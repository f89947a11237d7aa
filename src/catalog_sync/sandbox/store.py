"""In-memory collections whose pages cost O(page), not O(collection).

Objects are kept in creation order with an id -> position index; a list walks positions
newest-first from the cursor's position, so a page of 100 out of 200,000 touches ~100 slots.
Deleted objects leave a tombstone (and keep their position, so a cursor on a just-deleted
object still works) until more than half the slots are tombstones.

Stored objects are never mutated in place: writers put a new dict. Events can therefore hold
the very object that was stored at the time, which keeps memory flat under bulk writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from catalog_sync.sandbox.errors import invalid_parameter

Obj = dict[str, Any]
Predicate = Callable[[Obj], bool]


@dataclass(frozen=True)
class Window:
    """Which page of a list: size, cursor, and filters."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    ids: frozenset[str] | None = None
    predicate: Predicate | None = None
    #: Once this fails, every older object fails too (a lower bound on ``createdTime``).
    stop_when: Predicate | None = None


@dataclass(frozen=True)
class Page:
    """One page of a list, in the API's envelope."""

    data: list[Obj]
    has_more: bool

    def envelope(self) -> Obj:
        """Return ``{"hasMore", "data"}`` (docs/digital-river-api.md §5)."""
        return {"hasMore": self.has_more, "data": self.data}


class Collection:
    """Objects of one resource in one mode, keyed by their id as a string."""

    def __init__(self) -> None:
        self._slots: list[str | None] = []
        self._position: dict[str, int] = {}
        self._objects: dict[str, Obj] = {}

    def __len__(self) -> int:
        return len(self._objects)

    def __contains__(self, key: str) -> bool:
        return key in self._objects

    def get(self, key: str) -> Obj | None:
        """Return the object stored under ``key``."""
        return self._objects.get(key)

    def put(self, key: str, obj: Obj) -> None:
        """Store ``obj``; a new key goes to the newest end, a known key keeps its place."""
        if key not in self._objects:
            self._position[key] = len(self._slots)
            self._slots.append(key)
        self._objects[key] = obj

    def delete(self, key: str) -> Obj | None:
        """Remove and return the object; its position stays valid as a cursor until compaction."""
        obj = self._objects.pop(key, None)
        if obj is not None:
            self._slots[self._position[key]] = None
            if len(self._slots) > 2 * len(self._objects) + 64:
                self._compact()
        return obj

    def values(self) -> Iterator[Obj]:
        """Every object, oldest first (the order persistence keeps)."""
        for key in self._slots:
            if key is not None:
                yield self._objects[key]

    def page(self, window: Window) -> Page:
        """Return one page of objects, newest first, honouring the cursor and filters."""
        if window.ending_before is not None:
            return self._page_before(window)
        start = len(self._slots) - 1
        if window.starting_after is not None:
            start = self._cursor(window.starting_after, "startingAfter") - 1
        found: list[Obj] = []
        for obj in self._candidates(window, start, newer=False):
            if len(found) == window.limit:
                return Page(found, has_more=True)
            found.append(obj)
        return Page(found, has_more=False)

    def _page_before(self, window: Window) -> Page:
        assert window.ending_before is not None
        start = self._cursor(window.ending_before, "endingBefore") + 1
        found: list[Obj] = []
        for obj in self._candidates(window, start, newer=True):
            if len(found) == window.limit:
                found.reverse()
                return Page(found, has_more=True)
            found.append(obj)
        found.reverse()
        return Page(found, has_more=False)

    def _candidates(self, window: Window, start: int, *, newer: bool) -> Iterator[Obj]:
        if window.ids is not None:
            source: Iterable[Obj] = self._by_ids(window.ids, start, newer=newer)
        elif newer:
            source = self._oldest_first(start)
        else:
            source = self._newest_first(start)
        for obj in source:
            if window.stop_when is not None and not window.stop_when(obj):
                if newer:
                    continue
                return
            if window.predicate is None or window.predicate(obj):
                yield obj

    def _by_ids(self, ids: frozenset[str], start: int, *, newer: bool) -> list[Obj]:
        positions = sorted(
            (self._position[key] for key in ids if key in self._objects), reverse=not newer
        )
        if newer:
            return [self._objects[self._key(p)] for p in positions if p >= start]
        return [self._objects[self._key(p)] for p in positions if p <= start]

    def _key(self, position: int) -> str:
        key = self._slots[position]
        assert key is not None
        return key

    def _newest_first(self, start: int) -> Iterator[Obj]:
        for position in range(start, -1, -1):
            key = self._slots[position]
            if key is not None:
                yield self._objects[key]

    def _oldest_first(self, start: int) -> Iterator[Obj]:
        for position in range(start, len(self._slots)):
            key = self._slots[position]
            if key is not None:
                yield self._objects[key]

    def _cursor(self, key: str, parameter: str) -> int:
        position = self._position.get(key)
        if position is None:
            raise invalid_parameter(parameter, key)
        return position

    def _compact(self) -> None:
        live = [key for key in self._slots if key is not None]
        self._slots = list(live)
        self._position = {key: index for index, key in enumerate(live)}
