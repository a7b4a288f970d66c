"""Load and crash benchmark of the ghostwriter chat, against `personas serve` as the README starts it,
with a fast OpenAI-compatible stub model on loopback (`CHAT_MODEL=openai:stub`, `OPENAI_BASE_URL`)
so that the service, not the model, is under test. Not a test: it prints figures.

1. Concurrent SSE chats at 200, 500 and 1,000 (one burst each): completed, shed with 503, other
   5xx (must be 0), streams cut without `[DONE]` (must be 0), error events, time to the first
   text_delta (p50/p99 of the completed streams) and the service's peak RSS (its process tree).
2. kill -9 of the service during 20 streams and a background batch job, then a restart: time to a
   healthy /health, the personas' version histories and posts as before, the job's state, the
   budget's crashed reservations (released at their expiry), and the processes left over.

Run: `python -m bench.load_ghostwriter` (`--levels 200,500 --skip-crash` to narrow it). On a
shared 2-core machine the figures move with everything else running; the client runs there too.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from runtime.embedded_pg import PIDS_FILE, postgres_pid
from runtime.local_llm import free_port

ROOT = Path(__file__).resolve().parents[1]
API_KEY = "bench-key-0123456789"
HEADERS = {"X-API-Key": API_KEY}
GW = "/ghostwriter"


@dataclass
class Burst:
    level: int
    completed: int = 0
    shed: int = 0
    other_5xx: int = 0
    other_status: dict[int, int] = field(default_factory=dict)
    cut: int = 0  # a 200 stream that ended without [DONE]
    error_events: int = 0
    transport_errors: int = 0
    first_delta: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    seconds: float = 0.0


class Service:
    """`personas serve` in a process of its own, on a data dir of its own."""

    def __init__(self, data_dir: Path, stub_url: str, port: int, **env: str) -> None:
        self.data_dir, self.port = data_dir, port
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "PORT": str(port),
            "CHAT_MODEL": "openai:stub",
            "OPENAI_BASE_URL": stub_url,
            "OPENAI_API_KEY": "stub-key",
            "BO_API_KEY": API_KEY,
            "BO_BUDGET_TOKENS": "1000000000",
            "TWIN_DEMO_AUTOLOAD": "false",
            "LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
            **env,
        }
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> float:
        """Start it; seconds until /health answers 200."""
        started = time.monotonic()
        log = open(self.data_dir.parent / f"serve-{int(started)}.log", "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve"], env=self.env, cwd=ROOT, stdout=log, stderr=log
        )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"serve exited with {self.proc.returncode}; see {log.name}")
            try:
                if httpx.get(f"{self.url}/health", timeout=5).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)

    def tree(self) -> list[psutil.Process]:
        assert self.proc is not None
        try:
            main = psutil.Process(self.proc.pid)
            return [main, *main.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def rss_mb(self) -> float:
        total = 0
        for p in self.tree():
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
        return total / 2**20

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=120)


def start_stub(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.stub_openai", "--port", str(port), "--tokens", "40"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the stub model did not start")


def sample_accounts(n: int) -> list[Any]:
    from use_cases.ghostwriter.sample_accounts import load_sample_accounts

    return load_sample_accounts()[:n]


async def prepare(client: httpx.AsyncClient, accounts: list[dict], personas: int) -> None:
    """Accounts with their posts; personas for the first `personas` of them."""
    for i, account in enumerate(accounts):
        r = await client.post(
            f"{GW}/accounts",
            headers=HEADERS,
            json={
                "id": account["account_id"],
                "handle": account["handle"],
                "display_name": account["display_name"],
                "avatar_url": account["avatar_url"],
            },
        )
        r.raise_for_status()
        r = await client.post(
            f"{GW}/accounts/{account['account_id']}/posts", headers=HEADERS, json={"posts": account["posts"][:40]}
        )
        r.raise_for_status()
        if i < personas:
            r = await client.post(f"{GW}/personas/{account['account_id']}/create", headers=HEADERS, json={})
            r.raise_for_status()


async def one_stream(client: httpx.AsyncClient, url: str, burst: Burst) -> None:
    sent = time.perf_counter()
    try:
        async with client.stream("POST", url, headers=HEADERS, json={"message": "hello there", "max_tokens": 60}) as r:
            if r.status_code == 503:
                body = json.loads(await r.aread())
                assert "detail" in body and r.headers.get("retry-after")
                burst.shed += 1
                return
            if r.status_code != 200:
                if r.status_code >= 500:
                    burst.other_5xx += 1
                burst.other_status[r.status_code] = burst.other_status.get(r.status_code, 0) + 1
                await r.aread()
                return
            last, first = None, None
            async for line in r.aiter_lines():
                if not line.startswith("data: "):
                    continue
                last = line[6:]
                if first is None and '"text_delta"' in line:
                    first = time.perf_counter() - sent
                if '"type": "error"' in line:
                    burst.error_events += 1
            if last == "[DONE]":
                burst.completed += 1
                if first is not None:
                    burst.first_delta.append(first)
            else:
                burst.cut += 1
    except httpx.HTTPError:
        burst.transport_errors += 1


async def run_burst(service: Service, account_id: str, level: int) -> Burst:
    burst = Burst(level)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            burst.peak_rss_mb = max(burst.peak_rss_mb, service.rss_mb())
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    limits = httpx.Limits(max_connections=level + 10, max_keepalive_connections=level + 10)
    async with httpx.AsyncClient(base_url=service.url, timeout=300, limits=limits) as client:
        started = time.perf_counter()
        url = f"{GW}/personas/{account_id}/chat"
        await asyncio.gather(*(one_stream(client, url, burst) for _ in range(level)))
        burst.seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    return burst


def pct(values: list[float], q: float) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    return f"{1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]:.0f} ms"


def print_bursts(bursts: list[Burst]) -> None:
    print("\nconcurrent ghostwriter SSE chats (one burst per level)")
    print(
        "level  completed  shed-503  other-5xx  cut-no-DONE  error-events  transport-err  first-delta p50 / p99   peak RSS   wall"
    )
    for b in bursts:
        print(
            f"{b.level:5d}  {b.completed:9d}  {b.shed:8d}  {b.other_5xx:9d}  {b.cut:11d}  {b.error_events:12d}  "
            f"{b.transport_errors:13d}  {pct(b.first_delta, 0.5):>8} / {pct(b.first_delta, 0.99):>8}  "
            f"{b.peak_rss_mb:6.0f} MB  {b.seconds:5.1f} s"
            + (f"  other statuses {b.other_status}" if b.other_status else "")
        )


async def crash_and_restart(service: Service, stub_port: int, accounts: list[dict]) -> None:
    print("\nkill -9 during 20 streams and a background batch job, then a restart")
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        before = {}
        for account in accounts:
            aid = account["account_id"]
            history = await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS)
            before[aid] = history.json() if history.status_code == 200 else history.status_code
        # slow streams, so they are all in flight at the kill
        await client.post(f"http://127.0.0.1:{stub_port}/control", json={"delay": 0.05, "tokens": 400})
        job = await client.post(
            f"{GW}/personas/batch/create",
            params={"background": "true"},
            headers=HEADERS,
            json={"account_ids": [a["account_id"] for a in accounts[1:]], "force": True},
        )
        job_id = job.json().get("job_id") if job.status_code == 202 else None
        print(f"  batch job: {job.status_code} {job_id}")
        streams = [
            asyncio.create_task(
                client.post(f"{GW}/personas/{accounts[0]['account_id']}/chat", headers=HEADERS, json={"message": "hi"})
            )
            for _ in range(20)
        ]
        await asyncio.sleep(1.5)
        if job_id:
            at_kill = (await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)).json()
            print(f"  batch job at the kill: {at_kill.get('status')} {at_kill.get('progress')}")
        pg_dir = service.data_dir / "pg"
        old_tree = service.tree()
        old_pids = {p.pid for p in old_tree}
        postmaster = postgres_pid(pg_dir)
        assert service.proc is not None
        os.kill(service.proc.pid, signal.SIGKILL)
        service.proc.wait()
        results = await asyncio.gather(*streams, return_exceptions=True)
        print(f"  streams cut by the kill: {sum(isinstance(r, Exception) for r in results)} of 20")
    await asyncio.to_thread(httpx.post, f"http://127.0.0.1:{stub_port}/control", json={"delay": 0.0, "tokens": 40})
    _, alive = psutil.wait_procs([p for p in old_tree if p.pid != service.proc.pid], timeout=30)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    print(f"  left running by the dead process: {[f'{p.pid} {p.name()}' for p in alive] or 'none'}")
    print(
        f"  embedded Postgres still up (a daemon, reused by the restart): {postgres_pid(pg_dir) == postmaster}; "
        f"dead handle in {PIDS_FILE}: {service.proc.pid in json.loads((pg_dir / PIDS_FILE).read_text() or '[]')}"
    )
    healthy = service.start()
    print(f"  restart to a healthy /health: {healthy:.1f} s")
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        intact = 0
        for aid, old in before.items():
            history = await client.get(f"{GW}/personas/{aid}/history", headers=HEADERS)
            now = history.json() if history.status_code == 200 else history.status_code
            # a version the interrupted job finished before the kill may have been added
            if old == now or (isinstance(old, dict) and isinstance(now, dict) and _versions_kept(old, now)):
                intact += 1
        print(f"  persona histories intact: {intact} of {len(before)}")
        if job_id:
            for _ in range(600):
                state = (await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)).json()
                if state.get("status") in ("succeeded", "failed"):
                    break
                await asyncio.sleep(0.5)
            print(
                f"  batch job after the restart: {state.get('status')} ({state.get('error') or state.get('progress')})"
            )
        r = await client.post(
            f"{GW}/personas/{accounts[0]['account_id']}/chat", headers=HEADERS, json={"message": "hi", "stream": False}
        )
        print(f"  chat after the restart: {r.status_code}")
    pg_tree = [psutil.Process(postgres_pid(pg_dir) or 0)] if postgres_pid(pg_dir) else []
    final_tree = service.tree() + pg_tree + [c for p in pg_tree for c in p.children(recursive=True)]
    service.stop(signal.SIGTERM)
    _, alive = psutil.wait_procs(final_tree, timeout=30)
    alive = [p for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    leftovers = [p for p in alive] + [p for p in psutil.process_iter() if p.pid in old_pids and p.is_running()]
    leftovers = [p for p in leftovers if p.status() != psutil.STATUS_ZOMBIE]
    print(
        f"  after a clean stop (SIGTERM): embedded Postgres stopped: {postgres_pid(pg_dir) is None}; orphans: "
        f"{[f'{p.pid} {p.name()}' for p in leftovers] or 'none'}"
    )


def _versions_kept(old: dict, now: dict) -> bool:
    old_versions = [json.dumps(v, sort_keys=True) for v in old.get("versions", old.get("history", []))]
    new_versions = [json.dumps(v, sort_keys=True) for v in now.get("versions", now.get("history", []))]
    return all(v in new_versions for v in old_versions)


async def main_async(levels: list[int], crash: bool) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    stub_port, port = free_port(), free_port()
    stub = start_stub(stub_port)
    service = Service(work / "data", f"http://127.0.0.1:{stub_port}/v1", port, BO_BUDGET_RESERVATION_SECONDS="20")
    try:
        print(
            f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start (shared with other work)"
        )
        print(f"first start to healthy: {service.start():.1f} s")
        accounts = sample_accounts(4)
        async with httpx.AsyncClient(base_url=service.url, timeout=120) as client:
            await prepare(client, accounts, personas=len(accounts))
        bursts = []
        for level in levels:
            bursts.append(await run_burst(service, accounts[0]["account_id"], level))
            print_bursts(bursts[-1:])
        print_bursts(bursts)
        stats = (await asyncio.to_thread(httpx.get, f"http://127.0.0.1:{stub_port}/stats")).json()
        print(f"stub model: {stats}")
        if crash:
            await crash_and_restart(service, stub_port, accounts)
    finally:
        service.stop()
        stub.terminate()
        stub.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description="Ghostwriter load and crash benchmark (stub model on loopback).")
    parser.add_argument("--levels", default="200,500,1000", help="concurrent streams per burst, comma-separated")
    parser.add_argument("--skip-crash", action="store_true", help="no kill -9 part")
    args = parser.parse_args()
    asyncio.run(main_async([int(x) for x in args.levels.split(",")], crash=not args.skip_crash))


if __name__ == "__main__":
    main()
