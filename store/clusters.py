"""Read side of the segment twins: clusters and the personas inside a cluster, by id or by vector.

Similarity is cosine similarity (1 - cosine distance), clamped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import orjson

from store.types import Pool, vector_literal


class ClusterRow(TypedDict):
    id: int
    name: str
    summary: str
    attributes: dict[str, Any] | None


class ClusterMatchRow(ClusterRow):
    similarity: float


class SegmentPersonaRow(TypedDict):
    persona_id: int
    cluster_id: int
    name: str
    gender: str
    age_band: str
    summary: str
    attributes: dict[str, Any] | None


class ScoredSegmentPersonaRow(SegmentPersonaRow):
    similarity: float


class SegmentPersonaWithClusterRow(SegmentPersonaRow):
    cluster_name: str


def clamp_similarity(value: float | None) -> float:
    return max(0.0, min(1.0, float(value or 0.0)))


async def search_clusters(pool: Pool, vector: Sequence[float], limit: int = 50) -> list[ClusterMatchRow]:
    """The `limit` clusters nearest to `vector` (HNSW), best first, with `similarity`.

    Every routed query reads every candidate's attributes, so they come as text for orjson,
    several times faster than psycopg's `json` (they are our own import's shares and counts:
    nothing orjson would read differently)."""
    literal = vector_literal(vector)
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT id, name, summary, attributes::text AS attributes, 1 - (embedding <=> %s::vector) AS similarity
                 FROM clusters ORDER BY embedding <=> %s::vector, id LIMIT %s""",
            (literal, literal, limit),
        )
        rows = await cur.fetchall()
    return [
        ClusterMatchRow(
            id=r["id"],
            name=r["name"],
            summary=r["summary"],
            attributes=None if r["attributes"] is None else orjson.loads(r["attributes"]),
            similarity=clamp_similarity(r["similarity"]),
        )
        for r in rows
    ]


async def get_cluster(pool: Pool, cluster_id: int) -> ClusterRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, summary, attributes FROM clusters WHERE id = %s", (cluster_id,))
        row = await cur.fetchone()
    if row is None:
        return None
    return ClusterRow(id=row["id"], name=row["name"], summary=row["summary"], attributes=row["attributes"])


def _persona(row: dict[str, Any]) -> SegmentPersonaRow:
    return SegmentPersonaRow(
        persona_id=row["persona_id"],
        cluster_id=row["cluster_id"],
        name=row["name"],
        gender=row["gender"],
        age_band=row["age_band"],
        summary=row["summary"],
        attributes=row["attributes"],
    )


async def cluster_personas(pool: Pool, cluster_id: int) -> list[SegmentPersonaRow]:
    """All personas of a cluster in id order."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT persona_id, cluster_id, name, gender, age_band, summary, attributes
                 FROM segment_personas WHERE cluster_id = %s ORDER BY persona_id""",
            (cluster_id,),
        )
        rows = await cur.fetchall()
    return [_persona(r) for r in rows]


async def scored_cluster_personas(
    pool: Pool, cluster_id: int, vector: Sequence[float]
) -> list[ScoredSegmentPersonaRow]:
    """All personas of a cluster in id order, each with its `similarity` to `vector`."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT persona_id, cluster_id, name, gender, age_band, summary, attributes,
                      1 - (embedding <=> %s::vector) AS similarity
                 FROM segment_personas WHERE cluster_id = %s ORDER BY persona_id""",
            (vector_literal(vector), cluster_id),
        )
        rows = await cur.fetchall()
    return [ScoredSegmentPersonaRow(**_persona(r), similarity=clamp_similarity(r["similarity"])) for r in rows]


async def get_segment_persona(pool: Pool, persona_id: int) -> SegmentPersonaWithClusterRow | None:
    """A segment persona with its cluster's name, or None."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT s.persona_id, s.cluster_id, s.name, s.gender, s.age_band, s.summary, s.attributes,
                      c.name AS cluster_name
                 FROM segment_personas s JOIN clusters c ON c.id = s.cluster_id
                WHERE s.persona_id = %s""",
            (persona_id,),
        )
        row = await cur.fetchone()
    if row is None:
        return None
    return SegmentPersonaWithClusterRow(**_persona(row), cluster_name=row["cluster_name"])


async def list_clusters(pool: Pool) -> list[ClusterRow]:
    """Every cluster, in id order."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name, summary, attributes FROM clusters ORDER BY id")
        rows = await cur.fetchall()
    return [ClusterRow(id=r["id"], name=r["name"], summary=r["summary"], attributes=r["attributes"]) for r in rows]
