"""A persona of any kind keeps its own name: asked who it is, it says its name; it never gives
itself another one or denies having one. A draft that does is written again with the name in
the note, and one that still gets it wrong is repaired."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.graph import build_persona_chat
from graphs.persona_chat.identity import claimed_names, is_identity_question, name_problems, repair_name

CTX = ChatContext(model="fake:scripted")
AQUA = {
    "name": "Aqua",
    "kind": "studio",
    "system_prompt": "Aqua is a cheerful, vain water goddess who once ruled over the ocean goddess Aurora's court.",
}


def _turn(text: str) -> dict:
    return {"persona": AQUA, "messages": [HumanMessage(text)]}


@pytest.mark.parametrize(
    "question",
    ["Hello! Who are you?", "What's your name?", "Tell me about yourself.", "what should I call you", "Your name?"],
)
def test_identity_questions_are_recognised(question):
    assert is_identity_question(question)


@pytest.mark.parametrize("message", ["How old are you?", "Who are your friends?", "Tell me about the ocean."])
def test_other_questions_are_not_identity_questions(message):
    assert not is_identity_question(message)


@pytest.mark.parametrize(
    ("reply", "asked", "problem"),
    [
        ("I am Aurora, a beautiful goddess of the ocean.", True, "called yourself Aurora"),
        ("Hi! My name is Luna and I love fish.", False, "called yourself Luna"),
        ("I'm a person with no name and I do not exist.", True, "have no name"),
        ("I'm a human who loves to chat.", True, "did not say your name"),
    ],
)
def test_a_wrong_denied_or_missing_name_is_a_problem(reply, asked, problem):
    problems = name_problems(reply, "Aqua", asked)
    assert len(problems) == 1 and problem in problems[0]


@pytest.mark.parametrize(
    "reply",
    [
        "I'm Aqua, goddess of water!",
        "Aqua here. I'm Happy to meet you.",
        "I'm Glad you asked. Everyone calls me Aqua.",
        "My friend Aurora calls me Aqua.",
    ],
)
def test_a_reply_that_keeps_the_name_has_no_problem(reply):
    assert name_problems(reply, "Aqua", True) == []
    assert claimed_names(reply, "Aqua") == []


def test_repair_replaces_the_wrong_name_or_says_the_name_first():
    assert repair_name("I am Aurora, a goddess.", "Aqua", True) == "I am Aqua, a goddess."
    assert repair_name("I love the sea.", "Aqua", True) == "I'm Aqua. I love the sea."
    assert repair_name("I love the sea.", "Aqua", False) == "I love the sea."


async def test_a_wrong_name_is_written_again_with_the_name_in_the_note(script):
    script.replies = ["I am Aurora, a goddess of the ocean.", "I'm Aqua, the goddess of water!"]
    state = await build_persona_chat().ainvoke(_turn("Hello! Who are you?"), context=CTX)
    assert state["reply"] == "I'm Aqua, the goddess of water!"
    note = str(script.calls[1][0].content)
    assert "you called yourself Aurora, but your name is Aqua" in note and "your name is Aqua" in note
    assert state["fact_check"]["action"] == "regenerated"


async def test_a_name_the_rewrites_still_miss_is_repaired(script):
    script.replies = ["I'm a human who loves to chat."] * 3
    state = await build_persona_chat().ainvoke(_turn("What's your name?"), context=CTX)
    assert state["reply"] == "I'm Aqua. I'm a human who loves to chat."
    assert len(script.calls) == 3  # the draft and two rewrites
    record = state["fact_check"]
    assert record["action"] == "repaired" and not record["flagged"] and record["first_kinds"] == ["name"]


async def test_a_question_that_is_not_about_identity_needs_no_name(script):
    script.replies = ["The sea is lovely today."]
    state = await build_persona_chat().ainvoke(_turn("How is the sea?"), context=CTX)
    assert state["reply"] == "The sea is lovely today." and len(script.calls) == 1
