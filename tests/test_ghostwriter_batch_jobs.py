"""Background persona batch jobs: 202 + job id, polling to the same body as the synchronous call,
unknown ids, auth, and jobs left unfinished by a dead process marked failed on the next start."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from runtime.settings import Settings
from services.ghostwriter.batch import INTERRUPTED
from store import batch_jobs
from store.budgets import key_hash
from tests.gw_support import API_KEY, HEADERS, add_account, builder_responder, ghostwriter_settings, sample_account

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


async def test_job_left_running_by_a_dead_process_is_failed_on_next_start(services, live_app):
    job_id = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(API_KEY.encode()), request={}, account_ids=["1", "2"]
    )
    await batch_jobs.mark_running(services.pool, job_id)
    async with services.pool.connection() as conn:  # its process stopped beating an hour ago
        await conn.execute("UPDATE batch_jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = %s", (job_id,))
    fresh = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(API_KEY.encode()), request={}, account_ids=["3"]
    )
    with live_app() as server:
        rows = {job: await batch_jobs.get_job(services.pool, job) for job in (job_id, fresh)}
        assert rows[job_id]["status"] == "failed" and rows[job_id]["error"] == INTERRUPTED
        assert rows[fresh]["status"] == "queued"  # heartbeat still fresh: maybe alive elsewhere
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.get(f"{GW}/personas/batch/jobs/{job_id}", headers=HEADERS)
    body = r.json()
    assert body["status"] == "failed" and body["error"] == INTERRUPTED and body["result"] is None
    assert body["progress"] == {"done": 0, "total": 2}
