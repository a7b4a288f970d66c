"""Request checks every route shares, before any route code runs, and FastAPI's 422 made safe.

`RequestChecks` refuses, for all three APIs and the graph routes alike, with 400 `{"detail": ...}`:
a NUL character (U+0000) or an unpaired surrogate anywhere a request carries text (the URL
path, the query string, a form field, a JSON body's keys and strings), which Postgres cannot
store and which no client sends on purpose; and a JSON body nested deeper than MAX_JSON_DEPTH.
A body over MAX_REQUEST_BYTES (multipart uploads aside: they have their own limits) is a 413.
Binary bodies (PNG cards, PDFs, multipart uploads) are not read here; what their routes
extract from them is checked there.

A value Postgres still refuses (a number out of range for its column, a NUL that came another
way) becomes a 400 instead of a 500 (`_data_error`), and the statement's transaction is rolled
back by the pool, so nothing partial of that statement is stored.

The default 422 handler echoes the offending input in `detail`; Python's json accepts `NaN` and
`Infinity` in a request body, and such an echo cannot be rendered as JSON (a 500). Non-finite
numbers are echoed as strings instead.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any, get_args
from urllib.parse import parse_qsl

import psycopg.errors
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, model_validator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runtime.errors import ServiceError

MAX_JSON_DEPTH = 64
# Bodies of these types are binary (or parsed by their route with its own limits).
_NOT_TEXT = ("multipart/", "image/", "application/octet-stream", "application/pdf", "application/zip")
_FORM = "application/x-www-form-urlencoded"
_CSV = ("text/csv", "application/csv")
_SURROGATE = re.compile("[\ud800-\udfff]")
NUL = "contains a NUL character (U+0000), which is not allowed"
SURROGATE = "contains an unpaired surrogate, which is not valid Unicode"
TOO_DEEP = f"Request body is nested too deeply (at most {MAX_JSON_DEPTH} levels)"
DATA_ERROR = "A value in the request cannot be stored (out of range or not valid text)"


class RequestRefused(Exception):
    def __init__(self, detail: str, status: int = 400) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status = status


def text_problem(value: str) -> str | None:
    """Why Postgres cannot store `value` as text, or None."""
    if "\x00" in value:
        return NUL
    if _SURROGATE.search(value):
        return SURROGATE
    return None


def check_text(where: str, value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise RequestRefused(f"{where} {problem}")


def refuse_bad_text(**fields: str | None) -> None:
    """For the form fields a multipart body carries (the request checks do not parse those):
    a NUL or an unpaired surrogate is the 400 a urlencoded form gets."""
    for name, value in fields.items():
        problem = value and text_problem(value)
        if problem:
            raise ServiceError(f"Form field {name!r} {problem}")


def _check_json(data: Any) -> None:
    """Every key and string of a parsed JSON body, and its depth (iteratively: no recursion)."""
    stack: list[tuple[Any, str, int]] = [(data, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise RequestRefused(TOO_DEEP)
        if isinstance(value, str):
            check_text(f"Request body field {where or '(the body)'}", value)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                check_text("A request body key", key)
                stack.append((item, name, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{where}[{index}]", depth + 1) for index, item in enumerate(value))


def _nothing_to_refuse(body: bytes) -> bool:
    """Whether a body needs no parse to pass: JSON can carry a NUL or a lone surrogate only as an
    escape, and nesting deeper than the limit needs more brackets than the limit. Most bodies
    pass here, so the checks cost a few byte scans instead of a second JSON parse."""
    return (
        b"\x00" not in body
        and b"\\u0000" not in body
        and b"\\ud" not in body
        and b"\\uD" not in body
        and body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH
    )


def _check_body(content_type: str, body: bytes) -> None:
    if content_type == _FORM:
        for key, value in parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8"):
            check_text("A form field name", key)
            check_text(f"Form field {key!r}", value)
        return
    if content_type in _CSV:
        if b"\x00" in body:
            raise RequestRefused(f"The CSV body {NUL}")
        return
    if not body.strip() or _nothing_to_refuse(body):
        return
    try:
        data = json.loads(body)
    except RecursionError:
        raise RequestRefused(TOO_DEEP) from None
    except ValueError:  # not JSON: the route answers what it makes of it
        return
    _check_json(data)


def _check_url(scope: Scope) -> None:
    check_text("The URL path", scope.get("path", ""))
    query = scope.get("query_string", b"").decode("latin-1")
    for key, value in parse_qsl(query, keep_blank_values=True, encoding="utf-8"):
        check_text("A query parameter name", key)
        check_text(f"Query parameter {key!r}", value)


class RequestChecks:
    """Pure ASGI middleware: the checks above, before the app sees the request."""

    def __init__(self, app: ASGIApp, max_body_bytes: Callable[[], int]) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        content_type = headers.get(b"content-type", b"").decode("latin-1").split(";")[0].strip().lower()
        try:
            _check_url(scope)
            if content_type.startswith(_NOT_TEXT) or scope.get("method") in ("GET", "HEAD", "OPTIONS"):
                await self.app(scope, receive, send)
                return
            body = await self._read(headers, receive)
            _check_body(content_type, body)
        except RequestRefused as exc:
            await JSONResponse({"detail": exc.detail}, status_code=exc.status)(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:  # afterwards: the client's disconnect, as the server reports it
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        limit = self.max_body_bytes()
        too_large = RequestRefused(f"Request body is larger than the limit of {limit} bytes", status=413)
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _int_fields(model: type[BaseModel]) -> frozenset[str]:
    names = set()
    for name, field in model.model_fields.items():
        kinds = set(get_args(field.annotation)) | {field.annotation}
        if int in kinds and not kinds & {float, bool}:
            names.add(name)
    return frozenset(names)


class StrictBody(BaseModel):
    """A request body whose JSON types are the ones its OpenAPI schema states: `0` is not `false`,
    `"1"` is not 1, `false` is not 0.0 (pydantic's lax mode would take them). JSON Schema's
    integers include `49.0`, so an integral float is taken for an integer field."""

    model_config = ConfigDict(strict=True)

    @model_validator(mode="before")
    @classmethod
    def _integral_floats(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        ints = _int_fields(cls)
        return {
            key: int(value)
            if key in ints and isinstance(value, float) and math.isfinite(value) and value.is_integer()
            else value
            for key, value in data.items()
        }


def json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(status_code=422, content={"detail": json_safe(jsonable_encoder(exc.errors()))})


async def _data_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(status_code=400, content={"detail": DATA_ERROR})


_ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
_COMMON = {
    "400": "Bad request: a NUL character, an unpaired surrogate, JSON nested too deeply, a value out of range",
    "503": "A required service (the database) is unavailable or the server is overloaded; try again later",
}
_WITH_BODY = {"413": "The request body is larger than MAX_REQUEST_BYTES"}
# The ghostwriter API answers every validation problem with 400 (server/ghostwriter/route.py).
_NO_422_TAGS = {"ghostwriter"}
_METHODS = {"get", "put", "post", "delete", "patch"}


def declare_common_responses(schema: dict[str, Any]) -> dict[str, Any]:
    """Every REST operation's OpenAPI answers include the statuses any request can get before its
    route runs (the request checks above, an unavailable database or an overloaded server)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "ErrorBody",
        {"type": "object", "properties": {"detail": {"title": "Detail"}}, "required": ["detail"], "title": "ErrorBody"},
    )
    for operations in schema.get("paths", {}).values():
        for method, operation in operations.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            extra = {**_COMMON, **(_WITH_BODY if "requestBody" in operation else {})}
            for status, description in extra.items():
                responses.setdefault(
                    status, {"description": description, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
                )
            if _NO_422_TAGS & set(operation.get("tags", [])):
                responses.pop("422", None)
            elif "422" in responses:  # FastAPI's list of errors, or a rule's sentence
                responses["422"] = {
                    "description": responses["422"].get("description", "Invalid request"),
                    "content": {"application/json": {"schema": _ERROR_SCHEMA}},
                }
    return schema


def install_validation_handler(app: FastAPI) -> None:
    """The 422 handler, the request checks, the data-error safety net and their OpenAPI answers."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    for error in (
        psycopg.errors.NumericValueOutOfRange,
        psycopg.errors.UntranslatableCharacter,
        psycopg.errors.CharacterNotInRepertoire,
    ):
        app.add_exception_handler(error, _data_error)

    def limit() -> int:
        return app.state.services.settings.max_request_bytes

    app.add_middleware(RequestChecks, max_body_bytes=limit)

    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_common_responses(original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
