"""Graphs run on the services their caller hands them in the run's context (`ServicesContext`);
the process's own only where a context cannot carry them (built from JSON: Studio, LangServe)."""

from __future__ import annotations

import dataclasses

from langchain_core.messages import HumanMessage
from pydantic import SecretStr

from bench.stub_openai import StubOpenAI
from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.graph import graph as cluster_router
from graphs.persona_builder import BuilderContext, build_persona_builder
from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.graph import build_persona_chat
from runtime.services import current_services, services_of, set_current_services
from runtime.settings import get_settings
from store.accounts import import_posts, upsert_account
from store.ghostwriter import current_version
from tests.support.ghostwriter import sample_account


async def test_graphs_run_on_the_services_their_context_carries(services, twins, script, monkeypatch):
    set_current_services(None)  # no process-wide services, and none could start:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:9/nowhere")
    monkeypatch.setenv("CHAT_MODEL", "openai:gpt-4.1-mini")  # not the services' fake:scripted
    get_settings.cache_clear()
    try:
        context = RouterContext(services=services)
        routed = await cluster_router.ainvoke(
            {"task": "clusters", "query": "young renters", "top_k": 2}, context=context
        )
        assert len(routed["clusters"]) == 2
        cluster_id = routed["clusters"][0]["cluster_id"]
        ranked = await cluster_router.ainvoke(
            {"task": "personas", "query": "women", "top_k": 3, "cluster_id": cluster_id}, context=context
        )
        persona_id = ranked["personas"][0]["persona_id"]
        greeted = await cluster_router.ainvoke({"task": "greeting", "persona_id": persona_id}, context=context)
        assert greeted["greeting"]

        script.responder = lambda messages: "I rent a small flat."
        chat = build_persona_chat()  # no checkpointer: the turn's history comes with the input
        out = await chat.ainvoke(
            {"persona_id": persona_id, "messages": [HumanMessage("Where do you live?")]},
            context=ChatContext(services=services),  # the model too: the services' CHAT_MODEL
        )
        assert out["reply"] == "I rent a small flat."
        assert current_services() is None  # nothing was started on the side
    finally:
        get_settings.cache_clear()
        set_current_services(services)


async def test_a_context_from_json_uses_the_process_services(services):
    set_current_services(services)
    assert await services_of(RouterContext(services=services)) is services
    assert await services_of(None) is services
    # what JSON can put in the field is not a Services: the process's own are used
    assert await services_of(ChatContext.from_mapping({"services": "mine", "model": "x"})) is services
    assert "services" not in cluster_router.get_context_jsonschema()["properties"]


async def test_the_builder_calls_the_model_its_context_services_configure(services, monkeypatch):
    """The style analysis and the validation samples reach the provider the context's settings
    name (its URL and key), not the process's."""
    stub = StubOpenAI().start()
    try:
        own = dataclasses.replace(
            services,
            settings=services.settings.model_copy(
                update={
                    "chat_model": "openai:stub",
                    "openai_base_url": stub.url,
                    "openai_api_key": SecretStr("context-key"),
                }
            ),
        )
        set_current_services(None)
        monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens there
        monkeypatch.setenv("CHAT_MODEL", "fake:scripted")
        get_settings.cache_clear()
        account = sample_account(3)
        await upsert_account(services.pool, account_id=account["account_id"], handle=account["handle"])
        await import_posts(services.pool, account["account_id"], account["posts"][:30])

        out = await build_persona_builder().ainvoke(
            {"account_id": account["account_id"]}, context=BuilderContext(services=own)
        )
        assert out["version"] == 1
        assert stub.counters.requests == 5  # the analysis, then four samples
        assert (await current_version(services.pool, account["account_id"]))["details"]["samples"]
        assert current_services() is None
    finally:
        stub.stop()
        get_settings.cache_clear()
        set_current_services(services)
