"""Run configuration of persona_chat (its `context_schema`): what a caller may choose per run.

LangGraph Studio shows these fields, with their descriptions, in the run's configuration form;
LangServe clients pass them as `configurable` keys (see `resolve_context`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from runtime.services import ServicesContext


@dataclass
class ChatContext(ServicesContext):
    """Which model answers and how. Every field is optional: an empty value falls back to the
    persona's own setting, then to the service's default (CHAT_MODEL)."""

    model: str = field(
        default="",
        metadata={
            "description": "Chat model as provider:model, for example local:smollm2, openai:gpt-4.1 or "
            "google_vertexai:gemini-2.5-flash. Empty: the persona's model, else CHAT_MODEL."
        },
    )
    temperature: float | None = field(
        default=None,
        metadata={
            "description": "Sampling temperature (0 = most deterministic). Empty: the persona's temperature, "
            "else the provider's default."
        },
    )
    max_tokens: int | None = field(
        default=None,
        metadata={"description": "Upper bound on the reply's length in tokens. Empty: the provider's default."},
    )
    communication_style: str | None = field(
        default=None,
        metadata={
            "description": "A style for this reply only (for example 'formal' or 'short and playful'); "
            "it is quoted to the model as a preference, never as instructions."
        },
    )

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> ChatContext:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (values or {}).items() if k in names})


def resolve_context(context: Any, config: Mapping[str, Any] | None) -> ChatContext:
    """The run's context; LangServe clients pass it as `configurable` keys instead."""
    if isinstance(context, ChatContext):
        return context
    if isinstance(context, Mapping):
        return ChatContext.from_mapping(context)
    return ChatContext.from_mapping((config or {}).get("configurable"))
