"""Tell an upstream's failure (502: the model provider, web search or X API failed) from our own
(500). A 502 tells the client to blame, and retry, a peer; it must not hide a bug of ours."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NoReturn

import httpx
import openai
from langchain_core.exceptions import OutputParserException

from runtime.errors import ServiceError, UpstreamError

MODEL_FAILED = "The chat model failed to answer; try again later."
"""The 502 detail of a twin route whose chat model failed."""

_UPSTREAM: tuple[type[BaseException], ...] = (
    UpstreamError,
    openai.APIError,  # connection, timeout and status errors of every OpenAI-compatible server
    httpx.HTTPError,
    TimeoutError,
    ConnectionError,
    OutputParserException,  # the model answered, but not in the shape it was asked for
)


# Peers' errors from libraries that only some settings load (Vertex AI; requests, under
# tavily-python), known by name so that checking for them imports nothing.
_UPSTREAM_BY_NAME = {
    ("google.api_core.exceptions", "GoogleAPIError"),
    ("requests.exceptions", "RequestException"),
}


def _is_named_upstream(error: BaseException) -> bool:
    return any((cls.__module__, cls.__name__) in _UPSTREAM_BY_NAME for cls in type(error).__mro__)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """`exc` and its explicit causes: an error raised while another was handled is not caused by it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def is_upstream_failure(exc: BaseException) -> bool:
    """True when `exc`, or an error that caused it, is a peer's failure to answer."""
    return any(isinstance(error, _UPSTREAM) or _is_named_upstream(error) for error in _causes(exc))


def raise_as_upstream_failure(exc: Exception, detail: str | dict[str, object]) -> NoReturn:
    """Inside an `except`: a peer's failure becomes the API's 502 `detail` (its cause kept for the
    log); anything else (a bug, the database, a `ServiceError`) goes on unchanged."""
    if isinstance(exc, ServiceError) or not is_upstream_failure(exc):
        raise exc
    raise ServiceError(detail, status=502) from exc
