"""Errors in the OpenAI envelope, ``{"error": {"message", "type", "param", "code"}}``, never a traceback.

The official client raises ``BadRequestError`` (400), ``RateLimitError`` (429) and so on from the
status, and shows ``message``; ``param`` names the field at fault when there is one.
"""

from __future__ import annotations

import re

from fastapi.responses import JSONResponse

TYPES = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error", 499: "client_closed_request",
         500: "server_error",
         502: "upstream_error", 503: "service_unavailable"}


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    return {"error": {"message": message, "type": TYPES.get(status, "server_error"), "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(status, message, param, code), status_code=status, headers=headers)


def param_of(message: str) -> str | None:
    """The field an input error names first (``ttscale.strategy: ...`` -> ``ttscale.strategy``)."""
    head, sep, _ = message.partition(":")
    return head.strip() if sep and " " not in head.strip() else None


def upstream_failure(message: str) -> JSONResponse:
    """An upstream server's failure, after the backend's own retries, as the client should read it: 503 when it
    said it was busy or loading (429, 503) or could not be reached, else 502; either may succeed on a retry
    (``x-should-retry: true``). A refusal of the request itself is ``upstream_refusal``."""
    busy = re.search(r"\bHTTP (429|503)\b", message) is not None
    status = 503 if busy else 502
    return error_response(status, f"the upstream server failed: {message}", code="upstream_error",
                          headers={"x-should-retry": "true", **({"Retry-After": "1"} if busy else {})})


def upstream_refusal(status: int, message: str) -> JSONResponse:
    """The upstream server refused the request (a 4xx): the same request will be refused again."""
    return error_response(502, f"the upstream server refused the request (HTTP {status}): {message}",
                          code="upstream_refused", headers={"x-should-retry": "false"})


def upstream_unreachable(message: str) -> JSONResponse:
    return error_response(503, f"the upstream server cannot be reached: {message}", code="upstream_unreachable",
                          headers={"x-should-retry": "true", "Retry-After": "1"})
