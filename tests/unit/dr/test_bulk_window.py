"""The bulk window: catalog calls in flight follow rate x minimum latency, on a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from catalog_sync.dr.bulk_window import FLOOR, LATENCY_WINDOW, BulkWindow
from catalog_sync.dr.testing import FakeClock, settle


def window(rate: float = 250, ceiling: int = 12) -> tuple[BulkWindow, FakeClock]:
    clock = FakeClock()
    return BulkWindow(rate, ceiling, clock=clock), clock


def test_before_any_answer_only_the_floor_is_sent() -> None:
    """With no latency known yet, two calls go: the first answer sets the width."""
    bulk, _ = window()
    assert bulk.min_latency is None
    assert bulk.limit == FLOOR


def test_width_is_twice_rate_times_latency_plus_one() -> None:
    """At 250/s and 10 ms, 2 x 2.5 + 1 = 6 calls in flight keep the budget spent."""
    bulk, _ = window(rate=250)
    bulk.observe(0.010)
    assert bulk.limit == 6


def test_width_never_exceeds_the_ceiling() -> None:
    """A slow network (150 ms) at the live rate is held to the connections bulk work has."""
    bulk, _ = window(rate=250, ceiling=12)
    bulk.observe(0.150)
    assert bulk.limit == 12


def test_width_never_drops_below_the_floor() -> None:
    """A near-instant answer still leaves one call answering while the next is sent."""
    bulk, _ = window(rate=25)
    bulk.observe(0.0001)
    assert bulk.limit == FLOOR


def test_latency_swollen_by_queueing_does_not_widen_the_window() -> None:
    """Slow answers after a fast one are queueing, not distance: the fast one rules."""
    bulk, _ = window(rate=250)
    bulk.observe(0.005)
    for _ in range(50):
        bulk.observe(0.400)
    assert bulk.min_latency == pytest.approx(0.005)
    assert bulk.limit == 4


def test_minimum_survives_one_window() -> None:
    """The minimum is kept into the next bucket, so one quiet bucket forgets nothing."""
    bulk, clock = window(rate=250)
    bulk.observe(0.002)
    clock.advance(LATENCY_WINDOW * 1.5)
    bulk.observe(0.040)
    assert bulk.min_latency == pytest.approx(0.002)


def test_slower_network_is_learned_after_two_windows() -> None:
    """Once the old minimum's buckets have passed, the new, higher latency sets the width."""
    bulk, clock = window(rate=250)
    bulk.observe(0.002)
    clock.advance(LATENCY_WINDOW * 1.5)
    bulk.observe(0.040)
    clock.advance(LATENCY_WINDOW)
    bulk.observe(0.040)
    assert bulk.min_latency == pytest.approx(0.040)
    assert bulk.limit == 12


def test_long_silence_forgets_the_latency() -> None:
    """After two empty windows nothing is known any more: back to the floor."""
    bulk, clock = window(rate=250)
    bulk.observe(0.040)
    clock.advance(LATENCY_WINDOW * 2)
    assert bulk.min_latency is None
    assert bulk.limit == FLOOR


async def test_calls_beyond_the_width_wait_for_one_to_leave() -> None:
    """A third call waits while two are in flight, and enters when one answers."""
    bulk, _ = window()
    entered: list[int] = []
    release = asyncio.Event()

    async def call(n: int) -> None:
        async with bulk:
            entered.append(n)
            await release.wait()

    tasks = [asyncio.create_task(call(n)) for n in range(3)]
    await settle(lambda: len(entered) == FLOOR)
    assert bulk.in_flight == FLOOR
    release.set()
    await asyncio.gather(*tasks)
    assert entered == [0, 1, 2]
    assert bulk.in_flight == 0


async def test_a_wider_window_lets_every_waiting_call_in() -> None:
    """When the first answer widens the window, all the calls it now allows go at once."""
    bulk, _ = window(rate=250)
    first_answer = asyncio.Event()
    hold = asyncio.Event()
    entered: list[int] = []

    async def call(n: int) -> None:
        async with bulk:
            entered.append(n)
            if n == 0:
                await first_answer.wait()
                bulk.observe(0.010)  # the window becomes 6
                return
            await hold.wait()

    tasks = [asyncio.create_task(call(n)) for n in range(10)]
    await settle(lambda: len(entered) == FLOOR)
    first_answer.set()
    await settle(lambda: bulk.in_flight == 6)
    await asyncio.sleep(0)
    assert bulk.in_flight == 6
    hold.set()
    await asyncio.gather(*tasks)
    assert sorted(entered) == list(range(10))


def test_ceiling_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="ceiling"):
        BulkWindow(250, 0)


async def test_a_cancelled_waiter_does_not_strand_the_next() -> None:
    """Waiters woken by the last answers but cancelled pass the turn on: none waits forever."""
    bulk, _ = window()
    answer = [asyncio.Event() for _ in range(2)]
    entered: list[int] = []

    async def call(n: int) -> None:
        async with bulk:
            entered.append(n)
            if n < len(answer):
                await answer[n].wait()

    in_flight = [asyncio.create_task(call(n)) for n in range(2)]
    await settle(lambda: bulk.in_flight == FLOOR)
    waiting = [asyncio.create_task(call(n)) for n in range(2, 5)]
    await settle(lambda: all(not t.done() for t in waiting))
    for event in answer:
        event.set()
    await asyncio.sleep(0)  # both calls answer and leave, each waking one waiter ...
    assert all(t.done() for t in in_flight)
    for task in waiting[:2]:
        task.cancel()  # ... and both woken waiters are cancelled before they run
    await settle(lambda: 4 in entered)
    await waiting[2]
    assert sorted(entered) == [0, 1, 4]


async def test_a_waiting_call_enters_before_one_that_arrives_later() -> None:
    """The place a leaving call frees goes to the longest waiter, not to a call that arrives
    in the same moment: under a steady flow no catalog write waits for ever."""
    bulk, _ = window()
    answers = [asyncio.Event() for _ in range(FLOOR)]
    entered: list[str] = []

    async def call(name: str, answer: asyncio.Event | None = None) -> None:
        async with bulk:
            entered.append(name)
            if answer is not None:
                await answer.wait()

    in_flight = [asyncio.create_task(call(f"in-{n}", a)) for n, a in enumerate(answers)]
    await settle(lambda: bulk.in_flight == FLOOR)
    waiter = asyncio.create_task(call("waiter", asyncio.Event()))
    await settle(lambda: len(entered) == FLOOR and not waiter.done())
    answers[0].set()
    late = asyncio.create_task(call("late"))  # runs right after the first call leaves
    await settle(lambda: "waiter" in entered)
    assert "late" not in entered
    answers[1].set()
    await settle(lambda: "late" in entered)
    waiter.cancel()
    await asyncio.gather(*in_flight, late, return_exceptions=True)
