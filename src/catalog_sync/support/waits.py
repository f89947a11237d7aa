"""Waiting in a service: for the first of several events, and between passes.

A service sleeps between passes (the poller between polls, the audit between audits) and a
SIGHUP may change how long while it sleeps. :class:`Pause` makes that change take effect in
the sleep already under way: it is measured again from its start with the new length, so a
poller asleep on a one-hour interval polls at once when the interval becomes five seconds
instead of sleeping the hour out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable


async def wait_any(*events: asyncio.Event, then: Callable[[], object] | None = None) -> None:
    """Return when any of ``events`` is set, then call ``then``."""
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
    if then is not None:
        then()


class Pause:
    """The sleeps of one service between passes, which :meth:`retime` can cut short."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def retime(self) -> None:
        """The lengths changed: every sleep under way measures itself again from its start.

        A fresh event replaces the one that is set, so no sleeper can miss the change (as it
        could if one sleeper cleared an event another had not yet seen).
        """
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def sleep(self, stop: asyncio.Event, seconds: Callable[[], float]) -> None:
        """Sleep ``seconds()`` from now, or until ``stop``.

        ``seconds`` is read again after each :meth:`retime`: the sleep then ends at its start
        plus the new length, at once if that moment has passed.
        """
        loop = asyncio.get_running_loop()
        start = loop.time()
        while not stop.is_set():
            remaining = start + seconds() - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await wait_any(stop, self._changed)
