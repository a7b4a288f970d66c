"""Errors -> HTTP in one place: a service's `ServiceError` becomes the contracts' `{"detail": ...}`
body with the error's status; routes declare the statuses they document with `error_responses`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from runtime.errors import ServiceError


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
    503: "A required service is unavailable",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the error statuses a route documents."""
    return {status: {"model": ErrorBody, "description": _DESCRIPTIONS.get(status, "Error")} for status in statuses}


async def _service_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)
    # an error may carry headers its status calls for (a 401's WWW-Authenticate challenge)
    return JSONResponse(status_code=exc.status, content={"detail": exc.detail}, headers=getattr(exc, "headers", None))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, _service_error)
