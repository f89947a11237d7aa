"""A service's pause between passes: a reload that shortens it ends the sleep under way."""

from __future__ import annotations

import asyncio

from catalog_sync.support.waits import Pause

#: A deadline for what must happen at once; never reached when the code is right.
DEADLINE = 30.0


async def test_a_shorter_length_ends_a_sleep_under_way() -> None:
    """Asleep for an hour, a sleeper retimed to nothing wakes instead of sleeping it out."""
    pause, stop, length = Pause(), asyncio.Event(), [3600.0]
    sleeper = asyncio.create_task(pause.sleep(stop, lambda: length[0]))
    await asyncio.sleep(0)  # a turn of the loop: it falls asleep on the hour
    assert not sleeper.done()
    length[0] = 0.0
    pause.retime()
    await asyncio.wait_for(sleeper, DEADLINE)
    assert not stop.is_set()


async def test_every_sleeper_sees_a_retime() -> None:
    """Two loops of one service asleep on one pause both wake (none clears it for the other)."""
    pause, stop, length = Pause(), asyncio.Event(), [3600.0]
    sleepers = [asyncio.create_task(pause.sleep(stop, lambda: length[0])) for _ in range(2)]
    await asyncio.sleep(0)
    assert not any(s.done() for s in sleepers)
    length[0] = 0.0
    pause.retime()
    await asyncio.wait_for(asyncio.gather(*sleepers), DEADLINE)


async def test_a_retime_to_a_length_not_yet_over_keeps_sleeping() -> None:
    """A retime with a length that has not passed since the sleep began does not end it."""
    pause, stop = Pause(), asyncio.Event()
    sleeper = asyncio.create_task(pause.sleep(stop, lambda: 3600.0))
    await asyncio.sleep(0)
    pause.retime()
    for _ in range(5):
        await asyncio.sleep(0)  # the sleeper runs again, measures, and goes back to sleep
    assert not sleeper.done()
    stop.set()
    await asyncio.wait_for(sleeper, DEADLINE)
