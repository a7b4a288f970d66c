"""Errors -> HTTP in one place: a service's `ServiceError` becomes the contracts' `{"detail": ...}`
body with the error's status; routes declare the statuses they document with `error_responses`.

A database that cannot serve the request now (every connection busy, the server down, frozen or
restarting, a statement over its timeout) is a JSON 503 with `Retry-After`, never a 500; anything
else unexpected is a JSON 500 that names no internals (the traceback goes to the log)."""

from __future__ import annotations

import logging
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from runtime.database import is_database_unavailable, is_overload
from runtime.errors import BUSY, DATABASE_UNAVAILABLE, ServiceError, UnavailableError

log = logging.getLogger(__name__)

OVERLOADED = BUSY
DATABASE_DOWN = DATABASE_UNAVAILABLE
INTERNAL = "Internal server error."


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
        return UnavailableError(OVERLOADED, retry_after=1)
    return UnavailableError(DATABASE_DOWN, retry_after=5)


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    # an error may carry headers its status calls for (a 401's WWW-Authenticate challenge, a 503's Retry-After)
    return JSONResponse(status_code=exc.status, content={"detail": exc.detail}, headers=getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_database_unavailable(exc):  # raised where the handler above does not reach (middleware)
        return await _database_error(request, exc)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(status_code=500, content={"detail": INTERNAL})


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable for %s %s: %s", request.method, request.url.path, exc)
    return await _service_error(request, unavailable(exc))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
    app.add_exception_handler(psycopg.OperationalError, _database_error)
    # Exception handlers run in Starlette's outer middleware, so this catches what routes,
    # dependencies and other middleware let through; the database's "not now" errors become 503.
    app.add_exception_handler(Exception, _unexpected)
