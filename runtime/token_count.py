"""Token counts for a turn whose provider reported no usage.

llama.cpp's server sends no usage in streamed responses, so a streamed turn on the local model
would otherwise cost nothing. The local model's own tokenizer counts it (the server's
`/extras/tokenize/count`); any other model is counted approximately.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import httpx
from langchain_core.messages import BaseMessage
from langchain_core.messages.utils import count_tokens_approximately

from runtime.models import local_base_url, parse_model_name

# Tokens the chat template adds around each message (role markers); SmolLM2's ChatML uses about 4.
TEMPLATE_TOKENS_PER_MESSAGE = 4


@dataclass(frozen=True)
class TokenCount:
    input_tokens: int
    output_tokens: int
    source: str  # "tokenizer" or "approximate"


async def _local_count(client: httpx.AsyncClient, root: str, text: str) -> int:
    response = await client.post(f"{root}/extras/tokenize/count", json={"input": text})
    response.raise_for_status()
    return int(response.json()["count"])


async def count_tokens_with_model(model_name: str, prompt: Sequence[BaseMessage], reply: BaseMessage) -> TokenCount:
    base = local_base_url()
    if parse_model_name(model_name).provider == "local" and base is not None:
        root = base.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                prompt_tokens = 0
                for message in prompt:
                    prompt_tokens += await _local_count(client, root, message.text) + TEMPLATE_TOKENS_PER_MESSAGE
                output_tokens = await _local_count(client, root, reply.text)
            return TokenCount(prompt_tokens, output_tokens, "tokenizer")
        except (httpx.HTTPError, KeyError, ValueError):
            pass  # an older server without the endpoint: fall back to the estimate
    return TokenCount(count_tokens_approximately(list(prompt)), count_tokens_approximately([reply]), "approximate")
