"""The client's HTTP connections: lent to one request at a time, never queued in a pool.

httpx's default transport hands every request to httpcore's connection pool, which re-scans
every connection it holds (an idle check, an expiry check and a readability poll of the
socket each, quadratic in the idle ones) whenever a request enters or an answer ends. With
sixteen connections that scan was the largest single cost of an API call in our process
on loopback. The pool has nothing left to decide for us: the rate budget orders the calls by
priority, the bulk window bounds catalog calls, and the client's slots bound the requests in
flight to ``max_concurrency``. So a request here takes the most recently used idle
connection (or opens one), sends, reads the whole body, and gives the connection back: a
constant cost per request, and a request waits only in our own limiter, where priorities hold.

The connections themselves are asyncio protocols (``sockets.py``), not httpcore's anyio
streams, and hold a request's writes until it reads its answer.

Bodies are read in full before the answer is returned: every answer of the API is one JSON
document of at most a page (docs/digital-river-api.md §3), and a connection goes back to the
idle list only once its answer is read. Proxies from the environment (``HTTPS_PROXY`` and the
like) are honoured by :func:`default_transport` falling back to httpx's own pooled transport.
"""

from __future__ import annotations

import ssl
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

import httpcore
import httpx

from catalog_sync.dr.sockets import AsyncioBackend

#: The request extension holding the daemon's leadership check for a write: called by the
#: transport as the last step before the request goes on its connection, so a leader frozen
#: anywhere before that (waiting for a slot, a connection, the body) sends nothing on waking.
WRITE_GUARD: Final = "catalog_sync.write_guard"

#: Seconds an idle connection is kept: httpx's default, below the servers' usual 5 s timeout.
KEEPALIVE_EXPIRY: Final = 5.0

_ERRORS: Final[Mapping[type[Exception], type[httpx.TransportError]]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProxyError: httpx.ProxyError,
}


class SlotTransport(httpx.AsyncBaseTransport):
    """An httpx transport over at most ``size`` kept connections, one request on each at a time.

    It does not bound the requests in flight itself (the client's slots do); it keeps no more
    than ``size`` idle connections and closes the rest.
    """

    def __init__(self, size: int, *, keepalive_expiry: float = KEEPALIVE_EXPIRY) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        self._size = size
        self._keepalive_expiry = keepalive_expiry
        self._idle: list[httpcore.AsyncHTTP11Connection] = []
        self._ssl_context: ssl.SSLContext | None = None
        self._network = AsyncioBackend()
        self._closed = False

    @property
    def idle(self) -> int:
        """Connections open and waiting for a request."""
        return len(self._idle)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` on a connection of its own and return the answer, body read."""
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        origin = httpcore.Origin(url.raw_scheme, url.raw_host, url.port or _default_port(url))
        with _httpx_errors():
            connection = await self._connection(origin, request.extensions.get("timeout", {}))
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=await request.aread(),
            extensions=request.extensions,
        )
        if (guard := request.extensions.get(WRITE_GUARD)) is not None:
            try:
                guard()
            except BaseException:
                await self._give_back(connection)
                raise
        try:
            with _httpx_errors():
                answer = await connection.handle_async_request(core_request)
                try:
                    body = await answer.aread()
                finally:
                    await answer.aclose()
        except BaseException:
            await connection.aclose()
            raise
        await self._give_back(connection)
        return httpx.Response(
            answer.status,
            headers=answer.headers,
            content=body,
            extensions=answer.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        """Close every idle connection; connections lent out close when their answer ends."""
        self._closed = True
        idle, self._idle = self._idle, []
        for connection in idle:
            await connection.aclose()

    async def _connection(
        self, origin: httpcore.Origin, timeouts: Mapping[str, float | None]
    ) -> httpcore.AsyncHTTP11Connection:
        """The most recently used idle connection to ``origin`` still usable, or a new one.

        An HTTP/1.1 connection of httpcore's own, made here: its wrapper that connects lazily
        (``AsyncHTTPConnection``) costs a lock per request, and there is nothing lazy left to
        do once a request holds the connection.
        """
        while self._idle:
            connection = self._idle.pop()
            usable = connection.can_handle_request(origin) and connection.is_idle()
            if usable and not connection.has_expired():
                return connection
            await connection.aclose()
        host = origin.host.decode("ascii")
        timeout = timeouts.get("connect")
        stream = await self._network.connect_tcp(host, origin.port, timeout=timeout)
        if origin.scheme == b"https":
            stream = await stream.start_tls(self._ssl(), server_hostname=host, timeout=timeout)
        return httpcore.AsyncHTTP11Connection(
            origin, stream, keepalive_expiry=self._keepalive_expiry
        )

    async def _give_back(self, connection: httpcore.AsyncHTTP11Connection) -> None:
        if self._closed or not connection.is_idle() or len(self._idle) >= self._size:
            await connection.aclose()
            return
        self._idle.append(connection)
        # The least recently used one is the first to expire: one check keeps the list fresh.
        oldest = self._idle[0]
        if oldest is not connection and oldest.has_expired():
            del self._idle[0]
            await oldest.aclose()

    def _ssl(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context


def default_transport(base_url: str, size: int) -> httpx.AsyncBaseTransport:
    """The transport a client uses unless given one: :class:`SlotTransport`, or httpx's own
    pooled transport through the proxy the environment names for ``base_url``.
    """
    url = httpx.URL(base_url)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.host):
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        return httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)
    return SlotTransport(size)


def _default_port(url: httpx.URL) -> int:
    return 443 if url.scheme == "https" else 80


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """Raise httpcore's failures as httpx's, which the client's error mapping knows."""
    try:
        yield
    except tuple(_ERRORS) as exc:
        for core_type, httpx_type in _ERRORS.items():
            if isinstance(exc, core_type):
                raise httpx_type(str(exc)) from exc
        raise
