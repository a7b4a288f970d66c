"""Cost of a segment survey on a model: personas answered per second through the segment_survey
graph, against the limit and against the survey as it was, measured in one run, interleaved round
by round.

- limit: one scoring pass per persona on its survey prompt (one POST to the local server's
  option-scoring route, no graph, no database; one letter per persona on another model);
- the graph, with the method `auto` picks (each twin's survey prompt: its group's text first,
  which the model server keeps in its prefix cache from one twin of a cluster to the next);
- before: the survey as it was, called directly: each twin's whole chat prompt, one
  grammar-constrained chat completion per option (`option_likelihood_calls` on the local model).

Also printed: the model server's prompt evaluation in tokens/s, the prompt tokens it evaluated
per persona (the rest came from its cache) and the two prompts' lengths.

    python -m bench.survey [--model local:smollm2] [--rounds 1] [--clusters 1] [--options 2] [--no-old]

`--clusters N` surveys the first N demo clusters (15 personas each; the first is "Super-Prime
Wealthy Boomers" unless `--cluster` names another). `--options 4` asks a four-option question.
`--model instant:letters` answers instantly (a fake model reporting letter log-probabilities), so
the run measures what the graph, the database and the answer parsing add per persona.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from itertools import cycle
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from graphs.segment_survey.closed_answer import Method, ask_closed_question, resolve_method, shuffled_order
from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.graph import graph as segment_survey
from graphs.segment_survey.survey_prompt import prompt_writer
from prompts import render_prompt
from runtime.local_llm import local_option_scores
from runtime.models import local_base_url, make_chat_model, parse_model_name, register_chat_provider
from runtime.services import Services
from runtime.settings import Settings
from store.clusters import cluster_personas, get_cluster
from store.personas import get_chat_profile
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.demo import demo_segments
from use_cases.twin.segments.model import SegmentSet

QUESTIONS = {
    2: ("Do you own or rent your home?", ["Own", "Rent"]),
    4: ("How would you rate the economy right now?", ["Very good", "Somewhat good", "Somewhat bad", "Very bad"]),
}
SEED = 0
LIMIT = "limit: one pass per persona"
BEFORE = "before: chat prompt, call per option"
FIRST_CLUSTER = "Super-Prime Wealthy Boomers"


def instant_model(model: str, **_: object) -> GenericFakeChatModel:
    """Answers "A" at once, with OpenAI-style top log-probabilities for A and B."""
    tops = [{"token": "A", "logprob": math.log(0.7)}, {"token": "B", "logprob": math.log(0.3)}]
    reply = AIMessage(content="A", response_metadata={"logprobs": {"content": [{**tops[0], "top_logprobs": tops}]}})
    return GenericFakeChatModel(messages=cycle([reply]))


def _shown(question: str, options: list[str], persona_id: int) -> str:
    order = shuffled_order(len(options), SEED, persona_id, 0)
    return render_prompt("survey_question_options", question=question, option_list=", ".join(options[i] for i in order))


async def run(model_name: str, rounds: int, first: str, n_clusters: int, n_options: int, with_old: bool) -> None:
    register_chat_provider("instant", instant_model)
    question, options = QUESTIONS[n_options]
    local = parse_model_name(model_name).provider == "local"
    new_method: Method = resolve_method(model_name)
    old_method: Method = "option_likelihood_calls" if local else new_method
    prompt_rates: list[float] = []
    evaluated: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=None, data_dir=Path(tmp), chat_model=model_name)
        services = Services.create(settings)
        await services.start(with_model=True, with_embeddings=True)
        try:
            demo = demo_segments()
            ordered = sorted(demo.clusters, key=lambda c: c.name != first)  # the named cluster first
            chosen = ordered[:n_clusters]
            keys = [c.key for c in chosen]
            subset = SegmentSet(clusters=chosen, personas=[p for k in keys for p in demo.personas_of(k)])
            await replace_segments(services.pool, subset, services.require_embeddings())
            chat_prompts, prompts = await _prompts(services, keys, question)
            n = len(prompts)
            model = make_chat_model(model_name, temperature=0.0, max_tokens=8, settings=settings)

            async def limit() -> None:
                """One scoring pass per persona's survey prompt (local); one letter elsewhere."""
                base_url = local_base_url()
                for persona_id, system in prompts:
                    text = _shown(question, options, persona_id)
                    if local and base_url is not None:
                        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
                        reply = await local_option_scores(base_url, messages, options)
                        evaluated.append(reply.evaluated_tokens)
                        if reply.evaluated_tokens > 1 and reply.prompt_seconds > 0:
                            prompt_rates.append(reply.evaluated_tokens / reply.prompt_seconds)
                    else:
                        await model.bind(max_tokens=1).ainvoke([SystemMessage(system), HumanMessage(text)])

            async def before() -> None:
                """The survey as it was: the twin's whole chat prompt, one constrained call per option."""
                for persona_id, system in chat_prompts:
                    order = shuffled_order(len(options), SEED, persona_id, 0)
                    await ask_closed_question(
                        model_name,
                        system,
                        question,
                        options,
                        seed=SEED,
                        order=order,
                        method=old_method,
                        settings=settings,
                    )

            def survey(method: Method) -> Callable[[], Awaitable[None]]:
                async def one_survey() -> None:
                    out = await segment_survey.ainvoke(
                        {"question": question, "options": options, "cluster_ids": keys, "seed": SEED},
                        context=SurveyContext(model=model_name, method=method),
                    )
                    assert sum(c["n_answers"] for c in out["clusters"]) == n

                return one_survey

            runs: dict[str, Callable[[], Awaitable[None]]] = {LIMIT: limit}
            runs[f"graph, {new_method}"] = survey(new_method)
            if with_old:
                runs[BEFORE] = before
            persona_id, system = prompts[0]  # warm the model server with one call
            await model.ainvoke([SystemMessage(system), HumanMessage(_shown(question, options, persona_id))])
            seconds: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(rounds):  # interleaved: every side sees the same machine noise
                for name, fn in runs.items():
                    start = time.perf_counter()
                    await fn()
                    seconds[name].append(time.perf_counter() - start)
        finally:
            await services.stop()
    print(
        f"model {model_name}: {n} personas in {len(keys)} cluster(s), {len(options)} options, "
        f"{rounds} round(s); question {question!r}"
    )
    _report(seconds, n, prompt_rates, f"graph, {new_method}")
    if evaluated:
        print(
            f"prompt tokens evaluated per persona (the rest reused from the cache): median {statistics.median(evaluated):.0f}"
        )
    chat = statistics.median(len(p) for _, p in chat_prompts)
    survey_chars = statistics.median(len(p) for _, p in prompts)
    print(f"system prompt, median characters: chat {chat:.0f}, survey {survey_chars:.0f}")


async def _prompts(
    services: Services, keys: list[int], question: str
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(persona id, prompt) of every persona of the clusters, in order: the chat's system prompts
    and the survey's (as the graph writes them for `question`)."""
    write = await prompt_writer(None, question, None)  # demo twins: no record schema
    chat, survey = [], []
    for key in keys:
        cluster = await get_cluster(services.pool, key)
        assert cluster is not None
        for person in await cluster_personas(services.pool, key):
            profile = await get_chat_profile(services.pool, person["persona_id"])
            assert profile is not None
            chat.append((person["persona_id"], profile["system_prompt"]))
            survey.append((person["persona_id"], write(cluster, person, profile["attributes"] or {})))
    return chat, survey


def _report(seconds: dict[str, list[float]], n: int, prompt_rates: list[float], graph_run: str) -> None:
    print(f"{'':38}{'median s':>10}{'personas/s':>12}{'x limit':>9}")
    rate = {name: n / statistics.median(samples) for name, samples in seconds.items()}
    top = rate[LIMIT]
    for name, samples in seconds.items():
        print(f"{name:38}{statistics.median(samples):10.2f}{rate[name]:12.2f}{rate[name] / top:9.2f}")
    if prompt_rates:
        print(
            f"prompt evaluation on the model server: {statistics.median(prompt_rates):.0f} tokens/s "
            f"(median of {len(prompt_rates)} persona prompts)"
        )
    if BEFORE in rate:
        print(f"{graph_run} / before: {rate[graph_run] / rate[BEFORE]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--model", default="local:smollm2", help="provider:model (default local:smollm2)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median is reported")
    parser.add_argument("--cluster", default=FIRST_CLUSTER, help="the first demo cluster surveyed")
    parser.add_argument("--clusters", type=int, default=1, help="how many demo clusters (15 personas each)")
    parser.add_argument("--options", type=int, choices=sorted(QUESTIONS), default=2, help="options in the question")
    parser.add_argument(
        "--no-old", action="store_true", help="skip the survey as it was (chat prompt, call per option)"
    )
    args = parser.parse_args()
    asyncio.run(
        run(args.model, max(1, args.rounds), args.cluster, max(1, args.clusters), args.options, not args.no_old)
    )


if __name__ == "__main__":
    main()
