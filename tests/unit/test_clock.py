"""The one clock module: the stored form of a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from catalog_sync.support.clock import parse_stamp, stamp


def test_a_stored_time_is_utc_with_microseconds() -> None:
    """Any offset is stored as UTC, always with six digits of fraction and ``Z``."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2)))
    assert stamp(moment) == "2026-01-02T01:04:05.000000Z"


def test_a_naive_time_is_taken_as_utc() -> None:
    """Stored times carry no offset but ``Z``: a naive time is never shifted by local time."""
    naive = datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001 - the case under test
    assert stamp(naive) == "2026-01-02T03:04:05.000000Z"


def test_a_time_without_offset_reads_as_utc() -> None:
    """Reading never returns a naive time, which could not be compared with the clock."""
    assert parse_stamp("2026-01-02T03:04:05") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
