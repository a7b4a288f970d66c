"""persona_chat: the chat state machine shared by the three APIs.

load_persona -> read_attachments -> retrieve -> generate -> finalize. A turn skips the
steps it has nothing for (no raw attachments, no collections, documents or web search):
every superstep costs time before the first token (bench/chat_overhead.py, bench/sse_chat.py).
load_persona starts each turn by resetting its per-turn outputs (references, tool calls,
rag_hit), so a skipped step never leaves an earlier turn's results behind.
Attachment reading lives in `graphs/chat_attachments.py`, document retrieval in
`graphs/chat_retrieval.py`, web search in `graphs/chat_web.py`. One checkpointer thread per conversation
keeps the messages, so memory survives restarts. Tokens stream through
`stream_mode="messages"` (node `generate`), progress through `custom` events.
"""

from __future__ import annotations

from typing import Annotated, Any

from typing_extensions import NotRequired, TypedDict

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langchain_core.messages.utils import count_tokens_approximately, trim_messages
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime

from graphs.chat_attachments import read_attachments, with_attachment_parts
from graphs.chat_common import emit_progress
from graphs.chat_context import ChatContext, resolve_context
from graphs.chat_retrieval import needs_retrieval, rag_miss, retrieve_documents
from graphs.chat_web import search_web
from prompts import render_prompt
from runtime.models import make_chat_model
from runtime.settings import get_settings

HISTORY_TOKEN_BUDGET = 1200
# Pass as `durability=` when running a turn: one checkpoint write when the turn ends
# instead of one per node (halves the per-turn overhead, see bench/chat_overhead.py);
# a turn that crashes midway is simply not remembered.
CHAT_DURABILITY = "exit"
GENERATE_NODE = "generate"


class PersonaProfile(TypedDict, total=False):
    id: int | None
    kind: str
    name: str
    system_prompt: str
    model: str | None
    temperature: float | None
    version: int | None
    attributes: dict[str, Any]


class PersonaChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    persona_id: NotRequired[int | None]
    persona_version: NotRequired[int | None]
    persona: NotRequired[PersonaProfile | None]
    system_prompt_override: NotRequired[str | None]
    additional_instructions: NotRequired[str | None]
    attachments: NotRequired[list[dict[str, Any]]]
    attachment_parts: NotRequired[list[dict[str, Any]]]
    use_documents: NotRequired[bool]
    use_web: NotRequired[bool]
    collections: NotRequired[list[str] | None]
    rag: NotRequired[dict[str, Any] | None]
    rag_hit: NotRequired[dict[str, Any] | None]
    references: NotRequired[list[dict[str, Any]]]
    tool_calls: NotRequired[list[dict[str, Any]]]
    reply: NotRequired[str]
    model: NotRequired[str]
    usage: NotRequired[dict[str, int]]


class PersonaNotFound(LookupError):
    pass


async def load_persona(state: PersonaChatState) -> dict[str, Any]:
    """Load the persona (and version) from the database on every turn, so edits apply at once;
    without `persona_id`, an inline `persona` from the input is used."""
    persona_id = state.get("persona_id")
    turn_reset: dict[str, Any] = {"references": [], "tool_calls": [], "rag_hit": rag_miss()}
    if persona_id is None and state.get("persona"):
        return turn_reset
    if persona_id is None:
        raise PersonaNotFound("persona_chat needs `persona_id` or an inline `persona`.")
    from runtime.services import ensure_services
    from store.personas import get_chat_profile

    services = await ensure_services()
    row = await get_chat_profile(services.pool, int(persona_id), state.get("persona_version"))
    if row is None:
        raise PersonaNotFound(f"Persona {persona_id} not found.")
    profile: PersonaProfile = {
        "id": row["id"], "kind": row["kind"], "name": row["name"], "system_prompt": row["system_prompt"],
        "model": row["model"], "temperature": row["temperature"], "version": row["version"],
        "attributes": row["attributes"] or {},
    }
    update: dict[str, Any] = {"persona": profile, **turn_reset}
    rag = profile["attributes"].get("rag")
    if isinstance(rag, dict):  # a studio persona's rag settings decide its collections
        update.update(rag=rag, collections=list(rag.get("db_collections") or []))
    return update


def _system_message(state: PersonaChatState, context: ChatContext) -> SystemMessage:
    persona = state.get("persona") or {}
    style = context.communication_style
    instructions = state.get("additional_instructions")
    references = state.get("references") or []
    reference_text = "\n\n".join(
        f"[{i}] {ref.get('title', '')}\n{ref.get('content', '')}" for i, ref in enumerate(references, 1)
    )
    text = render_prompt(
        "persona_chat_system",
        persona_name=persona.get("name", "the persona"),
        persona_prompt=state.get("system_prompt_override") or persona.get("system_prompt", ""),
        style_block=render_prompt("persona_chat_style", style=style) if style else "",
        instructions_block=render_prompt("persona_chat_instructions", instructions=instructions)
        if instructions else "",
        references_block=render_prompt("persona_chat_references", references=reference_text)
        if reference_text else "",
    )
    return SystemMessage(content=text)


def _default_chat_model() -> str:
    """The running service's configured model (the environment's outside the server)."""
    from runtime.services import current_services

    services = current_services()
    return (services.settings if services else get_settings()).chat_model


def choose_model(state: PersonaChatState, context: ChatContext) -> tuple[str, float | None]:
    persona = state.get("persona") or {}
    model = context.model or persona.get("model") or _default_chat_model()
    temperature = context.temperature if context.temperature is not None else persona.get("temperature")
    return model, temperature


async def generate(state: PersonaChatState, runtime: Runtime[ChatContext],
                   config: RunnableConfig) -> dict[str, Any]:
    context = resolve_context(runtime.context, config)
    model_name, temperature = choose_model(state, context)
    model = make_chat_model(model_name, temperature=temperature, max_tokens=context.max_tokens)
    history = trim_messages(state["messages"], strategy="last", token_counter=count_tokens_approximately,
                            max_tokens=HISTORY_TOKEN_BUDGET, start_on="human", include_system=False)
    emit_progress("Generating response...")
    history = with_attachment_parts(history, state.get("attachment_parts"))
    reply = await model.ainvoke([_system_message(state, context), *history], config)
    if not isinstance(reply, AIMessage):
        reply = AIMessage(content=str(reply.content))
    return {"messages": [reply], "model": model_name}


def finalize(state: PersonaChatState) -> dict[str, Any]:
    """Reply text and token usage of this turn."""
    last = state["messages"][-1]
    text = last.text if isinstance(last, AIMessage) else ""
    usage = getattr(last, "usage_metadata", None) or {}
    return {
        "reply": text.strip(),
        "usage": {
            "input_tokens": int(usage.get("input_tokens", 0)),
            "output_tokens": int(usage.get("output_tokens", 0)),
            "total_tokens": int(usage.get("total_tokens", 0)),
        },
    }


async def retrieve(state: PersonaChatState, config: RunnableConfig) -> dict[str, Any]:
    """Documents and/or web results, as the persona or the request allows."""
    references: list[dict[str, Any]] = []
    tool_calls: list[dict[str, Any]] = []
    update: dict[str, Any] = {}
    doc_update = await retrieve_documents(state)
    web_update = await search_web(state)
    for part in (doc_update, web_update):
        references.extend(part.get("references", []))
        tool_calls.extend(part.get("tool_calls", []))
        update.update({k: v for k, v in part.items() if k not in ("references", "tool_calls")})
    return {**update, "references": references, "tool_calls": tool_calls}


def after_load_persona(state: PersonaChatState) -> str:
    """read_attachments when raw attachments came in, else retrieve when there is something to
    search, else straight to generate."""
    if state.get("attachments"):
        return "read_attachments"
    return after_read_attachments(state)


def after_read_attachments(state: PersonaChatState) -> str:
    return "retrieve" if needs_retrieval(state) else GENERATE_NODE


def build_persona_chat(checkpointer: BaseCheckpointSaver | None = None):
    builder = StateGraph(PersonaChatState, context_schema=ChatContext)
    builder.add_node("load_persona", load_persona)
    builder.add_node("read_attachments", read_attachments)
    builder.add_node("retrieve", retrieve)
    builder.add_node(GENERATE_NODE, generate)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "load_persona")
    builder.add_conditional_edges("load_persona", after_load_persona,
                                  ["read_attachments", "retrieve", GENERATE_NODE])
    builder.add_conditional_edges("read_attachments", after_read_attachments, ["retrieve", GENERATE_NODE])
    builder.add_edge("retrieve", GENERATE_NODE)
    builder.add_edge(GENERATE_NODE, "finalize")
    builder.add_edge("finalize", END)
    return builder.compile(checkpointer=checkpointer, name="persona_chat")


# LangGraph Studio / `langgraph dev` entry point (the platform supplies the checkpointer).
graph = build_persona_chat()
