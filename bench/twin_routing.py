"""Benchmark: `/twin/query_clusters` throughput and latency against what the hardware allows.

    python -m bench.twin_routing [--requests 400] [--clients 1,16,64]

Starts a fresh embedded Postgres with the demo twins, measures the embedding model's batched
throughput on this machine (`bench.embeddings`: texts/s at batch sizes 1, 8, 32, 64; the best is
the limit, since every routed query needs one embedding), then serves the app with real uvicorn
in a child process (the embedding model in a process of its own, as `personas serve` runs it;
the service's settings from the environment) and sends routing requests from 1, 16 and 64
concurrent clients:

- cache off: every query distinct, so each needs the model;
- cache on: a realistic mix, queries drawn from 1,000 with Zipf-like frequencies (repeats).

For each it prints req/s, req/s as a fraction of the limit, p50, p99 and p99/p50, the cache
hit rate and mean texts per model call the server reports on /health, and the CPU time each
request cost the API process, the embedding process and the load generator (they share this
machine's cores with the model; on a small machine the client's share is visible in the figures).
The load generator is aiohttp, the lighter of the two HTTP clients (`--client httpx` to compare). At 1 client it also measures the bare path, one query
embedding (the same query path) plus one pgvector SQL query in this process, in blocks alternating
with blocks of HTTP calls, and prints the HTTP p50 as a multiple of the bare p50.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import psutil

from bench.embeddings import distinct_queries, measure_limit, print_limit, repeating_queries
from runtime import event_loop

REPEAT_POOL = 1000  # distinct queries the realistic mix repeats


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _run(queries: Sequence[str], concurrency: int, call: Callable[[str], Awaitable[None]]) -> list[float]:
    """Latencies (ms) of one call per query, `concurrency` callers each sending the next query."""
    latencies: list[float] = []
    todo = iter(queries)

    async def worker() -> None:
        for query in todo:
            start = time.perf_counter()
            await call(query)
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


async def _alternating(
    first: Sequence[str],
    second: Sequence[str],
    call_a: Callable[[str], Awaitable[None]],
    call_b: Callable[[str], Awaitable[None]],
    block: int = 25,
) -> tuple[list[float], list[float]]:
    """Latencies (ms) of `call_a` on each of `first` and `call_b` on each of `second`, one call at
    a time, in alternating blocks of `block` calls: both sides see the same spells of a busier or
    quieter machine, and a call rarely follows the other side's call (right after the model ran in
    this process, the next HTTP call took about 2 ms longer)."""
    a_ms: list[float] = []
    b_ms: list[float] = []
    for at in range(0, max(len(first), len(second)), block):
        for call, queries, out in ((call_a, first, a_ms), (call_b, second, b_ms)):
            for query in queries[at : at + block]:
                start = time.perf_counter()
                await call(query)
                out.append((time.perf_counter() - start) * 1000)
    return a_ms, b_ms


def _serve(port: int) -> None:
    import uvicorn

    from runtime.services import Services, launch_models
    from runtime.settings import Settings
    from server.app import create_app

    async def serve() -> None:
        # as `personas serve` runs: the embedding model in its own process unless EMBEDDING_PROCESS=false
        settings = Settings()
        services = await Services.acreate(settings, launched=launch_models(settings, with_model=False))
        app = create_app(settings, services=services, start_model=False)
        await uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        ).serve()

    event_loop.run(serve())  # the loop `personas serve` runs on


class _Client:
    """The load generator: POST a JSON body, GET JSON, with aiohttp or httpx."""

    def __init__(self, kind: str, base: str, connections: int) -> None:
        self.kind = kind
        if kind == "aiohttp":
            import aiohttp

            self._session = aiohttp.ClientSession(
                base, connector=aiohttp.TCPConnector(limit=connections), timeout=aiohttp.ClientTimeout(total=120)
            )
        else:
            import httpx

            limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
            self._httpx = httpx.AsyncClient(base_url=base, timeout=120, limits=limits)

    async def post(self, path: str, body: dict[str, object]) -> None:
        if self.kind == "aiohttp":
            async with self._session.post(path, json=body) as r:
                r.raise_for_status()
                await r.read()
        else:
            (await self._httpx.post(path, json=body)).raise_for_status()

    async def get_json(self, path: str) -> Any:
        if self.kind == "aiohttp":
            async with self._session.get(path) as r:
                r.raise_for_status()
                return await r.json()
        reply = await self._httpx.get(path)
        reply.raise_for_status()
        return reply.json()

    async def close(self) -> None:
        await (self._session.close() if self.kind == "aiohttp" else self._httpx.aclose())


class _CpuMeter:
    """CPU seconds used by this process (the load generator) and by the server's process tree
    (the API process; its children: the embedding model)."""

    def __init__(self, server_pid: int) -> None:
        self.server = psutil.Process(server_pid)

    def read(self) -> tuple[float, float, float]:
        def used(p: psutil.Process) -> float:
            try:
                t = p.cpu_times()
                return t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                return 0.0

        mine = psutil.Process().cpu_times()
        client = mine.user + mine.system
        return client, used(self.server), sum(used(c) for c in self.server.children(recursive=True))


async def _bench(args: argparse.Namespace) -> int:
    from runtime.local_llm import free_port
    from runtime.services import Services
    from runtime.settings import Settings
    from store.clusters import search_clusters
    from use_cases.twin.segment_import import replace_segments
    from use_cases.twin.segments.demo import demo_segments

    clients = [int(c) for c in args.clients.split(",")]
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), twin_demo_autoload=False, database_url=None)
        services = Services.create(settings)
        await services.start(with_model=False, with_embeddings=True)
        server = None
        try:
            embeddings = services.require_embeddings()
            await replace_segments(services.pool, demo_segments(), embeddings)
            assert services.embeddings is not None
            limit = print_limit(await asyncio.to_thread(measure_limit, services.embeddings))
            print(
                f"service query path: batch <= {embeddings.max_batch}, wait <= {embeddings.max_wait * 1000:g} ms, "
                f"cache {embeddings.cache_size} queries"
            )
            port = free_port()
            env = {
                **os.environ,
                "DATABASE_URL": services.database_url,
                "TWIN_DEMO_AUTOLOAD": "false",
                "DATA_DIR": tmp,
                "TWIN_API_KEY": "",
                "TWIN_PREFIX": "/twin",
            }
            command = [sys.executable, "-m", "bench.twin_routing", "--serve", str(port)]
            server = await asyncio.to_thread(subprocess.Popen, command, env=env)
            client = _Client(args.client, f"http://127.0.0.1:{port}", max(clients))
            try:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        await client.get_json("/openapi.json")
                        break
                    except Exception:  # not listening yet (either client's connection error)
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the benchmark server did not start")
                    await asyncio.sleep(0.2)
                cpu = _CpuMeter(server.pid)

                async def http_call(query: str) -> None:
                    await client.post("/twin/query_clusters", {"query": query, "top_k": 3})

                async def bare_call(query: str) -> None:
                    vector = await embeddings.aembed_query(query)
                    await search_clusters(services.pool, vector, limit=3)

                async def cache_counts() -> tuple[int, int, int, int]:
                    report = (await client.get_json("/health"))["embeddings"]
                    return report["cache_hits"], report["cache_misses"], report["batches"], report["texts"]

                every = distinct_queries(args.requests * (2 + 3 * len(clients)) + 400 + REPEAT_POOL, seed=3)
                pool, fresh = every[:REPEAT_POOL], iter(every[REPEAT_POOL:])

                def take(n: int) -> list[str]:
                    return [next(fresh) for _ in range(n)]

                await _run(take(60), 8, http_call)  # warm-up (distinct: the timed runs stay uncached)
                await _run(take(30), 4, bare_call)
                bare_ms, http_ms = await _alternating(take(args.requests), take(args.requests), bare_call, http_call)
                bare_p50, paired_http_p50 = statistics.median(bare_ms), statistics.median(http_ms)
                print(
                    f"1 client, bare path (1 embedding + 1 SQL query) and HTTP calls in alternating blocks, distinct queries: "
                    f"bare p50 {bare_p50:.1f} ms, HTTP p50 {paired_http_p50:.1f} ms, "
                    f"HTTP/bare {paired_http_p50 / bare_p50:.2f}x"
                )
                print(
                    f"{'queries':<9} {'clients':>7} {'req/s':>7} {'of limit':>8} {'p50':>8} {'p99':>8} "
                    f"{'p99/p50':>7} {'hit rate':>8} {'batch':>5}   CPU ms per request: API, model, client"
                )
                for mix in ("distinct", "repeats"):
                    for concurrency in clients:
                        n = args.requests * (1 if concurrency == 1 else 3)
                        queries = take(n) if mix == "distinct" else repeating_queries(pool, n, seed=concurrency)
                        hits0, misses0, batches0, texts0 = await cache_counts()
                        cpu0 = cpu.read()
                        start = time.perf_counter()
                        latencies = await _run(queries, concurrency, http_call)
                        rps = n / (time.perf_counter() - start)
                        client_ms, api_ms, model_ms = (
                            (b - a) * 1000 / n for a, b in zip(cpu0, cpu.read(), strict=True)
                        )
                        hits, misses, batches, texts = await cache_counts()
                        asked = (hits - hits0) + (misses - misses0)
                        batch = (texts - texts0) / max(1, batches - batches0)  # mean texts per model call
                        p50, p99 = statistics.median(latencies), _pct(latencies, 0.99)
                        print(
                            f"{mix:<9} {concurrency:>7} {rps:>7.1f} {rps / limit:>8.0%} {p50:>6.1f}ms "
                            f"{p99:>6.1f}ms {p99 / p50:>6.2f}x {(hits - hits0) / max(asked, 1):>8.0%} {batch:>5.1f}   "
                            f"{api_ms:5.2f} {model_ms:5.2f} {client_ms:5.2f}"
                        )
            finally:
                await client.close()
        finally:
            if server is not None:
                server.terminate()
                await asyncio.to_thread(server.wait, 30)
            await services.stop()
    print(
        "targets: distinct queries at 16 and 64 clients >= 60% of the limit; p99 <= 3x p50 at 64 clients; "
        "HTTP p50 <= 1.5x the bare path at 1 client"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per run at 1 client (x3 with more)")
    parser.add_argument("--clients", default="1,16,64", help="comma-separated concurrent clients")
    parser.add_argument(
        "--client", choices=("aiohttp", "httpx"), default="aiohttp", help="the load generator's HTTP client"
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return 0
    return event_loop.run(_bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
