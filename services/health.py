"""The service's health: is the database answering, the chat model reachable, the embeddings
loaded? Each check gives (ok, one short detail that names no secret). The report also carries
the query embeddings' counters (cache hit rate, batch sizes) and the prompt guard's blocked events
since start (by channel and kind)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from graphs.persona_chat.guard import blocked_counts
from runtime.database import TimedConnection, note_database_failure
from runtime.embedding_batcher import EmbeddingStats
from runtime.models import parse_model_name
from runtime.services import Services
from runtime.settings import Settings

OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
# Each check's bound; the database's own: a pooled connection within DATABASE_WAIT, its answer
# within DATABASE_QUERY (the two stay under CHECK_SECONDS).
CHECK_SECONDS = 1.8
DATABASE_WAIT = 0.8
DATABASE_QUERY = 0.8
REMOTE_CHECK_SECONDS = 30.0  # a remote provider is asked at most this often; probes in between reuse the answer
_remote_checks: dict[str, tuple[float, bool, str]] = {}


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    checks: dict[str, Check]  # database, model, embeddings
    embeddings: EmbeddingStats | None = None  # None until the embeddings are loaded
    blocked: dict[str, int] | None = None  # the prompt guard's blocked events: {"<channel>/<kind>": count}

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks.values())


async def _check_openai(settings: Settings) -> tuple[bool, str]:
    """GET <base>/models with the configured key: reachable and the key accepted."""
    base = (settings.openai_base_url or OPENAI_DEFAULT_BASE).rstrip("/")
    cached = _remote_checks.get(base)
    if cached is not None and time.monotonic() - cached[0] < REMOTE_CHECK_SECONDS:
        return cached[1], cached[2]
    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed"
    try:
        async with httpx.AsyncClient(timeout=CHECK_SECONDS) as http:
            response = await http.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"})
        ok = response.status_code == 200
        detail = "ok" if ok else f"provider answered {response.status_code}"
    except httpx.HTTPError as exc:
        ok, detail = False, f"provider unreachable ({type(exc).__name__})"
    _remote_checks[base] = (time.monotonic(), ok, detail)
    return ok, detail


async def _check_database(services: Services) -> tuple[bool, str]:
    try:
        async with services.pool.connection(timeout=DATABASE_WAIT) as conn:
            # a frozen server answers nothing: this probe gives up sooner than a request's query
            # (the connection is then closed and the pool replaces it)
            previous = getattr(conn, "query_timeout", None)
            if isinstance(conn, TimedConnection):
                conn.query_timeout = DATABASE_QUERY
            try:
                await conn.execute("SELECT 1")
            finally:
                if isinstance(conn, TimedConnection):
                    conn.query_timeout = previous
        return True, "ok"
    except Exception as exc:  # any failure means "down"; the detail stays short
        note_database_failure()
        return False, f"unreachable ({type(exc).__name__})"


async def _check_model(services: Services) -> tuple[bool, str]:
    name = parse_model_name(services.settings.chat_model)
    if name.provider == "local":
        server = services.local_llm
        if server is None:
            return False, "local model server not started"
        ok = await asyncio.to_thread(server.healthy)
        return ok, "ok" if ok else "local model server not answering"
    if name.provider == "openai":
        return await _check_openai(services.settings)
    return True, f"configured ({name}; not probed)"


async def _check_embeddings(services: Services) -> tuple[bool, str]:
    if services.embeddings is None:
        return False, "not loaded"
    try:
        # through the same batches as the queries (the model runs one batch at a time), uncached
        vector = await asyncio.wrap_future(services.require_embeddings().probe("health check"))
        return len(vector) == services.settings.embedding_dim, f"ok ({len(vector)} dims)"
    except Exception as exc:
        return False, f"failing ({type(exc).__name__})"


async def _bounded(name: str, check: Callable[[Services], Awaitable[tuple[bool, str]]], services: Services) -> Check:
    if name == "database":
        # bounded by its own timeouts: cancelling a query waits for the server, which may be frozen
        return Check(*await check(services))
    try:
        ok, detail = await asyncio.wait_for(check(services), CHECK_SECONDS)
    except asyncio.TimeoutError:
        ok, detail = False, f"no answer within {CHECK_SECONDS:g} s"
    return Check(ok, detail)


async def check_health(services: Services) -> Health:
    """Every check at once, each bounded, so the report comes within about 2 s even while the
    database is frozen or a provider hangs."""
    names = ("database", "model", "embeddings")
    results = await asyncio.gather(
        *(
            _bounded(name, check, services)
            for name, check in zip(names, (_check_database, _check_model, _check_embeddings))
        )
    )
    checks = dict(zip(names, results))
    stats = services.require_embeddings().stats() if services.embeddings is not None else None
    return Health(checks, stats, blocked_counts())
