"""persona_chat: the chat state machine shared by the three APIs.

load_persona -> read_attachments -> retrieve -> generate -> guard -> finalize. A turn skips the
steps it has nothing for (no raw attachments, no collections, documents or web search): every
superstep costs time before the first token (bench/chat_overhead.py, bench/sse_chat.py). `guard`
checks the reply for disclosures and planted instructions before it is final. One checkpointer
thread per conversation keeps the messages, so memory survives restarts. Tokens stream through
`stream_mode="messages"` (node `generate`), progress through `custom` events.

`build_persona_chat` is the one compile site: langgraph.json (`graph`, no checkpointer: the
platform supplies one), LangServe and the REST adapters (with the service's Postgres
checkpointer) all use it.
"""

from __future__ import annotations

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.nodes import GENERATE_NODE, finalize, generate, guard, load_persona, read_attachments, retrieve
from graphs.persona_chat.retrieval import needs_retrieval
from graphs.persona_chat.state import PersonaChatInput, PersonaChatOutput, PersonaChatState


# The edge functions are coroutines: LangGraph runs a plain function of an async graph in the
# thread pool, a hop before every first token.
async def after_load_persona(state: PersonaChatState) -> str:
    """read_attachments when raw attachments came in, else retrieve when there is something to
    search, else straight to generate."""
    if state.get("attachments"):
        return "read_attachments"
    return await after_read_attachments(state)


async def after_read_attachments(state: PersonaChatState) -> str:
    return "retrieve" if needs_retrieval(state) else GENERATE_NODE


def build_persona_chat(
    checkpointer: BaseCheckpointSaver | None = None,
) -> CompiledStateGraph[PersonaChatState, ChatContext, PersonaChatInput, PersonaChatOutput]:
    # langgraph types nodes taking (state, config) or (state, runtime), not both; ours need both
    # (config carries the callbacks that stream tokens on Python 3.10).
    builder = StateGraph(
        PersonaChatState, input_schema=PersonaChatInput, output_schema=PersonaChatOutput, context_schema=ChatContext
    )
    builder.add_node("load_persona", load_persona)
    builder.add_node("read_attachments", read_attachments)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("retrieve", retrieve)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node(GENERATE_NODE, generate)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("guard", guard)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "load_persona")
    builder.add_conditional_edges("load_persona", after_load_persona, ["read_attachments", "retrieve", GENERATE_NODE])
    builder.add_conditional_edges("read_attachments", after_read_attachments, ["retrieve", GENERATE_NODE])
    builder.add_edge("retrieve", GENERATE_NODE)
    builder.add_edge(GENERATE_NODE, "guard")
    builder.add_edge("guard", "finalize")
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer, name="persona_chat")


graph = build_persona_chat()
