"""Who answers: the clusters a survey or focus group names (ids, a routed query, or all of them)
and their personas, each with its system prompt and the weight of the records it stands for."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from typing_extensions import NotRequired, TypedDict

from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.nodes import ClusterNotFound
from graphs.persona_chat.facts import persona_facts
from graphs.segment_survey.raking import Weighting, survey_weights
from graphs.segment_survey.segment_prior import Shares, prior_shares
from graphs.segment_survey.survey_prompt import PromptOf
from runtime.services import Services
from store.clusters import ClusterRow, cluster_personas, get_cluster, list_clusters
from store.personas import get_chat_profile

MAX_TOP_K = 50


class Respondent(TypedDict):
    persona_id: int
    persona_name: str
    cluster_id: int
    cluster_name: str
    gender: str
    age_band: str
    weight: float
    """Share of the cluster's records this persona stands for (the cluster's weights sum to 1),
    as the survey's `weighting` reckons it (`graphs.segment_survey.raking`)."""
    system_prompt: str
    survey_prompt: NotRequired[str]
    """The shorter prompt the survey asks the question with (`graphs.segment_survey.survey_prompt`);
    the chat's `system_prompt` where it is missing."""
    facts: dict[str, Any]
    """The persona's record facts in the fact checker's keys (`graphs.persona_chat.facts`)."""
    segment_shares: Shares
    """How the cluster's records split on the facts it stores shares of (`segment_prior`)."""
    record_id: NotRequired[str | None]
    """The record of the person the twin stands for, when it has one."""
    record_answer: NotRequired[str | None]
    """The option the persona's own record gives, when the question asks about a profile column
    of the table the twins were built from (`domain.record_answers`); the model is not asked."""


class ClusterInfo(TypedDict):
    cluster_id: int
    cluster_name: str
    n_personas: int


async def chosen_clusters(
    services: Services, cluster_ids: Sequence[int] | None, query: str | None, top_k: int | None
) -> list[ClusterRow]:
    """The clusters named by id (in the order given, duplicates once; an unknown id is a 404
    "Cluster N not found"), else the `top_k` clusters cluster_router finds for `query`, else all."""
    if cluster_ids:
        rows: list[ClusterRow] = []
        for cluster_id in dict.fromkeys(int(c) for c in cluster_ids):
            row = await get_cluster(services.pool, cluster_id)
            if row is None:
                raise ClusterNotFound(f"Cluster {cluster_id} not found")
            rows.append(row)
        return rows
    if query and query.strip():
        from graphs.cluster_router.graph import graph as cluster_router

        k = max(1, min(MAX_TOP_K, int(top_k or 3)))
        routed = await cluster_router.ainvoke(
            {"task": "clusters", "query": query, "top_k": k}, context=RouterContext(services=services)
        )
        found = [await get_cluster(services.pool, c["cluster_id"]) for c in routed.get("clusters") or []]
        return [c for c in found if c is not None]
    return await list_clusters(services.pool)


RecordAnswer = Callable[[Mapping[str, Any]], str | None]


async def respondents_of(
    services: Services,
    cluster: ClusterRow,
    weighting: Weighting = "age_gender",
    record_answer: RecordAnswer | None = None,
    prompt_of: PromptOf | None = None,
) -> list[Respondent]:
    """Every persona of `cluster` in id order, weighted by its (gender, age band) cell, or
    (`weighting="raked"`) raked to every split of its records the cluster stores (a table's
    twins: every column's); with its survey prompt when `prompt_of` writes one."""
    personas = await cluster_personas(services.pool, cluster["id"])
    profiles = [await get_chat_profile(services.pool, p["persona_id"]) for p in personas]
    facts = [persona_facts(profile["attributes"]) if profile else {} for profile in profiles]
    cells = [(p["gender"], p["age_band"]) for p in personas]
    records = [(profile["attributes"] or {}) if profile else {} for profile in profiles]
    stands_for = [record.get("stands_for") for record in records]
    # raking a table's twins to its dozens of columns takes tens of milliseconds: off the event loop
    weights = await asyncio.to_thread(
        survey_weights, cells, facts, cluster["attributes"], weighting, stands_for, records
    )
    shares = prior_shares(cluster["attributes"])
    chosen: list[Respondent] = []
    for persona, profile, record_facts, weight in zip(personas, profiles, facts, weights, strict=True):
        attributes = (profile["attributes"] if profile else None) or {}
        respondent = Respondent(
            persona_id=persona["persona_id"],
            persona_name=persona["name"],
            cluster_id=cluster["id"],
            cluster_name=cluster["name"],
            gender=persona["gender"],
            age_band=persona["age_band"],
            weight=weight,
            system_prompt=profile["system_prompt"] if profile else "",
            facts=record_facts,
            segment_shares=shares,
            record_id=_record_id(attributes),
            record_answer=record_answer(attributes) if record_answer and profile else None,
        )
        if prompt_of is not None and profile:
            respondent["survey_prompt"] = prompt_of(cluster, persona, attributes)
        chosen.append(respondent)
    return chosen


def _record_id(attributes: Mapping[str, Any] | None) -> str | None:
    value = (attributes or {}).get("record_id")
    return None if value is None else str(value)


def cluster_info(cluster: ClusterRow, respondents: Sequence[Respondent]) -> ClusterInfo:
    return ClusterInfo(cluster_id=cluster["id"], cluster_name=cluster["name"], n_personas=len(respondents))


async def gather_respondents(
    services: Services,
    state: Mapping[str, Any],
    pick: Callable[[list[Respondent]], list[Respondent]] | None = None,
    weighting: Weighting = "age_gender",
    record_answer: RecordAnswer | None = None,
    prompt_of: PromptOf | None = None,
) -> tuple[list[ClusterInfo], list[Respondent]]:
    """The clusters the state's `cluster_ids` / `query` / `top_k` choose, and their personas: all
    of each cluster's, or those `pick` keeps. `weighting` is the survey's; a focus group picks
    by the cell weights."""
    clusters = await chosen_clusters(services, state.get("cluster_ids"), state.get("query"), state.get("top_k"))
    infos: list[ClusterInfo] = []
    chosen: list[Respondent] = []
    for cluster in clusters:
        members = await respondents_of(services, cluster, weighting, record_answer, prompt_of)
        if pick is not None:
            members = pick(members)
        infos.append(cluster_info(cluster, members))
        chosen.extend(members)
    return infos, chosen


def reset_or_add(left: list[Any] | None, right: list[Any] | None) -> list[Any]:
    """Reducer of results that fan-out branches add to; None empties the list, so a second run
    on the same thread (LangGraph Studio) starts afresh."""
    if right is None:
        return []
    return [*(left or []), *right]
