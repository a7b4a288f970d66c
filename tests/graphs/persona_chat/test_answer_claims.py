"""A twin built from any table is held to its record's answers in chat: a first-person claim of
another answer of the same column is a contradiction; talk about others, denials and replies
that also give the record's answer are not."""

from __future__ import annotations

import pytest

from graphs.persona_chat.facts import check_reply_facts, fact_statements, persona_facts
from store.clusters import get_segment_persona
from tests.use_cases.twin.test_twin_record_tables import PARTIES, SCHEMA, columns_of, survey_rows
from use_cases.twin.record_table import check_table, parse_schema
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.table_build import build_table_segments

ANSWERS = {
    "party": {"label": "Which party do you feel closest to?", "value": "Democrat", "others": ["Republican"]},
    "vote": {"label": "Vote in 2012", "value": "Barack Obama", "others": ["Mitt Romney"]},
}


@pytest.mark.parametrize(
    "reply",
    [
        "I'm a Republican and proud of it.",
        "Honestly, I am a lifelong Republican.",
        "I voted for Mitt Romney last time.",
        "As a Republican, I care about taxes.",
    ],
)
def test_a_claim_of_another_answer_contradicts_the_record(reply):
    check = check_reply_facts(reply, {"answers": ANSWERS})
    assert [c.kind for c in check.contradictions] == ["record"], check.contradictions
    assert "your record answers" in check.contradictions[0].text


@pytest.mark.parametrize(
    "reply",
    [
        "My brother is a Republican.",
        "I'm not a Republican.",
        "I'm a Democrat, never a Republican.",
        "I voted for Barack Obama.",
        "Republicans and Democrats both make promises.",
    ],
)
def test_what_claims_nothing_against_the_record_passes(reply):
    assert check_reply_facts(reply, {"answers": ANSWERS}).consistent


def test_a_table_twin_carries_its_gender_age_and_answers_as_facts():
    rows = survey_rows(120)
    segments = build_table_segments(check_table(columns_of(rows), parse_schema(SCHEMA)), 2)
    by_id = {r["respondent"]: r for r in rows}
    for persona in segments.personas:
        facts = persona_facts(persona.attributes)
        record = by_id[persona.attributes["record_id"]]
        assert facts["gender"] == persona.gender.lower() and facts["age_band"] == persona.age_band
        party = facts["answers"]["party"]
        assert party["value"] == record["party"] and set(party["others"]) == set(PARTIES) - {record["party"]}
        other = party["others"][0]
        assert not check_reply_facts(f"I'm a proud {other}.", facts).consistent
        assert check_reply_facts(f"I'm a proud {record['party']}.", facts).consistent
        assert f"Which party do you feel closest to?: {record['party']}" in fact_statements(facts)


async def test_a_twin_that_claims_another_answer_is_asked_again_with_its_record(services, client, script):
    rows = survey_rows(120)
    segments = build_table_segments(check_table(columns_of(rows), parse_schema(SCHEMA)), 2)
    await replace_segments(services.pool, segments, services.embeddings)
    persona_id = (await client.get("/twin/cluster/0/personas")).json()[0]["persona_id"]
    record = (await get_segment_persona(services.pool, persona_id) or {})["attributes"]
    other = next(p for p in PARTIES if p != record["party"])
    script.replies = [f"I'm a {other}, through and through.", f"I'm a {record['party']}, through and through."]

    r = await client.post(f"/twin/persona/{persona_id}/chat", json={"message": "Which party are you?"})
    assert r.status_code == 200, r.text
    assert r.json()["reply"] == f"I'm a {record['party']}, through and through."
    rewrite_note = " ".join(str(m.content) for m in script.calls[-1])
    assert f"you said '{other}'" in rewrite_note and record["party"] in rewrite_note
