"""POST /twin/focus_group and the focus_group graph: the most representative personas answer in
character, themes group what they said with verbatim quotes, the stream sends each answer as it
arrives and ends with [DONE]; bad input is a 422 naming the field, unknown clusters a 404; one
test runs the graph on the real local model."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

import httpx
import pytest
from langchain_core.messages import BaseMessage

from graphs.focus_group.context import FocusGroupContext
from graphs.focus_group.graph import graph as focus_group
from graphs.focus_group.themes import Sentence, build_themes, sentences_of
from runtime.services import set_current_services
from tests.support.twin import cluster_key, small_segments
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet

BOOMERS = "Super-Prime Wealthy Boomers"
GEN_Z = "Near-Prime Single Gen Z"
QUESTION = "What worries you most about your monthly budget?"

OWNER_LINES = (
    "Property taxes on the house keep climbing every single year.",
    "The property tax bill for my house goes up each year.",
    "Every year my house's property taxes are higher.",
)
RENTER_LINES = (
    "My landlord raised the rent again and it eats my paycheck.",
    "Rent takes most of my paycheck since the landlord raised it.",
    "The landlord keeps raising my rent, so little of my pay is left.",
)


def by_tenure(messages: list[BaseMessage]) -> str:
    """Owners talk about property tax, renters about rent, each in a wording of their own."""
    system = " ".join(str(m.content) for m in messages if m.type == "system")
    lines = OWNER_LINES if "- homeowner: yes" in system else RENTER_LINES
    age = re.search(r"- age: (\d+)", system)  # the system message also holds a per-turn random marker
    return lines[int(age.group(1) if age else 0) % len(lines)] + " I try to plan ahead."


def representative(segments: SegmentSet, name: str, n: int) -> list[str]:
    """Names of the n personas standing for the most records (gender share x band share)."""
    cluster = next(c for c in segments.clusters if c.name == name)
    people = segments.personas_of(cluster.key)
    cells = [(p.gender, p.age_band) for p in people]
    weight = [
        cluster.attributes["gender_shares"][g] * cluster.attributes["age_band_shares"][b] / cells.count((g, b))
        for g, b in cells
    ]
    ranked = sorted(range(len(people)), key=lambda i: (-weight[i], i))[:n]
    return [people[i].name for i in sorted(ranked)]


def check_themes(cluster: dict) -> None:
    answers = {r["persona_id"]: r["answer"] for r in cluster["responses"]}
    assert cluster["themes"]
    for theme in cluster["themes"]:
        assert set(theme) == {"theme", "count", "persona_ids", "quote"}
        assert theme["count"] == len(theme["persona_ids"]) == len(set(theme["persona_ids"])) >= 1
        assert set(theme["persona_ids"]) <= set(answers)
        assert any(theme["quote"] in answers[p] for p in theme["persona_ids"]), theme
        assert theme["theme"].strip()


async def test_focus_group_over_loopback_groups_answers_into_themes(live_app, twins, script):
    script.responder = by_tenure
    ids = [cluster_key(twins, BOOMERS), cluster_key(twins, GEN_Z)]
    body = {"question": QUESTION, "cluster_ids": ids, "personas_per_cluster": 6}
    with live_app() as server, httpx.Client(base_url=server.url, timeout=300) as http:
        r = http.post("/twin/focus_group", json=body)
        with http.stream("POST", "/twin/focus_group", json={**body, "stream": True}) as streamed:
            assert streamed.status_code == 200
            assert streamed.headers["content-type"].startswith("text/event-stream")
            lines = [line for line in streamed.iter_lines() if line]
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out) == {"question", "clusters"} and out["question"] == QUESTION
    assert [c["cluster_id"] for c in out["clusters"]] == ids
    for cluster, name in zip(out["clusters"], (BOOMERS, GEN_Z), strict=True):
        assert cluster["cluster_name"] == name
        assert [p["persona_name"] for p in cluster["responses"]] == representative(twins, name, 6)
        assert all(set(p) == {"persona_id", "persona_name", "answer"} for p in cluster["responses"])
        assert all(p["answer"].endswith("I try to plan ahead.") for p in cluster["responses"])
        check_themes(cluster)
    # owners and renters said different things: no theme mixes a property-tax quote with renters
    for cluster in out["clusters"]:
        owners = {r["persona_id"] for r in cluster["responses"] if "property tax" in r["answer"].lower()}
        renters = {r["persona_id"] for r in cluster["responses"]} - owners
        for theme in cluster["themes"]:
            if "property tax" in theme["quote"].lower():
                assert set(theme["persona_ids"]) <= owners
            if "landlord" in theme["quote"].lower() or "rent" in theme["quote"].lower().split():
                assert set(theme["persona_ids"]) <= renters
        if owners and renters:
            assert len(cluster["themes"]) >= 2
    # the stream: progress, one event per answer as it arrives, the same result, then [DONE]
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    events = [json.loads(line[len("data: ") :]) for line in lines[:-1]]
    assert events[0]["type"] == "progress" and events[0]["stage"] == "selected" and events[0]["total"] == 12
    responses = [e for e in events if e["type"] == "response"]
    assert [e["done"] for e in responses] == list(range(1, 13)) and all(e["total"] == 12 for e in responses)
    assert {(e["persona_id"], e["answer"]) for e in responses} == {
        (p["persona_id"], p["answer"]) for c in out["clusters"] for p in c["responses"]
    }
    assert events[-1] == {"type": "result", "result": out}
    assert any(e["type"] == "progress" and e["stage"] == "themes" for e in events)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"personas_per_cluster": 0}, "personas_per_cluster"),
        ({"personas_per_cluster": 16}, "personas_per_cluster"),
        ({"question": ""}, "question"),
        ({"cluster_ids": [1], "query": "retirees"}, "cluster_ids or query"),
        ({"stream": "sometimes"}, "stream"),
    ],
)
async def test_bad_focus_group_input_is_a_422_naming_the_field(client, twins, script, patch, field):
    r = await client.post("/twin/focus_group", json={"question": QUESTION, **patch})
    assert r.status_code == 422, r.text
    assert field in str(r.json()["detail"])
    assert script.calls == []


@pytest.mark.parametrize("stream", [False, True])
async def test_unknown_cluster_is_a_404_before_anyone_answers(client, twins, script, stream):
    r = await client.post("/twin/focus_group", json={"question": QUESTION, "cluster_ids": [999], "stream": stream})
    assert r.status_code == 404 and r.json() == {"detail": "Cluster 999 not found"}
    assert script.calls == []


def test_themes_quote_real_sentences_and_count_personas():
    answers = {
        1: "Prices at the grocery store are too high. I like my dog.",
        2: "Groceries cost far too much these days!",
        3: "Gas prices hurt my commute.",
    }
    sentences: list[Sentence] = [s for pid, text in answers.items() for s in sentences_of(pid, text)]
    assert [s.text for s in sentences] == [
        "Prices at the grocery store are too high.",
        "I like my dog.",
        "Groceries cost far too much these days!",
        "Gas prices hurt my commute.",
    ]
    # hand-made vectors: the two grocery sentences point one way, the others elsewhere
    vectors: Sequence[Sequence[float]] = [[1, 0.1, 0], [0, 0, 1], [0.95, 0.15, 0], [0.2, 1, 0]]
    themes = build_themes(sentences, vectors, distance=0.3, max_themes=5)
    assert themes[0]["persona_ids"] == [1, 2] and themes[0]["count"] == 2
    assert themes[0]["quote"] in (answers[1], answers[2]) or any(themes[0]["quote"] in answers[p] for p in (1, 2))
    assert sorted(t["count"] for t in themes) == [1, 1, 2]
    assert build_themes(sentences, vectors, distance=0.3, max_themes=2) == themes[:2]
    assert build_themes([], [], distance=0.3, max_themes=5) == []


async def test_focus_group_graph_on_the_real_local_model(services, local_llm):
    demo = small_segments()
    cluster = next(c for c in demo.clusters if c.name == BOOMERS)
    people = [p for p in demo.personas_of(cluster.key) if p.age_band == "65 - 74"]
    await replace_segments(services.pool, SegmentSet(clusters=[cluster], personas=people), services.embeddings)
    set_current_services(services)
    out = await focus_group.ainvoke(
        {"question": QUESTION, "cluster_ids": [cluster.key], "personas_per_cluster": 2},
        context=FocusGroupContext(model="local:smollm2", max_tokens=48),
    )
    (result,) = out["clusters"]
    assert len(result["responses"]) == 2
    assert all(r["answer"].strip() for r in result["responses"])
    check_themes(result)


async def test_langserve_runs_the_focus_group(client, twins, script):
    script.responder = by_tenure
    cid = cluster_key(twins, BOOMERS)
    r = await client.post(
        "/graphs/focus_group/invoke",
        json={
            "input": {"question": QUESTION, "cluster_ids": [cid], "personas_per_cluster": 3},
            "config": {"configurable": {"model": "fake:scripted", "max_themes": 1}},
        },
    )
    assert r.status_code == 200, r.text
    (cluster,) = r.json()["output"]["clusters"]
    assert len(cluster["responses"]) == 3 and len(cluster["themes"]) == 1
    check_themes(cluster)
