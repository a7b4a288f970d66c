"""`personas serve` has a shutdown deadline: on SIGTERM it stops taking connections, gives the
requests and streams in flight SHUTDOWN_GRACE_SECONDS, then cancels them (a request that sent
nothing yet answers 503 with Retry-After; its model call is closed), stops what it started and
exits by itself. The model is a slow stub on loopback whose every answer would take minutes."""

from __future__ import annotations

import asyncio
import json
import signal

import httpx
import psutil

from bench.stub_openai import Behaviour
from runtime.embedded_pg import postgres_pid
from tests.server.ghostwriter.test_load_shedding import make_persona, wait_until
from tests.server.test_process_lifecycle import Serve, _gone
from tests.support.ghostwriter import API_KEY, HEADERS
from tests.support.upstream_log import logged_stub

GRACE = 4


async def test_sigterm_with_requests_in_flight_ends_them_after_the_grace_and_exits(tmp_path):
    stub, calls = logged_stub(Behaviour(tokens=40))
    serve = Serve(
        tmp_path,
        stub,
        SHUTDOWN_GRACE_SECONDS=str(GRACE),
        BO_API_KEY=API_KEY,
        BO_BUDGET_TOKENS="100000000",
        JWT_SECRET="x" * 48,
    )
    try:
        await asyncio.to_thread(serve.wait_healthy)
        started = serve.started()
        base = f"http://127.0.0.1:{serve.port}"
        async with httpx.AsyncClient(base_url=base, timeout=120) as client:
            aid = await make_persona(client)
            stub.behaviour.tokens, stub.behaviour.delay = 1000, 0.3  # every answer takes five minutes
            chat = f"/ghostwriter/personas/{aid}/chat"
            whole = asyncio.create_task(
                client.post(chat, headers=HEADERS, json={"message": "answer in one piece", "stream": False})
            )
            streamed: list[str] = []

            async def read_stream() -> None:
                async with client.stream("POST", chat, headers=HEADERS, json={"message": "answer as a stream"}) as r:
                    async for line in r.aiter_lines():
                        streamed.append(line)

            stream = asyncio.create_task(read_stream())
            await wait_until(lambda: any('"text_delta"' in line for line in streamed), "the stream sent a delta")
            await wait_until(lambda: any(c.open for c in calls.about("answer in one piece")), "the model was asked")

            serve.proc.send_signal(signal.SIGTERM)

            async def refused() -> bool:
                try:
                    async with httpx.AsyncClient(base_url=base, timeout=5) as other:
                        await other.get("/health")
                except httpx.ConnectError:
                    return True
                return False

            await wait_until(refused, "new connections were refused")
            assert not whole.done()  # refused while the request in flight still had its grace
            answer = await whole
            await asyncio.wait_for(stream, timeout=60)  # the stream ends at the deadline
        code = await asyncio.to_thread(serve.proc.wait, 60)
        log = (tmp_path / f"serve-{serve.port}.log").read_text()
        assert code == 128 + signal.SIGTERM, log[-3000:]  # it ended itself (a kill by the signal is -15)
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1", answer.text
        assert answer.json() == {"detail": "The service is shutting down; try again"}
        payloads = [line.removeprefix("data: ") for line in streamed if line.startswith("data: ")]
        assert payloads[-1] == "[DONE]"  # the stream cut at the deadline still ends as the contract says
        assert json.loads(payloads[-2]) == {"type": "error", "content": "The service is shutting down; try again"}
        for asked in ("answer in one piece", "answer as a stream"):
            assert [c.closed_early for c in calls.about(asked)] == [True], asked
        assert _gone(started) == []
        assert postgres_pid(serve.data_dir / "pg") is None
    finally:
        if serve.proc.poll() is None:
            for child in psutil.Process(serve.proc.pid).children(recursive=True):
                child.kill()
            serve.proc.kill()
        serve.log.close()
        stub.stop()
