"""Sample posts in an account persona's voice."""

from __future__ import annotations

from dataclasses import dataclass

from graphs.persona_builder.post_writing import write_post
from runtime.models import make_chat_model
from runtime.services import Services
from runtime.upstream import raise_as_upstream_failure
from use_cases.ghostwriter.accounts import require_account
from use_cases.ghostwriter.errors import PROVIDER_FAILED
from use_cases.ghostwriter.personas import require_persona

# A sample post may wander from the persona's most likely wording.
POST_TEMPERATURE = 0.7


@dataclass(frozen=True)
class GeneratedPost:
    text: str
    account_id: str
    handle: str


async def generate_post(services: Services, account_id: str, prompt: str, max_tokens: int) -> GeneratedPost:
    """One post about `prompt`, written by the current persona version with its voice examples."""
    account = await require_account(services.pool, account_id)
    persona = await require_persona(services.pool, account_id)
    try:
        model = make_chat_model(
            services.settings.chat_model,
            temperature=POST_TEMPERATURE,
            max_tokens=max_tokens,
            settings=services.settings,
        )
        examples = (persona["details"] or {}).get("voice_examples") or []
        text = await write_post(model, persona["system_prompt"], examples, prompt)
    except Exception as exc:
        raise_as_upstream_failure(exc, PROVIDER_FAILED)
    return GeneratedPost(text=text, account_id=account_id, handle=account["handle"])
