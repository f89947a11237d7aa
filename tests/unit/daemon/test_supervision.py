"""A service cancelled because the lease was lost is never started again by its supervisor,
even when it fails while stopping (the fence refusing its last commit)."""

from __future__ import annotations

import asyncio

import pytest

from catalog_sync.daemon.runner import Daemon
from catalog_sync.state import FencedError
from catalog_sync.support.settings import Settings


class FailsWhenCancelled:
    """A service whose clean-up, on cancellation, meets the fence."""

    name = "handler"

    def __init__(self) -> None:
        self.runs = 0
        self.started = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        self.runs += 1
        self.started.set()
        try:
            await stop.wait()
        finally:
            raise FencedError("db", 1, "node-b")

    def status_line(self) -> str:
        return "-"


async def test_a_service_failing_as_it_is_cancelled_is_not_restarted() -> None:
    """Cancelled mid-run, it raises while stopping: the supervisor ends, the service ran once."""
    settings = Settings(api_key="sk_test_x")
    daemon = Daemon(settings, reload=lambda: settings, restart_delay=0.0)
    service = FailsWhenCancelled()
    task = asyncio.create_task(daemon._supervised(service))
    await service.started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 30)  # a restarted service would never end
    assert (service.runs, daemon.restarts["handler"]) == (1, 0)
