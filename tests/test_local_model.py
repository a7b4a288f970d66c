"""persona_chat through the real local model (llama.cpp + SmolLM2) over the OpenAI protocol."""

from langchain_core.messages import AIMessageChunk, HumanMessage

from graphs.chat_context import ChatContext
from graphs.persona_chat import build_persona_chat


async def test_local_model_replies_and_streams(services, local_llm):
    graph = build_persona_chat(services.checkpointer)
    persona = {"name": "Mason", "system_prompt": "A 29-year-old software tester living in Austin, Texas."}
    chunks: list[str] = []
    async for chunk, meta in graph.astream(
        {"persona": persona, "messages": [HumanMessage("Hi Mason, where do you live?")]},
        {"configurable": {"thread_id": "local-1"}},
        context=ChatContext(model="local:smollm2", temperature=0.0, max_tokens=40),
        stream_mode="messages",
    ):
        if isinstance(chunk, AIMessageChunk) and meta["langgraph_node"] == "generate" and chunk.content:
            chunks.append(chunk.content)
    state = await graph.aget_state({"configurable": {"thread_id": "local-1"}})
    reply = state.values["reply"]
    assert isinstance(reply, str) and reply.strip()
    assert len(chunks) > 3
    assert "".join(chunks).strip() == reply
    assert state.values["model"] == "local:smollm2"
