"""Prometheus metrics and the loopback ``/healthz`` + ``/metrics`` endpoint.

A private registry (not the global default) so tests and several daemons in one process never
share counters.

The endpoint is a small HTTP/1.1 server on asyncio streams inside the daemon's own event loop (no
thread; it stops with the daemon) rather than a general ASGI server, because what it must
guarantee is what those servers leave open: a connection that never completes its request is
closed after :attr:`ServerLimits.read_timeout`, an idle kept-alive one after
:attr:`ServerLimits.idle_timeout`, and at most :attr:`ServerLimits.max_connections` are held at
once (a new one pushes out the oldest that is still waiting for its request). So any number of
half-open connections costs a bounded number of file descriptors, and ``/healthz`` keeps
answering whatever a local client does. Only ``GET`` and ``HEAD`` without a body are served.

The listening socket is bound by :func:`bind_metrics_socket` before the daemon starts anything,
so a busy port is a configuration error at start, never a failure after "daemon started".
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from catalog_sync.support.logs import get_logger
from catalog_sync.support.settings import SettingsError

LOOPBACK: Final = "127.0.0.1"
log = get_logger("metrics")


@dataclass
class Metrics:
    """Every metric the daemon exports, on one registry."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.reconcile_runs = Counter(
            "catalog_sync_reconcile_runs", "Reconcile runs, by kind.", ["kind"], registry=r
        )
        self.writes = Counter(
            "catalog_sync_writes", "Writes sent to Digital River, by kind.", ["kind"], registry=r
        )
        self.write_failures = Counter(
            "catalog_sync_write_failures", "Writes that failed after retries.", ["kind"], registry=r
        )
        self.drift_found = Counter(
            "catalog_sync_drift_found", "Pairs found drifted from the catalog.", registry=r
        )
        self.event_lag = Gauge(
            "catalog_sync_event_lag_seconds",
            "Age of the oldest event not yet handled (0 when none is waiting).",
            registry=r,
        )
        self.request_queue = Gauge(
            "catalog_sync_request_queue_depth", "Merchant requests not yet completed.", registry=r
        )
        self.dead_letters = Gauge(
            "catalog_sync_dead_letters", "Events kept as dead letters.", registry=r
        )
        self.fulfillment_writes = Counter(
            "catalog_sync_fulfillment_writes",
            "Fulfillment writes tried, by kind (capture, cancel_charge, ...) and outcome (landed,"
            " refused by Digital River, failed: retried or parked).",
            ["kind", "outcome"],
            registry=r,
        )
        self.orders_audit_findings = Gauge(
            "catalog_sync_orders_audit_findings",
            "Findings the last orders audit left unrepaired, by kind.",
            ["kind"],
            registry=r,
        )
        self.api_latency = Histogram(
            "catalog_sync_api_latency_seconds",
            "Latency of Digital River API calls.",
            ["method", "resource", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=r,
        )
        self.api_rate_limited = Counter(
            "catalog_sync_api_rate_limited", "429 answers met.", registry=r
        )
        self.leader = Gauge(
            "catalog_sync_leader", "1 while this instance leads the deployment, else 0.", registry=r
        )
        self.leader_epoch = Gauge(
            "catalog_sync_leader_epoch",
            "Epoch of this instance's current or last term.",
            registry=r,
        )
        self.failovers = Counter(
            "catalog_sync_failovers",
            "Times this instance took the leader lease from another holder.",
            registry=r,
        )

    def observe_api_call(self, method: str, resource: str, status: int, seconds: float) -> None:
        """Record one API call (the client calls this for every response)."""
        self.api_latency.labels(method, resource, str(status)).observe(seconds)
        if status == 429:  # noqa: PLR2004 - the HTTP status, named by the metric
            self.api_rate_limited.inc()

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What one local client can hold of the metrics endpoint (fixed, documented in README)."""

    #: Seconds from connecting to a complete request head (stops slow or silent clients).
    read_timeout: float = 5.0
    #: Seconds a kept-alive connection may wait for its next request head.
    idle_timeout: float = 15.0
    #: Seconds a client has to take a response (a client that never reads is dropped).
    write_timeout: float = 5.0
    #: Connections held at once; a new one pushes out the oldest waiting for its request.
    max_connections: int = 32
    #: Largest request head (request line and headers); larger gets 431 and is closed.
    max_head_bytes: int = 8192


@dataclass(frozen=True, slots=True)
class Response:
    """What a route answers: status, content type, body."""

    status: int
    content_type: str
    body: bytes


#: A route: called for each ``GET`` / ``HEAD`` of its path, in the event loop.
Route = Callable[[], Response]


class MetricsPortError(SettingsError):
    """The metrics port cannot be listened on (busy, privileged, out of range)."""


def bind_metrics_socket(port: int) -> socket.socket:
    """Bind and listen on ``127.0.0.1:port`` now; raise :class:`MetricsPortError` if not possible.

    Called before the daemon starts anything: a busy port is one line and exit 2 at start.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((LOOPBACK, port))
        sock.listen(128)
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise MetricsPortError(
            f"metrics_port: cannot listen on {LOOPBACK}:{port}: {reason}; choose another port "
            "(--metrics-port or CATALOG_SYNC_METRICS_PORT)"
        ) from None
    return sock


def metrics_routes(metrics: Metrics, health: Callable[[], dict[str, object]]) -> dict[str, Route]:
    """``/healthz`` (JSON, 200 or 503) and ``/metrics`` (Prometheus text format)."""
    started = time.monotonic()

    def healthz() -> Response:
        body = {"uptime_seconds": round(time.monotonic() - started, 1), **health()}
        status = HTTPStatus.OK if body.get("ok", True) else HTTPStatus.SERVICE_UNAVAILABLE
        return Response(status, "application/json", json.dumps(body, default=str).encode())

    def metrics_endpoint() -> Response:
        return Response(HTTPStatus.OK, CONTENT_TYPE_LATEST, metrics.render())

    return {"/healthz": healthz, "/metrics": metrics_endpoint}


class _BadRequestError(Exception):
    """The request cannot be served; the connection is answered with ``status`` and closed."""

    def __init__(self, status: HTTPStatus) -> None:
        super().__init__(status.phrase)
        self.status = status


@dataclass(frozen=True, slots=True)
class _Request:
    method: str
    path: str
    keep_alive: bool


def _parse_head(head: bytes) -> _Request:
    """The request line and headers of ``head`` (which ends with an empty line)."""
    try:
        text = head.decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequestError(HTTPStatus.BAD_REQUEST) from None
    request_line, *header_lines = text.split("\r\n")[:-2]
    parts = request_line.split(" ")
    if len(parts) != 3 or parts[2] not in {"HTTP/1.0", "HTTP/1.1"}:  # noqa: PLR2004
        raise _BadRequestError(HTTPStatus.BAD_REQUEST)
    method, target, version = parts
    headers: dict[str, str] = {}
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise _BadRequestError(HTTPStatus.BAD_REQUEST)
        headers[name.lower()] = value.strip()
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        raise _BadRequestError(HTTPStatus.BAD_REQUEST)  # no route takes a body
    connection = {t.strip() for t in headers.get("connection", "").lower().split(",")}
    keep_alive = "keep-alive" in connection if version == "HTTP/1.0" else "close" not in connection
    return _Request(method, target.partition("?")[0], keep_alive)


@dataclass(eq=False)
class _Connection:
    """One accepted connection; ``waiting`` while it has no request being answered."""

    writer: asyncio.StreamWriter
    task: asyncio.Task[None] | None
    waiting: bool = True

    def drop(self) -> None:
        """Close at once, without waiting for the client (frees its descriptor now)."""
        self.writer.transport.abort()


@dataclass
class MetricsServer:
    """Serves ``routes`` on an already listening socket within :class:`ServerLimits`."""

    routes: Mapping[str, Route]
    listener: socket.socket
    limits: ServerLimits = field(default_factory=ServerLimits)
    _connections: dict[_Connection, None] = field(default_factory=dict, init=False)
    _stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        port: int = self.listener.getsockname()[1]
        return port

    @property
    def open_connections(self) -> int:
        """Connections held right now (never more than ``limits.max_connections``)."""
        return len(self._connections)

    async def serve(self) -> None:
        """Accept and answer until :meth:`close`; then drop every connection."""
        server = await asyncio.start_server(
            self._accept, sock=self.listener, limit=self.limits.max_head_bytes
        )
        try:
            await self._stop.wait()
        finally:
            server.close()
            tasks = [c.task for c in self._connections if c.task is not None]
            for connection in list(self._connections):
                connection.drop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await server.wait_closed()

    def close(self) -> None:
        """Ask :meth:`serve` to stop."""
        self._stop.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = _Connection(writer, asyncio.current_task())
        if len(self._connections) >= self.limits.max_connections:
            oldest = next((c for c in self._connections if c.waiting), None)
            if oldest is None:  # every slot is busy answering: the newcomer waits for none
                connection.drop()
                return
            self._connections.pop(oldest)
            oldest.drop()
        self._connections[connection] = None
        try:
            await self._converse(reader, connection)
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass  # the client left, stalled, or was pushed out: nothing to answer
        finally:
            self._connections.pop(connection, None)
            connection.drop()

    async def _converse(self, reader: asyncio.StreamReader, connection: _Connection) -> None:
        """Answer requests on one connection until it closes, stalls or errs."""
        limits = self.limits
        timeout = limits.read_timeout
        while True:
            connection.waiting = True
            try:
                async with asyncio.timeout(timeout):
                    head = await reader.readuntil(b"\r\n\r\n")
                request = _parse_head(head)
            except asyncio.LimitOverrunError:
                await self._send(connection, _error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE))
                return
            except _BadRequestError as exc:
                await self._send(connection, _error(exc.status))
                return
            connection.waiting = False
            response = self._respond(request)
            head_only = request.method == "HEAD"
            await self._send(connection, response, keep_alive=request.keep_alive, head=head_only)
            if not request.keep_alive:
                return
            timeout = limits.idle_timeout

    def _respond(self, request: _Request) -> Response:
        if request.method not in {"GET", "HEAD"}:
            return _error(HTTPStatus.METHOD_NOT_ALLOWED)
        route = self.routes.get(request.path)
        if route is None:
            return _error(HTTPStatus.NOT_FOUND)
        try:
            return route()
        except Exception as exc:  # noqa: BLE001 - one failing route must not stop the endpoint
            log.warning("metrics.route_failed", path=request.path, error=type(exc).__name__)
            return _error(HTTPStatus.INTERNAL_SERVER_ERROR)

    async def _send(
        self,
        connection: _Connection,
        response: Response,
        *,
        keep_alive: bool = False,
        head: bool = False,
    ) -> None:
        """Write ``response``; a client that does not take it within the limit is dropped."""
        status = HTTPStatus(response.status)
        lines = [
            f"HTTP/1.1 {status.value} {status.phrase}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            "Cache-Control: no-store",
            "Connection: keep-alive" if keep_alive else "Connection: close",
        ]
        if keep_alive:
            lines.append(f"Keep-Alive: timeout={int(self.limits.idle_timeout)}")
        writer = connection.writer
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("ascii"))
        if not head:
            writer.write(response.body)
        async with asyncio.timeout(self.limits.write_timeout):
            await writer.drain()


def _error(status: HTTPStatus) -> Response:
    body = json.dumps({"error": status.phrase}).encode()
    return Response(status, "application/json", body)
