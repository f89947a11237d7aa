"""The Digital River API routes: paths, methods, success statuses (docs/digital-river-api.md)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog_sync.sandbox import catalog, events
from catalog_sync.sandbox.bodies import parse_body
from catalog_sync.sandbox.cancellations import create_cancellation
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import not_found
from catalog_sync.sandbox.fulfiller import create_fulfillment_order
from catalog_sync.sandbox.gateway import LIVE_KEY
from catalog_sync.sandbox.orders import order_details
from catalog_sync.sandbox.payments import create_fulfillment
from catalog_sync.sandbox.query import FieldFilter, build_window, multi
from catalog_sync.sandbox.state import Sandbox
from catalog_sync.sandbox.store import Collection, Obj, Predicate
from catalog_sync.sandbox.validation import as_object

Endpoint = Callable[[Request], Awaitable[Response]]


async def json_body(request: Request) -> Obj:
    """The request's JSON object; an empty body counts as ``{}``."""
    raw = await request.body()
    if not raw.strip():
        return {}
    return as_object(parse_body(raw))


def _filters(*pairs: tuple[str, str]) -> tuple[FieldFilter, ...]:
    return tuple(FieldFilter(param, field) for param, field in pairs)


class Api:
    """Endpoints bound to one :class:`Sandbox`; each finds its mode's data from the key."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def data(self, request: Request) -> DataSet:
        """The data set of the caller's mode (set by the gateway from the key)."""
        return self.sandbox.data(bool(request.scope.get(LIVE_KEY, False)))

    def routes(self) -> list[Route]:
        """Every API route."""
        return [
            *self._resource(
                "/skus",
                "skus",
                "Sku",
                _filters(
                    ("eccn", "eccn"),
                    ("partNumber", "partNumber"),
                    ("hsCode", "hsCode"),
                    ("taxCode", "taxCode"),
                    ("skuGroupId", "skuGroupId"),
                ),
            ),
            Route("/skus", self.create_sku, methods=["POST"]),
            Route("/skus/{id}", self.upsert_sku, methods=["PUT"]),
            Route("/skus/{id}", self.update_sku, methods=["POST"]),
            Route("/skus/{id}", self.delete_sku, methods=["DELETE"]),
            *self._resource(
                "/inventory-items",
                "inventory_items",
                "InventoryItem",
                _filters(
                    ("partNumber", "partNumber"),
                    ("manufacturerId", "manufacturerId"),
                ),
            ),
            Route("/inventory-items", self.create_item, methods=["POST"]),
            Route("/inventory-items/{id}", self.update_item, methods=["POST"]),
            Route("/inventory-items/{id}", self.delete_item, methods=["DELETE"]),
            *self._resource(
                "/orders",
                "orders",
                "Order",
                _filters(
                    ("upstreamIds", "upstreamId"),
                    ("state", "state"),
                    ("email", "email"),
                    ("currency", "currency"),
                    ("checkoutId", "checkoutId"),
                ),
            ),
            *self._resource(
                "/fulfillment-orders",
                "fulfillment_orders",
                "FulfillmentOrder",
                _filters(("upstreamIds", "upstreamId")),
            ),
            Route("/fulfillment-orders", self.create_fulfillment_order, methods=["POST"]),
            *self._resource(
                "/fulfillment-cancellations",
                "fulfillment_cancellations",
                "FulfillmentCancellation",
                _filters(
                    ("upstreamIds", "upstreamId"),
                    ("state", "state"),
                    ("fulfillmentOrderId", "fulfillmentOrderId"),
                ),
                extra=lambda params: _any_item("inventoryItemId", multi(params, "inventoryItemId")),
            ),
            Route("/fulfillment-cancellations", self.create_cancellation, methods=["POST"]),
            *self._resource("/shipments", "shipments", "Shipment"),
            *self._resource(
                "/fulfillments",
                "fulfillments",
                "Fulfillment",
                _filters(
                    ("orderId", "orderId"),
                    ("trackingCompany", "trackingCompany"),
                    ("trackingNumber", "trackingNumber"),
                ),
                extra=lambda params: _any_item("skuId", multi(params, "skuId")),
            ),
            Route("/fulfillments", self.create_fulfillment, methods=["POST"]),
            *self._resource("/events", "events", "Event", extra=events.type_filter),
        ]

    def _resource(
        self,
        path: str,
        attribute: str,
        resource: str,
        filters: Sequence[FieldFilter] = (),
        extra: Callable[[Any], Predicate | None] | None = None,
    ) -> list[Route]:
        """``GET path`` (list) and ``GET path/{id}`` (retrieve) for one collection."""

        def collection(request: Request) -> Collection:
            found: Collection = getattr(self.data(request), attribute)
            return found

        async def list_objects(request: Request) -> Response:
            more = extra(request.query_params) if extra is not None else None
            window = build_window(request.query_params, filters, [more] if more else [])
            return stored_json(collection(request).page(window).envelope())

        async def retrieve(request: Request) -> Response:
            data = self.data(request)
            object_id = request.path_params["id"]
            if attribute == "fulfillments":
                obj = catalog.existing(data.fulfillments, object_id, resource)
                obj["orderDetails"] = order_details(data.orders.get(obj["orderId"]) or {})
                return JSONResponse(obj)
            stored = collection(request).json(object_id)
            if stored is None:
                raise not_found(resource, object_id)
            return stored_json(stored)

        return [
            Route(path, list_objects, methods=["GET"]),
            Route(f"{path}/{{id}}", retrieve, methods=["GET"]),
        ]

    # -- writes ---------------------------------------------------------------------------------

    async def create_sku(self, request: Request) -> Response:
        """``POST /skus`` -> 201."""
        return stored_json(catalog.create_sku(self.data(request), await json_body(request)), 201)

    async def upsert_sku(self, request: Request) -> Response:
        """``PUT /skus/{id}`` -> 201 created, 200 replaced."""
        sku, created = catalog.upsert_sku(
            self.data(request), request.path_params["id"], await json_body(request)
        )
        return stored_json(sku, 201 if created else 200)

    async def update_sku(self, request: Request) -> Response:
        """``POST /skus/{id}`` -> 200."""
        body = await json_body(request)
        return stored_json(catalog.update_sku(self.data(request), request.path_params["id"], body))

    async def delete_sku(self, request: Request) -> Response:
        """``DELETE /skus/{id}`` -> 204."""
        catalog.delete_sku(self.data(request), request.path_params["id"])
        return Response(status_code=204)

    async def create_item(self, request: Request) -> Response:
        """``POST /inventory-items`` -> 201."""
        return stored_json(catalog.create_item(self.data(request), await json_body(request)), 201)

    async def update_item(self, request: Request) -> Response:
        """``POST /inventory-items/{id}`` -> 201 (as the SDK says)."""
        body = await json_body(request)
        item = catalog.update_item(self.data(request), request.path_params["id"], body)
        return stored_json(item, 201)

    async def delete_item(self, request: Request) -> Response:
        """``DELETE /inventory-items/{id}`` -> 204."""
        catalog.delete_item(self.data(request), request.path_params["id"])
        return Response(status_code=204)

    async def create_fulfillment_order(self, request: Request) -> Response:
        """``POST /fulfillment-orders`` -> 201."""
        body = await json_body(request)
        return _created(create_fulfillment_order(self.data(request), body))

    async def create_cancellation(self, request: Request) -> Response:
        """``POST /fulfillment-cancellations`` -> 201, decided by the fulfiller's policy."""
        body = await json_body(request)
        return _created(create_cancellation(self.data(request), body, self.sandbox.policy))

    async def create_fulfillment(self, request: Request) -> Response:
        """``POST /fulfillments`` -> 201."""
        return _created(create_fulfillment(self.data(request), await json_body(request)))


def stored_json(body: bytes, status: int = 200) -> Response:
    """An answer whose JSON a collection already holds (``store.pack``): sent as it is."""
    return Response(body, status_code=status, media_type="application/json")


def _created(obj: Obj) -> Response:
    return JSONResponse(obj, status_code=201)


def _any_item(field: str, wanted: list[str] | None) -> Predicate | None:
    """Match objects with at least one item whose ``field`` is among ``wanted``."""
    if wanted is None:
        return None
    allowed = frozenset(wanted)
    return lambda obj: any(item.get(field) in allowed for item in obj.get("items", []))
