"""Test doubles for code that talks to Digital River: a scripted API and a fake clock.

Public so that every package's unit tests fake the API at the same seam, ``httpx.MockTransport``
(no patching of our own code), and drive time without waiting on the wall clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import io
import itertools
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from catalog_sync.support import logs

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def error_body(type_: str, code: str | None = None, parameter: str | None = None) -> Any:
    """An error body in the API's shape (docs/digital-river-api.md §3.1)."""
    detail = {k: v for k, v in {"code": code, "parameter": parameter}.items() if v}
    return {"type": type_, "errors": [{**detail, "message": f"{type_} happened"}]}


def ok(payload: Any, status: int = 200) -> httpx.Response:
    """A success answer."""
    return httpx.Response(status, json=payload)


def fail(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    """An error answer, by default with a body in the API's shape."""
    payload = body if body is not None else error_body("error")
    return httpx.Response(status, json=payload, headers=headers)


@dataclass
class ScriptedAPI:
    """Answers requests from a script in order (the last answer repeats); records requests.

    Use as ``httpx.MockTransport(api)``. An answer is a response, an exception to raise (e.g.
    ``httpx.ConnectError``), or a function of the request.
    """

    script: list[Answer] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(answer, Exception):
            raise answer
        if isinstance(answer, httpx.Response):
            return answer
        return answer(request)

    def bodies(self) -> list[Any]:
        """The JSON bodies sent, in order (``None`` for requests without one)."""
        return [json.loads(r.content) if r.content else None for r in self.requests]


@dataclass
class FakeSleep:
    """Records every wait instead of waiting (for retry schedules)."""

    waits: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


async def settle(condition: Callable[[], bool], rounds: int = 1000) -> None:
    """Let other tasks run until ``condition`` holds (no wall time involved)."""
    for _ in range(rounds):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never held")


class FakeClock:
    """A monotonic clock that moves only when told; ``sleep`` waits for :meth:`advance`.

    With ``auto=True`` a sleep advances the clock itself, for tests that only count time.
    """

    def __init__(self, *, auto: bool = False) -> None:
        self.now = 0.0
        self.auto = auto
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        """Return once the clock has moved ``seconds`` on."""
        if self.auto:
            self.now += max(seconds, 0.0)
            await asyncio.sleep(0)
            return
        wake: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._seq), wake))
        await wake

    @property
    def sleepers(self) -> int:
        """How many sleeps are waiting for the clock."""
        return sum(1 for _, _, wake in self._sleepers if not wake.done())

    def advance(self, seconds: float) -> None:
        """Move the clock and wake every sleep that is due."""
        self.now += seconds
        while self._sleepers and self._sleepers[0][0] <= self.now:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)


@contextlib.contextmanager
def captured_logs() -> Iterator[io.StringIO]:
    """Capture every log line (debug and up, rendered as JSON) while the block runs."""
    stream = io.StringIO()
    logs.configure(json=True, level=logging.DEBUG, stream=stream)
    try:
        yield stream
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
