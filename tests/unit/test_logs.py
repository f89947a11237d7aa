"""Logging never shows a registered secret, stays JSON, and stays bounded under a flood."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from catalog_sync.support import logs

SECRET = "sk_test_feedfacefeedfacefeedfacefeedface"


class Clock:
    """A monotonic clock tests move by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def out() -> Iterator[io.StringIO]:
    """Log lines (JSON) of the test; logging is reset afterwards."""
    stream = io.StringIO()
    logs.configure(json=True, stream=stream)
    yield stream
    logging.getLogger().handlers.clear()


def lines_of(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line written, each parsed as JSON (fails on a line that is not)."""
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_secret_is_redacted_in_json_lines(out: io.StringIO) -> None:
    """A secret inside any field of a log event is replaced before it is written."""
    logs.register_secret(SECRET)
    logs.get_logger("t").info("calling", header=f"Bearer {SECRET}", nested={"k": [SECRET]})
    line = out.getvalue()
    assert SECRET not in line
    assert json.loads(line)["header"] == f"Bearer {logs.REDACTED}"


def test_short_strings_are_not_registered() -> None:
    """Registering a too-short value does not redact ordinary words."""
    logs.register_secret("abc")
    assert logs.redact("abc def") == "abc def"


def test_escaped_forms_of_a_key_with_a_newline_are_redacted() -> None:
    """A key read with its line end shows up escaped (repr, JSON, bytes): each form goes."""
    key = "sk_test_0ddba11c0ffee0ddba11\r\n"
    logs.register_secret(key)
    texts = [
        f"LocalProtocolError: Illegal header value {f'Bearer {key}'.encode()!r}",
        json.dumps({"authorization": f"Bearer {key}"}),
        repr({"authorization": key}),
        "https://x.test/?key=sk_test_0ddba11c0ffee0ddba11%0D%0A",
    ]
    assert [logs.redact(text).count(logs.REDACTED) for text in texts] == [1, 1, 1, 1]


def test_secret_in_a_key_or_an_object_of_an_event_is_redacted(out: io.StringIO) -> None:
    """Dictionary keys and objects logged as such (rendered by repr) are redacted too."""

    class Sink:
        def __repr__(self) -> str:
            return f"Sink({SECRET!r})"

    logs.register_secret(SECRET)
    logs.get_logger("t").warning("odd", fields={SECRET: 1}, sink=Sink())
    assert SECRET not in out.getvalue()
    assert lines_of(out)[0]["sink"] == f"Sink('{logs.REDACTED}')"


def test_traceback_is_a_redacted_json_field(out: io.StringIO) -> None:
    """A logged exception is one JSON line whose traceback field holds no secret."""
    logs.register_secret(SECRET)
    error = ValueError(f"bad header {SECRET!r}")
    try:
        raise error
    except ValueError:
        logs.get_logger("t").exception("failed")
    [line] = lines_of(out)
    assert "Traceback" in line["exception"]
    assert SECRET not in out.getvalue()


def test_library_records_are_structured_and_redacted(out: io.StringIO) -> None:
    """A stdlib record with a traceback (uvicorn, asyncio) becomes one redacted JSON line."""
    logs.register_secret(SECRET)
    error = RuntimeError(f"echoed {SECRET}")
    logging.getLogger("uvicorn.error").error("Exception in ASGI application", exc_info=error)
    [line] = lines_of(out)
    assert (line["component"], line["level"]) == ("uvicorn.error", "error")
    assert f"RuntimeError: echoed {logs.REDACTED}" in line["exception"]


def test_console_rendering_is_redacted() -> None:
    """On a terminal the readable format is redacted as the JSON one is."""
    logs.register_secret(SECRET)
    stream = io.StringIO()
    logs.configure(json=False, stream=stream)
    error = KeyError(SECRET)
    try:
        raise error
    except KeyError:
        logs.get_logger("t").exception("failed", value=SECRET)
    assert SECRET not in stream.getvalue()
    assert logs.REDACTED in stream.getvalue()


def test_uncaught_exception_is_one_redacted_json_line() -> None:
    """An exception nobody catches is logged as JSON, not printed as a bare traceback."""
    program = (
        "from catalog_sync.support import logs; logs.configure(json=True); "
        f"logs.register_secret({SECRET!r}); raise OSError('cannot use ' + {SECRET!r})"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False
    )
    [line] = [json.loads(text) for text in done.stdout.splitlines()]
    assert line["event"] == "uncaught exception"
    assert "OSError: cannot use [redacted]" in line["exception"]
    assert done.stderr == ""
    assert SECRET not in done.stdout


def test_a_flood_of_one_error_is_bounded_and_stays_json() -> None:
    """10,000 identical errors make a bounded number of JSON lines; the rest are counted."""
    clock = Clock()
    stream = io.StringIO()
    logs.configure(json=True, stream=stream, clock=clock)
    log = logs.get_logger("events")
    for number in range(10_000):
        error = ConnectionError(f"[Errno 24] Too many open files ({number})")
        try:
            raise error
        except ConnectionError:
            log.exception("events.poll_failed")
        clock.now += 1 / 64  # exact in binary: 156.25 s in all, three windows
    clock.now += logs.RATE_INTERVAL
    log.info("events.poll_ok")
    lines = lines_of(stream)
    errors = [line for line in lines if line["event"] == "events.poll_failed"]
    notices = [line for line in lines if line["event"] == "log.suppressed"]
    assert len(errors) == 3 * logs.RATE_BURST
    assert len(notices) == 3
    assert len(lines) == len(errors) + len(notices) + 1
    assert sum(notice["suppressed"] for notice in notices) == 10_000 - len(errors)


def test_suppressed_count_names_the_event() -> None:
    """The line that reports left-out lines names the event and how many were left out."""
    clock = Clock()
    stream = io.StringIO()
    logs.configure(json=True, stream=stream, clock=clock)
    log = logs.get_logger("notify")
    for _ in range(logs.RATE_BURST + 5):
        log.error("notify.failed")
    clock.now += logs.RATE_INTERVAL
    log.info("notification")
    notice = next(line for line in lines_of(stream) if line["event"] == "log.suppressed")
    assert (notice["similar_to"], notice["component"], notice["suppressed"]) == (
        "notify.failed",
        "notify",
        5,
    )


def test_information_lines_are_never_rate_limited() -> None:
    """Info lines of a busy run (one per file, per call) are all kept."""
    stream = io.StringIO()
    logs.configure(json=True, stream=stream, clock=Clock())
    for number in range(logs.RATE_BURST * 3):
        logs.get_logger("requests").info("requests.accepted", file=f"{number}.csv")
    assert len(lines_of(stream)) == logs.RATE_BURST * 3


def test_library_floods_are_rate_limited_too() -> None:
    """Records of a library repeating one message are limited like our own lines."""
    stream = io.StringIO()
    logs.configure(json=True, stream=stream, clock=Clock())
    for number in range(1000):
        logging.getLogger("asyncio").error("Task exception was never retrieved %d", number)
    logging.getLogger().handlers.clear()
    assert len(lines_of(stream)) == logs.RATE_BURST
