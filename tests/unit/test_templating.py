"""Data inside a ``<script>`` can never end it or hide the page: the one filter every page uses.

A browser parses ``<script>`` content by its own rules: ``</script`` ends it, and ``<!--``
followed later by ``<script`` makes it swallow everything up to a second ``</script>``. Any
``<`` in embedded data can start either, so ``script_json`` leaves none (nor ``>``, ``&``,
U+2028, U+2029), and the JSON still reads back as the same value.
"""

from __future__ import annotations

import ast
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

import catalog_sync
from catalog_sync.support.templating import JsonText, environment, script_json

#: Pieces of markup a value may hold to break out of, or hide, the script it is embedded in.
HOSTILE_PIECES = (
    "<!--",
    "-->",
    "<script",
    "<script>",
    "</script>",
    "</SCRIPT >",
    "</scr",
    "<\\/script>",
    "<!-- <script>",
    "<![CDATA[",
    "]]>",
    "<",
    ">",
    "&",
    "&lt;",
    "\u2028",
    "\u2029",
    "\\",
    '"',
    "\\u003c",
)
#: Text made of hostile pieces and any other characters, lone surrogates included.
HOSTILE_TEXT = st.lists(
    st.one_of(
        st.sampled_from(HOSTILE_PIECES),
        st.text(max_size=4),
        st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF),
    ),
    max_size=12,
).map("".join)
#: JSON values (objects, arrays, numbers, ...) holding hostile text as values and as names.
HOSTILE_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | HOSTILE_TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(HOSTILE_TEXT, inner, max_size=4),
    max_leaves=12,
)
#: What may never appear raw in embedded data.
UNSAFE = ("<", ">", "&", "\u2028", "\u2029")
#: A ``<script>`` element of a template, its content captured.
_SCRIPT = re.compile(r"<script\b[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)
#: A Jinja expression or statement.
_JINJA = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.DOTALL)
#: A loop over pieces of already-filtered data: ``for NAME in NAME`` or its end.
_LOOP = re.compile(r"for \w+ in \w+|endfor")


def _templates() -> dict[str, str]:
    folder = resources.files("catalog_sync") / "templates"
    return {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir() if p.is_file()}


@given(HOSTILE_JSON)
def test_embedded_data_has_no_markup_characters(value: Any) -> None:
    """Whatever the value holds, its embedded JSON holds no ``<``, ``>``, ``&``, U+2028/9."""
    embedded = str(script_json(value))
    assert not [c for c in UNSAFE if c in embedded]


@given(HOSTILE_JSON)
def test_embedded_data_reads_back_the_same(value: Any) -> None:
    """``JSON.parse`` of the embedded text gives back exactly the value."""
    assert json.loads(str(script_json(value))) == value


@given(HOSTILE_JSON)
def test_serialised_document_is_escaped_the_same_way(value: Any) -> None:
    """A document already serialised (a large report) is escaped as if serialised here."""
    text = json.dumps(value, ensure_ascii=False)
    embedded = str(script_json(JsonText(text)))
    assert (json.loads(embedded), [c for c in UNSAFE if c in embedded]) == (value, [])


def test_every_script_embeds_data_through_the_filter() -> None:
    """In every template, each expression inside a ``<script>`` ends with ``script_json``; the
    only statements there are loops (a large report's data written piece by piece), which emit
    nothing of their own."""
    unfiltered = [
        (name, expression.strip() or statement.strip())
        for name, text in _templates().items()
        for script in _SCRIPT.findall(text)
        for expression, statement in _JINJA.findall(script)
        if (statement and not _LOOP.fullmatch(statement.strip()))
        or (not statement and not expression.strip().endswith("|script_json"))
    ]
    assert unfiltered == []


def test_no_template_marks_data_safe_by_hand() -> None:
    """No template bypasses escaping with ``|safe``: markup comes from filters that escape."""
    assert [name for name, text in _templates().items() if "|safe" in text.replace(" ", "")] == []


def test_the_filter_is_the_environments() -> None:
    """Every page is rendered by the environment that has the filter."""
    rendered = environment.from_string("<script>{{ v|script_json }}</script>").render(v="</script>")
    assert rendered == '<script>"\\u003c/script\\u003e"</script>'


def test_every_page_is_rendered_by_the_one_environment() -> None:
    """Only ``support.templating`` imports Jinja: a second environment could miss the filter
    or the autoescaping, and the reconcile report and the orders page would then differ."""
    package = Path(catalog_sync.__file__).parent
    importers = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(name.split(".")[0] in {"jinja2", "markupsafe"} for name in names):
                importers.add(str(path.relative_to(package)))
    assert importers == {"support/templating.py"}
