"""Cost of a segment survey: personas answered per second for one 15-persona cluster through
the segment_survey graph, against the same number of bare constrained model calls (one
chat completion per persona whose output a grammar limits to the options; on a provider without
grammars, one answer letter) with the same prompts, measured in one run, interleaved round by round.

Also shown: the same answers through `ask_closed_question` without the graph (option
likelihood on the local model: one call per option), which separates the cost of scoring every
option from the cost of the graph.

    python -m bench.survey [--model local:smollm2] [--rounds 1] [--cluster "Super-Prime Wealthy Boomers"]

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

from graphs.segment_survey.closed_answer import _grammar_literal, ask_closed_question, shuffled_order
from graphs.segment_survey.context import SurveyContext
from graphs.segment_survey.graph import graph as segment_survey
from prompts import render_prompt
from runtime.models import make_chat_model, parse_model_name, register_chat_provider
from runtime.services import Services
from runtime.settings import Settings
from services.twin.segment_import import replace_segments
from services.twin.segments.demo import demo_segments
from services.twin.segments.model import SegmentSet
from store.clusters import cluster_personas
from store.personas import get_chat_profile

QUESTION = "Do you own or rent your home?"
OPTIONS = ["Own", "Rent"]
SEED = 0


def instant_model(model: str, **_: object) -> GenericFakeChatModel:
    """Answers "A" at once, with OpenAI-style top log-probabilities for A and B."""
    tops = [{"token": "A", "logprob": math.log(0.7)}, {"token": "B", "logprob": math.log(0.3)}]
    reply = AIMessage(content="A", response_metadata={"logprobs": {"content": [{**tops[0], "top_logprobs": tops}]}})
    return GenericFakeChatModel(messages=cycle([reply]))


async def run(model_name: str, rounds: int, cluster_name: str) -> None:
    register_chat_provider("instant", instant_model)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=None, data_dir=Path(tmp), chat_model=model_name)
        services = Services.create(settings)
        await services.start(with_model=True, with_embeddings=True)
        try:
            demo = demo_segments()
            cluster = next(c for c in demo.clusters if c.name == cluster_name)
            one = SegmentSet(clusters=[cluster], personas=demo.personas_of(cluster.key))
            await replace_segments(services.pool, one, services.require_embeddings())
            people = await cluster_personas(services.pool, cluster.key)
            prompts = []
            for person in people:
                profile = await get_chat_profile(services.pool, person["persona_id"])
                prompts.append((person["persona_id"], profile["system_prompt"] if profile else ""))
            n = len(prompts)
            local = parse_model_name(model_name).provider == "local"
            model = make_chat_model(model_name, temperature=0.0, max_tokens=8, settings=settings)
            grammar = "root ::= " + " | ".join(_grammar_literal(o) for o in OPTIONS)

            async def bare() -> None:
                for persona_id, system in prompts:
                    order = shuffled_order(len(OPTIONS), SEED, persona_id, 0)
                    text = render_prompt(
                        "survey_question_options", question=QUESTION, option_list=", ".join(OPTIONS[i] for i in order)
                    )
                    bound = (
                        model.bind(extra_body={"grammar": grammar, "max_tokens": 8})
                        if local
                        else model.bind(max_tokens=1)
                    )
                    await bound.ainvoke([SystemMessage(system), HumanMessage(text)])

            async def direct() -> None:
                for persona_id, system in prompts:
                    order = shuffled_order(len(OPTIONS), SEED, persona_id, 0)
                    await ask_closed_question(
                        model_name, system, QUESTION, OPTIONS, seed=SEED, order=order, settings=settings
                    )

            async def survey() -> None:
                out = await segment_survey.ainvoke(
                    {"question": QUESTION, "options": OPTIONS, "cluster_ids": [cluster.key], "seed": SEED},
                    context=SurveyContext(model=model_name),
                )
                assert out["clusters"][0]["n_answers"] == n

            runs: dict[str, Callable[[], Awaitable[None]]] = {
                "bare constrained calls": bare,
                "ask_closed_question": direct,
                "segment_survey graph": survey,
            }
            await bare()  # warm the model server and the prompt cache once
            seconds: dict[str, list[float]] = {name: [] for name in runs}
            for _ in range(rounds):  # interleaved: every side sees the same machine noise
                for name, fn in runs.items():
                    start = time.perf_counter()
                    await fn()
                    seconds[name].append(time.perf_counter() - start)
        finally:
            await services.stop()
    print(f"model {model_name}, cluster {cluster_name!r}: {n} personas, {len(OPTIONS)} options, {rounds} round(s)")
    print(f"{'':26}{'median s':>10}{'personas/s':>12}")
    rate = {}
    for name, samples in seconds.items():
        median = statistics.median(samples)
        rate[name] = n / median
        print(f"{name:26}{median:10.2f}{rate[name]:12.2f}")
    overhead = (
        statistics.median(seconds["segment_survey graph"]) - statistics.median(seconds["bare constrained calls"])
    ) / n
    print(f"the survey takes {overhead * 1000:.1f} ms more per persona than a bare call")
    bare_rate = rate["bare constrained calls"]
    print(
        f"survey / bare calls: {rate['segment_survey graph'] / bare_rate:.2f}x the rate "
        f"(ask_closed_question alone: {rate['ask_closed_question'] / bare_rate:.2f}x; "
        f"graph over ask_closed_question: {rate['segment_survey graph'] / rate['ask_closed_question']:.2f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="local:smollm2", help="provider:model (default local:smollm2)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds; the median is reported")
    parser.add_argument("--cluster", default="Super-Prime Wealthy Boomers", help="a demo cluster of 15 personas")
    args = parser.parse_args()
    asyncio.run(run(args.model, max(1, args.rounds), args.cluster))


if __name__ == "__main__":
    main()
