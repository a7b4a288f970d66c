"""A streamed chat completion as OpenAI frames it: `data: {chat.completion.chunk}` events (the
first with `delta.role`, then `delta.content` pieces, then one with `finish_reason: "stop"`),
with `stream_options.include_usage` a last chunk with no choices and the turn's `usage`, then
`data: [DONE]`.

The pieces are the reply as it passes the persona's guard (its last words are held back until
checked; a cut reply goes on with the persona's refusal). A failure after the response started
is an `data: {"error": {...}}` event in the mount's error shape (OpenAI's SDKs raise it), then
`[DONE]`. A client that goes away ends the turn at once, which cancels the model call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from runtime.errors import DATABASE_UNAVAILABLE, INTERNAL
from server.openai_compat.errors import error_body
from server.openai_compat.schemas import Usage, completion_id, now
from server.sse_frames import DONE, event
from use_cases.ghostwriter.errors import PROVIDER_FAILED
from use_cases.openai_compat import PersonaTurn

log = logging.getLogger(__name__)

# the turn's error sentences -> the status they stand for
_ERROR_STATUS = {PROVIDER_FAILED: 502, DATABASE_UNAVAILABLE: 503}


class ChunkFrame:
    """The fields every chunk of one completion repeats."""

    def __init__(self, model: str, include_usage: bool) -> None:
        self.head = {"id": completion_id(), "object": "chat.completion.chunk", "created": now(), "model": model}
        self.include_usage = include_usage

    def choice(self, delta: dict[str, str], finish_reason: str | None = None) -> str:
        chunk: dict[str, Any] = {
            **self.head,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
        }
        if self.include_usage:  # as OpenAI: every chunk carries `usage`, null until the last
            chunk["usage"] = None
        return event(chunk)

    def usage(self, usage: Usage) -> str:
        return event({**self.head, "choices": [], "usage": usage.model_dump()})


def error_event(message: str) -> str:
    status = _ERROR_STATUS.get(message, 500)
    return event(error_body(status, message if status != 500 else INTERNAL))


async def completion_chunks(turn: PersonaTurn, frame: ChunkFrame) -> AsyncGenerator[str, None]:
    yield frame.choice({"role": "assistant", "content": ""})
    streamed: list[str] = []
    failed = False
    try:
        async with aclosing(turn.stream()) as events:
            async for item in events:
                if item.kind == "text":
                    streamed.append(item.text)
                    yield frame.choice({"content": item.text})
                elif item.kind == "completed":
                    yield frame.choice({}, finish_reason="stop")
                elif item.kind == "error":
                    failed = True
                    yield error_event(item.text)
        # the turn's stream has ended, so the graph's usage record is in
        if frame.include_usage and not failed:
            yield frame.usage(Usage.of(await turn.token_usage("".join(streamed))))
    except Exception:  # the turn reports its own failures; this is anything past them
        log.exception("chat completion stream failed outside the turn")
        if not failed:
            yield error_event(INTERNAL)
    yield DONE


class CompletionStream(StreamingResponse):
    """Closes the chunk stream as soon as the response ends, however it ends (a client that went
    away raises on the next write), and ends the turn even when the stream never started."""

    def __init__(self, turn: PersonaTurn, model: str, include_usage: bool) -> None:
        self.chunks = completion_chunks(turn, ChunkFrame(model, include_usage))
        self.turn = turn
        super().__init__(
            self.chunks,
            media_type="text/event-stream; charset=utf-8",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.chunks.aclose()
            self.turn.finish(None)
