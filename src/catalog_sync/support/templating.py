"""The one Jinja environment of the HTML pages, and the one way data enters a ``<script>``.

Autoescaping protects element text and attributes, but not the inside of a ``<script>``: there
the browser decodes no entities, and markup-like text in the data changes how the page is
parsed. ``</script`` ends the element early; ``<!--`` followed later by ``<script`` makes the
parser look for a second ``</script>``, swallowing the rest of the page, so a single catalog value
could leave a report with zero rows. Every template embeds data through the ``script_json``
filter instead, which writes JSON with ``<``, ``>``, ``&``, U+2028 and U+2029 as ``\\uXXXX``
escapes: the script then holds no markup at all, and ``JSON.parse`` reads back the same values.
"""

from __future__ import annotations

import json
from typing import Any, Final

import jinja2
from markupsafe import Markup

#: Characters that may never appear raw inside a ``<script>``; each becomes its JSON escape.
_SCRIPT_ESCAPES: Final = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


class JsonText(str):
    """A value already serialised as JSON text, passed to ``script_json`` as it is.

    A 100,000-row report is serialised once for its ``.json`` file; re-serialising it for the
    page would double the peak memory of a large run.
    """

    __slots__ = ()


def script_safe_json(text: str) -> str:
    """Return JSON ``text`` with every character that could end or hide a ``<script>`` escaped.

    Outside strings JSON has none of these characters, and inside a string ``\\u003c`` means
    ``<``, so the result parses to the same value. A backslash in valid JSON always starts a
    complete escape, so no replacement can pair up with one. ``str.replace`` returns the string
    itself when there is nothing to replace, so a clean document is not copied.
    """
    for char, escape in _SCRIPT_ESCAPES:
        text = text.replace(char, escape)
    return text


def script_json(value: Any) -> Markup:
    """The ``script_json`` filter: ``value`` as JSON that is safe inside any ``<script>``.

    ``value`` is serialised with :func:`json.dumps`, unless it is :class:`JsonText` already;
    NaN and infinities raise ``ValueError`` there, since ``JSON.parse`` would refuse the page's
    whole document for them.
    """
    text = (
        value
        if isinstance(value, JsonText)
        else json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    )
    return Markup(script_safe_json(text))  # noqa: S704 - escaped for a script above


environment: Final = jinja2.Environment(
    loader=jinja2.PackageLoader("catalog_sync", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"]),
    undefined=jinja2.StrictUndefined,
)
environment.filters["script_json"] = script_json
