"""What export and import read and write beyond one table's repository: every version of a
persona, the documents (with their chunk texts) of collections, and a ghostwriter persona
restored from a bundle in one transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypedDict, cast

from psycopg.types.json import Jsonb

from store.types import Pool


class PlainVersionRow(TypedDict):
    version: int
    system_prompt: str
    style_traits: list[str]
    refinement_summary: str | None
    details: dict[str, Any]
    created_at: datetime


class DocumentChunksRow(TypedDict):
    collection: str
    doc_path: str
    file_name: str
    chunks: list[str]


class GhostwriterVersion(TypedDict):
    version: int
    system_prompt: str
    style_traits: list[str]
    refinement_summary: str | None
    details: dict[str, Any]
    created_at: datetime | None


class PersonaExists(Exception):
    """The account has a persona and the restore was not asked to replace it."""


async def all_versions(pool: Pool, persona_id: int) -> list[PlainVersionRow]:
    """Every version of a persona, oldest first."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT version, system_prompt, style_traits, refinement_summary, details, created_at
                 FROM persona_versions WHERE persona_id = %s ORDER BY version""",
            (persona_id,),
        )
        return cast(list[PlainVersionRow], await cur.fetchall())


async def collection_documents(pool: Pool, names: Sequence[str]) -> list[DocumentChunksRow]:
    """The documents of the named collections, each with its chunk texts in order."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT collection, doc_path, MIN(file_name) AS file_name,
                      array_agg(content ORDER BY chunk_index) AS chunks
                 FROM document_chunks WHERE collection = ANY(%s)
                GROUP BY collection, doc_path ORDER BY collection, doc_path""",
            (list(names),),
        )
        return cast(list[DocumentChunksRow], await cur.fetchall())


async def restore_ghostwriter(
    pool: Pool,
    account: Mapping[str, Any],
    versions: Sequence[GhostwriterVersion],
    current_version: int,
    *,
    replace: bool,
) -> int | None:
    """Give the account a persona with exactly `versions` (current: `current_version`), in one
    transaction. An existing persona keeps its id and loses its versions when `replace`;
    without it, `PersonaExists`. Returns the persona id, None when the account does not exist."""
    async with pool.connection() as conn, conn.transaction():
        # the account row serialises restores and creations for the account
        cur = await conn.execute("SELECT id FROM accounts WHERE id = %s FOR UPDATE", (account["id"],))
        if await cur.fetchone() is None:
            return None
        cur = await conn.execute("SELECT persona_id FROM ghostwriter_personas WHERE account_id = %s", (account["id"],))
        row = await cur.fetchone()
        if row is not None:
            if not replace:
                raise PersonaExists(account["id"])
            persona_id = int(row["persona_id"])
            await conn.execute("DELETE FROM persona_versions WHERE persona_id = %s", (persona_id,))
            await conn.execute(
                "UPDATE personas SET current_version = %s, updated_at = now() WHERE id = %s",
                (current_version, persona_id),
            )
        else:
            cur = await conn.execute(
                """INSERT INTO personas (kind, name, description, owner_id, current_version)
                   VALUES ('ghostwriter', %s, %s, %s, %s) RETURNING id""",
                (f"@{account['handle']}", account.get("display_name") or "", account["id"], current_version),
            )
            created = await cur.fetchone()
            assert created is not None
            persona_id = int(created["id"])
            await conn.execute(
                "INSERT INTO ghostwriter_personas (account_id, persona_id) VALUES (%s, %s)", (account["id"], persona_id)
            )
        async with conn.cursor() as insert:
            await insert.executemany(
                """INSERT INTO persona_versions (persona_id, version, system_prompt, style_traits,
                                                 refinement_summary, details, created_at)
                   VALUES (%s, %s, %s, %s, %s, %s, COALESCE(%s, now()))""",
                [
                    (
                        persona_id,
                        v["version"],
                        v["system_prompt"],
                        Jsonb(v["style_traits"]),
                        v["refinement_summary"],
                        Jsonb(v["details"]),
                        v["created_at"],
                    )
                    for v in versions
                ],
            )
    return persona_id
