"""Notification sinks: the JSONL file and the retried webhook."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from catalog_sync.notify import JsonlSink, Notifier, WebhookSink
from catalog_sync.state import NotificationRecord

RECORD = NotificationRecord("2025-01-01T00:00:00.000000Z", "backorder", "line 1 backordered", "o1")


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_jsonl_sink_appends_one_object_per_line(tmp_path: Path) -> None:
    """Each notification becomes one JSON line, appended."""
    sink = JsonlSink(tmp_path / "n" / "notify.jsonl")
    await sink.send(RECORD)
    await sink.send(RECORD)
    lines = (tmp_path / "n" / "notify.jsonl").read_text().splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["backorder", "backorder"]


async def test_webhook_retries_a_503_then_delivers() -> None:
    """A 5xx is retried; the JSON body is the record."""
    seen: list[dict[str, object]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(503 if len(seen) == 1 else 204)

    sink = WebhookSink("http://hook.test/x", transport=httpx.MockTransport(answer), sleep=_no_sleep)
    await sink.send(RECORD)
    await sink.aclose()
    assert len(seen) == 2
    assert seen[1]["order_id"] == "o1"


async def test_notifier_survives_a_failing_sink(tmp_path: Path) -> None:
    """A sink that keeps failing is counted and logged; the other sinks still receive it."""
    broken = WebhookSink(
        "http://hook.test/x",
        attempts=2,
        transport=httpx.MockTransport(lambda _r: httpx.Response(500)),
        sleep=_no_sleep,
    )
    notifier = Notifier([broken, JsonlSink(tmp_path / "n.jsonl")])
    await notifier.notify(RECORD)
    await notifier.aclose()
    assert notifier.failures == 1
    assert (tmp_path / "n.jsonl").read_text().count("\n") == 1
