"""Tracked X accounts and their posts: save an account, import posts, sync them from the X API,
load the bundled sample accounts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runtime.errors import NotFoundError, ServiceError
from runtime.services import Services
from store import accounts as accounts_store
from store.accounts import AccountRow
from store.types import Pool
from tools.x_api import XApiError, fetch_user_posts
from use_cases.ghostwriter.errors import ACCOUNT_NOT_FOUND, describe
from use_cases.ghostwriter.sample_accounts import load_sample_accounts


class Post(BaseModel):
    """One post as imported: engagement counts default to 0; `created_at` needs a timezone."""

    # strict for JSON (a count is a number, not "5"); a CSV import validates with strict=False
    model_config = ConfigDict(extra="ignore", strict=True)

    id: str = Field(min_length=1, max_length=64, description="The post's id (unique across accounts).")
    text: str = Field(min_length=1)
    created_at: datetime = Field(strict=False, description="ISO 8601 with a timezone, e.g. 2025-01-15T10:30:00Z.")
    replies: int = Field(0, ge=0)
    reposts: int = Field(0, ge=0)
    likes: int = Field(0, ge=0)
    views: int = Field(0, ge=0)

    @field_validator("created_at", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, (int, float, bool)):  # not a Unix time: the schema says an ISO 8601 string
            raise ValueError("must be an ISO 8601 date-time string")
        return value

    @field_validator("created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("must include a timezone (e.g. 2025-01-15T10:30:00Z)")
        return value


@dataclass(frozen=True)
class ImportResult:
    received: int
    inserted: int
    updated: int


@dataclass(frozen=True)
class SampleImport:
    account_id: str
    handle: str
    inserted: int
    updated: int


async def require_account(pool: Pool, account_id: str) -> AccountRow:
    account = await accounts_store.get_account(pool, account_id)
    if account is None:
        raise NotFoundError(ACCOUNT_NOT_FOUND)
    return account


async def save_account(
    services: Services, *, account_id: str, handle: str, display_name: str, avatar_url: str, active: bool
) -> AccountRow:
    """Create the account or replace its profile."""
    return await accounts_store.upsert_account(
        services.pool,
        account_id=account_id,
        handle=handle,
        display_name=display_name,
        avatar_url=avatar_url,
        active=active,
    )


async def import_posts(services: Services, account_id: str, posts: Sequence[Post]) -> ImportResult:
    """Add new posts and refresh the counts of known ones (idempotent by post id)."""
    await require_account(services.pool, account_id)
    return await _save_posts(services.pool, account_id, posts)


async def _save_posts(pool: Pool, account_id: str, posts: Sequence[Post]) -> ImportResult:
    inserted, updated = await accounts_store.import_posts(pool, account_id, [post.model_dump() for post in posts])
    return ImportResult(received=len(posts), inserted=inserted, updated=updated)


async def sync_posts(services: Services, account_id: str, limit: int) -> ImportResult:
    """Import the account's newest `limit` posts from the X API v2 (needs X_BEARER_TOKEN)."""
    settings = services.settings
    if settings.x_bearer_token is None:
        raise ServiceError("X API sync is not configured (set X_BEARER_TOKEN)")
    await require_account(services.pool, account_id)
    try:
        items = await fetch_user_posts(
            account_id,
            bearer_token=settings.x_bearer_token.get_secret_value(),
            base_url=settings.x_api_base_url,
            limit=limit,
        )
    except XApiError as exc:  # the X API's failure: a 502, its cause in the log
        raise ServiceError(exc.detail, status=502) from exc
    posts = []
    for item in items:
        if isinstance(item.get("text"), str):  # Postgres cannot store NUL; X text never means one
            item = {**item, "text": item["text"].replace("\x00", "")}
        try:
            posts.append(Post.model_validate(item, strict=False))
        except ValidationError as exc:
            raise ServiceError(describe(exc.errors())) from None
    return await _save_posts(services.pool, account_id, posts)


async def import_sample_accounts(services: Services) -> AsyncIterator[SampleImport]:
    """Save the bundled synthetic accounts and their posts (idempotent), one account at a time."""
    for account in await asyncio.to_thread(load_sample_accounts):
        await accounts_store.upsert_account(
            services.pool,
            account_id=account["account_id"],
            handle=account["handle"],
            display_name=account["display_name"],
            avatar_url=account["avatar_url"],
        )
        inserted, updated = await accounts_store.import_posts(
            services.pool, account["account_id"], list(account["posts"])
        )
        yield SampleImport(
            account_id=account["account_id"], handle=account["handle"], inserted=inserted, updated=updated
        )
