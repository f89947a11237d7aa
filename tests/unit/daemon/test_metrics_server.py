"""The loopback metrics endpoint stays answering and bounded whatever local clients do."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest

from catalog_sync.support.metrics import (
    LOOPBACK,
    Metrics,
    MetricsPortError,
    MetricsServer,
    Response,
    ServerLimits,
    bind_metrics_socket,
    metrics_routes,
)

#: Generous bound on waiting for a condition; never a measured duration.
DEADLINE = 30.0
#: Limits small enough that the tests see timeouts happen, not wait for the defaults.
TIGHT = ServerLimits(read_timeout=0.3, idle_timeout=0.3, write_timeout=5.0, max_connections=8)


def _health() -> dict[str, object]:
    return {"ok": True}


@asynccontextmanager
async def serving(
    limits: ServerLimits = TIGHT, routes: dict[str, Callable[[], Response]] | None = None
) -> AsyncIterator[MetricsServer]:
    """A metrics server on a free loopback port, in this event loop."""
    server = MetricsServer(
        routes if routes is not None else metrics_routes(Metrics(), _health),
        bind_metrics_socket(0),
        limits,
    )
    task = asyncio.create_task(server.serve())
    try:
        yield server
    finally:
        server.close()
        await task


async def get(server: MetricsServer, path: str = "/healthz") -> httpx.Response:
    """One GET on a fresh connection."""
    async with httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{server.port}") as client:
        return await client.get(path, timeout=DEADLINE)


async def connect(server: MetricsServer) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw connection to the server."""
    return await asyncio.open_connection(LOOPBACK, server.port)


@asynccontextmanager
async def idle_clients(
    server: MetricsServer, count: int
) -> AsyncIterator[list[asyncio.StreamReader]]:
    """``count`` connections that send nothing; closed on our side on exit."""
    pairs = [await connect(server) for _ in range(count)]
    try:
        yield [reader for reader, _writer in pairs]
    finally:
        for _reader, writer in pairs:
            writer.close()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Wait until the server closes the connection (whatever it sent before)."""
    try:
        while await reader.read(65536):
            pass
    except ConnectionError:
        pass
    return True


async def within_deadline(waiting: Awaitable[object]) -> None:
    """Await a condition, failing the test if it does not hold within the deadline."""
    await asyncio.wait_for(waiting, timeout=DEADLINE)


async def exchange(server: MetricsServer, raw: bytes) -> bytes:
    """Send ``raw`` and return everything the server answers before it closes."""
    reader, writer = await connect(server)
    writer.write(raw)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=DEADLINE)
    writer.close()
    return data


async def test_healthz_answers_while_hundreds_of_idle_connections_are_open() -> None:
    """220 connections that never send a byte do not keep /healthz from answering."""
    async with serving(ServerLimits(max_connections=8)) as server, idle_clients(server, 220):
        response = await get(server)
    assert response.status_code == 200
    assert response.json()["ok"] is True


async def test_idle_connections_are_closed_by_the_server() -> None:
    """Every connection that sends nothing is closed: the oldest at once when the cap is
    reached, the rest after the read timeout."""
    async with serving() as server, idle_clients(server, 220) as idle:
        await within_deadline(asyncio.gather(*(closed_by_server(r) for r in idle)))
        assert server.open_connections == 0


async def test_the_server_never_holds_more_than_its_connection_cap() -> None:
    """However many clients connect, at most ``max_connections`` are held (descriptors)."""
    async with (
        serving(ServerLimits(max_connections=8)) as server,
        idle_clients(server, 100) as idle,
    ):
        await within_deadline(asyncio.gather(*(closed_by_server(r) for r in idle[:92])))
        assert server.open_connections <= 8


async def test_a_request_head_never_completed_is_closed_after_the_read_timeout() -> None:
    """A client that starts a request and stalls (slowloris) is dropped."""
    async with serving() as server:
        reader, writer = await connect(server)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await within_deadline(closed_by_server(reader))
        writer.close()


async def test_a_kept_alive_connection_is_closed_after_the_idle_timeout() -> None:
    """After a response on a keep-alive connection, an idle client is dropped."""
    async with serving() as server:
        reader, writer = await connect(server)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        assert b"Connection: keep-alive" in head
        await within_deadline(closed_by_server(reader))
        writer.close()


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    """A scraper reusing its connection gets every answer on it."""
    async with (
        serving(ServerLimits()) as server,
        httpx.AsyncClient(base_url=f"http://{LOOPBACK}:{server.port}") as client,
    ):
        answers = [(await client.get(p, timeout=DEADLINE)).status_code for p in ("/healthz",) * 3]
    assert answers == [200, 200, 200]


async def test_metrics_are_served_in_the_prometheus_format() -> None:
    """/metrics answers the text exposition format."""
    async with serving() as server:
        response = await get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "catalog_sync_api_rate_limited_total" in response.text


async def test_an_unhealthy_daemon_answers_503() -> None:
    """/healthz says 503 when the daemon reports a part not ok."""
    routes = metrics_routes(Metrics(), lambda: {"ok": False})
    async with serving(routes=routes) as server:
        assert (await get(server)).status_code == 503


async def test_an_oversized_request_head_is_refused_with_431() -> None:
    """A request head larger than the limit is answered 431 and closed."""
    async with serving() as server:
        answer = await exchange(
            server, b"GET /healthz HTTP/1.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 431 ")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"GET /nowhere HTTP/1.1\r\n\r\n", b"404"),
        (b"POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", b"405"),
        (b"GET /healthz HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", b"400"),
        (b"GET /healthz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", b"400"),
        (b"\xff\xfe /healthz HTTP/1.1\r\n\r\n", b"400"),
        (b"GET /healthz HTTP/2.0\r\n\r\n", b"400"),
        (b"GET /healthz HTTP/1.1\r\n bad-fold: x\r\n\r\n", b"400"),
    ],
)
async def test_a_request_it_does_not_serve_gets_a_status_and_is_closed(
    raw: bytes, status: bytes
) -> None:
    """Unknown paths, other methods, bodies and malformed heads get a 4xx, never a hang."""
    async with serving() as server:
        answer = await exchange(server, raw)
    assert answer.split(b" ")[1] == status


async def test_head_gets_the_headers_without_a_body() -> None:
    """HEAD answers like GET, without the body."""
    async with serving() as server:
        answer = await exchange(server, b"HEAD /healthz HTTP/1.0\r\n\r\n")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == b""


async def test_a_failing_route_answers_500_and_the_server_keeps_serving() -> None:
    """A health function that raises costs one 500, not the endpoint."""
    calls = iter([RuntimeError("boom"), None])

    def flaky() -> dict[str, object]:
        error = next(calls)
        if error is not None:
            raise error
        return {"ok": True}

    async with serving(routes=metrics_routes(Metrics(), flaky)) as server:
        first, second = await get(server), await get(server)
    assert (first.status_code, second.status_code) == (500, 200)


def test_a_busy_port_is_a_one_line_configuration_error() -> None:
    """Binding a port another socket listens on names the port and the settings to change."""
    with socket.socket() as busy:
        busy.bind((LOOPBACK, 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(MetricsPortError) as caught:
            bind_metrics_socket(port)
    message = str(caught.value)
    assert "\n" not in message
    assert f"{LOOPBACK}:{port}" in message
    assert "CATALOG_SYNC_METRICS_PORT" in message
