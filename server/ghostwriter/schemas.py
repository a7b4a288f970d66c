"""Request bodies of the ghostwriter API and their validation (400 {"detail": ...} on bad input)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, TypeVar

from fastapi import HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MAX_INSTRUCTIONS = 2000
M = TypeVar("M", bound=BaseModel)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class CreateBody(_Body):
    force: bool = False
    post_limit: int = Field(100, ge=1, le=1000)


class RefineBody(_Body):
    post_limit: int = Field(100, ge=1, le=1000)


class BatchBody(_Body):
    account_ids: list[str] | None = None
    force: bool = False
    post_limit: int = Field(100, ge=1, le=1000)


class GenerateBody(_Body):
    prompt: str | None = None
    max_tokens: int = Field(280, ge=1, le=4000)


class HistoryItem(_Body):
    role: Literal["user", "assistant"]
    content: str


class Attachment(_Body):
    type: Literal["image", "file"]
    data: str = Field(min_length=1)
    mime_type: str | None = None
    filename: str | None = None


class LLMConfig(_Body):
    provider: str | None = None
    model: str | None = None
    temperature: float = Field(0.2, ge=0.0, le=1.0)
    communication_style: Literal["academic", "professional", "balanced", "friendly", "casual"] | None = None
    system_prompt: str | None = None
    additional_instructions: str | None = None


class DataSources(_Body):
    documents: bool = False
    web: bool = False


class ChatBody(_Body):
    message: str | None = None
    conversation_history: list[HistoryItem] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    max_tokens: int = Field(500, ge=1, le=8000)
    stream: bool = True
    llm_config: LLMConfig | None = Field(default_factory=LLMConfig)
    data_sources: DataSources | None = None
    include_debug: bool = True


class AccountBody(_Body):
    id: str = Field(min_length=1, max_length=64)
    handle: str = Field(min_length=1, max_length=64)
    display_name: str = ""
    avatar_url: str = ""
    active: bool = True

    @field_validator("handle")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.lstrip("@")


class PostBody(_Body):
    id: str = Field(min_length=1, max_length=64)
    text: str = Field(min_length=1)
    created_at: datetime
    replies: int = Field(0, ge=0)
    reposts: int = Field(0, ge=0)
    likes: int = Field(0, ge=0)
    views: int = Field(0, ge=0)

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a timezone (e.g. 2025-01-15T10:30:00Z)")
        return value


def bad_request(detail: str) -> HTTPException:
    return HTTPException(status_code=400, detail=detail)


def describe(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}"


async def read_json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad_request("Request body must be valid JSON") from None


def validate(model: type[M], data: Any) -> M:
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise bad_request(describe(exc)) from None


async def parse_body(request: Request, model: type[M]) -> M:
    return validate(model, await read_json(request))


async def parse_chat(request: Request) -> ChatBody:
    data = await read_json(request)
    if not isinstance(data, dict):
        raise bad_request("Request body must be a JSON object")
    message = data.get("message")
    if message is None or (isinstance(message, str) and not message.strip()):
        raise bad_request("message is required")
    config = data.get("llm_config")
    if isinstance(config, dict):
        extra = config.get("additional_instructions")
        if isinstance(extra, str) and len(extra) > MAX_INSTRUCTIONS:
            raise bad_request(f"additional_instructions exceeds {MAX_INSTRUCTIONS} character limit")
    return validate(ChatBody, data)


async def parse_generate(request: Request) -> GenerateBody:
    body = await parse_body(request, GenerateBody)
    if body.prompt is None or not body.prompt.strip():
        raise bad_request("prompt is required")
    return body
