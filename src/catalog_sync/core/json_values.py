"""JSON from outside, read so that whatever it holds can be stored, logged and sent on.

Python's ``json`` module accepts more than anything downstream can carry: ``"\\ud800"`` escapes
decode to lone surrogates, which no UTF-8 encoder (SQLite, an HTTP response, a file) will write;
``NaN`` and ``1e999`` become floats a strict JSON writer refuses; integers have no bound until
``int()`` refuses 4,300 digits or SQLite refuses 64 bits; and nesting is bounded only by the
interpreter's recursion limit. :func:`loads` reads a document without raising on any of these
(numbers nobody can use are kept as their text, as :class:`NumberText`), :func:`problems` names
each of them by its path, and :func:`storable` returns a copy every encoder accepts.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, TypeVar

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError

#: The range of a signed 64-bit integer: SQLite's and the JVM's ``long``.
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
#: Nesting deeper than this is refused; no Digital River object comes close.
MAX_DEPTH: Final = 32
#: Digits of the longest integer literal that can be in the 64-bit range (with its sign).
_INT64_DIGITS: Final = 20
#: A path component is cut to this many characters in a message.
_SHOWN_KEY: Final = 40
_TOO_DEEP: Final = "<nested too deep: not kept>"


class NumberText(str):
    """A number literal outside what can be used (beyond 64 bits, or not finite), as its text."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ValueProblem:
    """Where in a JSON value something cannot be used, and why."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def loads(text: str) -> Any:
    """Parse JSON ``text``; numbers beyond 64 bits or not finite become :class:`NumberText`.

    Raises ``ValueError`` for text that is not JSON and ``RecursionError`` for nesting deeper
    than the interpreter can parse; never for a number.
    """
    return json.loads(text, parse_int=_integer, parse_float=_float, parse_constant=NumberText)


def decode_utf8(raw: bytes) -> str:
    """Bytes as text; each byte that is not UTF-8 becomes a lone surrogate (found by problems)."""
    return raw.decode("utf-8-sig", errors="surrogateescape")


def problems(value: Any, *, max_depth: int = MAX_DEPTH, limit: int = 3) -> list[ValueProblem]:
    """Up to ``limit`` places where ``value`` holds something that cannot be stored or sent.

    Every event polled passes here, and almost all are clean: a walk that only answers yes or
    no comes first, and the paths (a string built per key) are made only for a value that
    has a problem.
    """
    if _clean(value, max_depth):
        return []
    found: list[ValueProblem] = []
    for problem in _walk(value, "", 0, max_depth):
        found.append(problem)
        if len(found) >= limit:
            break
    return found


def storable(value: Any, *, max_depth: int = MAX_DEPTH) -> Any:
    """A copy of ``value`` that every JSON and UTF-8 encoder accepts, losing as little as can be.

    A lone surrogate becomes its ``\\udXXX`` text, an unusable number its text, and what is
    nested deeper than ``max_depth`` a short placeholder (the recursion is bounded by it).
    """
    if not isinstance(value, dict | list | tuple):
        return _storable_scalar(value)
    if max_depth <= 0:
        return _TOO_DEEP
    if isinstance(value, dict):
        return {
            representable(str(k)): storable(v, max_depth=max_depth - 1) for k, v in value.items()
        }
    return [storable(v, max_depth=max_depth - 1) for v in value]


Model = TypeVar("Model", bound=BaseModel)


def writable_json(model: Model, *, max_depth: int) -> tuple[Model, str]:
    """Return ``model`` and its JSON, in a form every UTF-8 writer accepts.

    A value UTF-8 cannot encode (a lone surrogate) would make a whole report fail to write, so
    one value would hide everything else; such text is kept as its visible ``\\udXXX`` escape
    instead (:func:`storable`, ``max_depth`` levels deep). The copy is made only when needed.
    """
    try:
        return model, model.model_dump_json()
    except PydanticSerializationError:
        clean = type(model).model_validate(storable(model.model_dump(), max_depth=max_depth))
        return clean, clean.model_dump_json()


def representable(text: str) -> str:
    """``text`` with each lone surrogate written as ``\\udXXX``, so UTF-8 can encode it."""
    if isinstance(text, NumberText):
        return str.__str__(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text


def is_representable(text: str) -> bool:
    """Whether UTF-8 can encode ``text`` (no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _integer(text: str) -> int | NumberText:
    if len(text) > _INT64_DIGITS:
        return NumberText(text)
    number = int(text)
    return number if INT64_MIN <= number <= INT64_MAX else NumberText(text)


def _float(text: str) -> float | NumberText:
    number = float(text)
    return number if math.isfinite(number) else NumberText(text)


def _storable_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return representable(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value if INT64_MIN <= value <= INT64_MAX else format(Decimal(value), "f")
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    return representable(str(value))


def _clean(value: Any, levels: int) -> bool:
    """Whether :func:`_walk` would find nothing in ``value`` (``levels`` of nesting allowed)."""
    if isinstance(value, dict):
        return levels > 0 and _clean_items(value.items(), levels - 1)
    if type(value) is str:
        return is_representable(value)
    if isinstance(value, list | tuple):
        return levels > 0 and _clean_items(enumerate(value), levels - 1)
    return _scalar_problem(value) is None


def _clean_items(items: Iterable[tuple[Any, Any]], levels: int) -> bool:
    """Names (of an object) and values clean; a plain loop, as it runs for every node of every
    event polled (a generator in ``all`` takes half as long again)."""
    for name, item in items:  # noqa: SIM110
        if not (_clean_name(name) and _clean(item, levels)):
            return False
    return True


def _clean_name(name: Any) -> bool:
    return type(name) is int or is_representable(str(name))


def _walk(value: Any, path: str, depth: int, max_depth: int) -> Iterator[ValueProblem]:
    """Yield the problems of ``value`` lazily; the recursion stops at ``max_depth``."""
    if not isinstance(value, dict | list | tuple):
        message = _scalar_problem(value)
        if message is not None:
            yield ValueProblem(path, message)
    elif depth >= max_depth:
        yield ValueProblem(path, f"nested deeper than {max_depth} levels")
    elif isinstance(value, dict):
        for key, item in value.items():
            name = str(key)
            where = f"{path}.{_shown(name)}" if path else _shown(name)
            if not is_representable(name):
                yield ValueProblem(where, "name is not valid Unicode (a lone surrogate)")
            yield from _walk(item, where, depth + 1, max_depth)
    else:
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]", depth + 1, max_depth)


def _scalar_problem(value: Any) -> str | None:
    if isinstance(value, NumberText):
        return f"number {_excerpt(value)} is out of range"
    if isinstance(value, str):
        return None if is_representable(value) else "text is not valid Unicode (a lone surrogate)"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integer is beyond 64 bits"
    return None if math.isfinite(value) else f"number {value!r} is not finite"


def _shown(name: str) -> str:
    text = representable(name)
    return text if len(text) <= _SHOWN_KEY else f"{text[:_SHOWN_KEY]}…"


def _excerpt(text: str) -> str:
    plain = str.__str__(text)
    return plain if len(plain) <= _SHOWN_KEY else f"{plain[:_SHOWN_KEY]}… ({len(plain)} chars)"
