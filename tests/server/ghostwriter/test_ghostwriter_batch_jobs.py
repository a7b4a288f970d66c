"""Background persona batch jobs: 202 + job id, polling to the same body as the synchronous call,
unknown ids, auth, and jobs left unfinished by a dead process marked failed on the next start."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from runtime.settings import Settings
from store import batch_jobs
from store.budgets import key_hash
from tests.support.ghostwriter import (
    API_KEY,
    HEADERS,
    add_account,
    builder_responder,
    ghostwriter_settings,
    sample_account,
)
from use_cases import task_queue
from use_cases.ghostwriter import batch

GW = "/ghostwriter"


@pytest.fixture
def settings(fresh_db_url, tmp_path) -> Settings:
    return ghostwriter_settings(fresh_db_url, tmp_path)


async def _poll(client, url: str) -> dict:
    for _ in range(600):
        r = await client.get(url, headers=HEADERS)
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("succeeded", "failed"):
            return body
        assert body["status"] in ("queued", "running")
        assert 0 <= body["progress"]["done"] <= body["progress"]["total"]
        await asyncio.sleep(0.05)
    raise AssertionError("the batch job never finished")


async def test_background_batch_polls_to_succeeded_with_per_account_results(client, script):
    script.responder = builder_responder
    a, b, c = sample_account(0), sample_account(1), sample_account(2)
    await add_account(client, a, a["posts"][:20])
    await add_account(client, b)  # no posts
    await add_account(client, c, c["posts"][:20])
    ids = [a["account_id"], b["account_id"], c["account_id"], "ghost"]
    r = await client.post(f"{GW}/personas/batch/create?background=true", headers=HEADERS, json={"account_ids": ids})
    assert r.status_code == 202, r.text
    accepted = r.json()
    job_id = accepted["job_id"]
    assert uuid.UUID(job_id)
    assert accepted == {
        "success": True,
        "job_id": job_id,
        "status": "queued",
        "status_url": f"{GW}/personas/batch/jobs/{job_id}",
        "total": 4,
    }
    assert r.headers["location"] == accepted["status_url"]

    body = await _poll(client, accepted["status_url"])
    assert body["status"] == "succeeded" and body["error"] is None
    assert body["progress"] == {"done": 4, "total": 4}
    assert body["result"] == {
        "success": True,
        "message": "Processed 4 accounts: 2 successful, 2 failed",
        "results": [
            {"account_id": a["account_id"], "success": True, "persona_version": 1},
            {"account_id": b["account_id"], "success": False, "error": "No posts found"},
            {"account_id": c["account_id"], "success": True, "persona_version": 1},
            {"account_id": "ghost", "success": False, "error": "Account not found"},
        ],
        "total": 4,
        "successful": 2,
        "failed": 2,
    }
    assert body["started_at"] and body["finished_at"]
    r = await client.get(f"{GW}/personas/{a['account_id']}", headers=HEADERS)
    assert r.json()["persona"]["version"] == 1

    # The synchronous call is unchanged; background=false is the synchronous call too.
    r = await client.post(
        f"{GW}/personas/batch/create?background=false",
        headers=HEADERS,
        json={"account_ids": [a["account_id"]], "force": True},
    )
    assert r.status_code == 200
    assert r.json()["results"] == [{"account_id": a["account_id"], "success": True, "persona_version": 2}]


async def test_background_batch_with_nothing_to_do_succeeds_empty(client):
    r = await client.post(f"{GW}/personas/batch/create?background=1", headers=HEADERS, json={})
    assert r.status_code == 202 and r.json()["total"] == 0
    body = await _poll(client, r.json()["status_url"])
    assert body["status"] == "succeeded" and body["progress"] == {"done": 0, "total": 0}
    assert body["result"]["message"] == "Processed 0 accounts: 0 successful, 0 failed"


async def test_unknown_job_is_404_and_bad_flag_is_400(client):
    for job_id in (str(uuid.uuid4()), "not-a-uuid"):
        r = await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)
        assert r.status_code == 404 and r.json() == {"detail": "Batch job not found"}
    r = await client.post(f"{GW}/personas/batch/create?background=maybe", headers=HEADERS, json={})
    assert r.status_code == 400 and r.json() == {"detail": "background must be true or false"}


async def test_job_of_another_key_is_404(client, services):
    job_id = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(b"some-older-key"), request={}, account_ids=[]
    )
    r = await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)
    assert r.status_code == 404


async def test_batch_jobs_need_the_api_key(client, services):
    job_id = await batch_jobs.create_job(services.pool, key_hash=key_hash(API_KEY.encode()), request={}, account_ids=[])
    for headers in [{}, {"X-API-Key": "wrong"}, {"X-API-Key": "ключ".encode()}]:
        r = await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=headers)
        assert r.status_code == 403 and isinstance(r.json()["detail"], str)
        r = await client.post(f"{GW}/personas/batch/create?background=true", headers=headers, json={})
        assert r.status_code == 403
    r = await client.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)
    assert r.status_code == 200 and r.json()["status"] == "queued"


async def _queued_job(services, account_ids: list[str]) -> uuid.UUID:
    """A batch job accepted by a process that runs no worker (its row and its queue job)."""
    job_id = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(API_KEY.encode()), request={"post_limit": 100}, account_ids=account_ids
    )
    app = await task_queue.open_queue(services)
    await app.configure_task(batch.TASK).defer_async(batch_job_id=str(job_id))
    return job_id


async def _wait_finished(services, job_id: uuid.UUID) -> dict:
    for _ in range(1200):
        row = await batch_jobs.get_job(services.pool, job_id)
        if row["status"] in ("succeeded", "failed"):
            return row
        await asyncio.sleep(0.05)
    raise AssertionError("the job never finished")


async def test_a_queued_job_waits_for_a_worker_and_survives_a_restart(settings, services, live_app, script):
    """Accepted while no worker runs (JOBS_WORKER=false), the job is still queued after that process
    has gone; the next process with a worker runs it to the end."""
    script.responder = builder_responder
    a = sample_account(0)
    from store import accounts as accounts_store

    await accounts_store.upsert_account(
        services.pool, account_id=a["account_id"], handle=a["handle"], display_name="", avatar_url=""
    )
    await accounts_store.import_posts(services.pool, a["account_id"], a["posts"][:20])
    with live_app(settings.model_copy(update={"jobs_worker": False})) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.post(
                f"{GW}/personas/batch/create?background=true", headers=HEADERS, json={"account_ids": [a["account_id"]]}
            )
            assert r.status_code == 202, r.text
            job_id = uuid.UUID(r.json()["job_id"])
    row = await batch_jobs.get_job(services.pool, job_id)
    assert row["status"] == "queued" and row["done"] == 0
    with live_app():  # a restart, now with a worker
        row = await _wait_finished(services, job_id)
    assert row["status"] == "succeeded", row
    assert row["result"]["results"] == [{"account_id": a["account_id"], "success": True, "persona_version": 1}]


async def test_a_job_whose_worker_died_runs_again_without_repeating_finished_accounts(
    settings, services, live_app, script
):
    script.responder = builder_responder
    a, b = sample_account(0), sample_account(1)
    from store import accounts as accounts_store

    for account in (a, b):
        await accounts_store.upsert_account(
            services.pool, account_id=account["account_id"], handle=account["handle"], display_name="", avatar_url=""
        )
        await accounts_store.import_posts(services.pool, account["account_id"], account["posts"][:20])
    job_id = await _queued_job(services, [a["account_id"], b["account_id"]])
    # A worker took the job, finished the first account and died (no heartbeat for an hour).
    app = task_queue.queue_app(services)
    dead_worker = await app.job_manager.register_worker()
    taken = await app.job_manager.fetch_job(queues=None, worker_id=dead_worker)
    assert taken is not None and taken.task_name == batch.TASK
    await batch_jobs.mark_running(services.pool, job_id)
    first = {"account_id": a["account_id"], "success": True, "persona_version": 7}
    await batch_jobs.add_result(services.pool, job_id, first)
    async with services.pool.connection() as conn:
        await conn.execute(
            "UPDATE procrastinate_workers SET last_heartbeat = now() - interval '1 hour' WHERE id = %s", (dead_worker,)
        )
    await task_queue.stop_queue(services)
    with live_app():
        row = await _wait_finished(services, job_id)
    assert row["status"] == "succeeded", row
    # the first account's result is the dead worker's (not built again), the second is new
    assert row["result"]["results"] == [first, {"account_id": b["account_id"], "success": True, "persona_version": 1}]
    assert row["done"] == 2


async def test_a_job_failing_every_run_is_failed_after_the_retries(settings, services, live_app, script):
    def broken(messages):
        raise RuntimeError("the model is gone")

    script.responder = broken
    job_id = await _queued_job(services, ["100000000001"])
    await task_queue.stop_queue(services)
    # the graph reports a failing account as a result; a broken store is what fails a whole run
    async with services.pool.connection() as conn:
        await conn.execute("ALTER TABLE batch_jobs ADD CONSTRAINT no_results CHECK (done = 0)")
    fast = settings.model_copy(update={"jobs_stalled_seconds": 2.0})
    with live_app(fast):
        for _ in range(1200):
            row = await batch_jobs.get_job(services.pool, job_id)
            async with services.pool.connection() as conn:
                cur = await conn.execute(
                    "SELECT status, attempts FROM procrastinate_jobs WHERE args->>'batch_job_id' = %s", (str(job_id),)
                )
                queue_row = await cur.fetchone()
            if row["status"] == "failed" and queue_row["status"] == "failed":
                break
            await asyncio.sleep(0.1)
    assert row["status"] == "failed" and row["error"] == batch.FAILED, row
    assert queue_row["attempts"] == batch.MAX_ATTEMPTS
