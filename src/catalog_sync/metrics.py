"""Prometheus metrics and the loopback ``/healthz`` + ``/metrics`` endpoint.

A private registry (not the global default) so tests and several daemons in one process never
share counters. The server is uvicorn inside the daemon's own event loop: no thread, and it
stops with the daemon.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import uvicorn
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

LOOPBACK = "127.0.0.1"


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

    def observe_api_call(self, method: str, resource: str, status: int, seconds: float) -> None:
        """Record one API call (the client calls this for every response)."""
        self.api_latency.labels(method, resource, str(status)).observe(seconds)
        if status == 429:  # noqa: PLR2004 - the HTTP status, named by the metric
            self.api_rate_limited.inc()

    def render(self) -> bytes:
        """Return the text exposition format."""
        return generate_latest(self.registry)


def metrics_app(metrics: Metrics, health: Callable[[], dict[str, object]]) -> Starlette:
    """Build the ASGI app: ``/healthz`` (JSON, 200 or 503) and ``/metrics``."""
    started = time.monotonic()

    async def healthz(_request: Request) -> Response:
        body = {"uptime_seconds": round(time.monotonic() - started, 1), **health()}
        return JSONResponse(body, status_code=200 if body.get("ok", True) else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return Starlette(
        routes=[Route("/healthz", healthz), Route("/metrics", metrics_endpoint)],
    )


class EmbeddedServer(uvicorn.Server):
    """A uvicorn server that leaves signals to its host process (the daemon handles them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Install no handler: SIGTERM and SIGHUP belong to the daemon."""
        yield


def metrics_server(app: Starlette, port: int) -> EmbeddedServer:
    """Return a server for ``app`` bound to loopback; ``await server.serve()`` runs it."""
    config = uvicorn.Config(app, host=LOOPBACK, port=port, log_level="warning", access_log=False)
    return EmbeddedServer(config)
