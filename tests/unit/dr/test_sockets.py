"""The client's asyncio connections, against real loopback servers: what a read answers when
data, silence, a close or a reset comes, in httpcore's terms."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import httpcore
import pytest

from catalog_sync.dr.sockets import AsyncioBackend

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Serve) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


@pytest.fixture
async def echo() -> AsyncIterator[int]:
    """A server sending back each request (one read) and then closing."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(1000))
        await writer.drain()
        writer.close()

    async for port in _serve(handle):
        yield port


@pytest.fixture
async def silent() -> AsyncIterator[int]:
    """A server that accepts and never answers (until the client goes)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    async for port in _serve(handle):
        yield port


@pytest.fixture
async def resetting() -> AsyncIterator[int]:
    """A server that reads a request and resets the connection (RST, not FIN)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1000)
        sock: socket.socket = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    async for port in _serve(handle):
        yield port


async def test_writes_leave_with_the_next_read_and_come_back(echo: int) -> None:
    """Head and body written separately arrive; the answer is read in ``max_bytes`` parts."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", echo, timeout=5)
    await stream.write(b"GET / HTTP/1.1\r\n")
    await stream.write(b"\r\n")
    received = b""
    while len(received) < 18:
        part = await stream.read(5, timeout=5)
        assert 0 < len(part) <= 5
        received += part
    assert received == b"GET / HTTP/1.1\r\n\r\n"
    await stream.aclose()


async def test_a_closed_connection_reads_empty_and_is_no_longer_idle(echo: int) -> None:
    """The server's close is the end of the stream, and marks the connection unusable: httpcore
    asks ``is_readable`` before reusing an idle one."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", echo, timeout=5)
    assert not stream.get_extra_info("is_readable")
    await stream.write(b"x")
    assert await stream.read(10, timeout=5) == b"x"
    assert await stream.read(10, timeout=5) == b""
    assert stream.get_extra_info("is_readable")
    await stream.aclose()


async def test_silence_past_the_timeout_is_a_read_timeout(silent: int) -> None:
    """No answer within the read timeout: httpcore's ``ReadTimeout`` (a retryable error)."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", silent, timeout=5)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(httpcore.ReadTimeout):
        await stream.read(10, timeout=0.05)
    await stream.aclose()


async def test_a_reset_is_a_read_error(resetting: int) -> None:
    """A connection reset mid-call is ``ReadError``, not an empty answer."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", resetting, timeout=5)
    await stream.write(b"GET / HTTP/1.1\r\n\r\n")
    with pytest.raises(httpcore.ReadError):
        await stream.read(10, timeout=5)
    await stream.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    """Nobody listening: ``ConnectError``, which proves nothing was sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)


async def test_the_addresses_are_those_of_the_socket(echo: int) -> None:
    """``server_addr`` and ``client_addr`` are what httpcore's own streams report."""
    stream = await AsyncioBackend().connect_tcp("127.0.0.1", echo, timeout=5)
    assert stream.get_extra_info("server_addr") == ("127.0.0.1", echo)
    assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
    assert stream.get_extra_info("ssl_object") is None
    await stream.aclose()
