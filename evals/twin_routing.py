"""Routing eval for segment twins: `python -m evals.twin_routing`.

Loads the bundled demo set into a fresh embedded database (or DATABASE_URL, whose twins
are REPLACED), runs every query of `datasets/twin_routing.jsonl` through the
cluster_router graph, and prints accuracy@1, recall@3 (an expected cluster in the top 3)
and MRR for (a) embedding similarity alone and (b) the hybrid router, side by side.
No-match queries are left out of those metrics; their mean top score is shown instead.
`datasets/twin_refine.jsonl` scores persona ranking inside a cluster the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DATASETS = Path(__file__).with_name("datasets")


def load_jsonl(name: str) -> list[dict[str, Any]]:
    text = (DATASETS / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass
class Metrics:
    accuracy_at_1: float
    recall_at_3: float
    mrr: float
    n: int


def score_rankings(rankings: list[list[str]], expected: list[set[str]]) -> Metrics:
    acc = rec = rr = 0.0
    for ranked, want in zip(rankings, expected):
        acc += ranked[:1] != [] and ranked[0] in want
        rec += any(name in want for name in ranked[:3])
        rank = next((i for i, name in enumerate(ranked, 1) if name in want), None)
        rr += 1 / rank if rank else 0.0
    n = max(1, len(rankings))
    return Metrics(acc / n, rec / n, rr / n, len(rankings))


async def run_routing(graph: Any, n_clusters: int, embedding_weight: float | None = None) -> dict[str, Any]:
    from graphs.cluster_router import RouterContext

    context = RouterContext() if embedding_weight is None else RouterContext(embedding_weight=embedding_weight)
    rows = load_jsonl("twin_routing.jsonl")
    emb_rank, hyb_rank, expected, no_match_top, match_top = [], [], [], [], []
    for row in rows:
        state = await graph.ainvoke({"task": "clusters", "query": row["query"], "top_k": n_clusters}, context=context)
        clusters = state["clusters"]
        if not row["expected_cluster_names"]:
            no_match_top.append(clusters[0]["similarity"])
            continue
        match_top.append(clusters[0]["similarity"])
        hyb_rank.append([c["cluster_name"] for c in clusters])
        by_embedding = sorted(clusters, key=lambda c: (-c["embedding_similarity"], c["cluster_id"]))
        emb_rank.append([c["cluster_name"] for c in by_embedding])
        expected.append(set(row["expected_cluster_names"]))
    return {
        "embedding": score_rankings(emb_rank, expected),
        "hybrid": score_rankings(hyb_rank, expected),
        "no_match_top": statistics.mean(no_match_top) if no_match_top else 0.0,
        "match_top": statistics.mean(match_top) if match_top else 0.0,
        "no_match_n": len(no_match_top),
    }


async def run_refine(graph: Any, pool: Any, embeddings: Any) -> dict[str, Metrics]:
    """Top-1 persona is acceptable: embedding similarity alone vs hard filter + similarity."""
    from store.clusters import scored_cluster_personas

    async with pool.connection() as conn:
        cur = await conn.execute("SELECT id, name FROM clusters")
        ids = {r["name"]: r["id"] for r in await cur.fetchall()}
    emb, hyb, expected = [], [], []
    for row in load_jsonl("twin_refine.jsonl"):
        want = row["expected_persona"]
        want = [want] if isinstance(want, dict) else want
        acceptable = {f"{w['gender']}|{w['age_band']}" for w in want}
        cluster_id = ids[row["cluster_name"]]
        state = await graph.ainvoke({"task": "personas", "query": row["query"], "cluster_id": cluster_id, "top_k": 15})
        hyb.append([f"{p['gender']}|{p['age']}" for p in state["personas"]])
        everyone = await scored_cluster_personas(pool, cluster_id, await embeddings.aembed_query(row["query"]))
        everyone.sort(key=lambda p: (-p["similarity"], p["persona_id"]))
        emb.append([f"{p['gender']}|{p['age_band']}" for p in everyone])
        expected.append(acceptable)
    return {"embedding": score_rankings(emb, expected), "hybrid": score_rankings(hyb, expected)}


def _table(title: str, results: dict[str, Metrics]) -> str:
    e, h = results["embedding"], results["hybrid"]
    lines = [f"{title} (n={e.n})", f"  {'metric':<14}{'embedding-only':>16}{'hybrid':>10}"]
    for label, attr in (("accuracy@1", "accuracy_at_1"), ("recall@3", "recall_at_3"), ("MRR", "mrr")):
        lines.append(f"  {label:<14}{getattr(e, attr):>16.3f}{getattr(h, attr):>10.3f}")
    return "\n".join(lines)


async def main_async(args: argparse.Namespace) -> int:
    from graphs.cluster_router import build_cluster_router
    from runtime.services import Services
    from runtime.settings import Settings
    from services.twin.segment_import import replace_segments
    from services.twin.segments.demo import demo_segments

    with tempfile.TemporaryDirectory(prefix="twin-eval-") as tmp:
        url = os.environ.get("DATABASE_URL")
        settings = Settings(_env_file=None, database_url=url, data_dir=Path(tmp), twin_demo_autoload=False)
        print(f"database: {'DATABASE_URL (twins replaced)' if url else 'fresh embedded Postgres'}", flush=True)
        services = Services.create(settings)
        await services.start(with_model=False, with_embeddings=True)
        try:
            segments = demo_segments()
            await replace_segments(services.pool, segments, services.require_embeddings())
            graph = build_cluster_router()
            routing = await run_routing(graph, len(segments.clusters), args.embedding_weight)
            refine = await run_refine(graph, services.pool, services.require_embeddings())
        finally:
            await services.stop()
    print(_table("Cluster routing, twin_routing.jsonl", routing))
    print(
        f"  no-match queries (n={routing['no_match_n']}): mean top score {routing['no_match_top']:.3f} "
        f"vs {routing['match_top']:.3f} for matching queries"
    )
    print(_table("Persona refine, twin_refine.jsonl (top-1 persona acceptable)", refine))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--embedding-weight",
        type=float,
        default=None,
        help="share of embedding similarity in the hybrid score (default: the router's)",
    )
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
