"""Request-body checks with the API's error bodies (docs/digital-river-api.md §3.3, §7.3, §8.2).

Each field has a kind; a kind is a function that raises the API's 400 for a bad value and
returns the value to store (numeric strings become integers where DR coerces them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import pycountry

from catalog_sync.sandbox import rules
from catalog_sync.sandbox.assumptions import INTEGER_MAX
from catalog_sync.sandbox.clock import parse_time
from catalog_sync.sandbox.errors import (
    invalid_parameter,
    invalid_request,
    missing_parameter,
    unknown_parameter,
)

Check = Callable[[str, Any], Any]
Body = dict[str, Any]

METADATA_KEY_MAX: Final = 40
METADATA_VALUE_MAX: Final = 500
_CURRENCIES: Final = frozenset(c.alpha_3 for c in pycountry.currencies)
#: ASCII digits only: `int()` would read "٣" as 3, which no JSON API means by a number.
_INTEGER_TEXT: Final = re.compile(r"^-?[0-9]+$")
#: Longest numeric string that can be a 64-bit integer (with a sign).
_INTEGER_DIGITS: Final = len(str(-INTEGER_MAX))


def as_object(value: Any, parameter: str | None = None) -> Body:
    """Return ``value`` as a JSON object, or the 400 DR gives for a body of the wrong shape."""
    if isinstance(value, dict):
        return value
    if parameter is None:
        raise invalid_request("The request body must be a JSON object.")
    raise invalid_parameter(parameter, _shown(value))


def text(parameter: str, value: Any) -> str:
    """A string field."""
    if not isinstance(value, str):
        raise invalid_parameter(parameter, _shown(value))
    return value


def non_empty_text(parameter: str, value: Any) -> str:
    """A string field that must say something (ids, references)."""
    result = text(parameter, value)
    if not result.strip():
        raise invalid_parameter(parameter, value)
    return result


def reference(parameter: str, value: Any) -> str:
    """An id of another object; ids the API types as integers may arrive as numbers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return non_empty_text(parameter, value)


def number(parameter: str, value: Any) -> float | int:
    """A JSON number (never a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_parameter(parameter, _shown(value))
    return value


def boolean(parameter: str, value: Any) -> bool:
    """A JSON boolean."""
    if not isinstance(value, bool):
        raise invalid_parameter(parameter, _shown(value))
    return value


def count(parameter: str, value: Any) -> int:
    """A non-negative 64-bit integer; numeric strings are coerced, as DR does for ``"2"``."""
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        if len(value.strip()) > _INTEGER_DIGITS:  # int() refuses 4,300 digits with a ValueError
            raise invalid_parameter(parameter, value)
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INTEGER_MAX:
        raise invalid_parameter(parameter, _shown(value))
    return value


def positive(parameter: str, value: Any) -> int:
    """An integer of at least 1."""
    result = count(parameter, value)
    if result == 0:
        raise invalid_parameter(parameter, value)
    return result


def country(parameter: str, value: Any) -> str:
    """An ISO 3166-1 alpha-2 code the API accepts as a country of origin (``KP`` refused)."""
    result = text(parameter, value)
    if not rules.is_origin_country(result):
        raise invalid_parameter(parameter, result, "Country of Origin")
    return result


def address_country(parameter: str, value: Any) -> str:
    """An ISO 3166-1 alpha-2 code in an address."""
    result = text(parameter, value)
    if not rules.is_country(result):
        raise invalid_parameter(parameter, result)
    return result


def hs_code(parameter: str, value: Any) -> str:
    """An HS code in the format DR checks."""
    result = text(parameter, value)
    if not rules.is_hs_code(result):
        raise invalid_parameter(parameter, result, "HS code")
    return result


def eccn(parameter: str, value: Any) -> str:
    """An export control classification number (format only)."""
    result = text(parameter, value)
    if not rules.is_eccn(result):
        raise invalid_parameter(parameter, result, "ECCN")
    return result


def currency(parameter: str, value: Any) -> str:
    """An ISO 4217 currency code."""
    result = text(parameter, value)
    if result not in _CURRENCIES:
        raise invalid_parameter(parameter, result)
    return result


def weight_unit(parameter: str, value: Any) -> str:
    """One of the weight units the API lists."""
    result = text(parameter, value)
    if not rules.is_weight_unit(result):
        raise invalid_parameter(parameter, result)
    return result


def managed_fulfillment(parameter: str, value: Any) -> str:
    """The only ``managedFulfillment`` value, with DR's own message for anything else."""
    if value != "DRGlobalFulfillment":
        raise invalid_parameter(parameter, _shown(value), "item type")
    return "DRGlobalFulfillment"


def metadata(parameter: str, value: Any) -> dict[str, Any]:
    """Key -> string, boolean or integer, within the dashboard's limits."""
    result = as_object(value, parameter)
    for key, item in result.items():
        if len(key) > METADATA_KEY_MAX:
            raise invalid_parameter(f"{parameter}.{key}", key)
        if isinstance(item, str) and len(item) <= METADATA_VALUE_MAX:
            continue
        if isinstance(item, bool | int) and not isinstance(item, float):
            continue
        raise invalid_parameter(f"{parameter}.{key}", _shown(item))
    return result


def timestamp(parameter: str, value: Any) -> str:
    """An ISO-8601 date-time; kept as sent, as the API echoes ``upstreamOrderTime``."""
    result = text(parameter, value)
    if parse_time(result) is None:
        raise invalid_parameter(parameter, result)
    return result


def check_fields(
    body: Mapping[str, Any],
    kinds: Mapping[str, Check],
    *,
    prefix: str = "",
    required: tuple[str, ...] = (),
    ignored: frozenset[str] = frozenset(),
    nulls: bool = False,
) -> Body:
    """Validate ``body`` against ``kinds``; return the accepted fields (``None`` = clear).

    ``nulls`` allows explicit ``null`` (the merge-update semantics of
    docs/digital-river-api.md §7.1).
    """
    accepted: Body = {}
    for name, value in body.items():
        parameter = f"{prefix}{name}"
        if name in ignored:
            continue
        kind = kinds.get(name)
        if kind is None:
            raise unknown_parameter(parameter)
        if value is None:
            if not nulls:
                raise invalid_parameter(parameter, None)
            if name in required:
                raise invalid_parameter(parameter, None)
            accepted[name] = None
            continue
        accepted[name] = kind(parameter, value)
    if not nulls:
        for name in required:
            if name not in accepted:
                raise missing_parameter(f"{prefix}{name}")
    return accepted


def require(body: Mapping[str, Any], names: tuple[str, ...], prefix: str = "") -> None:
    """Raise ``missing_parameter`` for the first of ``names`` absent from ``body``."""
    for name in names:
        if body.get(name) is None:
            raise missing_parameter(f"{prefix}{name}")


def items_list(body: Mapping[str, Any], name: str = "items") -> list[Body]:
    """A required, non-empty array of objects."""
    value = body.get(name)
    if value is None:
        raise missing_parameter(name)
    if not isinstance(value, list) or not value:
        raise invalid_parameter(name, _shown(value))
    return [as_object(item, f"{name}[{index}]") for index, item in enumerate(value)]


def _shown(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else "object"
