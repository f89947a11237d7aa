"""Formats Digital River validates, as the catalog (and request files) check them.

Kept in one place so that the catalog rejects locally what the API would reject remotely
(docs/digital-river-api.md §2, §7.3). The sandbox keeps its own rules on purpose, and
tests/format_examples.py holds both to one table of examples.
"""

from __future__ import annotations

import re
from typing import Final

import pycountry

#: The strictest current rule (docs/digital-river-api.md §2); anything else is
#: ``400 invalid_parameter``.
ID_PATTERN: Final = re.compile(r"^[A-Za-z0-9._-]+$")
#: No length is documented (docs/digital-river-api.md §17); ids are URL path segments and
#: database keys, so they are bounded like most APIs bound them.
ID_MAX_LENGTH: Final = 255
#: Ids a URL path cannot carry: as a path segment they mean "this folder" and "the parent".
DOT_SEGMENTS: Final = frozenset({".", ".."})
#: The id rules as a person reads them in a problem.
ID_RULES: Final = f"use only A-Z a-z 0-9 . - _, at most {ID_MAX_LENGTH} characters, not . or .."

#: ``####.##.####`` (docs/digital-river-api.md §7.3): the first 6 digits are mandatory, at most
#: 10 digits, dots are not counted. The API validates only the format; so does this.
#: ASCII digits only: ``\d`` would also take the digits of every other script (``١٢٣٤٥٦``).
HS_CODE_PATTERN: Final = re.compile(r"^[0-9]{4}\.?[0-9]{2}(?:\.?[0-9]{1,4})?$")

#: ECCN: ``EAR99`` or a Commerce Control List number such as ``5A992.c`` / ``4A994.b``.
#: The API also checks an approved list we cannot see; the format catches typos early.
ECCN_PATTERN: Final = re.compile(r"^(?:EAR99|[0-9][A-E][0-9]{3}(?:\.[a-z0-9]{1,3})*)$")

WEIGHT_UNITS: Final = frozenset({"oz", "lb", "g", "kg"})

#: Valid ISO 3166-1 alpha-2 codes the API still refuses (docs/digital-river-api.md §2: ``KP``).
REFUSED_COUNTRIES: Final = frozenset({"KP"})

COUNTRY_CODES: Final = frozenset(c.alpha_2 for c in pycountry.countries)
_ALPHA3_TO_ALPHA2: Final = {c.alpha_3: c.alpha_2 for c in pycountry.countries}
_NAME_TO_ALPHA2: Final = {c.name.casefold(): c.alpha_2 for c in pycountry.countries}


def is_valid_id(value: str) -> bool:
    """Return whether ``value`` is an id the API accepts for SKUs and inventory items."""
    return (
        len(value) <= ID_MAX_LENGTH
        and value not in DOT_SEGMENTS
        and bool(ID_PATTERN.fullmatch(value))
    )


def is_valid_hs_code(value: str) -> bool:
    """Return whether ``value`` has the HS code format the API checks."""
    return bool(HS_CODE_PATTERN.fullmatch(value))


def is_valid_eccn(value: str) -> bool:
    """Return whether ``value`` has the format of an export control classification number."""
    return bool(ECCN_PATTERN.fullmatch(value))


def is_accepted_country(value: str) -> bool:
    """Return whether the API accepts ``value`` as a country of origin."""
    return value in COUNTRY_CODES and value not in REFUSED_COUNTRIES


def suggest_country(value: str) -> str | None:
    """Return the alpha-2 code a person most likely meant by ``value`` (``USA`` -> ``US``)."""
    text = value.strip()
    upper = text.upper()
    if upper in COUNTRY_CODES and upper != text:
        return upper
    return _ALPHA3_TO_ALPHA2.get(upper) or _NAME_TO_ALPHA2.get(text.casefold())
