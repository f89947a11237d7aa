"""The client's asyncio connections, against real loopback servers: what a read answers when
data, silence, a close or a reset comes, in httpcore's terms."""

from __future__ import annotations

import asyncio
import contextlib
import select
import socket
import struct
from collections.abc import AsyncIterator, Awaitable, Callable

import httpcore
import pytest

from catalog_sync.dr import sockets
from catalog_sync.dr.sockets import AsyncioBackend

Serve = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serving(handler: Serve) -> AsyncIterator[int]:
    """A loopback server running ``handler`` per connection; yields its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send back the request (one read), then close."""
    writer.write(await reader.read(1000))
    await writer.drain()
    writer.close()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Never answer (until the client goes)."""
    await reader.read()
    writer.close()


async def resetting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and reset the connection (RST, not FIN)."""
    await reader.read(1000)
    sock: socket.socket = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def test_writes_leave_with_the_next_read_and_come_back() -> None:
    """Head and body written separately arrive; the answer is read in ``max_bytes`` parts."""
    async with serving(echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(b"GET / HTTP/1.1\r\n")
        await stream.write(b"\r\n")
        received = b""
        while len(received) < 18:
            part = await stream.read(5, timeout=5)
            assert 0 < len(part) <= 5
            received += part
        assert received == b"GET / HTTP/1.1\r\n\r\n"
        await stream.aclose()


async def test_a_closed_connection_reads_empty_and_is_no_longer_idle() -> None:
    """The server's close is the end of the stream, and marks the connection unusable: httpcore
    asks ``is_readable`` before reusing an idle one."""
    async with serving(echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert not stream.get_extra_info("is_readable")
        await stream.write(b"x")
        assert await stream.read(10, timeout=5) == b"x"
        assert await stream.read(10, timeout=5) == b""
        assert stream.get_extra_info("is_readable")
        await stream.aclose()


@pytest.mark.parametrize(
    ("server", "read_timeout", "error"),
    [(silent, 0.05, httpcore.ReadTimeout), (resetting, 5.0, httpcore.ReadError)],
    ids=["silence past the timeout", "reset"],
)
async def test_a_call_without_an_answer_is_a_read_failure(
    server: Serve, read_timeout: float, error: type[httpcore.NetworkError]
) -> None:
    """No answer within the read timeout is ``ReadTimeout``; a reset is ``ReadError``, not an
    empty answer: both errors the client retries or reports as an unknown outcome."""
    async with serving(server) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(b"GET / HTTP/1.1\r\n\r\n")
        with pytest.raises(error):
            await stream.read(10, timeout=read_timeout)
        await stream.aclose()


async def test_a_refused_connection_is_a_connect_error() -> None:
    """Nobody listening: ``ConnectError``, which proves nothing was sent."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpcore.ConnectError):
        await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)


async def test_the_addresses_are_those_of_the_socket() -> None:
    """``server_addr`` and ``client_addr`` are what httpcore's own streams report."""
    async with serving(echo) as port:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", port, timeout=5)
        assert stream.get_extra_info("server_addr") == ("127.0.0.1", port)
        assert stream.get_extra_info("client_addr")[0] == "127.0.0.1"
        assert stream.get_extra_info("ssl_object") is None
        await stream.aclose()


async def test_a_close_the_loop_has_not_read_yet_still_makes_a_quiet_connection_unusable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server's keep-alive timeout closes a quiet connection: the close is in the socket
    before the loop has read it, and the connection must not be lent for a request then."""
    monkeypatch.setattr(sockets, "_QUIET_CHECK", 0.0)
    with socket.create_server(("127.0.0.1", 0)) as server:
        stream = await AsyncioBackend().connect_tcp("127.0.0.1", server.getsockname()[1], timeout=5)
        accepted, _ = server.accept()
        assert not stream.get_extra_info("is_readable")
        accepted.close()
        # Wait, without letting the loop run, until the close has reached our socket.
        select.select([stream.get_extra_info("socket")], [], [], 5)
        assert stream.get_extra_info("is_readable")
        await stream.aclose()
