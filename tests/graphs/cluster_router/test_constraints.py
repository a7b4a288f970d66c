"""Rule-based query constraints and their agreement with cluster attributes."""

from __future__ import annotations

import json

import pytest

from graphs.cluster_router.constraints import (
    NEUTRAL_SCORE,
    QueryConstraints,
    constraint_breakdown,
    constraint_score,
    parse_constraints,
    persona_matches_hard_constraints,
    scope_fits,
)
from tests.support.paths import ROOT
from use_cases.twin.segments.demo import demo_segments
from use_cases.twin.segments.model import SegmentSet

DATASETS = ROOT / "evals" / "datasets"


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


# --- polarity, ranges, scope


def test_negation_excludes_instead_of_wanting() -> None:
    c = parse_constraints("super-prime households that are not boomers")
    assert c.credit_tiers == ["Super Prime"] and c.age_bands == []
    assert c.excluded.age_bands == ["65 - 74", "75+"]
    c = parse_constraints("anyone except Gen Z")
    assert c.excluded.age_bands == ["18 - 24"] and not c.age_bands
    c = parse_constraints("millennials who don't own a home, without kids")
    assert c.homeowner is False and c.excluded.household == "family"
    c = parse_constraints("non-subprime renters other than retirees")
    assert c.excluded.credit_tiers == ["Sub Prime"] and c.excluded.age_bands == ["65 - 74", "75+"]
    assert c.homeowner is False
    # a phrase that is itself a "no" keeps its meaning; the next clause is not negated
    c = parse_constraints("no car loans and excellent credit")
    assert c.auto_debt == "low" and c.credit_tiers == ["Super Prime"] and c.excluded.named() == []


def test_past_is_not_present() -> None:
    c = parse_constraints("used to be subprime, now prime")
    assert c.credit_tiers == ["Prime"] and c.excluded.credit_tiers == ["Sub Prime"]


@pytest.mark.parametrize(
    ("query", "low", "high"),
    [
        ("households earning more than 300 thousand a year", 300_000, None),
        ("income below 90k but above 60k", 60_000, 90_000),
        ("between $60k and $90k", 60_000, 90_000),
        ("earning between sixty and ninety thousand dollars", 60_000, 90_000),
        ("making $25,001 - $50,000", 25_001, 50_000),
        ("incomes of 400K+", 400_000, None),
        ("less than forty thousand a year", None, 40_000),
        ("six-figure salaries", 100_000, None),
        ("about 90 grand a year", 76_500, 103_500),
    ],
)
def test_money_ranges(query: str, low: float | None, high: float | None) -> None:
    c = parse_constraints(query)
    assert (c.income_min, c.income_max) == (pytest.approx(low) if low else None, pytest.approx(high) if high else None)


@pytest.mark.parametrize(
    ("query", "bands"),
    [
        ("roughly 50 to 60 years old", ["45 - 54", "55 - 64"]),
        ("people pushing 70", ["65 - 74"]),
        ("consumers around 60 with excellent credit", ["55 - 64"]),
        ("twenty-five to thirty-four year olds", ["25 - 34"]),
        ("60-somethings", ["55 - 64", "65 - 74"]),
        ("from their mid-40s to mid-50s", ["35 - 44", "45 - 54", "55 - 64"]),
        ("younger than the boomers", ["18 - 24", "25 - 34", "35 - 44", "45 - 54", "55 - 64"]),
        ("at most 24 years old", ["18 - 24"]),
    ],
)
def test_approximate_and_comparative_ages(query: str, bands: list[str]) -> None:
    assert parse_constraints(query).age_bands == bands


def test_spending_and_money_context() -> None:
    c = parse_constraints("discretionary spending above $30k a year")
    assert c.spend_min == 30_000 and c.income_min is None
    assert parse_constraints("above-average income").income == "high"


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("teenagers aged 13 to 17", "under 18"),
        ("kids under 12", "under 18"),
        ("16-year-olds", "under 18"),
        ("B2B procurement managers", "businesses"),
        ("IT decision makers at enterprise companies", "businesses"),
        ("middle-class families in Toronto", "outside the USA (toronto)"),
        ("Japanese seniors", "outside the USA (japanese)"),
    ],
)
def test_out_of_scope_queries_are_recognised(query: str, reason: str) -> None:
    assert reason in parse_constraints(query).out_of_scope


@pytest.mark.parametrize(
    "query",
    [
        "parents of teens with prime credit",
        "families with kids under 18 at home",
        "high-net-worth baby boomers",
        "Asian American homeowners",
        "retirees in New Mexico",
        "college students",
    ],
)
def test_in_scope_queries_are_not_flagged(query: str) -> None:
    assert parse_constraints(query).out_of_scope == []


def test_typos_of_the_vocabulary_are_corrected_and_real_words_kept() -> None:
    c = parse_constraints("milennials with sub prmie credt and big car loens")
    assert (c.age_bands, c.credit_tiers, c.auto_debt) == (["25 - 34", "35 - 44"], ["Sub Prime"], "high")
    assert parse_constraints("marathon runners").is_empty  # "runners" is a word, not a typo of "renters"


def test_a_negated_constraint_lowers_the_clusters_that_have_it(demo: SegmentSet) -> None:
    wanted = parse_constraints("super prime households that are boomers")
    negated = parse_constraints("super prime households that are not boomers")
    boomers = _cluster(demo, "Super-Prime Wealthy Boomers")
    gen_x = _cluster(demo, "Super-Prime Debt-Free Gen X")
    assert constraint_score(negated, boomers) < constraint_score(wanted, boomers)
    assert constraint_score(negated, gen_x) > constraint_score(negated, boomers)
    assert "not age_bands" in constraint_breakdown(negated, boomers)


def test_income_ranges_score_the_typical_band(demo: SegmentSet) -> None:
    q = parse_constraints("households earning more than 300 thousand a year")
    scores = {c.name: constraint_score(q, c.attributes) for c in demo.clusters}
    assert max(scores, key=scores.get) == "Super-Prime Big-Spending Gen X"  # type: ignore[arg-type]
    assert scores["Near-Prime Single Gen Z"] == 0.0


def test_scope_fits_only_the_data_population(demo: SegmentSet) -> None:
    cluster = _cluster(demo, "Super-Prime Wealthy Boomers")
    assert scope_fits(parse_constraints("retirees"), cluster)
    assert not scope_fits(parse_constraints("retirees living in the UK"), cluster)
    assert scope_fits(parse_constraints("retirees living in the UK"), {**cluster, "country": "UK"})
    assert not scope_fits(parse_constraints("children aged 8 to 12"), cluster)


def test_excluded_bands_and_gender_filter_personas() -> None:
    q = parse_constraints("anyone except Gen Z, not men")
    assert not persona_matches_hard_constraints(q, "18 - 24", "Female")
    assert not persona_matches_hard_constraints(q, "35 - 44", "Male")
    assert persona_matches_hard_constraints(q, "35 - 44", "Female")


# --- the marketers' lexicon


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("thin-file zoomers", {"credit_usage": "low", "age_bands": ["18 - 24"]}),
        ("HENRYs", {"income": "high", "age_bands": ["25 - 34", "35 - 44"]}),
        ("DINKs", {"household": "couple", "income": "high"}),
        ("subprime auto borrowers", {"credit_tiers": ["Sub Prime"], "auto_debt": "high"}),
        ("revolvers with card balances", {"credit_usage": "active"}),
        ("transactors who pay their cards in full", {"credit_usage": "low"}),
        ("underbanked households", {"income": "low", "wealth": "low"}),
        ("house-rich cash-poor widows", {"homeowner": True, "equity": "high", "income": "low", "gender": "Female"}),
        ("soccer moms", {"household": "family"}),
        ("solo moms", {"household": "single_parent"}),
        ("singletons who lease their apartment", {"household": "single", "homeowner": False}),
        ("credit rebuilders", {"credit_tiers": ["Sub Prime"]}),
        ("so-so FICO", {"credit_tiers": ["Near Prime"]}),
        ("non-prime borrowers", {"credit_tiers": ["Sub Prime", "Near Prime"]}),
        ("deep-pocketed fortysomethings", {"income": "high", "wealth": "high", "age_bands": ["35 - 44", "45 - 54"]}),
        ("GED-educated truck owners", {"education": "high_school"}),
        ("a family with a car payment", {"auto_debt": "medium", "household": "family"}),
        ("echo boomers", {"age_bands": ["25 - 34", "35 - 44"]}),
        ("snowbirds in Florida", {"age_bands": ["65 - 74", "75+"], "region": "South"}),
        ("octagenarians on fixed incomes", {"age_bands": ["75+"], "income": "low"}),  # a typo of a lexicon word
    ],
)
def test_trade_jargon_maps_to_record_attributes(query: str, expected: dict) -> None:
    c = parse_constraints(query)
    assert {k: getattr(c, k) for k in expected} == expected


@pytest.mark.parametrize(
    ("query", "tiers"),
    [
        ("700 FICO", ["Prime"]),
        ("FICO 640", ["Near Prime"]),
        ("credit scores above 760, aged 45 to 54", ["Super Prime"]),
        ("sub-600 credit scores", ["Sub Prime"]),
        ("800+ FICO", ["Super Prime"]),
        ("credit score between 620 and 660", ["Near Prime"]),
        ("credit scores in the 700s", ["Prime", "Super Prime"]),
        ("FICO under 580", ["Sub Prime"]),
        ("a credit score of 680 or higher", ["Prime", "Super Prime"]),
    ],
)
def test_credit_scores_map_to_tiers(query: str, tiers: list[str]) -> None:
    c = parse_constraints(query)
    assert c.credit_tiers == tiers
    assert c.income_min is c.income_max is None  # a score is not money


def test_credit_scores_leave_ages_and_money_alone() -> None:
    c = parse_constraints("credit scores above 760, aged 45 to 54, earning over $200k")
    assert (c.credit_tiers, c.age_bands, c.income_min) == (["Super Prime"], ["45 - 54"], 200_000)


def test_concepts_that_rule_something_out() -> None:
    c = parse_constraints("child-free couples")
    assert c.household == "couple" and c.excluded.household == "family"
    c = parse_constraints("college dropouts")
    assert c.excluded.education == "college" and c.education is None
    c = parse_constraints("DINKs who are not retired")
    assert c.excluded.household == "family" and c.excluded.age_bands == ["65 - 74", "75+"]


def test_a_hyphenated_cue_negates_only_its_own_word() -> None:
    c = parse_constraints("never-married middle-agers who rent")
    assert c.household == "single" and c.age_bands == ["45 - 54", "55 - 64"] and c.excluded.named() == []


def test_ruling_out_kids_rules_out_single_parents_too(demo: SegmentSet) -> None:
    q = parse_constraints("subprime borrowers without kids")
    single_parents = constraint_breakdown(q, _cluster(demo, "Sub-Prime Single-Parent Millennials"))
    auto_heavy = constraint_breakdown(q, _cluster(demo, "Sub-Prime Auto-Heavy Millennials"))
    assert single_parents["not household"] == 0.0
    assert auto_heavy["not household"] > 0.5


def test_every_lexicon_concept_matches_something_and_sets_known_fields() -> None:
    from graphs.cluster_router.constraints import ConstraintFields
    from graphs.cluster_router.lexicon import LEXICON

    fields = set(ConstraintFields.model_fields)
    for concept in LEXICON:
        assert concept.sets or concept.exclude, concept.pattern
        assert set(concept.sets) | set(concept.exclude) <= fields, concept.pattern
        # validates: the values are ones the fields accept
        ConstraintFields.model_validate({k: v for k, v in concept.sets.items() if k != "gender"})


def test_the_embedding_counts_less_as_a_query_names_more_constraints() -> None:
    from graphs.cluster_router.nodes import evidence_weight

    assert evidence_weight(0.35, 1) == pytest.approx(0.35)
    assert evidence_weight(0.35, 0) == pytest.approx(0.35)
    assert evidence_weight(0.35, 3) == pytest.approx(0.152, abs=1e-3)
    assert evidence_weight(0.35, 5) < evidence_weight(0.35, 3)
    assert evidence_weight(1.0, 5) == 1.0 and evidence_weight(0.0, 2) == 0.0
    assert parse_constraints("subprime millennials renting, no car, earning $40k").count() == 5


def test_development_sets_refer_to_demo_clusters_and_share_no_query_with_the_held_out_set(demo: SegmentSet) -> None:
    names = {c.name for c in demo.clusters}
    kinds = {"plain", "synonym", "misspelling", "context", "negation", "range", "out-of-scope"}
    held_out = {r["query"].lower() for r in _jsonl("twin_routing_hard.jsonl")}
    for name in ("twin_routing_hard_dev.jsonl", "twin_routing_jargon_dev.jsonl", "twin_routing_jargon_dev2.jsonl"):
        rows = _jsonl(name)
        assert len(rows) >= 50
        for r in rows:
            assert r["kind"] in kinds and set(r["expected_cluster_names"]) <= names, r
            assert (r["kind"] == "out-of-scope") == (not r["expected_cluster_names"]), r
        assert not {r["query"].lower() for r in rows} & held_out


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("single mamas raising kids on one paycheck", {"household": "single_parent", "gender": "Female"}),
        ("moms going it alone", {"household": "single_parent", "gender": "Female"}),
        ("solo dads", {"household": "single_parent", "gender": "Male"}),
        ("pre-retirement couples", {"age_bands": ["55 - 64"], "household": "couple"}),
        ("young family households", {"age_bands": ["25 - 34", "35 - 44"], "household": "family"}),
        ("retirees who no longer have a mortgage", {"homeowner": True, "equity": "high"}),
        ("zoomers with limted credit history", {"credit_usage": "low"}),
    ],
)
def test_more_everyday_wording(query: str, expected: dict) -> None:
    c = parse_constraints(query)
    assert {k: getattr(c, k) for k in expected} == expected
    assert c.excluded.named() == []


def test_the_askers_own_business_is_not_the_audience() -> None:
    assert parse_constraints("Our company wants to reach young renters").out_of_scope == []
    assert parse_constraints("Our startup targets Gen Z").out_of_scope == []
    assert parse_constraints("our B2B clients").out_of_scope == ["businesses"]
    assert parse_constraints("my enterprise customers").out_of_scope == ["businesses"]
    assert parse_constraints("companies selling to retirees").out_of_scope == ["businesses"]
