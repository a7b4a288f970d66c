"""cluster_router's nodes: parse_constraints -> score_clusters -> rank_personas -> greeting.

Cluster score = embedding similarity, blended with the agreement of the parsed
constraints with the cluster's measured attributes when the query names any.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from graphs.cluster_router.constraints import (
    QueryConstraints,
    constraint_score,
    persona_matches_hard_constraints,
)
from graphs.cluster_router.constraints import (
    parse_constraints as rule_constraints,
)
from graphs.cluster_router.context import RouterContext, router_context
from graphs.cluster_router.state import ClusterMatch, PersonaMatch, RouterState
from prompts import render_prompt
from retrievers.clusters import ClusterRetriever
from runtime.errors import NotFoundError
from runtime.services import Services, ensure_services
from store.clusters import get_cluster, get_segment_persona, scored_cluster_personas

log = logging.getLogger(__name__)

MAX_TOP_K = 50
CANDIDATES = 50  # clusters fetched by vector search before re-scoring


class ClusterNotFound(NotFoundError):
    """No cluster has the requested id (404)."""


class TwinPersonaNotFound(NotFoundError):
    """No segment persona has the requested id (404)."""


def _top_k(state: RouterState, default: int) -> int:
    return max(1, min(MAX_TOP_K, int(state.get("top_k") or default)))


async def _services() -> Services:
    return await ensure_services()


async def _llm_constraints(query: str, model_name: str) -> QueryConstraints | None:
    from runtime.models import make_chat_model
    from runtime.settings import get_settings

    try:
        model = make_chat_model(model_name or get_settings().chat_model, temperature=0)
        result = await model.with_structured_output(QueryConstraints).ainvoke(
            render_prompt("twin_constraints", query=query)
        )
        return QueryConstraints.model_validate(result)
    except Exception as exc:  # optional step: the rules' answer stands
        log.warning("LLM constraint parse failed: %s", exc)
        return None


def merge_constraints(rules: QueryConstraints, extra: QueryConstraints | None) -> QueryConstraints:
    """Rule results win; the LLM only fills fields the rules left empty."""
    if extra is None:
        return rules
    data = rules.model_dump()
    for name, value in extra.model_dump().items():
        if name != "matched_terms" and data.get(name) in (None, []) and value not in (None, []):
            data[name] = value
    return QueryConstraints.model_validate(data)


async def parse_constraints(
    state: RouterState, runtime: Runtime[RouterContext], config: RunnableConfig
) -> dict[str, Any]:
    """Rules first (and optionally an LLM for what they missed); embed the query."""
    query = state.get("query") or ""
    constraints = rule_constraints(query)
    context = router_context(getattr(runtime, "context", None), config)
    if context.llm_parse:
        constraints = merge_constraints(constraints, await _llm_constraints(query, context.model))
    services = await _services()
    vector = await services.require_embeddings().aembed_query(query)
    return {"constraints": constraints.model_dump(), "query_vector": list(vector)}


def hybrid_score(
    similarity: float, constraints: QueryConstraints, attributes: dict[str, Any], embedding_weight: float
) -> tuple[float, float | None]:
    """(score in [0, 1], constraint agreement or None when the query named no constraint)."""
    if constraints.is_empty:
        return similarity, None
    agreement = constraint_score(constraints, attributes)
    return embedding_weight * similarity + (1 - embedding_weight) * agreement, agreement


async def score_clusters(state: RouterState, runtime: Runtime[RouterContext], config: RunnableConfig) -> dict[str, Any]:
    context = router_context(getattr(runtime, "context", None), config)
    constraints = QueryConstraints.model_validate(state.get("constraints") or {})
    services = await _services()
    retriever = ClusterRetriever(pool=services.pool, embeddings=services.require_embeddings(), k=CANDIDATES)
    matches: list[ClusterMatch] = []
    for doc in await retriever.asearch_by_vector(state["query_vector"]):
        meta = doc.metadata
        score, agreement = hybrid_score(meta["similarity"], constraints, meta["attributes"], context.embedding_weight)
        matches.append(
            {
                "cluster_id": meta["cluster_id"],
                "cluster_name": meta["cluster_name"],
                "summary": doc.page_content,
                "similarity": round(max(0.0, min(1.0, score)), 3),
                "embedding_similarity": round(meta["similarity"], 3),
                "constraint_score": agreement,
            }
        )
    matches.sort(key=lambda m: (-m["similarity"], -m["embedding_similarity"], m["cluster_id"]))
    return {"clusters": matches[: _top_k(state, 3)]}


async def rank_personas(state: RouterState) -> dict[str, Any]:
    """Hard filter (age band / gender named in the query), then similarity; at most top_k."""
    cluster_id = state.get("cluster_id")
    if cluster_id is None:
        clusters = state.get("clusters") or []
        if not clusters:
            return {"personas": []}
        cluster_id = clusters[0]["cluster_id"]
    services = await _services()
    if await get_cluster(services.pool, int(cluster_id)) is None:
        raise ClusterNotFound(f"Cluster {cluster_id} not found")
    constraints = QueryConstraints.model_validate(state.get("constraints") or {})
    rows = await scored_cluster_personas(services.pool, int(cluster_id), state["query_vector"])
    kept = [r for r in rows if persona_matches_hard_constraints(constraints, r["age_band"], r["gender"])]
    kept.sort(key=lambda r: (-r["similarity"], r["persona_id"]))
    personas: list[PersonaMatch] = [
        {
            "persona_id": r["persona_id"],
            "persona_name": r["name"],
            "gender": r["gender"],
            "age": r["age_band"],
            "summary": r["summary"],
            "similarity": round(r["similarity"], 3),
        }
        for r in kept[: _top_k(state, 5)]
    ]
    return {"cluster_id": int(cluster_id), "personas": personas}


def greeting_text(name: str, cluster_name: str, age_band: str, gender: str, summary: str) -> str:
    """The contract's greeting: the summary cut at 180 characters, then '...'."""
    return (
        f"👋 Hi, I’m {name}. I’m part of the **{cluster_name}** cluster — a {age_band}-year-old "
        f"{gender.lower()} who behaves like this: {summary[:180]}... Nice to meet you!"
    )


async def greeting(state: RouterState) -> dict[str, Any]:
    persona_id = state.get("persona_id")
    if persona_id is None:
        personas = state.get("personas") or []
        if not personas:
            return {"greeting": None}
        persona_id = personas[0]["persona_id"]
    services = await _services()
    row = await get_segment_persona(services.pool, int(persona_id))
    if row is None:
        raise TwinPersonaNotFound(f"Persona {persona_id} not found")
    return {
        "persona_id": row["persona_id"],
        "greeting": {
            "persona_id": row["persona_id"],
            "persona_name": row["name"],
            "cluster_name": row["cluster_name"],
            "greeting": greeting_text(row["name"], row["cluster_name"], row["age_band"], row["gender"], row["summary"]),
        },
    }
