"""Events: what every state change leaves behind for ``GET /events``.

The event object and its types are docs/digital-river-api.md §14.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any, Final

from starlette.datastructures import QueryParams

from catalog_sync.sandbox.assumptions import API_VERSION, MAX_EVENT_TYPES, VERSION_FIELD
from catalog_sync.sandbox.clock import stamp_micro
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import invalid_parameter
from catalog_sync.sandbox.query import multi
from catalog_sync.sandbox.store import Obj, Predicate, pack

_NO_CHANGES: Final = pack({})
_TAIL: Final = f',"{VERSION_FIELD}":"{API_VERSION}"}}'.encode()


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event kept in parts: its ``data.object`` is the very JSON its collection stored.

    A million-SKU initial sync leaves a million ``sku.created`` events; held whole, each would
    be a second copy of its SKU. Rendered, it is the event :func:`emit` describes, field for
    field in the order the API's samples show (docs/digital-river-api.md §14.2).
    """

    id: str
    type: str
    inner: bytes
    previous: bytes
    live: bool
    created: str

    def json(self) -> bytes:
        """The whole event, as the API answers with it."""
        return b"".join(
            (
                b'{"id":',
                pack(self.id),
                b',"type":',
                pack(self.type),
                b',"data":{"object":',
                self.inner,
                b',"previousAttributes":',
                self.previous,
                b'},"liveMode":',
                b"true" if self.live else b"false",
                b',"createdTime":',
                pack(self.created),
                _TAIL,
            )
        )

    def outline(self) -> Obj:
        """Every field but ``data.object`` (``null`` here): list filters read type and times."""
        return {
            "id": self.id,
            "type": self.type,
            "data": {"object": None, "previousAttributes": json.loads(self.previous)},
            "liveMode": self.live,
            "createdTime": self.created,
            VERSION_FIELD: API_VERSION,
        }


def emit(
    data: DataSet, event_type: str, obj: Obj | bytes, previous: dict[str, Any] | None = None
) -> None:
    """Record an event whose ``data.object`` is ``obj`` as it is now.

    ``obj`` may be the JSON a collection just stored (``Collection.put``'s result), which the
    event then shares instead of copying.
    """
    event_id = str(uuid.uuid4())
    event = StoredEvent(
        id=event_id,
        type=event_type,
        inner=obj if isinstance(obj, bytes) else pack(obj),
        previous=pack(previous) if previous else _NO_CHANGES,
        live=data.live,
        created=stamp_micro(data.clock.now()),
    )
    data.events.put_stored(event_id, event)


def vanish(data: DataSet, event_type: str, object_id: str | None) -> list[str]:
    """Remove the events of ``event_type`` (about the object ``object_id``, when given) from
    ``GET /events``, as an event a poller missed or that expired; returns their ids."""
    gone = [
        event["id"]
        for event in list(data.events.values())
        if _type(event) == event_type
        and (object_id is None or str(_object(event).get("id")) == object_id)
    ]
    for event_id in gone:
        data.events.delete(event_id)
    return gone


def _object(event: Obj) -> Obj:
    body = event.get("data")
    obj = body.get("object") if isinstance(body, dict) else None
    return obj if isinstance(obj, dict) else {}


def type_filter(params: QueryParams) -> Predicate | None:
    """``type`` (one name, ``*`` wildcards) or ``types`` (exact names); never both."""
    single = params.get("type")
    several = multi(params, "types")
    if single is not None and several is not None:
        raise invalid_parameter("types", ",".join(several))
    if several is not None:
        if len(several) > MAX_EVENT_TYPES:
            raise invalid_parameter("types", ",".join(several))
        wanted = frozenset(several)
        return lambda event: _type(event) in wanted
    if single is not None:
        pattern = re.compile(re.escape(single).replace(r"\*", ".*"))
        return lambda event: pattern.fullmatch(_type(event)) is not None
    return None


def _type(event: Obj) -> str:
    """The event's type; "" for a raw event appended without a usable one (never matched)."""
    kind = event.get("type")
    return kind if isinstance(kind, str) else ""
