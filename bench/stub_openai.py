"""A fast OpenAI-compatible chat model on loopback, for load benchmarks and fault tests.

`POST /v1/chat/completions` answers with `tokens` plain words (`max_tokens` caps them),
streamed as chat.completion.chunk events with `delay` seconds between chunks and a final usage
chunk when asked for (`stream_options.include_usage`), or as one JSON body after the same time. A request whose last
message asks for JSON ("Return JSON with") gets a style analysis, so personas can be built with it.
`GET /v1/models` lists the model, `GET /stats` counts streams started, completed and aborted (the
client went away before the last chunk), and `POST /control` changes the behaviour at run time:
`{"tokens": 50, "delay": 0.01, "fail": false}` (`fail` answers 500).

Run: `python -m bench.stub_openai --port 8900`, or `StubOpenAI().start()` in a thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

# plain words: nothing the prompt guard could take for a code, a secret or an order
WORDS = ["sun", "tree", "river", "stone", "cloud", "field", "bread", "lamp", "road", "garden", "window", "song"]
ANALYSIS = {"traits": ["short plain sentences"], "voice": "A calm, plain writer.", "topics": ["markets", "tech"]}


@dataclass
class Behaviour:
    tokens: int = 40
    delay: float = 0.0
    fail: bool = False


@dataclass
class Counters:
    requests: int = 0
    streams_started: int = 0
    streams_completed: int = 0
    streams_aborted: int = 0
    tokens_sent: int = 0


class StubOpenAI:
    def __init__(self, port: int = 0, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.counters = Counters()
        self.port = port
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models, methods=["GET"]),
                Route("/stats", self.stats, methods=["GET"]),
                Route("/control", self.control, methods=["POST"]),
            ]
        )
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- routes

    async def models(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "bench"}]})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(asdict(self.counters))

    async def control(self, request: Request) -> Response:
        for key, value in (await request.json()).items():
            setattr(self.behaviour, key, value)
        return JSONResponse(asdict(self.behaviour))

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.counters.requests += 1
        if self.behaviour.fail:
            return JSONResponse({"error": {"message": "stub failure", "type": "server_error"}}, status_code=500)
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or self.behaviour.tokens
        words = self._reply(body, min(int(limit), self.behaviour.tokens))
        prompt_tokens = sum(len(str(m.get("content", "")).split()) + 4 for m in body.get("messages", []))
        if not body.get("stream"):
            if self.behaviour.delay:  # as long as streaming the same words would take
                await asyncio.sleep(self.behaviour.delay * len(words))
            return JSONResponse(
                {
                    "id": f"chatcmpl-{uuid.uuid4().hex}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "stub"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": "".join(words)},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {
                        "prompt_tokens": prompt_tokens,
                        "completion_tokens": len(words),
                        "total_tokens": prompt_tokens + len(words),
                    },
                }
            )
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamingResponse(
            self._stream(body.get("model", "stub"), words, prompt_tokens, usage), media_type="text/event-stream"
        )

    def _reply(self, body: dict[str, Any], count: int) -> list[str]:
        messages = body.get("messages") or [{}]
        last = messages[-1].get("content", "")
        if "Return JSON with" in json.dumps(last):
            return [json.dumps(ANALYSIS)]
        return [f"{WORDS[i % len(WORDS)]} " for i in range(count)]

    async def _stream(self, model: str, words: list[str], prompt_tokens: int, usage: bool) -> AsyncIterator[str]:
        self.counters.streams_started += 1
        ident = f"chatcmpl-{uuid.uuid4().hex}"
        finished = False

        def chunk(delta: dict[str, Any], finish: str | None = None, extra: dict[str, Any] | None = None) -> str:
            payload: dict[str, Any] = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if extra is None else [],
            }
            payload.update(extra or {})
            return f"data: {json.dumps(payload)}\n\n"

        try:
            yield chunk({"role": "assistant", "content": ""})
            for word in words:
                if self.behaviour.delay:
                    await asyncio.sleep(self.behaviour.delay)
                self.counters.tokens_sent += 1
                yield chunk({"content": word})
            yield chunk({}, "stop")
            if usage:
                counts = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words)}
                counts["total_tokens"] = counts["prompt_tokens"] + counts["completion_tokens"]
                yield chunk({}, extra={"usage": counts})
            yield "data: [DONE]\n\n"
            finished = True
        finally:
            if finished:
                self.counters.streams_completed += 1
            else:
                self.counters.streams_aborted += 1

    # ---------------------------------------------------------------- serving

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> StubOpenAI:
        """Serve in a background thread (its own event loop) until `stop`."""
        import socket

        if not self.port:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", 0))
                self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", backlog=4096)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the stub model server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8900)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()
    stub = StubOpenAI(args.port, Behaviour(tokens=args.tokens, delay=args.delay))
    uvicorn.run(stub.app, host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)


if __name__ == "__main__":
    main()
