"""Errors -> HTTP in one place: a service's `ServiceError` becomes the contracts' `{"detail": ...}`
body with the error's status; routes declare the statuses they document with `error_responses`.

A database that cannot serve the request now (every connection busy, the server down, frozen or
restarting, a statement over its timeout) is a JSON 503 with `Retry-After`, never a 500; anything
else unexpected is a JSON 500 that names no internals.

Every 5xx is logged once, with its cause's traceback, under the request's id (`X-Request-ID`,
answered on every response: `runtime.logs`), so an operator can find what a client saw."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.database import is_database_unavailable, is_overload
from runtime.errors import BUSY, DATABASE_UNAVAILABLE, INTERNAL, ServiceError, UnavailableError
from runtime.logs import valid_request_id

log = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    """Every error the three APIs answer: `detail` says what went wrong in one sentence."""

    detail: Any


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Not authenticated",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Invalid request",
    429: "Budget or rate limit exceeded",
    502: "The model provider failed",
    503: "Busy or a required service is unavailable; `Retry-After` says when to try again",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route documents."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")} for status in statuses}


def unavailable(exc: BaseException) -> UnavailableError:
    """The 503 for a database error that says "not now" (`runtime.database.is_database_unavailable`)."""
    if is_overload(exc):
        return UnavailableError(BUSY, retry_after=1)
    return UnavailableError(DATABASE_UNAVAILABLE, retry_after=5)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    if exc.status >= 500 and not isinstance(exc, UnavailableError):
        # the cause (an upstream's error, a misconfiguration) is in the chain the traceback shows
        log.error("%s %s answered %d: %s", request.method, request.url.path, exc.status, exc, exc_info=exc)
    # an error may carry headers its status calls for (a 401's WWW-Authenticate challenge, a 503's Retry-After)
    return JSONResponse(status_code=exc.status, content={"detail": exc.detail}, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):  # raised where the handler above does not reach (middleware)
        return await _database_error(request, exc)
    log.error("%s %s answered 500: %s: %s", request.method, request.url.path, type(exc).__name__, exc, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": INTERNAL})


class UnexpectedErrors:
    """Answers what nothing else handled with the JSON 500 (or the database's 503) and logs it
    once. Starlette's own catch-all would hand the exception on to the server, which logs it a
    second time without the request it belongs to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            request = Request(scope)
            if started:  # a streamed answer broke off: the client already has its status
                log.error("%s %s failed while answering", request.method, request.url.path, exc_info=exc)
                return
            response = await _unexpected(request, exc)
            await response(scope, receive, send)


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return await _service_error(request, unavailable(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Call after every other middleware is added: the catch-all wraps them all, and the request
    id wraps the catch-all, so even its log line carries the id."""
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(psycopg.OperationalError, _database_error)
    app.add_middleware(UnexpectedErrors)
    app.add_middleware(CorrelationIdMiddleware, validator=valid_request_id)
