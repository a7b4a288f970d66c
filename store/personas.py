"""Personas and their immutable versions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.documents import lock_collections
from store.types import Pool, one_row


class ChatProfileRow(TypedDict):
    """What the chat graph needs of a persona version."""

    id: int
    kind: str
    name: str
    description: str
    model: str | None
    temperature: float | None
    attributes: dict[str, Any]
    version: int
    system_prompt: str
    style_traits: list[str]


async def create_persona(
    pool: Pool,
    *,
    kind: str,
    name: str,
    system_prompt: str = "",
    description: str = "",
    owner_id: str | None = None,
    model: str | None = None,
    temperature: float | None = None,
    attributes: Mapping[str, Any] | None = None,
    style_traits: Sequence[str] | None = None,
    details: Mapping[str, Any] | None = None,
    refinement_summary: str | None = None,
    persona_id: int | None = None,
    collections: Sequence[str] = (),
) -> int:
    """Insert a persona with version 1; return its id. `collections` (the document collections it
    will search) must still exist when it is saved (`store.documents.CollectionsMissing`)."""
    async with pool.connection() as conn, conn.transaction():
        await lock_collections(conn, collections)
        cur = await conn.execute(
            """INSERT INTO personas (id, kind, name, description, owner_id, model, temperature, attributes)
               VALUES (COALESCE(%s, nextval(pg_get_serial_sequence('personas', 'id'))),
                       %s, %s, %s, %s, %s, %s, %s) RETURNING id""",
            (persona_id, kind, name, description, owner_id, model, temperature, Jsonb(attributes or {})),
        )
        new_id: int = one_row(await cur.fetchone())["id"]
        await conn.execute(
            """INSERT INTO persona_versions (persona_id, version, system_prompt, style_traits,
                                             refinement_summary, details)
               VALUES (%s, 1, %s, %s, %s, %s)""",
            (new_id, system_prompt, Jsonb(style_traits or []), refinement_summary, Jsonb(details or {})),
        )
    return new_id


async def get_chat_profile(pool: Pool, persona_id: int, version: int | None = None) -> ChatProfileRow | None:
    """What the chat graph needs of a persona: name, kind, prompt, model settings, attributes."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT p.id, p.kind, v.version, v.system_prompt, v.style_traits,
                      -- a studio version records its own settings (store.versions), so an
                      -- earlier version runs as it was; other versions use the persona's
                      CASE WHEN v.name IS NULL THEN p.name ELSE v.name END AS name,
                      CASE WHEN v.name IS NULL THEN p.description ELSE v.description END AS description,
                      CASE WHEN v.name IS NULL THEN p.model ELSE v.model END AS model,
                      CASE WHEN v.name IS NULL THEN p.temperature ELSE v.temperature END AS temperature,
                      CASE WHEN v.name IS NULL THEN p.attributes ELSE v.attributes END AS attributes
                 FROM personas p
                 JOIN persona_versions v
                   ON v.persona_id = p.id AND v.version = COALESCE(%s, p.current_version)
                WHERE p.id = %s""",
            (version, persona_id),
        )
        return cast("ChatProfileRow | None", await cur.fetchone())
