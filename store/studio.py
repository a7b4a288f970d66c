"""Studio personas (kind 'studio') and their users' message histories."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, cast

from store.types import Pool

KIND = "studio"


class PersonaRef(TypedDict):
    id: int
    name: str


class StudioPersonaRow(TypedDict):
    """A `personas` row with its current version's system prompt."""

    id: int
    kind: str
    name: str
    description: str
    owner_id: str | None
    current_version: int
    model: str | None
    temperature: float | None
    attributes: dict[str, Any]
    embedding: str | None
    created_at: datetime
    updated_at: datetime
    system_prompt: str


class HistoryRow(TypedDict):
    """A conversation with its messages ({"role", "content", "created_at"}), oldest first."""

    id: str
    title: str
    description: str
    created_at: datetime
    messages: list[dict[str, Any]]


async def list_owned(pool: Pool, owner_id: str) -> list[PersonaRef]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "SELECT id, name FROM personas WHERE kind = %s AND owner_id = %s ORDER BY id", (KIND, owner_id)
        )
        return cast(list[PersonaRef], await cur.fetchall())


async def get_studio_persona(pool: Pool, persona_id: int) -> StudioPersonaRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT p.*, v.system_prompt FROM personas p
                 JOIN persona_versions v ON v.persona_id = p.id AND v.version = p.current_version
                WHERE p.id = %s AND p.kind = %s""",
            (persona_id, KIND),
        )
        return cast("StudioPersonaRow | None", await cur.fetchone())


async def list_histories(pool: Pool, persona_id: int, owner_id: str) -> list[HistoryRow]:
    """The owner's conversations with a persona, oldest first, each with its messages."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT c.id, c.title, c.description, c.created_at,
                      COALESCE(json_agg(json_build_object('role', m.role, 'content', m.content,
                                                          'created_at', m.created_at) ORDER BY m.id)
                               FILTER (WHERE m.id IS NOT NULL), '[]'::json) AS messages
                 FROM conversations c LEFT JOIN messages m ON m.conversation_id = c.id
                WHERE c.persona_id = %s AND c.owner_id = %s
                GROUP BY c.id ORDER BY c.created_at, c.id""",
            (persona_id, owner_id),
        )
        return cast(list[HistoryRow], await cur.fetchall())
