"""Every graph of langgraph.json runs as LangGraph Studio runs it: loaded from the file path
langgraph.json lists, in a process where no service has started yet (the first node starts
them: the embedded Postgres, migrations, models), under blockbuster configured exactly as
`langgraph dev` configures it. Any blocking call on the event loop fails the run.

The chat model is the scripted fake (`CHAT_MODEL=fake:scripted`) except in the last test,
which starts the real local llama.cpp server from a graph node, as a fresh Studio does.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.pregel import Pregel

from runtime.services import current_services, ensure_services, stop_current_services
from runtime.settings import get_settings
from tests.support.fakes import Script, install_fake_provider
from tests.support.ghostwriter import builder_responder, sample_account
from tests.support.paths import ROOT
from tests.support.twin import small_segments

GRAPHS: dict[str, str] = json.loads((ROOT / "langgraph.json").read_text())["graphs"]


@contextmanager
def studio_blockbuster() -> Iterator[Any]:
    """Blockbuster as `langgraph dev` turns it on (langgraph_runtime_inmem.queue._enable_blockbuster
    in langgraph-runtime-inmem 0.36): every detector except file reads and writes, os.stat,
    os.listdir, os.remove, os.path.* and threading locks, which the dev server lets through."""
    from blockbuster import BlockBuster

    bb = BlockBuster(excluded_modules=[])
    bb.functions["os.path.abspath"].can_block_in("inspect.py", "getmodule")
    for module, func in (
        ("memory/__init__.py", "sync"),
        ("memory/__init__.py", "load"),
        ("memory/__init__.py", "dump"),
        ("pydantic/main.py", "__init__"),
    ):
        bb.functions["os.remove"].can_block_in(module, func)
        bb.functions["os.rename"].can_block_in(module, func)
    for module, func in (
        ("uvicorn/lifespan/on.py", "startup"),
        ("uvicorn/lifespan/on.py", "shutdown"),
        ("logging/__init__.py", "flush"),
        ("logging/__init__.py", "emit"),
    ):
        bb.functions["io.TextIOWrapper.write"].can_block_in(module, func)
        bb.functions["io.BufferedWriter.write"].can_block_in(module, func)
    allowed = [
        "os.stat",
        "os.listdir",
        "os.remove",
        "io.BufferedReader.read",
        "io.BufferedWriter.write",
        "io.TextIOWrapper.read",
        "io.TextIOWrapper.write",
        "threading.Lock.acquire",
        *(name for name in bb.functions if name.startswith("os.path.")),
    ]
    for name in allowed:
        function = bb.functions.pop(name, None)
        if function is not None:
            function.deactivate()
    bb.activate()
    try:
        yield bb
    finally:
        bb.deactivate()


def load_graph(name: str) -> Pregel:
    """The graph as `langgraph dev` loads it: from the file langgraph.json names, as a module of its own."""
    path, _, attr = GRAPHS[name].partition(":")
    spec = importlib.util.spec_from_file_location(f"{name}_studio_graph", ROOT / path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    graph = getattr(module, attr)
    assert isinstance(graph, Pregel)
    return graph


@pytest.fixture(scope="module")
def studio_data(tmp_path_factory, local_embeddings) -> Iterator[dict[str, Any]]:
    """The environment of a fresh checkout (no DATABASE_URL: the embedded Postgres in DATA_DIR),
    with the fake chat model; demo data is added once by `seeded`."""
    data_dir = tmp_path_factory.mktemp("studio") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("DATABASE_URL", raising=False)
        mp.setenv("DATA_DIR", str(data_dir))
        mp.setenv("CHAT_MODEL", "fake:scripted")
        mp.setenv("TWIN_DEMO_AUTOLOAD", "false")
        # the embeddings still load through the services (in a thread); the session's copy saves seconds
        mp.setattr("runtime.services.make_embeddings", lambda name, settings: local_embeddings)
        get_settings.cache_clear()
        install_fake_provider(Script())  # tests replace it with their own script
        yield {"data_dir": data_dir}
    get_settings.cache_clear()


@pytest.fixture(scope="module")
async def seeded(studio_data) -> dict[str, Any]:
    """Demo clusters, a sample account with posts and a stored persona, written with services that
    are stopped again before any graph runs."""
    from store.accounts import import_posts, upsert_account
    from store.personas import create_persona
    from use_cases.twin.segment_import import replace_segments

    services = await ensure_services()
    try:
        await replace_segments(services.pool, small_segments(), services.require_embeddings())
        account = sample_account(0)
        await upsert_account(
            services.pool,
            account_id=account["account_id"],
            handle=account["handle"],
            display_name=account["display_name"],
        )
        await import_posts(services.pool, account["account_id"], account["posts"][:40])
        persona_id = await create_persona(
            services.pool, kind="studio", name="Mason", system_prompt="A 29-year-old from Austin, Texas."
        )
    finally:
        await stop_current_services()
    return {"account_id": account["account_id"], "persona_id": persona_id, **studio_data}


@pytest.fixture
async def cold(seeded, script) -> Any:
    """No services in this process, as in a fresh `langgraph dev` worker; stopped again afterwards."""
    await stop_current_services()
    get_settings.cache_clear()
    assert current_services() is None
    yield seeded
    await stop_current_services()


def thread(tid: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": tid}}


async def run_persona_chat(graph: Pregel, data: dict[str, Any], script: Any) -> None:
    script.replies = ["Howdy from Austin.", "Still here.", "Hi, I'm Mason."]
    chat = graph.copy(update={"checkpointer": InMemorySaver()})  # the dev server supplies one
    inline = {"name": "Gwen", "system_prompt": "A novelist from Leeds.", "kind": "studio"}
    with studio_blockbuster():
        first = await chat.ainvoke({"persona": inline, "messages": [HumanMessage("Hi")]}, thread("inline"))
        second = await chat.ainvoke({"persona": inline, "messages": [HumanMessage("Still there?")]}, thread("inline"))
        stored = await chat.ainvoke(
            {"persona_id": data["persona_id"], "messages": [HumanMessage("Who are you?")]}, thread("stored")
        )
    assert first["reply"] == "Howdy from Austin." and second["reply"] == "Still here."
    assert [m.content for m in second["messages"]] == ["Hi", "Howdy from Austin.", "Still there?", "Still here."]
    assert stored["reply"] == "Hi, I'm Mason."
    assert "A 29-year-old from Austin, Texas." in script.calls[2][0].content


async def run_cluster_router(graph: Pregel, data: dict[str, Any], script: Any) -> None:
    with studio_blockbuster():
        out = await graph.ainvoke({"query": "wealthy retired boomers who own their home"})
    assert out["clusters"] and out["greeting"]["greeting"]
    assert out["clusters"][0]["cluster_name"] == "Super-Prime Wealthy Boomers"


async def run_persona_builder(graph: Pregel, data: dict[str, Any], script: Any) -> None:
    script.responder = builder_responder
    with studio_blockbuster():
        out = await graph.ainvoke({"account_id": data["account_id"], "force": True})
    assert out["version"] >= 1 and out["system_prompt"] and 0.0 <= out["confidence_score"] <= 1.0


async def run_segment_survey(graph: Pregel, data: dict[str, Any], script: Any) -> None:
    script.responder = lambda messages: "A"  # no log-probabilities: the letter written counts
    question = {"question": "Do you own or rent your home?", "options": ["Own", "Rent"]}
    with studio_blockbuster():
        out = await graph.ainvoke({**question, "query": "wealthy retired boomers", "top_k": 1})
    [cluster] = out["clusters"]
    assert (
        cluster["cluster_name"] == "Super-Prime Wealthy Boomers" and cluster["n_answers"] == cluster["n_personas"] > 0
    )
    assert abs(sum(cluster["distribution"].values()) - 1) < 1e-9


async def run_focus_group(graph: Pregel, data: dict[str, Any], script: Any) -> None:
    script.responder = lambda messages: "Rates are too high for me right now. I try to plan ahead."
    question = {"question": "What do you think about interest rates?", "personas_per_cluster": 2}
    with studio_blockbuster():
        out = await graph.ainvoke({**question, "query": "wealthy retired boomers", "top_k": 1})
    [cluster] = out["clusters"]
    answers = " ".join(r["answer"] for r in cluster["responses"])
    assert len(cluster["responses"]) == 2 and cluster["themes"]
    assert all(theme["quote"] in answers for theme in cluster["themes"])


RUNS: dict[str, Callable[[Pregel, dict[str, Any], Any], Awaitable[None]]] = {
    "persona_chat": run_persona_chat,
    "cluster_router": run_cluster_router,
    "persona_builder": run_persona_builder,
    "segment_survey": run_segment_survey,
    "focus_group": run_focus_group,
}


def test_every_graph_in_langgraph_json_has_a_studio_run():
    assert set(RUNS) == set(GRAPHS), "add a run under blockbuster for each graph langgraph.json lists"


@pytest.mark.parametrize("name", sorted(GRAPHS))
async def test_graph_runs_from_a_cold_start_under_blockbuster(name, cold, script):
    if name not in RUNS:
        pytest.fail(f"no studio run for {name}")
    await RUNS[name](load_graph(name), cold, script)
    services = current_services()
    assert services is not None and services.embedded_pg_dir == Path(cold["data_dir"]) / "pg"


def test_the_detector_catches_a_blocking_call():
    import asyncio
    import time

    from blockbuster import BlockingError

    async def sleepy() -> None:
        time.sleep(0.001)  # noqa: ASYNC251 - the blocking call under test

    with studio_blockbuster(), pytest.raises(BlockingError):
        asyncio.run(sleepy())


async def test_a_fresh_studio_starts_the_local_model_from_the_graph(cold, monkeypatch):
    """persona_chat with an inline persona on the default local model: the first node that needs
    the model starts the llama.cpp server (in a thread) and the reply comes from it."""
    import runtime.models

    monkeypatch.setenv("CHAT_MODEL", "local:smollm2")
    monkeypatch.setattr(runtime.models, "_local_base_url", None)  # no server yet; restored afterwards
    get_settings.cache_clear()
    try:
        chat = load_graph("persona_chat").copy(update={"checkpointer": InMemorySaver()})
        inline = {"name": "Gwen", "system_prompt": "A novelist from Leeds.", "kind": "studio"}
        tokens: list[Any] = []
        out: dict[str, Any] = {}
        with studio_blockbuster():  # streamed as Studio streams a run: messages and values
            async for mode, chunk in chat.astream(
                {"persona": inline, "messages": [HumanMessage("Say hello.")]},
                thread("local"),
                context={"max_tokens": 8, "temperature": 0.0},
                stream_mode=["messages", "values"],
            ):
                if mode == "messages":
                    tokens.append(chunk)
                else:
                    out = chunk
        services = current_services()
        assert services is not None and services.local_llm is not None
        assert tokens and out["reply"].strip() and out["model"] == "local:smollm2"
        assert out["usage"]["output_tokens"] > 0
    finally:
        await stop_current_services()
        get_settings.cache_clear()
