"""Segment twins in Postgres: clusters, segment personas (each also a `personas` row of
kind 'twin' with its version-1 system prompt), and chat sessions per (caller, persona).

`replace_twins` swaps the whole data set in ONE transaction, so a failed import
leaves the previous clusters and personas in place.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypedDict

from psycopg.types.json import Jsonb

from store.types import Pool, vector_literal

_REPLACE_LOCK = 0x5E55_0002
_FIRST_LOAD_LOCK = _REPLACE_LOCK + 1


class ClusterInsert(TypedDict):
    """One cluster to write; `id` is the cluster's key."""

    id: int
    name: str
    summary: str
    attributes: dict[str, Any]
    embedding: Sequence[float]


class TwinInsert(TypedDict):
    """One segment persona to write, with its version-1 system prompt."""

    cluster_id: int
    name: str
    gender: str
    age_band: str
    summary: str
    attributes: dict[str, Any]
    system_prompt: str
    embedding: Sequence[float]


@dataclass(frozen=True)
class ImportSummary:
    clusters: int
    personas: int
    first_persona_id: int | None
    last_persona_id: int | None


async def replace_twins(
    pool: Pool,
    clusters: Sequence[ClusterInsert],
    personas: Sequence[TwinInsert],
    record_schema: dict[str, Any] | None = None,
) -> ImportSummary:
    """Replace all clusters and segment personas (and the record schema they were built with,
    None for the demo set), atomically.

    The transaction locks the tables it rewrites, deletes the old twins, inserts the new
    ones with explicit ids and moves the personas id sequence past them. Each persona's
    `personas` row carries its segment attributes plus gender, age band and cluster.
    """
    names = {c["id"]: c["name"] for c in clusters}
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REPLACE_LOCK,))
        # No other writer may take persona ids while explicit ids are being inserted.
        await conn.execute("LOCK TABLE personas IN SHARE ROW EXCLUSIVE MODE")
        await conn.execute("DELETE FROM personas WHERE id IN (SELECT persona_id FROM segment_personas)")
        await conn.execute("DELETE FROM clusters")
        await conn.execute("DELETE FROM twin_record_schema")
        if record_schema is not None:
            await conn.execute("INSERT INTO twin_record_schema (schema) VALUES (%s)", (Jsonb(record_schema),))
        cur = await conn.execute("SELECT COALESCE(MAX(id), 0) AS top FROM personas")
        top = await cur.fetchone()
        base = int(top["top"]) if top is not None else 0
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO clusters (id, name, summary, attributes, embedding) VALUES (%s, %s, %s, %s, %s::vector)",
                [
                    (c["id"], c["name"], c["summary"], Jsonb(c["attributes"]), vector_literal(c["embedding"]))
                    for c in clusters
                ],
            )
            persona_rows, version_rows, segment_rows = [], [], []
            for pid, twin in enumerate(personas, start=base + 1):
                vec = vector_literal(twin["embedding"])
                attrs = {
                    **twin["attributes"],
                    "gender": twin["gender"],
                    "age_band": twin["age_band"],
                    "cluster_id": twin["cluster_id"],
                    "cluster_name": names[twin["cluster_id"]],
                }
                persona_rows.append((pid, twin["name"], twin["summary"], Jsonb(attrs), vec))
                version_rows.append((pid, twin["system_prompt"]))
                segment_rows.append(
                    (
                        pid,
                        twin["cluster_id"],
                        twin["name"],
                        twin["gender"],
                        twin["age_band"],
                        twin["summary"],
                        Jsonb(twin["attributes"]),
                        vec,
                    )
                )
            await cur.executemany(
                """INSERT INTO personas (id, kind, name, description, attributes, embedding)
                   VALUES (%s, 'twin', %s, %s, %s, %s::vector)""",
                persona_rows,
            )
            await cur.executemany(
                "INSERT INTO persona_versions (persona_id, version, system_prompt) VALUES (%s, 1, %s)", version_rows
            )
            await cur.executemany(
                """INSERT INTO segment_personas (persona_id, cluster_id, name, gender, age_band, summary,
                                                 attributes, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)""",
                segment_rows,
            )
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('personas', 'id'), GREATEST((SELECT MAX(id) FROM personas), 1))"
        )
    n = len(personas)
    return ImportSummary(len(clusters), n, base + 1 if n else None, base + n if n else None)


async def stored_record_schema(pool: Pool) -> dict[str, Any] | None:
    """The record schema of the stored twins (None: the demo set, or none stored)."""
    async with pool.connection() as conn:
        row = await (await conn.execute("SELECT schema FROM twin_record_schema")).fetchone()
    return dict(row["schema"]) if row is not None else None


async def count_clusters(pool: Pool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM clusters")
        row = await cur.fetchone()
    return int(row["n"]) if row is not None else 0


@asynccontextmanager
async def first_load_lock(pool: Pool) -> AsyncIterator[bool]:
    """Try the first-load lock (a session advisory lock held for the block): True when taken.

    Replicas starting together: only the one that gets it loads."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_FIRST_LOAD_LOCK,))
        row = await cur.fetchone()
        if row is None or not row["ok"]:
            yield False
            return
        try:
            yield True
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_FIRST_LOAD_LOCK,))


# ---------------------------------------------------------------- sessions


async def resolve_session(pool: Pool, caller: str, persona_id: int, session_id: str | None) -> tuple[str, str]:
    """(session_id, thread_id) for a caller's chat with a twin.

    A known `session_id` continues that session; an unknown one starts a fresh session under
    that id; none continues the caller's most recent session (or starts one).
    """
    async with pool.connection() as conn:
        if session_id is None:
            cur = await conn.execute(
                """SELECT session_id, thread_id FROM twin_sessions WHERE caller = %s AND persona_id = %s
                   ORDER BY updated_at DESC LIMIT 1""",
                (caller, persona_id),
            )
        else:
            cur = await conn.execute(
                """SELECT session_id, thread_id FROM twin_sessions
                    WHERE caller = %s AND persona_id = %s AND session_id = %s""",
                (caller, persona_id, session_id),
            )
        row = await cur.fetchone()
        if row is not None:
            await conn.execute(
                "UPDATE twin_sessions SET updated_at = now() WHERE caller = %s AND persona_id = %s AND session_id = %s",
                (caller, persona_id, row["session_id"]),
            )
            return row["session_id"], row["thread_id"]
        new_session = session_id or uuid.uuid4().hex
        thread_id = f"twin-{uuid.uuid4().hex}"
        cur = await conn.execute(
            """INSERT INTO twin_sessions (caller, persona_id, session_id, thread_id) VALUES (%s, %s, %s, %s)
               ON CONFLICT (caller, persona_id, session_id) DO UPDATE SET updated_at = now()
               RETURNING session_id, thread_id""",
            (caller, persona_id, new_session, thread_id),
        )
        row = await cur.fetchone()
    if row is None:
        raise RuntimeError("twin_sessions upsert returned no row")
    return row["session_id"], row["thread_id"]
