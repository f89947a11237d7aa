"""Structured logging, and the guarantee that a secret never reaches a log line.

JSON to stdout for the journal, a console renderer on a terminal. Every registered secret is
replaced in every rendered event, in every form it can take on the way: as is, as Python shows
it (``repr``, bytes repr), as JSON escapes it, URL-encoded or HTML-escaped, and one such encoding
inside another (a repr inside a JSON document). A third-party message that echoes a header is
therefore safe, and so is a traceback.

Libraries log through :mod:`logging`; their records (uvicorn's, asyncio's "Task exception was
never retrieved") and uncaught exceptions go through the same chain, so nothing reaches the
output as a plain-text traceback. A flood of one event (the same connection error a thousand
times a second) is rate-limited per event, with one line saying how many were left out.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, TextIO
from urllib.parse import quote, quote_plus

import structlog

REDACTED: Final = "[redacted]"
#: Shorter strings would redact ordinary words.
MIN_SECRET_LENGTH: Final = 8
#: Lines per event (logger, event name, level) in one window before the rest are counted only.
RATE_BURST: Final = 20
#: The window of :data:`RATE_BURST`, in seconds.
RATE_INTERVAL: Final = 60.0
#: Levels that are rate-limited: the ones a failure repeats at. Debug and info lines of a
#: busy run are many by design and are wanted in full when asked for.
_LIMITED_LEVELS: Final = frozenset({"warning", "error", "critical", "exception"})
#: Loggers that uvicorn's default configuration takes away from the root handler.
_UVICORN_LOGGERS: Final = ("uvicorn", "uvicorn.error", "uvicorn.access")
#: Events whose windows are remembered; the oldest are forgotten beyond this.
_MAX_KEYS: Final = 1024
#: Characters URL encoders commonly leave as they are, besides the unreserved ones.
_URL_SAFE_SETS: Final = ("", "/", "!$&'()*+,;=:@/")
#: An encoding of an encoding is caught (a repr in JSON); deeper nesting is not looked for.
_ENCODING_DEPTH: Final = 2


def _encodings(text: str) -> set[str]:
    """``text`` as each encoder on the way to an output would write it."""
    forms = {
        repr(text)[1:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        html.escape(text),
        html.escape(text, quote=False),
    }
    for raw in _as_bytes(text):
        forms.add(repr(raw)[2:-1])
        forms.add(quote_plus(raw))
        forms.update(quote(raw, safe=safe) for safe in _URL_SAFE_SETS)
    return forms


def _as_bytes(text: str) -> set[bytes]:
    """``text`` as UTF-8, its lone surrogates as the OS gave them or as encoded outright."""
    found = {text.encode("utf-8", "surrogatepass")}
    # A surrogate outside the escape range has no OS bytes behind it.
    with contextlib.suppress(UnicodeEncodeError):
        found.add(text.encode("utf-8", "surrogateescape"))
    return found


def secret_forms(secret: str) -> set[str]:
    """Every form of ``secret`` the redactor replaces (itself included)."""
    forms = {secret}
    frontier = {secret}
    for _ in range(_ENCODING_DEPTH):
        frontier = {encoded for form in frontier for encoded in _encodings(form)} - forms
        forms |= frontier
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class Redactor:
    """A set of secrets, replaced in any text by one pattern matching any of their forms.

    The process has one (:func:`register_secret`, :func:`redact`); :func:`configure` accepts
    another, so a test can watch the whole logging chain with secrets of its own.
    """

    def __init__(self) -> None:
        self._forms: set[str] = set()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, secret: str) -> None:
        """Redact ``secret`` (if at least :data:`MIN_SECRET_LENGTH` long) from now on."""
        if len(secret) < MIN_SECRET_LENGTH or secret in self._secrets:
            return
        with self._lock:
            self._secrets.add(secret)
            self._forms |= secret_forms(secret)
            # Longest first: a form that contains another is replaced whole.
            ordered = sorted(self._forms, key=lambda form: (-len(form), form))
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def redact(self, text: str) -> str:
        """``text`` with every form of every secret replaced by :data:`REDACTED`."""
        pattern = self._pattern
        if pattern is None:
            return text
        # A replacement can complete a form that straddled it; a few passes settle that (a
        # secret that is part of the marker itself would never settle, hence the bound).
        for _ in range(3):
            replaced = pattern.sub(REDACTED, text)
            if replaced == text:
                break
            text = replaced
        return text

    def processor(
        self, _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
    ) -> dict[str, Any]:
        """The structlog processor: every key and value of the event, redacted."""
        return {self._key(key): self._value(value) for key, value in event_dict.items()}

    def _key(self, key: Any) -> Any:
        return self.redact(key) if isinstance(key, str) else key

    def _value(self, value: Any) -> Any:
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self._key(k): self._value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._value(v) for v in value]
        # Anything else would be rendered through its repr (an exception, a sink, a request):
        # take that text now, while it can still be redacted as a plain string.
        return self.redact(repr(value))

    def rendering(self, renderer: Callable[..., Any]) -> Callable[..., Any]:
        """``renderer``, followed by a last pass over the rendered line.

        The pass before rendering sees each value alone; this one sees what the renderer
        made of them (escapes added by JSON, reprs of objects), which is what is output.
        """

        def render(logger: Any, name: str, event_dict: MutableMapping[str, Any]) -> Any:
            rendered = renderer(logger, name, event_dict)
            return self.redact(rendered) if isinstance(rendered, str) else rendered

        return render


_redactor = Redactor()


def register_secret(value: str) -> None:
    """Remember ``value`` so it is replaced by ``[redacted]`` wherever it would be output."""
    _redactor.add(value)


def redact(text: str) -> str:
    """Return ``text`` with every form of every registered secret replaced."""
    return _redactor.redact(text)


@dataclass
class _Window:
    start: float
    count: int = 0
    suppressed: int = 0


class RateLimiter:
    """At most ``burst`` lines per event and level per ``interval``; then a count of the rest.

    An event is keyed by its logger (``component``), its name and its level, never by its
    varying fields: the same error with a different message is the same flood. Once a window
    has passed, one ``log.suppressed`` line says how many lines of that event were left out;
    it is written before the next line of any event, so no count is lost while the process
    keeps logging. Only warning levels and above are limited.
    """

    def __init__(
        self,
        *,
        burst: int = RATE_BURST,
        interval: float = RATE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.interval = interval
        self._clock = clock
        self._windows: OrderedDict[tuple[str, str, str], _Window] = OrderedDict()
        self._lock = threading.Lock()
        self._reporting = threading.local()

    def admit(self, component: str, event: str, level: str) -> bool:
        """Whether this line is written; reports windows that ended with lines left out."""
        now = self._clock()
        with self._lock:
            ended = list(self._ended(now))
            admitted = self._count((component, event, level), now)
        for key, window in ended:
            self._report(key, window)
        return admitted

    def _ended(self, now: float) -> Iterator[tuple[tuple[str, str, str], _Window]]:
        """Forget windows that are over (oldest first), yielding those that left lines out."""
        while self._windows:
            key, window = next(iter(self._windows.items()))
            if now - window.start < self.interval and len(self._windows) <= _MAX_KEYS:
                return
            del self._windows[key]
            if window.suppressed:
                yield key, window

    def _count(self, key: tuple[str, str, str], now: float) -> bool:
        if key[2] not in _LIMITED_LEVELS or getattr(self._reporting, "active", False):
            return True
        window = self._windows.get(key)
        if window is None:
            window = self._windows[key] = _Window(start=now)
        window.count += 1
        if window.count <= self.burst:
            return True
        window.suppressed += 1
        return False

    def _report(self, key: tuple[str, str, str], window: _Window) -> None:
        component, event, level = key
        self._reporting.active = True
        try:
            structlog.get_logger(component=component).warning(
                "log.suppressed",
                similar_to=event,
                similar_level=level,
                suppressed=window.suppressed,
                seconds=self.interval,
                message=f"{window.suppressed} similar lines left out",
            )
        finally:
            self._reporting.active = False

    def processor(
        self, _logger: Any, name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """The structlog processor: drop the line when its event is over its budget."""
        level = str(event_dict.get("level", name))
        if not self.admit(str(event_dict.get("component", "")), str(event_dict["event"]), level):
            raise structlog.DropEvent
        return event_dict


class _RateFilter(logging.Filter):
    """The rate limit for records of libraries, keyed by their message before formatting."""

    def __init__(self, limiter: RateLimiter) -> None:
        super().__init__()
        self._limiter = limiter

    def filter(self, record: logging.LogRecord) -> bool:
        return self._limiter.admit(record.name, str(record.msg), record.levelname.lower())


def _component_of_record(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        event_dict.setdefault("component", record.name)
    return event_dict


def configure(
    *,
    json: bool | None = None,
    level: int = logging.INFO,
    stream: TextIO | None = None,
    clock: Callable[[], float] = time.monotonic,
    redactor: Redactor | None = None,
) -> None:
    """Configure structlog (and stdlib logging, for libraries) for this process.

    ``json=None`` picks JSON unless ``stream`` is a terminal, which is what an operator expects
    from both ``journalctl`` and an interactive shell. ``clock`` times the rate limit;
    ``redactor`` defaults to the process's registered secrets.
    """
    secrets = redactor if redactor is not None else _redactor
    out = stream if stream is not None else sys.stdout
    use_json = (not out.isatty()) if json is None else json
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if use_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    limiter = RateLimiter(clock=clock)
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            limiter.processor,  # before the traceback is formatted: a dropped line costs little
            timestamper,
            structlog.processors.format_exc_info,
            secrets.processor,
            secrets.rendering(renderer),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=out),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(out)
    handler.addFilter(_RateFilter(limiter))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.processors.add_log_level,
                _component_of_record,
                timestamper,
            ],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                secrets.processor,
                secrets.rendering(renderer),
            ],
        )
    )
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for own_handlers in _UVICORN_LOGGERS:
        # uvicorn's default configuration gives these plain-text handlers of their own.
        library = logging.getLogger(own_handlers)
        library.handlers.clear()
        library.propagate = True
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(
    kind: type[BaseException], error: BaseException, trace: TracebackType | None
) -> None:
    """An exception nobody caught: one structured, redacted line instead of a bare traceback."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, error, trace)
        return
    get_logger("uncaught").error("uncaught exception", exc_info=(kind, error, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is None:
        return
    get_logger("uncaught").error(
        "uncaught exception in a thread",
        thread=None if args.thread is None else args.thread.name,
        exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
    )


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    """Return a logger bound to ``component=name``."""
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(component=name)
    return logger
