"""Conversations (message histories) and their messages."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.types import Pool


class ConversationRow(TypedDict):
    id: str
    persona_id: int
    owner_id: str
    title: str
    description: str
    created_at: datetime
    updated_at: datetime


async def create_conversation(
    pool: Pool, *, conversation_id: str, persona_id: int, owner_id: str, title: str = "", description: str = ""
) -> None:
    async with pool.connection() as conn:
        await conn.execute(
            """INSERT INTO conversations (id, persona_id, owner_id, title, description)
               VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING""",
            (conversation_id, persona_id, owner_id, title, description),
        )


async def get_conversation(pool: Pool, conversation_id: str) -> ConversationRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM conversations WHERE id = %s", (conversation_id,))
        return cast("ConversationRow | None", await cur.fetchone())


async def append_messages(
    pool: Pool, conversation_id: str, messages: Sequence[tuple[str, str, Mapping[str, Any]]]
) -> None:
    """Append (role, content, metadata) rows in order."""
    async with pool.connection() as conn, conn.transaction():
        for role, content, metadata in messages:
            await conn.execute(
                "INSERT INTO messages (conversation_id, role, content, metadata) VALUES (%s, %s, %s, %s)",
                (conversation_id, role, content, Jsonb(metadata)),
            )
        await conn.execute("UPDATE conversations SET updated_at = now() WHERE id = %s", (conversation_id,))
