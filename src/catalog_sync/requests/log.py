"""The merchant request log: recording requests, retrying them, and their statuses.

Recording a request and claiming its units are one atomic step of the state
(``claim_units``): the request row, its lines and the intents
``core.merchant_requests.accept_request`` returns are decided on the ledger they are written
against and commit together, so the line's open quantity drops the moment the request exists
and a refused request leaves no trace. The
intents are then sent by the fulfillment handler like any other (``sent_at`` before sending,
read-back on an unknown outcome), so a request is never applied twice in effect.

Statuses are never stored: ``core.merchant_requests.line_state`` derives each line's from the
intent it points to, and this module only reads the facts it needs and shows the result.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from catalog_sync.core.merchant_requests import (
    REQUEST_STATUSES,
    ROUTE_OF_KIND,
    MerchantRequest,
    RequestRefusedError,
    RequestState,
    accept_request,
    awaited_answer,
    fulfiller_answer,
    is_open_request,
    line_state,
    order_request_status,
    request_status,
)
from catalog_sync.core.orders import (
    Intent,
    IntentStatus,
    Order,
    Origin,
)
from catalog_sync.state import (
    InboxState,
    LedgerReader,
    LedgerState,
    LineRetry,
    RecordedRequest,
    RequestClaims,
    RequestLineRecord,
    RequestLogState,
    RequestRecord,
)


@dataclass(frozen=True, slots=True)
class Source:
    """Where a request came from: ``cli``, or a request file's name and line."""

    name: str = "cli"
    line: int | None = None

    def __str__(self) -> str:
        return self.name if self.line is None else f"{self.name}:{self.line}"


def new_request_id() -> str:
    """Return a fresh request id (DR's id charset; it ends up in cancellation upstream ids)."""
    return f"req-{secrets.token_hex(8)}"


def submit_request(
    store: RequestLogState, request: MerchantRequest, source: Source, now: str
) -> RecordedRequest:
    """Record ``request`` and claim its units in one atomic step, or raise and record nothing."""

    def decide(reader: LedgerReader) -> tuple[RequestClaims, RecordedRequest]:
        recorded = claim_request(reader, request, source, now, {})
        return RequestClaims(requests=(recorded,), history=(history_line(recorded),)), recorded

    return store.claim_units(decide, now)


def claim_request(
    reader: LedgerReader,
    request: MerchantRequest,
    source: Source,
    now: str,
    claimed: dict[str, list[Intent]],
) -> RecordedRequest:
    """Decide ``request`` on ``reader``'s ledger (inside a claim); raises
    :class:`RequestRefusedError`.

    ``claimed`` holds, per order, the intents of requests decided before it in the same claim
    (rows of one request file): they are not stored yet, but their units are taken. The new
    intents are added to it. A request id is recorded once, whatever its order: a merchant's
    ``requestId`` sent again (in a later file or a later row of the same one) is the same
    request, refused as a duplicate.
    """
    earlier = reader.request(request.request_id)
    if earlier is not None:
        where = Source(earlier.source, earlier.source_line)
        raise RequestRefusedError(
            f"request {request.request_id} was already accepted"
            f" (from {where} at {earlier.created_at})"
        )
    origin = Origin.request(request.request_id)
    if any(i.origin == origin for pending in claimed.values() for i in pending):
        raise RequestRefusedError(
            f"request {request.request_id} was already accepted"
            f" (from an earlier row of {source.name})"
        )
    order = _known_order(reader, request.order_id)
    ledger = [e.intent for e in reader.ledger(order.order_id)]
    pending = claimed.setdefault(order.order_id, [])
    intents = accept_request(order, [*ledger, *pending], request)
    pending.extend(intents)
    record = RequestRecord.of(request, source=source.name, source_line=source.line, created_at=now)
    lines = tuple(
        RequestLineRecord(
            request.request_id, claim.line_id, claim.quantity, ROUTE_OF_KIND[i.kind], i.key
        )
        for i in intents
        for claim in i.lines
    )
    return RecordedRequest(record, lines, intents)


def history_line(recorded: RecordedRequest) -> tuple[str, str]:
    """Return the ``(order_id, summary)`` history line of a recorded request."""
    request = recorded.request
    source = Source(request.source, request.source_line)
    asked = ", ".join(f"{x.quantity} of line {x.line_id} ({x.route})" for x in recorded.lines)
    summary = f"merchant request {request.request_id} from {source}: {request.action} {asked}"
    return request.order_id, summary


def retry_order(store: RequestLogState, order_id: str, now: str) -> list[str]:
    """Move the order's Failed request lines back to Reprocess; returns what was retried.

    A line whose retries ran out is simply made due again. A line DR refused released its
    units, so they are claimed again through ``accept_request`` (the open quantity is checked
    anew) under a new intent recorded after every pending one, which keeps read-back's
    cumulative targets exact. Refused (nothing recorded) when nothing is Failed or the units
    were taken meanwhile. One atomic claim, like a new request.
    """

    def decide(reader: LedgerReader) -> tuple[RequestClaims, list[str]]:
        order = _known_order(reader, order_id)
        ledger = {e.intent.key: e for e in reader.ledger(order_id)}
        intents = [e.intent for e in ledger.values()]
        requests = {r.request_id: r for r in reader.requests_of(order_id)}
        retried: list[str] = []
        again_all: list[Intent] = []
        unpark: list[Origin] = []
        retries: list[LineRetry] = []
        for line in reader.request_lines_of(order_id):
            entry = ledger.get(line.intent_key)
            state = line_state(line, entry)
            if state.status != "Failed" or entry is None:
                continue
            key = entry.intent.key
            if entry.intent.status == "pending":
                unpark.append(entry.intent.origin)
            else:
                again = _reclaim(order, intents, requests[line.request_id], line)
                again_all.extend(again)
                intents.extend(again)
                key = again[0].key
            retries.append(LineRetry(line.request_id, line.line_id, key, state.message))
            retried.append(f"request {line.request_id} line {line.line_id}")
        if not retried:
            raise RequestRefusedError(f"order {order_id} has no Failed request to retry")
        claims = RequestClaims(
            intents=tuple(again_all),
            line_retries=tuple(retries),
            unpark_origins=tuple(unpark),
            history=((order_id, f"merchant retry of {', '.join(retried)}"),),
        )
        return claims, retried

    return store.claim_units(decide, now)


def _reclaim(
    order: Order, intents: Sequence[Intent], request: RequestRecord, line: RequestLineRecord
) -> tuple[Intent, ...]:
    again = replace(
        request.request(),
        request_id=f"{request.request_id}.{line.line_id}.r{line.retries + 1}",
        line_id=line.line_id,
        quantity=line.quantity,
    )
    return accept_request(order, intents, again)


def _known_order(reader: LedgerReader, order_id: str) -> Order:
    order = reader.order(order_id)
    if order is None:
        raise RequestRefusedError(
            f"order {order_id} is not known here (its order.accepted event was not handled yet)"
        )
    return order


# -- statuses -------------------------------------------------------------------------------
def fulfiller_note(store: InboxState, intent: Intent, line_id: str, asked: int) -> str | None:
    """Return what the fulfiller answered to a cancellation line, from its inbox event."""
    upstream_id = awaited_answer(intent)
    if upstream_id is None:
        return None
    event = store.answer_to(upstream_id)
    return fulfiller_answer(None if event is None else event.payload, line_id, asked)


class _RequestsView(LedgerState, InboxState, RequestLogState, Protocol):
    """What the request log's views read."""


def order_requests(store: _RequestsView, order: Order) -> dict[str, Any]:
    """Return an order's request status and request log as JSON-ready data.

    ``orders show`` and the HTML report both print this, so they always agree.
    """
    ledger = store.ledger(order.order_id)
    by_key = {e.intent.key: e for e in ledger}
    lines_of: dict[str, list[RequestLineRecord]] = {}
    for line in store.request_lines_of(order.order_id):
        lines_of.setdefault(line.request_id, []).append(line)
    log = []
    for request in store.requests_of(order.order_id):
        shown = []
        states = []
        for line in lines_of.get(request.request_id, []):
            entry = by_key.get(line.intent_key)
            state = line_state(line, entry)
            states.append(state)
            shown.append(
                {
                    "line_id": line.line_id,
                    "quantity": line.quantity,
                    "route": line.route,
                    "status": state.status,
                    "attempts": state.attempts,
                    "retries": line.retries,
                    "message": state.message,
                    "fulfiller": None
                    if entry is None
                    else fulfiller_note(store, entry.intent, line.line_id, line.quantity),
                    "intent": line.intent_key,
                }
            )
        log.append(
            {
                "request_id": request.request_id,
                "time": request.created_at,
                "source": str(Source(request.source, request.source_line)),
                "action": request.action,
                "line_id": request.line_id,
                "quantity": request.quantity,
                "reason": request.reason,
                "tracking_number": request.tracking_number,
                "tracking_company": request.tracking_company,
                "tracking_url": request.tracking_url,
                "status": request_status(states),
                "lines": shown,
            }
        )
    return {"request_status": order_request_status(order), "requests": log}


def render_requests(section: Mapping[str, Any]) -> list[str]:
    """Return the human lines of :func:`order_requests` for ``orders show``."""
    out = [f"requests: order status {section['request_status']}"]
    for r in section["requests"]:
        what = f"line {r['line_id']}" if r["line_id"] else "whole order"
        qty = "all open" if r["quantity"] is None else str(r["quantity"])
        out.append(
            f"  {r['time']}  {r['request_id']}  {r['action']} {what} ({qty})"
            f"  from {r['source']}  {r['status']}"
        )
        for x in r["lines"]:
            note = "; ".join(n for n in (x["message"], x["fulfiller"]) if n)
            out.append(
                f"    line {x['line_id']} x{x['quantity']} {x['route']:<16} {x['status']:<9}"
                f" attempts={x['attempts']}" + (f"  {note}" if note else "")
            )
    return out


def requests_status(store: _RequestsView) -> dict[str, Any]:
    """Return the ``fulfillment_requests`` section of ``catalog-sync status``.

    ``open`` counts open requests (``core.merchant_requests.is_open_request``, the rule the
    transmitter's gauge counts by too); ``by_status`` counts requests per status.
    """
    counts = dict.fromkeys(REQUEST_STATUSES, 0)
    open_requests = 0
    lines_by_order: dict[str, list[RequestLineRecord]] = {}
    for line, order_id in store.all_request_lines():
        lines_by_order.setdefault(order_id, []).append(line)
    ledgers = store.ledgers(lines_by_order)
    for order_id, lines in lines_by_order.items():
        by_key = {e.intent.key: e for e in ledgers.get(order_id, [])}
        per_request: dict[str, list[RequestState]] = {}
        statuses: dict[str, list[IntentStatus]] = {}
        for line in lines:
            entry = by_key.get(line.intent_key)
            per_request.setdefault(line.request_id, []).append(line_state(line, entry))
            statuses.setdefault(line.request_id, []).extend(
                () if entry is None else (entry.intent.status,)
            )
        for request_id, states in per_request.items():
            counts[request_status(states)] += 1
            open_requests += is_open_request(statuses[request_id])
    return {"open": open_requests, "by_status": counts}
