"""Option likelihoods from one evaluation of the prompt, inside the llama.cpp server process.

A closed survey question scores every option by the log-probability that the model writes it
after the chat prompt. Asked as one grammar-constrained chat completion per option, the server
reads the prompt again for every option and turns the whole logit matrix into log-probabilities
each time. Here the prompt is evaluated once (reusing whatever prefix the server already holds)
and each option is scored from the logits that one pass left: only the option's own tokens are
evaluated, one option after another, from the same prompt state.

The tokens scored are the ones a grammar-constrained greedy completion writes: at every step the
most likely token (by raw logit) among those whose text is a prefix of what is left of the
option. Log-probabilities come from the raw logits through llama-cpp-python's own
``Llama.logits_to_logprobs``, as the chat endpoint reports them.

This module imports llama_cpp and runs only where the model is loaded (see runtime.llama_server).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import llama_cpp
import numpy as np
from llama_cpp import llama_chat_format


@dataclass(frozen=True)
class OptionScore:
    tokens: list[int]
    logprob: float


@dataclass(frozen=True)
class OptionScores:
    """Every option's score, and what the pass cost: ``prompt_tokens`` in the chat prompt, of
    which ``evaluated_tokens`` were evaluated (the rest reused from the server's KV cache)."""

    scores: list[OptionScore]
    prompt_tokens: int
    evaluated_tokens: int
    prompt_seconds: float
    options_seconds: float


class _PromptCaptured(Exception):
    def __init__(self, tokens: list[int]) -> None:
        super().__init__("prompt captured")
        self.tokens = tokens


class _PromptTap:
    """Stands in for the Llama object while the model's chat handler formats the messages: the
    handler hands its prompt tokens to ``create_completion``, which captures them instead of
    generating. So the prompt is token for token the one the chat endpoint would evaluate."""

    def __init__(self, llama: llama_cpp.Llama) -> None:
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, prompt: Sequence[int], **_: Any) -> None:
        raise _PromptCaptured(list(prompt))


def chat_prompt_tokens(llama: llama_cpp.Llama, messages: list[dict[str, Any]]) -> list[int]:
    """The tokens the chat completion endpoint evaluates for ``messages`` (with the generation prompt)."""
    handler: Callable[..., Any] = (
        llama.chat_handler
        or llama._chat_handlers.get(str(llama.chat_format))  # noqa: SLF001 - the library's own lookup order
        or llama_chat_format.get_chat_completion_handler(str(llama.chat_format))
    )
    try:
        handler(llama=_PromptTap(llama), messages=messages)
    except _PromptCaptured as captured:
        return captured.tokens
    raise RuntimeError("The chat handler did not ask for a completion.")


_pieces: dict[int, dict[bytes, list[int]]] = {}


def _tokens_by_text(llama: llama_cpp.Llama) -> dict[bytes, list[int]]:
    """Every token with visible text, by that text (built once per loaded model)."""
    key = id(llama)
    if key not in _pieces:
        table: dict[bytes, list[int]] = defaultdict(list)
        for token in range(llama.n_vocab()):
            piece = llama.detokenize([token])
            if piece:
                table[piece].append(token)
        _pieces[key] = dict(table)
    return _pieces[key]


def _last_logits(llama: llama_cpp.Llama) -> np.ndarray:
    return llama.scores[llama.n_tokens - 1, :]


def _evaluate_prompt(llama: llama_cpp.Llama, tokens: list[int]) -> int:
    """Evaluate ``tokens``, reusing the prefix the model already holds; how many were evaluated.
    The last token is always evaluated again, and alone: its logits then come out the same whether
    the rest was just evaluated or reused (a long batch rounds differently from a single token),
    so the same prompt always gets the same scores, as the chat endpoint's re-read gives them."""
    reused = min(llama_cpp.Llama.longest_token_prefix(llama._input_ids.tolist(), tokens), len(tokens) - 1)  # noqa: SLF001
    if reused <= 0 or not llama._ctx.kv_cache_seq_rm(-1, reused, -1):  # noqa: SLF001
        llama.reset()
        reused = 0
    llama.n_tokens = reused
    if reused < len(tokens) - 1:
        _eval_without_logits(llama, tokens[reused:-1])
    llama.eval(tokens[-1:])
    return len(tokens) - reused


def _eval_without_logits(llama: llama_cpp.Llama, tokens: list[int]) -> None:
    """Evaluate `tokens` for the KV cache they leave, without their logits: the scores read only
    the last prompt token's, and the model's output layer over the whole vocabulary is a fifth
    of the work of every token that asks for them."""
    keep = llama._logits_all  # noqa: SLF001
    llama._logits_all = False  # noqa: SLF001 - read by `eval` for this batch only
    try:
        llama.eval(tokens)
    finally:
        llama._logits_all = keep  # noqa: SLF001


def _score_option(
    llama: llama_cpp.Llama, prompt_length: int, text: bytes, table: dict[bytes, list[int]]
) -> OptionScore:
    llama.n_tokens = prompt_length  # the next eval drops whatever an earlier option left in the KV cache
    logits = _last_logits(llama)
    chosen: list[int] = []
    total = 0.0
    rest = text
    while rest:
        allowed = [t for end in range(1, len(rest) + 1) for t in table.get(rest[:end], ())]
        if not allowed:
            raise ValueError(f"No token of the model writes {rest.decode('utf-8', 'replace')!r}.")
        token = max(allowed, key=lambda t: (logits[t], -t))
        total += float(llama_cpp.Llama.logits_to_logprobs(logits)[token])
        chosen.append(token)
        rest = rest[len(llama.detokenize([token])) :]
        if rest:
            llama.eval([token])
            logits = _last_logits(llama)
    return OptionScore(tokens=chosen, logprob=total)


def score_options(llama: llama_cpp.Llama, messages: list[dict[str, Any]], options: Sequence[str]) -> OptionScores:
    """Each option's summed token log-probability as the assistant's reply to ``messages``."""
    if not llama._logits_all:  # noqa: SLF001
        raise RuntimeError("Option scoring needs the model loaded with logits_all.")
    prompt = chat_prompt_tokens(llama, messages)
    longest = max(len(o.encode("utf-8")) for o in options)
    if len(prompt) + longest >= llama.n_ctx():
        raise ValueError(f"The prompt ({len(prompt)} tokens) and the options do not fit the context ({llama.n_ctx()}).")
    table = _tokens_by_text(llama)
    start = time.perf_counter()
    evaluated = _evaluate_prompt(llama, prompt)
    prompt_done = time.perf_counter()
    scores = [_score_option(llama, len(prompt), option.encode("utf-8"), table) for option in options]
    llama.n_tokens = len(prompt)  # keep only the prompt: a chat completion on it reuses the whole prefix
    llama._requires_eval = True  # noqa: SLF001 - the context's logits are an option's, not the prompt's
    return OptionScores(
        scores=scores,
        prompt_tokens=len(prompt),
        evaluated_tokens=evaluated,
        prompt_seconds=prompt_done - start,
        options_seconds=time.perf_counter() - prompt_done,
    )
