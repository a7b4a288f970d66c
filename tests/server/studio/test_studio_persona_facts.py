"""Studio personas may declare facts (optional `facts`): the chat's fact guard holds their replies
to them; personas without facts behave as before."""

from __future__ import annotations

from tests.support.studio import build, user_with_token

FACTS = {"age_band": "25 - 34", "occupation": "dental hygienist", "household": "Single", "homeowner": "no"}


async def test_declared_facts_are_stored_and_guard_the_chat(services, client, script):
    b_id, builder = await user_with_token(services, client, "factbuilder", "builder")
    pid = await build(client, builder, b_id, name="Maria", system_prompt="Maria, 29, a dental hygienist.", facts=FACTS)
    script.replies = ["I'm a nurse and I own my house.", "I'm a dental hygienist and I rent a small place."]
    r = await client.post(f"/studio/personas/{pid}/chat", headers=builder, json={"content": "What do you do?"})
    assert r.status_code == 200 and r.json()["response"] == "I'm a dental hygienist and I rent a small place."
    assert "occupation nurse" in script.calls[1][0].content  # the rewrite named the contradiction

    # new facts are a new version; an empty object removes them
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"facts": {"homeowner": "yes"}})
    assert r.status_code == 200, r.text
    script.replies = ["I own my house."]
    r = await client.post(f"/studio/personas/{pid}/chat", headers=builder, json={"content": "Own or rent?"})
    assert r.json()["response"] == "I own my house." and len(script.calls) == 3
    r = await client.put(f"/studio/personas/build/{pid}", headers=builder, json={"facts": {}})
    assert r.status_code == 200
    script.replies = ["I rent, and I'm a nurse."]
    r = await client.post(f"/studio/personas/{pid}/chat", headers=builder, json={"content": "Own or rent?"})
    assert r.json()["response"] == "I rent, and I'm a nurse." and len(script.calls) == 4
    # a rollback brings the first version's facts back, and says so
    r = await client.post(f"/studio/personas/{pid}/rollback/1", headers=builder)
    assert r.status_code == 200 and r.json()["persona"]["facts"] == FACTS, r.text


async def test_facts_must_be_an_object_of_plain_values(services, client, script):
    b_id, builder = await user_with_token(services, client, "factbuilder2", "builder")
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={"persona_name": "X", "creator_id": b_id, "facts": ["age 29"]},
    )
    assert r.status_code == 422 and "facts" in r.text
    r = await client.post(
        "/studio/personas/build",
        headers=builder,
        json={"persona_name": "X", "creator_id": b_id, "facts": {"age": {"nested": 1}}},
    )
    assert r.status_code == 422 and "facts" in r.text


async def test_declared_facts_travel_in_the_card_and_bad_ones_are_refused(services, client, script):
    import json

    from use_cases.portable.card import EXTENSION_KEY

    b_id, builder = await user_with_token(services, client, "factbuilder3", "builder")
    _, other = await user_with_token(services, client, "factbuilder4", "builder")
    pid = await build(client, builder, b_id, name="Maria", system_prompt="Maria, 29.", facts=FACTS)
    r = await client.get(f"/studio/personas/{pid}/export", headers=builder)
    card = r.json()
    assert card["data"]["extensions"][EXTENSION_KEY]["facts"] == FACTS

    imports = {**other, "content-type": "application/json"}
    r = await client.post("/studio/personas/import", headers=imports, content=json.dumps(card).encode())
    assert r.status_code == 201, r.text
    copy = r.json()["persona_id"]
    script.replies = ["I'm a nurse.", "I'm a dental hygienist."]
    r = await client.post(f"/studio/personas/{copy}/chat", headers=other, json={"content": "What do you do?"})
    assert r.json()["response"] == "I'm a dental hygienist."  # the imported facts guard the chat
    again = (await client.get(f"/studio/personas/{copy}/export", headers=other)).json()
    assert again["data"]["extensions"][EXTENSION_KEY]["facts"] == FACTS

    for bad in (["age 29"], {"age": {"nested": 1}}, {"age": 29.5}, {"": "x"}):
        card["data"]["extensions"][EXTENSION_KEY]["facts"] = bad
        r = await client.post("/studio/personas/import", headers=imports, content=json.dumps(card).encode())
        assert r.status_code == 400 and "facts" in r.json()["detail"], (bad, r.text)

    bundle = (await client.get(f"/studio/personas/{pid}/export", headers=builder, params={"format": "bundle"})).json()
    assert bundle["versions"][0]["attributes"]["facts"] == FACTS
    bundle["versions"][0]["attributes"]["facts"] = {"age": [29]}
    r = await client.post("/studio/personas/import", headers=imports, content=json.dumps(bundle).encode())
    assert r.status_code == 400 and "attributes.facts.age" in r.json()["detail"], r.text
