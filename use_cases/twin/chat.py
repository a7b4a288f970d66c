"""One chat turn with a segment twin through the persona_chat graph.

A caller's conversations with a twin are sessions (`store.twin.resolve_session`): each maps to
one checkpointer thread, so the graph's memory carries the conversation from turn to turn.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.graph.state import CompiledStateGraph

from graphs.cluster_router.nodes import TwinPersonaNotFound
from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.nodes import CHAT_DURABILITY
from graphs.persona_chat.state import PersonaChatInput, PersonaChatOutput, PersonaChatState
from runtime.services import Services
from runtime.upstream import MODEL_FAILED, raise_as_upstream_failure
from store.clusters import get_segment_persona
from store.twin import resolve_session
from use_cases.studio.chat import forget_failed_turn

log = logging.getLogger(__name__)

ChatGraph = CompiledStateGraph[PersonaChatState, ChatContext, PersonaChatInput, PersonaChatOutput]


@dataclass(frozen=True)
class TwinReply:
    persona_id: int
    reply: str
    session_id: str


async def chat_turn(
    services: Services, graph: ChatGraph, caller: str, persona_id: int, message: str, session_id: str | None
) -> TwinReply:
    """Answer `message` as the twin in the caller's session `session_id` (None: the caller's
    latest session with this twin, or a new one), with the service's chat model."""
    pool = services.pool
    if await get_segment_persona(pool, persona_id) is None:  # a studio or ghostwriter persona is no twin: 404 too
        raise TwinPersonaNotFound(f"Persona {persona_id} not found")
    session, thread_id = await resolve_session(pool, caller, persona_id, session_id)
    config: Any = {"configurable": {"thread_id": thread_id}, "run_id": uuid.uuid4()}
    question = HumanMessage(content=message, id=uuid.uuid4().hex)
    turn: PersonaChatInput = {"messages": [question], "persona_id": persona_id}
    try:
        # saved once, when the turn ends: a process that dies mid-turn leaves nothing of it
        state = await graph.ainvoke(
            turn,
            config=config,
            context=ChatContext(services=services, model=services.settings.chat_model),
            durability=CHAT_DURABILITY,
        )
    except asyncio.CancelledError:  # the client left: its question leaves no trace either
        await asyncio.shield(forget_failed_turn(graph, config, question.id or "", new_history=False))
        raise
    except Exception as exc:
        # a failed turn leaves no trace in the session's memory, as in the studio
        await forget_failed_turn(graph, config, question.id or "", new_history=False)
        raise_as_upstream_failure(exc, MODEL_FAILED)
    return TwinReply(persona_id=persona_id, reply=state.get("reply", ""), session_id=session)
