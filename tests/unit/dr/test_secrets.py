"""The API key never shows in a repr, an exception or a log line."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

import httpx
import pytest

from catalog_sync.dr import DigitalRiverClient, DRError, InventoryItemCreate, OutcomeUnknown
from catalog_sync.dr.testing import captured_logs, fail
from catalog_sync.support import logs

MakeClient = Callable[..., DigitalRiverClient]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """Everything logged at debug and above during the test."""
    with captured_logs() as stream:
        yield stream


def echo_headers(request: httpx.Request) -> httpx.Response:
    """A misbehaving server that echoes the request headers into its error message."""
    headers = dict(request.headers)
    return fail(500, {"type": "internal_server_error", "errors": [{"message": str(headers)}]})


async def test_key_absent_from_client_repr(make_client: MakeClient, api_key: str) -> None:
    """The client's repr names the base URL and rate, never the key."""
    client = make_client(fail(404))
    assert api_key not in repr(client)
    assert api_key not in repr(vars(client))


async def test_key_absent_from_transport_errors(make_client: MakeClient, api_key: str) -> None:
    """A transport failure's text and repr, and its cause's, carry no key."""
    client = make_client(httpx.ReadTimeout("timed out"))
    with pytest.raises(OutcomeUnknown) as caught:
        await client.create_inventory_item(InventoryItemCreate(id="a"))
    texts = [str(caught.value), repr(caught.value), str(caught.value.cause)]
    assert all(api_key not in text for text in texts)


async def test_key_echoed_by_the_server_is_redacted_from_the_error(
    make_client: MakeClient, api_key: str
) -> None:
    """Even a server echoing our headers cannot put the key into an exception's text."""
    client = make_client(echo_headers, attempts=1)
    with pytest.raises(DRError) as caught:
        await client.get_sku("a")
    assert api_key not in str(caught.value)
    assert api_key not in repr(caught.value)


async def test_key_absent_from_logs_of_calls_and_retries(
    make_client: MakeClient, api_key: str, log_output: io.StringIO
) -> None:
    """Call and retry log lines, even of an error echoing headers, hold no key."""
    client = make_client(echo_headers)
    with pytest.raises(DRError) as caught:
        await client.get_sku("a")
    logs.get_logger("test").error("failed", error=str(caught.value))
    written = log_output.getvalue()
    assert '"event": "dr.call"' in written
    assert '"event": "dr.retry"' in written
    assert api_key not in written


async def test_escaped_key_in_a_protocol_error_is_redacted(
    make_client: MakeClient, api_key: str, log_output: io.StringIO
) -> None:
    """httpx quoting the refused header as bytes (with a line end) leaks no form of the key."""
    padded = f"{api_key}\r\n"
    logs.register_secret(padded)
    refused = httpx.LocalProtocolError(f"Illegal header value {f'Bearer {padded}'.encode()!r}")
    client = make_client(refused, attempts=1)
    with pytest.raises(DRError) as caught:
        await client.get_sku("a")
    logs.get_logger("test").error("failed", error=caught.value)
    texts = [str(caught.value), repr(caught.value), log_output.getvalue()]
    assert [text for text in texts if api_key in text] == []
