"""The storage contract: what every state backend must do, run against each of them.

Only the interface of ``catalog_sync.state`` is used (``open_state`` and the protocols), never a
backend's internals, so a new backend passes or fails these same tests (add it to
``state_backend_helpers.BACKENDS``). Concurrency is shown with two store objects on one
database: interleavings are forced by the test itself (a claim started from inside another
claim's decision, a mark read before another store writes), never by sleeping.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic_core import PydanticSerializationError
from tests.contract.state_backend_helpers import (
    BACKENDS,
    LATER,
    LATEST,
    NOW,
    an_event,
    an_intent,
    an_order,
    claimed_units,
    fulfil_request,
    store_order,
)

from catalog_sync.core.fulfillment import INBOX_STATUSES
from catalog_sync.core.merchant_requests import RequestRefusedError
from catalog_sync.core.orders import INTENT_STATUSES, Intent, IntentStatus, Origin
from catalog_sync.state import (
    AppliedPair,
    AuditFindingRecord,
    CatalogFileRecord,
    EventCursor,
    EventOutcome,
    FencedError,
    HistoryLine,
    InstanceRecord,
    LedgerReader,
    LedgerWrites,
    LineRetry,
    NotificationRecord,
    RecordedRequest,
    RequestClaims,
    RequestFileRecord,
    StateBackend,
    WriteAnswer,
    WriteRetry,
    open_state,
)

OpenBackend = Callable[[], StateBackend]


@pytest.fixture(params=sorted(BACKENDS))
def open_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OpenBackend]:
    """Opens another store object on the test's one database (each call: a new object)."""
    location = BACKENDS[request.param](tmp_path)
    opened: list[StateBackend] = []

    def open_one() -> StateBackend:
        store = open_state(location)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_backend: OpenBackend) -> StateBackend:
    """One store object on a fresh database."""
    return open_backend()


def _pair(pair_id: str, digest: str = "h1", source: str = "a.csv") -> AppliedPair:
    return AppliedPair(pair_id, digest, source, 2, physical=True)


def _with_intents(store: StateBackend, *intents: Intent) -> None:
    """Order ``o1`` with these intents recorded (due from ``NOW``)."""
    store_order(store, an_order())
    store.commit_ledger(LedgerWrites(new_intents=list(intents)), NOW)


# -- catalog --------------------------------------------------------------------------------
def test_applied_pairs_are_read_back_all_or_by_id(store: StateBackend) -> None:
    """Recorded pairs come back whole, by id, by file, and counted."""
    store.record_applied([_pair("A"), _pair("B", source="b.json")])
    assert (
        set(store.applied_pairs()),
        set(store.applied_pairs(["B", "missing"])),
        store.pair_ids_by_file("b.json"),
        store.applied_ids(),
        store.count_pairs(),
    ) == ({"A", "B"}, {"B"}, frozenset({"B"}), {"A", "B"}, 2)


def test_record_applied_replaces_hash(store: StateBackend) -> None:
    """Recording a pair again keeps one row with the newest hash."""
    store.record_applied([_pair("A", "h1")])
    store.record_applied([_pair("A", "h2")])
    assert (store.applied_pairs()["A"].content_hash, store.count_pairs()) == ("h2", 1)


def test_forgotten_pairs_are_gone(store: StateBackend) -> None:
    """A forgotten pair is no longer applied."""
    store.record_applied([_pair("A"), _pair("B")])
    store.forget_pairs(["A"])
    assert store.applied_ids() == {"B"}


def test_known_physical_leaves_unknown_kinds_out(store: StateBackend) -> None:
    """Only SKUs applied with a known kind are reported."""
    store.record_applied([_pair("A"), AppliedPair("B", "h", "a.csv", 3, physical=None)])
    assert store.known_physical(["A", "B", "C"]) == {"A": True}


def test_lookups_by_many_ids_find_every_one(store: StateBackend) -> None:
    """Thousands of ids in one lookup (an initial sync, a long events page) are all found,
    whatever limit the backend has on one query."""
    ids = [f"P{n:05d}" for n in range(2_345)]
    store.record_applied([_pair(pair_id) for pair_id in ids])
    store.store_events([an_event(f"e{pair_id}") for pair_id in ids], NOW)
    wanted = [*ids, "missing"]
    assert (
        set(store.applied_pairs(wanted)),
        set(store.known_physical(wanted)),
        store.known_event_ids([f"e{pair_id}" for pair_id in wanted]),
    ) == (set(ids), set(ids), {f"e{pair_id}" for pair_id in ids})


def test_last_run_is_the_newest_finished(store: StateBackend) -> None:
    """last_run reports the newest finished run with its counts."""
    first = store.start_run("reconcile", dry_run=False)
    store.finish_run(first, counts={"created": 3}, failures=0, report_path="r1.json")
    store.start_run("reconcile", dry_run=False)
    last = store.last_run()
    assert last is not None
    assert (last.id, last.counts, last.report_path) == (first, {"created": 3}, "r1.json")


def test_last_run_of_kinds_skips_other_kinds(store: StateBackend) -> None:
    """Asked for some kinds, last_run passes over a newer run of another kind."""
    for kind in ("audit", "orders-audit"):
        run = store.start_run(kind, dry_run=False)
        store.finish_run(run, counts={}, failures=0, report_path=None)
    picked = [store.last_run(kinds) for kinds in (["reconcile", "audit"], ["orders-audit"], [])]
    assert [None if r is None else r.kind for r in picked] == ["audit", "orders-audit", None]


def test_applied_pairs_and_runs_survive_reopen(open_backend: OpenBackend) -> None:
    """What was recorded is there after the process reopens the state."""
    with open_backend() as store:
        store.record_applied([_pair("A"), _pair("B", source="b.json")])
        run = store.start_run("audit", dry_run=True)
        store.finish_run(run, counts={}, failures=1, report_path=None)
    with open_backend() as store:
        last = store.last_run()
        assert last is not None
        assert (set(store.applied_pairs()), last.kind, last.dry_run) == ({"A", "B"}, "audit", True)


# -- orders audit findings ------------------------------------------------------------------
def _finding(found_at: str, *, run_id: int = 0, repaired: bool = True) -> AuditFindingRecord:
    return AuditFindingRecord(
        run_id=run_id,
        found_at=found_at,
        kind="uncaptured_shipment",
        order_id="o1",
        line_id="L1",
        units=2,
        amount=2_598,
        currency="USD",
        repaired=repaired,
        detail="shipped 2, captured 0",
    )


def test_audit_findings_come_back_whole_under_their_run(store: StateBackend) -> None:
    """Every field of a finding is read back, with the run it was recorded under."""
    run = store.start_run("orders-audit", dry_run=False)
    unpriced = replace(
        _finding(NOW), kind="order_not_complete", line_id=None, amount=None, currency=None
    )
    store.record_audit_findings(run, [_finding(NOW, repaired=False), unpriced])
    assert store.audit_findings(NOW, LATEST) == [
        _finding(NOW, run_id=run, repaired=False),
        replace(unpriced, run_id=run),
    ]


def test_audit_findings_are_those_of_the_period_oldest_first(store: StateBackend) -> None:
    """A period includes its start, excludes its end, and lists findings oldest first."""
    run = store.start_run("orders-audit", dry_run=False)
    store.record_audit_findings(run, [_finding(LATEST), _finding(LATER), _finding(NOW)])
    assert [f.found_at for f in store.audit_findings(NOW, LATEST)] == [NOW, LATER]


def test_audit_findings_survive_reopen(open_backend: OpenBackend) -> None:
    """Recorded findings are there after the process reopens the state."""
    with open_backend() as store:
        store.record_audit_findings(7, [_finding(NOW)])
    with open_backend() as store:
        assert store.audit_findings(NOW, LATER) == [_finding(NOW, run_id=7)]


# -- inbox ----------------------------------------------------------------------------------
def test_store_events_dedupes_by_id(store: StateBackend) -> None:
    """Storing an event twice keeps one; the count says how many were new."""
    first = store.store_events([an_event("e1"), an_event("e2")], NOW)
    again = store.store_events([an_event("e2"), an_event("e3")], NOW)
    assert (first, again, store.known_event_ids(["e1", "e2", "e3", "e4"])) == (
        2,
        1,
        {"e1", "e2", "e3"},
    )


def test_store_events_moves_the_cursor_with_the_page(store: StateBackend) -> None:
    """The cursor given with a page is stored with it; without one it stays."""
    store.store_events([an_event("e1")], NOW, cursor=EventCursor(last_id="e1", newest_time=NOW))
    store.store_events([an_event("e2")], LATER)
    assert store.event_cursor() == EventCursor(last_id="e1", newest_time=NOW)


def test_a_new_state_has_an_empty_cursor(store: StateBackend) -> None:
    """Before the first poll the cursor is empty."""
    assert store.event_cursor() == EventCursor()


def test_due_events_are_the_open_ones_oldest_first(store: StateBackend) -> None:
    """Only open events whose retry time has come are due, oldest first, up to the limit."""
    store.store_events(
        [an_event("late", LATER), an_event("early", NOW), an_event("dead", NOW, status="dead")],
        NOW,
    )
    waiting = EventOutcome("late", "deferred", "not yet", LATEST)
    store.commit_ledger(LedgerWrites(events=[waiting]), NOW)
    store.store_events([an_event("next", LATER)], NOW)
    assert [e.id for e in store.due_events(LATER, 10)] == ["early", "next"]
    assert [e.id for e in store.due_events(LATEST, 1)] == ["early"]


def test_due_events_carry_their_payload(store: StateBackend) -> None:
    """A due event comes with the payload it was stored with."""
    event = an_event("e1")
    store.store_events([event], NOW)
    assert [e.payload for e in store.due_events(NOW, 10)] == [event.payload]


def test_event_outcomes_set_status_and_count_attempts(store: StateBackend) -> None:
    """An attempt's outcome is stored; only attempted outcomes count an attempt."""
    store.store_events([an_event("e1"), an_event("e2")], NOW)
    store.commit_ledger(
        LedgerWrites(
            events=[
                EventOutcome("e1", "handled", handled_at=LATER),
                EventOutcome("e2", "dead", "gave up", attempted=False),
            ]
        ),
        LATER,
    )
    e1, e2 = store.inbox_event("e1"), store.inbox_event("e2")
    assert e1 is not None
    assert e2 is not None
    assert (e1.status, e1.attempts, e1.handled_at, e2.status, e2.attempts, e2.last_error) == (
        "handled",
        1,
        LATER,
        "dead",
        0,
        "gave up",
    )


def test_inbox_counts_show_every_status(store: StateBackend) -> None:
    """Counts have a zero for every status nothing is in."""
    store.store_events([an_event("e1"), an_event("e2", status="dead")], NOW)
    counts = store.inbox_counts()
    assert (counts["received"], counts["dead"], counts["handled"]) == (1, 1, 0)
    assert set(counts) == set(INBOX_STATUSES)


def test_oldest_unhandled_time_ignores_finished_events(store: StateBackend) -> None:
    """The lag is measured from the oldest event still to handle."""
    store.store_events([an_event("old", NOW), an_event("new", LATER)], NOW)
    store.commit_ledger(LedgerWrites(events=[EventOutcome("old", "handled")]), NOW)
    assert store.oldest_unhandled_time() == LATER


def test_inbox_events_filter_and_order(store: StateBackend) -> None:
    """Listing is newest first, by status and creation time when asked."""
    store.store_events(
        [an_event("a", NOW), an_event("b", LATER), an_event("c", LATEST, status="dead")], NOW
    )
    assert (
        [e.id for e in store.inbox_events()],
        [e.id for e in store.inbox_events("received")],
        [e.id for e in store.inbox_events(since=LATER)],
        [e.id for e in store.inbox_events(limit=1)],
    ) == (["c", "b", "a"], ["b", "a"], ["c", "b"], ["c"])


def test_requeue_sends_dead_letters_back_and_unparks_their_writes(store: StateBackend) -> None:
    """``events retry``: the event is received again and its parked write is due again."""
    store.store_events([an_event("e1", status="dead")], NOW)
    _with_intents(store, an_intent(origin=Origin.event("e1")))
    store.commit_ledger(LedgerWrites(retries=[WriteRetry("capture:s1", "500", None)]), NOW)
    requeued = store.requeue_events(["e1"], LATER)
    event = store.inbox_event("e1")
    assert event is not None
    assert (requeued, event.status, [e.intent.key for e in store.claim_due_writes(LATER, 5)]) == (
        ["e1"],
        "received",
        ["capture:s1"],
    )


def test_requeue_leaves_handled_events_alone(store: StateBackend) -> None:
    """A handled event is not requeued by id."""
    store.store_events([an_event("e1")], NOW)
    store.commit_ledger(LedgerWrites(events=[EventOutcome("e1", "handled")]), NOW)
    assert store.requeue_events(["e1", "missing"], LATER) == []


def test_requeue_of_all_takes_every_dead_letter(store: StateBackend) -> None:
    """``None`` requeues every dead letter and nothing else."""
    store.store_events(
        [an_event("d1", status="dead"), an_event("d2", status="dead"), an_event("r")], NOW
    )
    assert sorted(store.requeue_events(None, LATER)) == ["d1", "d2"]


def test_replay_sends_handled_events_back_and_inserts_dead_ones_once(store: StateBackend) -> None:
    """``events replay``: known events are received again; dead ones are only added when new."""
    store.store_events([an_event("e1")], NOW)
    store.commit_ledger(LedgerWrites(events=[EventOutcome("e1", "handled")]), NOW)
    replayed = store.replay_events(
        [an_event("e1"), an_event("e2"), an_event("bad", status="dead")], LATER
    )
    statuses = {e.id: e.status for e in store.inbox_events()}
    assert (replayed, statuses) == (2, {"e1": "received", "e2": "received", "bad": "dead"})


def test_the_answer_to_a_request_is_found_by_its_upstream_id(store: StateBackend) -> None:
    """The first event answering our request is found by the id we gave DR."""
    store.store_events(
        [
            an_event("a2", LATER, answer_to="o1~r1"),
            an_event("a1", NOW, answer_to="o1~r1"),
            an_event("other", NOW, answer_to="o2~r9"),
        ],
        NOW,
    )
    found = store.answer_to("o1~r1")
    assert found is not None
    assert (found.id, store.answer_to("o1~r2")) == ("a1", None)


def test_events_survive_reopen(open_backend: OpenBackend) -> None:
    """Events and the cursor are there after a reopen, payload included."""
    with open_backend() as store:
        store.store_events([an_event("e1")], NOW, cursor=EventCursor(last_id="e1"))
    with open_backend() as store:
        event = store.inbox_event("e1")
        assert event is not None
        assert (event.payload, store.event_cursor().last_id) == (an_event("e1").payload, "e1")


# -- ledger ---------------------------------------------------------------------------------
def test_committed_writes_are_read_back(store: StateBackend) -> None:
    """Orders, intents, history and notifications committed together are all there."""
    order = an_order()
    notice = NotificationRecord(NOW, "backorder", "wait", "o1", "e1")
    store.commit_ledger(
        LedgerWrites(
            orders={"o1": order},
            new_intents=[an_intent()],
            history=[("o1", "e1", "accepted")],
            notices=[notice],
        ),
        NOW,
    )
    assert (
        store.order("o1"),
        [e.intent.key for e in store.ledger("o1")],
        [(h.time, h.event_id, h.summary) for h in store.history("o1")],
        store.notifications(),
    ) == (order, ["capture:s1"], [(NOW, "e1", "accepted")], [notice])


def test_an_intent_key_is_recorded_once(store: StateBackend) -> None:
    """Natural keys dedupe: a second intent with a known key is left out."""
    _with_intents(store, an_intent(quantity=1))
    store.commit_ledger(LedgerWrites(new_intents=[an_intent(quantity=2)]), LATER)
    assert [e.intent.lines[0].quantity for e in store.ledger("o1")] == [1]


def test_updated_intents_replace_the_stored_ones(store: StateBackend) -> None:
    """A settled intent is stored with its new status."""
    _with_intents(store, an_intent())
    done = replace(an_intent(), status="done")
    store.commit_ledger(LedgerWrites(updated_intents={done.key: done}), LATER)
    assert [e.intent.status for e in store.ledger("o1")] == ["done"]


def test_orders_are_listed_by_state_newest_first(store: StateBackend) -> None:
    """Listing orders filters by state and puts the most recently updated first."""
    store_order(store, an_order("o1"), NOW)
    store_order(store, an_order("o2", state="complete"), LATER)
    store_order(store, an_order("o3"), LATEST)
    assert (
        [o.order_id for o in store.list_orders()],
        [o.order_id for o in store.list_orders("accepted", limit=1)],
        sorted(store.orders_by_id(["o1", "o2", "none"])),
    ) == (["o3", "o2", "o1"], ["o3"], ["o1", "o2"])


def test_ledgers_keep_recording_order(store: StateBackend) -> None:
    """An order's intents come back in the order they were recorded."""
    _with_intents(store, an_intent(key="b"), an_intent(key="a"))
    assert [e.intent.key for e in store.ledgers(["o1"])["o1"]] == ["b", "a"]


def test_the_ledger_mark_moves_when_an_intent_is_recorded_or_settles(store: StateBackend) -> None:
    """Recording an intent or settling one changes the mark; other writes do not."""
    _with_intents(store, an_intent())
    first = store.ledger_marks(["o1"])["o1"]
    store.commit_ledger(LedgerWrites(history=[("o1", None, "note")]), NOW)
    unchanged = store.ledger_marks(["o1"])["o1"]
    done = replace(an_intent(), status="done")
    store.commit_ledger(LedgerWrites(updated_intents={done.key: done}), NOW)
    settled = store.ledger_marks(["o1"])["o1"]
    store.commit_ledger(LedgerWrites(new_intents=[an_intent(key="capture:s2")]), NOW)
    added = store.ledger_marks(["o1"])["o1"]
    assert (first == unchanged, len({first, settled, added})) == (True, 3)


def test_a_decision_on_a_moved_ledger_is_not_committed(open_backend: OpenBackend) -> None:
    """Marks read, another store claims units, commit: that order's writes are left out."""
    handler, merchant = open_backend(), open_backend()
    store_order(handler, an_order("o1"))
    store_order(handler, an_order("o2"))
    marks = handler.ledger_marks(["o1", "o2"])
    merchant.claim_units(fulfil_request("o1", "r1", 1), LATER)
    stale = handler.commit_ledger(
        LedgerWrites(
            new_intents=[an_intent("o1", "capture:s1", quantity=2), an_intent("o2", "capture:s2")],
            history=[("o1", "e1", "decided"), ("o2", "e2", "decided")],
        ),
        LATER,
        marks=marks,
    )
    assert (stale, claimed_units(handler, "o1"), claimed_units(handler, "o2")) == (
        frozenset({"o1"}),
        1,
        1,
    )


def test_a_stale_decision_leaves_its_event_due(open_backend: OpenBackend) -> None:
    """The event of a decision left out is not marked handled: it is decided again."""
    handler, merchant = open_backend(), open_backend()
    store_order(handler, an_order("o1"))
    handler.store_events([an_event("e1")], NOW)
    marks = handler.ledger_marks(["o1"])
    merchant.claim_units(fulfil_request("o1", "r1", 1), LATER)
    outcome = EventOutcome("e1", "handled", handled_at=LATER, order_id="o1")
    handler.commit_ledger(LedgerWrites(events=[outcome]), LATER, marks=marks)
    assert [e.id for e in handler.due_events(LATER, 10)] == ["e1"]


def test_a_decision_on_the_current_ledger_is_committed(store: StateBackend) -> None:
    """With unchanged marks every write is committed and nothing is reported stale."""
    _with_intents(store, an_intent())
    marks = store.ledger_marks(["o1"])
    stale = store.commit_ledger(LedgerWrites(history=[("o1", None, "current")]), LATER, marks=marks)
    assert (stale, [h.summary for h in store.history("o1")]) == (frozenset(), ["current"])


def test_claimed_writes_are_marked_sent_before_they_are_returned(
    open_backend: OpenBackend,
) -> None:
    """A claimed write comes back unsent, but is stored as sent (a crash reads it back)."""
    with open_backend() as store:
        _with_intents(store, an_intent())
        claimed = store.claim_due_writes(LATER, 5)
    with open_backend() as store:
        assert ([e.sent_at for e in claimed], [e.sent_at for e in store.ledger("o1")]) == (
            [None],
            [LATER],
        )


def test_a_write_claimed_again_says_it_may_have_landed(store: StateBackend) -> None:
    """A second claim of an unsettled write returns it with ``sent_at``: read back first."""
    _with_intents(store, an_intent())
    store.claim_due_writes(LATER, 5)
    assert [e.sent_at for e in store.claim_due_writes(LATEST, 5)] == [LATER]


def test_due_writes_are_one_per_order_and_skip_busy_orders(store: StateBackend) -> None:
    """Each order's oldest pending write only, none of the orders given as busy."""
    store_order(store, an_order("o2"))
    _with_intents(
        store,
        an_intent("o1", "first"),
        an_intent("o1", "second"),
        an_intent("o2", "other"),
    )
    assert (
        [e.intent.key for e in store.claim_due_writes(LATER, 5, skip_orders={"o2"})],
        [e.intent.key for e in store.claim_due_writes(LATER, 5, skip_orders={"o1"})],
    ) == (["first"], ["other"])


def test_writes_not_yet_due_are_not_claimed(store: StateBackend) -> None:
    """A write waiting for its retry time is not claimed before it."""
    _with_intents(store, an_intent())
    store.commit_ledger(LedgerWrites(retries=[WriteRetry("capture:s1", "503", LATEST)]), NOW)
    assert (store.claim_due_writes(LATER, 5), len(store.claim_due_writes(LATEST, 5))) == ([], 1)


def test_retries_count_attempts_and_park_without_a_time(store: StateBackend) -> None:
    """Each retry counts an attempt; one without a next time parks the write."""
    _with_intents(store, an_intent())
    store.commit_ledger(LedgerWrites(retries=[WriteRetry("capture:s1", "503", LATER)]), NOW)
    store.commit_ledger(LedgerWrites(retries=[WriteRetry("capture:s1", "504", None)]), NOW)
    entry = store.ledger("o1")[0]
    assert (entry.attempts, entry.last_error, entry.parked) == (2, "504", True)


def test_answers_record_the_proof_or_the_refusal(store: StateBackend) -> None:
    """A landed write keeps its reference; a later refusal message does not erase it."""
    _with_intents(store, an_intent())
    store.commit_ledger(LedgerWrites(answers=[WriteAnswer("capture:s1", reference="f-1")]), NOW)
    store.commit_ledger(LedgerWrites(answers=[WriteAnswer("capture:s1", error="409")]), NOW)
    entry = store.ledger("o1")[0]
    assert (entry.reference, entry.last_error) == ("f-1", "409")


def test_pending_and_landed_counts(store: StateBackend) -> None:
    """Pending intents and landed captures are counted."""
    done = replace(an_intent(key="capture:s2"), status="done")
    _with_intents(store, an_intent(), an_intent(key="capture:s2"))
    store.commit_ledger(LedgerWrites(updated_intents={done.key: done}), NOW)
    assert (store.count_pending_intents(), store.captures_done()) == (1, 1)


def test_notifications_are_logged_newest_first(store: StateBackend) -> None:
    """Logged notifications come back newest first, up to the limit."""
    store.add_notifications([NotificationRecord(NOW, "lag", "one")])
    store.add_notifications([NotificationRecord(LATER, "lag", "two")])
    assert [n.message for n in store.notifications(limit=1)] == ["two"]


def test_the_ledger_survives_reopen(open_backend: OpenBackend) -> None:
    """Orders, intents and history are there after a reopen."""
    with open_backend() as store:
        _with_intents(store, an_intent())
        store.commit_ledger(LedgerWrites(history=[("o1", None, "kept")]), NOW)
    with open_backend() as store:
        assert (
            store.order("o1"),
            [e.intent for e in store.ledger("o1")],
            [h.summary for h in store.history("o1")],
        ) == (an_order(), [an_intent()], ["kept"])


# -- merchant requests ----------------------------------------------------------------------
def test_a_claim_records_request_lines_intents_and_history(store: StateBackend) -> None:
    """The request, its lines, its intents and its history line are recorded together."""
    store_order(store, an_order())
    recorded = store.claim_units(fulfil_request("o1", "r1", 2), LATER)
    assert (
        store.requests_of("o1"),
        store.request_lines_of("o1"),
        [e.intent for e in store.ledger("o1")],
        [h.summary for h in store.history("o1")],
        store.request_order_ids(),
        store.all_request_lines(),
    ) == (
        [recorded.request],
        list(recorded.lines),
        list(recorded.intents),
        ["request r1"],
        ["o1"],
        [(line, "o1") for line in recorded.lines],
    )


def test_a_refused_claim_records_nothing(store: StateBackend) -> None:
    """When the decision refuses, no request, line or intent is left behind."""
    store_order(store, an_order(quantity=2))
    with pytest.raises(RequestRefusedError):
        store.claim_units(fulfil_request("o1", "r1", 3), LATER)
    assert (store.requests_of("o1"), store.ledger("o1"), store.history("o1")) == ([], [], [])


def test_a_claim_failing_while_writing_records_nothing(store: StateBackend) -> None:
    """A claim whose writes fail part-way (an unserialisable intent) leaves nothing."""
    store_order(store, an_order())
    broken = replace(an_intent(key="broken"), body={"not json": object()})

    def decide(_reader: LedgerReader) -> tuple[RequestClaims, None]:
        return RequestClaims(intents=(an_intent(), broken), history=(("o1", "x"),)), None

    with pytest.raises(PydanticSerializationError):
        store.claim_units(decide, LATER)
    assert (store.ledger("o1"), store.history("o1")) == ([], [])


def test_a_claim_decides_on_the_units_already_claimed(store: StateBackend) -> None:
    """A second claim for units already taken is refused."""
    store_order(store, an_order(quantity=2))
    store.claim_units(fulfil_request("o1", "r1", 2), LATER)
    with pytest.raises(RequestRefusedError):
        store.claim_units(fulfil_request("o1", "r2", 1), LATER)
    assert claimed_units(store) == 2


def test_a_claim_started_during_another_claim_sees_its_units_taken(
    open_backend: OpenBackend,
) -> None:
    """Two store objects, the second claim started from inside the first's decision: the
    first wins and the second, deciding on what the first recorded, is refused."""
    first, second = open_backend(), open_backend()
    store_order(first, an_order(quantity=2))
    outcome: list[str] = []

    def second_claim() -> None:
        try:
            second.claim_units(fulfil_request("o1", "r2", 2), LATER)
        except RequestRefusedError:
            outcome.append("refused")
        else:
            outcome.append("recorded")

    racer = threading.Thread(target=second_claim)
    started = threading.Event()
    decide_first = fulfil_request("o1", "r1", 2)

    def first_decides(reader: LedgerReader) -> tuple[RequestClaims, RecordedRequest]:
        if not started.is_set():  # a backend may decide again: the racer starts once
            started.set()
            racer.start()
        return decide_first(reader)

    first.claim_units(first_decides, LATER)
    racer.join()
    assert (outcome, [r.request_id for r in first.requests_of("o1")], claimed_units(first)) == (
        ["refused"],
        ["r1"],
        2,
    )


def test_two_claims_racing_for_the_last_units_one_wins(open_backend: OpenBackend) -> None:
    """Two threads, two store objects, both claiming the last two units: exactly one wins."""
    stores = [open_backend(), open_backend()]
    store_order(stores[0], an_order(quantity=2))
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def claim(store: StateBackend, request_id: str) -> None:
        start.wait()
        try:
            store.claim_units(fulfil_request("o1", request_id, 2), LATER)
        except RequestRefusedError:
            outcomes.append("refused")
        else:
            outcomes.append("recorded")

    threads = [threading.Thread(target=claim, args=(s, f"r{n}")) for n, s in enumerate(stores, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (sorted(outcomes), claimed_units(stores[0]), len(stores[1].requests_of("o1"))) == (
        ["recorded", "refused"],
        2,
        1,
    )


def test_a_processed_request_file_is_known_by_name_and_content(store: StateBackend) -> None:
    """The same name with other content is a new file; the same content is known."""
    file = RequestFileRecord("a.csv", "h1", "processed", 1, 0)
    store.claim_units(lambda _: (RequestClaims(file=file), None), NOW)
    assert (
        store.request_file_outcome("a.csv", "h1"),
        store.request_file_outcome("a.csv", "h2"),
    ) == (
        "processed",
        None,
    )


@pytest.mark.parametrize("status", INTENT_STATUSES)
def test_a_request_is_open_until_its_intent_lands(
    store: StateBackend, status: IntentStatus
) -> None:
    """The open count follows the core's rule: open while a line's intent has not landed."""
    store_order(store, an_order())
    recorded = store.claim_units(fulfil_request("o1", "r1", 1), NOW)
    intent = replace(recorded.intents[0], status=status)
    store.commit_ledger(LedgerWrites(updated_intents={intent.key: intent}), NOW)
    assert store.count_open_requests() == int(status != "done")


def test_due_request_intents_count_only_due_request_writes(store: StateBackend) -> None:
    """Only pending request intents whose time has come are counted."""
    _with_intents(store, an_intent())
    store.claim_units(fulfil_request("o1", "r1", 1), LATER)
    assert (store.due_request_intents(NOW), store.due_request_intents(LATER)) == (0, 1)


def test_a_line_retry_points_the_line_at_its_new_intent(store: StateBackend) -> None:
    """A merchant retry re-points the line, counts the retry and keeps the cleared message."""
    store_order(store, an_order())
    recorded = store.claim_units(fulfil_request("o1", "r1", 1), NOW)
    line = recorded.lines[0]
    retry = LineRetry(line.request_id, line.line_id, "request:r1.L1.r1:capture", "400 bad")
    store.claim_units(lambda _: (RequestClaims(line_retries=(retry,)), None), LATER)
    again = store.request_lines_of("o1")[0]
    assert (again.intent_key, again.retries, again.retried_message) == (
        "request:r1.L1.r1:capture",
        1,
        "400 bad",
    )


def test_a_claim_makes_parked_writes_of_an_origin_due_again(store: StateBackend) -> None:
    """Unparking by origin makes a parked write due and resets its attempts."""
    _with_intents(store, an_intent(origin=Origin.request("r1")))
    store.commit_ledger(LedgerWrites(retries=[WriteRetry("capture:s1", "503", None)]), NOW)
    store.claim_units(
        lambda _: (RequestClaims(unpark_origins=(Origin.request("r1"),)), None), LATER
    )
    entry = store.ledger("o1")[0]
    assert (entry.parked, entry.attempts, entry.next_attempt_at) == (False, 0, LATER)


@pytest.mark.parametrize("origin_id", ["r1", "r%", "r_", "request:r1", "'; --"])
def test_unparking_an_origin_leaves_every_other_origin_parked(
    store: StateBackend, origin_id: str
) -> None:
    """An origin is matched by kind and id exactly: the event of the same id, and ids that
    only look alike to a text pattern, keep their writes parked."""
    others = [Origin.event(origin_id), Origin.request(f"{origin_id}x"), Origin.request("r")]
    intents = [
        an_intent(key=f"k{n}", origin=origin)
        for n, origin in enumerate([Origin.request(origin_id), *others])
    ]
    _with_intents(store, *intents)
    parked = [WriteRetry(i.key, "503", None) for i in intents]
    store.commit_ledger(LedgerWrites(retries=parked), NOW)
    unpark = RequestClaims(unpark_origins=(Origin.request(origin_id),))
    store.claim_units(lambda _: (unpark, None), LATER)
    assert [e.intent.key for e in store.ledger("o1") if not e.parked] == ["k0"]


def test_requests_survive_reopen(open_backend: OpenBackend) -> None:
    """The request log is there after a reopen."""
    with open_backend() as store:
        store_order(store, an_order())
        recorded = store.claim_units(fulfil_request("o1", "r1", 1), NOW)
    with open_backend() as store:
        assert store.requests_of("o1") == [recorded.request]


# -- leadership -----------------------------------------------------------------------------
def _term_over(open_backend: OpenBackend) -> StateBackend:
    """A store fenced with ``a``'s first term, after ``a`` released it and ``b`` took over."""
    old = open_backend()
    _with_intents(old, an_intent())
    first = old.take_lease("a", 30)
    old.fence_with(first.fence)
    old.release_lease("a", first.epoch)
    open_backend().take_lease("b", 30)
    return old


def test_the_first_take_starts_term_one(store: StateBackend) -> None:
    """A lease nobody ever held is granted in epoch 1, taken from nobody."""
    lease = store.take_lease("a", 30)
    assert (lease.held_by("a"), lease.epoch, lease.taken_from) == (True, 1, None)


def test_renewing_keeps_the_epoch(store: StateBackend) -> None:
    """The holder renewing its live lease stays in the same term."""
    store.take_lease("a", 30)
    assert (store.take_lease("a", 30).epoch, store.lease().epoch) == (1, 1)


def test_a_live_lease_of_another_is_left_alone(open_backend: OpenBackend) -> None:
    """While ``a``'s lease runs, ``b`` asking gets ``a``'s lease back, unchanged."""
    open_backend().take_lease("a", 30)
    lease = open_backend().take_lease("b", 30)
    assert (lease.holder, lease.epoch, lease.held_by("b")) == ("a", 1, False)


def test_a_run_out_lease_is_taken_in_a_new_term(open_backend: OpenBackend) -> None:
    """Once ``a``'s lease ran out (the database's clock), ``b`` takes it in epoch 2."""
    open_backend().take_lease("a", 0.001)
    store = open_backend()
    lease = store.take_lease("b", 30)
    while not lease.held_by("b"):  # the millisecond may not have passed on the server yet
        lease = store.take_lease("b", 30)
    assert (lease.epoch, lease.taken_from) == (2, "a")


def test_a_released_lease_is_taken_at_once(open_backend: OpenBackend) -> None:
    """A clean stop ends the term: a standby need not wait for the expiry."""
    first = open_backend()
    first.release_lease("a", first.take_lease("a", 30).epoch)
    lease = open_backend().take_lease("b", 30)
    assert (lease.held_by("b"), lease.epoch, lease.taken_from) == (True, 2, "a")


def test_claims_of_the_current_term_commit(store: StateBackend) -> None:
    """A fenced store whose term holds the lease claims as an unfenced one does."""
    _with_intents(store, an_intent())
    store.fence_with(store.take_lease("a", 30).fence)
    assert [e.intent.key for e in store.claim_due_writes(LATER, 5)] == ["capture:s1"]


def test_a_claim_of_an_ended_term_is_fenced(open_backend: OpenBackend) -> None:
    """Claiming due writes after the epoch moved raises and marks nothing sent."""
    old = _term_over(open_backend)
    with pytest.raises(FencedError, match="epoch 1 is over"):
        old.claim_due_writes(LATER, 5)
    assert [e.sent_at for e in old.ledger("o1")] == [None]


def test_a_ledger_commit_of_an_ended_term_is_fenced(open_backend: OpenBackend) -> None:
    """Recording outcomes after the epoch moved raises and commits nothing."""
    old = _term_over(open_backend)
    with pytest.raises(FencedError):
        old.commit_ledger(LedgerWrites(new_intents=[an_intent(key="capture:s2")]), LATER)
    assert [e.intent.key for e in old.ledger("o1")] == ["capture:s1"]


def test_a_unit_claim_of_an_ended_term_is_fenced(open_backend: OpenBackend) -> None:
    """A merchant request's claim after the epoch moved raises and claims no unit."""
    old = _term_over(open_backend)
    with pytest.raises(FencedError):
        old.claim_units(fulfil_request("o1", "r1", 1), LATER)
    assert old.requests_of("o1") == []


def test_a_requeue_of_an_ended_term_is_fenced(open_backend: OpenBackend) -> None:
    """Requeueing dead letters after the epoch moved raises and requeues nothing."""
    old = _term_over(open_backend)
    old.store_events([an_event("e1", status="dead")], NOW)
    with pytest.raises(FencedError):
        old.requeue_events(None, LATER)
    assert old.inbox_counts()["dead"] == 1


def test_a_run_out_term_is_fenced_before_anyone_takes_over(open_backend: OpenBackend) -> None:
    """A leader whose lease ran out claims nothing even while no other instance leads."""
    store = open_backend()
    _with_intents(store, an_intent())
    store.fence_with(store.take_lease("a", 0.001).fence)
    while store.lease().remaining > 0:  # the millisecond may not have passed yet
        pass
    with pytest.raises(FencedError, match="nobody holds the lease"):
        store.claim_due_writes(LATER, 5)


def test_instances_are_listed_with_their_roles(store: StateBackend) -> None:
    """Each instance's last report replaces its previous one; all are listed by name."""
    store.record_instance(InstanceRecord("b", "host-b", 2, "standby", None))
    store.record_instance(InstanceRecord("a", "host-a", 1, "standby", None))
    store.record_instance(InstanceRecord("a", "host-a", 1, "leader", 3))
    listed = [(i.name, i.role, i.epoch, bool(i.last_seen)) for i in store.instances()]
    assert listed == [("a", "leader", 3, True), ("b", "standby", None, True)]


def test_catalog_files_remember_what_was_applied(store: StateBackend) -> None:
    """Applied files keep their size and modification time; a skipped mark is cleared when
    the file is applied again."""
    store.record_catalog_files({"a.csv": (10, 5), "b.csv": (20, 6)}, (), NOW)
    store.record_catalog_files({}, ["a.csv"], LATER)
    skipped = store.catalog_files()["a.csv"].skipped_at
    store.record_catalog_files({"a.csv": (11, 7)}, (), LATEST)
    files = store.catalog_files()
    assert (skipped, files["a.csv"], files["b.csv"].mtime_ns) == (
        LATER,
        CatalogFileRecord("a.csv", 11, 7, LATEST, None),
        6,
    )


# -- activity over a period -----------------------------------------------------------------
EVER = ("2000-01-01T00:00:00.000000Z", "9999-01-01T00:00:00.000000Z")


def _settle(store: StateBackend, intent: Intent, status: IntentStatus, now: str) -> None:
    ended = replace(intent, status=status)
    store.commit_ledger(LedgerWrites(updated_intents={ended.key: ended}), now)


def test_runs_between_are_those_started_in_the_period(store: StateBackend) -> None:
    """Runs come back oldest first, with their kind; a period after them holds none."""
    first = store.start_run("reconcile", dry_run=False)
    second = store.start_run("audit", dry_run=False)
    store.finish_run(second, counts={"drift_fixed": 2}, failures=0, report_path=None)
    found = [(r.id, r.kind, r.counts) for r in store.runs_between(*EVER)]
    assert (found, store.runs_between(EVER[1], "9999-12-31")) == (
        [(first, "reconcile", {}), (second, "audit", {"drift_fixed": 2})],
        [],
    )


def test_settled_writes_are_those_that_ended_in_the_period(store: StateBackend) -> None:
    """A write that landed or failed is counted when it ended; a pending one never."""
    landed, refused, open_ = (an_intent(key=f"capture:s{n}") for n in (1, 2, 3))
    _with_intents(store, landed, refused, open_)
    _settle(store, landed, "done", LATER)
    _settle(store, refused, "failed", LATEST)
    in_later = store.writes_settled_between(LATER, LATEST)
    assert (
        [(w.entry.intent.key, w.entry.intent.status, w.at) for w in in_later],
        [w.entry.intent.key for w in store.writes_settled_between(*EVER)],
    ) == ([("capture:s1", "done", LATER)], ["capture:s1", "capture:s2"])


def test_order_events_are_found_through_the_order_history(store: StateBackend) -> None:
    """The payload of an order's handled order event; another order's event is not its."""
    accepted = an_event("e-acc", kind="order.accepted")
    store.store_events([accepted, an_event("e-other", kind="order.accepted")], NOW)
    store.commit_ledger(LedgerWrites(history=[("o1", "e-acc", "accepted")]), NOW)
    store.commit_ledger(LedgerWrites(history=[("o2", "e-other", "accepted")]), NOW)
    assert store.order_events(["o1", "o3"]) == {"o1": [accepted.payload]}


def test_events_handled_between_count_per_status(store: StateBackend) -> None:
    """Events are counted by the status they were handled with, when they were handled."""
    store.store_events([an_event("e1"), an_event("e2"), an_event("e3")], NOW)
    outcomes = [
        EventOutcome("e1", "handled", handled_at=LATER),
        EventOutcome("e2", "ignored", handled_at=LATER),
        EventOutcome("e3", "handled", handled_at=LATEST),
    ]
    store.commit_ledger(LedgerWrites(events=outcomes), LATER)
    assert store.events_handled_between(NOW, LATEST) == {"handled": 1, "ignored": 1}


def test_orders_touched_between_counts_each_order_once(store: StateBackend) -> None:
    """Two history lines of one order and one of another: two orders."""
    lines: list[HistoryLine] = [("o1", None, "a"), ("o1", None, "b"), ("o2", None, "c")]
    store.commit_ledger(LedgerWrites(history=lines), NOW)
    store.commit_ledger(LedgerWrites(history=[("o3", None, "d")]), LATER)
    assert store.orders_touched_between(NOW, LATER) == 2


def test_notifications_between_are_those_logged_in_the_period(store: StateBackend) -> None:
    """Oldest first, none from outside the period."""
    early = NotificationRecord(NOW, "dead_letter", "e1 is dead", None, "e1")
    late = NotificationRecord(LATEST, "backorder", "wait", "o1", "e2")
    store.add_notifications([early, late])
    assert store.notifications_between(NOW, LATER) == [early]


def test_requests_between_come_with_their_lines(store: StateBackend) -> None:
    """A request received in the period comes with the lines it claimed."""
    store_order(store, an_order())
    recorded = store.claim_units(fulfil_request("o1", "r1", 2), LATER)
    assert (store.requests_between(NOW, LATER), store.requests_between(LATER, LATEST)) == (
        [(recorded.request, list(recorded.lines))],
        [],
    )
