"""The activity summary: what a period's records add up to, priced as the money plan prices."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.core.activity import ActivityFacts, ActivityReport, summarize
from catalog_sync.core.notices import NotificationRecord
from catalog_sync.core.orders import (
    Intent,
    IntentKind,
    IntentStatus,
    LineClaim,
    Order,
    OrderLine,
    Origin,
)
from catalog_sync.state import (
    AuditFindingRecord,
    LedgerEntry,
    RequestLineRecord,
    RequestRecord,
    RunRecord,
    SettledWrite,
)

SINCE = datetime(2026, 12, 1, tzinfo=UTC)
UNTIL = datetime(2026, 12, 2, tzinfo=UTC)
AT = "2026-12-01T10:00:00.000000Z"


def an_order(order_id: str = "o1", currency: str = "USD") -> Order:
    """Two physical lines: L1 of 3 units, L2 of 2."""
    lines = (OrderLine("L1", "tent", 3, physical=True), OrderLine("L2", "stove", 2, physical=True))
    return Order(order_id, "accepted", currency, lines)


def accepted(order_id: str = "o1", *, l1: float = 30.0, l2: float = 10.0) -> dict[str, Any]:
    """An ``order.accepted`` payload: L1 at ``l1`` for 3 units + 10% tax, L2 at ``l2`` for 2."""
    items = [
        {"id": "L1", "quantity": 3, "amount": l1, "tax": {"amount": round(l1 / 10, 2)}},
        {"id": "L2", "quantity": 2, "amount": l2, "tax": {"amount": round(l2 / 10, 2)}},
    ]
    return {"type": "order.accepted", "data": {"object": {"id": order_id, "items": items}}}


def ended(
    key: str,
    kind: IntentKind,
    claims: dict[str, int],
    *,
    order_id: str = "o1",
    status: IntentStatus = "done",
    error: str | None = None,
) -> SettledWrite:
    """A write of ``claims`` (line -> units) that ended at :data:`AT`."""
    lines = tuple(LineClaim(line, units, units) for line, units in claims.items())
    intent = Intent(key, kind, order_id, {}, lines, Origin.event("e1"), status=status)
    return SettledWrite(LedgerEntry(intent, 1, 0, AT, None, error, "ful-1"), AT)


def report(**facts: Any) -> ActivityReport:
    """The summary of these facts over the test's day, order ``o1`` priced by its event."""
    facts.setdefault("orders", {"o1": an_order()})
    facts.setdefault("order_events", {"o1": [accepted()]})
    return summarize(ActivityFacts(since=SINCE, until=UNTIL, generated_at=UNTIL, **facts))


def test_a_capture_is_priced_from_the_order_event() -> None:
    """2 of 3 units of a 30.00 + 3.00 tax line: 22.00 captured, in the order's currency."""
    result = report(writes=[ended("capture:s1", "capture", {"L1": 2})])
    (total,) = result.money
    assert (total.currency, total.captured_units, total.captured_amount) == (
        "USD",
        2,
        Decimal("22.00"),
    )


def test_a_cancel_counts_as_cancelled_money() -> None:
    """A charge cancel of L2's 2 units (10.00 + 1.00 tax) is 11.00 cancelled."""
    result = report(writes=[ended("cancel:o1:L2=2", "cancel_charge", {"L2": 2})])
    assert (result.money[0].cancelled_units, result.money[0].cancelled_amount) == (
        2,
        Decimal("11.00"),
    )


def test_a_refused_write_is_listed_but_moves_no_money() -> None:
    """A capture the API refused is shown with its error and left out of the totals."""
    refused = ended("capture:s1", "capture", {"L1": 1}, status="failed", error="too large")
    result = report(writes=[refused])
    (write,) = result.writes
    assert (write.outcome, write.error, result.money, result.summary.writes_refused) == (
        "refused",
        "too large",
        (),
        1,
    )


def test_an_order_without_an_order_event_is_unpriced() -> None:
    """No line amounts known: the units are counted as unpriced, never guessed."""
    result = report(writes=[ended("capture:s1", "capture", {"L1": 2})], order_events={})
    assert (result.writes[0].amount, result.money[0].unpriced_units) == (None, 2)


def test_catalog_runs_sum_applied_changes_and_leave_dry_runs_out() -> None:
    """Created / updated / drift fixed come from applied runs; a dry run is listed only."""
    runs = [
        RunRecord(1, "reconcile", AT, AT, False, {"created": 3, "updated": 1}, 0, "r1.json"),
        RunRecord(2, "audit", AT, AT, False, {"drift_fixed": 2}, 0, "r2.json"),
        RunRecord(3, "reconcile", AT, AT, True, {"created": 9}, 0, None),
        RunRecord(4, "orders-audit", AT, AT, False, {"uncaptured_shipment": 1}, 0, None),
    ]
    s = report(runs=runs).summary
    assert (
        s.catalog_runs,
        s.pairs_created,
        s.pairs_updated,
        s.drift_fixed,
        s.catalog_audits,
        s.orders_audits,
    ) == (3, 3, 1, 2, 1, 1)


def test_fulfillment_orders_captures_and_cancels_are_counted_by_kind() -> None:
    """Each landed write counts once under its kind."""
    writes = [
        ended("fo:o1", "create_fulfillment_order", {}),
        ended("capture:s1", "capture", {"L1": 1}),
        ended("capture:s2", "capture", {"L1": 2}),
        ended("cancel:o1:L2=2", "cancel_charge", {"L2": 2}),
        ended("fc:o1", "fulfiller_cancel", {"L2": 1}),
    ]
    s = report(writes=writes).summary
    assert (s.fulfillment_orders_created, s.captures, s.charge_cancels, s.fulfiller_cancels) == (
        1,
        2,
        1,
        1,
    )


def test_requests_are_counted_by_their_status_now() -> None:
    """A request whose write landed is Completed; one whose write is still pending is Open."""
    done = ended("req-a", "capture", {"L1": 1})
    pending = ended("req-b", "capture", {"L1": 1}, status="pending")

    def request(request_id: str, key: str) -> tuple[RequestRecord, list[RequestLineRecord]]:
        record = RequestRecord(request_id, "o1", "fulfill", "L1", 1, "cli", None, AT)
        return record, [RequestLineRecord(request_id, "L1", 1, "digital_fulfill", key)]

    result = report(
        requests=[request("r1", "req-a"), request("r2", "req-b")],
        entries={"req-a": done.entry, "req-b": pending.entry},
    )
    assert result.requests_by_status == {"Open": 1, "Reprocess": 0, "Completed": 1, "Failed": 0}


def test_dead_letters_come_from_their_notifications() -> None:
    """A dead letter at the poller or the handler is listed; other notices only counted."""
    notices = [
        NotificationRecord(AT, "dead_letter", "e1 is dead", None, "e1"),
        NotificationRecord(AT, "mode_mismatch", "e2 is live", None, "e2"),
        NotificationRecord(AT, "backorder", "wait", "o1", "e3"),
    ]
    result = report(notifications=notices)
    assert (
        [d.event_id for d in result.dead_letters],
        result.notifications_by_kind,
    ) == (["e1", "e2"], {"backorder": 1, "dead_letter": 1, "mode_mismatch": 1})


def test_orders_audit_findings_are_listed_with_repairs_counted() -> None:
    """Every finding is in the report; the repaired ones are counted apart."""
    findings = [
        AuditFindingRecord(5, AT, "uncaptured_shipment", "o1", "L1", 1, 1100, "USD", True, "x"),
        AuditFindingRecord(5, AT, "order_not_complete", "o1", None, 0, None, None, False, "y"),
    ]
    result = report(findings=findings)
    assert (
        [f.kind for f in result.findings],
        result.summary.audit_findings,
        result.summary.audit_findings_repaired,
    ) == (["uncaptured_shipment", "order_not_complete"], 2, 1)


def test_the_report_round_trips_through_its_json() -> None:
    """What is written is what a reader gets back (amounts exactly)."""
    result = report(writes=[ended("capture:s1", "capture", {"L1": 2})])
    assert ActivityReport.model_validate_json(result.model_dump_json()) == result


# -- totals per currency are the sum of the lines --------------------------------------------
_write_specs = st.lists(
    st.tuples(
        st.sampled_from(["o1", "o2", "o3"]),
        st.sampled_from(["capture", "cancel_charge"]),
        st.integers(0, 3),
        st.integers(0, 2),
        st.booleans(),
    ),
    max_size=12,
)
_prices = st.floats(0, 100_000, allow_nan=False).map(lambda x: round(x, 2))


@fuzz_settings
@given(_write_specs, _prices, _prices)
def test_totals_per_currency_equal_the_sum_of_the_lines(
    specs: list[tuple[str, IntentKind, int, int, bool]], l1: float, l2: float
) -> None:
    """Whatever lands, each currency's captured and cancelled amounts are its lines' sum."""
    orders = {"o1": an_order("o1", "USD"), "o2": an_order("o2", "EUR"), "o3": an_order("o3")}
    writes = [
        ended(
            f"{kind}:{n}",
            kind,
            {k: v for k, v in (("L1", u1), ("L2", u2)) if v},
            order_id=order_id,
            status="done" if landed else "failed",
        )
        for n, (order_id, kind, u1, u2, landed) in enumerate(specs)
    ]
    events = {o: [accepted(o, l1=l1, l2=l2)] for o in orders}
    result = report(writes=writes, orders=orders, order_events=events)
    expected: defaultdict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for write in result.writes:
        if write.outcome == "landed" and write.currency is not None:
            side = "captured" if write.kind == "capture" else "cancelled"
            for line in write.lines:
                expected[write.currency, side] += line.amount or Decimal(0)
    got = {
        (t.currency, side): amount
        for t in result.money
        for side, amount in (("captured", t.captured_amount), ("cancelled", t.cancelled_amount))
        if amount
    }
    assert got == {k: v for k, v in expected.items() if v}
