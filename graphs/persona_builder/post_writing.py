"""The messages that ask a ghostwriter persona for one new post.

Small models pick up a voice far better from earlier turns than from a description, so the
persona version's voice examples (real posts of the account, picked by engagement when the
version was built) go in as earlier assistant turns before the user's topic. Measured with
`python -m evals.ghostwriter_style` on SmolLM2-135M: generated posts closer to their own
account than to every other account for 6 of 6 sample accounts with 4 examples, 2 of 6
without. A small model sometimes repeats an example word for word; `write_post` then asks
again with the examples reordered, then without examples. Used by the builder's validation
(so `confidence_score` measures what generation does) and by the generate route.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from prompts import render_prompt

VOICE_EXAMPLES = 4
EXAMPLE_TOPIC = "a post in your usual voice"


def voice_examples(exemplars: Sequence[Mapping[str, Any]]) -> list[str]:
    """The texts of the first VOICE_EXAMPLES exemplars (already ordered by engagement weight)."""
    return [str(e["text"]) for e in exemplars[:VOICE_EXAMPLES] if str(e.get("text", "")).strip()]


def post_messages(system_prompt: str, examples: Sequence[str], topic: str) -> list[BaseMessage]:
    shots: list[BaseMessage] = []
    for text in list(examples)[:VOICE_EXAMPLES]:
        shots += [HumanMessage(render_prompt("ghostwriter_generate", prompt=EXAMPLE_TOPIC)), AIMessage(text)]
    return [SystemMessage(system_prompt), *shots, HumanMessage(render_prompt("ghostwriter_generate", prompt=topic))]


def _normal(text: str) -> str:
    return " ".join(text.split()).lower()


async def write_post(model: BaseChatModel, system_prompt: str, examples: Sequence[str], topic: str) -> str:
    """One post on `topic` ("" when the model says nothing). An answer that repeats a voice
    example is asked again (examples reordered, then none); the last answer is returned."""
    copies = {_normal(text) for text in examples}
    attempts = [list(examples), list(reversed(examples)), []]  # reordered once, then no examples
    text = ""
    for shots in attempts:
        reply = await model.ainvoke(post_messages(system_prompt, shots, topic))
        text = reply.text.strip()
        if _normal(text) not in copies:
            return text
    return text
