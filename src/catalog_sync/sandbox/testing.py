"""A running sandbox as tests and benchmarks use it: base URL, a test key, admin helpers."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from catalog_sync.sandbox.server import SandboxHandle, serve_in_thread


def new_test_key() -> str:
    """A fresh ``sk_test_`` key of the shape DR's samples show (32 hex characters)."""
    return f"sk_test_{secrets.token_hex(16)}"


@dataclass(frozen=True)
class RunningSandbox:
    """A sandbox reachable over loopback HTTP, with its admin API at hand."""

    base_url: str
    api_key: str
    admin: httpx.Client

    def requests(self) -> list[dict[str, Any]]:
        """The API requests the sandbox received, oldest first."""
        data: list[dict[str, Any]] = self._ok(self.admin.get("/_sandbox/requests")).json()["data"]
        return data

    def clear_requests(self) -> None:
        """Forget the request log."""
        self._ok(self.admin.delete("/_sandbox/requests"))

    def set_faults(self, **spec: Any) -> None:
        """Inject faults, e.g. ``set_faults(rate=0.2, statuses=[503], seed=1)``."""
        self._ok(self.admin.post("/_sandbox/faults", json=spec))

    def clear_faults(self) -> None:
        """Stop injecting faults."""
        self._ok(self.admin.delete("/_sandbox/faults"))

    def create_order(self, items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        """Create an accepted order for ``[{"skuId", "quantity"}]``; returns the order."""
        order: dict[str, Any] = self._ok(
            self.admin.post("/_sandbox/orders", json={"items": items, **extra})
        ).json()
        return order

    def reset(self) -> None:
        """Empty the sandbox (data, request log, faults, fulfiller policy)."""
        self._ok(self.admin.post("/_sandbox/reset"))

    def api(self) -> httpx.Client:
        """A new raw client sending this sandbox's key as a Bearer token; close it after use."""
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.api_key}"}
        )

    @staticmethod
    def _ok(response: httpx.Response) -> httpx.Response:
        response.raise_for_status()
        return response


@contextlib.contextmanager
def attach(handle: SandboxHandle, api_key: str | None = None) -> Iterator[RunningSandbox]:
    """Wrap an already running sandbox; the admin client is closed on exit."""
    with httpx.Client(base_url=handle.base_url) as admin:
        yield RunningSandbox(handle.base_url, api_key or new_test_key(), admin)


@contextlib.contextmanager
def start_sandbox(
    *, rate_limit: float = 0.0, state_file: Path | None = None
) -> Iterator[RunningSandbox]:
    """Start a sandbox in a thread (rate limit off by default) and stop it on exit."""
    with (
        serve_in_thread(rate_limit=rate_limit, state_file=state_file) as handle,
        attach(handle) as running,
    ):
        yield running


def sku_body(**overrides: Any) -> dict[str, Any]:
    """A valid SKU upsert body for a physical product; ``overrides`` replace fields."""
    body: dict[str, Any] = {
        "name": "Widget",
        "eccn": "EAR99",
        "hsCode": "8471.30.0100",
        "taxCode": "4323.310_A",
        "countryOfOrigin": "US",
        "partNumber": "WID-1",
        "manufacturerId": "MFR-1",
        "weight": 1.5,
        "weightUnit": "lb",
    }
    body.update(overrides)
    return body


def item_body(**overrides: Any) -> dict[str, Any]:
    """A valid inventory-item body carrying the attributes shared with :func:`sku_body`."""
    body: dict[str, Any] = {
        "partNumber": "WID-1",
        "manufacturerId": "MFR-1",
        "eccn": "EAR99",
        "hsCode": "8471.30.0100",
        "countryOfOrigin": "US",
    }
    body.update(overrides)
    return body


def create_pair(client: httpx.Client, product_id: str, **overrides: Any) -> None:
    """PUT the SKU and POST the inventory item of one product.

    Step 1 of the flow in docs/digital-river-api.md §15.
    """
    client.put(f"/skus/{product_id}", json=sku_body(**overrides)).raise_for_status()
    client.post("/inventory-items", json={"id": product_id, **item_body()}).raise_for_status()


def fulfillment_order_body(order: dict[str, Any]) -> dict[str, Any]:
    """The fulfillment order the daemon creates for an accepted order.

    Step 3 of the flow in docs/digital-river-api.md §15.
    """
    return {
        "upstreamId": order["id"],
        "currency": order["currency"],
        "upstreamOrderTime": order["createdTime"],
        "locale": order["locale"],
        "shipTo": order["shipTo"],
        "shippingChoice": {"id": order["shippingChoice"]["serviceLevel"]},
        "items": [
            {
                "inventoryItemId": item["skuId"],
                "quantity": item["quantity"],
                "upstreamId": item["id"],
                "tax": {"amount": item["tax"]["amount"]},
                "total": item["amount"],
            }
            for item in order["items"]
        ],
    }
