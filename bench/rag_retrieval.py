"""Document retrieval: HNSW index vs exact search over 100,000 chunks, in the same run.

Loads random-but-clustered unit vectors (384-d, like MiniLM embeddings) into
`document_chunks` of a fresh database (the real migration's schema and index
definitions), then times `store.documents.search_chunks` with `exact=True`
(a scan of the collection's rows) and `exact=False` (the HNSW index) for the
same queries, and prints p50 latencies, the speed-up and recall@5 of HNSW
against exact search, for a few `hnsw.ef_search` values.

    .venv/bin/python -m bench.rag_retrieval [--rows 100000] [--queries 100] [--metric cosine]

Always runs on an embedded Postgres in a temp folder (DATABASE_URL is ignored: the
bench drops and rebuilds the chunk indexes). Takes a few minutes, mostly the index build.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Literal

import numpy as np
from pgvector.psycopg import register_vector_async

from runtime.services import Services
from runtime.settings import Settings
from store.documents import search_chunks

DIM = 384
INDEXES = {
    "cosine": ("document_chunks_embedding_cosine_hnsw", "vector_cosine_ops"),
    "euclidean": ("document_chunks_embedding_l2_hnsw", "vector_l2_ops"),
}


def clustered_vectors(
    n: int, *, clusters: int, spread: float, rng: np.random.Generator, centers: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors scattered around `clusters` random centres; returns (vectors, centres)."""
    if centers is None:
        centers = rng.normal(size=(clusters, DIM)).astype(np.float32)
        centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    labels = rng.integers(0, len(centers), size=n)
    vectors = centers[labels] + rng.normal(scale=spread / np.sqrt(DIM), size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), centers


async def load(services: Services, collection: str, owner: str, vectors: np.ndarray, metric: str) -> float:
    """Insert the rows with COPY (index dropped), then build the metric's HNSW index; returns build seconds."""
    index, opclass = INDEXES[metric]
    async with services.pool.connection() as conn:
        await register_vector_async(conn)
        await conn.execute(
            "INSERT INTO users (id, username, password_hash, role) VALUES (%s, %s, '-', 'builder')", (owner, owner)
        )
        await conn.execute("INSERT INTO document_collections (name, owner_id) VALUES (%s, %s)", (collection, owner))
        for name, _ in INDEXES.values():
            await conn.execute(f"DROP INDEX IF EXISTS {name}")
        async with conn.cursor() as cur:
            async with cur.copy(
                "COPY document_chunks (collection, file_name, doc_path, chunk_index, content, "
                "embedding) FROM STDIN WITH (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["text", "text", "text", "int4", "text", "vector"])
                for i, vec in enumerate(vectors):
                    doc = f"doc-{i // 10}.md"
                    await copy.write_row((collection, doc, doc, i % 10, f"chunk {i}", vec))
        await conn.execute("SET maintenance_work_mem = '1GB'")
        await conn.execute("SET max_parallel_maintenance_workers = 2")
        started = time.perf_counter()
        await conn.execute(f"CREATE INDEX {index} ON document_chunks USING hnsw (embedding {opclass})")
        build_s = time.perf_counter() - started
        await conn.execute("ANALYZE document_chunks")
    return build_s


async def timed(
    services: Services,
    query: np.ndarray,
    collection: str,
    metric: Literal["cosine", "euclidean"],
    exact: bool,
    ef: int,
) -> tuple[float, list[int]]:
    started = time.perf_counter()
    rows = await search_chunks(
        services.pool,
        query_vector=query.tolist(),
        collections=[collection],
        metric=metric,
        k=5,
        exact=exact,
        ef_search=ef,
    )
    return time.perf_counter() - started, [r["id"] for r in rows]


async def uses_index(services: Services, query: np.ndarray, collection: str, metric: str) -> bool:
    """True when the planner answers the non-exact query with the HNSW index."""
    op = "<=>" if metric == "cosine" else "<->"
    literal = "[" + ",".join(f"{x:.6f}" for x in query) + "]"
    async with services.pool.connection() as conn:
        cur = await conn.execute(
            f"EXPLAIN SELECT id FROM document_chunks WHERE collection = ANY(%s) "
            f"ORDER BY embedding {op} %s::vector LIMIT 5",
            ([collection], literal),
        )
        plan = " ".join(str(next(iter(row.values()))) for row in await cur.fetchall())
    return INDEXES[metric][0] in plan


async def run(args: argparse.Namespace, data_dir: Path) -> None:
    rng = np.random.default_rng(args.seed)
    vectors, centers = clustered_vectors(args.rows, clusters=args.clusters, spread=args.spread, rng=rng)
    queries, _ = clustered_vectors(args.queries, clusters=args.clusters, spread=args.spread, rng=rng, centers=centers)
    services = Services.create(Settings(data_dir=data_dir, database_url=None))
    await services.start(with_model=False, with_embeddings=False)
    collection, owner = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        build_s = await load(services, collection, owner, vectors, args.metric)
        print(
            f"{args.rows} chunks x {DIM}-d in {args.clusters} clusters loaded in "
            f"{time.perf_counter() - started - build_s:.1f} s; HNSW ({args.metric}) built in {build_s:.1f} s"
        )
        print(
            f"planner uses the HNSW index for the indexed query: {await uses_index(services, queries[0], collection, args.metric)}"
        )
        for q in queries[:3]:  # warm the caches
            await timed(services, q, collection, args.metric, True, 0)
            await timed(services, q, collection, args.metric, False, 40)
        exact_times, truth = [], []
        for q in queries:
            t, ids = await timed(services, q, collection, args.metric, True, 0)
            exact_times.append(t)
            truth.append(set(ids))
        exact_p50 = statistics.median(exact_times) * 1000
        print(f"exact search p50: {exact_p50:.2f} ms over {len(queries)} queries")
        print(f"{'ef_search':>10}{'hnsw p50 ms':>13}{'speed-up':>10}{'recall@5':>10}")
        for ef in args.ef:
            times, recalls = [], []
            for q, expected in zip(queries, truth):
                t, ids = await timed(services, q, collection, args.metric, False, ef)
                times.append(t)
                recalls.append(len(expected & set(ids)) / 5)
            p50 = statistics.median(times) * 1000
            print(f"{ef:>10}{p50:>13.2f}{exact_p50 / p50:>9.1f}x{statistics.mean(recalls):>10.3f}")
    finally:
        async with services.pool.connection() as conn:
            await conn.execute("DELETE FROM users WHERE id = %s", (owner,))  # cascades to the chunks
        await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--spread", type=float, default=0.8, help="noise norm around a cluster centre")
    parser.add_argument("--metric", choices=tuple(INDEXES), default="cosine")
    parser.add_argument("--ef", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(run(args, Path(tmp)))


if __name__ == "__main__":
    main()
