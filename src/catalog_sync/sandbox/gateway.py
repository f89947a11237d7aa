"""The door every DR API call passes: authentication, rate limit, faults, request log.

A raw ASGI middleware rather than a Starlette one because a fault may have to drop the
connection without any response, which only the ASGI level can express. ``/_sandbox/`` calls
go straight through: they are not part of the API.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Final

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from catalog_sync.sandbox.errors import UNAUTHORIZED_BODY, ApiError, error_response
from catalog_sync.sandbox.faults import drop_connection, injected_error
from catalog_sync.sandbox.requestlog import LoggedRequest
from catalog_sync.sandbox.state import Sandbox

ADMIN_PREFIX: Final = "/_sandbox"
#: The scope key handlers read the caller's mode from.
LIVE_KEY: Final = "catalog_sync.sandbox.live"
_KEY: Final = re.compile(r"^sk_[A-Za-z0-9_]+$")
_WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def secret_key(authorization: str | None) -> str | None:
    """The secret key of a Bearer or Basic (key as user name) header; ``None`` if unusable."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "basic":
        try:
            credentials = base64.b64decode(credentials, validate=True).decode().partition(":")[0]
        except (binascii.Error, UnicodeDecodeError):
            return None
    elif scheme.lower() != "bearer":
        return None
    return credentials if _KEY.fullmatch(credentials) else None


class Gateway:
    """ASGI middleware in front of the API routes."""

    def __init__(self, app: ASGIApp, sandbox: Sandbox) -> None:
        self.app = app
        self.sandbox = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        entry = LoggedRequest(
            scope["method"],
            scope["path"],
            scope["query_string"],
            raw,
            _header(scope, b"user-agent"),
        )
        self.sandbox.log.append(entry)
        replay = _replay(raw, receive)
        recorder = _StatusRecorder(send, entry)
        key = secret_key(_header(scope, b"authorization"))
        if key is None:
            await JSONResponse(UNAUTHORIZED_BODY, status_code=401)(scope, replay, recorder)
            return
        wait = self.sandbox.limiter.acquire(key)
        if wait is not None:
            error = ApiError(429, "Too many requests.", headers={"Retry-After": str(wait)})
            await error_response(error)(scope, replay, recorder)
            return
        scope[LIVE_KEY] = not key.startswith("sk_test_")
        await self._serve(scope, replay, recorder, send)

    async def _serve(
        self, scope: Scope, replay: Receive, recorder: _StatusRecorder, send: Send
    ) -> None:
        is_write = scope["method"] in _WRITES
        decision = self.sandbox.faults.decide(is_write=is_write)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        if decision.reset:
            await drop_connection(send)
            return
        if decision.status is not None:
            await error_response(injected_error(decision.status))(scope, replay, recorder)
            return
        if decision.after_commit:
            await self.app(scope, replay, _discard)
            self.sandbox.changes += 1
            await drop_connection(send)
            return
        await self.app(scope, replay, recorder)
        if is_write:
            self.sandbox.changes += 1


class _StatusRecorder:
    """Passes messages on and notes the status the client saw in the log entry."""

    def __init__(self, send: Send, entry: LoggedRequest) -> None:
        self._send = send
        self._entry = entry

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self._entry.status = message["status"]
        await self._send(message)


async def _discard(message: Message) -> None:
    del message


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(raw: bytes, original: Receive) -> Receive:
    """Give the already-read body once, then whatever the connection says (a disconnect)."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await original()
        sent = True
        return {"type": "http.request", "body": raw, "more_body": False}

    return receive


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None
