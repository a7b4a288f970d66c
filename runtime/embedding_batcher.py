"""The one path every query embedding takes: dynamic batching and a bounded LRU cache.

One model call for 32 queries costs about as much as ten calls for one (about 3x the
throughput on a 2-core machine, `python -m bench.embeddings`), so requests that arrive together
are embedded together: a caller asks `QueryEmbeddings` for a vector, a worker
thread collects the texts waiting (for at most `max_wait` after the oldest arrived, or until
`max_batch` are waiting), runs the model once for all of them, and hands every caller its own
vector. The wait only applies while queries come together: after a batch of one (a lone
client), the next query goes at once. The
event loop never waits for the model; callers of any event loop (and plain threads) share the
batches, because the hand-over is a `concurrent.futures.Future`.

Vectors of queries seen before come from an LRU cache keyed by model and text, without touching
the worker; two callers asking for the same text while it is being embedded share one
computation. Document embeddings (ingestion) pass straight through to the wrapped model: they
are batched by their caller already and are not worth caching.

The worker, the callers and the cache share state without locks: each step is one dict or
queue operation, atomic under the GIL, and `queue.SimpleQueue.put` never blocks. A lock taken on
the event loop is a blocking call to LangGraph's dev server (blockbuster), even when it is free
nearly always.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from langchain_core.embeddings import Embeddings

log = logging.getLogger(__name__)

Vector = tuple[float, ...]
CacheKey = tuple[str, str]  # (model, text)

_STOP = object()


@dataclass
class _Job:
    texts: list[str]
    futures: list[Future[Vector]]
    enqueued: float
    counted: bool = True  # False for health probes: they leave the metrics as they are


@dataclass(frozen=True)
class EmbeddingStats:
    """Counters since start: cache hits and misses, and what the model was asked to do."""

    model: str
    cache_size: int
    cache_max: int
    hits: int
    misses: int
    batches: int
    texts: int
    max_batch: int
    max_wait_ms: float

    @property
    def hit_rate(self) -> float | None:
        asked = self.hits + self.misses
        return self.hits / asked if asked else None

    @property
    def mean_batch(self) -> float | None:
        return self.texts / self.batches if self.batches else None


def query_batch_function(embeddings: Embeddings) -> Callable[[list[str]], list[list[float]]]:
    """How to embed many queries in one model call without changing any query's vector.

    Models that say so (`queries_as_documents`: the local MiniLM, in this process or in its own)
    and OpenAI embed a query exactly as a document, so one `embed_documents` call serves a whole
    batch. Vertex AI embeds queries with their own task type. Any other model gets one
    `embed_query` per text: correct, just not batched.
    """
    if getattr(embeddings, "queries_as_documents", False):
        return embeddings.embed_documents
    name = type(embeddings).__name__
    if name == "OpenAIEmbeddings":
        return embeddings.embed_documents
    if name == "VertexAIEmbeddings":
        embed = getattr(embeddings, "embed", None)
        if embed is not None:
            return lambda texts: embed(texts, embeddings_task_type="RETRIEVAL_QUERY")
    return lambda texts: [embeddings.embed_query(text) for text in texts]


class QueryEmbeddings(Embeddings):
    """`inner` with batched, cached query embeddings (see the module's doc).

    `max_batch` 1 embeds each query alone; `cache_size` 0 turns the cache off. `workers` is how
    many batches may run at once: one for a local model (a batch already uses every core), more
    for a remote API, where a batch mostly waits on the network. `embed_batch` embeds a list of
    queries in one call (default: `query_batch_function(inner)`).
    """

    def __init__(
        self,
        inner: Embeddings,
        *,
        model: str,
        max_batch: int = 64,
        max_wait: float = 0.002,
        cache_size: int = 10_000,
        workers: int = 1,
        embed_batch: Callable[[list[str]], list[list[float]]] | None = None,
    ) -> None:
        self.inner = inner
        self.model = model
        self.max_batch = max(1, int(max_batch))
        self.max_wait = max(0.0, float(max_wait))
        self.cache_size = max(0, int(cache_size))
        self.workers = max(1, int(workers))
        self._embed_batch = embed_batch or query_batch_function(inner)
        self._cache: OrderedDict[CacheKey, Vector] = OrderedDict()
        self._pending: dict[CacheKey, Future[Vector]] = {}
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # itertools.count advances atomically under the GIL, from any thread
        self._hits = itertools.count()
        self._misses = itertools.count()
        self._batches = itertools.count()
        self._texts = itertools.count()
        # texts in the last batch: a query that ran alone last time goes without waiting, as a
        # lone client's would only wait in vain; at start, assume company
        self._last_batch = 2

    # --- the Embeddings interface

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        return await self.inner.aembed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        """Blocks until the vector is there: for threads and scripts, not for an event loop."""
        return self.embed_queries([text])[0]

    async def aembed_query(self, text: str) -> list[float]:
        return (await self.aembed_queries([text]))[0]

    # --- many queries at once (eval sets, bulk callers)

    def embed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        return [list(future.result()) for future in self._futures(texts)]

    async def aembed_queries(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for future in self._futures(texts):
            # shield: a caller that gives up must not cancel a computation other callers share
            vector: Vector = await asyncio.shield(asyncio.wrap_future(future))
            vectors.append(list(vector))
        return vectors

    # --- health and metrics

    def probe(self, text: str = "health check") -> Future[Vector]:
        """The model's answer for `text`, computed now through the batches (neither read from nor
        written to the cache, and not counted as a hit or a miss)."""
        future: Future[Vector] = Future()
        self._enqueue(_Job([text], [future], time.monotonic(), counted=False))
        return future

    def stats(self) -> EmbeddingStats:
        return EmbeddingStats(
            model=self.model,
            cache_size=len(self._cache),
            cache_max=self.cache_size,
            hits=self._read(self._hits),
            misses=self._read(self._misses),
            batches=self._read(self._batches),
            texts=self._read(self._texts),
            max_batch=self.max_batch,
            max_wait_ms=self.max_wait * 1000,
        )

    def clear_cache(self) -> None:
        self._cache.clear()

    def close(self) -> None:
        """Let the workers finish what is queued and end (they start again on the next query)."""
        # later queries go to a new queue and new workers: a stop meant for these workers can
        # never end a worker started after it
        threads, self._threads = self._threads, []
        jobs, self._queue = self._queue, queue.SimpleQueue()
        for _ in threads:
            jobs.put(_STOP)

    # --- internals

    @staticmethod
    def _read(counter: itertools.count[int]) -> int:
        # count's repr is its next value; reading it must not advance it
        return int(repr(counter)[6:-1])

    def _futures(self, texts: Sequence[str]) -> list[Future[Vector]]:
        futures: list[Future[Vector]] = []
        new_texts: list[str] = []
        new_futures: list[Future[Vector]] = []
        for text in texts:
            key = (self.model, text)
            cached = self._cache_get(key)
            if cached is not None:
                next(self._hits)
                done: Future[Vector] = Future()
                done.set_result(cached)
                futures.append(done)
                continue
            next(self._misses)
            future = self._pending.get(key)
            if future is None:
                future = Future()
                self._pending[key] = future
                future.add_done_callback(functools.partial(self._finished, key))
                new_texts.append(text)
                new_futures.append(future)
            futures.append(future)
        if new_texts:
            self._enqueue(_Job(new_texts, new_futures, time.monotonic()))
        return futures

    def _cache_get(self, key: CacheKey) -> Vector | None:
        if not self.cache_size:
            return None
        vector = self._cache.get(key)
        if vector is not None:
            try:
                self._cache.move_to_end(key)
            except KeyError:  # evicted by a worker meanwhile; the vector is still right
                pass
        return vector

    def _finished(self, key: CacheKey, future: Future[Vector]) -> None:
        if self._pending.get(key) is future:
            self._pending.pop(key, None)
        if self.cache_size and not future.cancelled() and future.exception() is None:
            self._cache[key] = future.result()
            while len(self._cache) > self.cache_size:
                try:
                    self._cache.popitem(last=False)
                except KeyError:
                    break

    def _enqueue(self, job: _Job) -> None:
        self._queue.put(job)
        if len(self._threads) < self.workers:
            self._start_worker()

    def _start_worker(self) -> None:
        thread = threading.Thread(
            target=self._work, args=(self._queue,), name=f"embeddings-{len(self._threads)}", daemon=True
        )
        self._threads.append(thread)
        thread.start()

    def _work(self, jobs: queue.SimpleQueue[_Job | object]) -> None:
        carry: _Job | None = None
        while True:
            item = carry if carry is not None else jobs.get()
            carry = None
            if item is _STOP:
                return
            assert isinstance(item, _Job)
            batch = [item]
            size = len(item.texts)
            deadline = item.enqueued + (self.max_wait if self._last_batch > 1 else 0.0)
            # Collect until the batch is full or the oldest text has waited max_wait (what is
            # queued already joins in any case).
            while size < self.max_batch:
                timeout = deadline - time.monotonic()
                try:
                    nxt = jobs.get(timeout=timeout) if timeout > 0 else jobs.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    jobs.put(_STOP)  # honoured after this batch
                    break
                assert isinstance(nxt, _Job)
                batch.append(nxt)
                size += len(nxt.texts)
            # A bulk job can overfill the batch: what does not fit opens the next one.
            texts: list[str] = []
            futures: list[Future[Vector]] = []
            counted = 0
            for job in batch:
                room = self.max_batch - len(texts)
                if len(job.texts) > room:
                    carry = _Job(job.texts[room:], job.futures[room:], job.enqueued, job.counted)
                    job = _Job(job.texts[:room], job.futures[:room], job.enqueued, job.counted)
                texts += job.texts
                futures += job.futures
                counted += len(job.texts) if job.counted else 0
            self._run(texts, futures, counted)

    def _run(self, texts: list[str], futures: list[Future[Vector]], counted: int) -> None:
        self._last_batch = len(texts)
        if counted:
            next(self._batches)
            for _ in range(counted):
                next(self._texts)
        try:
            vectors = self._embed_batch(texts)
        except Exception as exc:  # every caller of the batch gets the model's error
            log.warning("embedding a batch of %d failed: %s", len(texts), exc)
            for future in futures:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, vector in zip(futures, vectors):
            if not future.done():
                future.set_result(tuple(vector))
