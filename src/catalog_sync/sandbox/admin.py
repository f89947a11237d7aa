"""``/_sandbox/``: drive scenarios DR's real API cannot (orders, the fulfiller, drift, faults).

Not part of the DR API: no key needed, never rate-limited or recorded in the request log.
Errors still use the API's body shape so one client-side parser reads both.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from catalog_sync.sandbox import catalog, events, fulfiller, orders, payments
from catalog_sync.sandbox.api import json_body, stored_json
from catalog_sync.sandbox.cancellations import POLICIES
from catalog_sync.sandbox.clock import stamp_micro
from catalog_sync.sandbox.dataset import DataSet
from catalog_sync.sandbox.errors import invalid_parameter, not_found
from catalog_sync.sandbox.faults import parse_spec
from catalog_sync.sandbox.query import multi
from catalog_sync.sandbox.requestlog import FIELDS
from catalog_sync.sandbox.state import Sandbox
from catalog_sync.sandbox.store import Obj

FulfillerMove = Callable[[DataSet, str, Obj], Obj]


class Admin:
    """Admin endpoints bound to one :class:`Sandbox`."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def routes(self) -> list[Route]:
        """Every ``/_sandbox/`` route."""
        return [
            Route("/_sandbox/orders", self.create_order, methods=["POST"]),
            Route(
                "/_sandbox/fulfillment-orders/{id}/ship",
                self._move(fulfiller.ship, 201),
                methods=["POST"],
            ),
            Route(
                "/_sandbox/fulfillment-orders/{id}/backorder",
                self._move(fulfiller.backorder, 200),
                methods=["POST"],
            ),
            Route(
                "/_sandbox/fulfillment-orders/{id}/cancel",
                self._move(fulfiller.fulfiller_cancel, 200),
                methods=["POST"],
            ),
            Route("/_sandbox/orders/{id}/fulfillments", self.outside_fulfillment, methods=["POST"]),
            Route("/_sandbox/orders/{id}/state", self.set_order_state, methods=["POST"]),
            Route("/_sandbox/events", self.append_event, methods=["POST"]),
            Route("/_sandbox/events/vanish", self.vanish_events, methods=["POST"]),
            Route("/_sandbox/fulfiller", self.get_fulfiller, methods=["GET"]),
            Route("/_sandbox/fulfiller", self.set_fulfiller, methods=["POST"]),
            Route("/_sandbox/skus/{id}/drift", self.drift_sku, methods=["POST"]),
            Route("/_sandbox/inventory-items/{id}/drift", self.drift_item, methods=["POST"]),
            Route("/_sandbox/requests", self.get_requests, methods=["GET"]),
            Route("/_sandbox/requests", self.clear_requests, methods=["DELETE"]),
            Route("/_sandbox/faults", self.get_faults, methods=["GET"]),
            Route("/_sandbox/faults", self.set_faults, methods=["POST"]),
            Route("/_sandbox/faults", self.clear_faults, methods=["DELETE"]),
            Route("/_sandbox/reset", self.reset, methods=["POST"]),
            Route("/_sandbox/stats", self.stats, methods=["GET"]),
        ]

    def _changed(self) -> None:
        self.sandbox.changes += 1

    async def create_order(self, request: Request) -> Response:
        """An ``accepted`` order (``"mode": "live"`` for the live data set) -> 201."""
        body = await json_body(request)
        mode = body.get("mode", "test")
        if mode not in {"test", "live"}:
            raise invalid_parameter("mode", mode)
        order = orders.create_order(self.sandbox.data(mode == "live"), body)
        self._changed()
        return JSONResponse(order, status_code=201)

    async def outside_fulfillment(self, request: Request) -> Response:
        """A capture or cancel made outside catalog-sync (another tool, a person in the
        dashboard): ``POST /fulfillments`` for the order, its events emitted as usual, the
        quantities not limited to the line's open units -> 201."""
        body = await json_body(request)
        order_id = request.path_params["id"]
        data = self._order_data(order_id)
        result = payments.create_fulfillment(data, {**body, "orderId": order_id}, check_open=False)
        self._changed()
        return JSONResponse(result, status_code=201)

    async def set_order_state(self, request: Request) -> Response:
        """``{"state": ...}``: the order's state changes with no event, as an order DR left
        stuck (say ``fulfilled`` after every line was captured) -> 200."""
        body = await json_body(request)
        order_id = request.path_params["id"]
        data = self._order_data(order_id)
        order = orders.set_state(data, order_id, body.get("state"))
        self._changed()
        return JSONResponse(order)

    def _order_data(self, order_id: str) -> DataSet:
        for data in self.sandbox.datasets():
            if order_id in data.orders:
                return data
        raise not_found("Order", order_id)

    async def vanish_events(self, request: Request) -> Response:
        """``{"type": ..., "objectId": ...}``: those events leave ``GET /events`` (``?mode=``),
        as events a poller missed or that expired -> 200 ``{"vanished": [ids]}``."""
        body = await json_body(request)
        kind = body.get("type")
        if not isinstance(kind, str) or not kind:
            raise invalid_parameter("type", kind)
        object_id = body.get("objectId")
        if object_id is not None and not isinstance(object_id, str):
            raise invalid_parameter("objectId", object_id)
        gone = events.vanish(self._mode(request), kind, object_id)
        self._changed()
        return JSONResponse({"vanished": gone})

    async def append_event(self, request: Request) -> Response:
        """Append a raw event, as is, to ``GET /events`` (``?mode=live`` for the live set) -> 201.

        For testing a consumer against events the API should never send (malformed, another
        mode): only ``id`` and ``createdTime`` are filled in when absent, because listing
        needs them; everything else, even a wrong type, is kept.
        """
        event = await json_body(request)
        data = self._mode(request)
        event_id = event.get("id")
        if not isinstance(event_id, str) or not event_id:
            event_id = str(uuid.uuid4())
        stored = {"createdTime": stamp_micro(data.clock.now()), **event, "id": event_id}
        data.events.put(event_id, stored)
        self._changed()
        return JSONResponse(stored, status_code=201)

    def _move(self, move: FulfillerMove, status: int) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            body = await json_body(request)
            order_id = request.path_params["id"]
            for data in self.sandbox.datasets():
                if order_id in data.fulfillment_orders:
                    result = move(data, order_id, body)
                    self._changed()
                    return JSONResponse(result, status_code=status)
            raise not_found("FulfillmentOrder", order_id)

        return endpoint

    async def get_fulfiller(self, request: Request) -> Response:
        """How cancellation requests are answered."""
        del request
        return JSONResponse({"cancellations": self.sandbox.policy})

    async def set_fulfiller(self, request: Request) -> Response:
        """``{"cancellations": "accept" | "reject"}``."""
        body = await json_body(request)
        policy = body.get("cancellations")
        if policy == "accept":
            self.sandbox.policy = "accept"
        elif policy == "reject":
            self.sandbox.policy = "reject"
        else:
            raise invalid_parameter("cancellations", policy, f"policy ({' or '.join(POLICIES)})")
        self._changed()
        return JSONResponse({"cancellations": self.sandbox.policy})

    def _mode(self, request: Request) -> DataSet:
        mode = request.query_params.get("mode", "test")
        if mode not in {"test", "live"}:
            raise invalid_parameter("mode", mode)
        return self.sandbox.data(mode == "live")

    async def drift_sku(self, request: Request) -> Response:
        """Change a SKU behind the daemon's back, as a dashboard user would (``sku.updated``)."""
        body = await json_body(request)
        sku = catalog.update_sku(self._mode(request), request.path_params["id"], body)
        self._changed()
        return stored_json(sku)

    async def drift_item(self, request: Request) -> Response:
        """Change an inventory item behind the daemon's back."""
        body = await json_body(request)
        item = catalog.update_item(self._mode(request), request.path_params["id"], body)
        self._changed()
        return stored_json(item)

    async def get_requests(self, request: Request) -> Response:
        """The API requests received, oldest first; ``?fields=method,status,time`` keeps only
        those fields (a benchmark reading a log of 500,000 writes needs no bodies)."""
        fields = multi(request.query_params, "fields")
        if fields is None:
            fields = list(FIELDS)
        unknown = [name for name in fields if name not in FIELDS]
        if unknown or not fields:
            raise invalid_parameter("fields", request.query_params.get("fields"))
        return JSONResponse({"data": self.sandbox.log.render(fields)})

    async def clear_requests(self, request: Request) -> Response:
        """Forget the request log."""
        del request
        self.sandbox.log.clear()
        return Response(status_code=204)

    async def get_faults(self, request: Request) -> Response:
        """The active fault spec."""
        del request
        return JSONResponse(self.sandbox.faults.spec.as_json())

    async def set_faults(self, request: Request) -> Response:
        """Replace the fault spec."""
        self.sandbox.faults.set(parse_spec(await json_body(request)))
        return JSONResponse(self.sandbox.faults.spec.as_json())

    async def clear_faults(self, request: Request) -> Response:
        """Inject nothing."""
        del request
        self.sandbox.faults.clear()
        return Response(status_code=204)

    async def reset(self, request: Request) -> Response:
        """Empty everything."""
        del request
        self.sandbox.reset()
        return Response(status_code=204)

    async def stats(self, request: Request) -> Response:
        """Object counts by mode and resource, and the request-log length."""
        del request
        counts = {
            ("live" if data.live else "test"): {
                name: len(collection) for name, collection in data.collections().items()
            }
            for data in self.sandbox.datasets()
        }
        return JSONResponse({**counts, "requests": len(self.sandbox.log)})
