"""Retrieval eval for studio RAG: hit@1, recall@5 and MRR, cosine and euclidean.

Ingests the bundled corpus (`evals/corpus/studio/`, through the same text
extraction and splitter as uploads) into a throw-away collection, asks every
question of `evals/datasets/studio_rag.jsonl` and ranks documents by their best
chunk. Uses DATABASE_URL when set, else an embedded Postgres in a temp folder.

    .venv/bin/python -m evals.studio_rag [--chunk-size 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import uuid
from pathlib import Path

from runtime.services import Services
from runtime.settings import Settings
from store.documents import ChunkHit, create_collection, replace_document, search_chunks
from store.users import create_user
from tools.documents import chunk_text, extract_text

ROOT = Path(__file__).parent
CORPUS = ROOT / "corpus" / "studio"
DATASET = ROOT / "datasets" / "studio_rag.jsonl"


def load_questions() -> list[dict]:
    return [json.loads(line) for line in DATASET.read_text().splitlines() if line.strip()]


def ranked_docs(rows: list[ChunkHit]) -> list[str]:
    """Documents in the order of their best chunk."""
    seen: list[str] = []
    for row in rows:
        if row["doc_path"] not in seen:
            seen.append(row["doc_path"])
    return seen


def score(rankings: list[tuple[str, list[str]]]) -> dict[str, float]:
    n = len(rankings)
    hit1 = sum(1 for expected, docs in rankings if docs[:1] == [expected]) / n
    recall5 = sum(1 for expected, docs in rankings if expected in docs[:5]) / n
    mrr = sum(1 / (docs.index(expected) + 1) for expected, docs in rankings if expected in docs) / n
    return {"hit@1": hit1, "recall@5": recall5, "MRR": mrr}


async def run(chunk_size: int, data_dir: Path) -> dict[str, dict[str, float]]:
    settings = Settings(data_dir=data_dir, chat_model="local:smollm2")
    services = Services.create(settings)
    await services.start(with_model=False, with_embeddings=True)
    embeddings = services.require_embeddings()
    collection = f"eval-{uuid.uuid4().hex[:8]}"
    owner = await create_user(services.pool, username=f"eval-{uuid.uuid4().hex[:8]}", password_hash="-", role="builder")
    try:
        await create_collection(services.pool, name=collection, owner_id=owner["id"])
        for path in sorted(CORPUS.iterdir()):
            text = extract_text(path.name, None, path.read_bytes())
            chunks = chunk_text(text, chunk_size=chunk_size, chunk_overlap=min(50, chunk_size // 4))
            await replace_document(
                services.pool,
                collection=collection,
                file_name=path.name,
                doc_path=path.name,
                chunks=chunks,
                embeddings=embeddings.embed_documents(chunks),
            )
        questions = load_questions()
        vectors = await embeddings.aembed_queries([q["question"] for q in questions])
        results = {}
        for metric in ("cosine", "euclidean"):
            for exact in (True, False):
                rankings = []
                for q, vec in zip(questions, vectors):
                    rows = await search_chunks(
                        services.pool, query_vector=vec, collections=[collection], metric=metric, k=40, exact=exact
                    )
                    rankings.append((q["expected_doc"], ranked_docs(rows)))
                results[f"{metric} ({'exact' if exact else 'hnsw'})"] = score(rankings)
        return results
    finally:
        async with services.pool.connection() as conn:
            await conn.execute("DELETE FROM users WHERE id = %s", (owner["id"],))  # cascades to the collection
        await services.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-size", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = asyncio.run(run(args.chunk_size, Path(tmp)))
    print(f"{len(load_questions())} questions, {len(list(CORPUS.iterdir()))} documents, chunk size {args.chunk_size}")
    print(f"{'metric':<22}{'hit@1':>8}{'recall@5':>10}{'MRR':>8}")
    for name, s in results.items():
        print(f"{name:<22}{s['hit@1']:>8.3f}{s['recall@5']:>10.3f}{s['MRR']:>8.3f}")


if __name__ == "__main__":
    main()
