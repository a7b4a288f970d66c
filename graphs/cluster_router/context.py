"""Run-time settings of cluster_router (its `context_schema`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.services import ServicesContext


@dataclass
class RouterContext(ServicesContext):
    """How clusters are scored and whether a chat model helps parse the query.

    A cluster's score blends the embedding similarity of the query with the agreement of the
    query's constraints (age, credit, income, household...) with the cluster's measured
    attributes; a query that names no constraint is scored by embedding similarity alone.
    """

    embedding_weight: float = field(
        default=0.35,
        metadata={
            "description": "Share of embedding similarity in a cluster's score, 0 to 1; the rest is "
            "constraint agreement. 1.0 ranks by embedding similarity only."
        },
    )
    llm_parse: bool = field(
        default=False,
        metadata={
            "description": "Also ask a chat model for constraints the rule-based parser missed; "
            "the rules' answers always win."
        },
    )
    match_threshold: float | None = field(
        default=None,
        metadata={
            "description": "Calibrated similarity at or above which a cluster matches the query (0 to 1); "
            "unset means the server's TWIN_MATCH_THRESHOLD."
        },
    )
    model: str = field(
        default="",
        metadata={
            "description": "Chat model for `llm_parse`, as provider:model (for example "
            "openai:gpt-4.1); empty means the server's default model."
        },
    )


def router_context(context: Any, config: Any) -> RouterContext:
    """The run's context: a RouterContext, a dict of its fields, or (older callers) the
    `configurable` of the run's config; defaults for whatever is missing."""
    if isinstance(context, RouterContext):
        return context
    values = context if isinstance(context, dict) else (config or {}).get("configurable") or {}
    known = {k: values[k] for k in ("embedding_weight", "llm_parse", "model", "match_threshold") if k in values}
    return RouterContext(**known)
