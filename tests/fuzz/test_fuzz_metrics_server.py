"""Whatever bytes a local client sends, the metrics endpoint answers or closes, and lives on."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.support.metrics import (
    LOOPBACK,
    Metrics,
    MetricsServer,
    bind_metrics_socket,
    metrics_routes,
)

#: Generous bound on one exchange; never a measured duration.
DEADLINE = 30.0

_request_like = st.builds(
    lambda method, path, version, headers: f"{method} {path} {version}\r\n{headers}\r\n\r\n".encode(
        "utf-8", "surrogatepass"
    ),
    st.sampled_from(["GET", "HEAD", "POST"]) | st.text(max_size=8),
    st.sampled_from(["/healthz", "/metrics", "/healthz?x=1"]) | st.text(max_size=40),
    st.sampled_from(["HTTP/1.1", "HTTP/1.0"]) | st.text(max_size=10),
    st.text(max_size=200),
)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    """A metrics server with the default limits, in a thread with its own event loop."""
    loop = asyncio.new_event_loop()
    server = MetricsServer(metrics_routes(Metrics(), lambda: {"ok": True}), bind_metrics_socket(0))
    thread = threading.Thread(target=loop.run_until_complete, args=(server.serve(),))
    thread.start()
    try:
        yield server.port
    finally:
        loop.call_soon_threadsafe(server.close)
        thread.join(DEADLINE)
        loop.close()


def _exchange(port: int, data: bytes) -> bytes:
    """Send ``data``, end our side, and read until the server closes."""
    answer = b""
    with socket.create_connection((LOOPBACK, port), timeout=DEADLINE) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionError:
            pass  # closed on us mid-way (an oversized head): what was read is the answer
    return answer


@fuzz_settings
@given(st.binary(max_size=4096) | _request_like)
def test_any_bytes_get_an_http_answer_or_a_close_and_healthz_lives_on(
    port: int, data: bytes
) -> None:
    """No input makes the server hang, crash or answer anything but HTTP/1.1."""
    answer = _exchange(port, data)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 ")
    assert httpx.get(f"http://{LOOPBACK}:{port}/healthz", timeout=DEADLINE).status_code == 200
