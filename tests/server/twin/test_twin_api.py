"""The Twin-chat REST API (docs/api/twin.md) at /twin, on a small imported set."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage
from pydantic import SecretStr

from store.personas import create_persona
from tests.conftest import app_client
from tests.support.twin import cluster_key, small_segments
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet

PERSONA_KEYS = {"persona_id", "persona_name", "gender", "age", "summary"}


@pytest.fixture
async def twins(services):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    return segments


def _cluster_id(twins: SegmentSet) -> int:
    return cluster_key(twins, "Sub-Prime Auto-Heavy Millennials")


async def test_query_clusters_contract_shape(client, twins: SegmentSet):
    r = await client.post(
        "/twin/query_clusters", json={"query": "Millennials with high auto debt and sub-prime credit.", "top_k": 3}
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body) == 3
    assert [set(c) for c in body] == [{"cluster_id", "cluster_name", "similarity", "summary"}] * 3
    assert body[0]["cluster_name"] == "Sub-Prime Auto-Heavy Millennials"
    full = {c.key: c.summary for c in twins.clusters}
    for c in body:
        assert c["summary"] == full[c["cluster_id"]][:150] + "..."
        assert 0 <= c["similarity"] <= 1 and round(c["similarity"], 3) == c["similarity"]
    default = await client.post("/twin/query_clusters", json={"query": "retirees"})
    assert len(default.json()) == 3


async def test_query_clusters_min_similarity_keeps_only_matches(client, twins: SegmentSet, services):
    threshold = services.settings.twin_match_threshold
    query = "Millennials with high auto debt and sub-prime credit."
    every = (await client.post("/twin/query_clusters", json={"query": query, "top_k": 3})).json()
    kept = await client.post("/twin/query_clusters", json={"query": query, "top_k": 3, "min_similarity": threshold})
    assert kept.status_code == 200
    assert kept.json() == [c for c in every if c["similarity"] >= threshold]
    assert kept.json()[0]["cluster_name"] == "Sub-Prime Auto-Heavy Millennials"
    assert [set(c) for c in kept.json()] == [{"cluster_id", "cluster_name", "similarity", "summary"}] * len(kept.json())
    nothing = await client.post(
        "/twin/query_clusters", json={"query": "teenagers aged 13 to 17", "top_k": 3, "min_similarity": threshold}
    )
    assert nothing.status_code == 200 and nothing.json() == []
    zero = await client.post("/twin/query_clusters", json={"query": query, "top_k": 3, "min_similarity": 0})
    assert zero.json() == every
    for bad in (-0.1, 1.5, "high"):
        r = await client.post("/twin/query_clusters", json={"query": query, "min_similarity": bad})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "min_similarity"]


@pytest.mark.parametrize(
    "body",
    [
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 51},
        {"top_k": 3},
        {"query": "   "},
        {"query": "x", "top_k": "many"},
    ],
)
async def test_query_clusters_rejects_malformed_bodies(client, body):
    r = await client.post("/twin/query_clusters", json=body)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert isinstance(detail, list) and detail[0]["msg"]
    if body.get("top_k") in (0, 51):
        assert detail[0]["loc"] == ["body", "top_k"]
        assert ("greater than or equal to 1" if body["top_k"] == 0 else "less than or equal to 50") in detail[0]["msg"]


async def test_cluster_personas_lists_all_fifteen(client, twins: SegmentSet):
    cid = _cluster_id(twins)
    r = await client.get(f"/twin/cluster/{cid}/personas")
    assert r.status_code == 200
    body = r.json()
    assert len(body) == 15 and all(set(p) == PERSONA_KEYS for p in body)
    expected = twins.personas_of(cid)
    assert [(p["persona_name"], p["gender"], p["age"]) for p in body] == [
        (e.name, e.gender, e.age_band) for e in expected
    ]
    assert [p["summary"] for p in body] == [e.summary[:200] for e in expected]
    assert [p["persona_id"] for p in body] == sorted(p["persona_id"] for p in body)


async def test_unknown_ids_are_404_with_detail_and_bad_ids_422(client, twins):
    for method, path, body in [
        ("GET", "/twin/cluster/999/personas", None),
        ("POST", "/twin/cluster/999/refine_personas", {"query": "x"}),
        ("GET", "/twin/persona/999/start_chat", None),
        ("POST", "/twin/persona/999/chat", {"message": "hi"}),
    ]:
        r = await client.request(method, path, json=body)
        assert r.status_code == 404, path
        assert r.json() == {"detail": r.json()["detail"]} and "999" in r.json()["detail"]
    assert (await client.get("/twin/cluster/abc/personas")).status_code == 422
    assert (await client.post("/twin/persona/1/chat", json={})).status_code == 422
    assert (
        await client.post("/twin/persona/1/chat", json={"message": "hi", "session_id": "../x y"})
    ).status_code == 422


async def test_refine_personas_filters_by_age_band(client, twins: SegmentSet):
    cid = _cluster_id(twins)
    r = await client.post(
        f"/twin/cluster/{cid}/refine_personas", json={"query": "25 to 34 year old residing in USA", "top_k": 5}
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body) == 3 and all(set(p) == PERSONA_KEYS for p in body)
    assert {p["age"] for p in body} == {"25 - 34"}
    r = await client.post(f"/twin/cluster/{cid}/refine_personas", json={"query": "anyone", "top_k": 51})
    assert r.status_code == 422


async def test_start_chat_greeting(client, twins: SegmentSet):
    listed = (await client.get(f"/twin/cluster/{_cluster_id(twins)}/personas")).json()
    mason = listed[9]  # the second 25 - 34 man, like the contract's Mason
    spec = twins.personas_of(_cluster_id(twins))[9]
    r = await client.get(f"/twin/persona/{mason['persona_id']}/start_chat")
    assert r.status_code == 200
    assert r.json() == {
        "persona_id": mason["persona_id"],
        "persona_name": spec.name,
        "cluster_name": "Sub-Prime Auto-Heavy Millennials",
        "greeting": f"👋 Hi, I’m {spec.name}. I’m part of the **Sub-Prime Auto-Heavy Millennials** cluster — "
        f"a 25 - 34-year-old male who behaves like this: {spec.summary[:180]}... Nice to meet you!",
    }


async def test_chat_replies_in_character_with_memory_per_session(client, twins: SegmentSet, script):
    pid = (await client.get(f"/twin/cluster/{_cluster_id(twins)}/personas")).json()[0]["persona_id"]
    spec = twins.personas_of(_cluster_id(twins))[0]
    # replies that claim nothing the persona's facts could contradict (the fact guard would rewrite them)
    script.replies = ["I keep busy with work and family.", "I said I keep busy.", "Hello again!"]
    first = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Where do you reside?"})
    assert first.status_code == 200
    assert first.json()["persona_id"] == pid and first.json()["reply"] == "I keep busy with work and family."
    session = first.json()["session_id"]
    system = script.calls[0][0].content
    assert spec.name in system and spec.summary in system
    second = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Say that again?"})
    assert second.json()["session_id"] == session
    assert [m.content for m in script.calls[1] if isinstance(m, HumanMessage)] == [
        "Where do you reside?",
        "Say that again?",
    ]
    fresh = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Hi", "session_id": "new-1"})
    assert fresh.json()["session_id"] == "new-1"
    assert [m.content for m in script.calls[2] if isinstance(m, HumanMessage)] == ["Hi"]


async def test_twin_chat_refuses_non_twin_personas(client, services, twins):
    studio_id = await create_persona(services.pool, kind="studio", name="Private", owner_id="someone")
    r = await client.post(f"/twin/persona/{studio_id}/chat", json={"message": "hi"})
    assert r.status_code == 404
    assert (await client.get(f"/twin/persona/{studio_id}/start_chat")).status_code == 404


async def test_api_key_when_configured(services, twins, script):
    from server.app import create_app

    services.settings = services.settings.model_copy(update={"twin_api_key": SecretStr("k" * 24)})
    app = create_app(services.settings, services=services)
    async with app_client(app) as client:
        assert (await client.post("/twin/query_clusters", json={"query": "retirees"})).status_code == 401
        wrong = await client.get("/twin/cluster/0/personas", headers={"X-API-Key": "nope"})
        assert wrong.status_code == 401 and "detail" in wrong.json()
        ok = await client.post("/twin/query_clusters", json={"query": "retirees"}, headers={"X-API-Key": "k" * 24})
        assert ok.status_code == 200


async def test_twin_chat_through_the_real_local_model(services, twins, local_llm):
    from server.app import create_app

    services.settings = services.settings.model_copy(update={"chat_model": "local:smollm2"})
    app = create_app(services.settings, services=services)
    pid = 1
    async with app_client(app) as client:
        r = await client.post(f"/twin/persona/{pid}/chat", json={"message": "Where do you live?"})
    assert r.status_code == 200, r.text
    assert r.json()["persona_id"] == pid and r.json()["reply"].strip()
