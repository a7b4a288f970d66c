"""Segment twins in Postgres: clusters, segment personas (each also a `personas` row of
kind 'twin' with a rendered system prompt), and chat sessions per (caller, persona).

`replace_segments` swaps the whole data set in ONE transaction, so a failed import
leaves the previous clusters and personas in place.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from prompts import render_prompt
from retrievers.clusters import vector_literal as _vector
from store.segments.model import SegmentPersonaSpec, SegmentSet

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

# Attributes that are bookkeeping, not facts about the persona.
_HIDDEN_ATTRIBUTES = {"record_id", "age_adjusted"}
_REPLACE_LOCK = 0x5E55_0002


@dataclass(frozen=True)
class ImportSummary:
    clusters: int
    personas: int
    first_persona_id: int | None
    last_persona_id: int | None


def cluster_text(name: str, summary: str) -> str:
    """What a cluster's embedding is computed from."""
    return f"{name}. {summary}"


def persona_text(spec: SegmentPersonaSpec) -> str:
    """What a segment persona's embedding is computed from."""
    return f"{spec.gender}, {spec.age_band}. {spec.summary}"


def _facts(attributes: dict[str, Any]) -> str:
    lines = []
    for key, value in attributes.items():
        if key in _HIDDEN_ATTRIBUTES or isinstance(value, (dict, list)):
            continue
        if isinstance(value, bool):
            value = "yes" if value else "no"
        lines.append(f"- {key.replace('_', ' ')}: {value}")
    return "\n".join(lines)


def twin_system_prompt(spec: SegmentPersonaSpec, cluster_name: str, cluster_summary: str) -> str:
    """The twin's version-1 system prompt, rendered from `prompts/twin_persona_system.txt`."""
    return render_prompt("twin_persona_system", persona_name=spec.name, age_band=spec.age_band,
                         gender=spec.gender.lower(), cluster_name=cluster_name, summary=spec.summary,
                         attributes=_facts(spec.attributes), cluster_summary=cluster_summary)


async def replace_segments(pool: AsyncConnectionPool, segments: SegmentSet, embeddings: Any,
                           progress: Progress | None = None) -> ImportSummary:
    """Replace all clusters and segment personas with `segments`, atomically.

    Embeddings are computed before the transaction opens; the transaction then locks the
    tables it rewrites, deletes the old twins, inserts the new ones with explicit ids and
    moves the personas id sequence past them.
    """
    say = progress or (lambda _m: None)
    say(f"embedding {len(segments.clusters)} clusters")
    cluster_vectors = await embeddings.aembed_documents([cluster_text(c.name, c.summary) for c in segments.clusters])
    say(f"embedding {len(segments.personas)} personas")
    persona_vectors = await embeddings.aembed_documents([persona_text(p) for p in segments.personas])
    clusters_by_key = {c.key: c for c in segments.clusters}
    say("writing to the database (one transaction)")
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_REPLACE_LOCK,))
        # No other writer may take persona ids while explicit ids are being inserted.
        await conn.execute("LOCK TABLE personas IN SHARE ROW EXCLUSIVE MODE")
        await conn.execute("DELETE FROM personas WHERE id IN (SELECT persona_id FROM segment_personas)")
        await conn.execute("DELETE FROM clusters")
        cur = await conn.execute("SELECT COALESCE(MAX(id), 0) AS top FROM personas")
        base = int((await cur.fetchone())["top"])
        async with conn.cursor() as cur:
            await cur.executemany(
                "INSERT INTO clusters (id, name, summary, attributes, embedding) VALUES (%s, %s, %s, %s, %s::vector)",
                [(c.key, c.name, c.summary, Jsonb(c.attributes), _vector(v))
                 for c, v in zip(segments.clusters, cluster_vectors)],
            )
            persona_rows, version_rows, segment_rows = [], [], []
            for offset, (spec, vec) in enumerate(zip(segments.personas, persona_vectors), start=1):
                pid = base + offset
                cluster = clusters_by_key[spec.cluster_key]
                attrs = {**spec.attributes, "gender": spec.gender, "age_band": spec.age_band,
                         "cluster_id": cluster.key, "cluster_name": cluster.name}
                persona_rows.append((pid, spec.name, spec.summary, Jsonb(attrs), _vector(vec)))
                version_rows.append((pid, twin_system_prompt(spec, cluster.name, cluster.summary)))
                segment_rows.append((pid, spec.cluster_key, spec.name, spec.gender, spec.age_band, spec.summary,
                                     Jsonb(spec.attributes), _vector(vec)))
            await cur.executemany(
                """INSERT INTO personas (id, kind, name, description, attributes, embedding)
                   VALUES (%s, 'twin', %s, %s, %s, %s::vector)""", persona_rows)
            await cur.executemany(
                "INSERT INTO persona_versions (persona_id, version, system_prompt) VALUES (%s, 1, %s)",
                version_rows)
            await cur.executemany(
                """INSERT INTO segment_personas (persona_id, cluster_id, name, gender, age_band, summary,
                                                 attributes, embedding)
                   VALUES (%s, %s, %s, %s, %s, %s, %s, %s::vector)""", segment_rows)
        await conn.execute(
            "SELECT setval(pg_get_serial_sequence('personas', 'id'), GREATEST((SELECT MAX(id) FROM personas), 1))")
    n = len(segments.personas)
    summary = ImportSummary(len(segments.clusters), n, base + 1 if n else None, base + n if n else None)
    say(f"imported {summary.clusters} clusters and {summary.personas} personas")
    return summary


async def count_clusters(pool: AsyncConnectionPool) -> int:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT count(*) AS n FROM clusters")
        return int((await cur.fetchone())["n"])


async def ensure_demo_twins(services: Any) -> ImportSummary | None:
    """Load the bundled demo set when no clusters exist yet (first start); else do nothing.

    Off when `settings.twin_demo_autoload` is false.
    """
    if not getattr(services.settings, "twin_demo_autoload", True):
        return None
    if await count_clusters(services.pool) > 0:
        return None
    from store.segments.demo import demo_segments

    segments = demo_segments()
    async with services.pool.connection() as conn:
        # Replicas starting together: only the first one loads.
        cur = await conn.execute("SELECT pg_try_advisory_lock(%s) AS ok", (_REPLACE_LOCK + 1,))
        if not (await cur.fetchone())["ok"]:
            return None
        try:
            if await count_clusters(services.pool) > 0:
                return None
            result = await replace_segments(services.pool, segments, services.require_embeddings())
        finally:
            await conn.execute("SELECT pg_advisory_unlock(%s)", (_REPLACE_LOCK + 1,))
    log.info("loaded the demo segment twins: %d clusters, %d personas", result.clusters, result.personas)
    return result


# ---------------------------------------------------------------- sessions


async def resolve_session(pool: AsyncConnectionPool, caller: str, persona_id: int,
                          session_id: str | None) -> tuple[str, str]:
    """(session_id, thread_id) for a caller's chat with a twin.

    A known `session_id` continues that session; an unknown one starts a fresh session under
    that id; none continues the caller's most recent session (or starts one).
    """
    async with pool.connection() as conn:
        if session_id is None:
            cur = await conn.execute(
                """SELECT session_id, thread_id FROM twin_sessions WHERE caller = %s AND persona_id = %s
                   ORDER BY updated_at DESC LIMIT 1""", (caller, persona_id))
        else:
            cur = await conn.execute(
                """SELECT session_id, thread_id FROM twin_sessions
                    WHERE caller = %s AND persona_id = %s AND session_id = %s""", (caller, persona_id, session_id))
        row = await cur.fetchone()
        if row is not None:
            await conn.execute(
                "UPDATE twin_sessions SET updated_at = now() WHERE caller = %s AND persona_id = %s AND session_id = %s",
                (caller, persona_id, row["session_id"]))
            return row["session_id"], row["thread_id"]
        new_session = session_id or uuid.uuid4().hex
        thread_id = f"twin-{uuid.uuid4().hex}"
        cur = await conn.execute(
            """INSERT INTO twin_sessions (caller, persona_id, session_id, thread_id) VALUES (%s, %s, %s, %s)
               ON CONFLICT (caller, persona_id, session_id) DO UPDATE SET updated_at = now()
               RETURNING session_id, thread_id""",
            (caller, persona_id, new_session, thread_id))
        row = await cur.fetchone()
        return row["session_id"], row["thread_id"]
