"""Errors -> HTTP for the OpenAI-compatible mount, in OpenAI's shape:
`{"error": {"message", "type", "param", "code"}}` with the status OpenAI's clients act on.

`OpenAIRoute` is the mount's route class: whatever a route, its dependencies or FastAPI's request
parsing raise is answered here, so the rest of the app keeps its `{"detail": ...}` bodies
(`server.errors`). A malformed request is a 400 (never FastAPI's 422), a database that cannot
serve now a 503 with `Retry-After`, anything unexpected a 500 that names no internals. Every 5xx
is logged with its cause, as `server.errors` does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import psycopg
from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from runtime.database import is_database_unavailable
from runtime.errors import INTERNAL, ServiceError, UnavailableError
from server.errors import unavailable
from server.validation import DATA_ERROR

log = logging.getLogger(__name__)

_TYPES = {401: "invalid_request_error", 403: "permission_error", 429: "insufficient_quota"}
_CODES = {
    401: "invalid_api_key",
    403: "permission_denied",
    404: "not_found",
    429: "insufficient_quota",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
}


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every error of the OpenAI-compatible mount."""

    error: ErrorDetail


_DESCRIPTIONS: dict[int | str, str] = {
    400: "Bad request: a malformed body, a conversation without a user turn, a value out of range",
    401: "Missing or invalid API key",
    403: "The API key does not give access to this model's API",
    404: "No such model (or not one this key may use)",
    429: "The API key's token budget is spent",
    502: "The model provider failed",
    503: "Busy, or the database is unavailable; `Retry-After` says when to try again",
    "4XX": "Another client error, in the same shape",
}


def openai_error_responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route of this mount documents. "4XX" stands
    for the client errors a route does not name, and keeps FastAPI from declaring the 422 this
    mount never answers."""
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS.get(s, "Error")} for s in statuses}


class InvalidApiKey(ServiceError):
    status = 401
    code = "invalid_api_key"
    headers = {"WWW-Authenticate": "Bearer"}


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    kind = _TYPES.get(status) or ("server_error" if status >= 500 else "invalid_request_error")
    return {"error": {"message": message, "type": kind, "param": param, "code": code or _CODES.get(status)}}


def _param(loc: Sequence[Any]) -> str | None:
    """A pydantic location as OpenAI names parameters: ("body", "messages", 0, "role") ->
    "messages[0].role"."""
    name = ""
    for part in loc[1:] if loc[:1] == ("body",) else loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or None


def _validation(errors: Sequence[Mapping[str, Any]]) -> tuple[str, str | None, str]:
    first = errors[0]
    if first["type"] == "json_invalid":
        return "The request body is not valid JSON.", None, "invalid_json"
    param = _param(tuple(first["loc"]))
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "missing":
        return f"Missing required parameter: '{param}'.", param, "missing_required_parameter"
    return f"Invalid '{param}': {message}.", param, "invalid_value"


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The OpenAI-shaped answer to anything a route of this mount raised."""
    if is_database_unavailable(exc):
        log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
        exc = unavailable(exc)
    headers: dict[str, str] = {}
    if isinstance(exc, RequestValidationError):
        message, param, code = _validation(exc.errors())
        status, body = 400, error_body(400, message, param=param, code=code)
    elif isinstance(exc, ServiceError):
        status = exc.status
        # a contract's structured detail ({"error": "budget_exceeded", ...}) names its code
        named = getattr(exc, "code", None) or (exc.detail.get("error") if isinstance(exc.detail, dict) else None)
        body = error_body(status, str(exc), param=getattr(exc, "param", None), code=named)
        headers = dict(getattr(exc, "headers", None) or {})
        if status >= 500 and not isinstance(exc, UnavailableError):
            log.error("%s %s answered %d: %s", request.method, request.url.path, status, exc, exc_info=exc)
    elif isinstance(exc, HTTPException):  # the studio's token checks
        status, body = exc.status_code, error_body(exc.status_code, str(exc.detail))
        headers = dict(exc.headers or {})
    elif isinstance(exc, psycopg.DataError):  # a value Postgres cannot hold (a number out of range)
        status, body = 400, error_body(400, DATA_ERROR)
    else:
        log.error("%s %s answered 500: %s: %s", request.method, request.url.path, type(exc).__name__, exc, exc_info=exc)
        status, body = 500, error_body(500, INTERNAL)
    if status == 429:
        headers["x-should-retry"] = "false"  # a spent budget does not come back in seconds: no SDK retries
    return JSONResponse(status_code=status, content=body, headers=headers or None)


class OpenAIRoute(APIRoute):
    """Answers every failure of a route (its dependencies and body parsing included) with
    `error_response`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:
                return error_response(request, exc)

        return route
