"""Rate limit, injected faults and the request log: what sits in front of the API."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import httpx
import pytest

from catalog_sync.sandbox.testing import RunningSandbox, sku_body

SandboxFactory = Callable[..., AbstractContextManager[RunningSandbox]]
TRANSPORT_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectError)


def test_rate_limit_answers_429_with_retry_after(sandbox_factory: SandboxFactory) -> None:
    """Beyond the per-key rate: 429 in the API's shape with an integer ``Retry-After``."""
    with sandbox_factory(rate_limit=5) as limited, limited.api() as client:
        statuses = [client.get("/skus") for _ in range(10)]
        refused = [r for r in statuses if r.status_code == 429]
        assert refused
        assert int(refused[0].headers["Retry-After"]) >= 1
        assert refused[0].json()["type"] == "too_many_requests"
        assert limited.admin.get("/_sandbox/stats").status_code == 200


def test_rate_limit_is_per_key(sandbox_factory: SandboxFactory) -> None:
    """Another key has its own bucket."""
    with sandbox_factory(rate_limit=2) as limited, limited.api() as client:
        while client.get("/skus").status_code != 429:
            pass
        other = httpx.get(f"{limited.base_url}/skus", headers={"Authorization": "Bearer sk_test_b"})
        assert other.status_code == 200


def test_injected_status_uses_the_error_shape(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """``rate=1`` with one status answers every call with that status and error body."""
    sandbox.set_faults(rate=1.0, statuses=[503])
    response = api.get("/skus")
    assert (response.status_code, response.json()["type"]) == (503, "service_unavailable")


def test_injected_429_carries_retry_after(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """An injected 429 tells the client when to come back."""
    sandbox.set_faults(rate=1.0, statuses=[429])
    assert api.get("/skus").headers["Retry-After"] == "1"


def test_latency_delays_the_answer(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """``latency_ms`` holds each call at least that long."""
    sandbox.set_faults(latency_ms=[60, 60])
    started = time.monotonic()
    api.get("/skus").raise_for_status()
    assert time.monotonic() - started >= 0.06


def test_reset_drops_the_connection_before_handling(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """A reset is a transport error, and the write did not happen."""
    sandbox.set_faults(reset=1.0)
    with pytest.raises(TRANSPORT_ERRORS):
        api.put("/skus/w-1", json=sku_body())
    sandbox.clear_faults()
    assert api.get("/skus/w-1").status_code == 404


def test_after_commit_applies_the_write_then_drops(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """``after_commit``: the client sees a transport error, yet the SKU exists."""
    sandbox.set_faults(after_commit=1.0)
    with pytest.raises(TRANSPORT_ERRORS):
        api.put("/skus/w-1", json=sku_body())
    assert api.get("/skus/w-1").status_code == 200


def test_seeded_faults_repeat(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """The same seed gives the same sequence of injected statuses."""

    def run() -> list[int]:
        sandbox.set_faults(rate=0.5, statuses=[500, 503], seed=7)
        return [api.get("/skus").status_code for _ in range(12)]

    assert run() == run()


def test_bad_fault_spec_is_400(sandbox: RunningSandbox) -> None:
    """A probability outside 0..1 is refused."""
    assert sandbox.admin.post("/_sandbox/faults", json={"rate": 2}).status_code == 400


def test_request_log_shape_and_order(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """The log lists API calls oldest first with method, path, query, status, body, time and
    the client's User-Agent."""
    api.put("/skus/w-1", json=sku_body())
    api.get("/skus", params={"limit": 5})
    httpx.get(f"{sandbox.base_url}/skus")
    sandbox.admin.get("/_sandbox/stats")
    log = sandbox.requests()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("PUT", "/skus/w-1", 201),
        ("GET", "/skus", 200),
        ("GET", "/skus", 401),
    ]
    assert set(log[0]) == {"method", "path", "query", "status", "body", "time", "user_agent"}
    assert log[0]["body"] == sku_body()
    assert log[1]["query"] == "limit=5"


def test_request_log_records_dropped_calls_without_status(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """A call whose connection was dropped is logged with ``status: null``."""
    sandbox.set_faults(reset=1.0)
    with pytest.raises(TRANSPORT_ERRORS):
        api.get("/skus")
    assert sandbox.requests()[-1]["status"] is None


def test_clear_requests(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """``DELETE /_sandbox/requests`` empties the log."""
    api.get("/skus")
    sandbox.clear_requests()
    assert sandbox.requests() == []
