"""Text that PostgreSQL cannot hold as it is: a NUL character, escaped on the way in and out.

SQLite stores a NUL (U+0000) inside text as it is; PostgreSQL refuses any ``text`` value holding
one. Event ids, types and error texts come from outside (the API, its error messages), so both
backends must keep whatever text they are given, the same way. The PostgreSQL backend's
connections therefore bind every string through :func:`escape` and read every ``text`` column
through :func:`unescape`: NUL is stored as U+FFFF followed by ``0``, and U+FFFF itself (a
noncharacter, valid UTF-8, never in real ids) is doubled, so the mapping is reversible for any
text and equality in SQL still holds between escaped values. Text without either character,
i.e. everything real, is bound and read unchanged.
"""

from __future__ import annotations

import re
from typing import Final

from psycopg import adapters as default_adapters
from psycopg.adapt import AdaptersMap, Buffer
from psycopg.types.string import StrDumperUnknown, TextLoader

NUL: Final = "\x00"
#: The escape character: U+FFFF, a Unicode noncharacter.
ESCAPE: Final = "\uffff"
_ESCAPED: Final = re.compile(f"{ESCAPE}([{ESCAPE}0])")


def escape(text: str) -> str:
    """``text`` as PostgreSQL can store it: NUL -> U+FFFF ``0``, U+FFFF -> U+FFFF U+FFFF."""
    if NUL not in text and ESCAPE not in text:
        return text
    return text.replace(ESCAPE, ESCAPE * 2).replace(NUL, f"{ESCAPE}0")


def unescape(text: str) -> str:
    """The text :func:`escape` was given."""
    if ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda m: ESCAPE if m[1] == ESCAPE else NUL, text)


class _EscapingDumper(StrDumperUnknown):
    """Binds a string escaped (an untyped parameter, as psycopg binds strings by default)."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape(obj))


class _UnescapingLoader(TextLoader):
    """Reads a ``text`` or ``varchar`` value unescaped."""

    def load(self, data: Buffer) -> str:
        loaded = super().load(data)
        return unescape(loaded if isinstance(loaded, str) else loaded.decode())


def text_adapters() -> AdaptersMap:
    """psycopg's adapters with strings escaped both ways (a connection's ``context``)."""
    adapters = AdaptersMap(default_adapters)
    adapters.register_dumper(str, _EscapingDumper)
    for type_name in ("text", "varchar"):
        adapters.register_loader(type_name, _UnescapingLoader)
    return adapters
