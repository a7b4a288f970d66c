"""Request and response bodies of the OpenAI-compatible mount: the parts of OpenAI's Chat
Completions and Models objects a persona can honour.

Fields OpenAI defines that a persona cannot honour (top_p, penalties, seed, stop, tools,
response_format, ...) are accepted and ignored, as chat UIs send them unasked; `n` above 1 is
refused, since one persona gives one reply.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from use_cases.openai_compat import Completion, CompletionRequest, PersonaModel, TokenUsage

MAX_INT = 2**31 - 1


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


# ---------------------------------------------------------------- requests


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    """`system` and `developer` messages are the user's instructions to the persona."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts_only(cls, value: Any) -> Any:
        if isinstance(value, list):
            for part in value:
                kind = part.get("type") if isinstance(part, dict) else None
                if kind != "text":
                    raise ValueError(f"only text content parts are supported, not {kind!r}")
        return value

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content)
        return self.content or ""


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool | None = Field(None, description="A last chunk with `usage` and no choices.")


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=300, description="A model id of GET /models.")
    messages: list[ChatMessage] = Field(min_length=1, description="The whole conversation, oldest first.")
    stream: bool | None = Field(None, description="Server-sent `chat.completion.chunk` events, then `[DONE]`.")
    stream_options: StreamOptions | None = None
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_INT, description="Upper bound on the reply.")
    max_tokens: int | None = Field(None, ge=1, le=MAX_INT, description="Older name of max_completion_tokens.")
    temperature: float | None = Field(
        None, ge=0, le=2, description="Replaces the persona's temperature for this reply; null: the persona's."
    )
    n: int | None = Field(None, ge=1, le=1, description="Only 1: a persona gives one reply.")

    @property
    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    def to_request(self) -> CompletionRequest:
        return CompletionRequest(
            model=self.model,
            messages=[(m.role, m.text()) for m in self.messages],
            max_tokens=self.max_completion_tokens or self.max_tokens,
            temperature=self.temperature,
        )


# ---------------------------------------------------------------- responses


class ModelCard(BaseModel):
    id: str = Field(description="studio/<persona_id>, ghostwriter/<account_id> or twin/<persona_id>")
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds; 0 where the service keeps no creation time for the listing.")
    owned_by: str = Field(description="The API the persona belongs to: studio, ghostwriter or twin.")
    name: str = Field(description="The persona's name, for UIs that show one.")

    @classmethod
    def of(cls, model: PersonaModel) -> ModelCard:
        return cls(id=model.id, created=model.created, owned_by=model.owned_by, name=model.name)


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int

    @classmethod
    def of(cls, usage: TokenUsage) -> Usage:
        return cls(
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            total_tokens=usage.total_tokens,
        )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage

    @classmethod
    def of(cls, model: str, completion: Completion) -> ChatCompletion:
        return cls(
            id=completion_id(),
            created=now(),
            model=model,
            choices=[Choice(message=AssistantMessage(content=completion.text))],
            usage=Usage.of(completion.usage),
        )
