"""The inbox and intent status tables: which statuses exist, which are open, the moves."""

from __future__ import annotations

from typing import get_args

import pytest

from catalog_sync.core.fulfillment import (
    INBOX_OPEN,
    INBOX_STATUSES,
    INBOX_TRANSITIONS,
    DecisionStatus,
    inbox_statuses_moved_by,
)
from catalog_sync.core.orders import (
    INTENT_OPEN,
    INTENT_TRANSITIONS,
    Intent,
    IntentStatus,
    LedgerError,
    LineClaim,
    Order,
    OrderLine,
    Origin,
    fail_intent,
    settle,
)


def test_every_decision_status_is_an_inbox_status() -> None:
    """Whatever the decide step answers can be stored as the event's status."""
    assert set(get_args(DecisionStatus)) <= set(INBOX_STATUSES)


def test_every_move_is_between_known_statuses() -> None:
    """The table names no status that does not exist."""
    assert all(
        {source, target} <= set(INBOX_STATUSES) for (source, _), target in INBOX_TRANSITIONS.items()
    )


def test_only_open_events_are_handled() -> None:
    """A handling attempt starts only from an open status: a finished event is not redone."""
    assert inbox_statuses_moved_by("handled") == INBOX_OPEN


def test_retry_takes_dead_and_open_events_but_not_finished_ones() -> None:
    """``events retry`` requeues dead letters (and open events), never handled or ignored."""
    assert set(inbox_statuses_moved_by("requeue")) == {*INBOX_OPEN, "dead"}


def test_replay_takes_every_event() -> None:
    """``events replay`` sends any event back: the ledger's natural keys keep it safe."""
    assert inbox_statuses_moved_by("replay") == INBOX_STATUSES


def test_open_intents_are_the_ones_that_can_still_move() -> None:
    """An intent is open exactly while the table lets it land or fail."""
    assert set(INTENT_OPEN) == {source for source, _ in INTENT_TRANSITIONS}


@pytest.mark.parametrize("status", ["done", "failed"])
def test_a_finished_intent_cannot_move_again(status: IntentStatus) -> None:
    """Settling or failing an intent that already moved is refused by the table."""
    order = Order("o1", "accepted", "USD", (OrderLine("L1", "s", 1, physical=False),))
    intent = Intent("k", "capture", "o1", {}, (LineClaim("L1", 1, 1),), Origin.event("e"), status)
    with pytest.raises(LedgerError):
        settle(order, intent)
    with pytest.raises(LedgerError):
        fail_intent(intent, [intent])
