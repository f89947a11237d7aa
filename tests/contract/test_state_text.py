"""Any text the state is given comes back the same from both backends, a NUL character included.

SQLite keeps a NUL inside text; PostgreSQL refuses it in a ``text`` column, so its backend
escapes it (``state/pg_text.py``). Event ids and types, error texts from the API and history
lines are the texts that come from outside.
"""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.contract.state_backend_helpers import NOW, an_intent, an_order, store_order
from tests.contract.test_state_backend import open_backend, store
from tests.hostile_values import PLAIN, control_characters, text_holding

from catalog_sync.state import InboxEvent, LedgerWrites, StateBackend, WriteRetry
from catalog_sync.state.pg_text import ESCAPE, NUL

__all__ = ["open_backend", "store"]

#: Text from outside: plain, with a NUL, with the escape character, with other controls.
OUTSIDE_TEXT = st.one_of(
    PLAIN,
    text_holding(st.just(NUL)),
    text_holding(st.sampled_from([ESCAPE, f"{ESCAPE}0", f"{ESCAPE}{ESCAPE}"])),
    text_holding(control_characters()),
    st.text(st.sampled_from([NUL, ESCAPE, "0", "a"]), min_size=1, max_size=8),
)
#: One database per test, many examples: each example gets ids of its own.
PER_DATABASE = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
_serial = itertools.count()


@PER_DATABASE
@given(text=OUTSIDE_TEXT)
def test_an_event_keeps_its_id_type_and_error(store: StateBackend, text: str) -> None:
    """An event whose id, type and error hold any text is stored and read back unchanged."""
    event_id = f"{next(_serial)}{text}"
    payload = {"id": event_id, "type": text, "data": {"object": {"id": text}}}
    event = InboxEvent(event_id, text, NOW, payload, "dead", last_error=text)
    store.store_events([event], NOW)
    back = store.inbox_event(event_id)
    assert back is not None
    assert (back.id, back.type, back.last_error, back.payload) == (event_id, text, text, payload)
    assert event_id in store.known_event_ids([event_id])


@PER_DATABASE
@given(text=OUTSIDE_TEXT)
def test_a_write_keeps_its_error_and_history(store: StateBackend, text: str) -> None:
    """A write's error and the order's history line keep any text the API answered with."""
    order_id = f"o{next(_serial)}"
    store_order(store, an_order(order_id))
    key = f"capture:{order_id}:{text}"
    store.commit_ledger(LedgerWrites(new_intents=[an_intent(order_id, key)]), NOW)
    writes = LedgerWrites(retries=[WriteRetry(key, text, None)], history=[(order_id, None, text)])
    store.commit_ledger(writes, NOW)
    [entry] = store.ledger(order_id)
    assert (entry.intent.key, entry.last_error) == (key, text)
    assert [h.summary for h in store.history(order_id)][-1] == text
