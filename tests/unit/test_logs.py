"""Logging never shows a registered secret."""

from __future__ import annotations

import io
import json

from catalog_sync import logs


def test_secret_is_redacted_in_json_lines() -> None:
    """A secret inside any field of a log event is replaced before it is written."""
    secret = "sk_test_feedfacefeedfacefeedfacefeedface"
    logs.register_secret(secret)
    out = io.StringIO()
    logs.configure(json=True, stream=out)
    logs.get_logger("t").info("calling", header=f"Bearer {secret}", nested={"k": [secret]})
    line = out.getvalue()
    assert secret not in line
    assert json.loads(line)["header"] == f"Bearer {logs.REDACTED}"


def test_short_strings_are_not_registered() -> None:
    """Registering a too-short value does not redact ordinary words."""
    logs.register_secret("abc")
    assert logs.redact("abc def") == "abc def"
