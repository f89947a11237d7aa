"""The one time format: every stored time reads back as itself and sorts as text like time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.support.clock import parse_stamp, stamp

#: Any instant a daemon may meet, with any offset it may be given in.
moments = st.datetimes(
    min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - bounds of an aware strategy
    max_value=datetime(9998, 12, 30),  # noqa: DTZ001
    timezones=st.builds(timezone, st.timedeltas(timedelta(hours=-23), timedelta(hours=23))),
)


@fuzz_settings
@given(moments)
def test_a_stored_time_reads_back_as_the_same_instant(moment: datetime) -> None:
    """``parse_stamp(stamp(t))`` is ``t``, in UTC, to the microsecond."""
    assert parse_stamp(stamp(moment)) == moment.astimezone(UTC)


@fuzz_settings
@given(moments, moments)
def test_stored_times_sort_as_text_like_the_instants(a: datetime, b: datetime) -> None:
    """Comparing two stored times as text (as the state's queries do) compares the instants."""
    assert (stamp(a) < stamp(b)) == (a < b)


@fuzz_settings
@given(moments)
def test_the_old_millisecond_form_reads_as_the_same_instant(moment: datetime) -> None:
    """A time written before the one format (milliseconds) reads as that instant."""
    utc = moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)
    old = utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert parse_stamp(old) == utc
