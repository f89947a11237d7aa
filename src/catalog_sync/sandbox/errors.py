"""The API's error body, and the exceptions handlers raise to produce it.

The shape, the types and their statuses are docs/digital-river-api.md §3.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.responses import JSONResponse

#: docs/digital-river-api.md §3.2: the HTTP status of each error ``type``.
TYPE_BY_STATUS: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    429: "too_many_requests",
    500: "internal_server_error",
    502: "bad_gateway",
    503: "service_unavailable",
    504: "gateway_timeout",
}

#: docs/digital-river-api.md §1: exactly this body, no ``code`` and no ``parameter``.
UNAUTHORIZED_BODY: Final = {
    "type": "unauthorized",
    "errors": [{"message": "An authorization error has occurred."}],
}


class ApiError(Exception):
    """An API error response; raised anywhere in a handler, rendered by :func:`error_response`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        parameter: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code if code is not None else error_type(status)
        self.parameter = parameter
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """Return the body in the API's shape."""
        detail: dict[str, str] = {"code": self.code}
        if self.parameter is not None:
            detail["parameter"] = self.parameter
        detail["message"] = self.message
        return {"type": error_type(self.status), "errors": [detail]}


def error_type(status: int) -> str:
    """Return the ``type`` for ``status``; statuses outside the table fall back by class."""
    return TYPE_BY_STATUS.get(status, "internal_server_error" if status >= 500 else "bad_request")  # noqa: PLR2004


def error_response(error: ApiError) -> JSONResponse:
    """Render ``error`` as the API would."""
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def invalid_parameter(parameter: str, value: Any, what: str = "parameter") -> ApiError:
    """400 ``invalid_parameter`` in DR's wording: ``'<value>' is not a valid <what>.``."""
    shown = "null" if value is None else value
    return ApiError(
        400, f"'{shown}' is not a valid {what}.", code="invalid_parameter", parameter=parameter
    )


def missing_parameter(parameter: str) -> ApiError:
    """400 ``missing_parameter`` in the wording of DR's ``weight`` sample."""
    leaf = parameter.rsplit(".", 1)[-1]
    return ApiError(400, f"The {leaf} is missing.", code="missing_parameter", parameter=parameter)


def unknown_parameter(parameter: str) -> ApiError:
    """400 ``unknown_parameter`` as DR answers an unexpected field."""
    leaf = parameter.rsplit(".", 1)[-1]
    return ApiError(
        400, f"'{leaf}' is an unknown parameter.", code="unknown_parameter", parameter=parameter
    )


def invalid_request(message: str) -> ApiError:
    """400 ``invalid_request``: the request as a whole is unusable (no parameter)."""
    return ApiError(400, message, code="invalid_request")


def not_found(resource: str, object_id: str, parameter: str = "id") -> ApiError:
    """404 in DR's wording: ``InventoryItem 'x' not found.``."""
    return ApiError(
        404, f"{resource} '{object_id}' not found.", code="not_found", parameter=parameter
    )


def conflict(code: str, parameter: str | None, message: str) -> ApiError:
    """409 ``conflict`` with the given code."""
    return ApiError(409, message, code=code, parameter=parameter)


def order_not_found(order_id: str, parameter: str) -> ApiError:
    """404 for an order, in the exact wording of DR's sample (no quotes, no full stop)."""
    return ApiError(404, f"Order {order_id} not found", code="not_found", parameter=parameter)
