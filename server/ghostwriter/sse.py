"""Streaming chat: `text/plain` with `data: {json}\\n\\n` lines, as the ghostwriter contract documents.

Events: function_call (progress), text_delta (model chunks as produced), completed (JSON
string with response.response_text, response.references and model; tool_calls and the guard's
blocked events when include_debug), error (no internals), then `data: [DONE]`. Text deltas are
the reply as it passes the guard (its last words are held back until they are checked).

Every stream that starts ends with `[DONE]`, after an `error` event when anything failed (a
stream still running when the server's shutdown grace runs out included). A client that goes away
ends the response: the turn's stream is closed at once, which cancels the graph run and the model
call upstream, and the turn is settled whether or not the stream ever ran.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import anyio
from fastapi.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from server.disconnect import SHUTTING_DOWN
from server.sse_frames import DONE, event
from use_cases.ghostwriter.chat import ChatEvent, ChatTurn
from use_cases.ghostwriter.errors import PROVIDER_FAILED

log = logging.getLogger(__name__)

_TYPES = {"progress": "function_call", "text": "text_delta", "error": "error"}


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
        final["fact_check"] = item.reply.fact_check
    return event(final)


async def chat_events(turn: ChatTurn, include_debug: bool) -> AsyncGenerator[str, None]:
    failed = False
    try:
        async with aclosing(turn.stream()) as events:
            async for item in events:
                failed = failed or item.kind == "error"
                yield frame(item, include_debug)
    except Exception:  # the turn reports its own failures; this is anything past them
        log.exception("ghostwriter chat stream failed outside the turn")
        if not failed:
            yield event({"type": "error", "content": PROVIDER_FAILED})
    yield DONE


class ChatStreamResponse(StreamingResponse):
    """Closes the event stream as soon as the response ends, however it ends (a client that went
    away raises on the next write), rather than when the generator is collected; and ends the
    turn even when the stream never started."""

    def __init__(self, turn: ChatTurn, include_debug: bool) -> None:
        self.events = chat_events(turn, include_debug)
        self.turn = turn
        super().__init__(
            self.events,
            media_type="text/plain; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, tracking_send)
        except asyncio.CancelledError:
            # Not the client leaving (that ends the response without a cancel): the server's
            # shutdown grace ran out. The stream still ends as the contract says, error then [DONE].
            if not started:
                raise
            with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                for line in (event({"type": "error", "content": SHUTTING_DOWN}), DONE):
                    await send({"type": "http.response.body", "body": line.encode(), "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
            raise
        finally:
            await self.events.aclose()
            self.turn.finish(None)


def streaming_response(turn: ChatTurn, include_debug: bool) -> StreamingResponse:
    return ChatStreamResponse(turn, include_debug)
