"""Streaming chat: `text/plain` with `data: {json}\\n\\n` lines, as the ghostwriter contract documents.

Events: function_call (progress), text_delta (model chunks as produced), completed (JSON
string with response.response_text, response.references and model; tool_calls and the guard's
blocked events when include_debug), error (no internals), then `data: [DONE]`. Text deltas are
the reply as it passes the guard (its last words are held back until they are checked). A client disconnect closes the
turn's stream, which cancels the graph run and the model call; the budget is settled anyway.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi.responses import StreamingResponse

from services.ghostwriter.chat import ChatEvent, ChatTurn

DONE = "data: [DONE]\n\n"
_TYPES = {"progress": "function_call", "text": "text_delta", "error": "error"}


def event(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"


def frame(item: ChatEvent, include_debug: bool) -> str:
    if item.reply is None:
        return event({"type": _TYPES[item.kind], "content": item.text})
    completed = {
        "response": {"response_text": item.reply.text, "references": item.reply.references},
        "model": item.reply.model,
    }
    final: dict[str, Any] = {"type": "completed", "content": json.dumps(completed, ensure_ascii=False)}
    if include_debug:
        final["tool_calls"] = item.reply.tool_calls
        final["blocked"] = item.reply.blocked
    return event(final)


async def chat_events(turn: ChatTurn, include_debug: bool) -> AsyncIterator[str]:
    async with aclosing(turn.stream()) as events:
        async for item in events:
            yield frame(item, include_debug)
    yield DONE


def streaming_response(turn: ChatTurn, include_debug: bool) -> StreamingResponse:
    return StreamingResponse(
        chat_events(turn, include_debug),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
