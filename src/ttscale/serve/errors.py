"""Errors in the OpenAI envelope, ``{"error": {"message", "type", "param", "code"}}``, never a traceback.

The official client raises ``BadRequestError`` (400), ``RateLimitError`` (429) and so on from the
status, and shows ``message``; ``param`` names the field at fault when there is one.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

TYPES = {400: "invalid_request_error", 404: "not_found_error", 429: "rate_limit_error", 500: "server_error",
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
