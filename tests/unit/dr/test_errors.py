"""The API's error answers become the typed error tree, with the API's details kept."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from catalog_sync.dr import (
    APIError,
    BadRequest,
    Conflict,
    DigitalRiverClient,
    DRError,
    Forbidden,
    NotFound,
    RateLimited,
    ServerError,
    TransportError,
    Unauthorized,
)
from catalog_sync.dr.testing import error_body, fail

MakeClient = Callable[..., DigitalRiverClient]


@pytest.mark.parametrize(
    ("status", "error_type", "retryable"),
    [
        (400, BadRequest, False),
        (401, Unauthorized, False),
        (403, Forbidden, False),
        (404, NotFound, False),
        (405, APIError, False),
        (408, APIError, False),
        (409, Conflict, False),
        (429, RateLimited, True),
        (500, ServerError, True),
        (502, ServerError, True),
        (503, ServerError, True),
        (504, ServerError, True),
    ],
)
async def test_status_maps_to_error_type(
    make_client: MakeClient, status: int, error_type: type[DRError], retryable: bool
) -> None:
    """Each status becomes its error class, whose retryable flag matches the retry rules."""
    client = make_client(fail(status), attempts=1)
    with pytest.raises(error_type) as caught:
        await client.get_sku("a")
    assert type(caught.value) is error_type
    assert caught.value.retryable is retryable


async def test_conflict_keeps_api_code_parameter_and_message(make_client: MakeClient) -> None:
    """A 409 keeps the API's code, parameter and message and renders them readably."""
    body = {
        "type": "conflict",
        "errors": [
            {
                "code": "order_fulfilled",
                "parameter": "orderId",
                "message": "Resource '201454110336' is fulfilled.",
            }
        ],
    }
    client = make_client(fail(409, body))
    with pytest.raises(Conflict) as caught:
        await client.get_order("201454110336")
    error = caught.value
    assert (error.status, error.type, error.code, error.parameter) == (
        409,
        "conflict",
        "order_fulfilled",
        "orderId",
    )
    assert (
        str(error)
        == "409 conflict order_fulfilled (orderId): Resource '201454110336' is fulfilled."
    )


async def test_unauthorized_body_without_code_renders_message(make_client: MakeClient) -> None:
    """The 401 body (docs/digital-river-api.md §1) has no code or parameter; its message shows."""
    body = {"type": "unauthorized", "errors": [{"message": "An authorization error has occurred."}]}
    client = make_client(fail(401, body))
    with pytest.raises(Unauthorized) as caught:
        await client.get_sku("a")
    assert caught.value.code is None
    assert str(caught.value) == "401 unauthorized An authorization error has occurred."


async def test_error_keeps_every_detail_in_order(make_client: MakeClient) -> None:
    """Several errors in one body are all kept; the convenience fields show the first."""
    body = {
        "type": "bad_request",
        "errors": [
            {"code": "invalid_parameter", "parameter": "hsCode", "message": "bad hs"},
            {"code": "missing_parameter", "parameter": "name", "message": "no name"},
        ],
    }
    client = make_client(fail(400, body))
    with pytest.raises(BadRequest) as caught:
        await client.get_sku("a")
    assert [d.parameter for d in caught.value.errors] == ["hsCode", "name"]
    assert caught.value.message == "bad hs"


async def test_non_json_error_body_gets_type_from_reason(make_client: MakeClient) -> None:
    """A gateway's HTML 502 still becomes a ServerError with a readable type."""
    client = make_client(httpx.Response(502, text="<html>bad gateway</html>"), attempts=1)
    with pytest.raises(ServerError) as caught:
        await client.get_sku("a")
    assert (caught.value.type, caught.value.errors) == ("bad_gateway", ())


async def test_rate_limited_carries_retry_after(make_client: MakeClient) -> None:
    """A 429's integer Retry-After header is kept in seconds."""
    headers = {"Retry-After": "7"}
    client = make_client(fail(429, error_body("too_many_requests"), headers), attempts=1)
    with pytest.raises(RateLimited) as caught:
        await client.get_sku("a")
    assert caught.value.retry_after == 7.0


async def test_rate_limited_without_retry_after(make_client: MakeClient) -> None:
    """A 429 without a usable Retry-After leaves ``retry_after`` unset."""
    headers = {"Retry-After": "soon"}
    client = make_client(fail(429, error_body("too_many_requests"), headers), attempts=1)
    with pytest.raises(RateLimited) as caught:
        await client.get_sku("a")
    assert caught.value.retry_after is None


async def test_error_names_the_request(make_client: MakeClient) -> None:
    """An API error records which call failed, for logs and reports."""
    client = make_client(fail(404, error_body("not_found", "not_found", "id")))
    with pytest.raises(NotFound) as caught:
        await client.get_inventory_item("sku 1")
    assert (caught.value.method, caught.value.path) == ("GET", "/inventory-items/sku%201")


@pytest.mark.parametrize(
    ("exc", "outcome_unknown"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow connect"), False),
        (httpx.PoolTimeout("no slot"), False),
        (httpx.ReadTimeout("slow answer"), True),
        (httpx.ReadError("reset by peer"), True),
        (httpx.RemoteProtocolError("server disconnected"), True),
        (httpx.WriteError("broken pipe"), True),
    ],
)
async def test_transport_failure_says_whether_it_may_have_landed(
    make_client: MakeClient, exc: Exception, outcome_unknown: bool
) -> None:
    """Only failures before sending prove the request never reached the server."""
    client = make_client(exc, attempts=1)
    with pytest.raises(TransportError) as caught:
        await client.get_sku("a")
    assert caught.value.retryable
    assert caught.value.outcome_unknown is outcome_unknown


async def test_success_with_unreadable_body_is_not_retried(make_client: MakeClient) -> None:
    """A 200 whose body is not the resource is a server bug: an APIError, not a retry."""
    client = make_client(httpx.Response(200, text="not json"))
    with pytest.raises(APIError) as caught:
        await client.get_sku("a")
    assert (caught.value.type, caught.value.retryable) == ("invalid_response", False)
