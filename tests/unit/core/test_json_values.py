"""``problems`` finds exactly the values ``storable`` has to change.

Every polled event is checked by ``problems``; an event it passes is stored and sent on as it
is, so a value it misses would fail later, in a write or a report.
"""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st
from tests.hostile_values import json_text, json_values

from catalog_sync.core import json_values as values


@given(json_values(), st.integers(1, 5))
def test_a_value_has_problems_exactly_when_storable_changes_it(value: object, depth: int) -> None:
    """Lone surrogates (in text or names), numbers beyond 64 bits or not finite, and nesting
    deeper than allowed are problems; anything else is kept as it is."""
    changed = json.dumps(values.storable(value, max_depth=depth)) != json.dumps(value)
    assert bool(values.problems(value, max_depth=depth)) == changed


@given(json_values())
def test_numbers_read_from_text_that_cannot_be_used_are_problems(value: object) -> None:
    """A document read by ``loads`` keeps unusable numbers as text, and they are problems."""
    read = values.loads(json_text(value))
    unusable = any(isinstance(part, values.NumberText) for part in _scalars(read))
    assert unusable <= bool(values.problems(read, max_depth=100))


def _scalars(value: object) -> list[object]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _scalars(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _scalars(item)]
    return [value]
