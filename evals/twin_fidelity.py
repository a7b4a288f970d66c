"""twin_fidelity: how faithful segment twins are to the records behind them.

Closed survey items whose true answers come from the demo records (`ITEMS`: home ownership,
auto loan, children at home, household, education, credit, region, income, political giving).
Every twin of the data set's rows answers each item through the survey route's constrained
answer (`graphs.segment_survey.closed_answer.ask_closed_question`), twice, with the options in
two mirrored orders (a small model favours the first option it sees), in three conditions:

- `in`: the twin's own profile, which states the fact (consistency);
- `heldout`: the profile with that fact taken out of the persona's summary and facts (the twin
  must infer it from the rest of its record and its segment's summary);
- `demographics`: a profile of age, gender and ethnicity only (the baseline of the twin studies).

Each answer then passes the survey's fact check as the product's does
(`graphs.segment_survey.fact_options.ruled_out`, on the facts the condition's profile holds: all
of them `in`, all but the item's `heldout`, age and gender for `demographics`): options that
contradict those facts are ruled out; where they rule nothing out and the cluster stores how its
records split on the item's fact, the probabilities (tempered, `closed_answer.MODEL_WEIGHT`)
are multiplied by that split
(`graphs.segment_survey.segment_prior`; not in `demographics`, the baseline without a segment).
The metrics score the checked answers (the most probable option after the check) and
(`*_unchecked`) the model's own. `/twin/survey` does not give the most probable option: it
draws each answer from the checked probabilities (seeded), so its answers keep their spread.
`*_drawn` (table: `d`) scores what it gives, in expectation: a drawn answer's accuracy is the
probability of the true option, and the drawn distribution is the weighted mean of the twins'
probabilities (what `samples_per_persona` draws approach).

Per twin and item: individual accuracy against the persona's own record (the mean over the two
asks), retest agreement (the two asks agree). Per cluster and item, once all its rows have run:
total variation distance and Wasserstein distance (ordinal and yes/no items, in option steps)
between the twins' weighted answers and the cluster's member records, and the spread ratio (the
twins' Gini-Simpson diversity over the records'). The twins are weighted as the survey's default
does (`graphs.segment_survey.raking`): their cell weights raked to the cluster's stored splits
(gender, age band, home, household, education, credit tier, region, political giving), on the facts the
condition's profile holds (so `heldout` rakes without the held-out fact, `demographics` on
gender and age band alone). Raking on the asked fact's own split tells the weights the answer
of perfect twins, so `*_loo` (table: `lo`) rakes `in` without that split (leave one out: the
figure for a question the cluster stores no split of), and `in_age_gender` (table: `ag`)
weighs by (gender, age band) cells only, as the survey's `weighting: "age_gender"` does.
`own_records` is what perfect twins would give: the personas' own record answers, weighted as
the twins are (the few personas of a cluster are a sample of its records, so its distance is
the floor the twins' distance can reach), `own_records_loo` that floor under leave-one-out
raking. Baselines measured in the same run: `uniform`
(every option equally likely), `global_prior` (the whole table's distribution, no clustering:
its most common answer for every twin), `segment_prior` (the cluster's most common answer), and
the demographics-only prompt.

`python -m evals.twin_fidelity RUN_ID` prints the per-item table of a saved run.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from prompts import render_prompt

SEED = 7  # fixes the option orders: a run is repeatable


@dataclass(frozen=True)
class Item:
    key: str
    question: str
    options: tuple[str, ...]
    truth: Callable[[Mapping[str, Any]], str | None]  # a record's true answer (None: not defined)
    hide_summary: tuple[str, ...]  # facts left out of the summary when held out
    hide_attributes: tuple[str, ...]  # record attributes left out of the facts list when held out
    ordinal: bool  # options are ordered (or yes/no): Wasserstein applies


_CHILDREN = {"Family with children": "Yes", "Single parent": "Yes", "Single": "No", "Couple": "No"}
_HOUSEHOLD = {
    "Single": "I live alone",
    "Couple": "Couple without children",
    "Family with children": "Family with children",
    "Single parent": "Single parent",
    "Multi-generational": "Several generations together",
}
_EDUCATION = ("High school or less", "Some college", "Bachelor's degree", "Graduate degree")
_CREDIT = {
    "Sub Prime": "Poor (sub-prime)",
    "Near Prime": "Fair (near-prime)",
    "Prime": "Good (prime)",
    "Super Prime": "Excellent (super-prime)",
}
_INCOME_GROUPS = ("Under $50,000", "$50,000 to $100,000", "$100,000 to $200,000", "Over $200,000")
_INCOME_GROUP_OF_BAND = (0, 0, 1, 1, 2, 2, 3, 3)  # records.INCOME_BANDS, in order


def _income_group(record: Mapping[str, Any]) -> str:
    from use_cases.twin.segments.records import INCOME_BANDS

    return _INCOME_GROUPS[_INCOME_GROUP_OF_BAND[INCOME_BANDS.index(record["income_band"])]]


ITEMS: tuple[Item, ...] = (
    Item(
        "home",
        "Do you own or rent your home?",
        ("Own", "Rent"),
        lambda r: "Own" if r["homeowner"] else "Rent",
        ("home",),
        ("homeowner",),
        True,
    ),
    Item(
        "auto_loan",
        "Do you have an auto loan right now?",
        ("Yes", "No"),
        lambda r: "Yes" if r["open_auto_loans"] else "No",
        ("auto_loans",),
        ("open_auto_loans", "auto_loan_balance"),
        True,
    ),
    Item(
        "children",
        "Do children live in your household?",
        ("Yes", "No"),
        lambda r: _CHILDREN.get(r["household"]),
        ("household",),
        ("household",),
        True,
    ),
    Item(
        "household",
        "Which best describes your household?",
        tuple(_HOUSEHOLD.values()),
        lambda r: _HOUSEHOLD[r["household"]],
        ("household",),
        ("household",),
        False,
    ),
    Item(
        "education",
        "What is the highest level of education you have completed?",
        _EDUCATION,
        lambda r: str(r["education"]),
        ("education",),
        ("education",),
        True,
    ),
    Item(
        "credit",
        "How would you rate your credit?",
        tuple(_CREDIT.values()),
        lambda r: _CREDIT[r["credit_tier"]],
        ("credit",),
        ("credit_tier", "credit_quartile", "credit_usage"),
        True,
    ),
    Item(
        "region",
        "Which region of the United States do you live in?",
        ("Northeast", "Midwest", "South", "West"),
        lambda r: str(r["region"]),
        ("place",),
        ("state", "region"),
        False,
    ),
    Item(
        "income",
        "What is your household's yearly income?",
        _INCOME_GROUPS,
        _income_group,
        ("income",),
        ("income_band",),
        True,
    ),
    Item(
        "political_giving",
        "Did you give money to political causes in the past year?",
        ("Yes", "No"),
        lambda r: "Yes" if r["political_giving"] else "No",
        ("giving",),
        ("political_giving",),
        True,
    ),
)
ITEM_KEYS = tuple(item.key for item in ITEMS)


# --- the data behind the twins ---------------------------------------------------------------


@dataclass(frozen=True)
class World:
    """The demo segments and the records behind them."""

    segments: Any  # use_cases.twin.segments.model.SegmentSet
    members: list[list[dict[str, Any]]]  # member records per cluster key
    records: list[dict[str, Any]]


@lru_cache(maxsize=1)
def demo_world() -> World:
    from use_cases.twin.segments.build import cluster_members
    from use_cases.twin.segments.demo import DEMO_CLUSTERS, DEMO_RECORDS, DEMO_SEED, demo_segments
    from use_cases.twin.segments.records import generate_records

    records = generate_records(DEMO_RECORDS, seed=DEMO_SEED)
    return World(demo_segments(), cluster_members(records, DEMO_CLUSTERS, DEMO_SEED), records)


def cluster_personas(world: World, cluster_key: int) -> list[Any]:
    return [p for p in world.segments.personas if p.cluster_key == cluster_key]


def distribution(item: Item, records: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """Share of each option among the records whose answer is defined."""
    answers = [a for a in (item.truth(r) for r in records) if a is not None]
    counts = Counter(answers)
    return {o: counts.get(o, 0) / len(answers) if answers else 0.0 for o in item.options}


# --- prompts of the three conditions ----------------------------------------------------------


def profile_prompt(world: World, spec: Any, hold_out: Item | None = None) -> str:
    """The twin's survey prompt as the survey route writes it; with `hold_out`, without that fact."""
    from graphs.segment_survey.survey_prompt import survey_system_prompt
    from use_cases.twin.segments.personas import persona_summary

    cluster = world.segments.clusters[spec.cluster_key]
    summary = spec.summary if hold_out is None else persona_summary(spec.attributes, omit=hold_out.hide_summary)
    return survey_system_prompt(
        cluster_name=cluster.name,
        cluster_summary=cluster.summary,
        persona_name=spec.name,
        age_band=spec.age_band,
        gender=spec.gender,
        summary=summary,
    )


def demographics_prompt(spec: Any) -> str:
    a = spec.attributes
    ethnicity = a.get("ethnicity") if a.get("ethnicity") not in (None, "", "Other", "Unknown") else ""
    return render_prompt(
        "twin_fidelity_demographics",
        persona_name=spec.name,
        age=a["age"],
        ethnicity=f"{ethnicity} " if ethnicity else "",
        gender="woman" if spec.gender == "Female" else "man",
    )


# --- distances -------------------------------------------------------------------------------


def tvd(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Total variation distance: half the summed absolute differences."""
    return 0.5 * sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in set(p) | set(q))


def wasserstein(p: Mapping[str, float], q: Mapping[str, float], options: Sequence[str]) -> float:
    """Earth mover's distance between two distributions over ordered options, in option steps."""
    total, cp, cq = 0.0, 0.0, 0.0
    for option in options[:-1]:
        cp += p.get(option, 0.0)
        cq += q.get(option, 0.0)
        total += abs(cp - cq)
    return total


def diversity(p: Mapping[str, float]) -> float:
    """Gini-Simpson index: the chance two draws differ."""
    return 1.0 - sum(v * v for v in p.values())


def spread_ratio(twins: Mapping[str, float], records: Mapping[str, float]) -> float | None:
    base = diversity(records)
    return diversity(twins) / base if base > 1e-9 else None


# --- one twin, one item -------------------------------------------------------------------------

CONDITIONS = ("in", "heldout", "demographics")
Ask = Callable[[str, str, Sequence[str], Sequence[int]], Any]  # (system, question, options, order) -> answer


def orders(item: Item, persona_number: int) -> tuple[list[int], list[int]]:
    """Two mirrored option orders for one twin and item (stable for the seed)."""
    from graphs.segment_survey.closed_answer import shuffled_order

    first = shuffled_order(len(item.options), SEED, persona_number, ITEM_KEYS.index(item.key))
    return first, first[::-1]


def condition_facts(spec: Any, condition: str, item: Item) -> dict[str, Any]:
    """The facts the condition's profile holds, in the fact checker's keys."""
    from graphs.persona_chat.facts import normalise_facts, persona_facts

    if condition == "in":
        return persona_facts(spec.attributes)
    if condition == "heldout":
        return persona_facts({k: v for k, v in spec.attributes.items() if k not in item.hide_attributes})
    return normalise_facts({"age": spec.attributes["age"], "gender": spec.gender})


async def answer_persona(
    ask: Ask, world: World, spec: Any, persona_number: int, items: Sequence[Item]
) -> dict[str, dict[str, Any]]:
    """The twin's two answers to each item in each condition (checked against the condition's
    facts, and the model's own), and its true answers. Conditions run one after another, so the
    model server reuses a prompt it has just read."""
    from graphs.segment_survey.closed_answer import excluding, with_prior
    from graphs.segment_survey.fact_options import ruled_out
    from graphs.segment_survey.segment_prior import prior_shares, segment_prior

    shares = prior_shares(world.segments.clusters[spec.cluster_key].attributes)

    out: dict[str, dict[str, Any]] = {item.key: {"truth": item.truth(spec.attributes)} for item in items}
    for condition in CONDITIONS:
        for item in items:
            if condition == "in":
                system = profile_prompt(world, spec)
            elif condition == "heldout":
                system = profile_prompt(world, spec, item)
            else:
                system = demographics_prompt(spec)
            ruled = ruled_out(item.question, item.options, condition_facts(spec, condition, item))
            # as the survey route does; not for the demographics baseline, which has no segment
            prior = segment_prior(item.question, item.options, shares) if condition != "demographics" else None
            answers = []
            for order in orders(item, persona_number):
                result = await ask(system, item.question, item.options, order)
                checked = excluding(result, ruled)
                if not ruled and prior is not None:
                    checked = with_prior(checked, prior)
                answers.append(
                    {
                        "answer": checked.answer,
                        "probabilities": checked.probabilities,
                        "method": checked.method,
                        "unchecked": result.answer,
                        "ruled_out": sorted(ruled),
                    }
                )
            out[item.key][condition] = answers
    return out


async def run_rows(rows: Sequence[Mapping[str, Any]], ask: Ask, items: Sequence[Item] = ITEMS) -> AsyncIterator[Any]:
    """ExampleResults: one per twin and item, then one per cluster and item once the cluster's
    last row has run (rows come grouped by cluster)."""
    from evals.suites import ExampleResult

    world = demo_world()
    pending: list[tuple[Any, dict[str, dict[str, Any]]]] = []

    def flush() -> list[Any]:
        if not pending:
            return []
        key = pending[0][0].cluster_key
        results = []
        for item in items:
            answered = [(spec, by_item[item.key]) for spec, by_item in pending]
            metrics, dists = cluster_metrics(world, key, item, answered)
            results.append(
                ExampleResult(
                    id=f"tf-c{key:02d}-{item.key}",
                    metrics=metrics,
                    inputs={"cluster_key": key, "item": item.key, "level": "cluster", "n_personas": len(answered)},
                    output=dists,
                )
            )
        pending.clear()
        return results

    for row in rows:
        key, index = int(row["cluster_key"]), int(row["persona_index"])
        if pending and pending[0][0].cluster_key != key:
            for result in flush():
                yield result
        spec = cluster_personas(world, key)[index]
        number = key * 100 + index
        by_item = await answer_persona(ask, world, spec, number, items)
        pending.append((spec, by_item))
        for item in items:
            answered = by_item[item.key]
            yield ExampleResult(
                id=f"{row['id']}-{item.key}",
                metrics=persona_metrics(world, spec, item, answered),
                inputs={
                    "cluster_key": key,
                    "persona": spec.name,
                    "item": item.key,
                    "level": "persona",
                    "split": row.get("split"),
                },
                output={c: [a["answer"] for a in answered[c]] for c in CONDITIONS},
                notes={
                    "truth": answered["truth"],
                    "unchecked": {c: [a["unchecked"] for a in answered[c]] for c in CONDITIONS},
                    "ruled_out": {c: answered[c][0]["ruled_out"] for c in CONDITIONS},
                    "probabilities": {c: [a["probabilities"] for a in answered[c]] for c in CONDITIONS},
                },
            )
    for result in flush():
        yield result


def persona_metrics(world: World, spec: Any, item: Item, answered: Mapping[str, Any]) -> dict[str, float]:
    truth = answered["truth"]
    metrics: dict[str, float] = {}
    for condition in CONDITIONS:
        a, b = (x["answer"] for x in answered[condition])
        metrics[f"retest_{condition}"] = 1.0 if a == b else 0.0
        if truth is not None:
            metrics[f"accuracy_{condition}"] = ((a == truth) + (b == truth)) / 2
            drawn = [x["probabilities"].get(truth, 0.0) for x in answered[condition]]
            metrics[f"accuracy_{condition}_drawn"] = sum(drawn) / len(drawn)
            if condition != "demographics":
                raw_a, raw_b = (x["unchecked"] for x in answered[condition])
                metrics[f"accuracy_{condition}_unchecked"] = ((raw_a == truth) + (raw_b == truth)) / 2
    if truth is not None:
        glob = distribution(item, world.records)
        seg = distribution(item, world.members[spec.cluster_key])
        metrics["accuracy_uniform"] = 1.0 / len(item.options)
        metrics["accuracy_global_prior"] = 1.0 if max(glob, key=lambda k: glob[k]) == truth else 0.0
        metrics["accuracy_segment_prior"] = 1.0 if max(seg, key=lambda k: seg[k]) == truth else 0.0
    return metrics


def asked_fact_keys(spec: Any, item: Item) -> set[str]:
    """The fact keys the item asks about: those its held-out condition takes from the facts."""
    return set(condition_facts(spec, "in", item)) - set(condition_facts(spec, "heldout", item))


def weighted_answers(
    item: Item, weights: Sequence[float], answered: Sequence[tuple[Any, Mapping[str, Any]]], condition: str, key: str
) -> dict[str, float]:
    """The twins' answers in one condition, each persona's asks sharing its weight. `key`:
    "answer" (checked), "unchecked" (the model's) or "probabilities" (the checked probabilities:
    the distribution the survey's drawn answers approach)."""
    shares = {o: 0.0 for o in item.options}
    for weight, (_, result) in zip(weights, answered, strict=True):
        for ask in result[condition]:
            said = ask[key]
            for option, share in said.items() if isinstance(said, Mapping) else ((said, 1.0),):
                shares[option] += weight / len(result[condition]) * share
    return shares


def own_records(item: Item, weights: Sequence[float], specs: Sequence[Any]) -> dict[str, float]:
    """What perfect twins would give: each persona's own record answer, weighted as the twins are.
    The personas are a few people per cluster, so even this is some distance from the records."""
    own = {o: 0.0 for o in item.options}
    for weight, spec in zip(weights, specs, strict=True):
        truth = item.truth(spec.attributes)
        if truth is not None:
            own[truth] += weight
    total = sum(own.values())
    return {o: v / total for o, v in own.items()} if total else own


def cluster_metrics(
    world: World, cluster_key: int, item: Item, answered: Sequence[tuple[Any, Mapping[str, Any]]]
) -> tuple[dict[str, float], dict[str, Any]]:
    """Distances between the twins' weighted answers and the cluster's records (with the
    baselines), and the distributions themselves. Each condition's twins are raked on the facts
    its profile holds, as the survey does; `*_loo` rakes without the asked fact's split (it would
    tell the weights the answer), `in_age_gender` weighs by cells only."""
    from graphs.segment_survey.raking import raked_weights
    from graphs.segment_survey.weights import persona_weights

    attributes = world.segments.clusters[cluster_key].attributes
    specs = [spec for spec, _ in answered]
    cells = [(spec.gender, spec.age_band) for spec in specs]

    def raked(condition: str, exclude: set[str] | None = None) -> list[float]:
        facts = [condition_facts(spec, condition, item) for spec in specs]
        return raked_weights(cells, facts, attributes, exclude=exclude or set())

    weights = {condition: raked(condition) for condition in CONDITIONS}
    loo = raked("in", set().union(*(asked_fact_keys(spec, item) for spec in specs)))
    records = distribution(item, world.members[cluster_key])
    dists: dict[str, dict[str, float]] = {
        "records": records,
        "uniform": {o: 1.0 / len(item.options) for o in item.options},
        "global_prior": distribution(item, world.records),
    }
    for condition in CONDITIONS:
        dists[condition] = weighted_answers(item, weights[condition], answered, condition, "answer")
        dists[f"{condition}_unchecked"] = weighted_answers(item, weights[condition], answered, condition, "unchecked")
        dists[f"{condition}_drawn"] = weighted_answers(item, weights[condition], answered, condition, "probabilities")
    dists["in_loo"] = weighted_answers(item, loo, answered, "in", "answer")
    dists["in_age_gender"] = weighted_answers(item, persona_weights(cells, attributes), answered, "in", "answer")
    dists["own_records"] = own_records(item, weights["in"], specs)
    dists["own_records_loo"] = own_records(item, loo, specs)
    metrics: dict[str, float] = {}
    for name in (
        "in",
        "in_unchecked",
        "in_drawn",
        "in_loo",
        "in_age_gender",
        "heldout",
        "heldout_drawn",
        "demographics",
        "demographics_drawn",
        "own_records",
        "own_records_loo",
        "global_prior",
        "uniform",
    ):
        metrics[f"tvd_{name}"] = tvd(dists[name], records)
        if item.ordinal:
            metrics[f"wasserstein_{name}"] = wasserstein(dists[name], records, item.options)
    for condition in CONDITIONS:
        ratio = spread_ratio(dists[condition], records)
        if ratio is not None:
            metrics[f"spread_ratio_{condition}"] = ratio
    return metrics, {k: {o: round(v, 4) for o, v in d.items()} for k, d in dists.items()}


# --- the per-item table of a saved run -----------------------------------------------------------

TABLE_METRICS = (
    ("accuracy_in", "acc in"),
    ("accuracy_in_unchecked", "acc in -"),
    ("accuracy_in_drawn", "acc in d"),
    ("accuracy_heldout", "acc out"),
    ("accuracy_heldout_unchecked", "acc out -"),
    ("accuracy_heldout_drawn", "acc out d"),
    ("accuracy_demographics", "acc demo"),
    ("accuracy_global_prior", "acc prior"),
    ("accuracy_segment_prior", "acc seg"),
    ("accuracy_uniform", "acc unif"),
    ("retest_in", "rt in"),
    ("retest_heldout", "rt out"),
    ("tvd_in", "tvd in"),
    ("tvd_in_unchecked", "tvd in -"),
    ("tvd_in_drawn", "tvd in d"),
    ("tvd_in_loo", "tvd in lo"),
    ("tvd_in_age_gender", "tvd in ag"),
    ("tvd_heldout", "tvd out"),
    ("tvd_heldout_drawn", "tvd out d"),
    ("tvd_demographics", "tvd demo"),
    ("tvd_own_records", "tvd own"),
    ("tvd_own_records_loo", "tvd ownlo"),
    ("tvd_global_prior", "tvd prior"),
    ("tvd_uniform", "tvd unif"),
    ("wasserstein_in", "w1 in"),
    ("wasserstein_heldout", "w1 out"),
    ("spread_ratio_in", "spr in"),
    ("spread_ratio_heldout", "spr out"),
    ("spread_ratio_demographics", "spr demo"),
)


def item_table(examples: Sequence[Mapping[str, Any]]) -> str:
    """Per-item means (and overall) of a run's examples, plus accuracy / retest agreement."""
    by_item: dict[str, dict[str, list[float]]] = {}
    for example in examples:
        item = example.get("inputs", {}).get("item")
        if not item:
            continue
        for name, value in example["metrics"].items():
            by_item.setdefault(item, {}).setdefault(name, []).append(float(value))
            by_item.setdefault("ALL", {}).setdefault(name, []).append(float(value))
    head = (
        f"{'item':<17}" + "".join(f"{label:>10}" for _, label in TABLE_METRICS) + f"{'acc/rt in':>10}{'acc/rt out':>11}"
    )
    lines = [head, "-" * len(head)]
    for item in [*[k for k in ITEM_KEYS if k in by_item], "ALL"]:
        if item not in by_item:
            continue
        means = {k: sum(v) / len(v) for k, v in by_item[item].items()}
        row = f"{item:<17}" + "".join(f"{means[m]:>10.3f}" if m in means else f"{'-':>10}" for m, _ in TABLE_METRICS)
        for acc, rt, width in (("accuracy_in", "retest_in", 10), ("accuracy_heldout", "retest_heldout", 11)):
            ok = acc in means and means.get(rt)
            row += f"{means[acc] / means[rt]:>{width}.3f}" if ok else f"{'-':>{width}}"
        lines.append(row)
    return "\n".join(lines)


def rescore(examples: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The run's rows with every metric recomputed by this checkout from the stored answers and
    probabilities (for a run saved before a metric existed); the model is not asked again."""
    world = demo_world()
    items = {item.key: item for item in ITEMS}
    # (cluster, persona index) -> the persona and, by item, what it answered
    answers: dict[tuple[int, int], tuple[Any, dict[str, Any]]] = {}
    persona_rows: list[dict[str, Any]] = []
    for example in examples:
        inputs = example.get("inputs", {})
        if inputs.get("level") != "persona":
            continue
        found = re.search(r"-p(\d+)-[^-]+$", str(example["id"]))
        if found is None:
            raise ValueError(f"{example['id']}: not a twin_fidelity persona row")
        key, index, notes = int(inputs["cluster_key"]), int(found.group(1)), example["notes"]
        answered: dict[str, Any] = {"truth": notes["truth"]}
        for condition in CONDITIONS:
            answered[condition] = [
                {"answer": answer, "unchecked": unchecked, "probabilities": probabilities}
                for answer, unchecked, probabilities in zip(
                    example["output"][condition],
                    notes["unchecked"][condition],
                    notes["probabilities"][condition],
                    strict=True,
                )
            ]
        spec, by_item = answers.setdefault((key, index), (cluster_personas(world, key)[index], {}))
        by_item[inputs["item"]] = answered
        persona_rows.append({**example, "metrics": persona_metrics(world, spec, items[inputs["item"]], answered)})
    cluster_rows: list[dict[str, Any]] = []
    for key in dict.fromkeys(k for k, _ in answers):
        twins = [twin for (k, _), twin in answers.items() if k == key]
        for item in ITEMS:
            answered_item = [(spec, by_item[item.key]) for spec, by_item in twins if item.key in by_item]
            if answered_item:
                metrics, dists = cluster_metrics(world, key, item, answered_item)
                cluster_rows.append(
                    {
                        "id": f"tf-c{key:02d}-{item.key}",
                        "metrics": metrics,
                        "inputs": {"cluster_key": key, "item": item.key, "level": "cluster"},
                        "output": dists,
                    }
                )
    return persona_rows + cluster_rows


def main(argv: Sequence[str] | None = None) -> int:
    from evals.runner import load_run

    parser = argparse.ArgumentParser(description="Per-item table of a saved twin_fidelity run.")
    parser.add_argument("run", help="run id or results.json path")
    parser.add_argument("--runs-dir", default=None)
    parser.add_argument("--json", action="store_true", help="print the per-item means as JSON")
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="recompute the metrics from the stored answers and probabilities with this checkout's "
        "code (a run saved before a metric existed); no model is asked",
    )
    args = parser.parse_args(argv)
    record = load_run(args.run, args.runs_dir)
    if args.json:
        print(json.dumps(record.get("summary", {}), indent=2))
    print(item_table(rescore(record["examples"]) if args.rescore else record["examples"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
