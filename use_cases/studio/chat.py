"""One chat turn with a studio persona through the persona_chat graph.

The history's rows are written only after a reply. The graph's checkpointer thread (one per
history) is saved when a turn ends, failed or not, so a failed turn is taken out of it again.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import HumanMessage, RemoveMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from graphs.persona_chat.context import ChatContext
from graphs.persona_chat.nodes import CHAT_DURABILITY, PersonaNotFound
from graphs.persona_chat.retrieval import rag_miss
from runtime.errors import ConfigError, NotFoundError, ServiceError
from runtime.services import Services
from runtime.upstream import raise_as_upstream_failure
from use_cases.studio.access import CurrentUser
from use_cases.studio.histories import open_history, save_turn
from use_cases.studio.personas import PERSONA_NOT_FOUND, find_persona

log = logging.getLogger(__name__)

PROVIDER_FAILED = "The model provider failed to answer; try again later."
MAX_MESSAGE_CHARS = 20_000

# the compiled persona_chat graph, with the service's checkpointer
ChatGraph = CompiledStateGraph[Any, ChatContext, Any, Any]


@dataclass(frozen=True)
class ChatReply:
    persona_id: int
    history_id: str
    reply: str
    rag_hit: dict[str, str]
    # the persona card's lorebook entries that fired: {"id", "name"} each
    lorebook: list[dict[str, str]] = field(default_factory=list)


def _question(content: str | None) -> str:
    text = (content or "").strip()
    if not text:
        # the contract's status for a missing message
        raise NotFoundError("Message content is required")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ServiceError(f"Message content is too long (at most {MAX_MESSAGE_CHARS} characters)")
    return text


async def chat_turn(
    services: Services,
    graph: ChatGraph,
    user: CurrentUser,
    raw_persona_id: str,
    content: str | None,
    history_id: str | None,
) -> ChatReply:
    """Answer `content` as the persona in the caller's history `history_id` (a new history when
    None; it is created only when the turn succeeds). The persona's model, else the service's."""
    pool = services.pool
    row = await find_persona(pool, raw_persona_id)
    text = _question(content)
    history = await open_history(pool, user, row["id"], history_id)
    question = HumanMessage(text, id=uuid.uuid4().hex)
    config: Any = {"configurable": {"thread_id": history.id}}
    try:
        result = await graph.ainvoke(
            {"messages": [question], "persona_id": row["id"], "persona_version": None},
            config=config,
            context=ChatContext(services=services, model=row["model"] or services.settings.chat_model),
            durability=CHAT_DURABILITY,
        )
    except asyncio.CancelledError:  # the client left (or the server stops): no trace either
        await asyncio.shield(forget_failed_turn(graph, config, question.id or "", new_history=history.new))
        raise
    except Exception as exc:
        await forget_failed_turn(graph, config, question.id or "", new_history=history.new)
        if isinstance(exc, ConfigError):
            raise ServiceError(str(exc), status=503) from exc
        if isinstance(exc, PersonaNotFound):  # deleted while the turn ran
            raise NotFoundError(PERSONA_NOT_FOUND) from None
        raise_as_upstream_failure(exc, PROVIDER_FAILED)
    rag_hit = result.get("rag_hit") or rag_miss()
    reply = result.get("reply", "")
    await save_turn(pool, user, row["id"], history, question=text, reply=reply, rag_hit=rag_hit)
    lorebook = [{"id": e["id"], "name": e["name"]} for e in result.get("lorebook") or []]
    return ChatReply(row["id"], history.id, reply, rag_hit, lorebook)


async def forget_failed_turn(graph: ChatGraph, config: Any, message_id: str, *, new_history: bool) -> None:
    """Leave no trace of a failed turn in the thread's memory: a new history's thread (its id
    was never returned) is deleted; in an existing one the turn's user message is removed, so
    the next turn does not answer a question the user never got a reply to."""
    thread_id = config["configurable"]["thread_id"]
    try:
        if new_history:
            checkpointer = graph.checkpointer
            assert isinstance(checkpointer, BaseCheckpointSaver), "persona_chat runs with a checkpointer here"
            await checkpointer.adelete_thread(thread_id)
            return
        state = await graph.aget_state(config)
        if any(getattr(m, "id", None) == message_id for m in state.values.get("messages", [])):
            await graph.aupdate_state(config, {"messages": [RemoveMessage(id=message_id)]}, as_node="finalize")
    except Exception:  # the reply to the client is the turn's failure, not this one
        log.exception("could not remove the failed turn from chat thread %s", thread_id)
