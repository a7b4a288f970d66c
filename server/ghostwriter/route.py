"""How the ghostwriter routes read requests: every malformed one is 400 {"detail": "<field>: <message>"}
(or a documented rule's sentence), never FastAPI's 422.

`GhostwriterRoute` is the router's route class. A JSON body is read as the contract's clients
send it: any Content-Type, an empty body is `{}`; a body that is not JSON, or not an object, is
refused with one sentence, but only where FastAPI reports body errors, so the API key and the
path and query values are still checked first. FastAPI then validates the typed request and its
first error becomes the detail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import TypeAdapter, ValidationError
from starlette.types import Message

from runtime.errors import ServiceError
from use_cases.ghostwriter.errors import describe

NOT_JSON = "Request body must be valid JSON"
NOT_OBJECT = "Request body must be a JSON object"
TOO_DEEP = "Request body is nested too deeply"
_JSON = (b"content-type", b"application/json")


async def read_json(request: Request) -> Any:
    """The body as JSON, whatever its Content-Type; an empty body is `{}`."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ServiceError(NOT_JSON) from None
    except RecursionError:  # the request checks refuse deep nesting first; this is the backstop
        raise ServiceError(TOO_DEEP) from None


class _Refused:
    """A body refused before validation, with the sentence to answer once FastAPI reaches it."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


async def _json_object(request: Request) -> tuple[Any, Request]:
    """The body's object (or why it was refused) and a request FastAPI parses as that JSON."""
    data: Any
    try:
        data = await read_json(request)
    except ServiceError as exc:
        data = _Refused(str(exc.detail))
    if not isinstance(data, (dict, _Refused)):
        data = _Refused(NOT_OBJECT)
    if isinstance(data, _Refused):
        body = b"[]"  # FastAPI reports it as a body error, after the checks that come first
    elif not data:
        body = b"{}"  # an empty body
    else:
        body = await request.body()
    headers = [(k, v) for k, v in request.scope["headers"] if k.lower() != b"content-type"] + [_JSON]
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return await request.receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    forwarded = Request({**request.scope, "headers": headers}, receive)
    if isinstance(data, dict) and data:
        # Starlette's Request.json() keeps what it parsed here: FastAPI then reads this object
        # instead of parsing the body (a chat's attachments can make it megabytes) again
        forwarded._json = data
    return data, forwarded


def _detail(errors: Sequence[Mapping[str, Any]], body: TypeAdapter[Any] | None, data: Any) -> str:
    first = errors[0]
    loc = tuple(first["loc"])
    if loc[:1] == ("body",) and body is not None:
        if isinstance(data, _Refused):
            return data.detail
        # FastAPI validates with from_attributes, which words some errors differently
        # ("...object to extract fields from"): the API reports plain JSON validation.
        try:
            body.validate_python(data)
        except ValidationError as exc:
            return describe(exc.errors())
    return describe([{**first, "loc": loc[1:]}])


class GhostwriterRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        annotation = self.body_field.field_info.annotation if self.body_field is not None else None
        body = TypeAdapter[Any](annotation) if annotation is not None else None

        async def route(request: Request) -> Response:
            data: Any = None
            if body is not None:
                data, request = await _json_object(request)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                raise ServiceError(_detail(exc.errors(), body, data)) from None

        return route
