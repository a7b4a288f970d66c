"""Persona batch creation: the synchronous call and background jobs polled by id.

`run_batch` drives the `persona_batch` graph (Send fan-out, BATCH_CONCURRENCY at a time) and
reports each account's result as it completes. A background job stores its progress in
Postgres (`store.batch_jobs`) so any replica can answer a poll; it runs as an asyncio task in
the server process that accepted it, refreshing a heartbeat. Jobs still unfinished when the
server shuts down are marked failed; after a crash, the next start (or a poll) marks a job
whose heartbeat is older than STALE_SECONDS as failed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timezone
from collections.abc import Awaitable, Callable
from typing import Any

from graphs.persona_builder import BuilderContext
from graphs.persona_builder.graph import batch_graph
from runtime.services import Services
from store import batch_jobs

log = logging.getLogger(__name__)

BATCH_CONCURRENCY = 4
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0
INTERRUPTED = "The job was interrupted by a server restart before it finished; submit the batch again."
FAILED = "The batch job failed unexpectedly; submit the batch again."

_tasks: dict[uuid.UUID, tuple[Services, asyncio.Task[None]]] = {}

OnResult = Callable[[dict[str, Any]], Awaitable[None]]


async def run_batch(services: Services, account_ids: list[str], *, force: bool, post_limit: int,
                    on_result: OnResult | None = None) -> list[dict[str, Any]]:
    """One result per account, in `account_ids` order; `on_result` sees each as it completes."""
    if not account_ids:
        return []
    by_id: dict[str, dict[str, Any]] = {}
    async for update in batch_graph.astream({"account_ids": account_ids, "force": force, "post_limit": post_limit,
                                             "results": []},
                                            config={"max_concurrency": BATCH_CONCURRENCY},
                                            context=BuilderContext(model=services.settings.chat_model),
                                            stream_mode="updates"):
        for node_update in update.values():
            for result in (node_update or {}).get("results", []):
                by_id[result["account_id"]] = result
                if on_result is not None:
                    await on_result(result)
    return [by_id[a] for a in account_ids]


def batch_body(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented response body of POST /personas/batch/create."""
    ok = sum(1 for r in results if r["success"])
    return {"success": True, "message": f"Processed {len(results)} accounts: {ok} successful, "
                                        f"{len(results) - ok} failed",
            "results": results, "total": len(results), "successful": ok, "failed": len(results) - ok}


async def _beat(services: Services, job_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await batch_jobs.heartbeat(services.pool, [job_id])
        except Exception:  # a missed beat only makes the job look stale sooner
            log.warning("batch job %s: heartbeat failed", job_id, exc_info=True)


async def _run_job(services: Services, job_id: uuid.UUID, account_ids: list[str], force: bool,
                   post_limit: int) -> None:
    pool = services.pool
    beat = asyncio.create_task(_beat(services, job_id))
    try:
        await batch_jobs.mark_running(pool, job_id)
        results = await run_batch(services, account_ids, force=force, post_limit=post_limit,
                                  on_result=lambda r: batch_jobs.add_result(pool, job_id, r))
        await batch_jobs.finish(pool, job_id, result=batch_body(results))
    except asyncio.CancelledError:
        await asyncio.shield(batch_jobs.finish(pool, job_id, error=INTERRUPTED))
        raise
    except Exception:
        log.exception("batch job %s failed", job_id)
        await batch_jobs.finish(pool, job_id, error=FAILED)
    finally:
        beat.cancel()
        _tasks.pop(job_id, None)


async def start_job(services: Services, *, key_hash: str, account_ids: list[str], force: bool,
                    post_limit: int) -> uuid.UUID:
    """Store a queued job and start it in this process."""
    job_id = await batch_jobs.create_job(services.pool, key_hash=key_hash, account_ids=account_ids,
                                         request={"force": force, "post_limit": post_limit})
    task = asyncio.create_task(_run_job(services, job_id, account_ids, force, post_limit),
                               name=f"persona-batch-{job_id}")
    _tasks[job_id] = (services, task)
    return job_id


async def job_status(services: Services, job_id: uuid.UUID, key_hash: str) -> dict[str, Any] | None:
    """The poll body, or None when there is no such job for this API key."""
    if job_id not in _tasks:  # run elsewhere, or by a process that may have died
        await batch_jobs.fail_stale(services.pool, STALE_SECONDS, INTERRUPTED, job_id)
    row = await batch_jobs.get_job(services.pool, job_id)
    if row is None or row["key_hash"] != key_hash:
        return None
    body: dict[str, Any] = {"job_id": str(row["id"]), "status": row["status"],
                            "progress": {"done": int(row["done"]), "total": int(row["total"])},
                            "created_at": _iso(row["created_at"]), "started_at": _iso(row["started_at"]),
                            "finished_at": _iso(row["finished_at"]), "error": row["error"],
                            "result": row["result"]}
    return body


def _iso(value: Any) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


async def recover_jobs(services: Services) -> int:
    """At start-up: fail jobs left unfinished by a process that is gone (stale heartbeat)."""
    count = await batch_jobs.fail_stale(services.pool, STALE_SECONDS, INTERRUPTED)
    if count:
        log.warning("marked %d interrupted persona batch job(s) as failed", count)
    return count


async def stop_jobs(services: Services) -> None:
    """At shutdown: cancel the jobs these services run (each records itself as failed)."""
    tasks = [task for owner, task in list(_tasks.values()) if owner is services]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
