"""One chat-model object per configuration: reused while the configuration holds, rebuilt when
any setting it was built from changes, and safe to share between concurrent calls."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from pydantic import SecretStr

from bench.stub_openai import StubOpenAI
from graphs.persona_chat.nodes import HISTORY_TOKEN_BUDGET, recent_history
from runtime.models import make_chat_model
from runtime.settings import Settings


@pytest.fixture(scope="module")
def stub():
    server = StubOpenAI().start()
    yield server
    server.stop()


def test_a_configuration_gets_one_model_object(stub):
    settings = Settings(_env_file=None, openai_api_key=SecretStr("k"), openai_base_url=stub.url)
    first = make_chat_model("openai:gpt-x", temperature=0.2, max_tokens=50, settings=settings)
    assert make_chat_model("openai:gpt-x", temperature=0.2, max_tokens=50, settings=settings) is first
    # the same values from another settings object are the same configuration
    again = Settings(_env_file=None, openai_api_key=SecretStr("k"), openai_base_url=stub.url)
    assert make_chat_model("openai:gpt-x", temperature=0.2, max_tokens=50, settings=again) is first

    assert make_chat_model("openai:gpt-x", temperature=0.7, max_tokens=50, settings=settings) is not first
    assert make_chat_model("openai:gpt-x", temperature=0.2, max_tokens=60, settings=settings) is not first
    assert make_chat_model("openai:gpt-y", temperature=0.2, max_tokens=50, settings=settings) is not first


def test_a_changed_setting_builds_a_new_model(stub):
    settings = Settings(_env_file=None, openai_api_key=SecretStr("k"), openai_base_url=stub.url)
    first = make_chat_model("openai:gpt-x", temperature=0.0, settings=settings)
    settings.openai_base_url = stub.url + "/elsewhere"
    moved = make_chat_model("openai:gpt-x", temperature=0.0, settings=settings)
    assert moved is not first
    assert str(moved.openai_api_base) == stub.url + "/elsewhere"  # type: ignore[attr-defined]
    settings.openai_api_key = SecretStr("another")
    rekeyed = make_chat_model("openai:gpt-x", temperature=0.0, settings=settings)
    assert rekeyed is not moved
    assert rekeyed.openai_api_key.get_secret_value() == "another"  # type: ignore[attr-defined]
    settings.model_timeout = 5.0
    assert make_chat_model("openai:gpt-x", temperature=0.0, settings=settings).request_timeout == 5.0  # type: ignore[attr-defined]


async def test_one_model_object_serves_concurrent_streams(stub):
    stub.behaviour.tokens, stub.behaviour.delay = 20, 0.002
    settings = Settings(_env_file=None, openai_api_key=SecretStr("k"), openai_base_url=stub.url)
    model = make_chat_model("openai:gpt-x", temperature=0.0, max_tokens=100, settings=settings)

    async def reply(text: str) -> str:
        shared = make_chat_model("openai:gpt-x", temperature=0.0, max_tokens=100, settings=settings)
        assert shared is model
        return "".join([chunk.text async for chunk in shared.astream([HumanMessage(text)])])

    replies = await asyncio.gather(*(reply(f"question {i}") for i in range(8)))
    assert all(len(r.split()) == 20 for r in replies), replies


@pytest.mark.parametrize(
    "history",
    [
        [HumanMessage("hi")],
        [HumanMessage("hi"), AIMessage("hello"), HumanMessage("how are you?")],
        [AIMessage("I start"), HumanMessage("then me")],
        [HumanMessage("word " * 900), AIMessage("ok " * 900), HumanMessage("last")],
        [HumanMessage("word " * 2000)],
        [AIMessage("a " * 700), HumanMessage("b " * 300), AIMessage("c " * 300), HumanMessage("d")],
    ],
)
def test_recent_history_is_what_trimming_returns(history):
    expected = trim_messages(
        history,
        strategy="last",
        token_counter=count_tokens_approximately,
        max_tokens=HISTORY_TOKEN_BUDGET,
        start_on="human",
        include_system=False,
    )
    assert recent_history(history) == expected
