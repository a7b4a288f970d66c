"""Run-time settings of persona_builder (its `context_schema`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from runtime.services import ServicesContext


@dataclass
class BuilderContext(ServicesContext):
    """Which chat model analyses the account's style and writes the validation samples.

    The same model should later write the account's posts: the confidence score measures how
    close this model's samples, written with the drafted prompt, come to held-out real posts.
    """

    model: str = field(
        default="",
        metadata={
            "description": "Chat model as provider:model (for example openai:gpt-4.1 or "
            "local:smollm2); empty means the server's default model."
        },
    )
