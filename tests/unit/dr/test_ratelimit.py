"""The shared rate budget: its rate, its burst, and who goes first, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from catalog_sync.dr import Priority, RateBudget
from catalog_sync.dr.testing import FakeClock, settle


async def grant_order(
    budget: RateBudget, clock: FakeClock, priorities: list[Priority]
) -> list[int]:
    """Queue one waiter per priority (in list order), then release tokens one by one."""
    order: list[int] = []

    async def wait(index: int, priority: Priority) -> None:
        await budget.acquire(priority)
        order.append(index)

    tasks = [asyncio.create_task(wait(i, p)) for i, p in enumerate(priorities)]
    await settle(lambda: budget.waiting == len(priorities))
    while len(order) < len(priorities):
        await settle(lambda: clock.sleepers >= 1 or len(order) == len(priorities))
        clock.advance(1 / budget.rate)
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    return order


def empty_budget(clock: FakeClock, rate: float = 10) -> RateBudget:
    """A budget with no token left, so every acquire must wait."""
    budget = RateBudget(rate, burst=1, clock=clock, sleep=clock.sleep)
    budget.penalize(0)
    return budget


async def test_lower_priority_value_goes_first() -> None:
    """Money waits less than events, events less than catalog, whatever the arrival order."""
    clock = FakeClock()
    arrivals = [Priority.CATALOG, Priority.EVENTS, Priority.MONEY, Priority.CATALOG]
    order = await grant_order(empty_budget(clock), clock, arrivals)
    assert order == [2, 1, 0, 3]


async def test_equal_priorities_are_served_in_arrival_order() -> None:
    """Within one priority the queue is first come, first served."""
    clock = FakeClock()
    order = await grant_order(empty_budget(clock), clock, [Priority.CATALOG] * 5)
    assert order == [0, 1, 2, 3, 4]


async def test_rate_holds_over_many_acquires() -> None:
    """100 tokens at 50/s with a burst of 5 take (100 - 5) / 50 seconds of clock time."""
    clock = FakeClock(auto=True)
    budget = RateBudget(50, burst=5, clock=clock, sleep=clock.sleep)
    await asyncio.gather(*(budget.acquire() for _ in range(100)))
    assert clock.now == pytest.approx(95 / 50)


async def test_idle_budget_serves_a_burst_at_once() -> None:
    """After idling, up to ``burst`` calls go immediately, no more."""
    clock = FakeClock(auto=True)
    budget = RateBudget(100, clock=clock, sleep=clock.sleep)
    for _ in range(10):
        await budget.acquire()
    assert clock.now == 0
    await budget.acquire()
    assert clock.now == pytest.approx(0.01)


def test_default_burst_is_a_tenth_of_a_second() -> None:
    """The default burst is rate / 10, and at least one token."""
    assert (RateBudget(250).burst, RateBudget(5).burst) == (25, 1)


async def test_penalty_holds_every_caller() -> None:
    """After ``penalize(2)`` (a Retry-After) the next token comes 2 s later."""
    clock = FakeClock(auto=True)
    budget = RateBudget(10, burst=1, clock=clock, sleep=clock.sleep)
    budget.penalize(2)
    await budget.acquire(Priority.MONEY)
    assert clock.now == pytest.approx(2.1)


async def test_cancelled_head_hands_over_to_the_next() -> None:
    """A waiter cancelled while at the head leaves the queue and the next one is served."""
    clock = FakeClock()
    budget = empty_budget(clock)
    head = asyncio.create_task(budget.acquire(Priority.MONEY))
    second = asyncio.create_task(budget.acquire(Priority.CATALOG))
    await settle(lambda: budget.waiting == 2 and clock.sleepers == 1)
    head.cancel()
    await settle(lambda: budget.waiting == 1 and clock.sleepers >= 1)
    clock.advance(0.1)
    await asyncio.wait_for(second, timeout=5)
    assert budget.waiting == 0


def test_rate_must_be_positive() -> None:
    """A zero rate would block forever; it is refused."""
    with pytest.raises(ValueError, match="rate"):
        RateBudget(0)
