"""A survey job of every demo twin on a real `personas serve`: readiness stays 200 while the job
keeps the model busy; SIGTERM in the middle of the job ends the process by itself (the job goes
back to the queue); the next start resumes the job and its result arrives whole.

The model is a stub on loopback that takes a while over every answer. Nothing is asserted on
time: the test prints how long the process took to exit, for the benchmark notes."""

from __future__ import annotations

import asyncio
import signal
import time

import httpx
import psutil

from bench.stub_openai import Behaviour
from runtime.embedded_pg import postgres_pid
from tests.server.ghostwriter.test_load_shedding import wait_until
from tests.server.test_process_lifecycle import Serve, _gone
from tests.support.upstream_log import logged_stub

GRACE = 4
DEMO_TWINS = 180
SLOW = 0.5  # seconds the stub takes per answer while the first run goes on
QUESTION = "Which season of the year do you like best?"


def serve_with_demo(tmp_path, stub) -> Serve:
    """`personas serve` on the embedded defaults but the model, with the demo twins loaded."""
    return Serve(tmp_path, stub, SHUTDOWN_GRACE_SECONDS=str(GRACE), TWIN_DEMO_AUTOLOAD="true")


async def demo_loaded(client: httpx.AsyncClient) -> bool:
    r = await client.get("/twin/cluster/11/personas")
    return r.status_code == 200 and len(r.json()) == 15


def stop(serve: Serve) -> None:
    if serve.proc.poll() is None:
        for child in psutil.Process(serve.proc.pid).children(recursive=True):
            child.kill()
        serve.proc.kill()
    serve.log.close()


async def test_a_survey_job_keeps_readiness_survives_sigterm_and_finishes_after_a_restart(tmp_path):
    stub, calls = logged_stub(Behaviour(tokens=1))
    first = serve_with_demo(tmp_path, stub)
    second: Serve | None = None
    try:
        await asyncio.to_thread(first.wait_healthy)
        started = first.started()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{first.port}", timeout=60) as client:
            await wait_until(lambda: demo_loaded(client), "the demo twins were loaded", attempts=3000)
            stub.behaviour.delay = SLOW
            body = {"question": QUESTION, "options": ["Spring", "Summer", "Autumn", "Winter"], "async": True}
            r = await client.post("/twin/survey", json={**body, "check_facts": False})
            assert r.status_code == 202, r.text
            status_url = r.json()["status_url"]
            readiness: list[int] = []
            progress: list[int] = []

            async def job_half_way() -> bool:
                readiness.append((await client.get("/health/ready")).status_code)
                job = (await client.get(status_url)).json()
                assert job["state"] in ("queued", "running"), job
                progress.append(job["progress"]["done"])
                return job["progress"]["done"] >= 20

            await wait_until(job_half_way, "the job answered 20 twins", attempts=6000)
        assert len(readiness) > 5 and set(readiness) == {200}, readiness  # busy is not unready
        assert progress == sorted(progress)

        signalled = time.monotonic()
        first.proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(first.proc.wait, 120)
        print(f"\nexited {time.monotonic() - signalled:.1f} s after SIGTERM (grace {GRACE} s)")
        assert code == 128 + signal.SIGTERM, (tmp_path / f"serve-{first.port}.log").read_text()[-3000:]
        assert _gone(started) == [] and postgres_pid(first.data_dir / "pg") is None
        assert not any(c.open for c in calls.about(QUESTION))  # its model calls were closed
        asked_before = len(calls.about(QUESTION))
        assert asked_before < DEMO_TWINS * 4

        stub.behaviour.delay = 0.0
        second = serve_with_demo(tmp_path, stub)
        await asyncio.to_thread(second.wait_healthy)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{second.port}", timeout=60) as client:
            job: dict = {}

            async def finished() -> bool:
                nonlocal job
                job = (await client.get(status_url)).json()
                return job["state"] not in ("queued", "running")

            await wait_until(finished, "the resumed job finished", attempts=6000)
        assert job["state"] == "succeeded", job
        assert job["progress"] == {"done": DEMO_TWINS, "total": DEMO_TWINS}
        clusters = job["result"]["clusters"]
        assert len(clusters) == 12 and sum(c["n_answers"] for c in clusters) == DEMO_TWINS
        assert len(calls.about(QUESTION)) > asked_before  # the next start ran it again
    finally:
        stop(first)
        if second is not None:
            second.proc.send_signal(signal.SIGTERM)
            await asyncio.to_thread(second.proc.wait, 120)
            stop(second)
        stub.stop()
