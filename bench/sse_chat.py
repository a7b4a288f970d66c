"""Ghostwriter SSE chat overhead: time to first `text_delta` and total stream time at 1 and 32
concurrent streams, against a bare SSE endpoint streaming the same chunks, in the same run,
same server (uvicorn on 127.0.0.1), same instant fake model text. Prints p50s and ratios. The bare
endpoints are the first routes the app tries, so the comparison leaves out no routing cost of theirs.

    python -m bench.sse_chat [--rounds 40] [--sync-model]

The instant model streams natively async, as real providers do; `--sync-model` measures with
LangChain's `GenericFakeChatModel`, which streams through a thread-pool hop per chunk.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from functools import lru_cache
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi.responses import StreamingResponse
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import BaseMessage, HumanMessage
from langchain_core.outputs import ChatGenerationChunk
from pydantic import SecretStr

from runtime import event_loop
from runtime.local_llm import free_port
from runtime.models import register_chat_provider
from runtime.services import Services
from runtime.settings import Settings
from server.app import create_app, freeze_startup_heap
from store.accounts import upsert_account
from store.ghostwriter import save_version

KEY = "bench-key"
REPLY = (
    "I think AI is a tool, not a replacement. The people who learn to use it well will write better, "
    "ship faster and still need taste, judgement and a reason to care about the work they put out."
)
CHUNKS = re.split(r"(\s)", REPLY)


class InstantChatModel(GenericFakeChatModel):
    """The instant fake model with a native async stream, as real providers have (ChatOpenAI,
    Vertex AI). Without one, LangChain streams a sync-only model through the thread pool, one hop
    per chunk (76 per reply here), a cost no real provider has, which swamped the pool at 32
    streams. Each chunk is a loop step of its own, as chunks read from a network stream are."""

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._stream(messages, stop=stop, **kwargs):
            if run_manager is not None:
                await run_manager.on_llm_new_token(str(chunk.message.content), chunk=chunk)
            yield chunk
            await asyncio.sleep(0)


SYNC_MODEL = False  # --sync-model: the sync-only fake model this benchmark used before


def instant_model(model: str, **_: object) -> GenericFakeChatModel:
    """One model object per kind, as the service's own providers keep one per configuration
    (`runtime.models`): the endless reply holds no per-call state."""
    return _instant_model(SYNC_MODEL)


@lru_cache(maxsize=2)
def _instant_model(sync: bool) -> GenericFakeChatModel:
    return (GenericFakeChatModel if sync else InstantChatModel)(messages=cycle([REPLY]))


async def bare_stream() -> AsyncIterator[str]:
    for chunk in CHUNKS:
        if chunk:
            yield f"data: {json.dumps({'type': 'text_delta', 'content': chunk})}\n\n"
    done = json.dumps({"response": {"response_text": REPLY, "references": []}, "model": "x"})
    yield f"data: {json.dumps({'type': 'completed', 'content': done, 'tool_calls': []})}\n\n"
    yield "data: [DONE]\n\n"


async def bare_model_stream() -> AsyncIterator[str]:
    """The same SSE lines, with the chunks produced by the same instant model called directly."""
    async for chunk in instant_model("x").astream([HumanMessage("What about AI?")]):
        if chunk.text:
            yield f"data: {json.dumps({'type': 'text_delta', 'content': chunk.text})}\n\n"
    done = json.dumps({"response": {"response_text": REPLY, "references": []}, "model": "x"})
    yield f"data: {json.dumps({'type': 'completed', 'content': done, 'tool_calls': []})}\n\n"
    yield "data: [DONE]\n\n"


# Coroutines, as the chat's route is: FastAPI runs a plain function in its thread pool, a hop the
# bare endpoints would pay and the chat does not.
async def bare_endpoint() -> StreamingResponse:
    return StreamingResponse(bare_stream(), media_type="text/plain")


async def bare_model_endpoint() -> StreamingResponse:
    return StreamingResponse(bare_model_stream(), media_type="text/plain")


async def one_stream(http: httpx.AsyncClient, path: str) -> tuple[float, float, float]:
    """Seconds to the first event of any type, to the first text_delta, and to [DONE]."""
    started = time.perf_counter()
    first_event = first = None
    async with http.stream("POST", path, headers={"X-API-Key": KEY}, json={"message": "What about AI?"}) as r:
        async for line in r.aiter_lines():
            if first_event is None and line.startswith("data: "):
                first_event = time.perf_counter() - started
            if first is None and '"text_delta"' in line:
                first = time.perf_counter() - started
            if line == "data: [DONE]":
                break
    nan = float("nan")
    return first_event or nan, first or nan, time.perf_counter() - started


async def measure(http: httpx.AsyncClient, path: str, concurrency: int, rounds: int) -> tuple[float, float, float]:
    """p50 seconds to the first event, the first text_delta and the end, over `rounds` of
    `concurrency` simultaneous streams."""
    results: list[tuple[float, float, float]] = []
    for _ in range(rounds):
        results += await asyncio.gather(*(one_stream(http, path) for _ in range(concurrency)))
    first_events, firsts, totals = zip(*results)
    return statistics.median(first_events), statistics.median(firsts), statistics.median(totals)


async def run(rounds: int) -> None:
    register_chat_provider("instant", instant_model)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            database_url=None,
            data_dir=Path(tmp),
            chat_model="instant:x",
            bo_api_key=SecretStr(KEY),
            twin_demo_autoload=False,
            database_pool_max=40,
        )
        services = Services.create(settings)
        await services.start(with_model=False, with_embeddings=False)
        account = await upsert_account(services.pool, account_id="1", handle="bench", display_name="Bench")
        await save_version(
            services.pool,
            account=dict(account),
            system_prompt="You are @bench.",
            style_traits=[],
            refinement_summary="bench",
            details={},
        )
        app = create_app(settings, services=services, start_model=False, start_embeddings=False)
        app.add_api_route("/bench/bare", bare_endpoint, methods=["POST"])
        app.add_api_route("/bench/bare-model", bare_model_endpoint, methods=["POST"])
        # matched first, as the REST APIs nearly are: routing costs the bare endpoints no more
        # than it costs the chat (the ~130 LangServe routes come after both)
        app.router.routes[:0] = [app.router.routes.pop(), app.router.routes.pop()]
        freeze_startup_heap()  # as the app's lifespan does once it has started
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
            await asyncio.sleep(0.01)
        try:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as http:
                gw_path = "/ghostwriter/personas/1/chat"
                await measure(http, gw_path, 4, 2)  # warm-up
                await measure(http, "/bench/bare", 4, 2)
                await measure(http, "/bench/bare-model", 4, 2)
                print(f"SSE chat vs bare SSE endpoints, same {len([c for c in CHUNKS if c])} chunks, p50")
                print("  bare: static chunks; bare+model: chunks from the same instant model called directly")
                print(
                    "  the chat's text deltas pass the prompt guard, which sends ordinary words once whole and "
                    "holds back from a word that may begin a disclosure; its first event is the function_call "
                    "sent just before the model is called"
                )
                for concurrency, n in ((1, rounds), (32, max(2, rounds // 8))):
                    gw_event, gw_first, gw_total = await measure(http, gw_path, concurrency, n)
                    print(f"concurrency {concurrency:>2}: chat's first event {gw_event * 1000:7.2f} ms")
                    for label, path in (("bare", "/bench/bare"), ("bare+model", "/bench/bare-model")):
                        _, first, total = await measure(http, path, concurrency, n)
                        print(
                            f"concurrency {concurrency:>2} vs {label:<10}: first text_delta "
                            f"{gw_first * 1000:7.2f} ms vs {first * 1000:7.2f} ms (ratio {gw_first / first:4.2f}x); "
                            f"first event {gw_event / first:4.2f}x; "
                            f"total {gw_total * 1000:7.2f} ms vs {total * 1000:7.2f} ms "
                            f"(ratio {gw_total / total:4.2f}x)"
                        )
        finally:
            server.should_exit = True
            await task
            await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="ghostwriter SSE chat overhead")
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--sync-model",
        action="store_true",
        help="stream a sync-only fake model (a thread-pool hop per chunk), as this benchmark did before",
    )
    args = parser.parse_args()
    global SYNC_MODEL
    SYNC_MODEL = args.sync_model
    event_loop.run(run(args.rounds))  # the loop `personas serve` runs on


if __name__ == "__main__":
    main()
