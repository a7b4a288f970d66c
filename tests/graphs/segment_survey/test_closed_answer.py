"""A persona answers a closed question with exactly one option and a probability per option:
on the real local model (option likelihood under a grammar), on an OpenAI-compatible stub
server through the real client (letter log-probabilities), and on the scripted fake model."""

from __future__ import annotations

import json
import math

import pytest
from langchain_core.messages import AIMessage
from pydantic import SecretStr

from graphs.segment_survey.closed_answer import ask_closed_question, draw_answer, shuffled_order
from runtime.settings import Settings
from tests.support.stub_server import LoopbackServer, StubHandler

HAZEL = (
    "You are Hazel, a 26-year-old woman in New York. You live alone in a rented flat "
    "and have a graduate degree. Speak as yourself."
)


async def test_local_model_answers_one_option_with_probabilities(local_llm):
    options = ["Own", "Rent", "Live with family"]
    first = await ask_closed_question("local:smollm2", HAZEL, "Do you own or rent your home?", options)
    assert first.method == "option_likelihood"
    assert first.answer in options
    assert list(first.probabilities) == options
    assert math.isclose(sum(first.probabilities.values()), 1.0, rel_tol=1e-9)
    assert first.answer == max(options, key=lambda o: first.probabilities[o])
    again = await ask_closed_question("local:smollm2", HAZEL, "Do you own or rent your home?", options)
    assert again == first  # same prompt, same answer and probabilities
    flipped = await ask_closed_question(
        "local:smollm2", HAZEL, "Do you own or rent your home?", options, order=[2, 0, 1]
    )
    assert flipped.order == (2, 0, 1) and list(flipped.probabilities) == options


class _OpenAIStub(LoopbackServer):
    """/v1/chat/completions answering one letter, with or without top log-probabilities."""

    def __init__(self, top: dict[str, float] | None, written: str) -> None:
        self.requests: list[dict] = []
        stub = self

        class Handler(StubHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.requests.append(body)
                choice: dict = {
                    "index": 0,
                    "message": {"role": "assistant", "content": written},
                    "finish_reason": "length",
                }
                if top is not None:
                    tops = [{"token": t, "logprob": math.log(p), "bytes": None} for t, p in top.items()]
                    choice["logprobs"] = {"content": [{**tops[0], "top_logprobs": tops}]}
                reply = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 0,
                    "model": body["model"],
                    "choices": [choice],
                    "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11},
                }
                self.send_json(200, json.dumps(reply).encode())

        super().__init__(Handler)
        self.url += "/v1"


def _openai_settings(url: str) -> Settings:
    return Settings(_env_file=None, openai_api_key=SecretStr("sk-test"), openai_base_url=url)


async def test_openai_compatible_model_answers_by_letter_logprobs():
    # order [2, 0, 1] shows "Live with family" as A, "Own" as B, "Rent" as C
    stub = _OpenAIStub({"C": 0.5, " B": 0.2, "I": 0.2, "A": 0.1}, "C")
    try:
        options = ["Own", "Rent", "Live with family"]
        got = await ask_closed_question(
            "openai:gpt-4.1",
            HAZEL,
            "Do you own or rent your home?",
            options,
            order=[2, 0, 1],
            seed=7,
            settings=_openai_settings(stub.url),
        )
    finally:
        stub.close()
    assert got.method == "label_logprobs" and got.answer == "Rent"
    assert got.probabilities == pytest.approx({"Own": 0.25, "Rent": 0.625, "Live with family": 0.125})
    (request,) = stub.requests
    assert request["logprobs"] is True and request["top_logprobs"] == 20 and request["seed"] == 7
    assert request["max_completion_tokens"] == 1
    prompt = request["messages"][-1]["content"]
    assert "A. Live with family\nB. Own\nC. Rent" in prompt and "Do you own or rent your home?" in prompt
    assert request["messages"][0] == {"role": "system", "content": HAZEL}


async def test_a_provider_without_logprobs_still_answers_with_its_letter():
    stub = _OpenAIStub(None, "B.")
    try:
        got = await ask_closed_question(
            "openai:gpt-4.1", HAZEL, "Own or rent?", ["Own", "Rent"], settings=_openai_settings(stub.url)
        )
    finally:
        stub.close()
    assert (got.answer, got.method, got.probabilities) == ("Rent", "label_text", {"Own": 0.0, "Rent": 1.0})


async def test_an_unusable_reply_falls_back_to_uniform(script):
    script.replies = [AIMessage(content="I am not sure.")]
    got = await ask_closed_question("fake:scripted", "", "Own or rent?", ["Own", "Rent"])
    assert got.method == "uniform" and got.probabilities == {"Own": 0.5, "Rent": 0.5} and got.answer == "Own"


@pytest.mark.parametrize("options", [["Own"], ["Own", "Own"], [str(i) for i in range(11)]])
async def test_bad_options_are_refused(options, script):
    with pytest.raises(ValueError, match="2 to 10 distinct options"):
        await ask_closed_question("fake:scripted", "", "Q?", options)
    assert script.calls == []


def test_orders_and_draws_are_stable_for_their_keys():
    assert shuffled_order(5, 1, 2, 3) == shuffled_order(5, 1, 2, 3)
    assert sorted(shuffled_order(5, 1, 2, 3)) == [0, 1, 2, 3, 4]
    assert len({tuple(shuffled_order(5, 1, p, 0)) for p in range(30)}) > 5
    from graphs.segment_survey.closed_answer import ClosedAnswer

    answer = ClosedAnswer("Own", {"Own": 0.7, "Rent": 0.3}, "option_likelihood", (0, 1))
    draws = [draw_answer(answer, 0, p) for p in range(400)]
    assert draws == [draw_answer(answer, 0, p) for p in range(400)]
    assert 0.6 < draws.count("Own") / 400 < 0.8
    certain = ClosedAnswer("Rent", {"Own": 0.0, "Rent": 1.0}, "label_text", (0, 1))
    assert {draw_answer(certain, 0, p) for p in range(50)} == {"Rent"}
