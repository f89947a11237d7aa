"""How many catalog calls may be in flight: enough to spend the rate budget, and no more.

The rate budget orders calls by priority only while they wait on *our* side. A call already
sent waits in the server's queue in arrival order, so every catalog write in flight is one a
capture may queue behind. Under load that is what stretched capture lag (benchmark
``events_throughput``): twelve catalog writes in flight at a slowed sandbox put a capture
behind all twelve.

So the window keeps catalog calls in flight at about what the rate needs at the *unloaded*
latency (Little's law: in flight = rate x latency), with headroom: ``2 x rate x min latency
+ 1``, at least :data:`FLOOR`, at most ``ceiling``. The minimum latency is filtered over two
:data:`LATENCY_WINDOW` buckets (as BBR filters its minimum round trip): a latency swollen by
queueing never widens the window, and a slower network is learned within twenty seconds. At
the sandbox (2 ms) that is 2-3 calls; against the real API (~150 ms) it reaches the ceiling,
the connections ``max_concurrency`` leaves to bulk work. Until a latency is known the window
is the floor: the first answer, a round trip later, sets it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from types import TracebackType

#: Fewest catalog calls in flight: one answering while the next is sent.
FLOOR: Final = 2
#: In flight per unit of rate x minimum latency: spare for jitter, so the rate is still spent.
HEADROOM: Final = 2.0
#: Seconds per bucket of the minimum-latency filter (the minimum holds for one to two of them).
LATENCY_WINDOW: Final = 10.0


class BulkWindow:
    """An async gate whose width follows the rate and the minimum latency of what it gates.

    Use ``async with window:`` around a call and :meth:`observe` its latency.
    """

    def __init__(
        self, rate: float, ceiling: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if ceiling < 1:
            raise ValueError("ceiling must be at least 1")
        self._rate = rate
        self._ceiling = ceiling
        self._clock = clock
        self._in_flight = 0
        #: Calls waiting to enter, in arrival order. Each is let in by the one leaving (the
        #: place is handed over, never raced for): with a condition to wait on, a call arriving
        #: just as one left took the place the woken waiter then found gone, and that waiter
        #: went to the back again; under a steady flow some catalog writes waited a whole run.
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._bucket_started = clock()
        self._bucket_min = math.inf
        self._previous_min = math.inf

    @property
    def in_flight(self) -> int:
        """Calls inside the window now."""
        return self._in_flight

    @property
    def min_latency(self) -> float | None:
        """The filtered minimum latency in seconds, or None before any was observed."""
        self._roll()
        best = min(self._bucket_min, self._previous_min)
        return None if math.isinf(best) else best

    @property
    def limit(self) -> int:
        """How many calls may be in flight now."""
        latency = self.min_latency
        if latency is None:
            return min(FLOOR, self._ceiling)
        wanted = math.ceil(HEADROOM * self._rate * latency) + 1
        return min(self._ceiling, max(FLOOR, wanted))

    def observe(self, seconds: float) -> None:
        """Record one call's latency (send to answer); a lower minimum narrows the window."""
        self._roll()
        self._bucket_min = min(self._bucket_min, seconds)
        self._admit()  # the first answer may widen the floor's window

    async def __aenter__(self) -> None:
        if not self._waiting and self._in_flight < self.limit:
            self._in_flight += 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                # Let in in the same turn as the cancel: pass the place on.
                self._in_flight -= 1
                self._admit()
            elif turn in self._waiting:  # not yet skipped by a leaving call
                self._waiting.remove(turn)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._in_flight -= 1
        self._admit()

    def _admit(self) -> None:
        """Let the longest-waiting calls in while the window has room."""
        while self._waiting and self._in_flight < self.limit:
            turn = self._waiting.popleft()
            if not turn.done():
                self._in_flight += 1
                turn.set_result(None)

    def _roll(self) -> None:
        """Start a new bucket every :data:`LATENCY_WINDOW` seconds, keeping the last one."""
        now = self._clock()
        elapsed = now - self._bucket_started
        if elapsed < LATENCY_WINDOW:
            return
        self._previous_min = self._bucket_min if elapsed < 2 * LATENCY_WINDOW else math.inf
        self._bucket_min = math.inf
        self._bucket_started = now
