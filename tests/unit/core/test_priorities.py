"""The order in which waiting calls spend the rate budget."""

from __future__ import annotations

from catalog_sync.core.priorities import Priority, priority_of


def test_captures_go_before_event_reads_and_event_reads_before_catalog_writes() -> None:
    """A capture never waits behind an event read, nor an event read behind a SKU write."""
    assert priority_of("fulfillments") < priority_of("events") < priority_of("skus")


def test_an_unknown_resource_is_treated_as_an_event_read() -> None:
    """A resource the table does not name neither jumps the money queue nor waits for bulk."""
    assert priority_of("returns") is Priority.EVENTS
