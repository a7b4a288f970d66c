"""Streaming chat: `text/plain` with `data: {json}\\n\\n` lines, as the ghostwriter contract documents.

Events: function_call (progress), text_delta (model chunks as produced), completed (JSON
string with response.response_text, response.references and model; tool_calls when
include_debug), error (no internals), then `data: [DONE]`. A client disconnect cancels the
generator, which cancels the graph run and the model call; the budget is settled anyway.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from langchain_core.messages import AIMessageChunk

from graphs.persona_chat.nodes import GENERATE_NODE
from runtime.services import Services
from server.ghostwriter.chat import PROVIDER_FAILED, ChatPlan, chat_graph, public_references, settle, usage_of

log = logging.getLogger(__name__)
DONE = "data: [DONE]\n\n"


def event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


async def chat_events(services: Services, plan: ChatPlan) -> AsyncIterator[str]:
    state: dict[str, Any] = {}
    streamed: list[str] = []
    try:
        async for mode, chunk in chat_graph().astream(plan.graph_input, context=plan.context,
                                                      stream_mode=["messages", "custom", "updates"]):
            if mode == "messages":
                message, meta = chunk
                if isinstance(message, AIMessageChunk) and meta.get("langgraph_node") == GENERATE_NODE:
                    text = message.text
                    if text:
                        streamed.append(text)
                        yield event({"type": "text_delta", "content": text})
            elif mode == "custom":
                if isinstance(chunk, dict) and chunk.get("content"):
                    yield event({"type": "function_call", "content": str(chunk["content"])})
            elif mode == "updates":
                for update in chunk.values():
                    if isinstance(update, dict):
                        state.update(update)
        completed = {"response": {"response_text": state.get("reply", "".join(streamed).strip()),
                                  "references": public_references(state)},
                     "model": plan.display_model}
        final: dict[str, Any] = {"type": "completed", "content": json.dumps(completed, ensure_ascii=False)}
        if plan.include_debug:
            final["tool_calls"] = state.get("tool_calls") or []
        yield event(final)
    except Exception:
        log.exception("ghostwriter chat stream failed")
        yield event({"type": "error", "content": PROVIDER_FAILED})
    finally:
        with anyio.CancelScope(shield=True):
            await settle(services, plan, usage_of(plan, state, "".join(streamed)))
    yield DONE


def streaming_response(services: Services, plan: ChatPlan) -> StreamingResponse:
    return StreamingResponse(chat_events(services, plan), media_type="text/plain; charset=utf-8",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
