"""Merchant-initiated fulfil / cancel requests: routing, acceptance, request statuses.

A request claims units at once (its intents are recorded with the request), so no second
request and no event can take the same units, and it goes where the API wants it
(docs/digital-river-api.md §11, §13, §14.4): a physical line the fulfiller holds is cancelled
through the fulfiller (the charge cancel then follows from ``fulfillment_order.cancelled``), a
digital line is fulfilled or cancelled directly with ``POST /fulfillments``, and a physical line
is never fulfilled by hand: DR captures it when it ships. Partial quantities are allowed: a
request may take some of a line's open units.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, Protocol

from catalog_sync.core.fulfillment import cancellation_upstream_id, event_object
from catalog_sync.core.orders import (
    INTENT_LANDED,
    INTENT_METADATA_KEY,
    INTENT_STATUSES,
    FulfillmentError,
    Intent,
    IntentKind,
    IntentStatus,
    LineClaim,
    Order,
    OrderLine,
    Origin,
    is_fully_settled,
    next_target,
    open_quantity,
)

Action = Literal["fulfill", "cancel"]
Route = Literal["fulfiller_cancel", "charge_cancel", "digital_fulfill"]
RequestStatus = Literal["Open", "Reprocess", "Completed", "Failed"]
#: Every request status, in the order ``status``, ``orders show`` and the orders page list them.
REQUEST_STATUSES: Final[tuple[RequestStatus, ...]] = ("Open", "Reprocess", "Completed", "Failed")
#: A request's status is its least advanced line's: the first of these any line has.
_LEAST_ADVANCED_FIRST: Final[tuple[RequestStatus, ...]] = (
    "Failed",
    "Reprocess",
    "Open",
    "Completed",
)
#: What happened to a transmission (or, for ``retry_requested``, what the merchant asked).
Outcome = Literal["succeeded", "retryable_failure", "permanent_failure", "retry_requested"]
Trigger = Outcome | Literal["retries_exhausted"]

#: The request-status machine as one table: anything absent is refused.
REQUEST_TRANSITIONS: Final[Mapping[tuple[RequestStatus, Trigger], RequestStatus]] = {
    ("Open", "succeeded"): "Completed",
    ("Open", "retryable_failure"): "Reprocess",
    ("Open", "retries_exhausted"): "Failed",
    ("Open", "permanent_failure"): "Failed",
    ("Reprocess", "succeeded"): "Completed",
    ("Reprocess", "retryable_failure"): "Reprocess",
    ("Reprocess", "retries_exhausted"): "Failed",
    ("Reprocess", "permanent_failure"): "Failed",
    ("Failed", "retry_requested"): "Reprocess",
}

#: The statuses of a line's intent that keep its request open: THE definition of an open
#: request is "one of its lines is carried by an intent with one of these statuses" (still to
#: send, being retried, parked, or refused and awaiting the merchant's retry). A line is
#: Completed exactly when its intent landed, so an open request is one not Completed.
OPEN_REQUEST_INTENT_STATUSES: Final[tuple[IntentStatus, ...]] = tuple(
    s for s in INTENT_STATUSES if s != INTENT_LANDED
)

_ROUTE_KIND: Final[Mapping[Route, IntentKind]] = {
    "digital_fulfill": "capture",
    "charge_cancel": "cancel_charge",
    "fulfiller_cancel": "fulfiller_cancel",
}
#: The route each kind of request intent was sent by (the inverse of the choice above).
ROUTE_OF_KIND: Final[Mapping[IntentKind, Route]] = {k: r for r, k in _ROUTE_KIND.items()}
#: DR refuses writes on these orders (docs/digital-river-api.md §13.2, 409 ``order_fulfilled``).
_FINISHED_STATES: Final = frozenset({"fulfilled", "complete", "cancelled"})


class RequestRefusedError(FulfillmentError):
    """The request cannot be accepted; nothing was recorded. The message says why."""


class InvalidTransitionError(FulfillmentError):
    """A request status move that :data:`REQUEST_TRANSITIONS` does not allow."""


@dataclass(frozen=True, slots=True)
class MerchantRequest:
    """One request from the CLI or a request file; ``line_id`` None means the whole order."""

    request_id: str
    order_id: str
    action: Action
    line_id: str | None = None
    quantity: int | None = None
    reason: str | None = None
    tracking_number: str | None = None
    tracking_company: str | None = None
    tracking_url: str | None = None


class RequestFields(Protocol):
    """What a request file's row and a request log row both say of a request, besides its id
    and its line (named differently in each)."""

    @property
    def order_id(self) -> str: ...
    @property
    def action(self) -> Action: ...
    @property
    def quantity(self) -> int | None: ...
    @property
    def reason(self) -> str | None: ...
    @property
    def tracking_number(self) -> str | None: ...
    @property
    def tracking_company(self) -> str | None: ...
    @property
    def tracking_url(self) -> str | None: ...


def request_of(fields: RequestFields, request_id: str, line_id: str | None) -> MerchantRequest:
    """The merchant request ``fields`` describe, under ``request_id``, on ``line_id``."""
    return MerchantRequest(
        request_id=request_id,
        order_id=fields.order_id,
        action=fields.action,
        line_id=line_id,
        quantity=fields.quantity,
        reason=fields.reason,
        tracking_number=fields.tracking_number,
        tracking_company=fields.tracking_company,
        tracking_url=fields.tracking_url,
    )


@dataclass(frozen=True, slots=True)
class RequestState:
    """Status of one transmitted request, with its attempts and the API's last message."""

    status: RequestStatus = "Open"
    attempts: int = 0
    message: str | None = None


class RequestLineFacts(Protocol):
    """What the request log knows of one line of a request: the merchant's retries of it."""

    @property
    def retries(self) -> int:
        """How many times the merchant retried the line."""
        ...

    @property
    def retried_message(self) -> str | None:
        """The API's message of the failure the merchant's last retry cleared."""
        ...


class WriteFacts(Protocol):
    """What the ledger knows of the write now carrying a line."""

    @property
    def intent(self) -> Intent:
        """The write itself."""
        ...

    @property
    def attempts(self) -> int:
        """Failed attempts counted so far."""
        ...

    @property
    def parked(self) -> bool:
        """Pending, its retries exhausted, until someone retries it."""
        ...

    @property
    def last_error(self) -> str | None:
        """Why the last attempt failed."""
        ...

    @property
    def reference(self) -> str | None:
        """The Digital River object that proves the write landed."""
        ...


def route(order: Order, line: OrderLine, action: Action, intents: Sequence[Intent]) -> Route:
    """Return where a request on ``line`` must go, or raise :class:`RequestRefusedError`."""
    if not line.physical:
        return "digital_fulfill" if action == "fulfill" else "charge_cancel"
    if action == "fulfill":
        raise RequestRefusedError(
            f"line {line.line_id} is physical: it is captured when Digital River ships it"
        )
    if line.fo_item_id is not None and order.fulfillment_order_id is not None:
        return "fulfiller_cancel"
    if _sent_to_fulfiller(line, intents):
        raise RequestRefusedError(
            f"line {line.line_id} is with the fulfiller, which has not acknowledged it yet "
            "(no fulfillment_order.pending seen); try again shortly"
        )
    return "charge_cancel"


def accept_request(
    order: Order, intents: Sequence[Intent], request: MerchantRequest
) -> tuple[Intent, ...]:
    """Return the intents to record for ``request``: all of it, or a refusal and nothing.

    Order level takes every line's open quantity (a fulfil takes the digital lines; physical
    ones are captured when they ship); line level takes ``quantity`` or, when None, all open.
    """
    if order.order_id != request.order_id:
        raise RequestRefusedError(f"request is for order {request.order_id}, not {order.order_id}")
    if order.state in _FINISHED_STATES:
        raise RequestRefusedError(f"order {order.order_id} is already {order.state}")
    origin = Origin.request(request.request_id)
    if any(i.origin == origin for i in intents):
        raise RequestRefusedError(f"request {request.request_id} was already accepted")
    wanted = _wanted(order, intents, request)
    grouped: dict[Route, list[tuple[OrderLine, int]]] = {}
    for line, quantity in wanted:
        grouped.setdefault(route(order, line, request.action, intents), []).append((line, quantity))
    return tuple(_intent(order, intents, request, where, lines) for where, lines in grouped.items())


def is_open_request(line_intent_statuses: Iterable[IntentStatus]) -> bool:
    """Return whether a request is open, given the statuses of its lines' intents."""
    return any(s in OPEN_REQUEST_INTENT_STATUSES for s in line_intent_statuses)


def order_request_status(order: Order) -> Literal["Completed", "Open"]:
    """Return the order's request status: Completed only once every line is fully settled."""
    return "Completed" if is_fully_settled(order) else "Open"


def line_state(line: RequestLineFacts, write: WriteFacts | None) -> RequestState:
    """Return a request line's status: THE one place it is computed.

    Statuses are never stored: this replays what the ledger knows through the transition
    table, so the request log cannot disagree with what was actually sent. First the
    merchant's retries (each one a Failed → Reprocess), then the counted retryable failures of
    the current write (the last one "exhausts" the retries exactly when the handler parked the
    write), then its end.
    """
    state = RequestState()
    if line.retries:
        failed = RequestState("Failed", 0, line.retried_message)
        state = request_state_after(failed, "retry_requested", limit=1)
    if write is None:
        return state
    limit = write.attempts if write.parked else write.attempts + 1
    for _ in range(write.attempts):
        state = request_state_after(
            state, "retryable_failure", limit=limit, message=write.last_error
        )
    if write.intent.status == INTENT_LANDED:
        landed = f"landed as {write.reference}" if write.reference else "landed"
        return request_state_after(state, "succeeded", limit=limit, message=landed)
    if write.intent.status == "failed":
        return request_state_after(
            state, "permanent_failure", limit=limit, message=write.last_error
        )
    return state


def request_status(states: Iterable[RequestState]) -> RequestStatus:
    """Return a request's status: that of its least advanced line."""
    found = {s.status for s in states}
    return next((s for s in _LEAST_ADVANCED_FIRST if s in found), "Completed")


def awaited_answer(intent: Intent) -> str | None:
    """Return the ``upstreamId`` of the cancellation whose answer a line's status shows.

    Only a fulfiller cancellation that landed waits for the fulfiller's answer (an event
    naming that ``upstreamId``); None for every other write.
    """
    if intent.kind != "fulfiller_cancel" or intent.status != INTENT_LANDED:
        return None
    return str(intent.body.get("upstreamId"))


def fulfiller_answer(answer: Mapping[str, Any] | None, line_id: str, asked: int) -> str:
    """Say what the fulfiller answered for one line of a cancellation, from the payload of the
    event answering it (None while no answer came)."""
    cancellation = None if answer is None else _answer_object(answer)
    if cancellation is None:
        return "awaiting the fulfiller"
    items = cancellation.get("items")
    accepted = sum(
        int(item.get("quantityAccepted") or 0)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict) and str(item.get("fulfillmentOrderItemUpstreamId")) == line_id
    )
    if cancellation.get("state") == "rejected" or accepted == 0:
        return f"rejected by the fulfiller: {asked} unit(s) open again"
    if accepted < asked:
        return f"partly accepted: {accepted} of {asked}; {asked - accepted} unit(s) open again"
    return "accepted by the fulfiller"


def _answer_object(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The cancellation object of an answering event (None when it has none)."""
    try:
        return event_object(payload)
    except FulfillmentError:
        return None


def request_state_after(
    state: RequestState, outcome: Outcome, *, limit: int, message: str | None = None
) -> RequestState:
    """Return the state after ``outcome``; a retryable failure at the ``limit`` becomes Failed.

    Attempts count failed transmissions; a merchant's retry starts the count again.
    """
    failed = outcome in {"retryable_failure", "permanent_failure"}
    attempts = 0 if outcome == "retry_requested" else state.attempts + int(failed)
    trigger: Trigger = outcome
    if outcome == "retryable_failure" and attempts >= limit:
        trigger = "retries_exhausted"
    status = REQUEST_TRANSITIONS.get((state.status, trigger))
    if status is None:
        raise InvalidTransitionError(f"a {state.status} request cannot take {trigger}")
    return RequestState(status, attempts, message if message is not None else state.message)


def _wanted(
    order: Order, intents: Sequence[Intent], request: MerchantRequest
) -> list[tuple[OrderLine, int]]:
    """Return (line, units) the request asks for, after checking them against what is open."""
    if request.line_id is None:
        if request.quantity is not None:
            raise RequestRefusedError("a quantity needs a line: pass the order line id too")
        lines = [
            line
            for line in order.lines
            if open_quantity(line, intents) > 0
            and not (request.action == "fulfill" and line.physical)
        ]
        if not lines:
            raise RequestRefusedError(
                f"order {order.order_id} has nothing open to {request.action}"
            )
        return [(line, open_quantity(line, intents)) for line in lines]
    line = order.line(request.line_id)
    if line is None:
        raise RequestRefusedError(f"order {order.order_id} has no line {request.line_id}")
    available = open_quantity(line, intents)
    quantity = available if request.quantity is None else request.quantity
    if quantity <= 0 or quantity > available:
        raise RequestRefusedError(
            f"line {line.line_id}: asked to {request.action} {quantity} unit(s), "
            f"{available} open of {line.quantity}"
        )
    return [(line, quantity)]


def _intent(
    order: Order,
    intents: Sequence[Intent],
    request: MerchantRequest,
    where: Route,
    lines: Sequence[tuple[OrderLine, int]],
) -> Intent:
    kind = _ROUTE_KIND[where]
    key = f"request:{request.request_id}:{kind}"
    if where == "fulfiller_cancel":
        claims = tuple(LineClaim(line.line_id, quantity) for line, quantity in lines)
        body = _cancellation_body(order, request, lines)
    else:
        claims = tuple(
            LineClaim(line.line_id, quantity, next_target(line, intents, kind, quantity))
            for line, quantity in lines
        )
        body = _fulfillment_body(order, request, key, where, lines)
    return Intent(key, kind, order.order_id, body, claims, Origin.request(request.request_id))


def _fulfillment_body(
    order: Order,
    request: MerchantRequest,
    key: str,
    where: Route,
    lines: Sequence[tuple[OrderLine, int]],
) -> dict[str, Any]:
    """Return ``POST /fulfillments`` for a digital fulfil or a direct charge cancel.

    The request body is docs/digital-river-api.md §13.2.
    """
    field = "quantity" if where == "digital_fulfill" else "cancelQuantity"
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "items": [{"itemId": line.line_id, field: quantity} for line, quantity in lines],
    }
    if where == "digital_fulfill":
        tracking = {
            "trackingCompany": request.tracking_company,
            "trackingNumber": request.tracking_number,
            "trackingUrl": request.tracking_url,
        }
        body.update({name: value for name, value in tracking.items() if value})
    body["metadata"] = {INTENT_METADATA_KEY: key}
    return body


def _cancellation_body(
    order: Order, request: MerchantRequest, lines: Sequence[tuple[OrderLine, int]]
) -> dict[str, Any]:
    """Return ``POST /fulfillment-cancellations`` (docs/digital-river-api.md §11)."""
    body: dict[str, Any] = {
        "fulfillmentOrderId": order.fulfillment_order_id,
        "upstreamId": cancellation_upstream_id(order.order_id, request.request_id),
        "items": [
            {
                "fulfillmentOrderItemId": line.fo_item_id,
                "fulfillmentOrderItemUpstreamId": line.line_id,
                "quantity": quantity,
            }
            for line, quantity in lines
        ],
    }
    if request.reason:
        body["reason"] = request.reason
    return body


def _sent_to_fulfiller(line: OrderLine, intents: Sequence[Intent]) -> bool:
    """Return whether a live fulfillment-order intent carries ``line``."""
    return any(
        intent.kind == "create_fulfillment_order"
        and intent.status != "failed"
        and any(item.get("upstreamId") == line.line_id for item in intent.body.get("items", ()))
        for intent in intents
    )
