"""The one clock and the one time format of every stored time.

Every time the state database holds (inbox, cursor, ledger, history, notifications, requests,
applied pairs, runs) is written by :func:`stamp`: UTC, microseconds, ``Z``. Always the same
width, so stored times compare and sort correctly as text, which the state queries rely on
(``next_attempt_at <= now``, oldest event first). Databases written before this format was the
only one also hold millisecond times (``...T12:00:00.123Z``, applied pairs and runs);
:func:`parse_stamp` reads both, and those columns were never compared as text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Final

#: ``strftime`` format of a stored time (the ``Z`` is literal: the time is always UTC).
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"

#: Where a component reads the time; tests pass a fake one.
Clock = Callable[[], datetime]
#: How a component waits (``asyncio.sleep``); tests pass one that records the waits.
Sleep = Callable[[float], Awaitable[object]]


def utc_clock() -> datetime:
    """The wall clock, in UTC (the default :data:`Clock`)."""
    return datetime.now(UTC)


def stamp(moment: datetime) -> str:
    """Render a time as every table stores it (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def now_stamp(clock: Clock = utc_clock) -> str:
    """The current time of ``clock``, as stored."""
    return stamp(clock())


def parse_stamp(text: str) -> datetime:
    """Read a stored time (micro- or millisecond form) or an API time, always time-zone aware.

    A time without an offset is UTC: that is how every stored time was written.
    """
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
