"""cluster_router's nodes: parse_constraints -> score_clusters -> rank_personas -> greeting.

A cluster's raw score is the embedding similarity, blended with the agreement of the
parsed constraints (wanted and excluded) with the cluster's measured attributes when the
query names any (the more constraints a query names, the less the embedding counts:
jargon the embedding model does not know still routes by what the parser read), and cut to a fraction when the query is about people the cluster cannot
hold (under 18, businesses, another country). The `similarity` clients see is that raw
score calibrated (Platt scaling fitted on the development eval sets): in [0, 1], rounded to
3 decimals, and comparable across queries, so one threshold (`TWIN_MATCH_THRESHOLD`)
separates matching clusters from queries that no segment matches.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from domain.demographics import person_phrase
from graphs.cluster_router.constraints import (
    ConstraintFields,
    QueryConstraints,
    constraint_score,
    persona_matches_hard_constraints,
    scope_fits,
)
from graphs.cluster_router.constraints import (
    parse_constraints as rule_constraints,
)
from graphs.cluster_router.context import RouterContext, router_context
from graphs.cluster_router.named_values import named_values, value_agreement
from graphs.cluster_router.state import ClusterMatch, PersonaMatch, RouterState
from prompts import render_prompt
from retrievers.clusters import ClusterRetriever
from runtime.errors import NotFoundError
from runtime.services import services_of, settings_of
from runtime.settings import Settings
from store.clusters import get_cluster, get_segment_persona, scored_cluster_personas

log = logging.getLogger(__name__)

MAX_TOP_K = 50
CANDIDATES = 50  # clusters fetched by vector search before re-scoring
# The raw score of a cluster the query's people cannot be in (under 18, businesses, another country).
SCOPE_PENALTY = 0.3
# Platt scaling of the raw score, fitted by `python -m evals.twin_routing --calibrate` on the
# development sets (twin_routing.jsonl, twin_routing_hard_dev.jsonl, twin_routing_jargon_dev.jsonl,
# twin_routing_jargon_dev2.jsonl), never on the held-out set.
CALIBRATION_SLOPE = 51.160
CALIBRATION_INTERCEPT = -41.805


class ClusterNotFound(NotFoundError):
    """No cluster has the requested id (404)."""


class TwinPersonaNotFound(NotFoundError):
    """No segment persona has the requested id (404)."""


def _top_k(state: RouterState, default: int) -> int:
    return max(1, min(MAX_TOP_K, int(state.get("top_k") or default)))


def llm_schema() -> dict[str, Any]:
    """JSON schema of what the chat model may fill in: the constraint fields, wanted and
    excluded, with their allowed values spelled out (small local models follow an `enum`)."""
    from domain.demographics import AGE_BANDS

    tiers = ["Sub Prime", "Near Prime", "Prime", "Super Prime"]
    fields: dict[str, Any] = {}
    for name, info in ConstraintFields.model_fields.items():
        if name == "age_bands":
            fields[name] = {"type": "array", "items": {"enum": list(AGE_BANDS)}}
        elif name == "credit_tiers":
            fields[name] = {"type": "array", "items": {"enum": tiers}}
        elif info.annotation in (bool | None,):
            fields[name] = {"type": "boolean"}
        elif name == "ethnicity":
            fields[name] = {"enum": ["White", "Hispanic", "Black", "Asian", "Other"]}
        elif name == "region":
            fields[name] = {"enum": ["Northeast", "Midwest", "South", "West"]}
        else:
            args = [a for a in getattr(info.annotation, "__args__", ()) if a is not type(None)]
            values = [v for a in args for v in getattr(a, "__args__", ())]
            fields[name] = {"enum": values}
    return {
        "type": "object",
        "properties": {**fields, "excluded": {"type": "object", "properties": dict(fields)}},
    }


def _json_object(text: str) -> dict[str, Any]:
    start, end = text.find("{"), text.rfind("}")
    return json.loads(text[start : end + 1]) if start >= 0 and end > start else {}


async def _llm_constraints(query: str, model_name: str, settings: Settings) -> QueryConstraints | None:
    """Constraints a chat model reads in the query, or None when it fails.

    The local llama.cpp server rejects OpenAI's `json_schema` response format but accepts
    `{"type": "json_object", "schema": ...}` and constrains its output to that schema, so
    local models get that; other providers get LangChain's structured output."""
    from runtime.models import make_chat_model, parse_model_name

    name = model_name or settings.chat_model
    prompt = render_prompt("twin_constraints", query=query)
    try:
        model = make_chat_model(name, temperature=0, max_tokens=200, settings=settings)
        if parse_model_name(name).provider == "local":
            bound = model.bind(response_format={"type": "json_object", "schema": llm_schema()})
            message = await bound.ainvoke(prompt)
            data = _json_object(str(message.content))
        else:
            result = await model.with_structured_output(QueryConstraints).ainvoke(prompt)
            data = QueryConstraints.model_validate(result).model_dump()
        return QueryConstraints.model_validate(_valid_only(data))
    except Exception as exc:  # optional step: the rules' answer stands
        log.warning("LLM constraint parse failed: %s", exc)
        return None


def _valid_only(data: dict[str, Any]) -> dict[str, Any]:
    """The fields of `data` that validate one by one (a small model's slip costs one field, not all)."""
    out: dict[str, Any] = {}
    for name in ConstraintFields.model_fields:
        if name in data:
            try:
                ConstraintFields.model_validate({name: data[name]})
                out[name] = data[name]
            except ValueError:
                continue
    excluded = data.get("excluded")
    if isinstance(excluded, dict):
        out["excluded"] = _valid_only(excluded)
    return out


def merge_constraints(rules: QueryConstraints, extra: QueryConstraints | None) -> QueryConstraints:
    """Rule results win; the LLM only fills fields the rules left empty (wanted or excluded),
    and never wants what the rules excluded or excludes what they want."""
    if extra is None:
        return rules
    data = rules.model_dump()
    wanted, excluded = data, data["excluded"]
    for name in ConstraintFields.model_fields:
        value, ex_value = getattr(extra, name), getattr(extra.excluded, name)
        if wanted[name] in (None, []) and excluded[name] in (None, []) and value not in (None, []):
            wanted[name] = value
        elif excluded[name] in (None, []) and wanted[name] in (None, []) and ex_value not in (None, []):
            excluded[name] = ex_value
    return QueryConstraints.model_validate(data)


async def parse_constraints(
    state: RouterState, runtime: Runtime[RouterContext], config: RunnableConfig
) -> dict[str, Any]:
    """Rules first (and optionally an LLM for what they missed); embed the query."""
    query = state.get("query") or ""
    constraints = rule_constraints(query)
    context = router_context(getattr(runtime, "context", None), config)
    if context.llm_parse and query.strip():
        constraints = merge_constraints(constraints, await _llm_constraints(query, context.model, settings_of(context)))
    services = await services_of(context)
    vector = await services.require_embeddings().aembed_query(query)
    return {"constraints": constraints.model_dump(), "query_vector": list(vector)}


def evidence_weight(embedding_weight: float, n_constraints: int) -> float:
    """The embedding's share when the query names `n_constraints` constraints: the embedding
    counts as much as `embedding_weight` says against one constraint, and each further
    constraint is as much evidence again (0.35 against 1, 0.15 against 3, 0.10 against 5)."""
    if embedding_weight >= 1.0:
        return 1.0
    ratio = embedding_weight / (1 - embedding_weight)
    return ratio / (ratio + max(1, n_constraints))


def hybrid_score(
    similarity: float,
    constraints: QueryConstraints,
    attributes: dict[str, Any],
    embedding_weight: float,
    value_parts: Mapping[str, float] | None = None,
) -> tuple[float, float | None]:
    """(raw score in [0, 1], constraint agreement or None when the query named no constraint).
    ``value_parts``: agreement per column whose values the query names (`named_values`), each
    weighed as one constraint."""
    parts = dict(value_parts or {})
    if constraints.is_empty and not parts:
        raw, agreement = similarity, None
    else:
        n_rules = 0 if constraints.is_empty else constraints.count()
        rules = constraint_score(constraints, attributes) if n_rules else 0.0
        agreement = round((rules * n_rules + sum(parts.values())) / (n_rules + len(parts)), 4) if parts else rules
        weight = evidence_weight(embedding_weight, n_rules + len(parts))
        raw = weight * similarity + (1 - weight) * agreement
    if not scope_fits(constraints, attributes):
        raw *= SCOPE_PENALTY
    return max(0.0, min(1.0, raw)), agreement


def calibrated(raw: float) -> float:
    """The raw score as a calibrated similarity in [0, 1], rounded to 3 decimals."""
    return round(1 / (1 + math.exp(-(CALIBRATION_SLOPE * raw + CALIBRATION_INTERCEPT))), 3)


async def score_clusters(state: RouterState, runtime: Runtime[RouterContext], config: RunnableConfig) -> dict[str, Any]:
    context = router_context(getattr(runtime, "context", None), config)
    constraints = QueryConstraints.model_validate(state.get("constraints") or {})
    services = await services_of(context)
    threshold = context.match_threshold
    if threshold is None:
        threshold = services.settings.twin_match_threshold
    retriever = ClusterRetriever(pool=services.pool, embeddings=services.require_embeddings(), k=CANDIDATES)
    matches: list[ClusterMatch] = []
    found = await retriever.asearch_by_vector(state["query_vector"])
    named = named_values(state.get("query") or "", (d.metadata["attributes"].get("value_shares") or {} for d in found))
    for doc in found:
        meta = doc.metadata
        parts = value_agreement(named, meta["attributes"].get("value_shares") or {})
        raw, agreement = hybrid_score(
            meta["similarity"], constraints, meta["attributes"], context.embedding_weight, parts
        )
        similarity = calibrated(raw)
        matches.append(
            {
                "cluster_id": meta["cluster_id"],
                "cluster_name": meta["cluster_name"],
                "summary": doc.page_content,
                "similarity": similarity,
                "embedding_similarity": round(meta["similarity"], 3),
                "constraint_score": agreement,
                "raw_score": round(raw, 4),
                "matches": similarity >= threshold,
            }
        )
    matches.sort(key=lambda m: (-m["raw_score"], -m["embedding_similarity"], m["cluster_id"]))
    return {"clusters": matches[: _top_k(state, 3)]}


async def rank_personas(state: RouterState, runtime: Runtime[RouterContext]) -> dict[str, Any]:
    """Hard filter (age band / gender named in the query), then the twins whose record gave the
    values the query names, then similarity; at most top_k."""
    cluster_id = state.get("cluster_id")
    if cluster_id is None:
        clusters = state.get("clusters") or []
        if not clusters:
            return {"personas": []}
        cluster_id = clusters[0]["cluster_id"]
    services = await services_of(runtime.context)
    cluster = await get_cluster(services.pool, int(cluster_id))
    if cluster is None:
        raise ClusterNotFound(f"Cluster {cluster_id} not found")
    constraints = QueryConstraints.model_validate(state.get("constraints") or {})
    rows = await scored_cluster_personas(services.pool, int(cluster_id), state["query_vector"])
    kept = [r for r in rows if persona_matches_hard_constraints(constraints, r["age_band"], r["gender"])]
    # twins whose own record gave the values the query names come first
    named = named_values(state.get("query") or "", [(cluster["attributes"] or {}).get("value_shares") or {}])

    def gave(row: Any) -> int:
        answers = row["attributes"] or {}
        return sum(any(str(answers.get(column)) == v for v in values) for column, values in named.items())

    kept.sort(key=lambda r: (-gave(r), -r["similarity"], r["persona_id"]))
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
        f"👋 Hi, I’m {name}. I’m part of the **{cluster_name}** cluster — {person_phrase(age_band, gender)} "
        f"who behaves like this: {summary[:180]}... Nice to meet you!"
    )


async def greeting(state: RouterState, runtime: Runtime[RouterContext]) -> dict[str, Any]:
    persona_id = state.get("persona_id")
    if persona_id is None:
        personas = state.get("personas") or []
        if not personas:
            return {"greeting": None}
        persona_id = personas[0]["persona_id"]
    services = await services_of(runtime.context)
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
