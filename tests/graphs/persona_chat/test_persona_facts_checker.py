"""The fact checker the chat guard and the evals share: the issue's own examples are caught,
ordinary replies and lookalikes (a dental assistant, grown children, a renter's hopes) are not."""

from __future__ import annotations

import pytest

from graphs.persona_chat.facts import breaks_character, check_reply_facts, fact_statements, persona_facts
from use_cases.twin.segments.demo import demo_segments

SEGMENTS = demo_segments()
HAZEL = persona_facts(SEGMENTS.personas[16].attributes)  # 26, single-person household, graduate degree, NY
GIANNA = persona_facts(SEGMENTS.personas[0].attributes)  # 23, Alabama, renter, no auto loan


def test_twin_facts_come_from_the_record():
    assert HAZEL["age"] == 26 and HAZEL["household"] == "Single" and HAZEL["children"] is False
    assert HAZEL["state"] == "new york" and HAZEL["education"] == "Graduate degree" and HAZEL["homeowner"] is False
    assert "you live alone: no spouse or partner and no children live with you" in fact_statements(HAZEL)


def test_hazel_with_a_husband_and_two_kids_is_caught():
    reply = (
        "I'm a 26-year-old female in New York City. I live with my husband, David, "
        "and two kids, Emily (18) and Ryan (19)."
    )
    check = check_reply_facts(reply, HAZEL)
    kinds = {c.kind for c in check.contradictions}
    assert kinds == {"household", "children"}, check.violations  # age, gender and place are right


@pytest.mark.parametrize(
    "reply, kind",
    [
        ("I'm 26, a 35-year-old woman from Queens.", "age"),
        ("I live in Chicago these days.", "place"),
        ("I own my home, a small condo.", "home"),
        ("My car payment is killing me.", "auto_loan"),
        ("I never went to college.", "education"),
        ("I'm married and we love to travel.", "household"),
        ("I make $250,000 a year.", "income"),
        ("My credit is excellent, a 790 credit score.", "credit"),
        ("I'm a proud dad of two.", "gender"),
        ("It's a small apartment that we own, and we have a dog named Max.", "household"),
        ("It's a small apartment that we own.", "home"),
        ("I'm married with two children: a boy and a girl.", "children"),
        ("I've got a credit score of 305, sadly.", "credit"),
    ],
)
def test_each_kind_of_contradiction(reply, kind):
    assert kind in {c.kind for c in check_reply_facts(reply, HAZEL).contradictions}


@pytest.mark.parametrize(
    "reply",
    [
        "I'm 26 and I rent a place in Brooklyn; grad school left me with loans, so I live alone and budget.",
        "My sister has two kids and my mom lives in Ohio.",
        "I'd love to own a home someday, but for now I rent.",
        "I don't have a car loan and I take the subway everywhere.",
        "As a woman in my twenties, I'm careful with money.",
    ],
)
def test_consistent_replies_pass(reply):
    check = check_reply_facts(reply, HAZEL)
    assert check.ok, check.problems()


def test_grown_children_are_no_contradiction_for_an_older_couple():
    facts = persona_facts({"age": 68, "gender": "Male", "household": "Couple", "state": "OH"})
    assert check_reply_facts("My kids are grown and my wife and I love our garden.", facts).ok
    assert not check_reply_facts("I live with my wife and our two kids.", facts).ok


@pytest.mark.parametrize(
    "reply",
    [
        "I'm a digital assistant. I help with everything from ordering food to managing finances",
        "I help people with budgeting and saving.",
        "As an AI, I don't have a home.",
        "How can I assist you today?",
        "I'm sorry for the confusion. My AI isn't programmed to do that.",
        "I don't have personal experiences with that.",
        "I'm here to help you with any questions.",
        "I'm sorry, but I don't have a profile. I'm not able to provide that information.",
    ],
)
def test_assistant_talk_breaks_character(reply):
    assert breaks_character(reply), reply


@pytest.mark.parametrize(
    "reply",
    [
        "I'm a dental assistant at a clinic downtown.",
        "I love my job as a computer programmer.",
        "I tried Afterpay once for a jacket and paid it off in six weeks.",
        "My friend works as an AI engineer.",
        "Sorry, but I can't afford that right now.",
    ],
)
def test_people_talk_stays_in_character(reply):
    assert not breaks_character(reply), breaks_character(reply)


def test_a_helping_job_or_an_assistant_persona_may_say_so():
    assert not breaks_character("I help people with budgeting every day.", "Dana, 44, a financial planner.")
    assert not breaks_character("I'm a virtual assistant.", "Max is a friendly AI assistant for a bank.")


def test_declared_studio_facts_are_used():
    facts = persona_facts({"rag": {}, "facts": {"age_band": "25 - 34", "occupation": "dental hygienist"}})
    assert check_reply_facts("I'm a dental hygienist in Austin.", facts).ok
    assert [c.kind for c in check_reply_facts("I'm a nurse at the hospital.", facts).contradictions] == ["occupation"]
    assert persona_facts({"rag": {}}) == {}
