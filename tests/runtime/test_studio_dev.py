"""The embedded Postgres stops with whatever started it: the services, the LangGraph dev server
(on stop and on reload) and `personas serve` on SIGTERM; handles of processes that died without
cleaning up are pruned, so they no longer keep the server alive."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from runtime.embedded_pg import PIDS_FILE, handle_pids, postgres_pid
from runtime.local_llm import free_port
from runtime.services import Services, current_services, ensure_services, stop_current_services
from runtime.settings import Settings, get_settings
from tests.support.dev_server import langgraph_dev, needs_studio, service_env, wait_for


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _embedded_settings(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=None,
        data_dir=tmp_path / "data",
        chat_model="openai:gpt-4.1",
        openai_api_key="unused",
        twin_demo_autoload=False,
    )


async def test_stopping_the_services_stops_the_embedded_postgres_and_prunes_dead_handles(tmp_path, local_embeddings):
    settings = _embedded_settings(tmp_path)
    services = await Services.acreate(settings)
    services.embeddings = local_embeddings
    await services.start(with_model=False)
    pg_dir = settings.database_dir.resolve()
    assert postgres_pid(pg_dir) is not None
    # a process that was killed while it used the server (a reloaded dev server) left its pid behind
    dead = _dead_pid()
    (pg_dir / PIDS_FILE).write_text(json.dumps([dead, *handle_pids(pg_dir)]))
    await services.stop()
    assert postgres_pid(pg_dir) is None, "the embedded Postgres outlived the services that started it"
    assert handle_pids(pg_dir) == []
    await services.stop()  # twice is fine

    again = await Services.acreate(settings)  # and it starts again in the same process
    try:
        await again.start(with_model=False, with_embeddings=False)
        assert postgres_pid(pg_dir) is not None and handle_pids(pg_dir) == [os.getpid()]
    finally:
        await again.stop()
    assert postgres_pid(pg_dir) is None


async def test_two_users_in_one_process_share_the_server_until_the_last_stops(tmp_path):
    settings = _embedded_settings(tmp_path)
    first, second = await Services.acreate(settings), await Services.acreate(settings)
    pg_dir = settings.database_dir.resolve()
    try:
        await first.start(with_model=False, with_embeddings=False)
        await second.start(with_model=False, with_embeddings=False)
        await first.stop()
        assert postgres_pid(pg_dir) is not None
        async with second.pool.connection() as conn:
            assert (await (await conn.execute("SELECT 1 AS one")).fetchone())["one"] == 1
    finally:
        await first.stop()
        await second.stop()
    assert postgres_pid(pg_dir) is None


@pytest.fixture
async def fresh_environment(tmp_path, monkeypatch, local_embeddings):
    """A process whose services start from the environment: no DATABASE_URL, so the embedded Postgres."""
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CHAT_MODEL", "openai:gpt-4.1")
    monkeypatch.setenv("OPENAI_API_KEY", "unused")
    monkeypatch.setattr("runtime.services.make_embeddings", lambda name, settings: local_embeddings)
    get_settings.cache_clear()
    await stop_current_services()
    yield
    await stop_current_services()
    get_settings.cache_clear()


async def test_concurrent_first_calls_start_the_services_once(fresh_environment):
    import asyncio

    first, second, third = await asyncio.gather(ensure_services(), ensure_services(), ensure_services())
    assert first is second is third is current_services()
    assert first.ready and handle_pids(first.embedded_pg_dir) == [os.getpid()]


async def test_the_dev_server_lifespan_stops_the_services_the_graphs_started(fresh_environment, local_embeddings):
    from server.langgraph_app import app

    async with app.router.lifespan_context(app):
        services = await ensure_services()  # what a graph's first node does
        assert services.embeddings is local_embeddings
        pg_dir = services.embedded_pg_dir
        assert pg_dir is not None and postgres_pid(pg_dir) is not None
    assert current_services() is None
    assert postgres_pid(pg_dir) is None


def test_personas_serve_stops_the_embedded_postgres_on_sigterm(tmp_path):
    port = free_port()
    env = service_env(tmp_path, CHAT_MODEL="openai:gpt-4.1", OPENAI_API_KEY="unused", PORT=str(port))
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    pg_dir = (tmp_path / "data" / "pg").resolve()
    try:
        wait_for(f"http://127.0.0.1:{port}/health", proc)
        assert postgres_pid(pg_dir) is not None
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")
    assert postgres_pid(pg_dir) is None, "the embedded Postgres outlived `personas serve`"
    assert handle_pids(pg_dir) == []


@needs_studio
def test_langgraph_dev_runs_a_graph_and_leaves_nothing_running(tmp_path):
    """The real dev server, blockbuster on: persona_chat with an inline persona on the local model
    starts everything from the graph; stopping the server stops the database and the model server."""
    import psutil

    pg_dir = (tmp_path / "data" / "pg").resolve()
    with langgraph_dev(service_env(tmp_path, CHAT_MODEL="local:smollm2")) as server:
        with httpx.Client(base_url=server.base_url, timeout=300) as client:
            thread = client.post("/threads", json={}).json()["thread_id"]
            body = {
                "assistant_id": "persona_chat",
                "context": {"max_tokens": 8, "temperature": 0.0},
                "input": {
                    "persona": {"name": "Gwen", "system_prompt": "A novelist from Leeds."},
                    "messages": [{"type": "human", "content": "Say hello."}],
                },
            }
            out = client.post(f"/threads/{thread}/runs/wait", json=body).json()
        assert out.get("reply", "").strip(), out
        assert postgres_pid(pg_dir) is not None
        llama = [
            p
            for p in psutil.Process(server.proc.pid).children(recursive=True)
            if "runtime.llama_server" in " ".join(p.cmdline())
        ]
        assert llama
    assert postgres_pid(pg_dir) is None, "the embedded Postgres outlived `langgraph dev`"
    assert handle_pids(pg_dir) == []
    _gone, alive = psutil.wait_procs(llama, timeout=15)
    assert alive == []
