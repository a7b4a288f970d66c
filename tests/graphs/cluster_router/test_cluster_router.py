"""cluster_router graph and the twin repository, on a small imported segment set."""

from __future__ import annotations

import dataclasses

import pytest

from graphs.cluster_router import (
    ClusterNotFound,
    RouterContext,
    TwinPersonaNotFound,
    build_cluster_router,
    greeting_text,
)
from store.personas import create_persona, get_chat_profile
from tests.support.twin import cluster_key, small_segments
from use_cases.twin.demo import ensure_demo_twins
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet


@pytest.fixture
async def twins(services):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    return segments


async def _count(pool, sql: str) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute(sql)
        return (await cur.fetchone())["n"]


async def test_import_creates_twin_personas_with_prompts_and_fixes_the_sequence(services, twins: SegmentSet):
    assert await _count(services.pool, "SELECT count(*) AS n FROM clusters") == 3
    assert await _count(services.pool, "SELECT count(*) AS n FROM segment_personas") == 45
    assert await _count(services.pool, "SELECT count(*) AS n FROM personas WHERE kind = 'twin'") == 45
    first = twins.personas[0]
    profile = await get_chat_profile(services.pool, 1)
    assert profile["kind"] == "twin" and profile["name"] == first.name
    assert first.summary in profile["system_prompt"]
    assert f"credit tier: {first.attributes['credit_tier']}" in profile["system_prompt"]
    new_id = await create_persona(services.pool, kind="studio", name="Builder's persona")
    assert new_id == 46


async def test_reimport_replaces_and_a_failed_import_leaves_old_data(services, twins: SegmentSet):
    studio_id = await create_persona(services.pool, kind="studio", name="keep me")
    one = SegmentSet(clusters=twins.clusters[:1], personas=twins.personas_of(twins.clusters[0].key))
    await replace_segments(services.pool, one, services.embeddings)
    assert await _count(services.pool, "SELECT count(*) AS n FROM clusters") == 1
    assert await _count(services.pool, "SELECT count(*) AS n FROM personas WHERE kind = 'twin'") == 15
    bad_persona = dataclasses.replace(twins.personas[0], gender="Other")  # violates a CHECK in the database
    broken = SegmentSet(clusters=twins.clusters, personas=[*twins.personas[1:], bad_persona])
    with pytest.raises(Exception):
        await replace_segments(services.pool, broken, services.embeddings)
    assert await _count(services.pool, "SELECT count(*) AS n FROM clusters") == 1
    assert await _count(services.pool, "SELECT count(*) AS n FROM segment_personas") == 15
    assert await get_chat_profile(services.pool, studio_id) is not None


async def test_routes_a_query_to_the_matching_cluster(services, twins: SegmentSet):
    graph = build_cluster_router()
    state = await graph.ainvoke(
        {"task": "clusters", "query": "Millennials with high auto debt and sub-prime credit.", "top_k": 2}
    )
    clusters = state["clusters"]
    assert len(clusters) == 2
    assert clusters[0]["cluster_name"] == "Sub-Prime Auto-Heavy Millennials"
    for c in clusters:
        assert 0.0 <= c["similarity"] <= 1.0 and round(c["similarity"], 3) == c["similarity"]
    assert clusters[0]["similarity"] >= clusters[1]["similarity"]
    assert state["constraints"]["credit_tiers"] == ["Sub Prime"]


async def test_constraints_move_the_ranking_beyond_embedding_alone(services, twins: SegmentSet):
    graph = build_cluster_router()
    query = "retirees with excellent credit who donate to political campaigns"
    hybrid = await graph.ainvoke({"task": "clusters", "query": query, "top_k": 3})
    embedding_only = await graph.ainvoke(
        {"task": "clusters", "query": query, "top_k": 3}, context=RouterContext(embedding_weight=1.0)
    )
    assert hybrid["clusters"][0]["cluster_name"] == "Super-Prime Wealthy Boomers"
    assert hybrid["clusters"][0]["constraint_score"] > 0.8
    # Embedding weight 1.0 ranks by embedding similarity alone; `similarity` is that, calibrated.
    by_embedding = sorted(embedding_only["clusters"], key=lambda c: (-c["embedding_similarity"], c["cluster_id"]))
    assert [c["cluster_id"] for c in embedding_only["clusters"]] == [c["cluster_id"] for c in by_embedding]
    assert all(abs(c["raw_score"] - c["embedding_similarity"]) <= 0.0006 for c in embedding_only["clusters"])


async def test_rank_personas_hard_filters_age_band_and_returns_fewer_than_top_k(services, twins: SegmentSet):
    graph = build_cluster_router()
    key = cluster_key(twins, "Sub-Prime Auto-Heavy Millennials")
    state = await graph.ainvoke(
        {"task": "personas", "query": "25 to 34 year old residing in USA", "top_k": 5, "cluster_id": key}
    )
    personas = state["personas"]
    assert len(personas) == 3
    assert {p["age"] for p in personas} == {"25 - 34"}
    assert [p["similarity"] for p in personas] == sorted((p["similarity"] for p in personas), reverse=True)
    women = await graph.ainvoke({"task": "personas", "query": "women", "top_k": 4, "cluster_id": key})
    assert len(women["personas"]) == 4 and {p["gender"] for p in women["personas"]} == {"Female"}


async def test_full_route_greets_the_best_persona_of_the_best_cluster(services, twins: SegmentSet):
    state = await build_cluster_router().ainvoke({"query": "wealthy retired men over 75 with super prime credit"})
    greeting = state["greeting"]
    assert greeting["cluster_name"] == "Super-Prime Wealthy Boomers"
    persona = next(p for p in state["personas"] if p["persona_id"] == greeting["persona_id"])
    assert persona["gender"] == "Male" and persona["age"] == "75+"
    assert greeting["greeting"].startswith(
        f"👋 Hi, I’m {greeting['persona_name']}. I’m part of the "
        "**Super-Prime Wealthy Boomers** cluster — a 75+-year-old male who"
    )


async def test_unknown_ids_raise_lookup_errors(services, twins: SegmentSet):
    graph = build_cluster_router()
    with pytest.raises(ClusterNotFound):
        await graph.ainvoke({"task": "personas", "query": "anyone", "cluster_id": 999})
    with pytest.raises(TwinPersonaNotFound):
        await graph.ainvoke({"task": "greeting", "persona_id": 999})


def test_greeting_text_cuts_the_summary_at_180_characters():
    summary = "x" * 300
    text = greeting_text("Mason", "Slowing Super-Prime", "25 - 34", "Male", summary)
    assert text == (
        "👋 Hi, I’m Mason. I’m part of the **Slowing Super-Prime** cluster — a 25 - 34-year-old male "
        f"who behaves like this: {'x' * 180}... Nice to meet you!"
    )


async def test_demo_autoload_is_a_no_op_when_disabled_or_when_clusters_exist(services, twins: SegmentSet):
    assert services.settings.twin_demo_autoload is False
    assert await ensure_demo_twins(services) is None
    services.settings = services.settings.model_copy(update={"twin_demo_autoload": True})
    assert await ensure_demo_twins(services) is None  # clusters exist: the small set stays
    assert await _count(services.pool, "SELECT count(*) AS n FROM clusters") == 3


async def test_cluster_retriever_returns_nearest_clusters_as_documents(services, twins: SegmentSet):
    from retrievers.clusters import ClusterRetriever

    retriever = ClusterRetriever(pool=services.pool, embeddings=services.embeddings, k=2)
    query = "Millennials with high auto debt and sub-prime credit."
    docs = await retriever.ainvoke(query)
    assert len(docs) == 2
    assert docs[0].metadata["cluster_name"] == "Sub-Prime Auto-Heavy Millennials"
    assert docs[0].metadata["similarity"] >= docs[1].metadata["similarity"]
    assert docs[0].metadata["attributes"] and docs[0].page_content
    state = await build_cluster_router().ainvoke(
        {"task": "clusters", "query": query, "top_k": 3}, context=RouterContext(embedding_weight=1.0)
    )
    by_embedding = sorted(state["clusters"], key=lambda c: (-c["embedding_similarity"], c["cluster_id"]))
    assert [d.metadata["cluster_id"] for d in docs] == [c["cluster_id"] for c in by_embedding[:2]]


async def test_similarity_is_calibrated_and_out_of_scope_queries_match_nothing(services, twins: SegmentSet):
    graph = build_cluster_router()
    threshold = services.settings.twin_match_threshold
    inside = await graph.ainvoke({"task": "clusters", "query": "retirees with excellent credit", "top_k": 3})
    assert inside["clusters"][0]["matches"] and inside["clusters"][0]["similarity"] >= threshold
    for query in ("children aged 8 to 12", "retirees living in the UK", "B2B procurement managers", "cat lovers"):
        state = await graph.ainvoke({"task": "clusters", "query": query, "top_k": 3})
        assert all(not c["matches"] and c["similarity"] < threshold for c in state["clusters"]), query
    for c in inside["clusters"]:
        assert 0.0 <= c["similarity"] <= 1.0 and round(c["similarity"], 3) == c["similarity"]
    strict = await graph.ainvoke(
        {"task": "clusters", "query": "retirees with excellent credit", "top_k": 3},
        context=RouterContext(match_threshold=1.0),
    )
    assert not any(c["matches"] for c in strict["clusters"])


async def test_a_negated_age_turns_the_ranking_around(services, twins: SegmentSet):
    graph = build_cluster_router()
    wanted = await graph.ainvoke({"task": "clusters", "query": "people who are Gen Z", "top_k": 3})
    negated = await graph.ainvoke({"task": "clusters", "query": "anyone except Gen Z", "top_k": 3})
    assert wanted["clusters"][0]["cluster_name"] == "Near-Prime Single Gen Z"
    assert negated["clusters"][0]["cluster_name"] != "Near-Prime Single Gen Z"
    assert negated["clusters"][-1]["cluster_name"] == "Near-Prime Single Gen Z"
    assert negated["constraints"]["excluded"]["age_bands"] == ["18 - 24"]


async def test_llm_parse_through_the_local_model_uses_a_json_object_schema(services, twins, local_llm):
    from graphs.cluster_router.nodes import _llm_constraints, llm_schema

    assert llm_schema()["properties"]["credit_tiers"]["items"]["enum"][0] == "Sub Prime"
    parsed = await _llm_constraints("retirees with excellent credit", "local:smollm2", services.settings)
    assert parsed is not None  # llama.cpp accepted the response format and the answer validated
    state = await build_cluster_router().ainvoke(
        {"task": "clusters", "query": "retirees with excellent credit", "top_k": 3},
        context=RouterContext(llm_parse=True, model="local:smollm2"),
    )
    assert state["constraints"]["age_bands"] == ["65 - 74", "75+"]  # the rules' answer stands
