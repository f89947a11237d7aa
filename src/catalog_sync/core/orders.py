"""Orders, their lines and the intent ledger: the counters Digital River does not keep.

DR order lines carry no open / fulfilled / cancelled quantities (docs/digital-river-api.md §9.2), so
every unit of a line is accounted for here. A write to DR is first recorded as an :class:`Intent`
whose :class:`LineClaim` rows reserve units of a line; a line's open quantity is what no live claim
holds. All per-line work is keyed by the order line ``id``: several lines may share one SKU.

Everything is plain data: entities are frozen dataclasses, DR objects are JSON dicts, and
:func:`to_json` / :func:`order_from_json` / :func:`intent_from_json` let the edge store entities.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import BeforeValidator, PlainSerializer, TypeAdapter

IntentKind = Literal["create_fulfillment_order", "capture", "cancel_charge", "fulfiller_cancel"]
IntentStatus = Literal["pending", "done", "failed"]
#: What an intent can be decided on (see :class:`Origin`).
OriginKind = Literal["event", "request"]
#: The fulfiller's view of a line, from fulfillment-order events (docs/digital-river-api.md §10.3).
FoState = Literal["pending", "backordered", "shipped", "cancelled"]

#: Kinds whose claims become DR's captured or cancelled totals once they land.
CHARGE_KINDS: Final[frozenset[IntentKind]] = frozenset({"capture", "cancel_charge"})
#: Every origin kind, in the order :class:`Origin` recognises them.
ORIGIN_KINDS: Final[tuple[OriginKind, ...]] = ("event", "request")
#: Every intent status: recorded and still to be sent (or read back), landed at DR, refused.
INTENT_STATUSES: Final[tuple[IntentStatus, ...]] = ("pending", "done", "failed")
#: The statuses of an intent still to be sent: the ledger's open work (due, in flight or
#: parked for an operator).
INTENT_OPEN: Final[tuple[IntentStatus, ...]] = ("pending",)
#: The status of an intent that landed at DR.
INTENT_LANDED: Final[IntentStatus] = "done"
#: The intent machine as one table: each pair is the only kind of move an intent makes.
INTENT_TRANSITIONS: Final[frozenset[tuple[IntentStatus, IntentStatus]]] = frozenset(
    {("pending", "done"), ("pending", "failed")}
)
#: Statuses whose claims still hold units: a failed intent releases its claim.
LIVE_STATUSES: Final[frozenset[IntentStatus]] = frozenset({"pending", "done"})
#: The metadata key carried by every ``POST /fulfillments`` we send, so read-back can find it.
INTENT_METADATA_KEY: Final = "catalogSyncIntent"


class FulfillmentError(Exception):
    """A fulfillment rule refused something; the message says what and why."""


class MalformedEventError(FulfillmentError):
    """A DR payload lacks a field or has the wrong type; the edge keeps it as a dead letter."""

    def __init__(self, field_path: str, problem: str) -> None:
        super().__init__(f"{field_path}: {problem}")
        self.field_path = field_path


class UnknownProductKindError(FulfillmentError):
    """An order line's SKU is neither known physical nor known digital, so it cannot be routed."""


class OverQuantityError(FulfillmentError):
    """More units were asked of a line than it has left: a real error, never silently trimmed."""


class LedgerError(FulfillmentError):
    """An intent was settled or failed out of order (e.g. settled twice)."""


@dataclass(frozen=True, slots=True)
class OrderLine:
    """One DR order line with the counters DR does not keep."""

    line_id: str
    sku_id: str
    quantity: int
    physical: bool
    fo_item_id: str | None = None
    fo_state: FoState | None = None
    #: Cumulative ``cancelled`` last seen on a fulfillment_order event (the trap of
    #: docs/digital-river-api.md §14.4).
    fulfiller_cancelled: int = 0
    #: Last ``totalBackordered`` seen: DR's duplicate checksum for backorder events
    #: (docs/digital-river-api.md §6).
    backordered_total: int = 0
    #: Units DR confirmed captured / charge-cancelled (moved only by :func:`settle`).
    fulfilled: int = 0
    cancelled: int = 0


@dataclass(frozen=True, slots=True)
class Order:
    """Our record of a DR order; ``state`` moves by ``fulfillment.ORDER_TRANSITIONS``."""

    order_id: str
    state: str
    currency: str
    lines: tuple[OrderLine, ...]
    fulfillment_order_id: str | None = None
    #: Ids of failed DR captures seen, so a replayed failure event is not counted twice.
    capture_failures: tuple[str, ...] = ()

    def line(self, line_id: str) -> OrderLine | None:
        """Return the line with this id, or None."""
        return next((line for line in self.lines if line.line_id == line_id), None)

    def with_line(self, new: OrderLine) -> Order:
        """Return a copy with the line of the same id replaced."""
        lines = tuple(new if line.line_id == new.line_id else line for line in self.lines)
        return replace(self, lines=lines)


@dataclass(frozen=True, slots=True)
class LineClaim:
    """Units of one line an intent holds.

    ``target`` is the line's cumulative captured (capture) or charge-cancelled (cancel_charge)
    total at DR once this intent has landed, which is what read-back compares with; it is None
    for fulfiller cancellations, whose effect reaches the charge through a later event.
    """

    line_id: str
    quantity: int
    target: int | None = None


@dataclass(frozen=True, slots=True)
class Origin:
    """What an intent was decided on: a Digital River event or a merchant request, by id.

    A typed value wherever the code holds it; :meth:`encode` and :meth:`decode` are the one
    text form (``event:<id>``, ``request:<id>``), used only where an intent is stored as JSON,
    and the state matches origins on their own columns, never on that text.
    """

    kind: OriginKind
    id: str

    @classmethod
    def event(cls, event_id: str) -> Origin:
        """The origin of the intents decided on the event ``event_id``."""
        return cls("event", event_id)

    @classmethod
    def request(cls, request_id: str) -> Origin:
        """The origin of the intents a merchant request ``request_id`` records."""
        return cls("request", request_id)

    @property
    def event_id(self) -> str | None:
        """The event the intents were decided on, or None for a merchant request."""
        return self.id if self.kind == "event" else None

    def encode(self) -> str:
        """The origin as text: ``<kind>:<id>``."""
        return f"{self.kind}:{self.id}"

    @classmethod
    def decode(cls, text: str) -> Origin:
        """The origin :meth:`encode` wrote; ``ValueError`` for any other text."""
        kind, separator, origin_id = text.partition(":")
        for known in ORIGIN_KINDS:
            if kind == known and separator and origin_id:
                return cls(known, origin_id)
        raise ValueError(f"not an intent origin: {text!r}")


def _stored_origin(value: object) -> object:
    """An origin as stored (its text), read back as an :class:`Origin`; others as they are."""
    return Origin.decode(value) if isinstance(value, str) else value


#: How an intent holds its origin: an :class:`Origin`, stored as its text.
StoredOrigin = Annotated[
    Origin, BeforeValidator(_stored_origin), PlainSerializer(Origin.encode, return_type=str)
]


@dataclass(frozen=True)
class Intent:
    """One ledger row: a write to DR, recorded before it is sent."""

    key: str
    kind: IntentKind
    order_id: str
    body: dict[str, Any] = field(hash=False)
    lines: tuple[LineClaim, ...]
    origin: StoredOrigin
    status: IntentStatus = "pending"
    #: For a fulfiller cancellation: the fulfiller's final answer once applied, so a replayed
    #: cancellation event does not release units twice.
    resolution: str | None = None

    def claim(self, line_id: str) -> int:
        """Return the units this intent holds on a line (0 when failed)."""
        if self.status not in LIVE_STATUSES:
            return 0
        return sum(c.quantity for c in self.lines if c.line_id == line_id)


@dataclass(frozen=True, slots=True)
class LineQuantities:
    """What ``orders show`` prints for a line."""

    quantity: int
    open: int
    fulfilled: int
    cancelled: int
    capturing: int
    cancelling: int


def claimed(line_id: str, intents: Iterable[Intent], kinds: Iterable[IntentKind] = ()) -> int:
    """Return units of a line held by live intents (of the given kinds, or of any kind)."""
    wanted = frozenset(kinds)
    return sum(i.claim(line_id) for i in intents if not wanted or i.kind in wanted)


def pending_claimed(line_id: str, intents: Iterable[Intent], kind: IntentKind) -> int:
    """Return units of a line held by intents of ``kind`` not yet confirmed by DR."""
    return sum(i.claim(line_id) for i in intents if i.kind == kind and i.status == "pending")


def open_quantity(line: OrderLine, intents: Iterable[Intent]) -> int:
    """Return the units no live intent holds: what a new request may still claim."""
    return line.quantity - claimed(line.line_id, intents)


def line_quantities(line: OrderLine, intents: Sequence[Intent]) -> LineQuantities:
    """Return the derived quantities of a line."""
    capturing = pending_claimed(line.line_id, intents, "capture")
    at_fulfiller = claimed(line.line_id, intents, ("fulfiller_cancel",))
    cancelling = pending_claimed(line.line_id, intents, "cancel_charge") + at_fulfiller
    return LineQuantities(
        quantity=line.quantity,
        open=open_quantity(line, intents),
        fulfilled=line.fulfilled,
        cancelled=line.cancelled,
        capturing=capturing,
        cancelling=cancelling,
    )


def next_target(line: OrderLine, intents: Iterable[Intent], kind: IntentKind, quantity: int) -> int:
    """Return the DR total a new ``kind`` intent of ``quantity`` units will bring the line to."""
    confirmed = line.fulfilled if kind == "capture" else line.cancelled
    return confirmed + pending_claimed(line.line_id, intents, kind) + quantity


def is_fully_settled(order: Order) -> bool:
    """Return whether every line is wholly fulfilled or cancelled at DR."""
    return all(line.fulfilled + line.cancelled >= line.quantity for line in order.lines)


def settle(order: Order, intent: Intent, reference: str | None = None) -> tuple[Order, Intent]:
    """Return the order and intent after DR confirmed the intent (201 or read-back).

    Counters move here and nowhere else, by the claim quantities, exactly once: settling an
    intent that is not pending is a :class:`LedgerError`. ``reference`` is the created
    fulfillment order's id for a ``create_fulfillment_order`` intent.
    """
    if (intent.status, INTENT_LANDED) not in INTENT_TRANSITIONS:
        raise LedgerError(f"intent {intent.key} is {intent.status}, not pending")
    if intent.kind == "create_fulfillment_order" and reference and not order.fulfillment_order_id:
        order = replace(order, fulfillment_order_id=reference)
    if intent.kind in CHARGE_KINDS:
        for claim in intent.lines:
            line = order.line(claim.line_id)
            if line is None:
                raise LedgerError(f"intent {intent.key} claims unknown line {claim.line_id}")
            if intent.kind == "capture":
                line = replace(line, fulfilled=line.fulfilled + claim.quantity)
            else:
                line = replace(line, cancelled=line.cancelled + claim.quantity)
            order = order.with_line(line)
    return order, replace(intent, status=INTENT_LANDED)


def fail_intent(intent: Intent, intents: Sequence[Intent]) -> tuple[Intent, ...]:
    """Return the failed intent and the later pending intents whose targets it lowers.

    A failed intent releases its units; intents recorded after it on the same lines and kind
    counted those units in their targets, so the targets drop by the same amount, keeping
    read-back exact.
    """
    if (intent.status, "failed") not in INTENT_TRANSITIONS:
        raise LedgerError(f"intent {intent.key} is {intent.status}, not pending")
    released = {c.line_id: c.quantity for c in intent.lines if c.target is not None}
    updated: list[Intent] = [replace(intent, status="failed")]
    for other in intents:
        if other.key == intent.key or other.kind != intent.kind or other.status != "pending":
            continue
        lines = tuple(_lowered(c, intent, released) for c in other.lines)
        if lines != other.lines:
            updated.append(replace(other, lines=lines))
    return tuple(updated)


def _lowered(claim: LineClaim, failed: Intent, released: Mapping[str, int]) -> LineClaim:
    """Return ``claim`` with its target lowered if it was counted on top of ``failed``."""
    failed_target = next((c.target for c in failed.lines if c.line_id == claim.line_id), None)
    if claim.target is None or failed_target is None or claim.target <= failed_target:
        return claim
    return replace(claim, target=claim.target - released[claim.line_id])


def order_from_api(obj: Mapping[str, Any], physical_of: Mapping[str, bool]) -> Order:
    """Return our record of a DR Order object (docs/digital-river-api.md §9.2).

    ``physical_of`` maps SKU id to physical (True) or digital (False); the edge fills it from the
    catalog state or ``GET /skus/{id}``. A SKU missing from it is :class:`UnknownProductKindError`:
    guessing would either send a digital line to the fulfiller or never ship a physical one.
    """
    lines: list[OrderLine] = []
    for n, item in enumerate(read_list(obj, "items", "items")):
        path = f"items[{n}]"
        sku_id = read_str(item, "skuId", f"{path}.skuId")
        if sku_id not in physical_of:
            raise UnknownProductKindError(f"SKU {sku_id!r} of order line {path} is not known")
        lines.append(
            OrderLine(
                line_id=read_id(item, "id", f"{path}.id"),
                sku_id=sku_id,
                quantity=read_count(item, "quantity", f"{path}.quantity"),
                physical=physical_of[sku_id],
            )
        )
    return Order(
        order_id=read_id(obj, "id", "id"),
        state="accepted",
        currency=read_str(obj, "currency", "currency"),
        lines=tuple(lines),
    )


# ------------------------------------------------------------------ payload readers
# DR payloads are JSON from another system: each reader names the field it could not read, so a
# dead letter says exactly what was wrong with it.


def read_map(obj: Mapping[str, Any], key: str, path: str) -> Mapping[str, Any]:
    """Return a required JSON object field."""
    value = obj.get(key)
    if not isinstance(value, Mapping):
        raise MalformedEventError(path, "expected an object")
    return value


def read_list(obj: Mapping[str, Any], key: str, path: str) -> list[Mapping[str, Any]]:
    """Return a required array-of-objects field."""
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise MalformedEventError(path, "expected an array of objects")
    return value


def read_str(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Return a required non-empty string field."""
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedEventError(path, "expected a non-empty string")
    return value


def read_id(obj: Mapping[str, Any], key: str, path: str) -> str:
    """Return an id that DR sends as a string or as a JSON integer.

    Which ids come as numbers: docs/digital-river-api.md §2 and §16.6.
    """
    value = obj.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return read_str(obj, key, path)


def read_count(obj: Mapping[str, Any], key: str, path: str) -> int:
    """Return a required non-negative integer, quoted or not (docs/digital-river-api.md §13.2)."""
    value = obj.get(key)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MalformedEventError(path, "expected a non-negative integer")
    return value


def optional_count(obj: Mapping[str, Any], key: str, path: str) -> int | None:
    """Return a non-negative integer field, or None when absent."""
    return None if obj.get(key) is None else read_count(obj, key, path)


# ------------------------------------------------------------------ JSON storage
Entity = TypeVar("Entity")


@cache
def _adapter(kind: type[Entity]) -> TypeAdapter[Entity]:
    return TypeAdapter(kind)


def to_json(entity: object) -> dict[str, Any]:
    """Return a JSON-ready dict of one of our dataclasses (Order, Intent, Notification, ...)."""
    if not dataclasses.is_dataclass(entity) or isinstance(entity, type):
        raise TypeError(f"not an entity: {type(entity).__name__}")
    dumped: dict[str, Any] = _adapter(type(entity)).dump_python(entity, mode="json")
    return dumped


def order_from_json(data: Mapping[str, Any]) -> Order:
    """Return the Order stored by :func:`to_json` (validated: a corrupt row fails loudly)."""
    order: Order = _adapter(Order).validate_python(data)
    return order


def intent_from_json(data: Mapping[str, Any]) -> Intent:
    """Return the Intent stored by :func:`to_json` (validated: a corrupt row fails loudly)."""
    intent: Intent = _adapter(Intent).validate_python(data)
    return intent
