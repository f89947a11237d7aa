"""One table of values the catalog validator and the sandbox must each accept or refuse.

The catalog (``catalog_sync.core``) and the sandbox keep separate rules on purpose: if they
shared one pattern, a wrong pattern would be wrong on both sides and no test over HTTP could
see it. This table is what holds them to the API's documented formats instead
(docs/digital-river-api.md §2, §7.3), edge cases first.

Each example says what the catalog does with the value and what the API (so the sandbox) does.
The two may differ only in one direction: the catalog may refuse what the API would take (a
rule of ours, given in ``why``), never take what the API refuses.

A weight is written as a person writes it in a CSV cell, and the sandbox receives the same
characters in the place of a JSON number: a form the catalog accepts is a JSON number too,
and one that is not JSON (``٣``, ``1_000``) must be refused by both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class Example:
    """A value of one field and what each side does with it."""

    field: str
    value: str
    catalog: bool
    api: bool
    why: str

    @property
    def label(self) -> str:
        """A short test id: the field and the value, long values cut."""
        shown = self.value if len(self.value) <= 20 else f"{self.value[:8]}...({len(self.value)})"
        return f"{self.field}={shown!r}"


def _both(field: str, value: str, accepted: bool, why: str) -> Example:
    return Example(field, value, catalog=accepted, api=accepted, why=why)


IDS: Final = (
    _both("id", "SKU-1", True, "letters, digits and a hyphen"),
    _both("id", "a.b_c-D9", True, "every punctuation mark of the charset"),
    _both("id", "...", True, "three dots are no dot segment"),
    _both("id", "a" * 255, True, "the longest id"),
    _both("id", "a" * 256, False, "one character too long"),
    _both("id", ".", False, "a dot segment: 'this folder' in a URL path"),
    _both("id", "..", False, "a dot segment: 'the parent' in a URL path"),
    _both("id", "a/b", False, "a slash splits the path"),
    _both("id", "a?b", False, "a question mark starts the query"),
    _both("id", "a#b", False, "a hash starts the fragment"),
    _both("id", "a%20b", False, "a percent sign starts an escape"),
    _both("id", "a:b", False, "outside the current charset"),
    _both("id", "UGG BB 06", False, "whitespace (DR's own sample)"),
    _both("id", "89&56", False, "DR's own sample of a refused id"),
    _both("id", "café", False, "a letter outside ASCII"),
    _both("id", "٣", False, "a digit of another script"),
)

HS_CODES: Final = (
    _both("hsCode", "123456", True, "6 digits, no dots"),
    _both("hsCode", "1234.56", True, "6 digits, dotted"),
    _both("hsCode", "8471.30.0100", True, "10 digits, dotted"),
    _both("hsCode", "1234567890", True, "10 digits, no dots"),
    _both("hsCode", "1234.567890", True, "the second dot left out"),
    _both("hsCode", "123456.7", True, "the first dot left out"),
    _both("hsCode", "12345", False, "5 digits"),
    _both("hsCode", "8518.3", False, "5 digits, dotted"),
    _both("hsCode", "12345678901", False, "11 digits"),
    _both("hsCode", "8518.30.20001", False, "11 digits, dotted"),
    _both("hsCode", "12.3456", False, "a dot where ####.##.#### has none"),
    _both("hsCode", "1234.5.6", False, "a dot after the 5th digit"),
    _both("hsCode", "1234..56", False, "two dots"),
    _both("hsCode", "1234.56.", False, "a trailing dot"),
    _both("hsCode", ".123456", False, "a leading dot"),
    _both("hsCode", "1234 56", False, "a space"),
    _both("hsCode", "1234.56.YW", False, "DR's own sample of a refused code"),
    _both("hsCode", "١٢٣٤٥٦", False, "digits of another script"),
)

ECCNS: Final = (
    _both("eccn", "EAR99", True, "not on the Commerce Control List"),
    _both("eccn", "5A992.c", True, "a CCL number with a paragraph"),
    _both("eccn", "4A994.b", True, "a CCL number with a paragraph"),
    _both("eccn", "5A992", True, "a CCL number alone"),
    _both("eccn", "3A001.a.1", True, "two paragraph levels"),
    _both("eccn", "ear99", False, "lower case"),
    _both("eccn", "5a992.c", False, "a lower-case product group"),
    _both("eccn", "5A992.C", False, "an upper-case paragraph"),
    _both("eccn", "5A99", False, "two digits after the group"),
    _both("eccn", "5F992", False, "no product group F"),
    _both("eccn", "5A992.", False, "an empty paragraph"),
    _both("eccn", "5A992.abcd", False, "a paragraph too long"),
    _both("eccn", "EAR 99", False, "a space"),
    _both("eccn", "\u0665A992", False, "a digit of another script (Arabic-Indic 5)"),
)

COUNTRIES: Final = (
    _both("countryOfOrigin", "US", True, "ISO 3166-1 alpha-2"),
    _both("countryOfOrigin", "DE", True, "ISO 3166-1 alpha-2"),
    _both("countryOfOrigin", "VN", True, "ISO 3166-1 alpha-2"),
    _both("countryOfOrigin", "KP", False, "valid ISO, refused by DR (its own sample)"),
    _both("countryOfOrigin", "USA", False, "alpha-3"),
    _both("countryOfOrigin", "us", False, "lower case"),
    _both("countryOfOrigin", "UK", False, "not an ISO code (GB is)"),
    _both("countryOfOrigin", "Germany", False, "a name"),
)

WEIGHTS: Final = (
    _both("weight", "2.5", True, "a decimal"),
    _both("weight", "1", True, "an integer"),
    Example("weight", "0", catalog=False, api=True, why="ours: a catalog weight is positive"),
    Example("weight", "-1", catalog=False, api=True, why="ours: a catalog weight is positive"),
    Example("weight", "1e3", catalog=False, api=True, why="ours: a catalog takes plain decimals"),
    _both("weight", "٣", False, "a digit of another script: not JSON (float() would take it)"),
    _both("weight", "1_000", False, "underscores: not JSON (float() would take it)"),
    _both("weight", "NaN", False, "not a number"),
    _both("weight", "1e999", False, "beyond a double"),
)

WEIGHT_UNITS: Final = (
    _both("weightUnit", "oz", True, "a listed unit"),
    _both("weightUnit", "lb", True, "a listed unit"),
    _both("weightUnit", "g", True, "a listed unit"),
    _both("weightUnit", "kg", True, "a listed unit"),
    _both("weightUnit", "OZ", False, "upper case"),
    _both("weightUnit", "lbs", False, "not a listed unit"),
    _both("weightUnit", "pound", False, "not a listed unit"),
)

EXAMPLES: Final = (*IDS, *HS_CODES, *ECCNS, *COUNTRIES, *WEIGHTS, *WEIGHT_UNITS)
