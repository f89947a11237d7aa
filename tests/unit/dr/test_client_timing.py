"""``client.on_timing``: one ``CallTiming`` per HTTP attempt, saying where it spent its time."""

from __future__ import annotations

from collections.abc import Callable

from catalog_sync.dr import CallTiming, DigitalRiverClient
from catalog_sync.dr.testing import fail, ok

MakeClient = Callable[..., DigitalRiverClient]


async def test_every_attempt_reports_its_timing(make_client: MakeClient) -> None:
    """A GET retried once after a 503 reports two timings, by path template and status."""
    client = make_client(fail(503), ok({"id": "a"}))
    timings: list[CallTiming] = []
    client.on_timing.append(timings.append)
    await client.get_sku("a")
    assert [(t.method, t.template, t.status) for t in timings] == [
        ("GET", "/skus/{id}", 503),
        ("GET", "/skus/{id}", 200),
    ]
    assert all(min(t.limiter, t.slot, t.server) >= 0 for t in timings)
