"""Run the sandbox with uvicorn: blocking for the CLI, or in a thread for tests and benchmarks.

The socket is bound here, not by uvicorn, so ``port=0`` yields a known port; "ready" means
uvicorn set its ``started`` flag, never a guessed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TextIO

import uvicorn

from catalog_sync.sandbox.app import build_app
from catalog_sync.sandbox.assumptions import RATE_LIMIT_DEFAULT
from catalog_sync.sandbox.state import Sandbox

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8720
START_TIMEOUT: Final = 10.0


class SandboxError(RuntimeError):
    """The sandbox cannot start (bad address, port taken, server failed)."""


@dataclass(frozen=True)
class SandboxHandle:
    """A running sandbox."""

    host: str
    port: int
    sandbox: Sandbox
    scheme: str = "http"

    @property
    def base_url(self) -> str:
        """``http://host:port`` (``https`` when served with TLS), no trailing slash."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def check_loopback(host: str) -> str:
    """Refuse anything but a loopback address: the sandbox has no real authentication."""
    if host == "localhost":
        return DEFAULT_HOST
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise SandboxError(f"--host must be a loopback address, not {host!r}") from None
    if not address.is_loopback:
        raise SandboxError(f"--host must be a loopback address, not {host!r}")
    return host


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only disables Nagle on sockets that say they are TCP,
    # and without TCP_NODELAY every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SandboxError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


def _server(sandbox: Sandbox, state_file: Path | None, tls: Path | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(sandbox, state_file),
        ssl_certfile=tls,
        http="h11",
        lifespan="on",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    return uvicorn.Server(config)


def _wait_started(server: uvicorn.Server, alive: Callable[[], bool]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not alive() or time.monotonic() > deadline:
            raise SandboxError("the sandbox server did not start")
        time.sleep(0.005)


@contextlib.contextmanager
def serve_in_thread(
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    rate_limit: float = 0.0,
    state_file: Path | None = None,
    tls: Path | None = None,
) -> Iterator[SandboxHandle]:
    """Run a sandbox in a background thread; yields once it accepts connections.

    ``tls``: a PEM file holding the server's key and certificate chain, to serve HTTPS (the
    client's connections to the real API are TLS; this lets a test take that path).
    """
    host = check_loopback(host)
    sandbox = Sandbox(rate_limit=rate_limit)
    sock = _bind(host, port)
    server = _server(sandbox, state_file, tls)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True
    )
    thread.start()
    try:
        _wait_started(server, thread.is_alive)
        yield SandboxHandle(host, sock.getsockname()[1], sandbox, "https" if tls else "http")
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)
        sock.close()


def run(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    rate_limit: float = RATE_LIMIT_DEFAULT,
    state_file: Path | None = None,
    out: TextIO = sys.stdout,
) -> None:
    """Serve until SIGINT / SIGTERM, printing the address once ready (parsable by scripts)."""
    host = check_loopback(host)
    sandbox = Sandbox(rate_limit=rate_limit)
    sock = _bind(host, port)
    server = _server(sandbox, state_file)
    handle = SandboxHandle(host, sock.getsockname()[1], sandbox)

    async def main() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                break
            await asyncio.sleep(0.01)
        else:
            print(f"sandbox listening on {handle.base_url}", file=out, flush=True)
        await task

    try:
        asyncio.run(main())
    finally:
        sock.close()
