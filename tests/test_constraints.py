"""Rule-based query constraints and their agreement with cluster attributes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from graphs.cluster_router.constraints import (
    NEUTRAL_SCORE,
    QueryConstraints,
    constraint_breakdown,
    constraint_score,
    parse_constraints,
    persona_matches_hard_constraints,
)
from services.twin.segments.demo import demo_segments
from services.twin.segments.model import SegmentSet

DATASETS = Path(__file__).resolve().parents[1] / "evals" / "datasets"


@pytest.fixture(scope="module")
def demo() -> SegmentSet:
    return demo_segments()


def _cluster(demo: SegmentSet, name: str) -> dict:
    return next(c.attributes for c in demo.clusters if c.name == name)


@pytest.mark.parametrize(
    ("query", "bands"),
    [
        ("Millennials", ["25 - 34", "35 - 44"]),
        ("Gen Z", ["18 - 24"]),
        ("zoomers", ["18 - 24"]),
        ("Gen X", ["45 - 54", "55 - 64"]),
        ("baby boomers", ["65 - 74", "75+"]),
        ("retirees", ["65 - 74", "75+"]),
        ("seniors", ["65 - 74", "75+"]),
        ("young adults", ["18 - 24", "25 - 34"]),
        ("middle-aged", ["45 - 54", "55 - 64"]),
        ("over 65", ["65 - 74", "75+"]),
        ("65 and older", ["65 - 74", "75+"]),
        ("under 35", ["18 - 24", "25 - 34"]),
        ("25 to 34 year old residing in USA", ["25 - 34"]),
        ("25-34 year old", ["25 - 34"]),
        ("between 25 and 35", ["25 - 34"]),
        ("in their 30s", ["25 - 34", "35 - 44"]),
        ("in their early thirties", ["25 - 34"]),
        ("a 50-year-old", ["45 - 54"]),
        ("aged 40", ["35 - 44"]),
        ("a retired man aged 65 to 74", ["65 - 74"]),
        ("earning $75,001 - $100,000", []),
    ],
)
def test_age_words_map_to_bands(query: str, bands: list[str]) -> None:
    assert parse_constraints(query).age_bands == bands


@pytest.mark.parametrize(
    ("query", "tiers"),
    [
        ("sub-prime", ["Sub Prime"]),
        ("subprime borrowers", ["Sub Prime"]),
        ("bad credit", ["Sub Prime"]),
        ("near prime", ["Near Prime"]),
        ("prime credit", ["Prime"]),
        ("super prime", ["Super Prime"]),
        ("super-prime and sub prime", ["Sub Prime", "Super Prime"]),
        ("excellent credit", ["Super Prime"]),
        ("sub-prime to near prime", ["Sub Prime", "Near Prime"]),
        ("prime or better", ["Prime", "Super Prime"]),
    ],
)
def test_credit_tier_words(query: str, tiers: list[str]) -> None:
    assert parse_constraints(query).credit_tiers == tiers


def test_other_constraint_words() -> None:
    c = parse_constraints("Millennials with high auto debt and sub-prime credit.")
    assert (c.age_bands, c.credit_tiers, c.auto_debt) == (["25 - 34", "35 - 44"], ["Sub Prime"], "high")
    c = parse_constraints("affluent Gen X homeowners who donate to political campaigns")
    assert (c.income, c.homeowner, c.political_donor) == ("high", True, True)
    c = parse_constraints("low-income single mothers who rent")
    assert (c.income, c.household, c.gender, c.homeowner) == ("low", "single_parent", "Female", False)
    c = parse_constraints("high net worth couples with graduate degrees and no car loans")
    assert (c.wealth, c.household, c.education, c.auto_debt) == ("high", "couple", "graduate", "low")
    c = parse_constraints("frugal college-educated men in the Midwest, new to credit")
    assert (c.spending, c.education, c.gender, c.region, c.credit_usage) == ("low", "college", "Male", "Midwest", "low")
    assert parse_constraints("men and women").gender is None
    assert parse_constraints("parents with a couple of car loans").household == "family"


def test_query_without_constraints_is_flagged_and_neutral(demo: SegmentSet) -> None:
    c = parse_constraints("people who like hiking")
    assert c.is_empty and c == QueryConstraints(matched_terms=[])
    assert {constraint_score(c, cl.attributes) for cl in demo.clusters} == {NEUTRAL_SCORE}
    assert not parse_constraints("sub-prime").is_empty


def test_scores_are_bounded_and_order_clusters_sensibly(demo: SegmentSet) -> None:
    q = parse_constraints("Millennials with high auto debt and sub-prime credit")
    scores = {c.name: constraint_score(q, c.attributes) for c in demo.clusters}
    assert all(0.0 <= s <= 1.0 for s in scores.values())
    assert max(scores, key=scores.get) == "Sub-Prime Auto-Heavy Millennials"  # type: ignore[arg-type]
    assert scores["Sub-Prime Auto-Heavy Millennials"] > scores["Super-Prime Wealthy Boomers"] + 0.5
    parts = constraint_breakdown(q, _cluster(demo, "Sub-Prime Auto-Heavy Millennials"))
    assert set(parts) == {"age_bands", "credit_tiers", "auto_debt"}


def test_missing_attribute_keys_are_skipped() -> None:
    q = parse_constraints("sub-prime Millennials")
    assert constraint_score(q, {}) == NEUTRAL_SCORE
    only_tiers = {"credit_tier_shares": {"Sub Prime": 0.9}}
    assert constraint_breakdown(q, only_tiers) == {"credit_tiers": 1.0}


def test_hard_constraints_filter_personas() -> None:
    q = parse_constraints("25 to 34 year old residing in USA")
    assert persona_matches_hard_constraints(q, "25 - 34", "Male")
    assert persona_matches_hard_constraints(q, "25 - 34", "Female")
    assert not persona_matches_hard_constraints(q, "35 - 44", "Male")
    women = parse_constraints("women over 65")
    assert persona_matches_hard_constraints(women, "75+", "Female")
    assert not persona_matches_hard_constraints(women, "75+", "Male")
    assert persona_matches_hard_constraints(parse_constraints("sub-prime"), "18 - 24", "Male")


def _jsonl(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATASETS / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_datasets_refer_to_demo_clusters(demo: SegmentSet) -> None:
    names = {c.name for c in demo.clusters}
    routing = _jsonl("twin_routing.jsonl")
    assert len(routing) >= 80
    assert sum(1 for r in routing if r["kind"] == "no_match" and r["expected_cluster_names"] == []) >= 10
    assert {r["kind"] for r in routing} == {"direct", "paraphrase", "no_match"}
    for r in routing:
        assert set(r["expected_cluster_names"]) <= names, r
        assert (r["kind"] == "no_match") == (not r["expected_cluster_names"]), r
    refine = _jsonl("twin_refine.jsonl")
    assert len(refine) >= 30
    assert {r["cluster_name"] for r in refine} <= names


def test_constraint_score_routes_most_dataset_queries(demo: SegmentSet) -> None:
    rows = [r for r in _jsonl("twin_routing.jsonl") if r["expected_cluster_names"]]
    hits = 0
    for r in rows:
        q = parse_constraints(r["query"])
        ranked = sorted(demo.clusters, key=lambda c: (-constraint_score(q, c.attributes), c.key))
        hits += any(c.name in r["expected_cluster_names"] for c in ranked[:3])
    fraction = hits / len(rows)
    print(f"constraint-only routing recall@3: {fraction:.3f} ({hits}/{len(rows)})")
    assert fraction >= 0.8


def test_refine_dataset_hard_filters_keep_exactly_the_expected_personas(demo: SegmentSet) -> None:
    keys = {c.name: c.key for c in demo.clusters}
    for r in _jsonl("twin_refine.jsonl"):
        expected = r["expected_persona"]
        expected = [expected] if isinstance(expected, dict) else expected
        acceptable = {(e["gender"], e["age_band"]) for e in expected}
        q = parse_constraints(r["query"])
        kept = {
            (p.gender, p.age_band)
            for p in demo.personas_of(keys[r["cluster_name"]])
            if persona_matches_hard_constraints(q, p.age_band, p.gender)
        }
        assert kept == acceptable, r["query"]
