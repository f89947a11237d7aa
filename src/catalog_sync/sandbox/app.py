"""The ASGI application: API routes behind the gateway, admin routes beside them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from catalog_sync.sandbox import persistence
from catalog_sync.sandbox.admin import Admin
from catalog_sync.sandbox.api import Api
from catalog_sync.sandbox.errors import ApiError, error_response
from catalog_sync.sandbox.gateway import Gateway
from catalog_sync.sandbox.state import Sandbox


async def _api_error(request: Request, exc: Exception) -> Response:
    del request
    assert isinstance(exc, ApiError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown routes and wrong methods, in the API's error shape."""
    del request
    assert isinstance(exc, HTTPException)
    message = "Resource not found." if exc.status_code == 404 else str(exc.detail)  # noqa: PLR2004
    return error_response(ApiError(exc.status_code, message, headers=dict(exc.headers or {})))


def build_app(sandbox: Sandbox, state_file: Path | None = None) -> Gateway:
    """Return the sandbox as an ASGI app; with ``state_file``, load it and keep it saved."""
    if state_file is not None:
        persistence.load(sandbox, state_file)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        del app
        if state_file is None:
            yield
            return
        saver = asyncio.create_task(persistence.keep_saved(sandbox, state_file))
        try:
            yield
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            persistence.save(sandbox, state_file)

    starlette = Starlette(
        routes=[*Admin(sandbox).routes(), *Api(sandbox).routes()],
        exception_handlers={ApiError: _api_error, HTTPException: _http_error},
        lifespan=lifespan,
    )
    return Gateway(starlette, sandbox)
