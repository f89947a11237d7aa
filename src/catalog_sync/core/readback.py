"""Did a write land? Read-back after a crash or an unknown outcome, decided purely.

The API has no idempotency key (docs/digital-river-api.md §6), so a write whose answer was lost is
never resent blindly: the edge lists what DR holds (:func:`read_back_query`) and
:func:`reconcile_intent` says whether the intent landed or exactly what is still missing. The
evidence, strongest first: our intent key in the fulfillment's ``metadata``; the shipment id for a
capture; the fulfillment order's or cancellation's ``upstreamId``; and, for charge writes, the
per-line totals at DR against each claim's cumulative ``target``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from catalog_sync.core.orders import (
    INTENT_METADATA_KEY,
    Intent,
    IntentKind,
    LineClaim,
    read_count,
    read_id,
    read_list,
)

#: 409 codes that mean "what you ask is already the case", per intent kind: the one place this
#: rule lives. ``order_fulfilled`` is DR's documented answer once every line is fulfilled
#: (docs/digital-river-api.md §3.3, §13.2); ``order_cancelled`` is the sandbox's invented code for a
#: fully cancelled order, which settles a charge cancel but never a capture.
ALREADY_DONE: Final[frozenset[tuple[IntentKind, str]]] = frozenset(
    {
        ("capture", "order_fulfilled"),
        ("cancel_charge", "order_fulfilled"),
        ("cancel_charge", "order_cancelled"),
    }
)
_CONFLICT: Final = 409


@dataclass(frozen=True, slots=True)
class Landed:
    """The intent's effect is at DR; ``reference`` is the DR object proving it, when one does."""

    reference: str | None = None


@dataclass(frozen=True)
class NotLanded:
    """The intent's effect is (partly) missing; send ``resend`` and nothing else."""

    resend: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReadBackQuery:
    """The list request whose every page the edge passes to :func:`reconcile_intent`."""

    path: str
    params: tuple[tuple[str, str], ...]


def is_already_done(kind: IntentKind, status: int, code: str | None) -> bool:
    """Return whether an API refusal (status, error code) means the intent is already in effect."""
    return status == _CONFLICT and code is not None and (kind, code) in ALREADY_DONE


def read_back_query(intent: Intent) -> ReadBackQuery:
    """Return where DR keeps the evidence of ``intent``."""
    if intent.kind == "create_fulfillment_order":
        return ReadBackQuery("/fulfillment-orders", (("upstreamIds", intent.order_id),))
    if intent.kind == "fulfiller_cancel":
        upstream = str(intent.body["upstreamId"])
        return ReadBackQuery("/fulfillment-cancellations", (("upstreamIds", upstream),))
    return ReadBackQuery("/fulfillments", (("orderId", intent.order_id),))


def reconcile_intent(intent: Intent, found: Sequence[Mapping[str, Any]]) -> Landed | NotLanded:
    """Return whether ``intent`` landed, given every object :func:`read_back_query` listed.

    For charge writes ``found`` must be all of the order's fulfillments: the missing
    difference is computed from DR's per-line totals, so a partly applied write is completed,
    never repeated.
    """
    if intent.kind == "create_fulfillment_order":
        return _by_upstream_id(intent, found, intent.order_id)
    if intent.kind == "fulfiller_cancel":
        return _by_upstream_id(intent, found, str(intent.body["upstreamId"]))
    tagged = _fulfillment_with(found, INTENT_METADATA_KEY, intent.key, metadata=True)
    if tagged is not None:
        return Landed(tagged)
    shipment_id = intent.body.get("shipmentId")
    if intent.kind == "capture" and isinstance(shipment_id, str):
        shipped = _fulfillment_with(found, "shipmentId", shipment_id, metadata=False)
        return NotLanded(dict(intent.body)) if shipped is None else Landed(shipped)
    return _by_totals(intent, found)


def _by_upstream_id(
    intent: Intent, found: Sequence[Mapping[str, Any]], upstream_id: str
) -> Landed | NotLanded:
    for obj in found:
        if obj.get("upstreamId") == upstream_id:
            return Landed(read_id(obj, "id", "id"))
    return NotLanded(dict(intent.body))


def _fulfillment_with(
    found: Sequence[Mapping[str, Any]], key: str, value: str, *, metadata: bool
) -> str | None:
    for obj in found:
        holder = obj.get("metadata") if metadata else obj
        if isinstance(holder, Mapping) and holder.get(key) == value:
            return read_id(obj, "id", "id")
    return None


def dr_line_totals(found: Sequence[Mapping[str, Any]], field: str) -> dict[str, int]:
    """Return Σ ``field`` (``quantity`` or ``cancelQuantity``) per order line over fulfillments."""
    totals: dict[str, int] = {}
    for n, obj in enumerate(found):
        for m, item in enumerate(read_list(obj, "items", f"[{n}].items")):
            if item.get(field) is None:
                continue
            line_id = read_id(item, "itemId", f"[{n}].items[{m}].itemId")
            totals[line_id] = totals.get(line_id, 0) + read_count(
                item, field, f"[{n}].items[{m}].{field}"
            )
    return totals


def _by_totals(intent: Intent, found: Sequence[Mapping[str, Any]]) -> Landed | NotLanded:
    field = "quantity" if intent.kind == "capture" else "cancelQuantity"
    totals = dr_line_totals(found, field)
    missing = {c.line_id: _missing(c, totals.get(c.line_id, 0)) for c in intent.lines}
    if not any(missing.values()):
        return Landed()
    body = dict(intent.body)
    body["items"] = [
        {**item, field: missing[item["itemId"]]}
        for item in intent.body["items"]
        if missing.get(item["itemId"], 0) > 0
    ]
    return NotLanded(body)


def _missing(claim: LineClaim, dr_total: int) -> int:
    """Return the units of ``claim`` DR does not have, never more than the claim itself."""
    target = claim.quantity if claim.target is None else claim.target
    return max(0, min(claim.quantity, target - dr_total))
