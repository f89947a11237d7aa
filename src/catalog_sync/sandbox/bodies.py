"""Request bodies the sandbox can keep and answer with again, and the 400 for any other.

Python's ``json`` module reads more than an answer can carry: ``"\\ud800"`` escapes become lone
surrogates that no UTF-8 encoder writes, ``NaN`` and ``1e999`` become floats a strict JSON
writer refuses, integers have no bound, and nesting is bounded only by the interpreter. Stored,
any of them would make every later answer that includes it, ``GET /events`` too, fail to
encode. So a body is read once, strictly, and refused whole (docs/digital-river-api.md §3.1:
``invalid_request``, no parameter) before a handler sees it; the limits are the sandbox's own
(``assumptions.py``, "Unrepresentable bodies").
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any, Final

from catalog_sync.sandbox.assumptions import BODY_MAX_DEPTH, INTEGER_MAX, INTEGER_MIN
from catalog_sync.sandbox.errors import ApiError, invalid_request

#: Characters of the longest integer literal that can lie in the range (with its sign);
#: ``int()`` of a longer one is refused by the check below, and of 4,300 digits by Python.
_INTEGER_CHARS: Final = len(str(INTEGER_MIN))
#: A name is cut to this many characters where a message shows its path.
_SHOWN_NAME: Final = 40
#: What replaces a part of a saved document deeper than the depth a repair walks.
_TOO_DEEP: Final = "<nested too deep: not kept>"


class _UnusableNumberError(Exception):
    """A number a body holds that no answer could carry again (not finite, beyond 64 bits)."""


def parse_body(raw: bytes) -> Any:
    """The JSON value of a request body, or the 400 ``invalid_request`` that says why not.

    Refused: bytes that are not UTF-8, text that is not JSON, lone surrogates (in a value or
    a name), ``NaN`` / ``Infinity`` / numbers too large for a double, integers outside the
    64-bit range, and nesting deeper than :data:`BODY_MAX_DEPTH`.
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise invalid_request(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        value = json.loads(
            text, parse_int=_integer, parse_float=_finite, parse_constant=_not_a_number
        )
    except _UnusableNumberError as exc:
        raise _cannot_use(str(exc)) from None
    except RecursionError:
        raise invalid_request("The request body is nested too deeply.") from None
    except ValueError:
        raise invalid_request("The request body is not valid JSON.") from None
    problem = next(_problems(value, "", 0), None)
    if problem is not None:
        raise _cannot_use(problem)
    return value


def repaired(value: Any, depth: int) -> Any:
    """A copy of a saved ``value`` that can be answered with: every text made encodable.

    For state files written before bodies were checked: a lone surrogate becomes its
    ``\\udXXX`` text, a number that is not finite or not in 64 bits its literal text, and what
    lies deeper than ``depth`` a short placeholder.
    """
    if not isinstance(value, dict | list):
        return _repaired_scalar(value)
    if depth <= 0:
        return _TOO_DEEP
    if isinstance(value, dict):
        return {_encodable(str(k)): repaired(v, depth - 1) for k, v in value.items()}
    return [repaired(item, depth - 1) for item in value]


def _repaired_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return _encodable(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if INTEGER_MIN <= value <= INTEGER_MAX else str(value)
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _encodable(repr(value) if isinstance(value, float) else str(value))


def _integer(literal: str) -> int:
    number = int(literal) if len(literal) <= _INTEGER_CHARS else None
    if number is None or not INTEGER_MIN <= number <= INTEGER_MAX:
        raise _UnusableNumberError(f"the integer {_excerpt(literal)} is outside 64 bits")
    return number


def _finite(literal: str) -> float:
    number = float(literal)
    if not math.isfinite(number):
        raise _UnusableNumberError(f"the number {_excerpt(literal)} is too large")
    return number


def _not_a_number(literal: str) -> float:
    raise _UnusableNumberError(f"{literal} is not a JSON number")


def _problems(value: Any, path: str, depth: int) -> Iterator[str]:
    """Where ``value`` holds text UTF-8 cannot encode or nests too deep, lazily.

    The recursion is bounded: a container at :data:`BODY_MAX_DEPTH` is reported, not entered.
    """
    where = path or "the body"
    if isinstance(value, str) and not _is_encodable(value):
        yield f"{where}: a lone surrogate"
    elif not isinstance(value, dict | list):
        return
    elif depth >= BODY_MAX_DEPTH:
        yield f"{where}: nested deeper than {BODY_MAX_DEPTH} levels"
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _problems(item, f"{path}[{index}]", depth + 1)
    else:
        for name, item in value.items():
            shown = _encodable(name)[:_SHOWN_NAME]
            inner = f"{path}.{shown}" if path else shown
            if not _is_encodable(name):
                yield f"{inner}: a lone surrogate in a name"
            yield from _problems(item, inner, depth + 1)


def _cannot_use(reason: str) -> ApiError:
    return invalid_request(f"The request body cannot be used: {reason}.")


def _is_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encodable(text: str) -> str:
    """``text`` with each lone surrogate written out as ``\\udXXX``."""
    if _is_encodable(text):
        return text
    return text.encode("utf-8", errors="backslashreplace").decode("utf-8")


def _excerpt(literal: str) -> str:
    return literal if len(literal) <= _SHOWN_NAME else f"{literal[:_SHOWN_NAME]}…"
