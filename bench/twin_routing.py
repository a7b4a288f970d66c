"""Benchmark: `/twin/query_clusters` over HTTP vs the bare cost of its work.

`python -m bench.twin_routing [--requests 200]` starts a fresh embedded Postgres with the
demo twins, serves the app with real uvicorn in a child process (local embeddings), and
measures p50/p99 latency at 1 and 16 concurrent clients. The baseline, measured in the
same run at the same concurrency, is one query embedding plus one pgvector SQL query.
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
from pathlib import Path


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def _run(n: int, concurrency: int, call) -> list[float]:
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            start = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - start) * 1000)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies


def _serve(port: int) -> None:
    import uvicorn

    from runtime.settings import Settings
    from server.app import create_app

    async def serve() -> None:
        app = create_app(Settings(), start_model=False)  # the pool needs a running loop
        await uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")).serve()

    asyncio.run(serve())


async def _bench(args: argparse.Namespace) -> int:
    import httpx

    from evals.twin_routing import load_jsonl
    from runtime.local_llm import free_port
    from runtime.services import Services
    from runtime.settings import Settings
    from services.twin.segment_import import replace_segments
    from services.twin.segments.demo import demo_segments
    from store.clusters import search_clusters

    queries = [r["query"] for r in load_jsonl("twin_routing.jsonl")]
    with tempfile.TemporaryDirectory(prefix="twin-bench-") as tmp:
        settings = Settings(_env_file=None, data_dir=Path(tmp), twin_demo_autoload=False)
        services = Services.create(settings)
        await services.start(with_model=False, with_embeddings=True)
        server = None
        try:
            embeddings = services.require_embeddings()
            await replace_segments(services.pool, demo_segments(), embeddings)
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
            url = f"http://127.0.0.1:{port}/twin/query_clusters"
            async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=32)) as client:
                deadline = time.monotonic() + 120
                while True:
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/openapi.json")).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("the benchmark server did not start")
                    await asyncio.sleep(0.2)

                async def http_call(i: int) -> None:
                    r = await client.post(url, json={"query": queries[i % len(queries)], "top_k": 3})
                    r.raise_for_status()

                async def bare_call(i: int) -> None:
                    vector = await embeddings.aembed_query(queries[i % len(queries)])
                    await search_clusters(services.pool, vector, limit=3)

                await _run(30, 4, http_call)  # warm-up
                await _run(30, 4, bare_call)
                print(
                    f"{'clients':>7} {'bare p50':>9} {'bare p99':>9} {'HTTP p50':>9} {'HTTP p99':>9} "
                    f"{'p50 ratio':>9} {'req/s':>7}"
                )
                for concurrency in (1, 16):
                    n = args.requests * (2 if concurrency > 1 else 1)
                    bare = await _run(n, concurrency, bare_call)
                    start = time.perf_counter()
                    http = await _run(n, concurrency, http_call)
                    rps = n / (time.perf_counter() - start)
                    print(
                        f"{concurrency:>7} {statistics.median(bare):>7.1f}ms {_pct(bare, 0.99):>7.1f}ms "
                        f"{statistics.median(http):>7.1f}ms {_pct(http, 0.99):>7.1f}ms "
                        f"{statistics.median(http) / statistics.median(bare):>8.2f}x {rps:>7.1f}"
                    )
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            await services.stop()
    print("ratio = HTTP p50 / bare p50 (one embedding + one SQL query) at the same concurrency; target <= 1.5x")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per run at 1 client (x2 at 16)")
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve)
        return 0
    return asyncio.run(_bench(args))


if __name__ == "__main__":
    raise SystemExit(main())
