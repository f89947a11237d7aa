"""Read-back: whether an intent landed at DR, and exactly what to resend when it did not."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.core.orders import Intent, IntentKind, LineClaim, Origin
from catalog_sync.core.readback import (
    ALREADY_DONE,
    Landed,
    NotLanded,
    ReadBackQuery,
    is_already_done,
    read_back_query,
    reconcile_intent,
)

ORDER = "240110200336"
JSON = dict[str, Any]
KINDS: tuple[IntentKind, ...] = (
    "create_fulfillment_order",
    "capture",
    "cancel_charge",
    "fulfiller_cancel",
)
CHARGE_KINDS: tuple[IntentKind, ...] = ("capture", "cancel_charge")


def fulfillment(
    ful_id: str,
    items: Mapping[str, tuple[int, int]],
    shipment_id: str | None = None,
    key: str | None = None,
) -> JSON:
    """A Fulfillment (docs/digital-river-api.md §13.3): both quantities on every line."""
    obj: JSON = {
        "id": ful_id,
        "createdTime": "2024-01-11T08:00:00Z",
        "orderId": ORDER,
        "items": [
            {"itemId": line_id, "skuId": "SKU", "quantity": q, "cancelQuantity": c}
            for line_id, (q, c) in items.items()
        ],
        "liveMode": False,
    }
    if shipment_id:
        obj["shipmentId"] = shipment_id
    if key:
        obj["metadata"] = {"catalogSyncIntent": key}
    return obj


def cancel_intent(claims: Mapping[str, tuple[int, int]], key: str = "cancel:x") -> Intent:
    """A charge cancel with per line (quantity, target)."""
    body = {
        "orderId": ORDER,
        "items": [{"itemId": line_id, "cancelQuantity": q} for line_id, (q, _) in claims.items()],
        "metadata": {"catalogSyncIntent": key},
    }
    lines = tuple(LineClaim(line_id, q, t) for line_id, (q, t) in claims.items())
    return Intent(key, "cancel_charge", ORDER, body, lines, Origin.event("e1"))


CAPTURE = Intent(
    "capture:shp-1",
    "capture",
    ORDER,
    {
        "orderId": ORDER,
        "shipmentId": "shp-1",
        "items": [{"itemId": "L1", "shipmentItemId": "si-1", "quantity": 2}],
    },
    (LineClaim("L1", 2, 2),),
    Origin.event("e2"),
)
FO_INTENT = Intent(
    f"fo:{ORDER}", "create_fulfillment_order", ORDER, {"upstreamId": ORDER}, (), Origin.event("e0")
)
FC_INTENT = Intent(
    "request:r1:fulfiller_cancel",
    "fulfiller_cancel",
    ORDER,
    {"fulfillmentOrderId": "830512", "upstreamId": f"{ORDER}~r1", "items": []},
    (LineClaim("L1", 1),),
    Origin.request("r1"),
)


@pytest.mark.parametrize(
    ("intent", "expected"),
    [
        (FO_INTENT, ReadBackQuery("/fulfillment-orders", (("upstreamIds", ORDER),))),
        (CAPTURE, ReadBackQuery("/fulfillments", (("orderId", ORDER),))),
        (FC_INTENT, ReadBackQuery("/fulfillment-cancellations", (("upstreamIds", f"{ORDER}~r1"),))),
    ],
)
def test_read_back_asks_where_the_evidence_is(intent: Intent, expected: ReadBackQuery) -> None:
    """Each kind of intent is read back from the list that holds its natural key."""
    assert read_back_query(intent) == expected


def test_a_fulfillment_order_landed_when_its_upstream_id_is_listed() -> None:
    """A fulfillment order with upstreamId = order id proves the create landed (id as string)."""
    assert reconcile_intent(FO_INTENT, [{"id": 830512, "upstreamId": ORDER}]) == Landed("830512")


def test_a_missing_fulfillment_order_is_resent_whole() -> None:
    """No fulfillment order for the order: resend the recorded body."""
    assert reconcile_intent(FO_INTENT, []) == NotLanded({"upstreamId": ORDER})


def test_a_capture_landed_when_its_shipment_is_captured() -> None:
    """A fulfillment carrying the shipment id proves the capture landed."""
    found = [fulfillment("ful_9", {"L1": (2, 0)}, shipment_id="shp-1")]
    assert reconcile_intent(CAPTURE, found) == Landed("ful_9")


def test_a_capture_whose_shipment_is_absent_is_resent() -> None:
    """Other shipments' captures do not count: the same body is resent."""
    found = [fulfillment("ful_8", {"L1": (2, 0)}, shipment_id="shp-0")]
    assert reconcile_intent(CAPTURE, found) == NotLanded(CAPTURE.body)


def test_our_metadata_key_proves_a_landing() -> None:
    """A fulfillment tagged with the intent key is proof, whatever the totals say."""
    intent = cancel_intent({"L1": (1, 5)})
    assert reconcile_intent(intent, [fulfillment("ful_3", {}, key="cancel:x")]) == Landed("ful_3")


def test_a_cancel_landed_when_dr_totals_reach_the_targets() -> None:
    """DR's cumulative cancelled per line at or above each target means landed."""
    intent = cancel_intent({"L1": (2, 3), "L2": (1, 1)})
    found = [
        fulfillment("ful_1", {"L1": (0, 1)}),
        fulfillment("ful_2", {"L1": (1, 2), "L2": (0, 1)}),
    ]
    assert reconcile_intent(intent, found) == Landed()


def test_a_cancel_not_landed_is_resent_whole() -> None:
    """DR totals below target by the whole claim: resend the whole cancel."""
    intent = cancel_intent({"L1": (2, 3)})
    found = [fulfillment("ful_1", {"L1": (0, 1)})]
    assert reconcile_intent(intent, found) == NotLanded(intent.body)


def test_a_partly_landed_cancel_resends_only_the_difference() -> None:
    """L2 reached its target, L1 lacks one unit: resend one unit of L1 only."""
    intent = cancel_intent({"L1": (2, 2), "L2": (1, 1)})
    found = [fulfillment("ful_1", {"L1": (0, 1), "L2": (0, 1)})]
    result = reconcile_intent(intent, found)
    assert isinstance(result, NotLanded)
    assert result.resend["items"] == [{"itemId": "L1", "cancelQuantity": 1}]


def test_captured_units_do_not_count_as_cancelled() -> None:
    """Totals are per measure: a capture of the line does not satisfy a cancel target."""
    intent = cancel_intent({"L1": (1, 1)})
    assert isinstance(reconcile_intent(intent, [fulfillment("f", {"L1": (3, 0)})]), NotLanded)


def test_a_fulfiller_cancellation_landed_when_listed() -> None:
    """A cancellation with our upstreamId proves the request reached the fulfiller."""
    found = [{"id": "fc-1", "upstreamId": f"{ORDER}~r1", "state": "pending"}]
    assert reconcile_intent(FC_INTENT, found) == Landed("fc-1")


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    list(
        itertools.product(
            KINDS, (400, 409), ("order_fulfilled", "order_cancelled", "quantity_too_large", None)
        )
    ),
)
def test_already_done_table(kind: IntentKind, status: int, code: str | None) -> None:
    """Only a 409 listed for the intent's kind means done; over-quantity is a real error."""
    expected = status == 409 and (kind, code) in ALREADY_DONE
    assert is_already_done(kind, status, code) is expected
    assert not is_already_done(kind, status, "quantity_too_large")


def test_a_cancelled_order_does_not_settle_a_capture() -> None:
    """409 order_cancelled settles a charge cancel but is an error for a capture."""
    assert is_already_done("cancel_charge", 409, "order_cancelled")
    assert not is_already_done("capture", 409, "order_cancelled")


@st.composite
def landed_cases(draw: st.DrawFn) -> tuple[Intent, list[JSON]]:
    """An intent and DR's fulfillments after it landed, among earlier and later ones."""
    kind: IntentKind = draw(st.sampled_from(CHARGE_KINDS))
    field = "quantity" if kind == "capture" else "cancelQuantity"
    lines = draw(st.lists(st.sampled_from(["L1", "L2", "L3"]), min_size=1, max_size=3, unique=True))
    before = {ln: draw(st.integers(0, 3)) for ln in lines}
    claims = {ln: draw(st.integers(1, 3)) for ln in lines}
    shipment = draw(st.sampled_from([None, "shp-7"])) if kind == "capture" else None
    key = f"{kind}:k"
    body: JSON = {"orderId": ORDER, "items": [{"itemId": ln, field: q} for ln, q in claims.items()]}
    if shipment:
        body["shipmentId"] = shipment
    intent = Intent(
        key,
        kind,
        ORDER,
        body,
        tuple(LineClaim(ln, q, before[ln] + q) for ln, q in claims.items()),
        Origin.request("r"),
    )

    def pair(n: int) -> tuple[int, int]:
        return (n, 0) if kind == "capture" else (0, n)

    tagged = draw(st.booleans())
    found = [
        fulfillment("ful_a", {ln: pair(n) for ln, n in before.items()}),
        fulfillment(
            "ful_b", {ln: pair(q) for ln, q in claims.items()}, shipment, key if tagged else None
        ),
    ]
    if draw(st.booleans()):
        found.append(fulfillment("ful_c", {ln: pair(draw(st.integers(0, 2))) for ln in lines}))
    return intent, draw(st.permutations(found))


@given(landed_cases())
def test_a_landed_intent_is_never_resent(case: tuple[Intent, list[JSON]]) -> None:
    """Whatever else DR holds, the read-back of an intent that landed never asks to resend."""
    intent, found = case
    assert isinstance(reconcile_intent(intent, found), Landed)
