"""POST /twin/survey and the segment_survey graph: weighted distributions, intervals, stable
answers for a seed, clear 422s and 404s, routed clusters, bounded fan-out; the fake model answers
from each persona's facts, and one test runs the graph on the real local model."""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time

import httpx
import pytest
from langchain_core.messages import AIMessage, BaseMessage

from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.graph import graph as segment_survey
from graphs.segment_survey.segment_prior import record_shares
from graphs.segment_survey.weights import effective_size, wilson_interval
from runtime.services import set_current_services
from tests.support.twin import cluster_key, small_segments
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet

GEN_Z = "Near-Prime Single Gen Z"
BOOMERS = "Super-Prime Wealthy Boomers"
AUTO = "Sub-Prime Auto-Heavy Millennials"
QUESTION = "Do you own or rent your home?"


@pytest.fixture
async def twins(services):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    set_current_services(services)  # the graphs reach the database through the current services
    return segments


def _letters(prompt: str) -> dict[str, str]:
    """Option -> letter, as the survey prompt listed them."""
    return {m.group(2): m.group(1) for m in re.finditer(r"^([A-J])\. (.+)$", prompt, re.M)}


def fact_answerer(calls: list[tuple[str, str]] | None = None, pause: float = 0.0, contrary: bool = False):
    """A scripted model that puts 0.9 on the option matching the persona's `homeowner` fact (on
    the other one when `contrary`), reported as OpenAI-style top log-probabilities of the option
    letters."""

    def respond(messages: list[BaseMessage]) -> AIMessage:
        system, prompt = str(messages[0].content), str(messages[-1].content)
        if calls is not None:
            calls.append((system, prompt))
        if pause:
            time.sleep(pause)
        letters = _letters(prompt)
        owns = bool(re.search(r"\bowns (her|his) home", system)) != contrary
        likely, other = (letters["Own"], letters["Rent"]) if owns else (letters["Rent"], letters["Own"])
        tops = [{"token": likely, "logprob": math.log(0.9)}, {"token": other, "logprob": math.log(0.1)}]
        return AIMessage(
            content=likely, response_metadata={"logprobs": {"content": [{**tops[0], "top_logprobs": tops}]}}
        )

    return respond


def expected_weights(segments: SegmentSet, name: str) -> list[float]:
    """gender share x age-band share, split between personas of one cell, scaled to sum to 1."""
    cluster = next(c for c in segments.clusters if c.name == name)
    people = segments.personas_of(cluster.key)
    cells = [(p.gender, p.age_band) for p in people]
    raw = [
        cluster.attributes["gender_shares"][g] * cluster.attributes["age_band_shares"][b] / cells.count((g, b))
        for g, b in cells
    ]
    return [w / sum(raw) for w in raw]


async def test_survey_over_loopback_weights_each_persona_by_its_records(live_app, twins, script):
    script.responder = fact_answerer()
    ids = [cluster_key(twins, GEN_Z), cluster_key(twins, BOOMERS)]
    body = {
        "question": QUESTION,
        "options": ["Own", "Rent"],
        "cluster_ids": ids,
        "samples_per_persona": 1,
        "check_facts": False,  # the model's own probabilities (the fact check is tested below)
        "weighting": "age_gender",  # the cells alone (raking is tested below)
    }
    with live_app() as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            first = http.post("/twin/survey", json=body)
            again = http.post("/twin/survey", json=body)
            other_seed = http.post("/twin/survey", json={**body, "seed": 99})
    assert first.status_code == 200, first.text
    out = first.json()
    assert set(out) == {"question", "options", "clusters"}
    assert out["question"] == QUESTION and out["options"] == ["Own", "Rent"]
    assert [c["cluster_id"] for c in out["clusters"]] == ids
    for cluster, name in zip(out["clusters"], (GEN_Z, BOOMERS), strict=True):
        assert set(cluster) == {
            "cluster_id",
            "cluster_name",
            "n_personas",
            "n_answers",
            "distribution",
            "ci95",
            "answers",
        }
        assert cluster["cluster_name"] == name and cluster["n_personas"] == 15 and cluster["n_answers"] == 15
        answers = cluster["answers"]
        keys = {"persona_id", "persona_name", "weight", "answer", "probabilities", "record_id"}
        assert [set(a) for a in answers] == [keys] * 15
        assert all(a["record_id"] for a in answers)  # every twin traces to its record
        assert [a["weight"] for a in answers] == pytest.approx(expected_weights(twins, name), abs=1e-4)
        assert all(a["answer"] in ("Own", "Rent") for a in answers)
        for a in answers:
            assert a["probabilities"] == pytest.approx({"Own": 0.9, "Rent": 0.1}) or a["probabilities"] == (
                pytest.approx({"Own": 0.1, "Rent": 0.9})
            )
        weighted = {o: sum(a["weight"] for a in answers if a["answer"] == o) for o in ("Own", "Rent")}
        total = sum(weighted.values())
        assert cluster["distribution"] == pytest.approx({o: w / total for o, w in weighted.items()}, abs=1e-3)
        assert sum(cluster["distribution"].values()) == pytest.approx(1.0)
        n_eff = effective_size([a["weight"] for a in answers])
        for option, (low, high) in cluster["ci95"].items():
            share = cluster["distribution"][option]
            assert low <= share <= high
            assert (low, high) == pytest.approx(wilson_interval(share, n_eff), abs=1e-4)
    gen_z = out["clusters"][0]["answers"]
    # 91% of the Gen Z cluster is 18-24 and nobody is over 44: its 45+ personas weigh nothing
    older = [a for a, p in zip(gen_z, twins.personas_of(ids[0]), strict=True) if p.age_band in ("45 - 54", "75+")]
    assert older and all(a["weight"] == 0 for a in older)
    boomers = out["clusters"][1]
    owners = [a for a in boomers["answers"] if a["probabilities"]["Own"] > 0.5]
    assert boomers["distribution"]["Own"] > 0.5 and len(owners) >= 10
    assert again.json() == out  # a fixed seed repeats every answer
    assert other_seed.status_code == 200 and other_seed.json()["clusters"][0]["n_answers"] == 15


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"options": ["Own"]}, "options"),
        ({"options": [str(i) for i in range(11)]}, "options"),
        ({"options": ["Own", "own"]}, "options"),
        ({"options": ["Own", " "]}, "options"),
        ({"samples_per_persona": 0}, "samples_per_persona"),
        ({"samples_per_persona": 11}, "samples_per_persona"),
        ({"question": ""}, "question"),
        ({"cluster_ids": []}, "cluster_ids"),
        ({"top_k": 0, "query": "retirees"}, "top_k"),
        ({"seed": -1}, "seed"),
        ({"weighting": "bogus"}, "weighting"),
    ],
)
async def test_bad_survey_input_is_a_422_naming_the_field(client, twins, script, patch, field):
    body = {"question": QUESTION, "options": ["Own", "Rent"], **patch}
    r = await client.post("/twin/survey", json=body)
    assert r.status_code == 422, r.text
    assert field in str(r.json()["detail"])
    assert script.calls == []


async def test_ids_and_query_together_are_refused_and_unknown_clusters_are_404(client, twins, script):
    both = await client.post(
        "/twin/survey", json={"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [1], "query": "x"}
    )
    assert both.status_code == 422 and "cluster_ids or query" in str(both.json()["detail"])
    known = cluster_key(twins, GEN_Z)
    r = await client.post(
        "/twin/survey", json={"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [known, 999]}
    )
    assert r.status_code == 404 and r.json() == {"detail": "Cluster 999 not found"}
    assert script.calls == []


async def test_a_query_surveys_the_routed_clusters_and_no_ids_survey_all(client, twins, script):
    script.responder = fact_answerer()
    query = "Millennials with high auto debt and sub-prime credit."
    routed = (await client.post("/twin/query_clusters", json={"query": query, "top_k": 2})).json()
    r = await client.post(
        "/twin/survey", json={"question": QUESTION, "options": ["Own", "Rent"], "query": query, "top_k": 2}
    )
    assert r.status_code == 200, r.text
    assert [c["cluster_id"] for c in r.json()["clusters"]] == [c["cluster_id"] for c in routed]
    assert r.json()["clusters"][0]["cluster_name"] == AUTO
    everyone = await client.post("/twin/survey", json={"question": QUESTION, "options": ["Own", "Rent"]})
    assert sorted(c["cluster_id"] for c in everyone.json()["clusters"]) == sorted(c.key for c in twins.clusters)


async def test_options_the_record_contradicts_are_ruled_out(client, twins, script):
    """A model that answers against every persona's record: the fact check gives each persona its
    record's answer; `check_facts: false` keeps the model's; a question the facts cannot answer
    keeps the model's probabilities."""
    script.responder = fact_answerer(contrary=True)
    cid = cluster_key(twins, GEN_Z)
    owns = {p.name: bool(p.attributes["homeowner"]) for p in twins.personas_of(cid)}
    assert set(owns.values()) == {True, False}  # both kinds answer
    body = {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cid]}
    checked = (await client.post("/twin/survey", json=body)).json()["clusters"][0]
    unchecked = (await client.post("/twin/survey", json={**body, "check_facts": False})).json()["clusters"][0]
    for a in checked["answers"]:
        truth = "Own" if owns[a["persona_name"]] else "Rent"
        assert a["answer"] == truth and a["probabilities"][truth] == 1.0
    assert all(
        a["probabilities"]["Own" if owns[a["persona_name"]] else "Rent"] == pytest.approx(0.1)
        for a in unchecked["answers"]
    )
    assert checked["n_answers"] == unchecked["n_answers"] == 15
    owners = sum(a["weight"] for a in checked["answers"] if owns[a["persona_name"]])
    assert checked["distribution"]["Own"] == pytest.approx(owners, abs=1e-3)
    assert owners < 0.5 < unchecked["distribution"]["Own"]  # each drawn from 0.9 against the record
    own_words = {**body, "question": "Own or rent: which do you prefer for people in general?"}
    other = (await client.post("/twin/survey", json=own_words)).json()["clusters"][0]
    assert {round(a["probabilities"]["Own"], 3) for a in other["answers"]} == {0.9, 0.1}


def even_answerer(messages: list[BaseMessage]) -> AIMessage:
    """A scripted model with no opinion: the same log-probability for every option letter."""
    letters = list(_letters(str(messages[-1].content)).values())
    tops = [{"token": letter, "logprob": math.log(1 / len(letters))} for letter in letters]
    return AIMessage(
        content=letters[0], response_metadata={"logprobs": {"content": [{**tops[0], "top_logprobs": tops}]}}
    )


async def test_where_the_record_is_silent_the_segment_split_weighs_the_answer(services, client, twins, script):
    """Personas whose records lack home ownership answer with their cluster's homeowner share
    (the model has no opinion); with `check_facts: false` the model's even split stays."""
    script.responder = even_answerer
    async with services.pool.connection() as conn:
        await conn.execute("UPDATE personas SET attributes = attributes - 'homeowner' WHERE kind = 'twin'")
    cid = cluster_key(twins, BOOMERS)
    share = next(c for c in twins.clusters if c.key == cid).attributes["homeowner_share"]
    assert share > 0.6  # far from the model's even split
    body = {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cid]}
    weighed = (await client.post("/twin/survey", json=body)).json()["clusters"][0]["answers"]
    plain = (await client.post("/twin/survey", json={**body, "check_facts": False})).json()["clusters"][0]["answers"]
    assert len(weighed) == len(plain) == 15
    assert all(a["probabilities"] == pytest.approx({"Own": share, "Rent": 1 - share}, abs=1e-4) for a in weighed)
    assert all(a["probabilities"] == pytest.approx({"Own": 0.5, "Rent": 0.5}) for a in plain)


EDUCATION = ["High school or less", "Some college", "Bachelor's degree", "Graduate degree"]


async def test_raked_weights_bring_record_answers_closer_to_the_stored_split(live_app, twins, script):
    """Every persona answers its record's education (the model has no opinion, the fact check
    leaves one option): raked weights split those answers closer to the cluster's stored
    education shares than the (gender, age band) cells do, in every cluster; an unknown
    weighting is a 422 naming the field."""
    script.responder = even_answerer
    ids = [cluster_key(twins, name) for name in (GEN_Z, AUTO, BOOMERS)]
    body = {
        "question": "What is the highest level of education you have completed?",
        "options": EDUCATION,
        "cluster_ids": ids,
    }
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        default = http.post("/twin/survey", json=body)
        raked = http.post("/twin/survey", json={**body, "weighting": "raked"})
        cells = http.post("/twin/survey", json={**body, "weighting": "age_gender"})
        bogus = http.post("/twin/survey", json={**body, "weighting": "bogus"})
    assert default.status_code == raked.status_code == cells.status_code == 200, default.text
    assert default.json() == raked.json()  # raked is the default
    assert bogus.status_code == 422 and "weighting" in str(bogus.json()["detail"])
    for with_raking, by_cells in zip(raked.json()["clusters"], cells.json()["clusters"], strict=True):
        cluster = next(c for c in twins.clusters if c.key == with_raking["cluster_id"])
        stored = record_shares(cluster.attributes)["education"]
        people = {p.name: p.attributes["education"] for p in twins.personas_of(cluster.key)}
        for result in (with_raking, by_cells):
            assert all(a["answer"] == people[a["persona_name"]] for a in result["answers"])
            assert sum(a["weight"] for a in result["answers"]) == pytest.approx(1.0, abs=1e-3)
        assert {a["persona_id"] for a in with_raking["answers"]} == {a["persona_id"] for a in by_cells["answers"]}
        raked_off, cells_off = (
            0.5 * sum(abs(result["distribution"][o] - stored.get(o, 0.0)) for o in EDUCATION)
            for result in (with_raking, by_cells)
        )
        assert raked_off < cells_off - 0.05, cluster.name
        n_eff = effective_size([a["weight"] for a in with_raking["answers"]])
        share = with_raking["distribution"]["Some college"]
        assert with_raking["ci95"]["Some college"] == pytest.approx(list(wilson_interval(share, n_eff)), abs=1e-3)


async def test_samples_rotate_the_option_order_and_count_as_one_persona(services, twins, script):
    calls: list[tuple[str, str]] = []
    script.responder = fact_answerer(calls)
    out = await segment_survey.ainvoke(
        {
            "question": QUESTION,
            "options": ["Own", "Rent", "Live with family"],
            "cluster_ids": [cluster_key(twins, BOOMERS)],
            "samples_per_persona": 3,
            "seed": 5,
        },
        context=SurveyContext(model="fake:scripted"),
    )
    (cluster,) = out["clusters"]
    assert cluster["n_personas"] == 15 and cluster["n_answers"] == 45
    per_persona = {a["persona_id"] for a in cluster["answers"]}
    assert len(per_persona) == 15
    orders = {tuple(_letters(prompt)) for _system, prompt in calls}
    assert len(orders) > 1  # respondents see the options in different orders
    # three samples of 15 personas: the interval is as wide as 15 personas' (samples add no respondents)
    weights = list({a["persona_id"]: a["weight"] for a in cluster["answers"]}.values())
    share = cluster["distribution"]["Own"]
    assert cluster["ci95"]["Own"] == pytest.approx(list(wilson_interval(share, effective_size(weights))), abs=1e-4)
    unshuffled_calls: list[tuple[str, str]] = []
    script.responder = fact_answerer(unshuffled_calls)
    await segment_survey.ainvoke(
        {
            "question": QUESTION,
            "options": ["Own", "Rent", "Live with family"],
            "cluster_ids": [cluster_key(twins, BOOMERS)],
            "shuffle_options": False,
        },
        context=SurveyContext(model="fake:scripted"),
    )
    assert {tuple(_letters(p)) for _s, p in unshuffled_calls} == {("Own", "Rent", "Live with family")}


async def test_fan_out_keeps_to_max_concurrency(services, twins, script):
    running, peak, lock = 0, 0, threading.Lock()
    answer = fact_answerer(pause=0.05)

    def counted(messages):
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        try:
            return answer(messages)
        finally:
            with lock:
                running -= 1

    script.responder = counted
    out = await segment_survey.ainvoke(
        {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cluster_key(twins, AUTO)]},
        context=SurveyContext(model="fake:scripted", max_concurrency=2),
    )
    assert out["clusters"][0]["n_answers"] == 15
    assert 1 <= peak <= 2


async def test_a_failing_model_is_a_502_without_internals(client, twins, script):
    def broken(messages):
        raise ConnectionError("upstream said no at 10.0.0.7")

    script.responder = broken
    r = await client.post(
        "/twin/survey",
        json={"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cluster_key(twins, AUTO)]},
    )
    assert r.status_code == 502 and r.json() == {"detail": "The chat model failed to answer; try again later."}


async def test_survey_graph_on_the_real_local_model(services, local_llm):
    """Two personas of one cluster answer on SmolLM2 (option likelihood under a grammar)."""
    demo = small_segments()
    cluster = next(c for c in demo.clusters if c.name == BOOMERS)
    people = [p for p in demo.personas_of(cluster.key) if p.age_band in ("65 - 74", "18 - 24")][:2]
    await replace_segments(services.pool, SegmentSet(clusters=[cluster], personas=people), services.embeddings)
    set_current_services(services)
    survey = {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cluster.key], "seed": 3}
    first = await segment_survey.ainvoke(survey, context=SurveyContext(model="local:smollm2"))
    (result,) = first["clusters"]
    assert result["n_personas"] == 2 and result["n_answers"] == 2
    assert all(a["answer"] in ("Own", "Rent") for a in result["answers"])
    assert all(sum(a["probabilities"].values()) == pytest.approx(1.0, abs=1e-3) for a in result["answers"])
    assert sum(result["distribution"].values()) == pytest.approx(1.0)
    # what the records hold they answer, whatever the small model prefers
    records = {p.name: "Own" if p.attributes["homeowner"] else "Rent" for p in people}
    assert {a["persona_name"]: a["answer"] for a in result["answers"]} == records
    again = await asyncio.wait_for(segment_survey.ainvoke(survey, context=SurveyContext(model="local:smollm2")), 600)
    assert again == first


async def test_langserve_runs_the_survey_and_answers_its_errors(client, twins, script):
    script.responder = fact_answerer()
    cid = cluster_key(twins, AUTO)
    survey = {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cid]}
    config = {"configurable": {"model": "fake:scripted", "max_concurrency": 3}}
    r = await client.post("/graphs/segment_survey/invoke", json={"input": survey, "config": config})
    assert r.status_code == 200, r.text
    (cluster,) = r.json()["output"]["clusters"]
    assert cluster["cluster_id"] == cid and cluster["n_answers"] == 15
    missing = await client.post(
        "/graphs/segment_survey/invoke", json={"input": {**survey, "cluster_ids": [999]}, "config": config}
    )
    assert missing.status_code == 404 and missing.json() == {"detail": "Cluster 999 not found"}
    one_option = await client.post(
        "/graphs/segment_survey/invoke", json={"input": {**survey, "options": ["Own"]}, "config": config}
    )
    assert one_option.status_code == 422 and "options" in one_option.json()["detail"]


async def test_ssr_reads_a_free_answer_by_its_similarity_to_each_option(local_embeddings, script):
    """Semantic similarity rating: the persona answers in its own words (the options are not
    shown), and the answer's embedding decides between the options."""
    from graphs.segment_survey.closed_answer import ask_closed_question

    script.responder = lambda messages: "I rent a small apartment downtown; I have never owned a home."
    answer = await ask_closed_question(
        "fake:scripted",
        "You are Ana, 29.",
        "Do you own or rent your home?",
        ["Own", "Rent"],
        method="ssr",
        embeddings=local_embeddings,
    )
    assert answer.method == "ssr" and answer.answer == "Rent"
    assert answer.probabilities["Rent"] > answer.probabilities["Own"]
    assert abs(sum(answer.probabilities.values()) - 1.0) < 1e-9
    asked = str(script.calls[-1][-1].content)
    assert "Do you own or rent your home?" in asked and "Own" not in asked.replace("own or rent", "")
    with pytest.raises(ValueError, match="needs the embedding model"):
        await ask_closed_question("fake:scripted", "", "Own or rent?", ["Own", "Rent"], method="ssr")


async def test_the_survey_api_takes_the_method_per_request(client, twins, script, local_embeddings, services):
    services.embeddings = local_embeddings
    script.responder = lambda messages: "I rent a small apartment downtown; I have never owned a home."
    r = await client.post(
        "/twin/survey",
        json={
            "question": "Do you own or rent your home?",
            "options": ["Own", "Rent"],
            "cluster_ids": [cluster_key(twins, AUTO)],
            "method": "ssr",
            "check_facts": False,
        },
    )
    assert r.status_code == 200, r.text
    answers = r.json()["clusters"][0]["answers"]
    # each answer is drawn from its probabilities; the free answer leans every persona to Rent
    assert answers and all(a["probabilities"]["Rent"] > a["probabilities"]["Own"] for a in answers)
    r = await client.post(
        "/twin/survey",
        json={"question": "Own or rent?", "options": ["Own", "Rent"], "method": "telepathy"},
    )
    assert r.status_code == 422


async def test_a_table_twin_survey_prompt_holds_the_answers_closest_to_the_question(services):
    from domain.record_schema import RecordSchema
    from graphs.segment_survey.survey_prompt import RELEVANT_FACTS, relevant_columns

    questions = {
        "owns_home": "Do you own your home?",
        "gun_owner": "Do you own a gun?",
        "church": "How often do you attend religious services?",
        "smoker": "Do you smoke cigarettes?",
        "insured": "Do you have health insurance?",
        "commute": "How do you usually get to work?",
        "pets": "Do you have a dog or a cat?",
    }
    schema = RecordSchema.model_validate(
        {
            "format": "record-schema/v1",
            "columns": {
                "state": {"type": "category", "label": "State"},
                **{name: {"type": "category", "label": name, "question": q} for name, q in questions.items()},
            },
        }
    )
    embeddings = services.require_embeddings()
    ranked = await relevant_columns(schema, "Should it be harder to buy firearms?", embeddings)
    assert len(ranked) == RELEVANT_FACTS and ranked[0] == "gun_owner" and "state" not in ranked
    ranked = await relevant_columns(schema, "How often do you pray?", embeddings)
    assert ranked[0] == "church"
    # without embeddings: the first question columns, in the schema's order
    assert await relevant_columns(schema, "How often do you pray?", None) == list(questions)[:RELEVANT_FACTS]
