"""The local model server scores every option of a closed question from one evaluation of the
persona's prompt, and gets what one grammar-constrained chat completion per option gets."""

from __future__ import annotations

import json
import math

import httpx
import pytest

from graphs.segment_survey.closed_answer import _grammar_literal, ask_closed_question
from prompts import render_prompt
from runtime.errors import UpstreamError
from runtime.local_llm import local_option_scores
from runtime.models import local_base_url, set_local_base_url
from tests.support.stub_server import LoopbackServer, StubHandler

HAZEL = (
    "You are Hazel, a 26-year-old woman in New York. You live alone in a rented flat "
    "and have a graduate degree. Speak as yourself."
)
WALTER = (
    "You are Walter, a 71-year-old retired engineer in Ohio. You own your house outright, "
    "vote in every election and distrust big government. Speak as yourself."
)
QUESTIONS = [
    ("Do you own or rent your home?", ["Own", "Rent", "Live with family"]),
    ("How would you rate the economy?", ["Very good", "Somewhat good", "Somewhat bad", "Very bad"]),
]


def _messages(system: str, question: str, options: list[str]) -> list[dict[str, str]]:
    text = render_prompt("survey_question_options", question=question, option_list=", ".join(options))
    return [{"role": "system", "content": system}, {"role": "user", "content": text}]


def _one_call_per_option(base_url: str, messages: list[dict[str, str]], options: list[str]) -> list[float]:
    """Each option's summed token log-probability from a chat completion its grammar forces."""
    scores = []
    for option in options:
        body = {
            "model": "smollm2",
            "messages": messages,
            "temperature": 0.0,
            "seed": 0,
            "grammar": "root ::= " + _grammar_literal(option),
            "max_tokens": 48,
            "logprobs": True,
            "top_logprobs": 1,
        }
        reply = httpx.post(f"{base_url}/chat/completions", json=body, timeout=600).json()
        content = reply["choices"][0]["logprobs"]["content"]
        assert "".join(t["token"] for t in content) == option
        scores.append(sum(t["logprob"] for t in content))
    return scores


@pytest.mark.parametrize(("system", "question", "options"), [(s, q, o) for s in (HAZEL, WALTER) for q, o in QUESTIONS])
async def test_one_pass_scores_each_option_as_its_own_constrained_call_does(local_llm, system, question, options):
    messages = _messages(system, question, options)
    # with the prompt in the server's cache, every call (and the one pass) re-reads only its last token
    await local_option_scores(local_llm.base_url, messages, options)
    separate = _one_call_per_option(local_llm.base_url, messages, options)
    one_pass = await local_option_scores(local_llm.base_url, messages, options)
    assert one_pass.prompt_tokens > 50 and one_pass.evaluated_tokens == 1
    for ours, theirs in zip(one_pass.logprobs, separate, strict=True):
        assert math.isclose(ours, theirs, abs_tol=1e-4), (one_pass.logprobs, separate)
    assert any(len(tokens) > 1 for tokens in one_pass.tokens)  # multi-token options are scored token by token


async def test_one_pass_from_a_fresh_prompt_agrees_with_separate_calls(local_llm):
    """Evaluated from scratch, the prompt's last token is read in a long batch rather than alone as
    the calls re-read it; the quantized model's batched arithmetic rounds differently, by a few
    hundredths of a nat. A wrong token or a missing one would be off by whole nats."""
    question, options = QUESTIONS[1]
    messages = _messages(WALTER, question, options)
    await local_option_scores(local_llm.base_url, _messages(HAZEL, question, options), options)  # another prompt
    one_pass = await local_option_scores(local_llm.base_url, messages, options)
    assert one_pass.evaluated_tokens > 50  # this time the prompt was evaluated, not reused
    separate = _one_call_per_option(local_llm.base_url, messages, options)
    for ours, theirs in zip(one_pass.logprobs, separate, strict=True):
        assert math.isclose(ours, theirs, rel_tol=0.03, abs_tol=0.15), (one_pass.logprobs, separate)


async def test_survey_answers_are_the_same_by_either_method(local_llm):
    for system in (HAZEL, WALTER):
        for question, options in QUESTIONS:
            order = list(reversed(range(len(options))))
            one_pass = await ask_closed_question("local:smollm2", system, question, options, order=order)
            calls = await ask_closed_question(
                "local:smollm2", system, question, options, order=order, method="option_likelihood_calls"
            )
            assert one_pass.method == calls.method == "option_likelihood"
            assert one_pass.answer == calls.answer and one_pass.order == calls.order
            for option in options:
                assert math.isclose(one_pass.probabilities[option], calls.probabilities[option], abs_tol=0.03)


async def test_letters_from_one_pass_are_the_letters_top_log_probabilities(local_llm):
    """label_logprobs on the local server scores each shown letter from one pass; a chat
    completion's top log-probabilities of its first token give the same split (they also count
    the rare variants of a letter, " A" or "a", hence the tolerance)."""
    from runtime.models import make_chat_model
    from runtime.settings import get_settings

    chat_model = make_chat_model("local:smollm2", temperature=0.0, max_tokens=1, settings=get_settings())
    for system in (HAZEL, WALTER):
        for question, options in QUESTIONS:
            order = list(reversed(range(len(options))))
            one_pass = await ask_closed_question(
                "local:smollm2", system, question, options, order=order, method="label_logprobs"
            )
            # a built chat model has no scoring route: the letters' top log-probabilities
            tops = await ask_closed_question(
                chat_model, system, question, options, order=order, method="label_logprobs"
            )
            assert one_pass.method == tops.method == "label_logprobs"
            for option in options:
                assert math.isclose(one_pass.probabilities[option], tops.probabilities[option], abs_tol=0.05), (
                    one_pass.probabilities,
                    tops.probabilities,
                )


async def test_bad_option_lists_are_refused_with_the_servers_reason(local_llm):
    with pytest.raises(UpstreamError, match="400"):
        await local_option_scores(local_llm.base_url, _messages(HAZEL, "Own or rent?", ["Own", ""]), ["Own", ""])
    long_prompt = _messages(HAZEL + " I like long walks." * 600, "Own or rent?", ["Own", "Rent"])
    with pytest.raises(UpstreamError, match="400"):
        await local_option_scores(local_llm.base_url, long_prompt, ["Own", "Rent"])


class _ServerWithoutScoring(LoopbackServer):
    """An OpenAI-compatible llama.cpp-like server without the option-scoring route: it writes
    the option its grammar names, with a log-probability per option."""

    def __init__(self, logprobs: dict[str, float]) -> None:
        self.paths: list[str] = []
        stub = self

        class Handler(StubHandler):
            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.paths.append(self.path)
                if not self.path.endswith("/chat/completions"):
                    self.send_json(404, b'{"detail": "Not Found"}')
                    return
                option = json.loads(body["grammar"].removeprefix("root ::= "))
                token = {"token": option, "logprob": logprobs[option], "bytes": None, "top_logprobs": []}
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": option},
                    "finish_reason": "stop",
                    "logprobs": {"content": [token]},
                }
                reply = {"id": "c", "object": "chat.completion", "created": 0, "model": "smollm2", "choices": [choice]}
                self.send_json(200, json.dumps(reply).encode())

        super().__init__(Handler)


async def test_a_model_server_without_the_scoring_route_is_asked_once_per_option():
    stub = _ServerWithoutScoring({"Own": math.log(0.2), "Rent": math.log(0.6)})
    before = local_base_url()
    set_local_base_url(stub.url + "/v1")
    try:
        got = await ask_closed_question("local:smollm2", HAZEL, "Do you own or rent your home?", ["Own", "Rent"])
    finally:
        set_local_base_url(before)
        stub.close()
    assert stub.paths == ["/extras/option_scores", "/v1/chat/completions", "/v1/chat/completions"]
    assert got.method == "option_likelihood" and got.answer == "Rent"
    assert math.isclose(got.probabilities["Rent"], 0.75, abs_tol=1e-9)
