"""The backoff schedule and the retry loop, on a fake sleep."""

from __future__ import annotations

import pytest

from catalog_sync.dr import BadRequest, DRError, RateLimited, RetryPolicy, ServerError
from catalog_sync.dr.retry import retrying
from catalog_sync.dr.testing import FakeSleep
from catalog_sync.support.settings import Settings

BUSY = ServerError(503, "service_unavailable")


def _always_resend(error: DRError) -> bool:
    return error.retryable


class Flaky:
    """Fails with the given errors, then returns ``"done"``."""

    def __init__(self, *errors: DRError) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def test_backoff_doubles_up_to_the_cap() -> None:
    """Without jitter the waits are initial * 2**n, capped at max_backoff."""
    policy = RetryPolicy(attempts=8, initial_backoff=0.5, max_backoff=4, jitter=0)
    assert [policy.delay(n, BUSY, 0.0) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]


def test_jitter_adds_at_most_its_share() -> None:
    """Jitter adds up to ``jitter`` times the base wait, scaled by the random draw."""
    policy = RetryPolicy(initial_backoff=1, max_backoff=10, jitter=0.5)
    assert policy.delay(1, BUSY, 0.0) == 1
    assert policy.delay(1, BUSY, 0.999) == pytest.approx(1.4995)


def test_retry_after_is_a_floor_beyond_the_cap() -> None:
    """A 429's Retry-After is never shortened, not even by max_backoff."""
    policy = RetryPolicy(initial_backoff=0.5, max_backoff=4, jitter=0)
    limited = RateLimited(429, "too_many_requests", retry_after=120)
    assert policy.delay(1, limited, 0.0) == 120


def test_retry_after_below_backoff_keeps_backoff() -> None:
    """A short Retry-After does not shorten a longer backoff."""
    policy = RetryPolicy(initial_backoff=2, max_backoff=8, jitter=0)
    limited = RateLimited(429, "too_many_requests", retry_after=1)
    assert policy.delay(1, limited, 0.0) == 2


def test_policy_comes_from_settings() -> None:
    """The schedule lives in settings (``retry_*``)."""
    settings = Settings(
        api_key="sk_test_0123456789abcdef",
        retry_attempts=4,
        retry_initial_backoff=0.25,
        retry_max_backoff=9,
        retry_jitter=0.1,
    )
    assert RetryPolicy.from_settings(settings.api) == RetryPolicy(4, 0.25, 9, 0.1)


def test_policy_refuses_zero_attempts() -> None:
    """At least one try is needed, so a zero would be a configuration mistake."""
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)


async def test_loop_sleeps_the_schedule_between_tries() -> None:
    """Two failures then success: two waits of the schedule, three calls."""
    sleep = FakeSleep()
    operation = Flaky(BUSY, BUSY)
    policy = RetryPolicy(attempts=5, initial_backoff=1, max_backoff=10, jitter=0)
    result = await retrying(operation, policy=policy, may_resend=_always_resend, sleep=sleep)
    assert (result, operation.calls, sleep.waits) == ("done", 3, [1, 2])


async def test_loop_gives_up_after_the_attempts() -> None:
    """The last error is raised once the attempts are spent."""
    sleep = FakeSleep()
    operation = Flaky(BUSY, BUSY, BUSY)
    policy = RetryPolicy(attempts=2, initial_backoff=1, jitter=0)
    with pytest.raises(ServerError):
        await retrying(operation, policy=policy, may_resend=_always_resend, sleep=sleep)
    assert operation.calls == 2


async def test_loop_never_resends_a_non_retryable_error() -> None:
    """A 400 is raised at once, without a wait."""
    sleep = FakeSleep()
    operation = Flaky(BadRequest(400, "bad_request"))
    with pytest.raises(BadRequest):
        await retrying(operation, policy=RetryPolicy(), may_resend=_always_resend, sleep=sleep)
    assert (operation.calls, sleep.waits) == (1, [])


async def test_loop_reports_each_retry() -> None:
    """The hook sees the error, the failed attempt number and the wait before each retry."""
    seen: list[tuple[DRError, int, float]] = []
    policy = RetryPolicy(attempts=3, initial_backoff=1, jitter=0)
    await retrying(
        Flaky(BUSY),
        policy=policy,
        may_resend=_always_resend,
        sleep=FakeSleep(),
        on_retry=lambda e, n, w: seen.append((e, n, w)),
    )
    assert seen == [(BUSY, 1, 1.0)]
