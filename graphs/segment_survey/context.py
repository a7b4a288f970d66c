"""Run-time settings of segment_survey (its `context_schema`)."""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass, field
from typing import Any

from graphs.segment_survey.closed_answer import Method
from runtime.services import ServicesContext

LOCAL_CONCURRENCY = 1
REMOTE_CONCURRENCY = 8


@dataclass
class SurveyContext(ServicesContext):
    """Which model answers for the personas, how the answer is read, and how many answers run at once."""

    model: str = field(
        default="",
        metadata={
            "description": "Chat model as provider:model (local:smollm2, openai:gpt-4.1, ...); "
            "empty means the server's CHAT_MODEL."
        },
    )
    method: Method = field(
        default="auto",
        metadata={
            "description": "How a persona's choice is read: option_likelihood (the likelihood that the persona "
            "writes each option; on the local model every option is scored from one evaluation of the "
            "persona's prompt), option_likelihood_calls (the same scores from one grammar-constrained call "
            "per option, llama.cpp only; slower), label_logprobs (letter log-probabilities, one call), ssr "
            "(the persona answers in its own words; its similarity to each option gives the distribution), "
            "or auto (label_logprobs for the twins of a table; for the demo's twins option_likelihood on the "
            "local model, label_logprobs elsewhere)."
        },
    )
    max_concurrency: int = field(
        default=0,
        metadata={
            "description": "At most this many persona answers in flight at once (1 to 64). 0 = automatic: "
            "1 on the local model (one server that answers one request at a time, and reuses a persona's "
            "prompt between its option calls), 8 on a hosted provider."
        },
    )


def survey_context(context: Any, config: Any) -> SurveyContext:
    """The run's context: a SurveyContext, a dict of its fields, or the `configurable` of the
    run's config (LangServe clients); defaults for whatever is missing."""
    if isinstance(context, SurveyContext):
        return context
    values = context if isinstance(context, dict) else (config or {}).get("configurable") or {}
    known = {k: values[k] for k in ("model", "method", "max_concurrency") if k in values and values[k] is not None}
    return SurveyContext(**known)


_shared_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


def concurrency_limit(max_concurrency: int | None, local: bool) -> int:
    """The bound a run asked for (1 to 64), or the automatic one for its model."""
    limit = int(max_concurrency or 0)
    if limit <= 0:
        limit = LOCAL_CONCURRENCY if local else REMOTE_CONCURRENCY
    return max(1, min(64, limit))


def concurrency_gate(runtime_context: Any, limit: int) -> asyncio.Semaphore:
    """The semaphore a run's fan-out branches share. Every branch of one run sees the same
    context object, so the gate is kept on it (made on first use, in the run's event loop).
    A run without a context object (LangServe passes `configurable`) shares one gate per limit
    with such runs of this process."""
    if runtime_context is not None and hasattr(runtime_context, "__dict__"):
        gate = runtime_context.__dict__.get("_gate")
        if gate is None:
            gate = asyncio.Semaphore(limit)
            runtime_context.__dict__["_gate"] = gate
        return gate
    gates = _shared_gates.setdefault(asyncio.get_running_loop(), {})
    return gates.setdefault(limit, asyncio.Semaphore(limit))
