"""Raking the survey's persona weights to a cluster's stored splits: margins met when they can
be, personas without a fact left out of its margin, categories nobody has dropped, the trimming
cap, excluded splits, the fall-backs, and weights that sum to 1 and repeat."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from graphs.persona_chat.facts import persona_facts
from graphs.segment_survey.raking import (
    TRIM_RATIO,
    Margin,
    category,
    cluster_margins,
    misfit,
    rake,
    raked_weights,
    survey_weights,
    trim,
)
from graphs.segment_survey.weights import effective_size, persona_weights
from use_cases.twin.segments.demo import demo_segments

Cells = list[tuple[str, str]]


def split_of(weights: Sequence[float], values: Sequence[Any]) -> dict[Any, float]:
    """The weighted share of each value among the personas that have one."""
    sums: dict[Any, float] = {}
    for w, v in zip(weights, values, strict=True):
        if v is not None:
            sums[v] = sums.get(v, 0.0) + w
    total = sum(sums.values())
    return {v: s / total for v, s in sums.items()}


def shares_of(weights: Sequence[float], values: Sequence[Any]) -> dict[str, float]:
    """A stored split that the given weights meet exactly."""
    return {str(v): s for v, s in split_of(weights, values).items()}


def test_feasible_margins_are_met():
    cells: Cells = [("Female", "25 - 34"), ("Female", "35 - 44"), ("Male", "25 - 34"), ("Male", "35 - 44")] * 2
    educations = ["Some college", "Bachelor's degree"] * 2 + ["Bachelor's degree", "Graduate degree"] * 2
    owns = [True, False, False, True, True, True, False, False]
    facts = [{"education": e, "homeowner": o} for e, o in zip(educations, owns, strict=True)]
    truth = [0.05, 0.2, 0.1, 0.15, 0.08, 0.12, 0.2, 0.1]  # the weights the splits below come from
    attributes = {
        "gender_shares": shares_of(truth, [g for g, _ in cells]),
        "age_band_shares": shares_of(truth, [b for _, b in cells]),
        "education_shares": shares_of(truth, educations),
        "homeowner_share": split_of(truth, owns)[True],
    }
    weights = raked_weights(cells, facts, attributes)
    assert sum(weights) == pytest.approx(1.0)
    assert split_of(weights, educations) == pytest.approx(attributes["education_shares"], abs=1e-4)
    assert split_of(weights, owns)[True] == pytest.approx(attributes["homeowner_share"], abs=1e-4)
    assert split_of(weights, [g for g, _ in cells]) == pytest.approx(attributes["gender_shares"], abs=1e-4)
    assert split_of(weights, [b for _, b in cells]) == pytest.approx(attributes["age_band_shares"], abs=1e-4)
    cell_weights = persona_weights(cells, attributes)
    assert split_of(cell_weights, educations) != pytest.approx(attributes["education_shares"], abs=1e-2)


def test_a_persona_without_the_fact_keeps_its_weight_out_of_that_margin():
    cells: Cells = [("Female", "25 - 34")] * 4
    facts: list[Mapping[str, Any]] = [{"homeowner": True}, {"homeowner": False}, {"homeowner": False}, {}]
    weights = raked_weights(cells, facts, {"homeowner_share": 0.8}, trim_ratio=None)
    # the unknown persona keeps its quarter; the known three split the rest 80 / 20
    assert weights == pytest.approx([0.6, 0.075, 0.075, 0.25])


def test_a_category_nobody_has_is_dropped_and_the_target_renormalised():
    cells: Cells = [("Male", "45 - 54")] * 5
    facts = [{"region": "northeast"}] * 2 + [{"state": "texas"}] * 3  # Texas: the South
    attributes = {"region_shares": {"Northeast": 0.2, "South": 0.3, "West": 0.5}}
    weights = raked_weights(cells, facts, attributes, trim_ratio=None)
    assert sum(weights[:2]) == pytest.approx(0.4) and sum(weights[2:]) == pytest.approx(0.6)
    assert weights[0] == pytest.approx(weights[1])


def test_fact_values_meet_the_stored_spelling():
    assert category("credit_tier", "Super Prime") == category("credit_tier", "super-prime") == "super-prime"
    assert category("credit_tier", "Sub Prime") == "subprime"
    assert category("homeowner", True) == "yes" and category("homeowner", False) == "no"
    assert category("region", "South") == "south" and category("education", "") is None
    cells: Cells = [("Female", "65 - 74")] * 2
    facts = [persona_facts({"age": 70, "gender": "Female", "credit_tier": "Prime"}), {"credit_tier": "super-prime"}]
    weights = raked_weights(cells, facts, {"credit_tier_shares": {"Prime": 0.25, "Super Prime": 0.75}})
    assert weights == pytest.approx([0.25, 0.75])


def test_trimming_caps_a_persona_that_stands_alone_for_a_large_share():
    cells: Cells = [("Female", "35 - 44")] * 10
    facts = [{"homeowner": i == 0} for i in range(10)]
    attributes = {"homeowner_share": 0.9}
    untrimmed = raked_weights(cells, facts, attributes, trim_ratio=None)
    assert untrimmed[0] == pytest.approx(0.9)
    weights = raked_weights(cells, facts, attributes)
    assert max(weights) <= TRIM_RATIO * (1 / 10) + 1e-9
    assert weights[0] == pytest.approx(0.5) and sum(weights) == pytest.approx(1.0)
    assert effective_size(weights) >= 10 / TRIM_RATIO > effective_size(untrimmed)
    # the cap is on the mean positive weight, and never below it
    assert trim([0.7, 0.1, 0.1, 0.1, 0.0], 2.0) == pytest.approx([0.5, 1 / 6, 1 / 6, 1 / 6, 0.0])
    assert trim([0.9, 0.1], 0.5) == pytest.approx([0.5, 0.5])


def test_excluded_splits_are_left_out():
    cells: Cells = [("Female", "25 - 34"), ("Male", "25 - 34"), ("Female", "55 - 64")]
    facts = [{"homeowner": True, "education": "Some college"}, {"homeowner": False}, {"education": "Graduate degree"}]
    attributes = {
        "gender_shares": {"Female": 0.6, "Male": 0.4},
        "age_band_shares": {"25 - 34": 0.7, "55 - 64": 0.3},
        "homeowner_share": 0.3,
        "education_shares": {"Some college": 0.5, "Graduate degree": 0.5},
    }
    without_home = {k: v for k, v in attributes.items() if k != "homeowner_share"}
    assert raked_weights(cells, facts, attributes, exclude={"homeowner"}) == raked_weights(cells, facts, without_home)
    assert raked_weights(cells, facts, attributes) != raked_weights(cells, facts, without_home)
    names = [m.name for m in cluster_margins(cells, facts, attributes, [1.0] * 3, exclude={"gender", "education"})]
    assert names == ["age_band", "homeowner"]


def test_a_tables_twins_are_raked_to_every_column_split_of_their_cluster():
    cells: Cells = [("Female", "18 - 24"), ("Male", "18 - 24")] * 3
    records: list[dict[str, Any]] = [
        {"party": p, "owns_home": o, "region": r}
        for p, o, r in zip(
            ["Democrat", "Republican", "Democrat", "Independent", "Republican", "Democrat"],
            [True, False, False, True, True, None],  # a skipped question is out of its margin
            ["West", "South", "South", "West", "Midwest", "South"],
            strict=True,
        )
    ]
    truth = [0.3, 0.1, 0.2, 0.15, 0.05, 0.2]

    def stored_split(weights: Sequence[float], column: str) -> dict[str | None, float]:
        """A column's split as a table's build stores it: True as "yes", False as "no"."""
        return {category(column, v): s for v, s in split_of(weights, [r[column] for r in records]).items()}

    columns = ("party", "owns_home", "region")
    value_shares = {column: stored_split(truth, column) for column in columns}
    attributes = {"value_shares": value_shares}
    facts: list[dict[str, Any]] = [{} for _ in cells]
    start = persona_weights(cells, attributes)
    weights = raked_weights(cells, facts, attributes, records=records)
    assert sum(weights) == pytest.approx(1.0)
    for column in columns:
        assert stored_split(weights, column) == pytest.approx(value_shares[column], abs=0.01), column
    assert stored_split(start, "party") != pytest.approx(value_shares["party"], abs=0.01)
    # without the records (a demo twin) or with the column excluded, the split is left alone
    assert raked_weights(cells, facts, attributes) == start
    names = [m.name for m in cluster_margins(cells, facts, attributes, start, exclude={"party"}, records=records)]
    assert names == ["owns_home", "region"]


def test_what_cannot_be_raked_falls_back_to_cells_then_equal_weights():
    cells: Cells = [("Female", "25 - 34"), ("Male", "25 - 34"), ("Male", "65 - 74")]
    facts: list[Mapping[str, Any]] = [{}, {}, {}]
    assert raked_weights(cells, facts, None) == pytest.approx([1 / 3] * 3)
    assert raked_weights(cells, facts, {"gender_shares": {"Female": 0.0, "Male": 0.0}}) == pytest.approx([1 / 3] * 3)
    nan = {"gender_shares": {"Female": math.nan, "Male": 0.5}, "age_band_shares": {"25 - 34": 1.0}}
    assert raked_weights(cells, facts, nan) == pytest.approx([1 / 3] * 3)
    # one age band, facts nobody holds: no split can move a weight, so the cells stand
    one_band = {"gender_shares": {"Female": 0.7, "Male": 0.3}, "age_band_shares": {"25 - 34": 1.0}, "region_shares": {}}
    two = cells[:2]
    assert raked_weights(two, facts[:2], one_band) == persona_weights(two, one_band)
    assert raked_weights([], [], one_band) == []
    assert rake([0.0, 0.0], [Margin("x", ("a", "b"), {"a": 0.5, "b": 0.5})]) is None
    assert rake([math.inf, 1.0], [Margin("x", ("a", "b"), {"a": 0.5, "b": 0.5})]) is None
    assert survey_weights(cells, facts, one_band, "age_gender") == persona_weights(cells, one_band)


def test_demo_clusters_rake_to_weights_that_sum_to_one_repeat_and_split_closer_to_the_records():
    demo = demo_segments()
    for cluster in demo.clusters:
        people = demo.personas_of(cluster.key)
        cells = [(p.gender, p.age_band) for p in people]
        facts = [persona_facts(p.attributes) for p in people]
        weights = raked_weights(cells, facts, cluster.attributes)
        assert weights == raked_weights(cells, facts, cluster.attributes)  # deterministic
        assert sum(weights) == pytest.approx(1.0) and all(math.isfinite(w) and w >= 0 for w in weights)
        positive = [w for w in weights if w > 0]
        assert max(weights) <= TRIM_RATIO * sum(positive) / len(positive) + 1e-9
        cell_weights = persona_weights(cells, cluster.attributes)
        assert [w > 0 for w in weights] == [w > 0 for w in cell_weights]  # who stands for no records still does not
        margins = cluster_margins(cells, facts, cluster.attributes, cell_weights)
        assert {m.name for m in margins} >= {"region", "education"}
        # the few personas cannot meet every split at once: the misfit is spread over the splits,
        # so in all and at its worst it is smaller than the cells leave
        assert sum(misfit(weights, m) for m in margins) < sum(misfit(cell_weights, m) for m in margins), cluster.name
        assert max(misfit(weights, m) for m in margins) < max(misfit(cell_weights, m) for m in margins), cluster.name
