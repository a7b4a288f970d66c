"""The process's shared services: settings, database pool, checkpointer, models.

`Services.create` does the cheap, synchronous part (it needs the database URL,
so it starts the embedded Postgres when no DATABASE_URL is set); `start` opens
the pool, applies migrations, prepares the checkpointer and starts the local
model. Graphs find the running services through `current_services()`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool

from runtime.database import make_pool, open_pool, resolve_database_url
from runtime.embeddings import make_embeddings
from runtime.local_llm import LocalLLMServer
from runtime.models import parse_model_name, set_local_base_url
from runtime.settings import Settings, get_settings

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    checkpointer: AsyncPostgresSaver
    local_llm: LocalLLMServer | None = None
    embeddings: Embeddings | None = None
    started: bool = False
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def create(cls, settings: Settings | None = None) -> "Services":
        settings = settings or get_settings()
        parse_model_name(settings.chat_model)  # unknown model names stop start-up here
        url = resolve_database_url(settings)
        pool = make_pool(url, settings)
        return cls(settings=settings, database_url=url, pool=pool, checkpointer=AsyncPostgresSaver(pool))

    async def start(self, *, with_model: bool = True, with_embeddings: bool = True) -> "Services":
        from store.migrate import apply_migrations

        if self.started:
            return self
        await open_pool(self.pool, self.database_url, self.settings.database_connect_timeout)
        async with self.pool.connection() as conn:
            applied = await apply_migrations(conn)
        if applied:
            log.info("applied migrations: %s", ", ".join(applied))
        await self.checkpointer.setup()
        # The model server and the embeddings load in parallel: both take seconds.
        slow_starts = []
        if with_model and parse_model_name(self.settings.chat_model).provider == "local":
            slow_starts.append(asyncio.to_thread(self._start_local_llm))
        if with_embeddings and self.embeddings is None:
            slow_starts.append(asyncio.to_thread(self._load_embeddings))
        await asyncio.gather(*slow_starts)
        self.started = True
        set_current_services(self)
        return self

    def _start_local_llm(self) -> None:
        s = self.settings
        server = LocalLLMServer(s.local_llm_model_path, port=s.local_llm_port, threads=s.local_llm_threads,
                                context=s.local_llm_context, start_timeout=s.local_llm_start_timeout,
                                log_path=s.data_dir / "local-llm.log")
        s.data_dir.mkdir(parents=True, exist_ok=True)
        set_local_base_url(server.start())
        self.local_llm = server

    def _load_embeddings(self) -> None:
        self.embeddings = make_embeddings(self.settings.embedding_model, self.settings)

    def require_embeddings(self) -> Embeddings:
        if self.embeddings is None:
            self.embeddings = make_embeddings(self.settings.embedding_model, self.settings)
        return self.embeddings

    async def stop(self) -> None:
        if self.local_llm is not None:
            await asyncio.to_thread(self.local_llm.stop)
            set_local_base_url(None)
            self.local_llm = None
        await self.pool.close()
        self.started = False
        if current_services() is self:
            set_current_services(None)


_current: Services | None = None


def set_current_services(services: Services | None) -> None:
    global _current
    _current = services


def current_services() -> Services | None:
    return _current


def current_settings() -> Settings:
    """The running service's settings; the environment's when no service runs in this process."""
    return _current.settings if _current is not None else get_settings()


async def ensure_services() -> Services:
    """The running services; started from the environment when a graph runs outside the server
    (LangGraph Studio, a notebook)."""
    if _current is None:
        await Services.create().start()
    assert _current is not None
    return _current
