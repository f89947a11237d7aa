"""The client over TLS, as it talks to the real API: against the sandbox served over HTTPS
with a certificate from a throwaway authority, which the client must check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from pydantic import SecretStr

from catalog_sync.dr import (
    DigitalRiverClient,
    InventoryItemUpdate,
    RetryPolicy,
    SkuUpsert,
    TransportError,
    ensure_inventory_item,
)
from catalog_sync.dr.transport import SlotTransport
from catalog_sync.sandbox.server import SandboxHandle, serve_in_thread
from catalog_sync.sandbox.testing import item_body, new_test_key, sku_body


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """The certificate authority that signed the sandbox's certificate."""
    return trustme.CA()


@pytest.fixture(scope="module")
def https_sandbox(
    authority: trustme.CA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxHandle]:
    """The sandbox over HTTPS, its certificate for 127.0.0.1."""
    pem = tmp_path_factory.mktemp("tls") / "server.pem"
    authority.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(pem)
    with serve_in_thread(tls=pem) as handle:
        yield handle


def _trust(authority: trustme.CA, folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust ``authority`` (and nothing else), as ``SSL_CERT_FILE`` does for httpx."""
    ca_file = folder / "ca.pem"
    authority.cert_pem.write_to_path(ca_file)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


def _client(handle: SandboxHandle, transport: SlotTransport) -> DigitalRiverClient:
    return DigitalRiverClient(
        base_url=handle.base_url,
        api_key=SecretStr(new_test_key()),
        rate_limit=1000,
        retry=RetryPolicy(attempts=1),
        transport=transport,
    )


async def test_calls_over_tls_are_answered_on_one_connection(
    https_sandbox: SandboxHandle,
    authority: trustme.CA,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A SKU, its inventory item and reads of both go over HTTPS, on one kept connection."""
    _trust(authority, tmp_path, monkeypatch)
    assert https_sandbox.base_url.startswith("https://")
    transport = SlotTransport(4)
    async with _client(https_sandbox, transport) as client:
        await client.upsert_sku("tls-1", SkuUpsert.model_validate(sku_body()))
        await ensure_inventory_item(client, "tls-1", InventoryItemUpdate(**item_body()))
        assert (await client.get_sku("tls-1")).id == "tls-1"
        assert (await client.get_inventory_item("tls-1")).id == "tls-1"
        assert transport.idle == 1


async def test_a_server_certificate_not_trusted_is_refused_before_anything_is_sent(
    https_sandbox: SandboxHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Signed by an authority the client does not trust: a transport error saying why, and
    the write never reached the sandbox."""
    _trust(trustme.CA(), tmp_path, monkeypatch)
    async with _client(https_sandbox, SlotTransport(4)) as client:
        with pytest.raises(TransportError) as caught:
            await client.upsert_sku("tls-2", SkuUpsert.model_validate(sku_body()))
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert not caught.value.outcome_unknown
    assert "tls-2" not in https_sandbox.sandbox.data(live=False).skus
