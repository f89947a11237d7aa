"""Timestamps in the API's formats, from a clock that never runs backwards.

Lists are ordered by insertion and filtered by ``createdTime`` with an early stop, which is only
correct while creation times never decrease; the clock guarantees that even if the wall clock
steps back.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """Wall-clock UTC time, clamped so that successive readings never decrease."""

    def __init__(self) -> None:
        self._last = datetime.now(UTC)

    def now(self) -> datetime:
        """Return the current time, never earlier than the previous reading."""
        current = datetime.now(UTC)
        self._last = max(current, self._last)
        return self._last


def stamp(moment: datetime) -> str:
    """Resource timestamps: whole seconds with a literal ``Z`` (docs/digital-river-api.md §2)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp_micro(moment: datetime) -> str:
    """Event timestamps: microseconds with a literal ``Z`` (docs/digital-river-api.md §2)."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime | None:
    """Parse an ISO-8601 UTC timestamp in any precision the API uses; ``None`` when invalid."""
    candidate = text.strip()
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: before the first representable time
        return None


def later(moment: datetime, *, days: int) -> datetime:
    """Return ``moment`` shifted by whole days (backorder availability dates)."""
    return moment + timedelta(days=days)
