"""pgvector look-ups for segment twins: clusters and the personas inside a cluster.

Similarity is cosine similarity (1 - cosine distance), clamped to [0, 1].
"""

from __future__ import annotations

from typing import Any, Sequence

from psycopg_pool import AsyncConnectionPool


def vector_literal(vector: Sequence[float]) -> str:
    """pgvector's text form, cast with `::vector` in SQL."""
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


def clamp_similarity(value: float | None) -> float:
    return max(0.0, min(1.0, float(value or 0.0)))


async def search_clusters(pool: AsyncConnectionPool, vector: Sequence[float], limit: int = 50) -> list[dict[str, Any]]:
    """The `limit` clusters nearest to `vector` (HNSW), best first, with `similarity`."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT id, name, summary, attributes, 1 - (embedding <=> %s::vector) AS similarity
                 FROM clusters ORDER BY embedding <=> %s::vector, id LIMIT %s""",
            (vector_literal(vector), vector_literal(vector), limit),
        )
        rows = await cur.fetchall()
    return [{**r, "similarity": clamp_similarity(r["similarity"])} for r in rows]


async def get_cluster(pool: AsyncConnectionPool, cluster_id: int) -> dict[str, Any] | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, summary, attributes FROM clusters WHERE id = %s", (cluster_id,))
        return await cur.fetchone()


async def cluster_personas(pool: AsyncConnectionPool, cluster_id: int,
                           vector: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """All personas of a cluster in id order; with `vector`, each carries its `similarity`."""
    async with pool.connection() as conn:
        if vector is None:
            cur = await conn.execute(
                """SELECT persona_id, cluster_id, name, gender, age_band, summary, attributes
                     FROM segment_personas WHERE cluster_id = %s ORDER BY persona_id""", (cluster_id,))
            return await cur.fetchall()
        cur = await conn.execute(
            """SELECT persona_id, cluster_id, name, gender, age_band, summary, attributes,
                      1 - (embedding <=> %s::vector) AS similarity
                 FROM segment_personas WHERE cluster_id = %s ORDER BY persona_id""", (vector_literal(vector), cluster_id))
        rows = await cur.fetchall()
    return [{**r, "similarity": clamp_similarity(r["similarity"])} for r in rows]


async def get_segment_persona(pool: AsyncConnectionPool, persona_id: int) -> dict[str, Any] | None:
    """A segment persona with its cluster's name, or None."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT s.persona_id, s.cluster_id, s.name, s.gender, s.age_band, s.summary, s.attributes,
                      c.name AS cluster_name
                 FROM segment_personas s JOIN clusters c ON c.id = s.cluster_id
                WHERE s.persona_id = %s""", (persona_id,))
        return await cur.fetchone()
