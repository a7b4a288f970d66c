"""Account personas: read the current one, list and count them, create, refine, history, rollback.

Create and refine run the compiled `persona_builder` graph; its `BuilderError`s keep their
status and sentence, the model provider's failure is a 502, a model misconfigured here a 503 naming
the setting, and our own failure a 500 (none names internals).
"""

from __future__ import annotations

from dataclasses import dataclass

from graphs.persona_builder import BuilderContext
from graphs.persona_builder.graph import graph as persona_builder
from graphs.persona_builder.state import BuilderInput
from runtime.errors import NotFoundError, ServiceError
from runtime.services import Services
from runtime.upstream import raise_as_upstream_failure
from store import ghostwriter as gw_store
from store.ghostwriter import CurrentVersionRow, GhostwriterListRow, VersionRow
from store.types import Pool
from use_cases.ghostwriter.errors import PERSONA_NOT_FOUND

BUILD_FAILED = "Persona creation failed: the model provider did not respond"


@dataclass(frozen=True)
class Analytics:
    total_accounts: int
    accounts_with_personas: int
    coverage_percentage: float
    avg_persona_version: float
    avg_posts_analyzed: float


async def require_persona(pool: Pool, account_id: str) -> CurrentVersionRow:
    """The account's current persona version (404 when it has none)."""
    row = await gw_store.current_version(pool, account_id)
    if row is None:
        raise NotFoundError(PERSONA_NOT_FOUND)
    return row


async def current_persona(services: Services, account_id: str) -> CurrentVersionRow:
    return await require_persona(services.pool, account_id)


async def list_personas(services: Services) -> list[GhostwriterListRow]:
    return await gw_store.list_personas(services.pool)


async def analytics(services: Services) -> Analytics:
    row = await gw_store.analytics(services.pool)
    total, with_personas = int(row["total_accounts"]), int(row["accounts_with_personas"])
    return Analytics(
        total_accounts=total,
        accounts_with_personas=with_personas,
        coverage_percentage=round(100.0 * with_personas / total, 2) if total else 0.0,
        avg_persona_version=round(float(row["avg_version"] or 0.0), 2),
        avg_posts_analyzed=round(float(row["avg_posts"] or 0.0), 2),
    )


async def _build(services: Services, state: BuilderInput) -> None:
    try:
        await persona_builder.ainvoke(
            state, context=BuilderContext(services=services, model=services.settings.chat_model)
        )
    except Exception as exc:  # BuilderError and ConfigError (a ServiceError each) keep their status
        raise_as_upstream_failure(exc, BUILD_FAILED)


async def create_persona(services: Services, account_id: str, *, force: bool, post_limit: int) -> CurrentVersionRow:
    """Version 1 from the newest `post_limit` posts (or a new version over an existing persona with `force`)."""
    await _build(services, BuilderInput(account_id=account_id, mode="create", force=force, post_limit=post_limit))
    return await require_persona(services.pool, account_id)


async def refine_persona(services: Services, account_id: str, *, post_limit: int) -> CurrentVersionRow:
    """A new version from the posts newer than the current version's."""
    await _build(services, BuilderInput(account_id=account_id, mode="refine", post_limit=post_limit))
    return await require_persona(services.pool, account_id)


async def persona_history(services: Services, account_id: str, limit: int) -> tuple[list[VersionRow], int]:
    """The newest `limit` versions, newest first, and how many versions there are."""
    await require_persona(services.pool, account_id)
    return await gw_store.history(services.pool, account_id, limit)


async def rollback_persona(services: Services, account_id: str, version: int) -> CurrentVersionRow:
    """Make an earlier version current again; the history keeps every version."""
    await require_persona(services.pool, account_id)
    if not await gw_store.rollback(services.pool, account_id, version):
        raise ServiceError(f"Version {version} not found in history")
    return await require_persona(services.pool, account_id)
