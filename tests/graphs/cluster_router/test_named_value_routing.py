"""Routing on twins built from any table: a query that names a table's answers ("Republicans")
goes to the clusters whose members gave them, whatever the table's columns are."""

from __future__ import annotations

from graphs.cluster_router import build_cluster_router
from graphs.cluster_router.named_values import named_values, value_agreement
from store.clusters import get_segment_persona
from tests.use_cases.twin.test_twin_record_tables import SCHEMA, columns_of, survey_rows
from use_cases.twin.record_table import check_table, parse_schema
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.table_build import build_table_segments

SHARES = {
    "party": {"Strong Democrat": 0.3, "Democrat": 0.2, "Republican": 0.5},
    "death_penalty": {"Favor": 0.7, "Oppose": 0.3},
    "owns_home": {"yes": 0.6, "no": 0.4},
    "vote": {"Other": 0.1, "Mitt Romney": 0.9},
}


def test_a_query_names_values_that_name_something_and_the_longest_phrase_wins():
    assert named_values("strong democrats who favor Mitt Romney", [SHARES]) == {
        "party": ["Strong Democrat"],
        "vote": ["Mitt Romney"],
    }  # "Favor" and "yes" say nothing without their question; "Democrat" is inside what was said
    assert named_values("Republicans and other people", [SHARES]) == {"party": ["Republican"]}
    assert named_values("anyone at all", [SHARES]) == {}


def test_agreement_is_the_share_that_gave_a_named_value_full_at_sixty_percent():
    named = {"party": ["Democrat", "Strong Democrat"], "vote": ["Mitt Romney"]}
    assert value_agreement(named, SHARES) == {"party": 0.8333, "vote": 1.0}
    assert value_agreement(named, {}) == {"party": 0.0, "vote": 0.0}


async def test_a_query_naming_a_tables_answer_routes_to_the_clusters_that_gave_it(services):
    rows = survey_rows(120)
    segments = build_table_segments(check_table(columns_of(rows), parse_schema(SCHEMA)), 2)
    await replace_segments(services.pool, segments, services.embeddings)
    router = build_cluster_router()

    for party in ("Republican", "Democrat"):
        state = await router.ainvoke({"task": "clusters", "query": f"{party}s", "top_k": 2})
        best, other = state["clusters"]
        shares = {c.name: c.attributes["value_shares"]["party"].get(party, 0.0) for c in segments.clusters}
        assert shares[best["cluster_name"]] > shares[other["cluster_name"]], state["clusters"]
        assert best["constraint_score"] > other["constraint_score"]

    plain = await router.ainvoke({"task": "clusters", "query": "people who like gardening", "top_k": 2})
    assert all(c["constraint_score"] is None for c in plain["clusters"])  # nothing named: embedding only


async def test_twins_whose_record_gave_the_named_value_are_ranked_first(services):
    segments = build_table_segments(check_table(columns_of(survey_rows(120)), parse_schema(SCHEMA)), 2)
    await replace_segments(services.pool, segments, services.embeddings)
    router = build_cluster_router()
    clusters = (await router.ainvoke({"task": "clusters", "query": "anyone", "top_k": 2}))["clusters"]
    for cluster in clusters:
        state = await router.ainvoke(
            {"task": "personas", "query": "Independents", "top_k": 15, "cluster_id": cluster["cluster_id"]}
        )
        parties = [
            (await get_segment_persona(services.pool, p["persona_id"]) or {})["attributes"]["party"]
            for p in state["personas"]
        ]
        independents = parties.count("Independent")
        assert 0 < independents < len(parties), parties  # the build gives each cluster some of each
        assert parties[:independents] == ["Independent"] * independents, parties
