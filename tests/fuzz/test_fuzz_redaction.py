"""Arbitrary secrets never survive logging, in any of the forms they take on the way out."""

from __future__ import annotations

import io
import json
import logging
from typing import Any
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st
from tests.fuzz.budget import fuzz_settings

from catalog_sync.support import logs

#: Any character at all: controls, quotes, backslashes, non-ASCII, lone surrogates.
ANY_TEXT = st.text(st.characters(exclude_categories=()), min_size=5, max_size=40)


def forms_of(secret: str) -> set[str]:
    """The secret as each common encoder writes it (quotes of repr and JSON left out)."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1]}
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    raw = secret.encode("utf-8", "surrogatepass")
    forms |= {quote(raw, safe=""), quote(raw), quote_plus(raw), repr(raw)[2:-1]}
    return forms


def log_everywhere(secret: str, *, as_json: bool) -> str:
    """Log ``secret`` in every form, in every place of an event; return the output."""
    redactor = logs.Redactor()
    redactor.add(secret)
    stream = io.StringIO()
    logs.configure(json=as_json, stream=stream, redactor=redactor)
    log = logs.get_logger("fuzz")
    forms = sorted(forms_of(secret))
    error = ValueError(f"header {secret!r} refused: {secret}")
    try:
        raise error
    except ValueError as exc:
        log.exception(
            f"failed with {secret}",  # noqa: G004 - a secret in the event name itself
            forms=forms,
            nested={secret: [secret, (repr(secret),)]},
            error=exc,
            request=f"https://hooks.test/?token={quote(secret.encode('utf-8', 'surrogatepass'))}",
        )
    logging.getLogger("httpx").error("echo %s", secret, exc_info=error)
    logging.getLogger().handlers.clear()
    return stream.getvalue()


def strings_in(value: Any) -> list[str]:
    """Every string of a parsed JSON value, keys included."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (k, *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


@fuzz_settings
@given(tail=ANY_TEXT)
def test_no_form_of_a_secret_reaches_a_json_line(tail: str) -> None:
    """Raw, repr, JSON-escaped and URL-encoded forms all vanish from the JSON output.

    The secret starts with ``sk_`` so that it can never coincide with the fixed text of a
    line (a key name, the marker): whatever of it is found was leaked.
    """
    secret = f"sk_{tail}"
    output = log_everywhere(secret, as_json=True)
    assert not [form for form in forms_of(secret) if form in output]
    parsed = [json.loads(line) for line in output.splitlines()]
    assert not [text for text in strings_in(parsed) if secret in text]


@fuzz_settings
@given(tail=ANY_TEXT)
def test_no_form_of_a_secret_reaches_a_console_line(tail: str) -> None:
    """The readable renderer for a terminal leaks no form of the secret either."""
    secret = f"sk_{tail}"
    output = log_everywhere(secret, as_json=False)
    assert not [form for form in forms_of(secret) if form in output]
