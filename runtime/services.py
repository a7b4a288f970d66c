"""The process's shared services: settings, database pool, checkpointer, models.

Graph nodes get them from their run's context (`services_of(runtime.context)`: every graph's
context extends `ServicesContext`), where the caller put them; a context built from JSON
(LangGraph Studio, LangServe) cannot hold them, and then `ensure_services` gives the process's
own. In the server they are the ones its composition root created and started; anywhere else (LangGraph Studio's dev server, a notebook,
a script running a graph) the first call starts them from the environment: the database (the
embedded Postgres unless DATABASE_URL is set), the migrations, the checkpointer tables, the local
model server when the configured chat model is `local:...`, and the embeddings.

Nothing here blocks the event loop: the embedded Postgres, reading the migration files, the model
server and loading the embeddings run in threads (`langgraph dev` raises on a blocking call in a
node). `stop` releases everything, the embedded Postgres included, so a dev server that reloads
or a service that gets SIGTERM leaves no database server behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

from langchain_core.embeddings import Embeddings
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from psycopg import AsyncConnection
from psycopg.rows import DictRow
from psycopg_pool import AsyncConnectionPool
from pydantic.json_schema import SkipJsonSchema

from runtime.admission import Admission
from runtime.database import make_pool, open_pool
from runtime.embedded_pg import restart_if_dead, start_embedded_postgres, stop_embedded_postgres
from runtime.embedding_batcher import QueryEmbeddings
from runtime.embedding_process import ProcessEmbeddings
from runtime.embeddings import launch_embeddings, make_embeddings, query_embeddings
from runtime.local_llm import LocalLLMServer
from runtime.migrations import apply_migrations, load_migrations
from runtime.models import check_chat_model, local_base_url, parse_model_name, set_local_base_url
from runtime.settings import Settings, get_settings

if TYPE_CHECKING:
    from importlib.abc import Traversable

log = logging.getLogger(__name__)

# The schema's SQL files, named as data (`package:folder`): the runner reads them without this
# layer importing the store that owns them.
DEFAULT_MIGRATIONS = "store:migrations"

Migrations = Union[str, Path, "Traversable"]  # a folder of SQL files, or `package:folder`


@dataclass
class Services:
    settings: Settings
    database_url: str
    pool: AsyncConnectionPool[AsyncConnection[DictRow]]
    checkpointer: AsyncPostgresSaver
    local_llm: LocalLLMServer | None = None
    embeddings: Embeddings | None = None
    started: bool = False
    migrations: Migrations = DEFAULT_MIGRATIONS
    # the embedded Postgres's data folder when these services started it (released by `stop`)
    embedded_pg_dir: Path | None = None
    # `embeddings` behind the query batching and cache (built for whichever model is set)
    _query_embeddings: QueryEmbeddings | None = None
    # the local embedding model's process, launched by `launch_models` and not waited for yet
    _launched_embeddings: ProcessEmbeddings | None = None
    # seconds each start-up step took (what `personas serve` reports)
    timings: dict[str, float] = field(default_factory=dict)
    # restarts the embedded Postgres when it dies (`supervise_embedded_postgres`)
    _supervisor: asyncio.Task[None] | None = None
    # chat turns running at once (CHAT_MAX_CONCURRENT); see `runtime.admission`
    chat_admission: Admission = field(init=False)

    def __post_init__(self) -> None:
        self.chat_admission = Admission(self.settings.chat_max_concurrent)

    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @classmethod
    def create(cls, settings: Settings | None = None, *, migrations: Migrations = DEFAULT_MIGRATIONS) -> Services:
        """Services for `settings` (the environment's by default), not started yet. Starts the
        embedded Postgres when no DATABASE_URL is set, so it blocks: call it at start-up, or use
        `acreate` on a running event loop. Must run where an event loop runs (the checkpointer
        binds to it)."""
        settings = settings or get_settings()
        check_chat_model(settings.chat_model, settings)  # unknown models, missing keys stop start-up here
        embedded = None if settings.database_url else settings.database_dir
        url = settings.database_url or start_embedded_postgres(settings.database_dir)
        return cls._assemble(settings, url, embedded, migrations)

    @classmethod
    async def acreate(
        cls,
        settings: Settings | None = None,
        *,
        migrations: Migrations = DEFAULT_MIGRATIONS,
        launched: LaunchedModels | None = None,
    ) -> Services:
        """`create` without blocking the event loop: settings and the embedded Postgres in threads.
        `launched`: models `launch_models` started for these settings (`start` waits for them)."""
        if settings is None:
            settings = await asyncio.to_thread(get_settings)
        check_chat_model(settings.chat_model, settings)
        embedded = None if settings.database_url else settings.database_dir
        started = time.monotonic()
        if settings.database_url:
            url = settings.database_url
        else:
            url = await asyncio.to_thread(start_embedded_postgres, settings.database_dir)
        services = cls._assemble(settings, url, embedded, migrations)
        services.timings["embedded postgres"] = time.monotonic() - started
        if launched is not None:
            services.local_llm, services._launched_embeddings = launched.local_llm, launched.embeddings
        return services

    @classmethod
    def _assemble(cls, settings: Settings, url: str, embedded: Path | None, migrations: Migrations) -> Services:
        pool = make_pool(url, settings)
        return cls(
            settings=settings,
            database_url=url,
            pool=pool,
            checkpointer=AsyncPostgresSaver(pool),
            migrations=migrations,
            embedded_pg_dir=embedded,
        )

    def needs_local_model(self) -> bool:
        """The configured chat model runs on the local llama.cpp server, and none answers yet."""
        return parse_model_name(self.settings.chat_model).provider == "local" and local_base_url() is None

    @property
    def ready(self) -> bool:
        """Started, with the model server (when the chat model is local) and the embeddings."""
        return self.started and self.embeddings is not None and not self.needs_local_model()

    async def start(self, *, with_model: bool = True, with_embeddings: bool = True) -> Services:
        """Open the pool, apply the migrations, set up the checkpointer, while the local model
        server (when the chat model is local) and the embeddings load alongside."""
        async with self._lock:
            # The models take seconds and need no database: they load while it is set up.
            models = asyncio.ensure_future(self._start_models(with_model=with_model, with_embeddings=with_embeddings))
            try:
                if not self.started:
                    started = time.monotonic()
                    await open_pool(self.pool, self.database_url, self.settings.database_connect_timeout)
                    migrations = await asyncio.to_thread(load_migrations, self.migrations)
                    async with self.pool.connection() as conn:
                        applied = await apply_migrations(conn, migrations)
                    if applied:
                        log.info("applied migrations: %s", ", ".join(applied))
                    await self.checkpointer.setup()
                    self.started = True
                    self.timings["database set-up"] = time.monotonic() - started
            except BaseException:
                # what the models started must be known to `stop`: wait for them, then fail
                await asyncio.gather(models, return_exceptions=True)
                raise
            await models
        self._start_supervisor()
        set_current_services(self)
        return self

    def _start_supervisor(self) -> None:
        every = self.settings.embedded_pg_supervise_seconds
        if self.embedded_pg_dir is not None and every > 0 and self._supervisor is None:
            self._supervisor = asyncio.create_task(supervise_embedded_postgres(self.embedded_pg_dir, every))

    async def _start_models(self, *, with_model: bool, with_embeddings: bool) -> None:
        # The model server and the embeddings both take seconds: they load side by side.
        slow_starts = []
        if with_model and self.needs_local_model():
            slow_starts.append(asyncio.to_thread(self._timed, "local model server", self._start_local_llm))
        if with_embeddings and self.embeddings is None:
            slow_starts.append(asyncio.to_thread(self._timed, "embeddings", self._load_embeddings))
        await asyncio.gather(*slow_starts)

    def _timed(self, step: str, run: Callable[[], None]) -> None:
        started = time.monotonic()
        run()
        self.timings[step] = time.monotonic() - started

    def _start_local_llm(self) -> None:
        # a server `launch_models` started is waited for; otherwise one starts now
        server = self.local_llm or local_llm_server(self.settings)
        self.local_llm = server
        set_local_base_url(server.start())

    def _load_embeddings(self) -> None:
        # a model process `launch_models` started (`personas serve`) is waited for; anywhere else
        # the model loads in this process
        launched, self._launched_embeddings = self._launched_embeddings, None
        if launched is not None:
            self.embeddings = launched.wait_loaded()
        else:
            self.embeddings = make_embeddings(self.settings.embedding_model, self.settings)

    def require_embeddings(self) -> QueryEmbeddings:
        """The embeddings, loaded here when nothing loaded them yet (blocking: on an event loop,
        `await ensure_services()` first, which loads them in a thread). Queries embedded through
        them are batched with concurrent ones and cached; documents pass straight through."""
        if self.embeddings is None:
            self._load_embeddings()
        assert self.embeddings is not None
        if isinstance(self.embeddings, QueryEmbeddings):
            return self.embeddings
        wrapper = self._query_embeddings
        if wrapper is None or wrapper.inner is not self.embeddings:
            if wrapper is not None:
                wrapper.close()
            wrapper = self._query_embeddings = query_embeddings(self.embeddings, self.settings)
        return wrapper

    async def stop(self) -> None:
        """Stop the model server, close the pool and release the embedded Postgres (it stops
        when no other process uses it). Safe to call twice."""
        if self.local_llm is not None:
            await asyncio.to_thread(self.local_llm.stop)
            set_local_base_url(None)
            self.local_llm = None
        if self._query_embeddings is not None:
            self._query_embeddings.close()
        # a model process these services launched ends with them (one a caller set is theirs)
        for own in (self._launched_embeddings, self.embeddings):
            if isinstance(own, ProcessEmbeddings):
                await asyncio.to_thread(own.close)
        self._launched_embeddings = None
        if isinstance(self.embeddings, ProcessEmbeddings):
            self.embeddings = None
        await self.pool.close()
        self.started = False
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            await _cancel(supervisor)
        if self.embedded_pg_dir is not None:
            data_dir, self.embedded_pg_dir = self.embedded_pg_dir, None
            await asyncio.to_thread(stop_embedded_postgres, data_dir)
        if current_services() is self:
            set_current_services(None)


async def _cancel(task: asyncio.Task[None]) -> None:
    """Cancel `task` and, when it runs on this loop, wait for it: a database restart it has
    begun in a thread finishes first, holding the lock that releasing the server needs. A
    task of another loop (services started by one loop and stopped by another) is only
    cancelled, and not even that once its loop has closed."""
    loop = task.get_loop()
    if loop is asyncio.get_running_loop():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(task.cancel)


async def supervise_embedded_postgres(data_dir: Path, every: float) -> None:
    """Check the embedded Postgres every `every` seconds and start it again when it died; the
    pool reconnects by itself, so requests recover without a restart of the service."""
    while True:
        await asyncio.sleep(every)
        try:
            if await asyncio.to_thread(restart_if_dead, data_dir):
                log.warning("embedded Postgres started again after it stopped")
        except Exception as exc:  # its backends may still be exiting: try again next round
            log.warning("embedded Postgres could not be started again yet: %s", exc)


@dataclass
class LaunchedModels:
    """The local model server and the local embedding model's process, started without waiting
    for them (`launch_models`); `Services.start` waits for them."""

    local_llm: LocalLLMServer | None = None
    embeddings: ProcessEmbeddings | None = None

    def stop(self) -> None:
        """For a start-up that failed before any services took these over."""
        if self.local_llm is not None:
            self.local_llm.stop()
        if self.embeddings is not None:
            self.embeddings.close()


def local_llm_server(settings: Settings) -> LocalLLMServer:
    s = settings
    s.data_dir.mkdir(parents=True, exist_ok=True)
    return LocalLLMServer(
        s.local_llm_model_path,
        port=s.local_llm_port,
        threads=s.local_llm_threads,
        context=s.local_llm_context,
        start_timeout=s.local_llm_start_timeout,
        log_path=s.data_dir / "local-llm.log",
    )


def launch_models(settings: Settings, *, with_model: bool = True, with_embeddings: bool = True) -> LaunchedModels:
    """Start the local model server (when the chat model is local) and the local embedding model's
    process, without waiting: both load in processes of their own, on the other core, while the
    caller imports the app and starts the database. Pass the result to `Services.acreate`."""
    launched = LaunchedModels()
    try:
        if with_model and parse_model_name(settings.chat_model).provider == "local" and local_base_url() is None:
            launched.local_llm = local_llm_server(settings)
            launched.local_llm.launch()
        if with_embeddings:
            launched.embeddings = launch_embeddings(settings.embedding_model, settings)
    except BaseException:
        launched.stop()
        raise
    return launched


_current: Services | None = None
_start_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()


def set_current_services(services: Services | None) -> None:
    global _current
    _current = services


def current_services() -> Services | None:
    return _current


def current_settings() -> Settings:
    """The running service's settings; the environment's when no service runs in this process."""
    return _current.settings if _current is not None else get_settings()


async def ensure_services() -> Services:
    """The running services, ready for a graph node: the pool open, the model server up when
    the chat model is local, the embeddings loaded. Outside the server (LangGraph Studio, a
    notebook) the first call creates and starts them from the environment; concurrent first
    calls wait for the same start. Never blocks the event loop."""
    services = _current
    if services is not None and services.ready:
        return services
    loop = asyncio.get_running_loop()
    lock = _start_locks.setdefault(loop, asyncio.Lock())
    async with lock:
        services = _current
        if services is None:
            services = await Services.acreate()
        if not services.ready:
            await services.start()
        set_current_services(services)
    return services


@dataclass
class ServicesContext:
    """The base of every graph's run context (`context_schema`): besides the run's settings, the
    services its nodes and tools use, handed in by the caller, as LangGraph's runtime context
    hands a template's nodes their dependencies. LangGraph Studio and LangServe build a context
    from JSON, which cannot carry them: `services_of` then gives the process's own."""

    # left out of the JSON schema: Studio's run form has nothing to show for it
    services: SkipJsonSchema[Any] = field(default=None, repr=False, compare=False)


async def ready_services(given: object = None) -> Services:
    """`given`, started if it is not yet; when it is no `Services` (None, or whatever a context
    built from JSON holds), the process's own (`ensure_services`)."""
    if not isinstance(given, Services):
        return await ensure_services()
    if not given.ready:
        await given.start()
    return given


def settings_of(context: object) -> Settings:
    """The settings of the services a run's context carries; the process's own without them."""
    given = getattr(context, "services", None)
    return given.settings if isinstance(given, Services) else current_settings()


async def services_of(context: object) -> Services:
    """The services a run's context carries (`ServicesContext`), ready; without them (Studio,
    LangServe, a notebook), the process's own."""
    return await ready_services(getattr(context, "services", None))


async def stop_current_services() -> None:
    """Stop the services `ensure_services` started (the dev server's shutdown calls this)."""
    services = _current
    if services is not None:
        await services.stop()
