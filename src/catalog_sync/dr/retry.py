"""When and how long to wait before sending a failed call again.

A hand-written loop rather than tenacity: whether an error may be resent depends on the call
(a create may only be resent when the error proves it was not applied, see
:func:`catalog_sync.dr.errors.proves_not_applied`), the wait has a floor from ``Retry-After``,
and every wait must go through an injected sleep for tests. Expressed with tenacity that is a
custom retry predicate, a custom wait and a custom sleep: more code than the loop itself.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from catalog_sync.dr.errors import DRError, RateLimited
from catalog_sync.support.clock import Sleep
from catalog_sync.support.settings import ApiSettings

T = TypeVar("T")
#: Called before each wait with the error, the attempt that failed (1-based) and the delay.
RetryHook = Callable[[DRError, int, float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: ``initial * 2**n``, capped, plus up to ``jitter`` of it.

    ``attempts`` counts tries, the first included. A ``Retry-After`` from the API is a floor
    that no cap shortens: the server said when it will accept the call again.
    """

    attempts: int = ApiSettings.retry_attempts
    initial_backoff: float = ApiSettings.retry_initial_backoff
    max_backoff: float = ApiSettings.retry_max_backoff
    jitter: float = ApiSettings.retry_jitter

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.initial_backoff <= 0 or self.max_backoff <= 0 or self.jitter < 0:
            raise ValueError("backoffs must be positive and jitter not negative")

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> RetryPolicy:
        """Build the policy from the ``retry_*`` settings of ``settings.api``."""
        return cls(
            attempts=settings.retry_attempts,
            initial_backoff=settings.retry_initial_backoff,
            max_backoff=settings.retry_max_backoff,
            jitter=settings.retry_jitter,
        )

    def delay(self, attempt: int, error: DRError, draw: float) -> float:
        """Seconds to wait after failed ``attempt`` (1-based); ``draw`` is uniform in [0, 1)."""
        base = min(self.max_backoff, self.initial_backoff * 2.0 ** (attempt - 1))
        wait = base * (1 + self.jitter * draw)
        if isinstance(error, RateLimited) and error.retry_after is not None:
            wait = max(wait, error.retry_after)
        return wait


async def retrying(
    operation: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    may_resend: Callable[[DRError], bool],
    sleep: Sleep = asyncio.sleep,
    draw: Callable[[], float] = random.random,
    on_retry: RetryHook | None = None,
) -> T:
    """Run ``operation`` until it succeeds, fails for good, or the attempts are spent.

    An error is sent again only when ``may_resend`` says so; the last error is raised as is.
    """
    attempt = 1
    while True:
        try:
            return await operation()
        except DRError as error:
            if attempt >= policy.attempts or not may_resend(error):
                raise
            wait = policy.delay(attempt, error, draw())
            if on_retry is not None:
                on_retry(error, attempt, wait)
        await sleep(wait)
        attempt += 1
