"""persona_chat with the scripted fake model: transitions, streaming, memory."""

from langchain_core.messages import AIMessageChunk, HumanMessage

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.graph import build_persona_chat
from graphs.persona_chat.nodes import CHAT_DURABILITY
from runtime.services import Services
from store.personas import create_persona

CTX = ChatContext(model="fake:scripted")


def thread(tid: str) -> dict:
    return {"configurable": {"thread_id": tid}}


async def _persona(services, prompt="A 29-year-old from Austin, Texas.") -> int:
    return await create_persona(services.pool, kind="studio", name="Mason", system_prompt=prompt)


async def test_nodes_run_in_order_and_reply_is_finalized(services, script):
    script.replies = ["Hello from Austin"]
    graph = build_persona_chat(services.checkpointer)
    pid = await _persona(services)
    nodes = []
    async for update in graph.astream(
        {"persona_id": pid, "messages": [HumanMessage("Hi")]}, thread("t-order"), context=CTX, stream_mode="updates"
    ):
        nodes.extend(update.keys())
    # nothing to attach or search: read_attachments and retrieve are skipped
    assert nodes == ["load_persona", "generate", "guard", "finalize"]
    state = await graph.aget_state(thread("t-order"))
    assert state.values["reply"] == "Hello from Austin"
    assert state.values["persona"]["name"] == "Mason"
    assert state.values["rag_hit"]["success"] == "false" and state.values["references"] == []
    system_prompt = script.calls[0][0].content
    assert "A 29-year-old from Austin, Texas." in system_prompt and "Mason" in system_prompt


async def test_every_step_runs_when_the_turn_has_attachments_and_sources(services, script):
    script.replies = ["Seen it", "Next one"]
    graph = build_persona_chat(services.checkpointer)
    nodes = []
    import base64

    from evals.channels import make_pdf

    pdf = base64.b64encode(make_pdf("Quarterly notes")).decode()
    note = {"type": "file", "mime_type": "application/pdf", "data": f"data:application/pdf;base64,{pdf}"}
    async for update in graph.astream(
        {
            "persona": {"name": "Gwen", "system_prompt": "A writer.", "kind": "ghostwriter"},
            "messages": [HumanMessage("Read this")],
            "attachments": [note],
            "use_documents": True,
        },
        thread("t-all"),
        context=CTX,
        stream_mode="updates",
    ):
        nodes.extend(update.keys())
    assert nodes == ["load_persona", "read_attachments", "retrieve", "generate", "guard", "finalize"]
    nodes.clear()
    async for update in graph.astream(
        {"messages": [HumanMessage("Next")], "attachments": [], "use_documents": False},
        thread("t-all"),
        context=CTX,
        stream_mode="updates",
    ):
        nodes.extend(update.keys())
    assert nodes == ["load_persona", "generate", "guard", "finalize"]
    state = await graph.aget_state(thread("t-all"))
    assert state.values["references"] == [] and state.values["tool_calls"] == []  # no stale results


async def test_tokens_stream_in_order(services, script):
    script.replies = ["one two three four five"]
    graph = build_persona_chat(services.checkpointer)
    pid = await _persona(services)
    chunks = []
    async for chunk, meta in graph.astream(
        {"persona_id": pid, "messages": [HumanMessage("Count")]},
        thread("t-stream"),
        context=CTX,
        stream_mode="messages",
    ):
        if isinstance(chunk, AIMessageChunk) and meta["langgraph_node"] == "generate":
            chunks.append(chunk.content)
    assert len(chunks) >= 5
    assert "".join(chunks) == "one two three four five"


async def test_memory_across_turns_and_threads_do_not_mix(services, script):
    script.replies = ["first answer", "second answer", "other thread answer"]
    graph = build_persona_chat(services.checkpointer)
    pid = await _persona(services)
    await graph.ainvoke({"persona_id": pid, "messages": [HumanMessage("my name is Ada")]}, thread("a"), context=CTX)
    await graph.ainvoke({"persona_id": pid, "messages": [HumanMessage("what is my name?")]}, thread("a"), context=CTX)
    await graph.ainvoke({"persona_id": pid, "messages": [HumanMessage("hello")]}, thread("b"), context=CTX)
    second_turn = [m.content for m in script.calls[1][1:]]
    assert second_turn == ["my name is Ada", "first answer", "what is my name?"]
    other_thread = [m.content for m in script.calls[2][1:]]
    assert other_thread == ["hello"]


async def test_memory_survives_a_new_app_instance(services, script, settings):
    script.replies = ["noted", "you said blue"]
    pid = await _persona(services)
    graph = build_persona_chat(services.checkpointer)
    await graph.ainvoke(
        {"persona_id": pid, "messages": [HumanMessage("my colour is blue")]},
        thread("restart"),
        context=CTX,
        durability=CHAT_DURABILITY,
    )
    # A second process-like instance: new pool, new checkpointer, same database.
    other = Services.create(settings)
    other.embeddings = services.embeddings
    await other.start(with_model=False, with_embeddings=False)
    try:
        graph2 = build_persona_chat(other.checkpointer)
        await graph2.ainvoke(
            {"persona_id": pid, "messages": [HumanMessage("my colour?")]},
            thread("restart"),
            context=CTX,
            durability=CHAT_DURABILITY,
        )
    finally:
        await other.stop()
    assert [m.content for m in script.calls[1][1:]] == ["my colour is blue", "noted", "my colour?"]


async def test_unknown_persona_fails_clearly(services, script):
    graph = build_persona_chat(services.checkpointer)
    import pytest

    from graphs.persona_chat.nodes import PersonaNotFound

    with pytest.raises(PersonaNotFound, match="Persona 999999 not found"):
        await graph.ainvoke({"persona_id": 999999, "messages": [HumanMessage("hi")]}, thread("x"), context=CTX)
    assert script.calls == []


async def test_user_text_is_a_value_not_template_text(services, script):
    script.replies = ["ok"]
    pid = await _persona(services, prompt="Braces {persona_name} {0} stay literal")
    graph = build_persona_chat(services.checkpointer)
    await graph.ainvoke(
        {"persona_id": pid, "messages": [HumanMessage("{references}")], "additional_instructions": "{style_block}"},
        thread("tpl"),
        context=CTX,
    )
    system_prompt = script.calls[0][0].content
    assert "Braces {persona_name} {0} stay literal" in system_prompt
    assert "{style_block}" in system_prompt
