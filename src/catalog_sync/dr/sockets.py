"""The client's connections as asyncio protocols: httpcore's network backend, without anyio.

httpcore's own backend for asyncio goes through anyio: every read and write opens a cancel
scope with its own timer (``fail_after``), yields to the event loop once more than it has to
(a cancellation checkpoint), and asks the kernel whether an idle socket is readable with a
``select`` call. Over a 100,000-pair sync that was about a sixth of our CPU per API call.
Here a read is a wait on one future with one timer, an idle connection knows from its
protocol whether the server sent anything (a close, most likely) since its last answer, and
nothing else happens per call.

A request's writes are held until the connection next reads: httpcore writes a request's head
and body separately, two system calls and two wake-ups of the server for every request; held,
they leave in one. HTTP/1.1 without pipelining always reads after it writes, so nothing waits.

Errors are httpcore's (``ConnectError``, ``ReadTimeout``...), as its own backends raise them,
so the transport maps them to httpx's as before.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import Iterable
from typing import Any, Final

import httpcore

#: Seconds a close waits for the connection to be gone before it is aborted.
_CLOSE_WAIT: Final = 1.0
#: An idle connection quiet for longer than this is also asked of the kernel before reuse.
_QUIET_CHECK: Final = 1.0
#: httpcore's names for what it asks of a stream -> the transport's names for them.
_EXTRA_INFO: Final = {
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


class _Protocol(asyncio.Protocol):
    """Buffers what arrives and wakes the one reader waiting, if any."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.closed = False
        self.error: BaseException | None = None
        self._reader: asyncio.Future[bool] | None = None
        self._drained: asyncio.Future[bool] | None = None
        self.paused = False
        #: Done once asyncio has let the socket go: a close is awaited until then, so no
        #: socket outlives the loop that made it.
        self.lost: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        #: Loop time of the last data sent or received.
        self.active = asyncio.get_running_loop().time()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data
        self.active = asyncio.get_running_loop().time()
        self._wake_reader()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake_reader()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.error = exc
        self._wake_reader()
        self.paused = False
        self._wake(self._drained)
        self._wake(self.lost)

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        self._wake(self._drained)

    def reader(self) -> asyncio.Future[bool]:
        """A future done (``True``) when data, end of stream or an error arrives."""
        self._reader = asyncio.get_running_loop().create_future()
        return self._reader

    def drained(self) -> asyncio.Future[bool]:
        """A future done (``True``) when writing may go on (or the connection is gone)."""
        self._drained = asyncio.get_running_loop().create_future()
        return self._drained

    def _wake_reader(self) -> None:
        self._wake(self._reader)
        self._reader = None

    @staticmethod
    def _wake(waiter: asyncio.Future[bool] | None) -> None:
        if waiter is not None and not waiter.done():
            waiter.set_result(True)


async def _wait(waiter: asyncio.Future[bool], within: float | None) -> bool:
    """Wait for ``waiter``; ``False`` when ``within`` seconds passed first.

    One timer on the loop, rather than ``asyncio.timeout``'s cancellation machinery: this
    runs for every read of every call.
    """
    if within is None:
        return await waiter
    timer = asyncio.get_running_loop().call_later(within, _expire, waiter)
    try:
        return await waiter
    finally:
        timer.cancel()


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection: reads from the protocol's buffer, writes held until the next read."""

    def __init__(self, protocol: _Protocol) -> None:
        assert protocol.transport is not None
        self._protocol = protocol
        self._transport: asyncio.Transport = protocol.transport
        self._pending: list[bytes] = []
        self._write_timeout: float | None = None

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:  # noqa: ASYNC109 - httpcore's interface
        await self._flush()
        protocol = self._protocol
        waiting = not protocol.received and not protocol.closed
        if waiting and not await _wait(protocol.reader(), timeout):
            raise httpcore.ReadTimeout("timed out waiting for the answer")
        if protocol.received:
            data = bytes(protocol.received[:max_bytes])
            del protocol.received[:max_bytes]
            return data
        if protocol.error is not None:
            raise httpcore.ReadError(str(protocol.error)) from protocol.error
        return b""

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:  # noqa: ASYNC109 - httpcore's interface
        if buffer:
            self._pending.append(buffer)
            self._write_timeout = timeout

    async def aclose(self) -> None:
        self._pending.clear()
        await _close(self._transport, self._protocol)

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
    ) -> httpcore.AsyncNetworkStream:
        await self._flush()
        loop = asyncio.get_running_loop()
        try:
            secured = await loop.start_tls(
                self._transport,
                self._protocol,
                ssl_context,
                server_hostname=server_hostname,
                ssl_handshake_timeout=timeout,
            )
        except TimeoutError as exc:
            await _close(self._transport, self._protocol)
            raise httpcore.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        except OSError as exc:  # ssl.SSLError is one
            await _close(self._transport, self._protocol)
            raise httpcore.ConnectError(str(exc)) from exc
        if secured is None:
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        self._protocol.transport = secured
        return AsyncioStream(self._protocol)

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self._is_readable()
        name = _EXTRA_INFO.get(info)
        return None if name is None else self._transport.get_extra_info(name)

    def _is_readable(self) -> bool:
        """Whether anything arrived since the last answer: httpcore asks this of an idle
        connection, and anything (the server's close, most likely) makes it unusable.

        The protocol knows what the loop has read. A connection quiet for a while is also
        asked of the kernel (one ``select``): a server's keep-alive timeout closes it about
        when ours would, and the close may be in the socket before the loop has looked.
        """
        protocol = self._protocol
        if protocol.received or protocol.closed:
            return True
        if asyncio.get_running_loop().time() - protocol.active < _QUIET_CHECK:
            return False
        sock = self._transport.get_extra_info("socket")
        if sock is None:
            return False
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable)

    async def _flush(self) -> None:
        if not self._pending:
            return
        data = b"".join(self._pending)
        self._pending.clear()
        protocol = self._protocol
        if protocol.closed:
            raise httpcore.WriteError(str(protocol.error or "the connection is closed"))
        self._transport.write(data)
        protocol.active = asyncio.get_running_loop().time()
        if protocol.paused and not await _wait(protocol.drained(), self._write_timeout):
            raise httpcore.WriteTimeout("timed out sending the request")


async def _close(transport: asyncio.Transport, protocol: _Protocol) -> None:
    """Close, and wait until asyncio has closed the socket (it does so a turn of the loop
    later); aborted if that takes long (unsent data the server does not read)."""
    transport.close()
    if not await _wait(protocol.lost, _CLOSE_WAIT):
        transport.abort()


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections made by the running loop, for ``transport.SlotTransport``."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        local = None if local_address is None else (local_address, 0)
        connecting = loop.create_connection(_Protocol, host, port, local_addr=local)
        return await _connected(connecting, timeout, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connecting = asyncio.get_running_loop().create_unix_connection(_Protocol, path)
        return await _connected(connecting, timeout, socket_options)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def _connected(
    connecting: Any, within: float | None, socket_options: Iterable[Any] | None
) -> AsyncioStream:
    """The stream of a connection being made (asyncio sets ``TCP_NODELAY`` on TCP itself)."""
    try:
        async with asyncio.timeout(within):
            transport, protocol = await connecting
    except TimeoutError as exc:
        raise httpcore.ConnectTimeout("timed out connecting") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    sock: socket.socket | None = transport.get_extra_info("socket")
    if sock is not None:
        for option in socket_options or ():
            sock.setsockopt(*option)
    assert isinstance(protocol, _Protocol)
    return AsyncioStream(protocol)
