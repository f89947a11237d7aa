"""Authentication and modes (docs/digital-river-api.md §1)."""

from __future__ import annotations

import base64

import httpx
import pytest

from catalog_sync.sandbox.testing import RunningSandbox, sku_body

UNAUTHORIZED = {
    "type": "unauthorized",
    "errors": [{"message": "An authorization error has occurred."}],
}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer pk_test_abc"},
        {"Authorization": "Token sk_test_abc"},
        {"Authorization": "Bearer sk_test_a b"},
    ],
)
def test_missing_or_malformed_key_gets_the_exact_401_body(
    sandbox: RunningSandbox, headers: dict[str, str]
) -> None:
    """Without a usable secret key the API answers 401 with no code and no parameter."""
    response = httpx.get(f"{sandbox.base_url}/skus", headers=headers)
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED


def test_basic_auth_with_the_key_as_user_name_is_accepted(sandbox: RunningSandbox) -> None:
    """DR's curl samples pass the key as the Basic user name (``-u sk_test_...:``)."""
    token = base64.b64encode(f"{sandbox.api_key}:".encode()).decode()
    response = httpx.get(f"{sandbox.base_url}/skus", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200


def test_every_test_key_sees_the_same_data(sandbox: RunningSandbox, api: httpx.Client) -> None:
    """One data set per mode: a second ``sk_test_`` key reads what the first wrote."""
    api.put("/skus/shared", json=sku_body()).raise_for_status()
    other = httpx.get(
        f"{sandbox.base_url}/skus/shared", headers={"Authorization": "Bearer sk_test_other"}
    )
    assert other.status_code == 200


def test_live_keys_have_their_own_data_and_live_mode(
    sandbox: RunningSandbox, api: httpx.Client
) -> None:
    """A non-test key writes objects with ``liveMode: true`` that test keys cannot see."""
    live = {"Authorization": "Bearer sk_live_0123456789abcdef"}
    created = httpx.put(f"{sandbox.base_url}/skus/live-1", json=sku_body(), headers=live)
    assert created.status_code == 201
    assert created.json()["liveMode"] is True
    assert api.get("/skus/live-1").status_code == 404
