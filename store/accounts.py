"""Tracked X accounts and their posts (imports are idempotent by post id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from store.types import Pool, one_row

ACCOUNT_COLUMNS = "id, handle, display_name, avatar_url, active"
POST_COLUMNS = "id, account_id, text, created_at, replies, reposts, likes, views"


class AccountRow(TypedDict):
    id: str
    handle: str
    display_name: str
    avatar_url: str
    active: bool


class PostRow(TypedDict):
    id: str
    account_id: str
    text: str
    created_at: datetime
    replies: int
    reposts: int
    likes: int
    views: int


async def upsert_account(
    pool: Pool, *, account_id: str, handle: str, display_name: str = "", avatar_url: str = "", active: bool = True
) -> AccountRow:
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""INSERT INTO accounts (id, handle, display_name, avatar_url, active)
                VALUES (%s, %s, %s, %s, %s)
                ON CONFLICT (id) DO UPDATE SET handle = EXCLUDED.handle, display_name = EXCLUDED.display_name,
                    avatar_url = EXCLUDED.avatar_url, active = EXCLUDED.active, updated_at = now()
                RETURNING {ACCOUNT_COLUMNS}""",
            (account_id, handle, display_name, avatar_url, active),
        )
        return cast(AccountRow, one_row(await cur.fetchone()))


async def get_account(pool: Pool, account_id: str) -> AccountRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute(f"SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = %s", (account_id,))
        return cast("AccountRow | None", await cur.fetchone())


async def active_accounts_without_persona(pool: Pool) -> list[str]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT a.id FROM accounts a LEFT JOIN ghostwriter_personas g ON g.account_id = a.id
                WHERE a.active AND g.account_id IS NULL ORDER BY a.id"""
        )
        return [row["id"] for row in await cur.fetchall()]


async def import_posts(pool: Pool, account_id: str, posts: Sequence[Mapping[str, Any]]) -> tuple[int, int]:
    """Insert new posts and refresh the engagement counts of known ones; (inserted, updated).

    A post id that already belongs to another account is left untouched (not counted)."""
    inserted = updated = 0
    async with pool.connection() as conn, conn.transaction():
        for post in posts:
            cur = await conn.execute(
                f"""INSERT INTO posts ({POST_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
                    ON CONFLICT (id) DO UPDATE SET replies = EXCLUDED.replies, reposts = EXCLUDED.reposts,
                        likes = EXCLUDED.likes, views = EXCLUDED.views, text = EXCLUDED.text
                    WHERE posts.account_id = EXCLUDED.account_id
                    RETURNING (xmax = 0) AS inserted""",
                (
                    post["id"],
                    account_id,
                    post["text"],
                    post["created_at"],
                    post.get("replies", 0),
                    post.get("reposts", 0),
                    post.get("likes", 0),
                    post.get("views", 0),
                ),
            )
            row = await cur.fetchone()
            if row is None:
                continue
            if row["inserted"]:
                inserted += 1
            else:
                updated += 1
    return inserted, updated


async def latest_posts(pool: Pool, account_id: str, limit: int, after: datetime | None = None) -> list[PostRow]:
    """The newest `limit` posts (optionally only those after `after`), oldest first."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            f"""SELECT {POST_COLUMNS} FROM posts
                 WHERE account_id = %s AND (%s::timestamptz IS NULL OR created_at > %s::timestamptz)
                 ORDER BY created_at DESC, id DESC LIMIT %s""",
            (account_id, after, after, limit),
        )
        rows = cast(list[PostRow], await cur.fetchall())
    return list(reversed(rows))
