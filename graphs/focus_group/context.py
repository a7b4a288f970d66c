"""Run-time settings of focus_group (its `context_schema`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.services import ServicesContext


@dataclass
class FocusGroupContext(ServicesContext):
    """Which model speaks for the personas, how long they talk, and how the answers are grouped."""

    model: str = field(
        default="",
        metadata={
            "description": "Chat model as provider:model (local:smollm2, openai:gpt-4.1, ...); "
            "empty means the server's CHAT_MODEL."
        },
    )
    max_tokens: int = field(
        default=120, metadata={"description": "Upper bound on each answer's length in tokens (16 to 1000)."}
    )
    temperature: float | None = field(
        default=0.3,
        metadata={"description": "Sampling temperature of the answers; empty: the provider's default."},
    )
    max_concurrency: int = field(
        default=0,
        metadata={
            "description": "At most this many personas answering at once (1 to 64). 0 = automatic: 1 on the "
            "local model, 8 on a hosted provider."
        },
    )
    max_themes: int = field(
        default=6, metadata={"description": "At most this many themes per cluster, the most widely shared first."}
    )
    theme_distance: float = field(
        default=0.55,
        metadata={
            "description": "Cosine distance (0 to 2) under which answer sentences join one theme; "
            "smaller makes more, narrower themes."
        },
    )


_FIELDS = ("model", "max_tokens", "temperature", "max_concurrency", "max_themes", "theme_distance")


def focus_group_context(context: Any, config: Any) -> FocusGroupContext:
    """The run's context: a FocusGroupContext, a dict of its fields, or the `configurable` of the
    run's config (LangServe clients); defaults for whatever is missing."""
    if isinstance(context, FocusGroupContext):
        return context
    values = context if isinstance(context, dict) else (config or {}).get("configurable") or {}
    return FocusGroupContext(**{k: values[k] for k in _FIELDS if k in values and values[k] is not None})
