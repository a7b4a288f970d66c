"""Query embeddings go through one batched, cached path (runtime.embedding_batcher), with the real
MiniLM model: batched vectors agree with one-at-a-time vectors, the twin API answers the same, the
cache is a bounded LRU keyed by model and text, and /health reports its counters."""

from __future__ import annotations

import asyncio
import json
import threading

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from evals.twin_routing import load_jsonl
from runtime.embedding_batcher import QueryEmbeddings
from tests.conftest import app_client
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.demo import demo_segments

QUERIES = [r["query"] for r in load_jsonl("twin_routing.jsonl")]
REFINES = load_jsonl("twin_refine.jsonl")


class OneAtATime(Embeddings):
    """The embeddings as every caller used them before batching: one `embed_query` per text."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.calls.append(text)
        return self.inner.embed_query(text)


class Recording(Embeddings):
    """Records each model call's batch, so a test can see what was batched."""

    def __init__(self, inner: Embeddings, fail_on: str | None = None) -> None:
        self.inner = inner
        self.batches: list[list[str]] = []
        self.fail_on = fail_on
        self.release = threading.Event()
        self.release.set()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.release.wait(timeout=30)
        self.batches.append(list(texts))
        if self.fail_on is not None and self.fail_on in texts:
            raise RuntimeError("model failed")
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def _batched(inner: Embeddings, **kwargs) -> QueryEmbeddings:
    # Recording embeds a query as a document, as MiniLM does: the batcher may batch it that way
    return QueryEmbeddings(inner, model="local:all-minilm-l6-v2", embed_batch=inner.embed_documents, **kwargs)


async def test_batched_vectors_agree_with_one_at_a_time(local_embeddings):
    alone = [local_embeddings.embed_query(q) for q in QUERIES]
    recording = Recording(local_embeddings)
    batched = _batched(recording, max_batch=64, max_wait=0.05, cache_size=0)
    try:
        together = await asyncio.gather(*(batched.aembed_query(q) for q in QUERIES))
    finally:
        batched.close()
    assert max(len(b) for b in recording.batches) > 8, recording.batches  # really batched
    assert sorted(q for b in recording.batches for q in b) == sorted(QUERIES)
    a, b = np.array(alone), np.array(together)
    assert a.shape == b.shape == (len(QUERIES), 384)
    assert np.abs(a - b).max() < 1e-5
    assert (a * b).sum(axis=1).min() > 0.99999  # normalized vectors: cosine of each pair


@pytest.fixture
async def demo_twins(services) -> dict[str, int]:
    segments = demo_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    return {c.name: c.key for c in segments.clusters}


async def _answers(client, cluster_ids: dict[str, int], concurrency: int) -> tuple[list, list]:
    limit = asyncio.Semaphore(concurrency)

    async def post(path: str, body: dict) -> object:
        async with limit:
            r = await client.post(path, json=body)
            assert r.status_code == 200, r.text
            return r.json()

    routed = await asyncio.gather(*(post("/twin/query_clusters", {"query": q, "top_k": 5}) for q in QUERIES))
    refined = await asyncio.gather(
        *(
            post(f"/twin/cluster/{cluster_ids[r['cluster_name']]}/refine_personas", {"query": r["query"], "top_k": 5})
            for r in REFINES
        )
    )
    return list(routed), list(refined)


async def test_twin_answers_are_unchanged_by_batching_and_the_cache(services, demo_twins, local_embeddings):
    from server.app import create_app

    app = create_app(services.settings, services=services, start_model=False, start_embeddings=False)
    one_at_a_time = OneAtATime(local_embeddings)
    services.embeddings = QueryEmbeddings(one_at_a_time, model="one-at-a-time", max_batch=1, cache_size=0)
    async with app_client(app) as client:
        before = await _answers(client, demo_twins, concurrency=1)
        assert set(one_at_a_time.calls) == set(QUERIES) | {r["query"] for r in REFINES}

        recording = Recording(local_embeddings)
        batched = _batched(recording, max_batch=64, max_wait=0.01, cache_size=1000)
        services.embeddings = batched
        cold = await _answers(client, demo_twins, concurrency=32)
        warm = await _answers(client, demo_twins, concurrency=32)
    assert max(len(b) for b in recording.batches) > 1  # concurrent requests shared model calls
    stats = batched.stats()
    assert stats.hits >= len(QUERIES)  # the second round came from the cache
    assert json.dumps(cold) == json.dumps(before)
    assert json.dumps(warm) == json.dumps(before)
    assert sum(len(answer) for answer in before[0]) == 5 * len(QUERIES)
    assert all(round(c["similarity"], 3) == c["similarity"] for answer in before[0] for c in answer)


async def test_cache_is_a_bounded_lru_keyed_by_model_and_text(local_embeddings):
    recording = Recording(local_embeddings)
    embeddings = _batched(recording, max_batch=8, max_wait=0, cache_size=2)
    try:
        first = await embeddings.aembed_query("alpha")
        await embeddings.aembed_query("beta")
        again = await embeddings.aembed_query("alpha")  # hit; alpha is now the most recent
        await embeddings.aembed_query("gamma")  # evicts beta, the least recently used
        await embeddings.aembed_query("alpha")  # still cached
        await embeddings.aembed_query("beta")  # a miss again; evicts gamma
        assert again == first
        again.append(0.0)  # a caller's list is its own: the cache cannot be changed through it
        assert await embeddings.aembed_query("alpha") == first
        assert [t for batch in recording.batches for t in batch] == ["alpha", "beta", "gamma", "beta"]
        stats = embeddings.stats()
        assert (stats.hits, stats.misses, stats.cache_size, stats.cache_max) == (3, 4, 2, 2)
        assert stats.hit_rate == pytest.approx(3 / 7)
        model = "local:all-minilm-l6-v2"
        assert list(embeddings._cache) == [(model, "beta"), (model, "alpha")]
    finally:
        embeddings.close()


async def test_concurrent_callers_of_one_text_share_one_computation(local_embeddings):
    recording = Recording(local_embeddings)
    recording.release.clear()  # hold the model until every caller has asked
    embeddings = _batched(recording, max_batch=64, max_wait=0, cache_size=0)
    try:
        waiting = [asyncio.ensure_future(embeddings.aembed_query("same words")) for _ in range(10)]
        other = asyncio.ensure_future(embeddings.aembed_query("other words"))
        await asyncio.sleep(0.05)
        recording.release.set()
        vectors = await asyncio.gather(*waiting)
        await other
        assert all(v == vectors[0] for v in vectors)
        assert sorted(t for b in recording.batches for t in b) == ["other words", "same words"]
    finally:
        embeddings.close()


async def test_a_cancelled_caller_does_not_cancel_the_others(local_embeddings):
    recording = Recording(local_embeddings)
    recording.release.clear()
    embeddings = _batched(recording, max_batch=64, max_wait=0, cache_size=10)
    try:
        quitter = asyncio.ensure_future(embeddings.aembed_query("shared"))
        stayer = asyncio.ensure_future(embeddings.aembed_query("shared"))
        await asyncio.sleep(0.02)
        quitter.cancel()
        recording.release.set()
        assert len(await stayer) == 384
        assert quitter.cancelled()
        assert embeddings.stats().cache_size == 1
    finally:
        embeddings.close()


async def test_a_failing_batch_fails_its_callers_and_the_next_batch_works(local_embeddings):
    recording = Recording(local_embeddings, fail_on="boom")
    embeddings = _batched(recording, max_batch=2, max_wait=5, cache_size=10)  # full at two texts
    try:
        calls = [embeddings.aembed_query(t) for t in ("boom", "fine")]
        results = await asyncio.gather(*calls, return_exceptions=True)
        assert recording.batches == [["boom", "fine"]]
        assert all(isinstance(r, RuntimeError) for r in results), results
        again = await asyncio.gather(embeddings.aembed_query("fine"), embeddings.aembed_query("also fine"))
        assert [len(v) for v in again] == [384, 384]
        assert recording.batches[1] == ["fine", "also fine"]  # the failure was not cached
    finally:
        embeddings.close()


async def test_bulk_queries_are_split_into_batches_and_keep_their_order(local_embeddings):
    recording = Recording(local_embeddings)
    embeddings = _batched(recording, max_batch=16, max_wait=0, cache_size=0)
    try:
        vectors = await embeddings.aembed_queries(QUERIES[:40])
        assert [len(b) for b in recording.batches] == [16, 16, 8]
        alone = np.array([local_embeddings.embed_query(q) for q in QUERIES[:40]])
        assert np.abs(np.array(vectors) - alone).max() < 1e-5
        assert embeddings.embed_query(QUERIES[0]) == pytest.approx(vectors[0], abs=1e-6)  # the blocking form
    finally:
        embeddings.close()


async def test_service_embeddings_follow_the_settings_and_health_reports_the_cache(services):
    from server.app import create_app

    services.settings.embedding_batch_size = 16
    services.settings.embedding_cache_size = 100
    embeddings = services.require_embeddings()
    assert isinstance(embeddings, QueryEmbeddings) and embeddings.inner is services.embeddings
    assert (embeddings.max_batch, embeddings.cache_size) == (16, 100)
    assert services.require_embeddings() is embeddings  # one cache for the process
    app = create_app(services.settings, services=services, start_model=False, start_embeddings=False)
    async with app_client(app) as client:
        before = (await client.get("/health")).json()["embeddings"]
        for _ in range(3):
            await embeddings.aembed_query("wealthy retired boomers")
        after = (await client.get("/health")).json()
    assert after["checks"]["embeddings"] == {"ok": True, "detail": "ok (384 dims)"}
    report = after["embeddings"]
    assert report["cache_hits"] - before["cache_hits"] == 2
    assert report["cache_misses"] - before["cache_misses"] == 1
    assert report["cache_hit_rate"] == round(report["cache_hits"] / (report["cache_hits"] + report["cache_misses"]), 4)
    assert (report["max_batch"], report["cache_max"], report["model"]) == (16, 100, "local:all-minilm-l6-v2")


async def test_queries_after_close_start_new_workers(local_embeddings):
    embeddings = _batched(Recording(local_embeddings), max_batch=8, max_wait=0, cache_size=0)
    first = await embeddings.aembed_query("before")
    for _ in range(3):
        embeddings.close()  # as the services do when they stop; they may start again
        assert await embeddings.aembed_query("before") == first
    embeddings.close()


def test_the_local_model_in_either_process_embeds_a_batch_of_queries_in_one_call(local_embeddings):
    from runtime.embedding_batcher import query_batch_function
    from runtime.embedding_process import ProcessEmbeddings

    recording = Recording(local_embeddings)
    one_by_one = query_batch_function(recording)  # a model that does not say it embeds queries as documents
    one_by_one(QUERIES[:3])
    assert recording.batches == [[q] for q in QUERIES[:3]]
    recording.batches.clear()
    recording.queries_as_documents = True  # type: ignore[attr-defined]
    query_batch_function(recording)(QUERIES[:3])
    assert recording.batches == [QUERIES[:3]]
    assert getattr(local_embeddings, "queries_as_documents", False) and ProcessEmbeddings.queries_as_documents


def test_a_batch_split_across_threads_gives_each_text_its_own_vector_in_order():
    from runtime.embeddings import bundled_minilm_path
    from runtime.minilm import MiniLMEmbeddings

    texts = [q * (1 + i % 3) for i, q in enumerate(QUERIES[:11])]  # lengths differ from part to part
    split = MiniLMEmbeddings(bundled_minilm_path(), threads=3)
    single = MiniLMEmbeddings(bundled_minilm_path(), threads=1)
    together = split.embed_documents(texts)
    assert split._parts is not None  # the batch really ran in parts
    alone = [single.embed_query(t) for t in texts]
    assert np.abs(np.array(together) - np.array(alone)).max() < 1e-5
    assert single._parts is None  # one thread: never split
