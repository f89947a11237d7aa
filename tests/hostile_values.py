"""Hypothesis strategies for the inputs a careless or hostile catalog holds.

Shared by the catalog rule tests and the fuzz tests, so both try the same classes: text with
lone surrogates or control characters, digits of other scripts, integers outside every range,
and arbitrary JSON made of all of them.
"""

from __future__ import annotations

import json
import string

from hypothesis import strategies as st

#: Text a field may legitimately hold: any printable character but the surrogates.
PLAIN = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=12)

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def lone_surrogates() -> st.SearchStrategy[str]:
    """One code point of the surrogate range: valid in a JSON escape, never in UTF-8."""
    return st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)


def control_characters(*, line_breaks: bool = True) -> st.SearchStrategy[str]:
    """One C0, DEL or C1 control character; without tab, LF and CR if not ``line_breaks``."""
    controls = st.characters(categories=["Cc"])
    if line_breaks:
        return controls
    return controls.filter(lambda c: c not in "\t\n\r")


def text_holding(bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Ordinary text with one ``bad`` character somewhere inside (never at the trimmed ends)."""
    return st.builds(lambda before, char, after: f"x{before}{char}{after}x", PLAIN, bad, PLAIN)


def foreign_digits() -> st.SearchStrategy[str]:
    """Numbers written with decimal digits that are not ASCII (Arabic-Indic, fullwidth...)."""
    digit = st.characters(categories=["Nd"]).filter(lambda c: not c.isascii())
    return st.text(digit, min_size=1, max_size=4)


def loose_numbers() -> st.SearchStrategy[str]:
    """Spellings Python's ``float`` accepts that are not plain ASCII decimals."""
    return st.one_of(
        st.sampled_from(["1_000", "1e3", "1E-2", "inf", "nan", "Infinity", "0x10", "+2", " 2 3"]),
        st.builds(lambda a, b: f"{a}_{b}", st.integers(1, 999), st.integers(0, 999)),
        st.builds(lambda a, e: f"{a}e{e}", st.integers(1, 99), st.integers(-5, 5)),
    )


def out_of_range_integers() -> st.SearchStrategy[int]:
    """Integers outside the 64-bit signed range, up to 400 digits."""
    return st.one_of(
        st.integers(min_value=INT64_MAX + 1, max_value=10**400),
        st.integers(min_value=-(10**400), max_value=INT64_MIN - 1),
    )


def hostile_text() -> st.SearchStrategy[str]:
    """Text of every kind at once: plain, surrogates, controls, long."""
    return st.one_of(
        PLAIN,
        text_holding(lone_surrogates()),
        text_holding(control_characters()),
        st.text(max_size=40),
        st.text(string.digits + "._-", min_size=1, max_size=8),
    )


def json_values() -> st.SearchStrategy[object]:
    """Arbitrary JSON made of hostile text, huge and tiny numbers, nested arrays and objects."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**400), max_value=10**400),
        st.floats(allow_nan=True, allow_infinity=True),
        hostile_text(),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(hostile_text(), inner, max_size=4),
        ),
        max_leaves=12,
    )


def json_text(value: object) -> str:
    """``value`` as JSON text; surrogates become ``\\ud800`` escapes, as a JSON file holds them."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)
