"""cluster_router: from a free-text query to segment clusters, personas and a greeting.

parse_constraints -> score_clusters -> rank_personas -> greeting. `task` picks how far a
run goes: "clusters" stops after scoring clusters, "personas" ranks the personas of the
given `cluster_id`, "greeting" greets as `persona_id`, "route" (default) goes all the way
(best cluster, its best persona, that persona's greeting) — handy in LangGraph Studio.

Cluster score = embedding similarity, blended with the agreement of the parsed
constraints with the cluster's measured attributes when the query names any.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import NotRequired, TypedDict

from prompts import render_prompt
from retrievers.clusters import cluster_personas, get_cluster, get_segment_persona, search_clusters
from retrievers.constraints import (
    QueryConstraints,
    constraint_score,
    parse_constraints as rule_constraints,
    persona_matches_hard_constraints,
)

log = logging.getLogger(__name__)

Task = Literal["route", "clusters", "personas", "greeting"]
MAX_TOP_K = 50
CANDIDATES = 50  # clusters fetched by vector search before re-scoring


class ClusterNotFound(LookupError):
    pass


class TwinPersonaNotFound(LookupError):
    pass


@dataclass
class RouterContext:
    """`embedding_weight`: share of embedding similarity in the hybrid score (1.0 = embedding only).
    `llm_parse`: also ask a chat model (`model`, else the server default) for constraints the rules missed."""

    embedding_weight: float = 0.35
    llm_parse: bool = False
    model: str = ""


class ClusterMatch(TypedDict):
    cluster_id: int
    cluster_name: str
    summary: str
    similarity: float
    embedding_similarity: float
    constraint_score: float | None


class PersonaMatch(TypedDict):
    persona_id: int
    persona_name: str
    gender: str
    age: str
    summary: str
    similarity: float


class Greeting(TypedDict):
    persona_id: int
    persona_name: str
    cluster_name: str
    greeting: str


class ClusterRouterState(TypedDict):
    query: NotRequired[str]
    task: NotRequired[Task]
    top_k: NotRequired[int]
    cluster_id: NotRequired[int | None]
    persona_id: NotRequired[int | None]
    constraints: NotRequired[dict[str, Any]]
    query_vector: NotRequired[list[float]]
    clusters: NotRequired[list[ClusterMatch]]
    personas: NotRequired[list[PersonaMatch]]
    greeting: NotRequired[Greeting | None]


def _context(runtime: Runtime[RouterContext] | None, config: RunnableConfig | None) -> RouterContext:
    ctx = getattr(runtime, "context", None)
    if isinstance(ctx, RouterContext):
        return ctx
    values = ctx if isinstance(ctx, dict) else (config or {}).get("configurable") or {}
    known = {k: values[k] for k in ("embedding_weight", "llm_parse", "model") if k in values}
    return RouterContext(**known)


def _top_k(state: ClusterRouterState, default: int) -> int:
    return max(1, min(MAX_TOP_K, int(state.get("top_k") or default)))


async def _services():
    from runtime.services import ensure_services

    return await ensure_services()


async def _llm_constraints(query: str, model_name: str) -> QueryConstraints | None:
    from runtime.models import make_chat_model
    from runtime.settings import get_settings

    try:
        model = make_chat_model(model_name or get_settings().chat_model, temperature=0)
        return await model.with_structured_output(QueryConstraints).ainvoke(
            render_prompt("twin_constraints", query=query))
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


async def parse_constraints(state: ClusterRouterState, runtime: Runtime[RouterContext],
                            config: RunnableConfig) -> dict[str, Any]:
    """Rules first (and optionally an LLM for what they missed); embed the query."""
    query = state.get("query") or ""
    constraints = rule_constraints(query)
    context = _context(runtime, config)
    if context.llm_parse:
        constraints = merge_constraints(constraints, await _llm_constraints(query, context.model))
    services = await _services()
    vector = await services.require_embeddings().aembed_query(query)
    return {"constraints": constraints.model_dump(), "query_vector": list(vector)}


def hybrid_score(similarity: float, constraints: QueryConstraints, attributes: dict[str, Any],
                 embedding_weight: float) -> tuple[float, float | None]:
    """(score in [0, 1], constraint agreement or None when the query named no constraint)."""
    if constraints.is_empty:
        return similarity, None
    agreement = constraint_score(constraints, attributes)
    return embedding_weight * similarity + (1 - embedding_weight) * agreement, agreement


async def score_clusters(state: ClusterRouterState, runtime: Runtime[RouterContext],
                         config: RunnableConfig) -> dict[str, Any]:
    context = _context(runtime, config)
    constraints = QueryConstraints.model_validate(state.get("constraints") or {})
    services = await _services()
    rows = await search_clusters(services.pool, state["query_vector"], limit=CANDIDATES)
    matches: list[ClusterMatch] = []
    for row in rows:
        score, agreement = hybrid_score(row["similarity"], constraints, row["attributes"] or {},
                                        context.embedding_weight)
        matches.append({"cluster_id": row["id"], "cluster_name": row["name"], "summary": row["summary"],
                        "similarity": round(max(0.0, min(1.0, score)), 3),
                        "embedding_similarity": round(row["similarity"], 3), "constraint_score": agreement})
    matches.sort(key=lambda m: (-m["similarity"], -m["embedding_similarity"], m["cluster_id"]))
    return {"clusters": matches[:_top_k(state, 3)]}


async def rank_personas(state: ClusterRouterState) -> dict[str, Any]:
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
    rows = await cluster_personas(services.pool, int(cluster_id), state.get("query_vector"))
    kept = [r for r in rows if persona_matches_hard_constraints(constraints, r["age_band"], r["gender"])]
    kept.sort(key=lambda r: (-r["similarity"], r["persona_id"]))
    personas: list[PersonaMatch] = [
        {"persona_id": r["persona_id"], "persona_name": r["name"], "gender": r["gender"], "age": r["age_band"],
         "summary": r["summary"], "similarity": round(r["similarity"], 3)}
        for r in kept[:_top_k(state, 5)]
    ]
    return {"cluster_id": int(cluster_id), "personas": personas}


def greeting_text(name: str, cluster_name: str, age_band: str, gender: str, summary: str) -> str:
    """The contract's greeting: the summary cut at 180 characters, then '...'."""
    return (f"👋 Hi, I’m {name}. I’m part of the **{cluster_name}** cluster — a {age_band}-year-old "
            f"{gender.lower()} who behaves like this: {summary[:180]}... Nice to meet you!")


async def greeting(state: ClusterRouterState) -> dict[str, Any]:
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
    return {"persona_id": row["persona_id"], "greeting": {
        "persona_id": row["persona_id"], "persona_name": row["name"], "cluster_name": row["cluster_name"],
        "greeting": greeting_text(row["name"], row["cluster_name"], row["age_band"], row["gender"], row["summary"]),
    }}


def _task(state: ClusterRouterState) -> Task:
    return state.get("task") or "route"


def _after_start(state: ClusterRouterState) -> str:
    return "greeting" if _task(state) == "greeting" else "parse_constraints"


def _after_parse(state: ClusterRouterState) -> str:
    return "rank_personas" if _task(state) == "personas" else "score_clusters"


def _after_clusters(state: ClusterRouterState) -> str:
    return END if _task(state) == "clusters" else "rank_personas"


def _after_personas(state: ClusterRouterState) -> str:
    return END if _task(state) == "personas" else "greeting"


def build_cluster_router(checkpointer: Any = None):
    builder = StateGraph(ClusterRouterState, context_schema=RouterContext)
    builder.add_node("parse_constraints", parse_constraints)
    builder.add_node("score_clusters", score_clusters)
    builder.add_node("rank_personas", rank_personas)
    builder.add_node("greeting", greeting)
    builder.add_conditional_edges(START, _after_start, ["greeting", "parse_constraints"])
    builder.add_conditional_edges("parse_constraints", _after_parse, ["rank_personas", "score_clusters"])
    builder.add_conditional_edges("score_clusters", _after_clusters, [END, "rank_personas"])
    builder.add_conditional_edges("rank_personas", _after_personas, [END, "greeting"])
    builder.add_edge("greeting", END)
    return builder.compile(checkpointer=checkpointer, name="cluster_router")


# LangGraph Studio / `langgraph dev` entry point.
graph = build_cluster_router()
