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
from collections.abc import Awaitable, Callable
from typing import Any

from graphs.persona_builder import BuilderContext
from graphs.persona_builder.graph import batch_graph
from graphs.persona_builder.state import BatchInput
from runtime.errors import NotFoundError
from runtime.services import Services
from store import accounts as accounts_store
from store import batch_jobs
from store.batch_jobs import BatchJobRow
from store.budgets import key_hash

log = logging.getLogger(__name__)

BATCH_CONCURRENCY = 4
HEARTBEAT_SECONDS = 5.0
STALE_SECONDS = 30.0
INTERRUPTED = "The job was interrupted by a server restart before it finished; submit the batch again."
FAILED = "The batch job failed unexpectedly; submit the batch again."
JOB_NOT_FOUND = "Batch job not found"

_tasks: dict[uuid.UUID, tuple[Services, asyncio.Task[None]]] = {}

OnResult = Callable[[dict[str, Any]], Awaitable[None]]


async def run_batch(
    services: Services, account_ids: list[str], *, force: bool, post_limit: int, on_result: OnResult | None = None
) -> list[dict[str, Any]]:
    """One result per account, in `account_ids` order; `on_result` sees each as it completes."""
    if not account_ids:
        return []
    by_id: dict[str, dict[str, Any]] = {}
    batch = BatchInput(account_ids=account_ids, force=force, post_limit=post_limit)
    async for update in batch_graph.astream(
        batch,
        config={"max_concurrency": BATCH_CONCURRENCY},
        context=BuilderContext(model=services.settings.chat_model),
        stream_mode="updates",
    ):
        for node_update in update.values():
            for result in (node_update or {}).get("results", []):
                by_id[result["account_id"]] = result
                if on_result is not None:
                    await on_result(result)
    return [by_id[a] for a in account_ids]


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The batch's outcome: per-account results and counts (the body of POST /personas/batch/create)."""
    ok = sum(1 for r in results if r["success"])
    return {
        "success": True,
        "message": f"Processed {len(results)} accounts: {ok} successful, {len(results) - ok} failed",
        "results": results,
        "total": len(results),
        "successful": ok,
        "failed": len(results) - ok,
    }


async def _beat(services: Services, job_id: uuid.UUID) -> None:
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            await batch_jobs.heartbeat(services.pool, [job_id])
        except Exception:  # a missed beat only makes the job look stale sooner
            log.warning("batch job %s: heartbeat failed", job_id, exc_info=True)


async def _run_job(services: Services, job_id: uuid.UUID, account_ids: list[str], force: bool, post_limit: int) -> None:
    pool = services.pool
    beat = asyncio.create_task(_beat(services, job_id))
    try:
        await batch_jobs.mark_running(pool, job_id)
        results = await run_batch(
            services,
            account_ids,
            force=force,
            post_limit=post_limit,
            on_result=lambda r: batch_jobs.add_result(pool, job_id, r),
        )
        await batch_jobs.finish(pool, job_id, result=summary(results))
    except asyncio.CancelledError:
        await asyncio.shield(batch_jobs.finish(pool, job_id, error=INTERRUPTED))
        raise
    except Exception:
        log.exception("batch job %s failed", job_id)
        await batch_jobs.finish(pool, job_id, error=FAILED)
    finally:
        beat.cancel()
        _tasks.pop(job_id, None)


async def _accounts(services: Services, account_ids: list[str] | None) -> list[str]:
    """The accounts to build, each once: the given ids, else every active account without a persona."""
    ids = (
        account_ids if account_ids is not None else await accounts_store.active_accounts_without_persona(services.pool)
    )
    return list(dict.fromkeys(ids))


async def create_personas(
    services: Services, account_ids: list[str] | None, *, force: bool, post_limit: int
) -> dict[str, Any]:
    """Build every account's persona now; one account's failure never stops the others."""
    ids = await _accounts(services, account_ids)
    return summary(await run_batch(services, ids, force=force, post_limit=post_limit))


async def submit_job(
    services: Services, api_key: bytes, account_ids: list[str] | None, *, force: bool, post_limit: int
) -> tuple[uuid.UUID, int]:
    """Store a queued job for the accounts and start it in this process; (job id, accounts)."""
    ids = await _accounts(services, account_ids)
    job_id = await batch_jobs.create_job(
        services.pool, key_hash=key_hash(api_key), account_ids=ids, request={"force": force, "post_limit": post_limit}
    )
    task = asyncio.create_task(_run_job(services, job_id, ids, force, post_limit), name=f"persona-batch-{job_id}")
    _tasks[job_id] = (services, task)
    return job_id, len(ids)


async def job_status(services: Services, job_id: str, api_key: bytes) -> BatchJobRow:
    """The job's row; 404 when there is no such job for this API key."""
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise NotFoundError(JOB_NOT_FOUND) from None
    if parsed not in _tasks:  # run elsewhere, or by a process that may have died
        await batch_jobs.fail_stale(services.pool, STALE_SECONDS, INTERRUPTED, parsed)
    row = await batch_jobs.get_job(services.pool, parsed)
    if row is None or row["key_hash"] != key_hash(api_key):
        raise NotFoundError(JOB_NOT_FOUND)
    return row


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
