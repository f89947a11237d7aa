"""List query parameters: limit, cursors, ``ids``, time ranges, field filters.

What each means is docs/digital-river-api.md §5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from starlette.datastructures import QueryParams

from catalog_sync.sandbox.clock import parse_time
from catalog_sync.sandbox.errors import invalid_parameter
from catalog_sync.sandbox.store import Obj, Predicate, Window

MAX_LIMIT: Final = 100
DEFAULT_LIMIT: Final = 10
_TIME_FIELDS: Final = ("createdTime", "updatedTime")
_COMPARE: Final[dict[str, Callable[[datetime, datetime], bool]]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


@dataclass(frozen=True)
class FieldFilter:
    """A list filter matching a query parameter against one field of the object."""

    param: str
    field: str


def multi(params: QueryParams, name: str) -> list[str] | None:
    """Values of an array parameter sent repeated or comma-separated; ``None`` when absent."""
    raw = params.getlist(name)
    if not raw:
        return None
    return [part.strip() for value in raw for part in value.split(",") if part.strip()]


def build_window(
    params: QueryParams,
    filters: Sequence[FieldFilter] = (),
    extra: Sequence[Predicate] = (),
) -> Window:
    """Turn the query string of a list call into a :class:`Window`."""
    predicates: list[Predicate] = list(extra)
    matching: dict[str, frozenset[str]] = {}
    for spec in filters:
        wanted = multi(params, spec.param)
        if wanted is not None:
            matching[spec.field] = frozenset(wanted)
            predicates.append(_field_in(spec.field, matching[spec.field]))
    lower_bounds: list[Predicate] = []
    for field in _TIME_FIELDS:
        for op, bound in _time_conditions(params, field):
            check = _time_check(field, op, bound)
            predicates.append(check)
            if field == "createdTime" and op in {"gt", "gte", "eq"}:
                lower_bounds.append(_time_check(field, "gte", bound))
    ids = multi(params, "ids")
    return Window(
        limit=_limit(params),
        starting_after=params.get("startingAfter") or None,
        ending_before=_ending_before(params),
        ids=frozenset(ids) if ids is not None else None,
        predicate=_all(predicates) if predicates else None,
        matching=matching,
        stop_when=_all(lower_bounds) if lower_bounds else None,
    )


def _limit(params: QueryParams) -> int:
    text = params.get("limit")
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise invalid_parameter("limit", text) from None
    if not 1 <= value <= MAX_LIMIT:
        raise invalid_parameter("limit", text)
    return value


def _ending_before(params: QueryParams) -> str | None:
    value = params.get("endingBefore") or None
    if value is not None and params.get("startingAfter"):
        raise invalid_parameter("endingBefore", value)
    return value


def _time_conditions(params: QueryParams, field: str) -> list[tuple[str, datetime]]:
    found: list[tuple[str, datetime]] = []
    for key, text in params.multi_items():
        if key == field:
            op = "eq"
        elif key.startswith(f"{field}[") and key.endswith("]"):
            op = key[len(field) + 1 : -1]
            if op not in _COMPARE:
                raise invalid_parameter(key, text)
        else:
            continue
        moment = parse_time(text)
        if moment is None:
            raise invalid_parameter(key, text)
        found.append((op, moment))
    return found


def _time_check(field: str, op: str, bound: datetime) -> Predicate:
    compare = _COMPARE[op]

    def check(obj: Obj) -> bool:
        text = obj.get(field)
        moment = parse_time(text) if isinstance(text, str) else None
        return moment is not None and compare(moment, bound)

    return check


def _field_in(field: str, wanted: frozenset[str]) -> Predicate:
    def check(obj: Obj) -> bool:
        value = obj.get(field)
        return value is not None and str(value) in wanted

    return check


def _all(predicates: Sequence[Predicate]) -> Predicate:
    def check(obj: Obj) -> bool:
        return all(predicate(obj) for predicate in predicates)

    return check
