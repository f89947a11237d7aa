"""What the daemon would do with a run of events: the money plan, decided purely.

The plan folds events through :func:`catalog_sync.core.fulfillment.decide`, the handler's own
decision, over a copy of each order's record and ledger, exactly as the handler folds them
(each event sees the previous one's effect, a deferred event about an order the API still has
is decided again once that order is recorded). Nothing here writes anywhere: the caller gets
the writes the daemon would send, each priced from the order's line amounts, so an operator can
see captures and cancels before they happen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation, localcontext
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from catalog_sync.core.fulfillment import Decision, decide, order_id_of
from catalog_sync.core.orders import (
    CHARGE_KINDS,
    FulfillmentError,
    Intent,
    IntentKind,
    MalformedEventError,
    Order,
)

#: Cents: every amount on the wire is rounded to them (docs/digital-river-api.md §9.2).
_CENT: Final = Decimal("0.01")
#: Exact arithmetic for any amount a JSON number can carry (a float's 309 digits, in cents):
#: the default 28 digits would round a huge amount or refuse to quantize it.
_EXACT: Final = Context(prec=1000)

PlannedKind = Literal["create_fulfillment_order", "capture", "cancel_charge", "fulfiller_cancel"]


class PlannedLine(BaseModel):
    """Units of one order line a write moves, and what they are worth (None when unpriced)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    line_id: str
    units: int
    amount: Decimal | None = None


class PlannedWrite(BaseModel):
    """One write to Digital River the daemon would send.

    ``recorded`` is True for a write already in the ledger and still to be sent, False for one
    an event would add.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: PlannedKind
    key: str
    order_id: str
    origin: str
    currency: str | None = None
    lines: tuple[PlannedLine, ...] = ()
    units: int = 0
    amount: Decimal | None = None
    recorded: bool = False


class StatusChange(BaseModel):
    """An order whose state in our records would move."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    order_id: str
    before: str | None
    after: str
    event_id: str


class EventOutcome(BaseModel):
    """What the handler would make of one event: its decision's status and summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: str
    type: str
    order_id: str | None
    status: Literal["handled", "ignored", "deferred", "error", "unreadable"]
    summary: str


class CurrencyTotal(BaseModel):
    """Units and amounts per currency the writes would capture and cancel."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    currency: str
    captured_units: int = 0
    captured_amount: Decimal = Decimal(0)
    cancelled_units: int = 0
    cancelled_amount: Decimal = Decimal(0)
    unpriced_units: int = 0


class MoneyPlan(BaseModel):
    """``events plan``: what the daemon would do, nothing done.

    ``fulfillment_orders``, ``captures`` and ``cancels`` are the writes; ``would_move`` is True
    when there is at least one (the command then exits 2).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Literal["inbox", "api"]
    fulfillment_orders: tuple[PlannedWrite, ...] = ()
    captures: tuple[PlannedWrite, ...] = ()
    cancels: tuple[PlannedWrite, ...] = ()
    status_changes: tuple[StatusChange, ...] = ()
    totals: tuple[CurrencyTotal, ...] = ()
    events: tuple[EventOutcome, ...] = ()

    @property
    def would_move(self) -> bool:
        """Whether any write to Digital River would be sent."""
        return bool(self.fulfillment_orders or self.captures or self.cancels)


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of ``events plan --json``."""
    return MoneyPlan.model_json_schema()


@dataclass
class _Fold:
    """One order's record and ledger as the handler would hold them while deciding."""

    order: Order | None
    intents: list[Intent]
    fetched: bool = False


@dataclass(frozen=True)
class _Given:
    """What the plan reads and never changes: the state's records and the API's orders."""

    orders: Mapping[str, Order]
    ledgers: Mapping[str, Sequence[Intent]]
    physical_of: Mapping[str, bool]
    api_orders: Mapping[str, Mapping[str, Any]]
    can_record: frozenset[str]
    before_start: frozenset[str]


@dataclass
class _Plan:
    writes: list[tuple[Intent, bool]] = field(default_factory=list)
    changes: list[StatusChange] = field(default_factory=list)
    outcomes: list[EventOutcome] = field(default_factory=list)


def plan_money(
    source: Literal["inbox", "api"],
    events: Sequence[Mapping[str, Any]],
    *,
    orders: Mapping[str, Order],
    ledgers: Mapping[str, Sequence[Intent]],
    physical_of: Mapping[str, bool],
    api_orders: Mapping[str, Mapping[str, Any]],
    recordable: Iterable[str] = (),
    before_start: Iterable[str] = (),
) -> MoneyPlan:
    """Return what the handler would send for ``events`` (oldest first) over these ledgers.

    ``api_orders`` are Digital River's orders (read with GETs) by id: they price the lines.
    ``recordable`` names those the handler would record when an event about them is deferred
    (it fetches an order it has not seen accepted, in the states it records); ``before_start``
    those placed before the start point (``events_start``), whose events it ignores instead.
    """
    given = _Given(
        orders, ledgers, physical_of, api_orders, frozenset(recordable), frozenset(before_start)
    )
    folds: dict[str, _Fold] = {}
    plan = _Plan()
    for intents in ledgers.values():
        plan.writes.extend((i, True) for i in intents if i.status == "pending")
    for event in events:
        _plan_event(event, given, folds, plan)
    writes = [
        priced_write(
            i, _order_of(i.order_id, folds, orders), api_orders.get(i.order_id), recorded=recorded
        )
        for i, recorded in plan.writes
    ]
    totals = currency_totals(writes)
    return MoneyPlan(
        source=source,
        fulfillment_orders=tuple(w for w in writes if w.kind == "create_fulfillment_order"),
        captures=tuple(w for w in writes if w.kind == "capture"),
        cancels=tuple(w for w in writes if w.kind in {"cancel_charge", "fulfiller_cancel"}),
        status_changes=tuple(plan.changes),
        totals=totals,
        events=tuple(plan.outcomes),
    )


def _plan_event(
    event: Mapping[str, Any], given: _Given, folds: dict[str, _Fold], plan: _Plan
) -> None:
    """Decide one event as the handler would, and fold its decision into the plan."""
    event_id, kind = str(event.get("id")), str(event.get("type"))
    try:
        oid = order_id_of(event)
    except FulfillmentError as exc:
        plan.outcomes.append(
            EventOutcome(
                event_id=event_id, type=kind, order_id=None, status="unreadable", summary=str(exc)
            )
        )
        return
    fold = (
        _Fold(None, [])
        if oid is None
        else folds.setdefault(oid, _Fold(given.orders.get(oid), list(given.ledgers.get(oid, ()))))
    )
    try:
        decision = decide(event, fold.order, fold.intents, physical_of=given.physical_of)
        if decision.status == "deferred" and oid in given.can_record and not fold.fetched:
            fold.fetched = True
            _record_fetched(oid, given.api_orders[oid], fold, given.physical_of, plan)
            decision = decide(event, fold.order, fold.intents, physical_of=given.physical_of)
        if decision.status == "deferred" and oid in given.before_start:
            summary = f"{kind}: order placed before the start point (events_start)"
            decision = Decision("ignored", summary)
    except FulfillmentError as exc:
        status = "unreadable" if isinstance(exc, MalformedEventError) else "error"
        plan.outcomes.append(
            EventOutcome(
                event_id=event_id, type=kind, order_id=oid, status=status, summary=f"{kind}: {exc}"
            )
        )
        return
    plan.outcomes.append(
        EventOutcome(
            event_id=event_id,
            type=kind,
            order_id=oid,
            status=decision.status,
            summary=decision.summary,
        )
    )
    if decision.status in {"deferred", "error"}:
        return
    if decision.order is not None:
        before = fold.order.state if fold.order is not None else None
        if before != decision.order.state:
            plan.changes.append(
                StatusChange(
                    order_id=decision.order.order_id,
                    before=before,
                    after=decision.order.state,
                    event_id=event_id,
                )
            )
        fold.order = decision.order
    _fold_intents(fold, decision.intents, decision.updated_intents, plan)


def _record_fetched(
    oid: str,
    obj: Mapping[str, Any],
    fold: _Fold,
    physical_of: Mapping[str, bool],
    plan: _Plan,
) -> None:
    """Record an order from the API as the handler does for a deferred event."""
    synthetic = {"id": f"fetched:{oid}", "type": "order.accepted", "data": {"object": obj}}
    decision = decide(synthetic, None, fold.intents, physical_of=physical_of)
    if decision.order is None:
        return
    plan.changes.append(
        StatusChange(
            order_id=oid, before=None, after=decision.order.state, event_id=f"fetched:{oid}"
        )
    )
    fold.order = decision.order
    _fold_intents(fold, decision.intents, (), plan)


def _fold_intents(
    fold: _Fold, new: Sequence[Intent], updated: Sequence[Intent], plan: _Plan
) -> None:
    """Add a decision's intents to the ledger copy; only keys not there yet are new writes."""
    by_key = {i.key: i for i in fold.intents}
    for intent in new:
        if intent.key not in by_key:
            plan.writes.append((intent, False))
        by_key[intent.key] = intent
    for intent in updated:
        by_key[intent.key] = intent
        plan.writes = [(intent, r) if w.key == intent.key else (w, r) for w, r in plan.writes]
    fold.intents = list(by_key.values())


def _order_of(
    order_id: str, folds: Mapping[str, _Fold], orders: Mapping[str, Order]
) -> Order | None:
    """The order as the fold left it, else as the state holds it."""
    fold = folds.get(order_id)
    return fold.order if fold is not None and fold.order is not None else orders.get(order_id)


def priced_write(
    intent: Intent,
    order: Order | None,
    api_order: Mapping[str, Any] | None,
    *,
    recorded: bool = False,
) -> PlannedWrite:
    """Return the write with its units and, for charge writes, its amounts per line.

    ``order`` gives the currency, ``api_order`` (Digital River's order) the line amounts; the
    plan prices what would be sent with it, the activity report what was sent.
    """
    with localcontext(_EXACT):
        return _priced(intent, order, api_order, recorded=recorded)


def _priced(
    intent: Intent,
    order: Order | None,
    api_order: Mapping[str, Any] | None,
    *,
    recorded: bool,
) -> PlannedWrite:
    kind: IntentKind = intent.kind
    if kind == "create_fulfillment_order":
        items = intent.body.get("items")
        lines = tuple(
            PlannedLine(line_id=str(item.get("upstreamId")), units=int(item.get("quantity", 0)))
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, Mapping)
        )
    else:
        prices = unit_prices(api_order)
        lines = tuple(
            PlannedLine(
                line_id=c.line_id,
                units=c.quantity,
                amount=line_amount(prices, c.line_id, c.quantity),
            )
            for c in intent.lines
        )
    amounts = [line.amount for line in lines]
    total = (
        sum((a for a in amounts if a is not None), Decimal(0))
        if kind != "create_fulfillment_order" and None not in amounts
        else None
    )
    return PlannedWrite(
        kind=kind,
        key=intent.key,
        order_id=intent.order_id,
        origin=intent.origin.encode(),
        currency=order.currency if order is not None else None,
        lines=lines,
        units=sum(line.units for line in lines),
        amount=total,
        recorded=recorded,
    )


def unit_prices(obj: Mapping[str, Any] | None) -> dict[str, tuple[Decimal, int]]:
    """(line amount with its tax, line quantity) per line id of a DR order.

    A unit is priced at the line's amount plus its tax over its quantity (the line fields of
    docs/digital-river-api.md §9.2): what a capture or cancel of it moves. The shipping and
    rounding an order's last capture also takes are not a line's, so they are not planned; a
    line without a readable amount is left unpriced rather than guessed.
    """
    items = obj.get("items") if obj is not None else None
    prices: dict[str, tuple[Decimal, int]] = {}
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        quantity = item.get("quantity")
        amount = _decimal(item.get("amount"))
        tax = item.get("tax")
        tax_amount = _decimal(tax.get("amount", 0)) if isinstance(tax, Mapping) else Decimal(0)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
            continue
        if amount is not None and tax_amount is not None:
            prices[str(item.get("id"))] = (amount + tax_amount, quantity)
    return prices


def _decimal(value: object) -> Decimal | None:
    """A finite JSON number as a Decimal (its shortest text form), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def line_amount(
    prices: Mapping[str, tuple[Decimal, int]], line_id: str, units: int
) -> Decimal | None:
    """The line's amount for ``units`` of it, in cents; None when the line has no amount."""
    if line_id not in prices:
        return None
    amount, quantity = prices[line_id]
    return (amount * units / quantity).quantize(_CENT, rounding=ROUND_HALF_EVEN)


def currency_totals(writes: Iterable[PlannedWrite]) -> tuple[CurrencyTotal, ...]:
    """Units and amounts captured and cancelled, per currency (sorted by currency)."""
    with localcontext(_EXACT):
        return _totals(writes)


def _totals(writes: Iterable[PlannedWrite]) -> tuple[CurrencyTotal, ...]:
    totals: dict[str, dict[str, Any]] = {}
    for write in writes:
        if write.kind not in CHARGE_KINDS:
            continue  # a fulfiller cancel moves the charge only through a later event
        row = totals.setdefault(
            write.currency or "unknown",
            {
                "captured_units": 0,
                "captured_amount": Decimal(0),
                "cancelled_units": 0,
                "cancelled_amount": Decimal(0),
                "unpriced_units": 0,
            },
        )
        side = "captured" if write.kind == "capture" else "cancelled"
        row[f"{side}_units"] += write.units
        for line in write.lines:
            if line.amount is None:
                row["unpriced_units"] += line.units
            else:
                row[f"{side}_amount"] += line.amount
    return tuple(CurrencyTotal(currency=c, **totals[c]) for c in sorted(totals))
