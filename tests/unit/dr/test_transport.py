"""The client's own transport: failures as httpx's, proxies from the environment honoured."""

from __future__ import annotations

import socket

import httpx
import pytest
from pydantic import SecretStr

from catalog_sync.dr import (
    DigitalRiverClient,
    InventoryItemCreate,
    OutcomeUnknown,
    RetryPolicy,
    TransportError,
)
from catalog_sync.dr.transport import SlotTransport, default_transport

KEY = SecretStr("sk_test_0123456789abcdef0123456789abcdef")


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_a_create_that_could_not_connect_is_not_outcome_unknown() -> None:
    """A refused connection proves the create was never sent: a plain TransportError."""
    client = DigitalRiverClient(
        base_url=f"http://127.0.0.1:{closed_port()}",
        api_key=KEY,
        rate_limit=1000,
        retry=RetryPolicy(attempts=1),
    )
    async with client:
        with pytest.raises(TransportError) as caught:
            await client.create_inventory_item(InventoryItemCreate(id="a"))
    assert not isinstance(caught.value, OutcomeUnknown)
    assert not caught.value.outcome_unknown
    assert "ConnectError" in str(caught.value)


async def test_without_a_proxy_requests_go_through_our_own_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No proxy in the environment: the slot transport, no httpx connection pool."""
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    transport = default_transport("https://api.digitalriver.com", 4)
    assert isinstance(transport, SlotTransport)
    await transport.aclose()


async def test_a_proxy_named_by_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HTTPS_PROXY`` set: requests go through httpx's transport and that proxy, as before."""
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    transport = default_transport("https://api.digitalriver.com", 4)
    assert isinstance(transport, httpx.AsyncHTTPTransport)
    await transport.aclose()
