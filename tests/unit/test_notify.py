"""Notification sinks: the JSONL file and the retried webhook."""

from __future__ import annotations

import json
import traceback
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from catalog_sync.cli.run import effective_settings
from catalog_sync.dr.testing import captured_logs
from catalog_sync.state import NotificationRecord
from catalog_sync.support.notifications import JsonlSink, Notifier, WebhookError, WebhookSink
from catalog_sync.support.settings import Settings

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


HOOK = (
    "https://bot:pa55w0rd-hook@hooks.slack.com/services/T0001/B0002/XXXXsecretXXXX?token=t0ken-abc"
)
HOOK_PARTS = ("pa55w0rd-hook", "XXXXsecretXXXX", "t0ken-abc", "/services/T0001")


def _leaks(text: str) -> list[str]:
    return [part for part in HOOK_PARTS if part in text]


def test_webhook_repr_shows_scheme_and_host_only() -> None:
    """A sink's repr (what logs and tracebacks show) keeps no user part, path or query."""
    assert repr(WebhookSink(HOOK)) == "WebhookSink('https://hooks.slack.com/...')"


def _refusing(_request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError(f"cannot connect to {HOOK} (bot:pa55w0rd-hook)")


@pytest.mark.parametrize(
    "answer",
    [lambda _r: httpx.Response(500), lambda _r: httpx.Response(404), _refusing],
    ids=["5xx", "4xx", "transport error quoting the URL"],
)
async def test_failed_webhook_error_names_only_the_host(
    answer: Callable[[httpx.Request], httpx.Response],
) -> None:
    """The error of a failed delivery, its traceback and causes, hold no part of the URL."""
    sink = WebhookSink(HOOK, attempts=2, transport=httpx.MockTransport(answer), sleep=_no_sleep)
    with pytest.raises(WebhookError) as caught:
        await sink.send(RECORD)
    await sink.aclose()
    text = "".join(traceback.format_exception(caught.value))
    assert "hooks.slack.com/..." in str(caught.value)
    assert _leaks(text) == []


async def test_notify_failed_log_line_holds_no_part_of_the_url() -> None:
    """The notify.failed line names the sink by its host; nothing else of the URL is logged."""
    broken = WebhookSink(
        HOOK, attempts=1, transport=httpx.MockTransport(_refusing), sleep=_no_sleep
    )
    notifier = Notifier([broken])
    with captured_logs() as output:
        await notifier.notify(RECORD)
    await notifier.aclose()
    [failed] = [
        json.loads(line) for line in output.getvalue().splitlines() if '"notify.failed"' in line
    ]
    assert failed["sink"] == "WebhookSink('https://hooks.slack.com/...')"
    assert failed["error"] == "webhook https://hooks.slack.com/...: ConnectError after 1 attempt(s)"
    assert _leaks(output.getvalue()) == []


def test_config_show_masks_the_webhook_path(tmp_path: Path) -> None:
    """config show keeps a webhook's scheme and host: Slack-style hooks hide a token in the path."""
    settings = Settings(
        api_key="sk_test_0123456789abcdef", catalogs=tmp_path, notify_webhooks=[HOOK]
    )
    shown = effective_settings(settings)
    assert shown["notify_webhooks"] == ["https://hooks.slack.com/..."]
    assert _leaks(json.dumps(shown, ensure_ascii=False)) == []
