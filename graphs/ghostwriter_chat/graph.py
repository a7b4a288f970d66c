"""ghostwriter_chat: persona_chat's nodes with the pre-generation steps inside `generate`.

generate (load_persona + read_attachments + retrieve when the turn has anything for them, then
persona_chat's generate) -> guard -> finalize. Same state, same nodes' code and the same
`generate` node name for token streaming as `graphs.persona_chat`; only the graph is shorter,
since every superstep and every conditional edge costs time before the first token (see
bench/sse_chat.py). None of the preparing steps writes `messages`, so applying their updates one
after another equals running them as separate nodes. No checkpointer: the ghostwriter API sends
the whole history with each request.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.nodes import GENERATE_NODE, finalize, generate, guard, load_persona, read_attachments, retrieve
from graphs.persona_chat.state import PersonaChatState


async def prepare(state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig) -> dict[str, Any]:
    """load_persona, read_attachments and retrieve, each seeing the previous ones' updates."""
    update: dict[str, Any] = {}
    update.update(await load_persona(state, runtime))
    update.update(await read_attachments({**state, **update}, runtime, config))  # type: ignore[typeddict-item]
    update.update(await retrieve({**state, **update}, runtime, config))  # type: ignore[typeddict-item]
    return update


def prepared(state: PersonaChatState) -> bool:
    """Nothing to prepare: inline persona, no raw attachments, no data sources (then the input
    must carry `references` and `tool_calls`, as load_persona would set them)."""
    return bool(
        state.get("persona_id") is None
        and state.get("persona")
        and not state.get("attachments")
        and not state.get("use_documents")
        and not state.get("use_web")
        and not state.get("collections")
        and "references" in state
        and "tool_calls" in state
    )


async def prepare_and_generate(
    state: PersonaChatState, runtime: Runtime[ChatContext], config: RunnableConfig
) -> dict[str, Any]:
    """`prepare` unless the turn is already prepared, then persona_chat's `generate`."""
    update = {} if prepared(state) else await prepare(state, runtime, config)
    return {**update, **await generate({**state, **update}, runtime, config)}  # type: ignore[typeddict-item]


def build_ghostwriter_chat() -> CompiledStateGraph[PersonaChatState, ChatContext, PersonaChatState, PersonaChatState]:
    # langgraph types nodes taking (state, config) or (state, runtime), not both; ours need both
    # (config carries the callbacks that stream tokens on Python 3.10).
    builder = StateGraph(PersonaChatState, context_schema=ChatContext)
    builder.add_node(GENERATE_NODE, prepare_and_generate)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("guard", guard)  # type: ignore[arg-type, call-overload, unused-ignore]
    builder.add_node("finalize", finalize)
    builder.add_edge(START, GENERATE_NODE)
    builder.add_edge(GENERATE_NODE, "guard")
    builder.add_edge("guard", "finalize")
    builder.add_edge("finalize", END)
    return builder.compile(name="ghostwriter_chat")


graph = build_ghostwriter_chat()
