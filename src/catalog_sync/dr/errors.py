"""Every way a Digital River call can fail, as one tree that callers branch on.

Retry code asks one question, :attr:`DRError.retryable`, and never looks at raw status numbers
(docs/digital-river-api.md §3: the API's error types and codes). The tree::

    DRError                      retryable?
    ├── APIError                 no    the API answered with an error body (other 4xx)
    │   ├── BadRequest           no    400
    │   ├── Unauthorized         no    401
    │   ├── Forbidden            no    403
    │   ├── NotFound             no    404
    │   ├── Conflict             no    409, keeps the API's ``code`` (e.g. ``order_fulfilled``)
    │   ├── RateLimited          yes   429, with ``retry_after`` seconds
    │   └── ServerError          yes   5xx
    ├── TransportError           yes   no answer; ``outcome_unknown`` says if it may have landed
    └── OutcomeUnknown           yes*  a create may or may not have been applied: read back first

``*`` An :class:`OutcomeUnknown` is never resent by the client itself: the API has no
idempotency key (docs/digital-river-api.md §6), so only a caller that can read back by a natural key
may resend (see :mod:`catalog_sync.dr.writes`).

No error ever carries request headers, so the API key cannot leak through ``str`` or ``repr``.
"""

# ruff: noqa: N818 - the names read as HTTP statuses (like httpx), "Error" adds nothing

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from catalog_sync.support.logs import redact


@dataclass(frozen=True, slots=True)
class ErrorDetail:
    """One element of the API's ``errors`` array; each part is optional.

    The body's shape is docs/digital-river-api.md §3.1.
    """

    code: str | None = None
    parameter: str | None = None
    message: str | None = None

    def __str__(self) -> str:
        head = " ".join(part for part in (self.code, _paren(self.parameter)) if part)
        if head and self.message:
            return f"{head}: {self.message}"
        return head or self.message or ""


def _paren(text: str | None) -> str | None:
    return f"({text})" if text else None


class DRError(Exception):
    """Base of every failure of a Digital River call."""

    retryable: ClassVar[bool] = False


class APIError(DRError):
    """The API answered with an error status and (usually) its error body."""

    def __init__(
        self,
        status: int,
        type_: str,
        errors: tuple[ErrorDetail, ...] = (),
        *,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.status = status
        self.type = type_
        self.errors = errors
        self.method = method
        self.path = path
        super().__init__(self._render())

    @property
    def code(self) -> str | None:
        """The first error's code, the part callers branch on."""
        return self.errors[0].code if self.errors else None

    @property
    def parameter(self) -> str | None:
        """The first error's parameter (a JSON path into the request)."""
        return self.errors[0].parameter if self.errors else None

    @property
    def message(self) -> str | None:
        """The first error's human message."""
        return self.errors[0].message if self.errors else None

    def _render(self) -> str:
        details = "; ".join(text for text in map(str, self.errors) if text)
        head = f"{self.status} {self.type}"
        return f"{head} {details}" if details else head

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status}, type={self.type!r}, "
            f"errors={self.errors!r}, method={self.method!r}, path={self.path!r})"
        )


class BadRequest(APIError):
    """400: the request is invalid; sending it again cannot help."""


class Unauthorized(APIError):
    """401: the key is missing, wrong or outdated."""


class Forbidden(APIError):
    """403: the key may not do this (e.g. a restricted key lacking a permission)."""


class NotFound(APIError):
    """404: no such object."""


class Conflict(APIError):
    """409: the object's state refuses the request; :attr:`code` says why."""


class RateLimited(APIError):
    """429: over the account's requests per second; wait :attr:`retry_after` seconds."""

    retryable = True

    def __init__(
        self,
        status: int,
        type_: str,
        errors: tuple[ErrorDetail, ...] = (),
        *,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(status, type_, errors, method=method, path=path)


class ServerError(APIError):
    """5xx: the API failed; the request may or may not have been applied."""

    retryable = True


class TransportError(DRError):
    """No HTTP answer arrived (connection, timeout, protocol failure).

    ``outcome_unknown`` is False only when the request provably never reached the server
    (connect failures, pool timeouts), which is what makes resending a create safe.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool,
        method: str | None = None,
        path: str | None = None,
    ) -> None:
        self.outcome_unknown = outcome_unknown
        self.method = method
        self.path = path
        super().__init__(message)


class OutcomeUnknown(DRError):
    """A non-idempotent create failed in a way that may have applied it.

    ``cause`` is the :class:`ServerError` or :class:`TransportError` that hid the outcome.
    Resending blindly could create a duplicate; read back by a natural key first.
    """

    retryable = True

    def __init__(self, cause: DRError) -> None:
        self.cause = cause
        super().__init__(f"outcome unknown, read back before resending: {cause}")


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}

#: Connection-phase failures: the request never left this process.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def proves_not_applied(error: DRError) -> bool:
    """Return whether ``error`` shows the server did not apply the request (safe to resend)."""
    if isinstance(error, RateLimited):
        return True
    return isinstance(error, TransportError) and not error.outcome_unknown


def error_from_response(response: httpx.Response) -> APIError:
    """Build the typed error for an error ``response``, tolerating non-JSON bodies."""
    status = response.status_code
    body = _json_or_none(response)
    type_ = str(body.get("type")) if body and body.get("type") else _default_type(response)
    details = _details(body.get("errors") if body else None)
    where = {"method": response.request.method, "path": request_path(response.request)}
    if status == httpx.codes.TOO_MANY_REQUESTS:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return RateLimited(status, type_, details, retry_after=retry_after, **where)
    if status >= httpx.codes.INTERNAL_SERVER_ERROR:
        return ServerError(status, type_, details, **where)
    return _BY_STATUS.get(status, APIError)(status, type_, details, **where)


def transport_error(exc: httpx.TransportError, method: str, path: str) -> TransportError:
    """Wrap an httpx failure, deciding whether the request may have reached the server.

    httpx's text can quote a header it refused (``Illegal header value b'Bearer ...'``), so
    it is redacted like text from the server.
    """
    text = redact(str(exc)) or type(exc).__name__
    return TransportError(
        f"{method} {path}: {type(exc).__name__}: {text}",
        outcome_unknown=not isinstance(exc, _NOT_SENT),
        method=method,
        path=path,
    )


def request_path(request: httpx.Request) -> str:
    """The path as sent (ids percent-encoded, no query), the same text the call log shows."""
    return request.url.raw_path.decode("ascii").partition("?")[0]


def parse_retry_after(value: str | None) -> float | None:
    """Return the ``Retry-After`` delay in seconds (docs/digital-river-api.md §4: an integer)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


def _json_or_none(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _default_type(response: httpx.Response) -> str:
    return response.reason_phrase.lower().replace(" ", "_") or f"http_{response.status_code}"


def _details(raw: Any) -> tuple[ErrorDetail, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        ErrorDetail(
            code=_str_or_none(item.get("code")),
            parameter=_str_or_none(item.get("parameter")),
            message=_str_or_none(item.get("message")),
        )
        for item in raw
        if isinstance(item, dict)
    )


def _str_or_none(value: Any) -> str | None:
    """Text from the server, with any registered secret it might echo removed."""
    return None if value is None else redact(str(value))
