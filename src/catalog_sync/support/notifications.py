"""Notifications that must reach people: backorders, capture failures, dead letters, lag.

Every notification is first logged in the state database (with the change that caused it), then
handed to each configured sink. A sink that fails is logged and skipped: a broken webhook must
never stop a capture. Sinks: a local JSONL file (one JSON object per line, appended and
flushed) and HTTP webhooks (POST JSON, retried with backoff on 5xx, 429 and transport errors).

A webhook URL is a secret (Slack-style hooks keep theirs in the path): a sink shows itself by
its label (scheme and host), and its errors are rebuilt from the status or the kind of
failure, never from the HTTP client's text, which quotes the URL.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Protocol

import httpx

from catalog_sync.core.notices import NotificationRecord
from catalog_sync.support.clock import Sleep
from catalog_sync.support.logs import get_logger, redact, register_secret
from catalog_sync.support.settings import NotifySettings, url_secrets, webhook_label

_log = get_logger("notify")
_RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})


class WebhookError(RuntimeError):
    """A webhook could not be delivered; the message names the sink by its label only."""


class Sink(Protocol):
    """Somewhere notifications go."""

    async def send(self, record: NotificationRecord) -> None:
        """Deliver one notification or raise."""
        ...


class JsonlSink:
    """Appends notifications to a local JSONL file (created with its folder if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"JsonlSink({str(self.path)!r})"

    async def send(self, record: NotificationRecord) -> None:
        """Append one line; small enough that a blocking write is fine."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps(record.as_json(), sort_keys=True) + "\n")


class WebhookSink:
    """POSTs each notification as JSON; retries what a later try may fix."""

    def __init__(
        self,
        url: str,
        *,
        label: str | None = None,
        attempts: int = 4,
        initial_backoff: float = 0.5,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        for part in url_secrets(url):
            register_secret(part)
        self._url = url
        self.label = label if label is not None else webhook_label(url)
        self._attempts = attempts
        self._backoff = initial_backoff
        self._sleep = sleep
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"WebhookSink({self.label!r})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def send(self, record: NotificationRecord) -> None:
        """POST the notification; raise :class:`WebhookError` after the last failed attempt.

        The error is raised ``from None``: httpx's exceptions quote the URL, so none of them
        is kept as a cause where a traceback could show it.
        """
        for attempt in range(1, self._attempts + 1):
            failure: str | None = None
            try:
                response = await self._http.post(self._url, json=record.as_json())
            except httpx.TransportError as exc:
                failure = type(exc).__name__
            else:
                if response.is_success:
                    return
                failure = f"HTTP {response.status_code}"
                if response.status_code not in _RETRY_STATUSES:
                    break
            if attempt < self._attempts:
                await self._sleep(self._backoff * 2 ** (attempt - 1))
        raise WebhookError(f"webhook {self.label}: {failure} after {attempt} attempt(s)") from None


class Notifier:
    """Fans a notification out to every sink; failures are logged, never raised."""

    def __init__(self, sinks: Sequence[Sink] = ()) -> None:
        self.sinks = tuple(sinks)
        self.failures = 0

    @classmethod
    def from_settings(cls, settings: NotifySettings) -> Notifier:
        """The sinks ``settings.notify`` configures (``notify_jsonl``, ``notify_webhooks``)."""
        sinks: list[Sink] = [WebhookSink(url.get_secret_value()) for url in settings.webhooks]
        if settings.jsonl is not None:
            sinks.insert(0, JsonlSink(settings.jsonl))
        return cls(sinks)

    async def notify(self, record: NotificationRecord) -> None:
        """Send to every sink at once."""
        _log.warning(
            "notification", kind=record.kind, order=record.order_id, message=record.message
        )
        results = await asyncio.gather(
            *(sink.send(record) for sink in self.sinks), return_exceptions=True
        )
        for sink, result in zip(self.sinks, results, strict=True):
            if isinstance(result, BaseException):
                self.failures += 1
                _log.error("notify.failed", sink=repr(sink), error=redact(str(result)))

    async def aclose(self) -> None:
        """Close sinks that hold connections."""
        for sink in self.sinks:
            if isinstance(sink, WebhookSink):
                await sink.aclose()
