"""The service's health: is the database answering, the chat model reachable, the embeddings
loaded? Each check gives (ok, one short detail that names no secret). The report also carries
the query embeddings' counters (cache hit rate, batch sizes) and the prompt guard's blocked events
since start (by channel and kind)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx

from graphs.persona_chat.guard import blocked_counts
from runtime.embedding_batcher import EmbeddingStats
from runtime.models import parse_model_name
from runtime.services import Services
from runtime.settings import Settings

OPENAI_DEFAULT_BASE = "https://api.openai.com/v1"
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
        async with httpx.AsyncClient(timeout=3.0) as http:
            response = await http.get(f"{base}/models", headers={"Authorization": f"Bearer {key}"})
        ok = response.status_code == 200
        detail = "ok" if ok else f"provider answered {response.status_code}"
    except httpx.HTTPError as exc:
        ok, detail = False, f"provider unreachable ({type(exc).__name__})"
    _remote_checks[base] = (time.monotonic(), ok, detail)
    return ok, detail


async def _check_database(services: Services) -> tuple[bool, str]:
    try:
        async with services.pool.connection(timeout=3) as conn:
            await conn.execute("SELECT 1")
        return True, "ok"
    except Exception as exc:  # any failure means "down"; the detail stays short
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


async def check_health(services: Services) -> Health:
    """Every check, one after the other (the database first)."""
    checks: dict[str, Check] = {}
    for name, check in (("database", _check_database), ("model", _check_model), ("embeddings", _check_embeddings)):
        ok, detail = await check(services)
        checks[name] = Check(ok, detail)
    stats = services.require_embeddings().stats() if services.embeddings is not None else None
    return Health(checks, stats, blocked_counts())
