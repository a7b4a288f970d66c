"""The stub OpenAI-compatible model (`bench.stub_openai`) with a log of every chat completion call:
what it asked, and whether its caller closed the connection before the answer was complete
(the service cancelled the model call) or read it to the end."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bench.stub_openai import Behaviour, StubOpenAI

COMPLETIONS = "/v1/chat/completions"


@dataclass
class Call:
    body: dict[str, Any]
    opened_at: float = field(default_factory=time.monotonic)
    completed: bool = False  # the whole answer was sent
    closed_early_at: float | None = None  # when the caller closed the connection before the end

    @property
    def closed_early(self) -> bool:
        return self.closed_early_at is not None

    @property
    def open(self) -> bool:
        return not self.completed and not self.closed_early

    def mentions(self, text: str) -> bool:
        return text in json.dumps(self.body, ensure_ascii=False)


class CallLog:
    """ASGI wrapper around the stub's app that records each completion call."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: list[Call] = []

    def about(self, text: str) -> list[Call]:
        return [c for c in list(self.calls) if c.mentions(text)]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != COMPLETIONS:
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        call = Call(json.loads(body or b"{}"))
        self.calls.append(call)
        over = asyncio.Event()
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            await over.wait()
            return {"type": "http.disconnect"}

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False) and not over.is_set():
                call.completed = True
            await send(message)

        async def watch() -> None:
            await receive()  # uvicorn reports the request over: the caller left, or the answer is complete
            if not call.completed:
                call.closed_early_at = time.monotonic()
            over.set()

        watcher = asyncio.create_task(watch())
        try:
            await self.app(scope, replay, tracked_send)
        finally:
            watcher.cancel()


def logged_stub(behaviour: Behaviour | None = None) -> tuple[StubOpenAI, CallLog]:
    """A started stub model whose calls are logged."""
    stub = StubOpenAI(behaviour=behaviour or Behaviour())
    log = CallLog(stub.app)
    stub.app = log  # type: ignore[assignment]
    return stub.start(), log
