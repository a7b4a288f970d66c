"""Document collections and their embedded chunks (pgvector).

Search: cosine distance `<=>` and euclidean distance `<->` are both computed for
every hit. pgvector 0.6 applies a WHERE filter *after* the HNSW scan (no iterative
scans), so an index search restricted to a small share of the table could return
fewer than k rows or miss the best ones. Therefore:

* exact (the default when the persona's collections hold at most
  `EXACT_SEARCH_MAX_ROWS` rows, or less than `HNSW_MIN_SHARE` of the table): the
  collection b-tree (the unique constraint's index) finds the rows and the distance
  is computed on each of them (`ORDER BY (embedding <op> q) + 0`, an expression no
  HNSW index can serve) -- exact L2 and cosine on the filtered rows;
* HNSW otherwise: the index of the chosen metric with `hnsw.ef_search` =
  `HNSW_EF_SEARCH` (measured in bench/rag_retrieval.py: recall@5 0.99 at 100).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal, TypedDict, cast

from psycopg.errors import ForeignKeyViolation

from store.types import Connection, Pool, one_row, vector_literal

Metric = Literal["cosine", "euclidean"]
EXACT_SEARCH_MAX_ROWS = 20_000
HNSW_MIN_SHARE = 0.5
HNSW_EF_SEARCH = 100


class CollectionNotFound(LookupError):
    """The collection does not exist (any more)."""


class CollectionRow(TypedDict):
    name: str
    owner_id: str
    description: str
    created_at: datetime


class CollectionSummaryRow(CollectionRow):
    documents: int
    chunks: int


class DocumentRow(TypedDict):
    doc_path: str
    file_name: str
    chunks: int
    uploaded_at: datetime


class CollectionUserRow(TypedDict):
    """A persona whose rag.db_collections names a collection."""

    id: int
    name: str
    owner_id: str | None


class DeletedCounts(TypedDict):
    documents: int
    chunks: int


class ChunkHit(TypedDict):
    id: int
    collection: str
    file_name: str
    doc_path: str
    chunk_index: int
    content: str
    cosine_similarity: float
    euclidean_distance: float


async def create_collection(pool: Pool, *, name: str, owner_id: str, description: str = "") -> bool:
    """Create a collection; False when the name is taken."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """INSERT INTO document_collections (name, owner_id, description) VALUES (%s, %s, %s)
               ON CONFLICT (name) DO NOTHING RETURNING name""",
            (name, owner_id, description),
        )
        return await cur.fetchone() is not None


async def get_collection(pool: Pool, name: str) -> CollectionRow | None:
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT * FROM document_collections WHERE name = %s", (name,))
        return cast("CollectionRow | None", await cur.fetchone())


async def list_collections(pool: Pool, owner_id: str | None = None) -> list[CollectionSummaryRow]:
    """Collections with document and chunk counts; all of them when owner_id is None."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT c.name, c.owner_id, c.description, c.created_at,
                      COUNT(DISTINCT d.doc_path) AS documents, COUNT(d.id) AS chunks
                 FROM document_collections c
                 LEFT JOIN document_chunks d ON d.collection = c.name
                WHERE %s::text IS NULL OR c.owner_id = %s
                GROUP BY c.name ORDER BY c.name""",
            (owner_id, owner_id),
        )
        return cast(list[CollectionSummaryRow], await cur.fetchall())


async def replace_document(
    pool: Pool,
    *,
    collection: str,
    file_name: str,
    doc_path: str,
    chunks: Sequence[str],
    embeddings: Sequence[Sequence[float]],
) -> int:
    """Store a document's chunks, replacing any earlier upload of the same path; return the count."""
    if len(chunks) != len(embeddings):
        raise ValueError("one embedding per chunk")
    try:
        async with pool.connection() as conn, conn.transaction():
            await conn.execute(
                "DELETE FROM document_chunks WHERE collection = %s AND doc_path = %s", (collection, doc_path)
            )
            async with conn.cursor() as cur:
                await cur.executemany(
                    """INSERT INTO document_chunks (collection, file_name, doc_path, chunk_index, content, embedding)
                       VALUES (%s, %s, %s, %s, %s, %s::vector)""",
                    [
                        (collection, file_name, doc_path, i, text, vector_literal(vec))
                        for i, (text, vec) in enumerate(zip(chunks, embeddings, strict=True))
                    ],
                )
    except ForeignKeyViolation:  # the collection was deleted while the upload was embedded
        raise CollectionNotFound(collection) from None
    return len(chunks)


async def list_documents(pool: Pool, collection: str) -> list[DocumentRow]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            """SELECT doc_path, MIN(file_name) AS file_name, COUNT(*) AS chunks, MAX(created_at) AS uploaded_at
                 FROM document_chunks WHERE collection = %s GROUP BY doc_path ORDER BY doc_path""",
            (collection,),
        )
        return cast(list[DocumentRow], await cur.fetchall())


async def delete_document(pool: Pool, collection: str, doc_path: str) -> int:
    """Delete a document's chunks; return how many rows went."""
    async with pool.connection() as conn:
        cur = await conn.execute(
            "DELETE FROM document_chunks WHERE collection = %s AND doc_path = %s", (collection, doc_path)
        )
        return cur.rowcount


class CollectionInUse(Exception):
    """A persona's rag.db_collections still names the collection."""

    def __init__(self, personas: list[CollectionUserRow]):
        super().__init__(f"used by {len(personas)} persona(s)")
        self.personas = personas  # [{"id", "name", "owner_id"}]


async def delete_collection(pool: Pool, name: str) -> DeletedCounts | None:
    """Delete a collection and (by cascade) its chunks; return {"documents", "chunks"} deleted,
    None when it does not exist. Raises `CollectionInUse` while any persona's
    `attributes.rag.db_collections` names it, so no persona is left searching nothing.

    The collection row is locked for the check and the delete (one transaction), so two
    deletes, or a delete and an upload, do not interleave."""
    async with pool.connection() as conn, conn.transaction():
        cur = await conn.execute("SELECT name FROM document_collections WHERE name = %s FOR UPDATE", (name,))
        if await cur.fetchone() is None:
            return None
        cur = await conn.execute(
            """SELECT id, name, owner_id FROM personas
                WHERE jsonb_typeof(attributes->'rag'->'db_collections') = 'array'
                  AND attributes->'rag'->'db_collections' ? %s
                ORDER BY id""",
            (name,),
        )
        users = cast(list[CollectionUserRow], await cur.fetchall())
        if users:
            raise CollectionInUse(users)
        cur = await conn.execute(
            """SELECT COUNT(DISTINCT doc_path) AS documents, COUNT(*) AS chunks
                 FROM document_chunks WHERE collection = %s""",
            (name,),
        )
        counts = one_row(await cur.fetchone())
        await conn.execute("DELETE FROM document_collections WHERE name = %s", (name,))
        return {"documents": int(counts["documents"]), "chunks": int(counts["chunks"])}


class CollectionsMissing(LookupError):
    """Collections a persona names were deleted before the persona was saved."""

    def __init__(self, names: Sequence[str]):
        super().__init__(", ".join(names))
        self.names = list(names)


async def lock_collections(conn: Connection, names: Sequence[str]) -> None:
    """Inside a persona write's transaction: share-lock the named collections, so a concurrent
    `delete_collection` (which takes the row FOR UPDATE) waits for the write and then sees the
    persona, or the write sees the collection gone (`CollectionsMissing`)."""
    wanted = sorted(set(names))
    if not wanted:
        return
    cur = await conn.execute(
        "SELECT name FROM document_collections WHERE name = ANY(%s) ORDER BY name FOR SHARE", (wanted,)
    )
    found = {row["name"] for row in await cur.fetchall()}
    if missing := [name for name in wanted if name not in found]:
        raise CollectionsMissing(missing)


async def collection_names(pool: Pool) -> list[str]:
    """Every collection's name (no counts: cheap enough for a chat turn)."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT name FROM document_collections ORDER BY name")
        return [row["name"] for row in await cur.fetchall()]


async def existing_collections(pool: Pool, names: Sequence[str]) -> dict[str, str]:
    """{name: owner_id} of the named collections that exist."""
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT name, owner_id FROM document_collections WHERE name = ANY(%s)", (list(names),))
        return {row["name"]: row["owner_id"] for row in await cur.fetchall()}


async def search_chunks(
    pool: Pool,
    *,
    query_vector: Sequence[float],
    collections: Sequence[str],
    metric: Metric = "cosine",
    k: int = 4,
    exact: bool | None = None,
    ef_search: int = HNSW_EF_SEARCH,
) -> list[ChunkHit]:
    """The k nearest chunks in `collections` by `metric`, each with both
    `cosine_similarity` and `euclidean_distance`. `exact=None` chooses by size."""
    if not collections or k <= 0:
        return []
    order = "<=>" if metric == "cosine" else "<->"
    q = vector_literal(query_vector)
    names = list(collections)
    async with pool.connection() as conn, conn.transaction():
        if exact is None:
            cur = await conn.execute(
                """SELECT (SELECT COUNT(*) FROM document_chunks WHERE collection = ANY(%s)) AS n,
                          (SELECT GREATEST(reltuples, 0) FROM pg_class
                            WHERE oid = 'document_chunks'::regclass) AS total""",
                (names,),
            )
            sizes = one_row(await cur.fetchone())
            exact = sizes["n"] <= EXACT_SEARCH_MAX_ROWS or sizes["n"] < HNSW_MIN_SHARE * sizes["total"]
        if exact:
            sql = f"""SELECT id, collection, file_name, doc_path, chunk_index, content,
                             1 - (embedding <=> %(q)s::vector) AS cosine_similarity,
                             embedding <-> %(q)s::vector AS euclidean_distance
                        FROM document_chunks WHERE collection = ANY(%(names)s)
                       ORDER BY (embedding {order} %(q)s::vector) + 0 LIMIT %(k)s"""
        else:
            await conn.execute(f"SET LOCAL hnsw.ef_search = {max(int(ef_search), k)}")
            sql = f"""SELECT id, collection, file_name, doc_path, chunk_index, content,
                             1 - (embedding <=> %(q)s::vector) AS cosine_similarity,
                             embedding <-> %(q)s::vector AS euclidean_distance
                        FROM document_chunks WHERE collection = ANY(%(names)s)
                       ORDER BY embedding {order} %(q)s::vector LIMIT %(k)s"""
        cur = await conn.execute(sql, {"names": names, "q": q, "k": k})
        return cast(list[ChunkHit], await cur.fetchall())
