"""Benchmark: how many query embeddings per second this machine can compute, the limit for routing.

    python -m bench.embeddings [--texts 256] [--rounds 2]

Embeds distinct, realistic short queries (the routing data set's queries, each with its own
place and detail) with the configured embedding model (`EMBEDDING_MODEL`, the local MiniLM by
default), one model call per batch of 1, 8, 32 and 64 texts, and prints texts/s per batch size;
the best of them is the limit `bench.twin_routing` compares routing against. Then the same texts
through the service's query path (`QueryEmbeddings`: dynamic batches, cache off) from 1, 16 and
64 concurrent callers, as a fraction of that limit.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import time
from collections.abc import Sequence

from langchain_core.embeddings import Embeddings

BATCH_SIZES = (1, 8, 32, 64)

PLACES = [
    "in Ohio", "in Texas", "in rural Maine", "near Denver", "in Atlanta", "in the Bay Area", "in Phoenix",
    "in small-town Iowa", "in Miami", "in Seattle", "around Chicago", "in upstate New York", "in Nashville",
    "in Boise", "in Pittsburgh", "in San Antonio", "in Detroit", "in Charlotte", "in Portland", "in Tucson",
]  # fmt: skip
DETAILS = [
    "who shop mostly online", "who commute by car", "with two kids", "who travel a lot", "who cook at home",
    "who follow sports", "who rent", "who just moved", "who care about price", "who buy premium brands",
    "who use coupons", "who work from home", "with pets", "who save for retirement", "who pay cash",
    "who stream a lot of TV", "who garden", "who play video games", "who volunteer", "who run a side business",
]  # fmt: skip


def base_queries() -> list[str]:
    from evals.twin_routing import load_jsonl

    return [row["query"] for row in load_jsonl("twin_routing.jsonl")]


def distinct_queries(n: int, seed: int = 0) -> list[str]:
    """`n` different queries (up to about 39,000): a data set query with a place and a detail."""
    combos = list(itertools.product(base_queries(), PLACES, DETAILS))
    random.Random(seed).shuffle(combos)
    if n > len(combos):
        raise ValueError(f"at most {len(combos)} distinct queries")
    return [f"{query} {place} {detail}" for query, place, detail in combos[:n]]


def repeating_queries(pool: Sequence[str], n: int, seed: int = 1) -> list[str]:
    """`n` queries drawn from `pool` with Zipf-like frequencies (the k-th most common asked 1/k as
    often as the first), as real query logs repeat their head queries."""
    weights = [1 / rank for rank in range(1, len(pool) + 1)]
    return random.Random(seed).choices(list(pool), weights=weights, k=n)


def model_throughput(embeddings: Embeddings, texts: Sequence[str], batch_size: int) -> float:
    """texts/s embedding `texts` in consecutive model calls of `batch_size` (one thread)."""
    start = time.perf_counter()
    for i in range(0, len(texts), batch_size):
        embeddings.embed_documents(list(texts[i : i + batch_size]))
    return len(texts) / (time.perf_counter() - start)


def measure_limit(embeddings: Embeddings, n_texts: int = 256, rounds: int = 2, seed: int = 7) -> dict[int, float]:
    """Best texts/s per batch size over `rounds` (fresh distinct texts each time, so no batch
    size profits from a warm tokenizer cache)."""
    embeddings.embed_documents(distinct_queries(64, seed=seed + 99))  # warm-up
    best: dict[int, float] = {}
    texts = distinct_queries(n_texts * rounds * len(BATCH_SIZES), seed=seed)
    chunks = iter(range(0, len(texts), n_texts))
    for _ in range(rounds):
        for size in BATCH_SIZES:
            start = next(chunks)
            rate = model_throughput(embeddings, texts[start : start + n_texts], size)
            best[size] = max(best.get(size, 0.0), rate)
    return best


async def batcher_throughput(query_embeddings: Embeddings, texts: Sequence[str], concurrency: int) -> float:
    """texts/s through `aembed_query` from `concurrency` callers, each asking one text at a time."""
    todo = iter(texts)

    async def caller() -> None:
        for text in todo:
            await query_embeddings.aembed_query(text)

    start = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return len(texts) / (time.perf_counter() - start)


def print_limit(best: dict[int, float]) -> float:
    limit = max(best.values())
    print("embedding model, one call per batch (texts/s):")
    for size, rate in best.items():
        print(f"  batch {size:>3}: {rate:7.1f}  ({rate / limit:4.0%} of the best)")
    print(f"  limit = {limit:.1f} texts/s (best batch size {max(best, key=lambda s: best[s])})")
    return limit


async def _main(args: argparse.Namespace) -> None:
    from runtime.embeddings import make_embeddings, query_embeddings
    from runtime.settings import Settings

    settings = Settings()
    inner = await asyncio.to_thread(make_embeddings, settings.embedding_model, settings)
    print(f"model {settings.embedding_model}")
    limit = print_limit(await asyncio.to_thread(measure_limit, inner, args.texts, args.rounds))
    wrapper = query_embeddings(inner, settings.model_copy(update={"embedding_cache_size": 0}))
    print(
        f"service query path (batch <= {wrapper.max_batch}, wait <= {wrapper.max_wait * 1000:g} ms, cache off), "
        "distinct texts:"
    )
    try:
        await batcher_throughput(wrapper, distinct_queries(32, seed=11), 8)  # warm-up
        for concurrency in (1, 16, 64):
            texts = distinct_queries(args.texts * (1 if concurrency == 1 else 3), seed=100 + concurrency)
            rate = await batcher_throughput(wrapper, texts, concurrency)
            print(f"  {concurrency:>2} callers: {rate:7.1f} texts/s = {rate / limit:4.0%} of the limit")
    finally:
        wrapper.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="embedding throughput per batch size (the routing limit)")
    parser.add_argument("--texts", type=int, default=256, help="texts per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per batch size (the best counts)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
