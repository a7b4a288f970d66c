"""Shared fixtures: a real PostgreSQL + pgvector (pgserver), fresh databases, the
local embeddings, the scripted fake model, the real local model, app clients and
a real uvicorn on 127.0.0.1."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from contextlib import asynccontextmanager

import httpx
import pgserver
import pytest
import uvicorn

import runtime.services
from runtime.embeddings import make_embeddings
from runtime.local_llm import LocalLLMServer, free_port
from runtime.models import set_local_base_url
from runtime.services import Services, set_current_services
from runtime.settings import Settings, get_settings
from tests.support.fakes import Script, install_fake_provider, remove_fake_provider
from tests.support.twin import small_segments
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet

logging.getLogger("pgserver").setLevel(logging.WARNING)


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="delete")
    yield server
    server.cleanup()


@pytest.fixture
def fresh_db_url(pg_server) -> str:
    """A new, empty database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    return pg_server.get_uri(database=name)


@pytest.fixture(scope="session")
def local_embeddings():
    return make_embeddings("local:all-minilm-l6-v2", Settings())


@pytest.fixture
def script():
    """The fake model's script; tests fill `script.replies` or set `script.responder`."""
    s = Script()
    install_fake_provider(s)
    yield s
    remove_fake_provider()


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return Settings(
        _env_file=None,
        database_url=fresh_db_url,
        data_dir=tmp_path / "data",
        chat_model="fake:scripted",
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
    )


@pytest.fixture
async def twins(services) -> SegmentSet:
    """The small test segment set, loaded into the services' database (the current services)."""
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    set_current_services(services)
    return segments


@pytest.fixture
async def services(settings, local_embeddings, script):
    """Started services on a fresh database, with the fake model and the local embeddings."""
    svc = Services.create(settings)
    svc.embeddings = local_embeddings
    await svc.start(with_model=False, with_embeddings=False)
    yield svc
    await svc.stop()


@asynccontextmanager
async def app_client(app):
    """An httpx client on the app through ASGITransport, with the app's lifespan run."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=60) as client:
            yield client


@pytest.fixture
async def client(services):
    from server.app import create_app

    app = create_app(services.settings, services=services)
    async with app_client(app) as c:
        yield c


@pytest.fixture(scope="session")
def local_llm():
    """The real llama.cpp server with SmolLM2, started once per test session."""
    server = LocalLLMServer(threads=2, context=2048)
    set_local_base_url(server.start())
    yield server
    server.stop()
    set_local_base_url(None)


@pytest.fixture(autouse=True)
def _reset_sse_starlette():
    """sse-starlette 1.x keeps a global exit event bound to the first event loop."""
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit_event = None
    yield
    AppStatus.should_exit_event = None
    set_current_services(None)


class LiveServer:
    """Uvicorn serving an app on 127.0.0.1 in a background thread (its own event loop)."""

    def __init__(self, app):
        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_app(settings, local_embeddings, script):
    """A factory: `with live_app() as server:` serves a fresh app (its own services) on loopback."""
    from server.app import create_app

    def make(app_settings: Settings | None = None) -> LiveServer:
        svc = Services.create(app_settings or settings)
        svc.embeddings = local_embeddings
        return LiveServer(create_app(svc.settings, services=svc, start_model=False, start_embeddings=False))

    return make


@pytest.fixture
def cli_env(settings, local_embeddings, monkeypatch, tmp_path) -> dict[str, str]:
    """The CLI's environment: the test's fresh database; returns it for subprocesses too."""
    env = {
        "DATABASE_URL": settings.database_url,
        "DATA_DIR": str(settings.data_dir),
        "EMBEDDING_MODEL": "local:all-minilm-l6-v2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)  # no stray .env

    def bundled_copy(name, _settings):
        assert name == "local:all-minilm-l6-v2"
        return local_embeddings

    monkeypatch.setattr(runtime.services, "make_embeddings", bundled_copy)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()
