"""Two API processes (replicas) on one Postgres serve the same users: a studio token from one works
on the other and a history goes on across them; one ghostwriter budget holds across both; a batch
job accepted by a replica without a worker is run by the other; a worker killed with -9 in the
middle of a job loses nothing: another process takes the job over and finishes it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg
import pytest

from runtime.local_llm import free_port
from tests.support.ghostwriter import API_KEY, HEADERS, sample_account
from tests.support.paths import ROOT
from use_cases.studio.security import hash_password

GW = "/ghostwriter"
PASSWORD = "replica password 1"


class Replica:
    def __init__(self, env: dict[str, str], name: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.name = name
        self.log = open(Path(env["DATA_DIR"]) / f"{name}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.support.replica_server", str(self.port)],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> Replica:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"{self.name} exited: {self._tail()}"
            try:
                if httpx.get(f"{self.url}/openapi.json", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not start: {self._tail()}")

    def _tail(self) -> str:
        self.log.flush()
        return (Path(self.log.name).read_bytes()[-3000:]).decode(errors="replace")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.log.close()


@pytest.fixture
def replica_env(pg_server, tmp_path) -> dict[str, str]:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_server.psql(f"CREATE DATABASE {name};")
    url = pg_server.get_uri(database=name)
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("BO_", "JOBS_", "DATABASE_", "CHAT_"))},
        "DATABASE_URL": url,
        "DATA_DIR": str(tmp_path),
        "CHAT_MODEL": "fake:scripted",
        "JWT_SECRET": "r" * 48,
        "BO_API_KEY": API_KEY,
        "BO_BUDGET_TOKENS": "6000",
        "TWIN_DEMO_AUTOLOAD": "false",
        "JOBS_STALLED_SECONDS": "3",
        "JOBS_SHUTDOWN_SECONDS": "1",
        "PYTHONPATH": str(ROOT),
    }


@pytest.fixture
def replicas():
    started: list[Replica] = []

    def start(env: dict[str, str], name: str, **extra: str) -> Replica:
        replica = Replica({**env, **extra}, name)
        started.append(replica)
        return replica

    yield start
    for replica in started:
        replica.stop()


def _add_builder(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO users (id, username, password_hash, role) VALUES (%s, 'rita', %s, 'builder')",
            (uuid.uuid4().hex, hash_password(PASSWORD)),
        )


async def _poll_job(http: httpx.AsyncClient, url: str) -> dict:
    for _ in range(1200):
        r = await http.get(url, headers=HEADERS)
        assert r.status_code == 200, r.text
        if r.json()["status"] in ("succeeded", "failed"):
            return r.json()
        await asyncio.sleep(0.1)
    raise AssertionError("the job did not finish")


async def test_two_replicas_share_users_histories_budgets_and_jobs(replica_env, replicas):
    a = replicas(replica_env, "a").wait_ready()
    # b runs no worker: jobs it accepts are run by a
    b = replicas(replica_env, "b", JOBS_WORKER="false").wait_ready()
    _add_builder(replica_env["DATABASE_URL"])
    async with (
        httpx.AsyncClient(base_url=a.url, timeout=120) as on_a,
        httpx.AsyncClient(base_url=b.url, timeout=120) as on_b,
    ):
        # studio: signed in on a, building and chatting on b, the history goes on on a
        r = await on_a.post("/studio/auth/token", data={"username": "rita", "password": PASSWORD})
        assert r.status_code == 200, r.text
        token = {"Authorization": f"Bearer {r.json()['access_token']}"}
        user_id = r.json()["user_id"]
        r = await on_b.post(
            "/studio/personas/build", headers=token, json={"persona_name": "Offie", "creator_id": user_id}
        )
        assert r.status_code == 200, r.text
        pid = r.json()["persona_id"]
        r = await on_b.post(f"/studio/personas/{pid}/chat", headers=token, json={"content": "Hello"})
        assert r.status_code == 200, r.text
        history = r.json()["message_history_id"]
        r = await on_a.post(
            f"/studio/personas/{pid}/chat", headers=token, json={"content": "Again", "message_history_id": history}
        )
        assert r.status_code == 200, r.text
        r = await on_b.get(f"/studio/personas/{pid}/message_history", headers=token)
        [kept] = r.json()["messages"]
        assert [m["content"] for m in kept["messages"] if m["role"] == "user"] == ["Hello", "Again"]

        # ghostwriter: data through a, a persona built through b
        accounts = [sample_account(i) for i in range(3)]
        for account in accounts:
            r = await on_a.post(
                f"{GW}/accounts", headers=HEADERS, json={"id": account["account_id"], "handle": account["handle"]}
            )
            assert r.status_code == 200, r.text
            r = await on_a.post(
                f"{GW}/accounts/{account['account_id']}/posts", headers=HEADERS, json=account["posts"][:20]
            )
            assert r.status_code == 200, r.text
        first = accounts[0]["account_id"]
        r = await on_b.post(f"{GW}/personas/{first}/create", headers=HEADERS, json={})
        assert r.status_code == 200, r.text

        # one budget for the key, whichever replica answers: chats alternate until it is spent
        answered = refused = 0
        for turn in range(40):
            http = on_a if turn % 2 else on_b
            r = await http.post(
                f"{GW}/personas/{first}/chat",
                headers=HEADERS,
                json={"message": "What do you think of bitcoin?", "stream": False, "max_tokens": 400},
            )
            if r.status_code == 429:
                refused += 1
                assert r.json()["detail"]["error"] == "budget_exceeded"
                break
            assert r.status_code == 200, r.text
            answered += 1
        assert answered >= 2 and refused == 1
        for http in (on_a, on_b):  # spent for both
            r = await http.post(f"{GW}/personas/{first}/chat", headers=HEADERS, json={"message": "hi", "stream": False})
            assert r.status_code == 429, r.text
        with psycopg.connect(replica_env["DATABASE_URL"]) as conn:
            [(rows,)] = conn.execute("SELECT count(*) FROM api_budgets").fetchall()
        assert rows == 1

        # a job accepted by b (no worker there) is run by a, and polled on both
        others = [acc["account_id"] for acc in accounts[1:]]
        r = await on_b.post(
            f"{GW}/personas/batch/create?background=true", headers=HEADERS, json={"account_ids": others}
        )
        assert r.status_code == 202, r.text
        status_url = r.json()["status_url"]
        body = await _poll_job(on_b, status_url)
        assert body["status"] == "succeeded", body
        assert [x["success"] for x in body["result"]["results"]] == [True, True]
        assert (await on_a.get(status_url, headers=HEADERS)).json() == body


async def test_a_worker_killed_mid_job_loses_nothing(replica_env, replicas):
    # every model call takes 0.3 s, so the job is still running when its worker is killed
    slow = {"FAKE_MODEL_DELAY": "0.3"}
    front = replicas(replica_env, "front", JOBS_WORKER="false", **slow).wait_ready()
    worker = replicas(replica_env, "worker", **slow).wait_ready()
    accounts = [sample_account(i) for i in range(6)]
    async with httpx.AsyncClient(base_url=front.url, timeout=120) as http:
        for account in accounts:
            r = await http.post(
                f"{GW}/accounts", headers=HEADERS, json={"id": account["account_id"], "handle": account["handle"]}
            )
            assert r.status_code == 200
            r = await http.post(
                f"{GW}/accounts/{account['account_id']}/posts", headers=HEADERS, json=account["posts"][:20]
            )
            assert r.status_code == 200
        ids = [acc["account_id"] for acc in accounts]
        r = await http.post(f"{GW}/personas/batch/create?background=true", headers=HEADERS, json={"account_ids": ids})
        assert r.status_code == 202, r.text
        status_url = r.json()["status_url"]
        for _ in range(1200):  # the worker is on it
            body = (await http.get(status_url, headers=HEADERS)).json()
            if body["status"] == "running" and body["progress"]["done"] >= 1:
                break
            await asyncio.sleep(0.05)
        assert body["status"] == "running" and body["progress"]["done"] < len(ids), body
        worker.kill()
        # a new worker process notices the dead one (no heartbeat) and runs the job to the end
        replicas(replica_env, "second-worker").wait_ready()
        body = await _poll_job(http, status_url)
    assert body["status"] == "succeeded", body
    results = body["result"]["results"]
    assert [x["account_id"] for x in results] == ids and all(x["success"] for x in results)
    with psycopg.connect(replica_env["DATABASE_URL"]) as conn:
        # each persona built once: what the killed worker finished was not built again
        rows = conn.execute(
            "SELECT g.account_id, max(v.version) FROM ghostwriter_personas g "
            "JOIN persona_versions v ON v.persona_id = g.persona_id GROUP BY g.account_id"
        ).fetchall()
    assert sorted(rows) == sorted((i, 1) for i in ids)
