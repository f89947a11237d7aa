"""The value formats the emulated API checks: ids, HS codes, ECCNs, countries, weight units.

Written from docs/digital-river-api.md (§2, §7.3, §8.2), on purpose without the client's own
validator: an emulator that shared the client's rules would agree with the client's mistakes,
and no test could see them. The only shared code is an outside fact, the ISO 3166-1 country
list (pycountry). Where the page is silent the choice is an assumption in ``assumptions.py``.
"""

from __future__ import annotations

import string
from typing import Final

import pycountry

from catalog_sync.sandbox.assumptions import ECCN_PARAGRAPH_MAX, ID_DOT_SEGMENTS, ID_MAX_LENGTH

#: docs/digital-river-api.md §2: the SKU guide's current charset, ``0-9 A-Z a-z . - _``.
ID_CHARACTERS: Final = frozenset(string.ascii_letters + string.digits + ".-_")
#: docs/digital-river-api.md §7.3: "6 digits mandatory, up to 10, dots not counted".
HS_CODE_DIGITS: Final = range(6, 11)
#: Where ``####.##.####`` puts its dots: after the 4th and after the 6th digit.
HS_CODE_DOTS_AFTER: Final = frozenset({4, 6})
#: The Commerce Control List's product groups: systems, test equipment, materials, software,
#: technology.
ECCN_GROUPS: Final = frozenset("ABCDE")
#: docs/digital-river-api.md §7.3: the four units of ``weightUnit``.
WEIGHT_UNITS: Final = frozenset({"oz", "lb", "g", "kg"})
#: docs/digital-river-api.md §2, §3.3: valid ISO codes DR refuses as a country of origin.
REFUSED_ORIGINS: Final = frozenset({"KP"})
#: ISO 3166-1 alpha-2 (docs/digital-river-api.md §2), as the ISO list has it.
COUNTRIES: Final = frozenset(country.alpha_2 for country in pycountry.countries)
_EAR99: Final = "EAR99"
_ASCII_DIGITS: Final = frozenset(string.digits)
_PARAGRAPH_CHARACTERS: Final = frozenset(string.ascii_lowercase + string.digits)


def is_id(value: str) -> bool:
    """Whether ``value`` is a SKU or inventory-item id the API takes."""
    return (
        0 < len(value) <= ID_MAX_LENGTH
        and value not in ID_DOT_SEGMENTS
        and all(char in ID_CHARACTERS for char in value)
    )


def is_hs_code(value: str) -> bool:
    """Whether ``value`` has the ``####.##.####`` shape: 6-10 digits, dots only where it shows.

    Checked character by character: a dot may follow the 4th or the 6th digit (once), must
    be followed by a digit, and nothing but ASCII digits and those dots is allowed.
    """
    digits = 0
    dots_at: list[int] = []
    for char in value:
        if char in _ASCII_DIGITS:
            digits += 1
        elif char == "." and digits in HS_CODE_DOTS_AFTER and digits not in dots_at:
            dots_at.append(digits)
        else:
            return False
    ends_with_dot = value.endswith(".")
    return digits in HS_CODE_DIGITS and not ends_with_dot


def is_eccn(value: str) -> bool:
    """Whether ``value`` reads as ``EAR99`` or a Commerce Control List number (``5A992.c``).

    A CCL number is a category digit, a product group letter, three digits, then optional
    paragraph references, each a dot and a few lower-case letters or digits (``.b.1``).
    """
    if value == _EAR99:
        return True
    head, *paragraphs = value.split(".")
    if len(head) != len("0A000"):
        return False
    category, group, number = head[0], head[1], head[2:]
    return (
        category in _ASCII_DIGITS
        and group in ECCN_GROUPS
        and all(char in _ASCII_DIGITS for char in number)
        and all(_is_paragraph(part) for part in paragraphs)
    )


def is_origin_country(value: str) -> bool:
    """Whether the API takes ``value`` as ``countryOfOrigin``: ISO alpha-2, not refused."""
    return value in COUNTRIES and value not in REFUSED_ORIGINS


def is_country(value: str) -> bool:
    """Whether ``value`` is an ISO 3166-1 alpha-2 code (an address's ``country``)."""
    return value in COUNTRIES


def is_weight_unit(value: str) -> bool:
    """Whether ``value`` is one of the units ``weightUnit`` lists (exactly as written there)."""
    return value in WEIGHT_UNITS


def _is_paragraph(part: str) -> bool:
    return 0 < len(part) <= ECCN_PARAGRAPH_MAX and all(c in _PARAGRAPH_CHARACTERS for c in part)
