"""Liveness and readiness for orchestrators: /health/live answers while the database is frozen or
gone; /health/ready names the database when it is down and the model server when it is gone or
wedged, but stays 200 while the model server is only busy with other requests (and /health
follows the same rule). Over real HTTP: the app on uvicorn on 127.0.0.1, an embedded Postgres of
the test's own, a single-worker OpenAI-compatible stub model server on loopback, and the real
llama.cpp server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
from collections.abc import Callable

import httpx
import pytest

from runtime.embedded_pg import restart_if_dead
from runtime.local_llm import LocalLLMServer
from runtime.settings import Settings
from tests.runtime.test_database_faults import _kill_and_wait, _server_processes
from tests.support.stub_server import LoopbackServer, StubHandler

MODELS = b'{"object": "list", "data": [{"id": "stub", "object": "model", "owned_by": "test"}]}'


def _chunk(content: str, finish: str | None = None) -> bytes:
    payload = {
        "id": "chatcmpl-stub",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "stub",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


class SingleWorkerModel(LoopbackServer):
    """An OpenAI-compatible model server that, like llama-cpp-python's, works on one request at a
    time: GET /v1/models waits while a completion runs. A completion runs until `finish()`,
    streaming a chunk every 50 ms, or nothing at all when `stuck` (a wedged server)."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.worker = threading.Lock()
        self.running = threading.Event()  # a completion holds the worker
        self.done = threading.Event()
        self.models_answered = 0
        stub = self

        class Handler(StubHandler):
            def do_GET(self):  # noqa: N802
                if self.path != "/v1/models":
                    self.send_json(404, b"{}")
                    return
                with stub.worker:
                    stub.models_answered += 1
                    try:
                        self.send_json(200, MODELS)
                    except OSError:  # the prober stopped waiting
                        pass

            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with stub.worker:
                    stub.running.set()
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.end_headers()
                        while not stub.done.wait(0.05):
                            if not stuck:
                                self.wfile.write(_chunk("river "))
                                self.wfile.flush()
                        self.wfile.write(_chunk("", "stop") + b"data: [DONE]\n\n")
                    except OSError:
                        pass
                    finally:
                        stub.running.clear()

        super().__init__(Handler)
        self.url += "/v1"

    def finish(self) -> None:
        """End the running completion (and every later one at once)."""
        self.done.set()


def _stream_completion(base_url: str, chunks: list[dict]) -> threading.Thread:
    """A streaming chat completion straight to the model server (another request keeping it busy:
    a survey, another replica's chat turn), read to its end in a thread; its chunks land in
    `chunks`."""

    def run() -> None:
        body = {
            "model": "smollm2",
            "stream": True,
            "max_tokens": 200,
            "messages": [{"role": "user", "content": "Write a long story about a river and a town."}],
        }
        with httpx.stream("POST", f"{base_url}/chat/completions", json=body, timeout=300) as r:
            for line in r.iter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunks.append(json.loads(line[len("data: ") :]))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


async def _until(
    http: httpx.AsyncClient, path: str, done: Callable[[httpx.Response], bool], rounds: int = 300
) -> list[httpx.Response]:
    """GET `path` until `done` says so (a bounded number of times); every answer, in order."""
    seen: list[httpx.Response] = []
    for _ in range(rounds):
        r = await http.get(path)
        seen.append(r)
        if done(r):
            return seen
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never reached the expected state: {seen[-1].status_code} {seen[-1].text}")


def _model(r: httpx.Response) -> dict:
    return r.json()["checks"]["model"]


# --------------------------------------------------------------------------- the database


@pytest.fixture
def embedded_settings(tmp_path) -> Settings:
    """An embedded Postgres of the test's own, not supervised: it stays down until started."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        chat_model="fake:scripted",
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
        database_statement_timeout=2,
        database_pool_timeout=1,
        embedded_pg_supervise_seconds=0,
    )


async def test_live_answers_while_the_database_is_frozen_or_gone_and_ready_names_it(live_app, embedded_settings):
    data_dir = embedded_settings.database_dir
    with live_app(embedded_settings) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            r = await http.get("/health/ready")
            assert r.status_code == 200, r.text
            assert r.json() == {
                "status": "ok",
                "checks": {
                    "database": {"ok": True, "detail": "ok"},
                    "model": {"ok": True, "detail": "configured (fake:scripted; not probed)"},
                },
            }
            assert (await http.get("/health/live")).json() == {"status": "ok"}

            frozen = _server_processes(data_dir)
            for process in frozen:
                process.send_signal(signal.SIGSTOP)
            try:
                live = await http.get("/health/live")
                assert live.status_code == 200 and live.json() == {"status": "ok"}
                r = await http.get("/health/ready")
                assert r.status_code == 503
                assert r.json()["status"] == "degraded"
                assert r.json()["checks"]["database"]["ok"] is False
                assert r.json()["checks"]["model"]["ok"] is True
            finally:
                for process in frozen:
                    process.send_signal(signal.SIGCONT)
            await _until(http, "/health/ready", lambda r: r.status_code == 200)

            await asyncio.to_thread(_kill_and_wait, data_dir)
            for _ in range(3):
                live = await http.get("/health/live")
                assert live.status_code == 200 and live.json() == {"status": "ok"}
                r = await http.get("/health/ready")
                assert r.status_code == 503
                database = r.json()["checks"]["database"]
                assert database["ok"] is False and database["detail"].startswith("unreachable (")
                assert (await http.get("/health")).status_code == 503
            for _ in range(100):  # what the supervisor does, once the dead server's backends are gone
                try:
                    if await asyncio.to_thread(restart_if_dead, data_dir):
                        break
                except Exception:
                    await asyncio.sleep(0.2)
            r = (await _until(http, "/health/ready", lambda r: r.status_code == 200))[-1]
            assert r.json()["checks"]["database"] == {"ok": True, "detail": "ok"}
            assert (await http.get("/health")).status_code == 200


# --------------------------------------------------------------------------- a remote model server


def _stub_settings(settings: Settings, stub: SingleWorkerModel) -> Settings:
    return settings.model_copy(update={"chat_model": "openai:stub", "openai_base_url": stub.url})


async def test_ready_and_health_stay_200_while_the_model_server_is_busy(live_app, settings):
    stub = SingleWorkerModel()
    survey: list[dict] = []
    try:
        with live_app(_stub_settings(settings, stub)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                streaming = _stream_completion(stub.url, survey)
                assert await asyncio.to_thread(stub.running.wait, 30)
                ready = await http.get("/health/ready")
                health = await http.get("/health")
                assert ready.status_code == 200, ready.text
                assert ready.json()["status"] == "ok"
                assert ready.json()["checks"]["database"] == {"ok": True, "detail": "ok"}
                assert _model(ready)["ok"] is True and _model(ready)["detail"].startswith("busy ("), ready.text
                assert health.status_code == 200, health.text
                assert health.json()["status"] == "ok"
                assert _model(health)["ok"] is True and _model(health)["detail"].startswith("busy (")
                # the probe still waits behind the completion, which still streams
                assert stub.models_answered == 0 and stub.running.is_set() and streaming.is_alive()

                stub.finish()
                await asyncio.to_thread(streaming.join, 30)
                await _until(http, "/health/ready", lambda r: _model(r) == {"ok": True, "detail": "ok"})
                assert stub.models_answered >= 1  # the queued probe was answered once the worker was free
                assert survey[-1]["choices"][0]["finish_reason"] == "stop" and len(survey) > 1
    finally:
        stub.finish()
        stub.close()


async def test_ready_names_the_model_server_when_it_is_gone(live_app, settings):
    stub = SingleWorkerModel()
    try:
        with live_app(_stub_settings(settings, stub)) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                r = await http.get("/health/ready")
                assert r.status_code == 200 and _model(r) == {"ok": True, "detail": "ok"}, r.text
                stub.close()  # the port now refuses connections
                r = await http.get("/health/ready")
                assert r.status_code == 503, r.text
                assert r.json()["status"] == "degraded"
                assert _model(r) == {"ok": False, "detail": "provider unreachable (ConnectError)"}
                assert r.json()["checks"]["database"] == {"ok": True, "detail": "ok"}
                health = await http.get("/health")
                assert health.status_code == 503 and _model(health)["ok"] is False
                assert (await http.get("/health/live")).status_code == 200
    finally:
        stub.finish()
        stub.close()


async def test_a_wedged_model_server_is_not_ready_until_it_moves_again(live_app, settings):
    stub = SingleWorkerModel(stuck=True)  # accepts connections; its one completion never moves
    try:
        short_stall = _stub_settings(settings, stub).model_copy(update={"model_stall_seconds": 2.0})
        with live_app(short_stall) as server:
            async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
                stuck = _stream_completion(stub.url, [])
                assert await asyncio.to_thread(stub.running.wait, 30)
                seen = await _until(http, "/health/ready", lambda r: r.status_code == 503)
                for before in seen[:-1]:  # busy until the stall is long enough
                    assert before.status_code == 200 and _model(before)["detail"].startswith("busy ("), before.text
                wedged = _model(seen[-1])
                assert wedged["ok"] is False
                assert wedged["detail"].startswith("wedged (accepts connections, no progress for "), wedged
                health = await http.get("/health")
                assert health.status_code == 503 and _model(health)["detail"].startswith("wedged (")

                stub.finish()  # it moves again: the next probe is answered
                await asyncio.to_thread(stuck.join, 30)
                r = (await _until(http, "/health/ready", lambda r: r.status_code == 200))[-1]
                assert _model(r) == {"ok": True, "detail": "ok"}
    finally:
        stub.finish()
        stub.close()


# --------------------------------------------------------------------------- the local llama.cpp server


@pytest.fixture
async def own_local_llm():
    """A llama.cpp server (SmolLM2) of this test's own: it is stopped, frozen and killed."""
    server = LocalLLMServer(threads=2, context=1024)
    await asyncio.to_thread(server.start)
    yield server
    pid = server.pid
    if pid is not None:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
    await asyncio.to_thread(server.stop)


async def test_the_local_model_server_busy_wedged_and_gone(client, services, own_local_llm):
    services.settings.chat_model = "local:smollm2"
    services.local_llm = own_local_llm
    try:
        r = await client.get("/health/ready")
        assert r.status_code == 200 and _model(r) == {"ok": True, "detail": "ok"}, r.text

        # busy: a streaming completion runs while the probes come; none of them cuts it short
        # (llama-cpp-python ends a running stream when another request arrives, unless started
        # with --interrupt_requests False)
        chunks: list[dict] = []
        streaming = _stream_completion(own_local_llm.base_url, chunks)
        for _ in range(600):
            if chunks or not streaming.is_alive():
                break
            await asyncio.sleep(0.05)
        ready, health = await client.get("/health/ready"), await client.get("/health")
        assert ready.status_code == 200 and _model(ready)["ok"] is True, ready.text
        assert health.status_code == 200 and _model(health)["ok"] is True, health.text
        await asyncio.to_thread(streaming.join, 300)
        assert chunks[-1]["choices"][0]["finish_reason"] in ("stop", "length"), chunks[-1]
        assert len(chunks) > 5

        # wedged: the process is frozen: it accepts connections (the kernel does) but neither
        # answers nor uses CPU
        services.settings.model_stall_seconds = 2.0
        pid = own_local_llm.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        try:
            seen = await _until(client, "/health/ready", lambda r: r.status_code == 503)
            assert _model(seen[-1])["detail"].startswith("wedged (accepts connections, no progress for ")
            assert (await client.get("/health")).status_code == 503
            assert (await client.get("/health/live")).status_code == 200
        finally:
            os.kill(pid, signal.SIGCONT)
        r = (await _until(client, "/health/ready", lambda r: r.status_code == 200))[-1]
        assert _model(r) == {"ok": True, "detail": "ok"}

        # gone: the process was killed (its port closes a moment before it can be reaped)
        os.kill(pid, signal.SIGKILL)
        exited = {"ok": False, "detail": "local model server exited (code -9)"}
        seen = await _until(client, "/health/ready", lambda r: _model(r) == exited)
        for r in seen:  # at first perhaps "unreachable (ConnectError)"
            assert r.status_code == 503 and r.json()["status"] == "degraded", r.text
            assert _model(r)["ok"] is False
        assert (await client.get("/health")).status_code == 503
        assert (await client.get("/health/live")).status_code == 200
    finally:
        services.local_llm = None  # the fixture stops it
