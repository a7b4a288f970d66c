"""Surveys and focus groups as jobs over a real server on loopback: 202 with a status URL, progress
that grows, the synchronous call's result, cancelling a running or a queued job, a job handed
back by a shutdown and finished by the next start, lost and unknown jobs, the key, the command
line following a job; and one job on the real local model.

The scripted model answers from each persona's facts; a gate holds every call after the first
few until the test opens it, so a job can be caught running with known progress (awaiting the
gate is cancellable, as a real model call over HTTP is)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid

import httpx
import pytest
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatResult
from pydantic import SecretStr

from runtime.models import register_chat_provider, unregister_chat_provider
from runtime.services import set_current_services
from runtime.settings import Settings
from store import twin_jobs
from tests.graphs.focus_group.test_focus_group import by_tenure
from tests.graphs.segment_survey.test_segment_survey import BOOMERS, GEN_Z, QUESTION, fact_answerer
from tests.server.twin.test_twin_cli import personas
from tests.support.fakes import ScriptedChatModel
from tests.support.twin import cluster_key, small_segments
from use_cases.twin import jobs
from use_cases.twin.segment_import import replace_segments
from use_cases.twin.segments.model import SegmentSet

OTHER_QUESTION = "Do you own or rent the place where you live?"
LATE_QUESTION = "Do you rent or own your current home?"


class Gate:
    """Lets the first `free` model calls through; the others wait until `open()`."""

    def __init__(self) -> None:
        self.free = 10**6
        self.opened = threading.Event()
        self._lock = threading.Lock()
        self.prompts: list[str] = []  # every call's last message, in the order they started

    def hold_after(self, free: int) -> None:
        self.free = free
        self.opened.clear()

    def open(self) -> None:
        self.opened.set()

    def calls_about(self, question: str) -> int:
        with self._lock:
            return sum(question in p for p in self.prompts)

    async def enter(self, prompt: str) -> None:
        with self._lock:
            self.prompts.append(prompt)
            started = len(self.prompts)
        while started > self.free and not self.opened.is_set():
            await asyncio.sleep(0.01)


class GatedChatModel(ScriptedChatModel):
    gate: Gate

    async def _agenerate(self, messages: list[BaseMessage], stop=None, run_manager=None, **kwargs) -> ChatResult:
        await self.gate.enter(str(messages[-1].content))
        return self._generate(messages, stop=stop, **kwargs)


@pytest.fixture
def gate(script):
    g = Gate()
    register_chat_provider("gated", lambda model, **kw: GatedChatModel(script=script, gate=g))
    yield g
    g.open()
    unregister_chat_provider("gated")


@pytest.fixture
def settings(fresh_db_url, tmp_path, gate) -> Settings:
    return Settings(
        _env_file=None,
        database_url=fresh_db_url,
        data_dir=tmp_path / "data",
        chat_model="gated:scripted",
        jwt_secret="x" * 48,
        twin_demo_autoload=False,
        jobs_shutdown_seconds=0.0,  # a stopping worker hands its job back at once
    )


@pytest.fixture
async def twins(services, gate):
    segments = small_segments()
    await replace_segments(services.pool, segments, services.embeddings)
    set_current_services(services)
    return segments


def survey_body(twins: SegmentSet, question: str = QUESTION) -> dict:
    return {"question": question, "options": ["Own", "Rent"], "cluster_ids": [cluster_key(twins, BOOMERS)], "seed": 5}


def poll(http: httpx.Client, url: str, until, what: str) -> dict:
    """GET the job until `until(job)`; every answer on the way is checked for shape."""
    seen_done = 0
    for _ in range(6000):
        r = http.get(url)
        assert r.status_code == 200, r.text
        job = r.json()
        assert job["state"] in ("queued", "running", "succeeded", "failed", "cancelled")
        assert job["progress"]["done"] >= 0
        if job["progress"]["total"] is not None:
            assert job["progress"]["done"] <= job["progress"]["total"]
        if job["state"] == "running":
            assert job["progress"]["done"] >= seen_done  # progress of one run never goes back
            seen_done = job["progress"]["done"]
        if until(job):
            return job
        assert job["state"] not in ("failed", "cancelled", "succeeded"), job
        time.sleep(0.02)
    raise AssertionError(f"the job never {what}")


async def queue_status(services, job_id: str) -> str | None:
    row = await twin_jobs.get_job(services.pool, uuid.UUID(job_id))
    assert row is not None and row["queue_job_id"] is not None
    return await twin_jobs.queue_job_status(services.pool, row["queue_job_id"])


async def wait_queue_status(services, job_id: str, status: str) -> None:
    for _ in range(3000):
        if await queue_status(services, job_id) == status:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"the queue never marked the job {status}")


async def test_survey_job_answers_202_shows_progress_and_ends_with_the_sync_result(live_app, twins, script, gate):
    script.responder = fact_answerer()
    body = survey_body(twins)
    gate.hold_after(4)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        r = http.post("/twin/survey", json={**body, "async": True})
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert set(accepted) == {"job_id", "status_url", "state"}
        # a free worker may have taken the job before the answer was written
        assert accepted["state"] in ("queued", "running") and uuid.UUID(accepted["job_id"])
        assert accepted["status_url"] == f"/twin/jobs/{accepted['job_id']}"
        assert r.headers["location"] == accepted["status_url"]
        assert r.headers["preference-applied"] == "respond-async"

        held = poll(http, accepted["status_url"], lambda j: j["progress"]["done"] == 4, "answered 4")
        assert held["state"] == "running" and held["progress"] == {"done": 4, "total": 15}
        assert held["started_at"] and held["finished_at"] is None and held["result"] is None
        gate.open()
        done = poll(http, accepted["status_url"], lambda j: j["state"] == "succeeded", "succeeded")
        assert done["progress"] == {"done": 15, "total": 15} and done["error"] is None
        assert done["kind"] == "survey" and done["created_at"] <= done["started_at"] <= done["finished_at"]

        sync = http.post("/twin/survey", json=body)
        assert sync.status_code == 200, sync.text
        assert done["result"] == sync.json()  # exactly the synchronous body, for the same seed
        assert gate.calls_about(QUESTION) == 30  # 15 for the job, 15 for the synchronous call

        # `"async": false` is the synchronous call too
        assert http.post("/twin/survey", json={**body, "async": False}).json() == sync.json()


async def test_focus_group_job_by_prefer_header_matches_the_sync_result(live_app, twins, script):
    script.responder = by_tenure
    body = {"question": "What worries you most?", "cluster_ids": [cluster_key(twins, GEN_Z)], "personas_per_cluster": 3}
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        r = http.post("/twin/focus_group", json=body, headers={"Prefer": "wait=5, respond-async"})
        assert r.status_code == 202, r.text
        done = poll(http, r.json()["status_url"], lambda j: j["state"] == "succeeded", "succeeded")
        assert done["kind"] == "focus_group" and done["progress"] == {"done": 3, "total": 3}
        sync = http.post("/twin/focus_group", json=body)
        assert sync.status_code == 200 and done["result"] == sync.json()
        # streaming and a job at once cannot both be had
        both = http.post("/twin/focus_group", json={**body, "stream": True, "async": True})
        assert both.status_code == 422 and "stream or async" in str(both.json()["detail"])


async def test_delete_stops_a_running_job_and_a_queued_job_never_runs(live_app, services, twins, script, gate):
    """One worker runs one job at a time: the first job runs (held at the gate), the second
    waits in the queue. Both are cancelled; a later job then runs to its end on the same worker,
    and neither cancelled job started another model call."""
    script.responder = fact_answerer()
    gate.hold_after(3)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        # 45 calls: far more than the fan-out runs at once, so most are still to start at the cancel
        running = http.post("/twin/survey", json={**survey_body(twins), "samples_per_persona": 3, "async": True}).json()
        queued = http.post("/twin/survey", json={**survey_body(twins, OTHER_QUESTION), "async": True}).json()
        poll(http, running["status_url"], lambda j: j["progress"]["done"] == 3, "answered 3")
        started = gate.calls_about(QUESTION)
        assert 3 < started < 45  # the rest of the fan-out waits at the gate
        assert http.get(queued["status_url"]).json()["state"] == "queued"

        r = http.delete(queued["status_url"])
        assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["finished_at"]
        r = http.delete(running["status_url"])
        assert r.status_code == 200 and r.json()["state"] == "cancelled"
        await wait_queue_status(services, queued["job_id"], "cancelled")
        await wait_queue_status(services, running["job_id"], "aborted")  # its run has ended
        gate.open()

        later = http.post("/twin/survey", json={**survey_body(twins, LATE_QUESTION), "async": True}).json()
        assert poll(http, later["status_url"], lambda j: j["state"] == "succeeded", "succeeded")["result"]
        for job in (running, queued):
            after = http.get(job["status_url"]).json()
            assert after["state"] == "cancelled" and after["result"] is None and after["error"] is None
        assert gate.calls_about(QUESTION) == started  # no model call after the cancel
        assert gate.calls_about(OTHER_QUESTION) == 0  # the queued job never ran
        again = http.delete(running["status_url"])
        assert again.status_code == 200 and again.json()["state"] == "cancelled"  # a no-op
        finished = http.delete(later["status_url"])
        assert finished.status_code == 409
        assert finished.json() == {"detail": "The job has already succeeded; there is nothing to cancel."}


async def test_a_job_interrupted_by_a_shutdown_is_resumed_by_the_next_start(live_app, services, twins, script, gate):
    script.responder = fact_answerer()
    body = survey_body(twins)
    gate.hold_after(5)
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        accepted = http.post("/twin/survey", json={**body, "async": True}).json()
        poll(http, accepted["status_url"], lambda j: j["progress"]["done"] == 5, "answered 5")
    # the services have stopped: the job went back to the queue, its row says so
    row = await twin_jobs.get_job(services.pool, uuid.UUID(accepted["job_id"]))
    assert row is not None and row["state"] == "queued" and row["runs"] == 1 and row["result"] is None
    assert await queue_status(services, accepted["job_id"]) == "todo"
    asked_before = gate.calls_about(QUESTION)
    gate.open()
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        done = poll(http, accepted["status_url"], lambda j: j["state"] == "succeeded", "succeeded")
        assert done["progress"] == {"done": 15, "total": 15}
        # the 5 answers of the first run were kept: only the other 10 personas were asked again
        assert gate.calls_about(QUESTION) - asked_before == 10
        assert done["result"] == http.post("/twin/survey", json=body).json()
    row = await twin_jobs.get_job(services.pool, uuid.UUID(accepted["job_id"]))
    assert row is not None and row["runs"] == 2
    async with services.pool.connection() as conn:  # the job's checkpointer thread is gone
        cur = await conn.execute(
            "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (f"twin-job-{row['id']}",)
        )
        assert (await cur.fetchone())["n"] == 0


async def test_a_job_the_queue_lost_or_that_was_interrupted_too_often_fails_clearly(
    settings, live_app, services, twins, script
):
    script.responder = fact_answerer()
    with live_app(settings.model_copy(update={"jobs_worker": False})) as server:
        with httpx.Client(base_url=server.url, timeout=120) as http:
            lost = http.post("/twin/survey", json={**survey_body(twins), "async": True}).json()
            tired = http.post("/twin/survey", json={**survey_body(twins), "async": True}).json()
            async with services.pool.connection() as conn:
                row = await twin_jobs.get_job(services.pool, uuid.UUID(lost["job_id"]))
                assert row is not None
                await conn.execute("DELETE FROM procrastinate_jobs WHERE id = %s", (row["queue_job_id"],))
                await conn.execute("UPDATE twin_jobs SET runs = %s WHERE id = %s", (jobs.MAX_RUNS, tired["job_id"]))
            job = http.get(lost["status_url"]).json()
            assert job["state"] == "failed" and job["error"] == jobs.LOST and job["finished_at"]
            assert http.get(tired["status_url"]).json()["state"] == "queued"
    with live_app() as server, httpx.Client(base_url=server.url, timeout=120) as http:
        job = poll(http, tired["status_url"], lambda j: j["state"] == "failed", "failed")
        assert job["error"] == jobs.INTERRUPTED and job["result"] is None


async def test_unknown_jobs_are_404_and_jobs_need_the_key(settings, live_app, services, twins, script):
    keyed = settings.model_copy(update={"twin_api_key": SecretStr("secret-key")})
    other = await twin_jobs.create_job(services.pool, kind="survey", caller="anonymous", request={}, model="x")
    with live_app(keyed) as server, httpx.Client(base_url=server.url, timeout=120) as http:
        key = {"X-API-Key": "secret-key"}
        for job_id in (str(uuid.uuid4()), "not-a-uuid", str(other)):  # `other` is another caller's
            for method in ("GET", "DELETE"):
                r = http.request(method, f"/twin/jobs/{job_id}", headers=key)
                assert r.status_code == 404 and r.json() == {"detail": "Job not found"}
        r = http.post("/twin/survey", json={**survey_body(twins), "async": True})
        assert r.status_code == 401
        r = http.post("/twin/survey", json={**survey_body(twins), "async": True}, headers=key)
        assert r.status_code == 202
        url = r.json()["status_url"]
        for method in ("GET", "DELETE"):
            assert http.request(method, url).status_code == 401
            assert http.request(method, url, headers={"X-API-Key": "wrong"}).status_code == 401
        assert http.get(url, headers=key).status_code == 200
        # unknown clusters are refused before a job exists
        r = http.post("/twin/survey", json={**survey_body(twins), "cluster_ids": [999], "async": True}, headers=key)
        assert r.status_code == 404 and r.json() == {"detail": "Cluster 999 not found"}


async def test_the_command_line_follows_a_job_of_a_running_server(live_app, services, twins, script, cli_env, capsys):
    script.responder = fact_answerer()
    body = survey_body(twins)
    with live_app() as server:
        args = ["twin", "survey", "--question", QUESTION, "--option", "Own", "--option", "Rent", "--seed", "5"]
        args += ["--cluster", str(cluster_key(twins, BOOMERS)), "--server", f"{server.url}/twin", "--json"]
        assert await personas(services, *args) == 0
        captured = capsys.readouterr()
        with httpx.Client(base_url=server.url, timeout=120) as http:
            sync = http.post("/twin/survey", json=body).json()
        assert json.loads(captured.out) == sync
        assert "Job " in captured.err and "Surveying" in captured.err and "15/15" in captured.err
        bad = await personas(services, *args[:-1], "--cluster", "999")
        assert bad == 1 and "error: Cluster 999 not found" in capsys.readouterr().err


async def test_a_survey_job_on_the_real_local_model(settings, live_app, services, gate, local_llm):
    demo = small_segments()
    cluster = next(c for c in demo.clusters if c.name == BOOMERS)
    people = [p for p in demo.personas_of(cluster.key) if p.age_band in ("65 - 74", "18 - 24")][:2]
    await replace_segments(services.pool, SegmentSet(clusters=[cluster], personas=people), services.embeddings)
    body = {"question": QUESTION, "options": ["Own", "Rent"], "cluster_ids": [cluster.key], "seed": 3}
    with live_app(settings.model_copy(update={"chat_model": "local:smollm2"})) as server:
        with httpx.Client(base_url=server.url, timeout=600) as http:
            accepted = http.post("/twin/survey", json={**body, "async": True}).json()
            done = poll(http, accepted["status_url"], lambda j: j["state"] == "succeeded", "succeeded")
            assert done["progress"] == {"done": 2, "total": 2}
            assert done["result"] == http.post("/twin/survey", json=body).json()
    assert [a["answer"] in ("Own", "Rent") for a in done["result"]["clusters"][0]["answers"]] == [True, True]
