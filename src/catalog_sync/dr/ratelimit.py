"""One rate budget for the whole process: a token bucket with prioritised waiters.

The API allows a number of requests per second per key (docs/digital-river-api.md §4: 25/s test,
250/s live). Every call of every task draws from this one bucket, so a healthy run meets no 429 at
all. The bucket's burst is small (a tenth of a second's worth) so the client never fires more at
once than the server's own bucket is likely to absorb.

When calls wait, the one with the lowest :class:`Priority` goes first and calls of equal
priority go in arrival order: a payment capture never queues behind a catalog write. Only the
waiter at the head of the queue sleeps on the clock; the others wait to be handed the head, so
a thousand queued catalog writes cost one timer, not a thousand.

Clock and sleep are injected so tests run on a fake clock with no wall time.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from catalog_sync.core.priorities import Priority
from catalog_sync.support.clock import Sleep

Clock = Callable[[], float]
#: Float slack so that a bucket refilled to 0.9999999 counts as holding a token.
_EPSILON = 1e-9
#: Shortest wait, so a head never spins on a clock too coarse to show a tiny advance.
_MIN_WAIT = 1e-6


@dataclass(order=True)
class _Waiter:
    priority: int
    seq: int
    turn: asyncio.Event = field(default_factory=asyncio.Event, compare=False)


class RateBudget:
    """A token bucket of ``rate`` tokens per second holding at most ``burst`` tokens."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        if self.burst < 1:
            raise ValueError("burst must be at least one token")
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._updated = clock()
        self._queue: list[_Waiter] = []
        self._seq = itertools.count()

    @property
    def waiting(self) -> int:
        """Calls currently waiting for a token."""
        return len(self._queue)

    async def acquire(self, priority: Priority = Priority.CATALOG) -> None:
        """Wait for one token; lower ``priority`` values are served first."""
        if not self._queue and self._take():
            return
        me = _Waiter(int(priority), next(self._seq))
        heapq.heappush(self._queue, me)
        try:
            while True:
                if self._queue[0] is not me:
                    me.turn.clear()
                    await me.turn.wait()
                elif self._take():
                    return
                else:
                    await self._sleep(max(_MIN_WAIT, (1 - self._tokens) / self.rate))
        finally:
            self._leave(me)

    def penalize(self, seconds: float) -> None:
        """Stop granting for ``seconds``: the server said ``Retry-After`` to one of us.

        The API limits the key, not the call, so when one call is told to wait every call
        would be refused too; holding the whole budget avoids a storm of 429s.
        """
        self._refill()
        self._tokens = min(self._tokens, 0.0) - seconds * self.rate

    def _take(self) -> bool:
        self._refill()
        if self._tokens >= 1 - _EPSILON:
            self._tokens -= 1
            return True
        return False

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.rate)

    def _leave(self, me: _Waiter) -> None:
        was_head = self._queue[0] is me
        self._queue.remove(me)
        heapq.heapify(self._queue)
        if was_head and self._queue:
            self._queue[0].turn.set()
