"""Overhead of one persona_chat turn (graph + Postgres checkpointing) against the same
instant fake model called directly, measured in one run.

    python -m bench.chat_overhead [--turns 300]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from itertools import cycle
from pathlib import Path

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.graph import build_persona_chat
from graphs.persona_chat.nodes import CHAT_DURABILITY
from graphs.persona_chat.state import PersonaChatInput
from runtime.models import register_chat_provider
from runtime.services import Services
from runtime.settings import Settings
from store.personas import create_persona

REPLY = "Sure, I live in Austin and I like tacos."


def instant_model(model: str, **_: object) -> GenericFakeChatModel:
    return GenericFakeChatModel(messages=cycle([REPLY]))


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(turns: int) -> None:
    register_chat_provider("instant", instant_model)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(_env_file=None, database_url=None, data_dir=Path(tmp), chat_model="instant:x")
        services = Services.create(settings)
        await services.start(with_model=False, with_embeddings=False)
        try:
            pid = await create_persona(services.pool, kind="studio", name="Mason", system_prompt="A tester.")
            graph = build_persona_chat(services.checkpointer)
            context = ChatContext(model="instant:x")
            model = instant_model("x")
            prompt = [SystemMessage("You are Mason."), HumanMessage("Where do you live?")]

            async def graph_turn(i: int) -> None:
                config: RunnableConfig = {"configurable": {"thread_id": f"bench-{i % 50}"}}
                turn: PersonaChatInput = {"persona_id": pid, "messages": [HumanMessage("Where do you live?")]}
                await graph.ainvoke(turn, config, context=context, durability=CHAT_DURABILITY)

            async def direct_turn(i: int) -> None:
                await model.ainvoke(prompt)

            for warm in range(20):  # warm caches, connections and the 50 threads' first checkpoints
                await graph_turn(warm)
                await direct_turn(warm)
            # Interleaved, so both sides see the same machine noise (this VM's varies by the minute).
            results: dict[str, list[float]] = {"direct model": [], "graph turn": []}
            for i in range(turns):
                for name, fn in (("direct model", direct_turn), ("graph turn", graph_turn)):
                    start = time.perf_counter()
                    await fn(i)
                    results[name].append((time.perf_counter() - start) * 1000)
        finally:
            await services.stop()
    print(f"{'':14}{'p50 ms':>10}{'p99 ms':>10}")
    for name, samples in results.items():
        print(f"{name:14}{percentile(samples, 0.5):10.2f}{percentile(samples, 0.99):10.2f}")
    base, graph_ = results["direct model"], results["graph turn"]
    added = statistics.median(graph_) - statistics.median(base)
    print(
        f"ratio graph/direct p50: {percentile(graph_, 0.5) / percentile(base, 0.5):.1f}x; "
        f"added overhead p50: {added:.2f} ms per turn (target < 10 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=300)
    asyncio.run(run(parser.parse_args().turns))


if __name__ == "__main__":
    main()
