"""SKU ids follow the API's rules: its characters, at most 255 of them, and never a dot segment.

An id becomes a URL path segment; ``.`` and ``..`` would be normalised away (``PUT /skus/.``
sent as ``PUT /skus``), and an unbounded id is unbounded memory in every layer.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.core.conftest import Check

from catalog_sync.core import codes
from catalog_sync.core.pairs import DesiredPair
from catalog_sync.core.problems import Problem

ID_CHARS = string.ascii_letters + string.digits + "._-"


@pytest.mark.parametrize("pair_id", [".", "..", "x" * 256, "a/b", "a b", "é", ""])
def test_ids_outside_the_rules_are_refused(check: Check, pair_id: str) -> None:
    """Dot segments, over-long ids and foreign characters make the row an error on ``id``."""
    (problem,) = check({"id": pair_id}) if pair_id else check({"id": None})
    assert isinstance(problem, Problem)
    assert problem.field == "id"


def test_dot_segment_message_states_the_rules(check: Check) -> None:
    """The message says what an id may be, length included."""
    (problem,) = check({"id": ".."})
    assert str(problem) == (
        "c.json:1: id: '..' is not a valid SKU id: "
        "use only A-Z a-z 0-9 . - _, at most 255 characters, not . or .."
    )


@given(st.text(ID_CHARS, min_size=1, max_size=255).filter(lambda i: i not in {".", ".."}))
def test_ids_within_the_rules_are_accepted(pair_id: str) -> None:
    """Any id of the allowed characters, 1 to 255 long, that is not a dot segment is valid."""
    assert codes.is_valid_id(pair_id)


def test_longest_id_is_accepted(check: Check) -> None:
    """255 characters is the limit itself."""
    (pair,) = check({"id": "a" * 255})
    assert isinstance(pair, DesiredPair)


@given(st.text(min_size=1, max_size=300))
def test_every_valid_id_is_a_safe_path_segment(pair_id: str) -> None:
    """Whatever the text, an id the rules accept is short, ASCII and not a dot segment."""
    if codes.is_valid_id(pair_id):
        assert len(pair_id) <= codes.ID_MAX_LENGTH
        assert set(pair_id) <= set(ID_CHARS)
        assert pair_id not in {".", ".."}
