"""Events: what every state change leaves behind for ``GET /events``.

The event object and its types are docs/digital-river-api.md §14.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.datastructures import QueryParams

from catalog_sync.sandbox.assumptions import API_VERSION, MAX_EVENT_TYPES, VERSION_FIELD
from catalog_sync.sandbox.clock import stamp_micro
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import invalid_parameter
from catalog_sync.sandbox.query import multi
from catalog_sync.sandbox.store import Obj, Predicate


def emit(data: DataSet, event_type: str, obj: Obj, previous: dict[str, Any] | None = None) -> Obj:
    """Record an event whose ``data.object`` is ``obj`` (never mutated afterwards)."""
    event_id = str(uuid.uuid4())
    event: Obj = {
        "id": event_id,
        "type": event_type,
        "data": {"object": obj, "previousAttributes": previous or {}},
        "liveMode": data.live,
        "createdTime": stamp_micro(data.clock.now()),
        VERSION_FIELD: API_VERSION,
    }
    data.events.put(event_id, event)
    return event


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
