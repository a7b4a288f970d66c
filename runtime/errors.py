"""The service's own errors: one short sentence each, safe to show to a caller.

They derive from RuntimeError on purpose: langgraph-api (LangGraph Studio, `langgraph dev`)
shows a node's exception message only for a few built-in classes (ValueError, TypeError,
KeyError, RuntimeError, ...) and answers "An internal error occurred" for everything else.
`status` is the HTTP status the REST adapters answer with.
"""

from __future__ import annotations

from typing import Any


class ServiceError(RuntimeError):
    """A request cannot be served; the message says why in one sentence."""

    status: int = 400

    def __init__(self, detail: str | dict[str, Any], *, status: int | None = None) -> None:
        # A contract's structured detail ({"error": ..., "message": ...}) keeps its sentence as the message.
        super().__init__(detail if isinstance(detail, str) else str(detail.get("message", detail)))
        self.detail = detail
        if status is not None:
            self.status = status


class NotFoundError(ServiceError):
    """A named object does not exist (or the caller may not see it)."""

    status = 404


class ConfigError(ServiceError):
    """A setting is wrong or a required service is unreachable: stops start-up."""

    status = 503


class UnavailableError(ServiceError):
    """The service cannot take the request now (overloaded, or the database is down): a 503 with
    `Retry-After`, answered before any work starts; the same request may succeed later."""

    status = 503

    def __init__(self, detail: str, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamError(Exception):
    """A peer the service calls (model provider, web search, X API) refused or failed: the
    request answers 502. Our own failures are 500s (`runtime.upstream.is_upstream_failure`)."""


BUSY = "The service is busy; try again shortly."
INTERNAL = "Internal server error."
DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly."
