"""Health for people and orchestrators (`use_cases.health`; docs/operations-health.md):

- GET /health: database, model and embeddings; 503 when one is down. Also the query embeddings'
  cache and batch counters and the prompt guard's blocked events since start.
- GET /health/live: liveness: the process answers; no dependency is asked.
- GET /health/ready: readiness: the database answers and the model server is alive; 503 when not.

A model server busy with other requests counts as up in both /health and /health/ready; one that
is gone (process exited, port refused) or wedged (no progress for a long time) does not."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from runtime.embedding_batcher import EmbeddingStats
from use_cases.health import check_health, check_readiness

router = APIRouter()


class CheckOut(BaseModel):
    ok: bool
    detail: str


class EmbeddingsOut(BaseModel):
    """Query embeddings since start: the LRU cache and the batches the model ran."""

    model: str
    cache_hits: int
    cache_misses: int
    cache_hit_rate: float | None = Field(description="hits / (hits + misses); null before the first query")
    cache_size: int = Field(description="vectors in the cache now")
    cache_max: int = Field(description="EMBEDDING_CACHE_SIZE (0: no cache)")
    batches: int = Field(description="model calls for queries")
    texts: int = Field(description="queries those calls embedded")
    mean_batch: float | None = Field(description="texts / batches")
    max_batch: int = Field(description="EMBEDDING_BATCH_SIZE")
    max_wait_ms: float = Field(description="EMBEDDING_BATCH_WAIT_MS")


class PromptGuardOut(BaseModel):
    """Replies and reference lines the prompt guard blocked since this process started."""

    total: int
    blocked: dict[str, int] = Field(
        description='count per "<channel>/<kind>": channel user, document, web or attachment; kind '
        "instruction_neutralised, canary_leak, secret_leak, prompt_leak, planted_instruction, planted_link, "
        "language_switch or persona_switch"
    )


class LiveOut(BaseModel):
    status: Literal["ok"]


class ReadyOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, CheckOut] = Field(description="database, model")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    checks: dict[str, CheckOut]
    embeddings: EmbeddingsOut | None = Field(None, description="null until the embeddings are loaded")
    prompt_guard: PromptGuardOut


@router.get(
    "/health",
    tags=["service"],
    response_model=HealthOut,
    responses={503: {"model": HealthOut, "description": "A required service is down (status 'degraded')"}},
)
async def health(request: Request) -> JSONResponse:
    report = await check_health(request.app.state.services)
    body = HealthOut(
        status="ok" if report.ok else "degraded",
        checks={name: CheckOut(ok=c.ok, detail=c.detail) for name, c in report.checks.items()},
        embeddings=_embeddings_out(report.embeddings),
        prompt_guard=PromptGuardOut(total=sum((report.blocked or {}).values()), blocked=report.blocked or {}),
    )
    return JSONResponse(body.model_dump(), status_code=200 if report.ok else 503)


@router.get("/health/live", tags=["service"], response_model=LiveOut)
async def live() -> LiveOut:
    """Liveness: 200 whenever the process answers; asks neither the database nor the model."""
    return LiveOut(status="ok")


@router.get(
    "/health/ready",
    tags=["service"],
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "The database or the model server is down (status 'degraded')"}},
)
async def ready(request: Request) -> JSONResponse:
    """Readiness: the database answers and the model server is alive. A model server busy with other
    requests is alive; one whose process exited, whose port refuses connections, or that has made
    no progress for a long time (wedged) is not."""
    report = await check_readiness(request.app.state.services)
    body = ReadyOut(
        status="ok" if report.ok else "degraded",
        checks={name: CheckOut(ok=c.ok, detail=c.detail) for name, c in report.checks.items()},
    )
    return JSONResponse(body.model_dump(), status_code=200 if report.ok else 503)


def _embeddings_out(stats: EmbeddingStats | None) -> EmbeddingsOut | None:
    if stats is None:
        return None
    rate, mean = stats.hit_rate, stats.mean_batch
    return EmbeddingsOut(
        model=stats.model,
        cache_hits=stats.hits,
        cache_misses=stats.misses,
        cache_hit_rate=None if rate is None else round(rate, 4),
        cache_size=stats.cache_size,
        cache_max=stats.cache_max,
        batches=stats.batches,
        texts=stats.texts,
        mean_batch=None if mean is None else round(mean, 2),
        max_batch=stats.max_batch,
        max_wait_ms=stats.max_wait_ms,
    )
