"""Graphs run on the services their caller hands them in the run's context (`ServicesContext`);
the process's own only where a context cannot carry them (built from JSON: Studio, LangServe)."""

from __future__ import annotations

from langchain_core.messages import HumanMessage

from graphs.cluster_router.context import RouterContext
from graphs.cluster_router.graph import graph as cluster_router
from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.graph import build_persona_chat
from runtime.services import current_services, services_of, set_current_services
from runtime.settings import get_settings


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
