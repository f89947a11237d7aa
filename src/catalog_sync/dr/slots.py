"""The client's connection slots: at most ``size`` requests in flight, waiters by priority.

A request takes a slot after its rate-budget token and before it reaches the transport, so
a request that cannot be sent at once waits here, on our side, never inside a connection
pool. The wait is ordered as the rate budget orders it (:class:`Priority`, then arrival): a
plain FIFO semaphore would let a capture that arrives while event reads or catalog writes hold
every slot queue behind the catalog writes already waiting for one.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import AsyncIterator

from catalog_sync.core.priorities import Priority


class Slots:
    """A semaphore of ``size`` whose waiters are served lowest priority value first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._free = size
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    @property
    def free(self) -> int:
        """Slots nobody holds."""
        return self._free

    @contextlib.asynccontextmanager
    async def hold(self, priority: Priority) -> AsyncIterator[None]:
        """Hold one slot for the block, waiting for it at ``priority``."""
        await self.acquire(priority)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, priority: Priority) -> None:
        """Take a slot; while none is free, wait in priority, then arrival, order."""
        if self._free and not self._queue:
            self._free -= 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (int(priority), next(self._seq), granted))
        try:
            await granted
        except asyncio.CancelledError:
            # Handed a slot in the same turn as the cancel: pass it on. A waiter cancelled
            # before that stays in the heap as a cancelled future, which release() skips.
            if granted.done() and not granted.cancelled():
                self.release()
            raise

    def release(self) -> None:
        """Give a slot back: to the first waiter still waiting, else to the free count."""
        while self._queue:
            _, _, granted = heapq.heappop(self._queue)
            if not granted.done():
                granted.set_result(None)
                return
        self._free += 1
