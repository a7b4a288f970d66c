"""Run configuration of the persona chat graph (its `context_schema`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Mapping


@dataclass
class ChatContext:
    """`model` is `provider:model`; empty means the persona's model, else the server default."""

    model: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    communication_style: str | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> "ChatContext":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


def resolve_context(context: Any, config: Mapping[str, Any] | None) -> ChatContext:
    """The run's context; LangServe clients pass it as `configurable` keys instead."""
    if isinstance(context, ChatContext):
        return context
    if isinstance(context, Mapping):
        return ChatContext.from_mapping(context)
    return ChatContext.from_mapping((config or {}).get("configurable"))
