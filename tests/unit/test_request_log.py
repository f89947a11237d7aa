"""The request log over the state store: recording requests, their files, their counts.

How a status is derived from the ledger's facts is the core's (``test_request_statuses``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from catalog_sync.core.merchant_requests import (
    MerchantRequest,
    RequestRefusedError,
)
from catalog_sync.core.orders import Intent, Order, OrderLine, Origin
from catalog_sync.requests.log import (
    Source,
    requests_status,
    submit_request,
)
from catalog_sync.state import (
    LedgerWrites,
    RequestClaims,
    RequestFileRecord,
    RequestLineRecord,
    RequestRecord,
    open_state,
)

NOW = "2026-01-01T00:00:00.000000Z"
LINE = RequestLineRecord("r1", "L1", 2, "digital_fulfill", "request:r1:capture")
INTENT = Intent("request:r1:capture", "capture", "100", {}, (), Origin.request("r1"))
ORDER = Order("100", "accepted", "USD", (OrderLine("L1", "d-1", 2, physical=False),))


def test_submitted_request_is_logged_with_its_claim_and_counted(tmp_path: Path) -> None:
    """The request row, its line and its intent commit together; status counts see it."""
    with open_state(tmp_path / "s.db") as store:
        store.commit_ledger(LedgerWrites(orders={"100": ORDER}), NOW)
        recorded = submit_request(
            store, MerchantRequest("r1", "100", "fulfill", "L1", 1), Source("a.csv", 4), NOW
        )
        assert [(r.source, r.source_line) for r in store.requests_of("100")] == [("a.csv", 4)]
        assert [e.intent.key for e in store.ledger("100")] == [recorded.intents[0].key]
        assert requests_status(store) == {
            "open": 1,
            "by_status": {"Open": 1, "Reprocess": 0, "Completed": 0, "Failed": 0},
        }


def test_refused_request_leaves_no_trace(tmp_path: Path) -> None:
    """Over-quantity rolls back: no request row, no intent."""
    with open_state(tmp_path / "s.db") as store:
        store.commit_ledger(LedgerWrites(orders={"100": ORDER}), NOW)
        with pytest.raises(RequestRefusedError):
            submit_request(store, MerchantRequest("r1", "100", "cancel", "L1", 3), Source(), NOW)
        assert (store.requests_of("100"), store.ledger("100")) == ([], [])


def test_request_files_are_remembered_by_name_and_content(tmp_path: Path) -> None:
    """The same name with other content is a new file; the same content is known."""
    with open_state(tmp_path / "s.db") as store:
        store.claim_units(
            lambda _: (
                RequestClaims(file=RequestFileRecord("a.csv", "h1", "processed", 1, 0)),
                None,
            ),
            NOW,
        )
        assert (
            store.request_file_outcome("a.csv", "h1"),
            store.request_file_outcome("a.csv", "h2"),
        ) == (
            "processed",
            None,
        )


def test_a_request_id_is_recorded_once_whatever_its_order(tmp_path: Path) -> None:
    """A request id already in the log is refused as a duplicate, naming where it came from."""
    other = Order("200", "accepted", "USD", (OrderLine("L1", "d-1", 2, physical=False),))
    with open_state(tmp_path / "s.db") as store:
        store.commit_ledger(LedgerWrites(orders={"100": ORDER, "200": other}), NOW)
        submit_request(
            store, MerchantRequest("m-1", "100", "cancel", "L1", 1), Source("a.csv", 2), NOW
        )
        with pytest.raises(RequestRefusedError, match=r"already accepted \(from a.csv:2 at "):
            submit_request(store, MerchantRequest("m-1", "200", "cancel", "L1", 1), Source(), NOW)
        assert store.requests_of("200") == []


def test_status_counts_open_requests_by_the_one_rule(tmp_path: Path) -> None:
    """``status`` counts as open what the transmitter's gauge counts (the state's count)."""
    with open_state(tmp_path / "s.db") as store:
        store.commit_ledger(LedgerWrites(orders={"100": ORDER}), NOW)
        submit_request(store, MerchantRequest("r1", "100", "fulfill", "L1", 1), Source(), NOW)
        submit_request(store, MerchantRequest("r2", "100", "fulfill", "L1", 1), Source(), NOW)
        landed = replace(store.ledger("100")[0].intent, status="done")
        store.commit_ledger(LedgerWrites(updated_intents={landed.key: landed}), NOW)
        assert (requests_status(store)["open"], store.count_open_requests()) == (1, 1)


@given(
    st.builds(
        MerchantRequest,
        request_id=st.text(min_size=1),
        order_id=st.text(min_size=1),
        action=st.sampled_from(["fulfill", "cancel"]),
        line_id=st.none() | st.text(min_size=1),
        quantity=st.none() | st.integers(min_value=1),
        reason=st.none() | st.text(),
        tracking_number=st.none() | st.text(),
        tracking_company=st.none() | st.text(),
        tracking_url=st.none() | st.text(),
    )
)
def test_a_logged_request_is_the_request_that_was_asked(request: MerchantRequest) -> None:
    """A merchant's retry rebuilds the request from its log row: every field survives."""
    record = RequestRecord.of(request, source="a.csv", source_line=3, created_at=NOW)
    assert record.request() == request
