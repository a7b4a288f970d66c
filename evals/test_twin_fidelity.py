"""twin_fidelity's test-run subset: the truths, prompts and distances are right (offline), and one
twin answers two items through the real local model with every metric in range."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from evals.runner import local_model_server
from evals.twin_fidelity import (
    ITEMS,
    SEED,
    cluster_personas,
    demo_world,
    demographics_prompt,
    distribution,
    profile_prompt,
    rescore,
    run_rows,
    spread_ratio,
    tvd,
    wasserstein,
)

ITEM = {item.key: item for item in ITEMS}


def test_truths_come_from_the_persona_record() -> None:
    world = demo_world()
    hazel = cluster_personas(world, 1)[1]
    assert hazel.name == "Hazel"
    assert ITEM["home"].truth(hazel.attributes) == "Rent" and ITEM["children"].truth(hazel.attributes) == "No"
    assert ITEM["education"].truth(hazel.attributes) == "Graduate degree"
    assert ITEM["region"].truth(hazel.attributes) == "Northeast"
    assert ITEM["income"].truth(hazel.attributes) == "$50,000 to $100,000"
    # the records behind cluster 1 are its members: their home shares are the cluster's own
    shares = distribution(ITEM["home"], world.members[1])
    assert shares["Own"] == pytest.approx(world.segments.clusters[1].attributes["homeowner_share"], abs=1e-4)


def test_a_held_out_fact_is_gone_from_the_prompt_and_nothing_else() -> None:
    world = demo_world()
    hazel = cluster_personas(world, 1)[1]

    def about_her(prompt: str) -> str:  # the survey prompt's group text comes first, then the twin
        group, twin = prompt.split("\nYou are ", 1)
        assert world.segments.clusters[1].summary in group
        return twin

    full = about_her(profile_prompt(world, hazel))
    held = about_her(profile_prompt(world, hazel, ITEM["home"]))
    assert "rents her home" in full
    assert "rents her home" not in held and "home" not in held
    assert "graduate degree" in held and "New York" in held  # the rest of the record stays
    no_place = about_her(profile_prompt(world, hazel, ITEM["region"]))
    assert "Northeast" not in no_place and "New York" not in no_place
    demo = demographics_prompt(hazel)
    assert "26-year-old" in demo and "New York" not in demo and "rent" not in demo


def test_distances() -> None:
    options = ("a", "b", "c")
    p, q = {"a": 1.0, "b": 0.0, "c": 0.0}, {"a": 0.0, "b": 0.0, "c": 1.0}
    assert tvd(p, q) == 1.0 and wasserstein(p, q, options) == 2.0
    assert tvd(p, p) == 0.0 and wasserstein(p, p, options) == 0.0
    assert spread_ratio(p, {"a": 0.5, "b": 0.5, "c": 0.0}) == 0.0
    assert spread_ratio({"a": 0.5, "b": 0.5}, {"a": 0.5, "b": 0.5}) == 1.0


async def test_one_twin_answers_through_the_local_model() -> None:
    from graphs.segment_survey.closed_answer import ClosedAnswer, ask_closed_question

    async def ask(system: str, question: str, options: Sequence[str], order: Sequence[int]) -> ClosedAnswer:
        return await ask_closed_question("local:smollm2", system, question, options, order=order, seed=SEED)

    world = demo_world()
    items = [ITEM["home"], ITEM["auto_loan"]]
    with local_model_server("local:smollm2"):
        results = [r async for r in run_rows([{"id": "tf-c01-p01", "cluster_key": 1, "persona_index": 1}], ask, items)]
    persona_rows = [r for r in results if r.inputs["level"] == "persona"]
    cluster_rows = [r for r in results if r.inputs["level"] == "cluster"]
    assert [r.inputs["item"] for r in persona_rows] == ["home", "auto_loan"] and len(cluster_rows) == 2
    for row in persona_rows:
        item = ITEM[row.inputs["item"]]
        assert all(answer in item.options for answers in row.output.values() for answer in answers)
        assert all(0.0 <= v <= 1.0 for v in row.metrics.values())
        glob = distribution(item, world.records)
        assert row.metrics["accuracy_global_prior"] == float(
            max(glob, key=lambda option: glob[option]) == row.notes["truth"]
        )
        assert row.metrics["accuracy_uniform"] == 0.5
    for row in cluster_rows:
        item = ITEM[row.inputs["item"]]
        records = distribution(item, world.members[1])
        assert row.metrics["tvd_global_prior"] == pytest.approx(tvd(distribution(item, world.records), records))
        assert sum(row.output["in"].values()) == pytest.approx(1.0)  # one twin: its two answers
        assert 0.0 <= row.metrics["tvd_in"] <= 1.0
        # the survey draws from the probabilities: their weighted mean is what its answers approach
        assert sum(row.output["heldout_drawn"].values()) == pytest.approx(1.0)
        assert row.metrics["tvd_heldout_drawn"] == pytest.approx(tvd(row.output["heldout_drawn"], records), abs=1e-3)
    for row in persona_rows:
        probabilities = row.notes["probabilities"]["heldout"]
        expected = sum(p[row.notes["truth"]] for p in probabilities) / len(probabilities)
        assert row.metrics["accuracy_heldout_drawn"] == pytest.approx(expected)
    # a saved run rescored from its stored answers gets the same metrics
    saved = [dataclasses.asdict(r) for r in results]
    rescored = {r["id"]: r["metrics"] for r in rescore(saved)}
    assert rescored == {r.id: pytest.approx(r.metrics) for r in results}


def test_the_run_can_be_narrowed_to_some_clusters() -> None:
    from evals.suites import fidelity_rows
    from runtime.errors import ConfigError

    everyone = fidelity_rows("twin_fidelity", None)
    assert len(everyone) == 150 and everyone[0]["cluster_key"] == 5
    seven = fidelity_rows("twin_fidelity", None, "7")
    assert len(seven) == 15 and {r["cluster_key"] for r in seven} == {7}
    both = [r for r in everyone if r["cluster_key"] in (7, 9)][:20]  # in the data set's order
    assert fidelity_rows("twin_fidelity", 20, " 9, 7") == both
    for bad in ("1", "seven", "5,99"):
        with pytest.raises(ConfigError, match="TWIN_FIDELITY_CLUSTERS"):
            fidelity_rows("twin_fidelity", None, bad)
