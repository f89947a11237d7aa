"""The client's connection slots: a bound on requests in flight, waiters served by priority."""

from __future__ import annotations

import asyncio

from catalog_sync.dr import Priority
from catalog_sync.dr.slots import Slots
from catalog_sync.dr.testing import settle


async def queue_waiters(
    slots: Slots, priorities: list[Priority]
) -> tuple[list[int], list[asyncio.Task[None]]]:
    """Start one waiter per priority, in list order; each records its index once it holds."""
    order: list[int] = []

    async def wait(index: int, priority: Priority) -> None:
        await slots.acquire(priority)
        order.append(index)

    tasks = [asyncio.create_task(wait(i, p)) for i, p in enumerate(priorities)]
    for _ in priorities:
        await asyncio.sleep(0)
    return order, tasks


async def test_waiters_are_served_by_priority_then_arrival() -> None:
    """With every slot held, money goes before events before catalog, ties in arrival order."""
    slots = Slots(1)
    await slots.acquire(Priority.EVENTS)
    arrivals = [Priority.CATALOG, Priority.EVENTS, Priority.MONEY, Priority.CATALOG]
    order, tasks = await queue_waiters(slots, arrivals)
    for served in range(1, len(arrivals) + 1):
        slots.release()
        await settle(lambda n=served: len(order) == n)  # type: ignore[misc]
    await asyncio.gather(*tasks)
    assert order == [2, 1, 0, 3]


async def test_a_free_slot_is_taken_without_waiting() -> None:
    """Below the bound nobody waits: two holders of three slots leave one free."""
    slots = Slots(3)
    await slots.acquire(Priority.CATALOG)
    await slots.acquire(Priority.MONEY)
    assert slots.free == 1


async def test_a_cancelled_waiter_loses_no_slot() -> None:
    """A waiter cancelled while queued is skipped: the released slot goes to the next one."""
    slots = Slots(1)
    await slots.acquire(Priority.CATALOG)
    order, tasks = await queue_waiters(slots, [Priority.MONEY, Priority.CATALOG])
    tasks[0].cancel()
    slots.release()
    await settle(lambda: order == [1])
    slots.release()
    assert slots.free == 1


async def test_a_waiter_cancelled_as_it_is_granted_passes_the_slot_on() -> None:
    """Granted and cancelled in the same turn: the slot goes to the next waiter, not lost."""
    slots = Slots(1)
    await slots.acquire(Priority.CATALOG)
    order, tasks = await queue_waiters(slots, [Priority.MONEY, Priority.CATALOG])
    slots.release()
    tasks[0].cancel()
    await settle(lambda: order == [1])
    assert slots.free == 0
